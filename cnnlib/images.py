"""Load any uploaded file as a small RGB image, or refuse it with one clear sentence.

The dashboard is a classroom app: students upload whatever is on their phone or laptop, and
one upload must neither show a traceback nor exhaust the server's memory for everybody else.
Each rule below exists for one of those two reasons:

- **Everything becomes** :class:`~cnnlib.errors.ImageError`. PIL raises a dozen exception
  types (``OSError``, ``SyntaxError``, ``struct.error``, ``EOFError``, ...) depending on the
  format and where the file breaks, so :func:`load_image` catches them all and says in a
  sentence what is wrong: not an image, cut short, too big.
- **At most** :data:`MAX_BYTES` **are read** (Streamlit's own upload limit), so a path or a
  stream cannot make us hold more than that.
- **Pixels are counted from the header before decoding.** ``Image.open`` only reads the
  header, and a 30 kB PNG can declare 20000x20000 pixels (a decompression bomb: 1.2 GB as
  RGB). We refuse more than :data:`MAX_PIXELS` before anything is decoded, and PIL's own
  bomb warning is turned into an error for the duration of the load (locally, with
  ``warnings.catch_warnings``; the process's warning filters are left alone).
- **Truncated files are refused**, never shown half grey. We leave
  ``ImageFile.LOAD_TRUNCATED_IMAGES`` off and call ``load()`` inside the ``try``, because
  ``open`` is lazy and only ``load`` finds out that the data ends early.
- **Big photos shrink first**: the longer side becomes at most ``max_side`` before any
  per-pixel conversion, and a JPEG is decoded straight at 1/2, 1/4 or 1/8 scale when that
  suffices (``draft``), so a 12-megapixel phone photo never exists at full size in RGB.
- **Every result is plain 8-bit RGB**, which is what the models and ``st.image`` expect.
  16-bit and float greyscale are scaled to 0..255 by their range (PIL's own ``convert``
  clips them, which turns most 16-bit images white), CMYK goes through PIL's conversion,
  transparency is composited on white (as a browser shows it on a white page), and an
  animation contributes its first frame.
- **Photos are turned upright** by their EXIF orientation, or a phone's portrait photo
  reaches the network lying on its side.

Each conversion adds a short note to :attr:`LoadedImage.notes`, so the app can tell the
student what was done to their image.
"""

from __future__ import annotations

import codecs
import io
import math
import os
import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, cast

import numpy as np
from PIL import ExifTags, Image, ImageOps

from cnnlib.errors import ImageError

#: Decompression-bomb limit: images with more pixels are refused before they are decoded.
MAX_PIXELS: int = 40_000_000
#: The longer side of every loaded image is at most this (unless the caller asks otherwise).
MAX_SIDE: int = 1024
#: Bigger files are refused; matches ``maxUploadSize = 20`` in ``.streamlit/config.toml``.
MAX_BYTES: int = 20 * 1024 * 1024

SAMPLES_DIR = Path(__file__).resolve().parent.parent / "assets" / "samples"
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".gif", ".bmp", ".tif", ".tiff", ".webp")

_SIXTEEN_BIT = ("I;16", "I;16L", "I;16B", "I;16N")
#: Modes that ``Image.resize`` filters properly (it uses NEAREST for "1" and "P").
_RESIZABLE = ("RGB", "RGBA", "L", "LA", "CMYK")
#: What ``ImageOps.exif_transpose`` does for each EXIF orientation, for the note.
_ORIENTATION_NOTES = {
    2: "mirrored",
    3: "rotated 180°",
    4: "flipped upside down",
    5: "mirrored and rotated 90°",
    6: "rotated 90° clockwise",
    7: "mirrored and rotated 90°",
    8: "rotated 90° counter-clockwise",
}
#: Notes for colour modes that become RGB as they are.
_MODE_NOTES = {
    "1": "1-bit black and white converted to RGB",
    "L": "greyscale converted to RGB",
    "P": "palette colours converted to RGB",
    "CMYK": "CMYK converted to RGB",
}
#: Files that PIL cannot identify, recognised by their first bytes: images whose header is
#: cut short, and files people upload by mistake.
_SIGNATURES = (
    (b"\x89PNG", "it starts like a PNG image, but its header is damaged or cut short"),
    (b"\xff\xd8\xff", "it starts like a JPEG image, but its header is damaged or cut short"),
    (b"GIF8", "it starts like a GIF image, but its header is damaged or cut short"),
    (b"II*\0", "it starts like a TIFF image, but its header is damaged or cut short"),
    (b"MM\0*", "it starts like a TIFF image, but its header is damaged or cut short"),
    (b"%PDF", "it is a PDF document"),
    (b"PK\x03\x04", "it is a ZIP archive, e.g. a Word or PowerPoint file"),
)
_HEIF_BRANDS = (b"ftypheic", b"ftypheix", b"ftyphevc", b"ftypmif1", b"ftypmsf1")


@dataclass(frozen=True)
class LoadedImage:
    """An image ready for the models and the UI, and what was done to get it."""

    image: Image.Image  # always mode "RGB", longer side <= max_side
    notes: tuple[str, ...]  # one short sentence per conversion done, for the UI
    original_size: tuple[int, int]  # (width, height) upright, before downscaling
    format: str  # "JPEG", "PNG", "GIF", ... as PIL names it


def load_image(
    source: bytes | str | os.PathLike | BinaryIO, *, max_side: int = MAX_SIDE
) -> LoadedImage:
    """Decode ``source`` (the file's bytes, a path, or a binary file object) to RGB.

    Raises :class:`ImageError`, with one sentence for the user, for anything that is not a
    usable image; no other exception escapes for any ``source``. (A ``max_side`` below 1 is
    the caller's bug and a plain ``ValueError``.)
    """
    if max_side < 1:
        raise ValueError(f"max_side must be at least 1, not {max_side}")
    data = _read(source)
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            im = Image.open(io.BytesIO(data))
        except Image.UnidentifiedImageError:
            raise ImageError(
                f"This file is not an image PIL can read ({_describe(data)})."
            ) from None
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
            raise _pil_bomb_error(e) from None
        except Exception as e:  # a known format whose header is broken
            raise ImageError(f"This file looks like an image but is corrupt ({_reason(e)}).") from e
        fmt = im.format or "unknown"
        with im:
            try:
                return _decode(im, fmt, max_side)
            except ImageError:
                raise
            except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
                raise _pil_bomb_error(e) from None
            except Exception as e:  # PIL's decoders raise many types for bad data
                raise ImageError(
                    f"This {fmt} file is corrupt or cut short, so it cannot be shown "
                    f"({_reason(e)})."
                ) from e


def check_pixels(data: bytes) -> None:
    """Raise :class:`ImageError` if the header of ``data`` announces more than
    :data:`MAX_PIXELS`, reading the header only: for a decoder other than :func:`load_image`
    (the training data's), so that a small file cannot expand into gigabytes. Bytes PIL does
    not recognise pass: the decoder that follows refuses them itself."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with Image.open(io.BytesIO(data)) as im:
                size = im.size
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
            raise _pil_bomb_error(e) from None
        except Exception:  # not an image PIL knows, or a broken header: not ours to judge
            return
    if size[0] * size[1] > MAX_PIXELS:
        raise _bomb_error(size[0] * size[1], size)


def sample_images() -> dict[str, Path]:
    """The bundled photographs (``assets/samples``): name (file stem) -> path, by name."""
    paths = (p for p in SAMPLES_DIR.glob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
    return {p.stem: p for p in sorted(paths, key=lambda p: p.stem)}


def folder_images(folder: str | os.PathLike, limit: int = 500) -> list[Path]:
    """Image files under ``folder`` (recursively, by suffix, in sorted order), the first
    ``limit``: a teacher's own collection for the top-9 view. The walk goes folder by folder
    in order and stops at ``limit``, so a huge tree costs no more than its first images;
    symbolic links to folders are not followed and only regular files count (a FIFO would
    block the reader). A missing folder raises ImageError. Pages pass only folders that
    :func:`cnnlib.paths.confine` accepted."""
    root = Path(folder).expanduser()
    try:
        if not root.is_dir():
            raise ImageError(f"'{folder}' is not a folder on this machine.")
    except OSError as e:  # a name too long for the filesystem, say
        raise ImageError(f"'{folder}' is not a folder on this machine ({_reason(e)}).") from e
    found: list[Path] = []
    for top, dirs, names in os.walk(root):
        dirs.sort()
        for name in sorted(names):
            path = Path(top) / name
            if path.suffix.lower() in IMAGE_SUFFIXES and path.is_file() \
                    and not path.is_symlink():
                found.append(path)
                if len(found) == limit:
                    return found
    if not found:
        raise ImageError(f"'{folder}' holds no images ({', '.join(IMAGE_SUFFIXES)}).")
    return found


def cifar_samples() -> dict[str, Path]:
    """The bundled 32x32 CIFAR-10 test images, one per class: class name -> path, by name."""
    return {p.stem: p for p in sorted((SAMPLES_DIR / "cifar").glob("*.png"))}


def _read(source: bytes | str | os.PathLike | BinaryIO) -> bytes:
    """The file's bytes, reading at most ``MAX_BYTES + 1`` so a huge file costs nothing."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
        size: int | None = len(data)
    elif isinstance(source, (str, os.PathLike)):
        try:
            with open(source, "rb") as f:
                size = os.fstat(f.fileno()).st_size
                data = f.read(MAX_BYTES + 1)
        except FileNotFoundError:
            raise ImageError(f"There is no file at {os.fsdecode(source)}.") from None
        except IsADirectoryError:
            raise ImageError(f"{os.fsdecode(source)} is a folder, not an image file.") from None
        except (OSError, ValueError) as e:  # permissions, a path with a NUL byte, ...
            raise ImageError(f"The file {os.fsdecode(source)} cannot be read ({e}).") from None
    elif callable(getattr(source, "read", None)):
        try:
            data = source.read(MAX_BYTES + 1)
        except Exception as e:
            raise ImageError(f"The uploaded file cannot be read ({_reason(e)}).") from e
        if not isinstance(data, bytes):
            raise ImageError("The file was opened as text; open it in binary mode ('rb').")
        size = None  # a stream's length is unknown past what we read
    else:
        raise ImageError(
            f"Expected an image file's bytes, path or binary file, not {type(source).__name__}."
        )
    if len(data) > MAX_BYTES:
        limit = f"{MAX_BYTES // 2**20} MB"
        if size is None:
            raise ImageError(f"The file is larger than the {limit} limit.")
        raise ImageError(f"The file is {_ceil1(size / 2**20)} MB; the limit is {limit}.")
    return data


def _decode(im: Image.Image, fmt: str, max_side: int) -> LoadedImage:
    """Check the header, decode (a JPEG at reduced scale if it is big) and convert to RGB."""
    size = im.size
    if size[0] * size[1] > MAX_PIXELS:
        raise _bomb_error(size[0] * size[1], size)
    notes: list[str] = []
    frames = getattr(im, "n_frames", 1)
    if frames > 1:
        notes.append(_frames_note(fmt, frames))
    target = _fit(size, max_side)
    if target != size:
        im.draft(None, target)  # only JPEG acts on it: libjpeg decodes at 1/2, 1/4 or 1/8
    im.load()

    orientation = im.getexif().get(ExifTags.Base.Orientation)
    if orientation in _ORIENTATION_NOTES:
        ImageOps.exif_transpose(im, in_place=True)
        notes.append(f"{_ORIENTATION_NOTES[orientation]} to follow its EXIF orientation")
        if orientation >= 5:  # a quarter turn swaps width and height
            size, target = size[::-1], target[::-1]

    work, value_range, note = _resizable(im)
    if note:
        notes.append(note)
    if target != size:
        if work.size != target:  # a JPEG's draft may have hit the target exactly
            work = work.resize(target, Image.Resampling.LANCZOS, reducing_gap=3.0)
        notes.append(f"downscaled from {size[0]}x{size[1]} to {target[0]}x{target[1]}")
    if value_range is not None:
        work = _to_8bit(work, *value_range)
    if work.mode in ("RGBA", "LA"):
        alpha = work.getchannel("A")
        if _band_range(alpha)[0] < 255:
            white = Image.new("RGB", work.size, "white")
            work = Image.composite(work.convert("RGB"), white, alpha)
            notes.append("transparency composited on white")
    # convert() copies even when the mode is RGB already: the file's image is closed after.
    return LoadedImage(work.convert("RGB"), tuple(notes), size, fmt)


def _resizable(im: Image.Image) -> tuple[Image.Image, tuple[float, float] | None, str | None]:
    """``im`` in a mode that LANCZOS resizes well, the value range to map to 0..255 for
    greyscale deeper than 8 bits (else None), and the note for the conversion (or None)."""
    mode = im.mode
    if mode in _SIXTEEN_BIT or mode in ("I", "F"):
        return _deep_grey(im)
    if im.has_transparency_data and mode not in ("RGBA", "LA"):
        # P with a transparent palette entry (GIF, PNG), PA, La, or a colour-key tRNS
        return im.convert("RGBA"), None, _MODE_NOTES.get(mode)
    if mode == "1":
        return im.convert("L"), None, _MODE_NOTES[mode]
    if mode not in _RESIZABLE:  # P, YCbCr, HSV, LAB, ...
        note = _MODE_NOTES.get(mode, f"{mode} colour mode converted to RGB")
        return im.convert("RGB"), None, note
    return im, None, _MODE_NOTES.get(mode)


def _band_range(im: Image.Image) -> tuple[float, float]:
    """A one-band image's smallest and largest value (PIL types getextrema for all modes at
    once, a pair of pairs for multi-band images)."""
    lo, hi = cast(tuple[float, float], im.getextrema())
    return lo, hi


def _deep_grey(im: Image.Image) -> tuple[Image.Image, tuple[float, float], str]:
    """16-bit, 32-bit integer and float greyscale as mode F, with the range to map to 0..255.

    Mode F because PIL resizes it exactly. PIL's resize garbles big-endian I;16B (it reads
    the bytes as little-endian), and its conversion to L clips everything above 255.

    16-bit data maps its full 0..65535 range (so 65535 -> 255, i.e. a division by 257).
    Mode I holding values outside 0..65535, and floats outside 0..1, are stretched from their
    own minimum to maximum; floats in 0..1 map 0..1.
    """
    lo, hi = _band_range(im) if im.mode in ("I", "F") else (0, 65535)
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise ImageError(
            "This float image has no finite range of values (it holds infinity or NaN), so it "
            "cannot be scaled to 8 bits."
        )
    if im.mode == "F" and lo >= 0 and hi <= 1:
        value_range, note = (0.0, 1.0), "32-bit float greyscale scaled from 0..1 to 8 bits"
    elif im.mode != "F" and lo >= 0 and hi <= 65535:
        value_range, note = (0.0, 65535.0), "16-bit greyscale scaled to 8 bits"
    else:
        kind = "32-bit float" if im.mode == "F" else "32-bit"
        value_range = (float(lo), float(hi))
        note = f"{kind} greyscale stretched from {lo:g}..{hi:g} to 8 bits"
    return (im if im.mode == "F" else im.convert("F")), value_range, note


def _to_8bit(im: Image.Image, lo: float, hi: float) -> Image.Image:
    """Map ``lo..hi`` of a mode F image linearly to 0..255, rounded (NaN shows as ``lo``)."""
    scale = 255 / (hi - lo) if hi > lo else 0.0
    values = np.nan_to_num(np.asarray(im, dtype=np.float64), nan=lo)
    return Image.fromarray(np.clip(np.rint((values - lo) * scale), 0, 255).astype(np.uint8))


def _fit(size: tuple[int, int], max_side: int) -> tuple[int, int]:
    """``size`` scaled so the longer side is at most ``max_side``, keeping the aspect ratio."""
    longer = max(size)
    if longer <= max_side:
        return size
    return (max(1, round(size[0] * max_side / longer)), max(1, round(size[1] * max_side / longer)))


def _frames_note(fmt: str, frames: int) -> str:
    """Say which frame the student sees, in the words their file format would use."""
    if fmt == "TIFF":
        return f"multi-page TIFF: using page 1 of {frames}"
    if fmt == "MPO":  # a camera JPEG with extra images (a preview, the other eye)
        return f"multi-picture JPEG: using image 1 of {frames}"
    return f"animated {fmt}: using frame 1 of {frames}"


def _bomb_error(pixels: int, size: tuple[int, int] | None = None) -> ImageError:
    """The refusal of an image with too many pixels, with its dimensions when we know them."""
    dims = f"{size[0]}x{size[1]} = " if size else ""
    return ImageError(
        f"The image is {dims}{_ceil1(pixels / 1e6)} megapixels; "
        f"the limit is {_ceil1(MAX_PIXELS / 1e6)}."
    )


def _pil_bomb_error(e: Exception) -> ImageError:
    """PIL refuses some bombs inside ``Image.open``, before we see the size; its message
    gives the pixel count ("Image size (400000000 pixels) exceeds limit of ...")."""
    found = re.search(r"\((\d+) pixels\)", str(e))
    if found:
        return _bomb_error(int(found.group(1)))
    return ImageError(f"The image has too many pixels to open safely ({_reason(e)}).")


def _describe(data: bytes) -> str:
    """What a file that PIL cannot identify seems to be, for the error message."""
    if not data:
        return "it is empty"
    for magic, what in _SIGNATURES:
        if data.startswith(magic):
            return what
    if data[4:12] in _HEIF_BRANDS:
        return "it is a HEIC/HEIF photo, which PIL cannot read; save it as JPEG or PNG first"
    head = data[:1024]
    if b"<svg" in head:
        return "it is an SVG drawing; export it as PNG first"
    try:  # an incremental decoder accepts a character cut in two at the end of ``head``
        text = codecs.getincrementaldecoder("utf-8")().decode(head)
    except UnicodeDecodeError:
        text = "\0"
    if all(c.isprintable() or c.isspace() for c in text):
        return "it is a text file"
    return f"it starts with the bytes {head[:8].hex(' ')}"


def _reason(e: BaseException) -> str:
    """PIL's own message, first line only, for the parenthesis after ours."""
    lines = str(e).strip().splitlines()
    return lines[0] if lines else type(e).__name__


def _ceil1(x: float) -> str:
    """``x`` rounded up to one decimal, without a trailing ".0": 40.0001 -> "40.1", 400 ->
    "400". Rounding up keeps a value just over a limit from printing as the limit."""
    return f"{math.ceil(x * 10) / 10:.1f}".removesuffix(".0")
