"""cnnlib.images: every odd or hostile file becomes RGB with a note, or one ImageError.

Every input is generated here (in memory or under tmp_path) with PIL, numpy and zlib, so the
expected pixels are known exactly. The decompression bombs are real, complete PNGs written
row by row with zlib: megapixels of zeros compress to a few kB, and the test proves they are
refused from the header, without a decode.
"""

from __future__ import annotations

import contextlib
import io
import random
import struct
import warnings
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import ExifTags, Image

from cnnlib import images
from cnnlib.errors import ImageError
from cnnlib.images import MAX_BYTES, cifar_samples, load_image, sample_images

NOT_AN_IMAGE = "This file is not an image PIL can read ("
CIFAR_CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship",
                 "truck"]


def encode(im: Image.Image, fmt: str, **params) -> bytes:
    buf = io.BytesIO()
    im.save(buf, fmt, **params)
    return buf.getvalue()


def noise(size: tuple[int, int], seed: int = 0) -> Image.Image:
    """Random RGB pixels: they do not compress, so a file cut in half loses real image data."""
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8))


def png_1bit(width: int, height: int) -> bytes:
    """A complete, valid all-black 1-bit PNG, written without ever holding its pixels."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + body))
        return struct.pack(">I", len(body)) + kind + body + crc

    row = b"\0" * (1 + (width + 7) // 8)  # filter byte + packed bits
    z = zlib.compressobj(9)
    idat = b"".join(z.compress(row * 500) for _ in range(height // 500))
    idat += z.compress(row * (height % 500)) + z.flush()
    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat)
            + chunk(b"IEND", b""))


def pixels(loaded: images.LoadedImage) -> np.ndarray:
    assert loaded.image.mode == "RGB"
    return np.asarray(loaded.image)


# --- files that are not images ----------------------------------------------------------------

def zip_bytes() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("word/document.xml", "<w:document/>")
    return buf.getvalue()


@pytest.mark.parametrize(("data", "says"), [
    (b"", "it is empty"),
    (b"Dear students,\nthe exam is on Friday.\n", "it is a text file"),
    ((("lecture notes " * 74)[:1023] + "é café").encode(), "it is a text file"),  # é cut at 1024
    (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n", "it is a PDF document"),
    (zip_bytes(), "it is a ZIP archive"),
    (b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg"/>', "SVG drawing"),
    (b"\0\0\0\x18ftypheic\0\0\0\0mif1heic" + b"\0" * 64, "HEIC/HEIF photo"),
    (bytes(range(7, 107)) * 3, "it starts with the bytes 07 08 09 0a 0b 0c 0d 0e"),
    (b"\x89PNG\r\n\x1a\n\0\0\0\rIH", "starts like a PNG image, but its header is damaged"),
], ids=["empty", "text", "utf8-text", "pdf", "zip", "svg", "heic", "binary", "png-header-cut"])
def test_not_an_image_says_what_it_is(data: bytes, says: str) -> None:
    with pytest.raises(ImageError) as caught:
        load_image(data)
    message = str(caught.value)
    assert message.startswith(NOT_AN_IMAGE) and says in message and message.endswith(").")


def test_empty_and_text_files_on_disk(tmp_path: Path) -> None:
    (tmp_path / "empty.png").write_bytes(b"")
    (tmp_path / "notes.txt").write_text("hello\n")
    for name in ("empty.png", "notes.txt"):
        with pytest.raises(ImageError, match=r"^This file is not an image PIL can read \("):
            load_image(tmp_path / name)


# --- corrupt and truncated files ----------------------------------------------------------------

@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "GIF"])
def test_a_file_cut_in_half_is_refused_not_shown_half_grey(fmt: str) -> None:
    whole = encode(noise((200, 150)), fmt)
    assert load_image(whole).image.size == (200, 150)
    with pytest.raises(ImageError, match=rf"^This {fmt} file is corrupt or cut short, so it "
                                         r"cannot be shown \(.+\)\.$"):
        load_image(whole[: len(whole) // 2])


def test_a_jpeg_cut_inside_its_header_is_refused() -> None:
    whole = encode(noise((64, 64)), "JPEG")
    with pytest.raises(ImageError, match=r"^This file looks like an image but is corrupt \("):
        load_image(whole[:10])


def test_truncation_does_not_switch_on_load_truncated_images() -> None:
    from PIL import ImageFile

    whole = encode(noise((100, 100)), "JPEG")
    with pytest.raises(ImageError):
        load_image(whole[:-200])
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False


# --- decompression bombs and big files ---------------------------------------------------------

def test_too_many_pixels_is_refused_from_the_header_with_the_dimensions(monkeypatch) -> None:
    from PIL import ImageFile

    def decode(self):
        raise AssertionError("a bomb must not be decoded")

    bomb = png_1bit(8000, 6000)  # 48 MP: under PIL's own limit (89 MP), over ours (40 MP)
    assert len(bomb) < 20_000
    monkeypatch.setattr(ImageFile.ImageFile, "load", decode)
    with pytest.raises(ImageError) as caught:
        load_image(bomb)
    assert str(caught.value) == "The image is 8000x6000 = 48 megapixels; the limit is 40."


@pytest.mark.parametrize(("side", "megapixels"), [(10_000, 100), (20_000, 400)])
def test_pil_refuses_the_biggest_bombs_itself_and_we_report_them(side: int, megapixels: int
                                                                 ) -> None:
    """PIL checks inside Image.open: 100 MP is its warning (made an error here), 400 MP its
    error. Both come before the image (and its size) is returned, so the message gives the
    pixel count from PIL's message."""
    filters = list(warnings.filters)
    with pytest.raises(ImageError) as caught:
        load_image(png_1bit(side, side))
    assert str(caught.value) == f"The image is {megapixels} megapixels; the limit is 40."
    assert warnings.filters == filters  # the process's warning filters are untouched


def test_a_bomb_message_pil_no_longer_words_the_same_is_still_an_image_error(monkeypatch) -> None:
    def bomb(*args, **kwargs):
        raise Image.DecompressionBombError("too big")

    monkeypatch.setattr(Image, "open", bomb)
    with pytest.raises(ImageError, match=r"^The image has too many pixels to open safely"):
        load_image(b"anything")


def test_the_pixel_limit_is_read_when_called(monkeypatch) -> None:
    data = encode(Image.new("RGB", (100, 100)), "PNG")
    monkeypatch.setattr(images, "MAX_PIXELS", 9_999)
    with pytest.raises(ImageError, match=r"^The image is 100x100 = 0\.1 megapixels; the limit"):
        load_image(data)


def test_files_over_max_bytes_are_refused_with_their_size(tmp_path: Path) -> None:
    big = b"\0" * (MAX_BYTES + 1)
    with pytest.raises(ImageError, match=r"^The file is 20\.1 MB; the limit is 20 MB\.$"):
        load_image(big)
    path = tmp_path / "huge.png"
    with open(path, "wb") as f:
        f.truncate(50 * 2**20)  # sparse: costs no disk
    with pytest.raises(ImageError, match=r"^The file is 50 MB; the limit is 20 MB\.$"):
        load_image(path)
    with pytest.raises(ImageError, match=r"^The file is larger than the 20 MB limit\.$"):
        load_image(io.BytesIO(big))
    assert len(load_image(encode(noise((8, 8)), "PNG")).notes) == 0


# --- colour modes and bit depths ----------------------------------------------------------------

def test_16_bit_greyscale_maps_the_full_range_to_8_bits() -> None:
    values = np.array([0, 257, 25_700, 32_768, 40_000, 65_278, 65_535], dtype=np.uint16)
    im = Image.fromarray(np.tile(values, (3, 1)))
    loaded = load_image(encode(im, "PNG"))
    assert Image.open(io.BytesIO(encode(im, "PNG"))).mode == "I;16"
    assert loaded.notes == ("16-bit greyscale scaled to 8 bits",)
    got = pixels(loaded)
    assert (got[..., 0] == got[..., 1]).all() and (got[..., 0] == got[..., 2]).all()
    # 65535 -> 255, 0 -> 0, and in between value / 257, rounded: not PIL's clipping convert
    assert got[0, :, 0].tolist() == [0, 1, 100, 128, 156, 254, 255]


@pytest.mark.parametrize("mode", ["I;16", "I;16B"])
def test_16_bit_greyscale_is_downscaled_without_garbling(mode: str) -> None:
    """PIL's resize reads I;16B as little-endian; the loader must not resize in that mode."""
    ramp = np.tile(np.linspace(0, 65_535, 2000).round().astype(np.uint16), (4, 1))
    im = Image.frombytes(mode, (2000, 4), ramp.astype("<u2" if mode == "I;16" else ">u2").tobytes())
    loaded = load_image(encode(im, "TIFF"), max_side=100)
    assert loaded.image.size == (100, 1)
    assert loaded.notes == ("16-bit greyscale scaled to 8 bits", "downscaled from 2000x4 to 100x1")
    row = pixels(loaded)[0, :, 0].astype(int)
    assert np.abs(row - np.linspace(0, 255, 100)).max() <= 3


def test_16_bit_big_endian_tiff_and_32_bit_integer_greyscale() -> None:
    ramp = np.array([[0, 32_896, 65_535]], dtype=np.uint16)
    big_endian = Image.frombytes("I;16B", (3, 1), ramp.astype(">u2").tobytes())
    loaded = load_image(encode(big_endian, "TIFF"))
    assert loaded.notes == ("16-bit greyscale scaled to 8 bits",)
    assert pixels(loaded)[0, :, 0].tolist() == [0, 128, 255]

    as_int32 = Image.fromarray(ramp.astype(np.int32))  # mode I, 16-bit values
    assert pixels(load_image(encode(as_int32, "TIFF")))[0, :, 0].tolist() == [0, 128, 255]

    wide = Image.fromarray(np.array([[-1000, 49_000, 99_000]], dtype=np.int32))
    loaded = load_image(encode(wide, "TIFF"))
    assert loaded.notes == ("32-bit greyscale stretched from -1000..99000 to 8 bits",)
    assert pixels(loaded)[0, :, 0].tolist() == [0, 128, 255]


def test_32_bit_float_greyscale() -> None:
    unit = Image.fromarray(np.array([[0.0, 0.5, 1.0]], dtype=np.float32))
    loaded = load_image(encode(unit, "TIFF"))
    assert loaded.notes == ("32-bit float greyscale scaled from 0..1 to 8 bits",)
    assert pixels(loaded)[0, :, 0].tolist() == [0, 128, 255]

    wide = Image.fromarray(np.array([[-2.0, np.nan, 0.0, 2.0]], dtype=np.float32))
    loaded = load_image(encode(wide, "TIFF"))
    assert loaded.notes == ("32-bit float greyscale stretched from -2..2 to 8 bits",)
    assert pixels(loaded)[0, :, 0].tolist() == [0, 0, 128, 255]  # NaN shows as the minimum

    for bad in (np.inf, -np.inf):
        infinite = Image.fromarray(np.array([[0.0, bad]], dtype=np.float32))
        with pytest.raises(ImageError, match="no finite range of values"):
            load_image(encode(infinite, "TIFF"))


def test_cmyk_jpeg_becomes_rgb() -> None:
    cmyk = Image.new("CMYK", (40, 30), (0, 255, 255, 0))  # no cyan, full magenta and yellow
    data = encode(cmyk, "JPEG", quality=95)
    assert Image.open(io.BytesIO(data)).mode == "CMYK"
    loaded = load_image(data)
    assert loaded.notes == ("CMYK converted to RGB",)
    assert np.abs(pixels(loaded).astype(int) - (255, 0, 0)).max() <= 3  # red


def test_transparent_pixels_are_composited_on_white() -> None:
    rgba = np.zeros((20, 40, 4), dtype=np.uint8)
    rgba[:, 20:] = (200, 0, 0, 255)  # right half opaque red
    rgba[:, :10, 3] = 0  # left quarter fully transparent (black underneath)
    rgba[:, 10:20] = (0, 0, 255, 128)  # half-transparent blue
    loaded = load_image(encode(Image.fromarray(rgba), "PNG"))
    assert loaded.notes == ("transparency composited on white",)
    got = pixels(loaded)
    assert (got[:, :10] == 255).all()
    assert (got[:, 20:] == (200, 0, 0)).all()
    assert np.abs(got[:, 10:20].astype(int) - (127, 127, 255)).max() <= 1


def test_greyscale_with_alpha_and_an_opaque_alpha_channel() -> None:
    la = Image.merge("LA", [Image.new("L", (8, 8), 0), Image.new("L", (8, 8), 0)])
    loaded = load_image(encode(la, "PNG"))
    assert loaded.notes == ("transparency composited on white",)
    assert (pixels(loaded) == 255).all()
    opaque = load_image(encode(Image.new("RGBA", (8, 8), (1, 2, 3, 255)), "PNG"))
    assert opaque.notes == ()  # an alpha channel that hides nothing needs no note
    assert (pixels(opaque) == (1, 2, 3)).all()


def palette_image(transparent: bool) -> bytes:
    im = Image.new("P", (30, 10))
    im.putpalette([255, 0, 0, 0, 255, 0, 0, 0, 255])
    im.paste(1, (10, 0, 20, 10))
    im.paste(2, (20, 0, 30, 10))
    return encode(im, "PNG", **({"transparency": 0} if transparent else {}))


def test_palette_png_without_transparency() -> None:
    loaded = load_image(palette_image(transparent=False))
    assert loaded.notes == ("palette colours converted to RGB",)
    got = pixels(loaded)
    assert (got[:, :10] == (255, 0, 0)).all() and (got[:, 10:20] == (0, 255, 0)).all()
    assert (got[:, 20:] == (0, 0, 255)).all()


def test_palette_png_with_a_transparent_entry() -> None:
    loaded = load_image(palette_image(transparent=True))
    assert loaded.notes == ("palette colours converted to RGB", "transparency composited on white")
    got = pixels(loaded)
    assert (got[:, :10] == 255).all() and (got[:, 10:20] == (0, 255, 0)).all()


def test_greyscale_and_1_bit_become_rgb() -> None:
    grey = load_image(encode(Image.new("L", (5, 5), 77), "PNG"))
    assert grey.notes == ("greyscale converted to RGB",)
    assert (pixels(grey) == 77).all()
    bits = Image.new("1", (16, 8), 0)
    bits.paste(1, (8, 0, 16, 8))
    loaded = load_image(encode(bits, "PNG"))
    assert loaded.notes == ("1-bit black and white converted to RGB",)
    assert (pixels(loaded)[:, :8] == 0).all() and (pixels(loaded)[:, 8:] == 255).all()


def test_other_colour_modes_say_which() -> None:
    loaded = load_image(encode(Image.new("RGB", (4, 4), (10, 200, 30)).convert("LAB"), "TIFF"))
    assert loaded.notes == ("LAB colour mode converted to RGB",)


# --- several frames ---------------------------------------------------------------------------

def three_frames() -> list[Image.Image]:
    return [Image.new("RGB", (24, 16), colour) for colour in ("red", "lime", "blue")]


def test_animated_gif_uses_frame_1() -> None:
    first, *rest = three_frames()
    data = encode(first, "GIF", save_all=True, append_images=rest, duration=100, loop=0)
    loaded = load_image(data)
    assert loaded.format == "GIF"
    assert loaded.notes[0] == "animated GIF: using frame 1 of 3"
    assert (pixels(loaded) == (255, 0, 0)).all()


@pytest.mark.parametrize(("fmt", "note"), [
    ("PNG", "animated PNG: using frame 1 of 3"),
    ("TIFF", "multi-page TIFF: using page 1 of 3"),
])
def test_other_multi_frame_files_use_frame_1(fmt: str, note: str) -> None:
    first, *rest = three_frames()
    loaded = load_image(encode(first, fmt, save_all=True, append_images=rest))
    assert loaded.notes == (note,)
    assert (pixels(loaded) == (255, 0, 0)).all()


# --- orientation and size ---------------------------------------------------------------------

def with_orientation(im: Image.Image, orientation: int, fmt: str = "JPEG") -> bytes:
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = orientation
    return encode(im, fmt, exif=exif.tobytes(), quality=95)


def left_red_right_blue(size: tuple[int, int]) -> Image.Image:
    im = Image.new("RGB", size, "blue")
    im.paste((255, 0, 0), (0, 0, size[0] // 2, size[1]))
    return im


def test_exif_orientation_6_is_turned_upright() -> None:
    loaded = load_image(with_orientation(left_red_right_blue((60, 40)), 6))
    assert loaded.notes == ("rotated 90° clockwise to follow its EXIF orientation",)
    assert loaded.image.size == loaded.original_size == (40, 60)
    got = pixels(loaded).astype(int)
    # turned clockwise, the stored image's left (red) half is now on top
    assert np.abs(got[:25] - (255, 0, 0)).max() < 10
    assert np.abs(got[35:] - (0, 0, 255)).max() < 10


def test_exif_orientation_1_adds_no_note() -> None:
    loaded = load_image(with_orientation(left_red_right_blue((60, 40)), 1))
    assert loaded.notes == () and loaded.image.size == (60, 40)


def test_a_big_image_is_downscaled_to_max_side() -> None:
    loaded = load_image(encode(noise((3000, 2000)), "PNG", compress_level=1))
    assert loaded.image.size == (1024, 683)  # 2000 * 1024 / 3000 = 682.7
    assert loaded.original_size == (3000, 2000)
    assert loaded.notes == ("downscaled from 3000x2000 to 1024x683",)


def test_a_big_jpeg_is_decoded_at_reduced_scale_and_keeps_its_content() -> None:
    """JPEG's draft mode decodes 4000x3000 at 1/2 scale; the result must still match a plain
    resize of the full image (the halves' boundary stays at 512 of 1024)."""
    stored = left_red_right_blue((4000, 3000))
    loaded = load_image(encode(stored, "JPEG", quality=95))
    assert loaded.image.size == (1024, 768)
    assert loaded.notes == ("downscaled from 4000x3000 to 1024x768",)
    expected = np.asarray(stored.resize((1024, 768), Image.Resampling.LANCZOS)).astype(int)
    assert np.abs(pixels(loaded).astype(int) - expected).mean() < 2


def test_a_jpeg_that_draft_decodes_straight_to_the_target_size_still_gets_its_note() -> None:
    loaded = load_image(encode(Image.new("RGB", (4096, 3072), "teal"), "JPEG"))
    assert loaded.image.size == (1024, 768)  # libjpeg at 1/4 scale: no resize needed
    assert loaded.notes == ("downscaled from 4096x3072 to 1024x768",)


def test_rotation_comes_before_the_size_in_the_notes_and_sizes_are_upright() -> None:
    loaded = load_image(with_orientation(left_red_right_blue((3000, 2000)), 6))
    assert loaded.image.size == (683, 1024)
    assert loaded.original_size == (2000, 3000)
    assert loaded.notes == ("rotated 90° clockwise to follow its EXIF orientation",
                            "downscaled from 2000x3000 to 683x1024")


def test_max_side_is_a_parameter() -> None:
    loaded = load_image(encode(noise((300, 100)), "PNG"), max_side=30)
    assert loaded.image.size == (30, 10)
    with pytest.raises(ValueError, match="max_side"):
        load_image(b"", max_side=0)


# --- sources ------------------------------------------------------------------------------------

def test_every_kind_of_source(tmp_path: Path) -> None:
    data = encode(noise((20, 10)), "PNG")
    path = tmp_path / "x.png"
    path.write_bytes(data)
    expected = np.asarray(noise((20, 10)))
    with open(path, "rb") as f:
        from_file = load_image(f)
    sources = [data, bytearray(data), memoryview(data), str(path), path, io.BytesIO(data)]
    for loaded in [*map(load_image, sources), from_file]:
        assert loaded.format == "PNG" and (pixels(loaded) == expected).all()


def test_bad_sources(tmp_path: Path) -> None:
    (tmp_path / "x.txt").write_text("hi")
    cases = [
        (tmp_path / "missing.jpg", r"^There is no file at .*missing\.jpg\.$"),
        (tmp_path, r"is a folder, not an image file\.$"),
        ("bad\0path.png", r"^The file bad.path\.png cannot be read"),
        (42, r"^Expected an image file's bytes, path or binary file, not int\.$"),
        (None, r"not NoneType\.$"),
    ]
    for source, message in cases:
        with pytest.raises(ImageError, match=message):
            load_image(source)
    with open(tmp_path / "x.txt") as text_file, pytest.raises(ImageError, match="binary mode"):
        load_image(text_file)
    closed = io.BytesIO(b"")
    closed.close()
    with pytest.raises(ImageError, match=r"^The uploaded file cannot be read \("):
        load_image(closed)


# --- bundled samples ----------------------------------------------------------------------------

def test_sample_photographs() -> None:
    samples = sample_images()
    assert list(samples) == ["astronaut", "cat", "coffee", "rocket"]
    for path in samples.values():
        loaded = load_image(path)
        assert loaded.format == "JPEG" and loaded.image.mode == "RGB" and loaded.notes == ()
    licences = (images.SAMPLES_DIR / "LICENSES.md").read_text()
    assert all(f"{name}.jpg" in licences for name in samples)


def test_cifar_samples() -> None:
    samples = cifar_samples()
    assert list(samples) == CIFAR_CLASSES
    for path in samples.values():
        loaded = load_image(path)
        assert loaded.image.mode == "RGB" and loaded.image.size == (32, 32)
        assert loaded.notes == ()
    licences = (images.SAMPLES_DIR / "LICENSES.md").read_text()
    assert all(f"{name}.png" in licences for name in samples)


def test_samples_stay_small() -> None:
    total = sum(p.stat().st_size for p in images.SAMPLES_DIR.rglob("*") if p.is_file())
    assert total < 1_000_000


# --- property-style: nothing but ImageError ---------------------------------------------------

def valid_files() -> list[bytes]:
    im = noise((40, 30), seed=1)
    return [encode(im, fmt) for fmt in ("PNG", "JPEG", "GIF", "BMP", "TIFF", "WEBP")]


def test_random_bytes_raise_nothing_but_image_error() -> None:
    rng = random.Random(20240601)
    for _ in range(200):
        data = rng.randbytes(rng.randrange(0, 2000))
        with contextlib.suppress(ImageError):
            load_image(data)


@pytest.mark.filterwarnings("ignore::UserWarning")  # PIL warns about some damaged TIFF tags
def test_damaged_images_raise_nothing_but_image_error() -> None:
    """Random bit flips, cuts and splices of real files reach deep into PIL's decoders,
    which plain random bytes (rejected by the first magic-number check) never do."""
    rng = random.Random(7)
    originals = valid_files()
    for _ in range(300):
        data = bytearray(rng.choice(originals))
        for _ in range(rng.randrange(1, 6)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        if rng.random() < 0.3:
            data = data[: rng.randrange(len(data))]
        try:
            loaded = load_image(bytes(data))
        except ImageError:
            continue
        assert loaded.image.mode == "RGB"
