"""Widgets shared by the pages: settings that live in the URL's query string.

A page's settings are read from ``st.query_params`` on first load and written back on every
change, so a teacher can link to exactly the view on the projector
(``/visualize?model=alexnet&view=filters``).
"""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import streamlit as st

from cnnlib.models import registry

T = TypeVar("T")


#: The longest text ``plain`` shows: a message is a sentence or three, never an essay.
MAX_ECHO = 600
#: How much of a value from the URL a warning repeats.
MAX_VALUE_ECHO = 60
_CODE_RUN = re.compile(r"`+")
# What markdown, GitHub's extensions (tables, strike-through, autolinked URLs, www. and e-mail
# addresses) and Streamlit (maths, :colour[...] directives) read as markup anywhere in a
# line; parentheses need no escape once '[' has one, nor a colon but in "://". Line breaks
# are gone, so only the first character could start a block (a heading, a list, a quote).
_MARKUP = re.compile(r"([\\`*_\[\]<>#!|~$@&]|:(?=//)|(?<=www)\.)", re.IGNORECASE)
_BLOCK_START = re.compile(r"^(\s*\d*)([-+=>.)])")


def _escaped(text: str) -> str:
    return _MARKUP.sub(r"\\\1", text)


def plain(text: str, limit: int = MAX_ECHO) -> str:
    """Any text (cnnlib's messages, a value from the URL, a file name) for a markdown element
    (st.error, st.markdown...), shown exactly as written: the one escape every page uses.

    Outside code spans, every character markdown or Streamlit reads as markup is escaped, so
    "2*3*3" keeps its stars and a shared link cannot put a link, an image, a heading, a
    colour directive or maths into the app's own message box. A code span (a run of
    backticks closed by a run of the same length, as CommonMark reads them; cnnlib quotes a
    spec's tokens that way) is left as it is, since inside it nothing is markup; an unmatched
    backtick is escaped, so it cannot open a span. Cut to ``limit`` characters."""
    if len(text) > limit:
        text = text[:limit - 1] + "…"
    out, at = [], 0
    fences = list(_CODE_RUN.finditer(text))
    i = 0
    while i < len(fences):
        opening = fences[i]
        close = next((j for j in range(i + 1, len(fences))
                      if len(fences[j].group()) == len(opening.group())), None)
        if close is None:  # an unmatched run is text, escaped below
            i += 1
            continue
        out.append(_escaped(text[at:opening.start()]))
        out.append(text[opening.start():fences[close].end()])
        at, i = fences[close].end(), close + 1
    out.append(_escaped(text[at:]))
    return _BLOCK_START.sub(r"\1\\\2", " ".join("".join(out).splitlines()))


def shown(value: object, limit: int = MAX_VALUE_ECHO) -> str:
    """A visitor's value (from the URL, a text box) quoted in a message: cut to ``limit``
    characters, with the line breaks that would start a new block gone; the caller passes
    the whole message through :func:`plain`."""
    text = " ".join(str(value).split())
    return f"'{text}'" if len(text) <= limit else f"'{text[:limit - 1]}…'"


def session_memo(key: tuple, compute: Callable[[], T], keep: int = 8) -> T:
    """``compute()`` once per ``key`` for this browser session.

    For results whose computation draws progress into the page, which st.cache_data forbids
    (elements created outside a cached function cannot be replayed).
    """
    memo: OrderedDict = st.session_state.setdefault("_memo", OrderedDict())
    if key not in memo:
        memo[key] = compute()
        while len(memo) > keep:
            memo.popitem(last=False)
    memo.move_to_end(key)
    return memo[key]


def _sync(key: str) -> None:
    """A widget's new value into the URL. A page may drop the widget's state (the Train page
    does after Start, to select the new run) while a callback for it is still pending."""
    if key in st.session_state:
        st.query_params[key] = str(st.session_state[key])


def query_select(label: str, options: Sequence[Any], key: str, default: Any = None,
                 format_func: Callable[[Any], Any] = str, radio: bool = False,
                 **kwargs: Any) -> Any:
    """A selectbox (or radio) whose value is mirrored in ``?key=`` of the URL.

    An unknown value in the URL falls back to ``default`` with a warning naming it, rather
    than failing the page.
    """
    options = list(options)
    by_text = {str(o): o for o in options}
    wanted = st.query_params.get(key)
    if key not in st.session_state:
        if wanted is not None and wanted not in by_text:
            st.warning(plain(f"{shown(wanted)} is not a valid {label.lower()}; showing the "
                             "default."))
        fallback = default if default in options else options[0]
        initial = by_text[wanted] if wanted is not None and wanted in by_text else fallback
        st.session_state[key] = initial
    elif st.session_state[key] not in options:  # options changed (another model chosen)
        st.session_state[key] = default if default in options else options[0]
    widget = st.radio if radio else st.selectbox
    value = widget(label, options, key=key, format_func=format_func,
                   on_change=_sync, args=(key,), **kwargs)
    st.query_params[key] = str(value)
    return value


def query_int(label: str, key: str, default: int, min_value: int, max_value: int,
              step: int = 1, slider: bool = True) -> int:
    """An integer slider/input mirrored in the URL; an out-of-range URL value is clamped,
    with a warning that says so."""
    if key not in st.session_state:
        raw = st.query_params.get(key)
        wanted = default
        if raw is not None and re.fullmatch(r"\s*[+-]?\d{1,18}\s*", raw):
            wanted = int(raw)
        elif raw is not None:  # int() would take "1_0" and choke on 5,000 digits
            st.warning(plain(f"{shown(raw)} is not a whole number for {label}; using "
                             f"{default}."))
        clamped = min(max(wanted, min_value), max_value)
        if clamped != wanted:
            st.warning(plain(f"{label}: {shown(raw)} is outside {min_value} to {max_value}; "
                             f"using {clamped}."))
        st.session_state[key] = clamped
    st.session_state[key] = min(max(st.session_state[key], min_value), max_value)
    widget = st.slider if slider else st.number_input
    value = widget(label, min_value=min_value, max_value=max_value, step=step, key=key,
                   on_change=_sync, args=(key,))
    st.query_params[key] = str(value)
    return int(value)


def query_text(label: str, key: str, default: str, **kwargs: Any) -> str:
    """A text input mirrored in ``?key=`` of the URL (validated by the caller, not here)."""
    if key not in st.session_state:
        st.session_state[key] = st.query_params.get(key, default)
    value = st.text_input(label, key=key, on_change=_sync, args=(key,), **kwargs)
    st.query_params[key] = value
    return value


def query_toggle(label: str, key: str, default: bool = False, **kwargs: Any) -> bool:
    """A toggle mirrored in the URL as ``?key=1`` or ``?key=0``; any other value there falls
    back to ``default`` with a warning naming it."""
    if key not in st.session_state:
        raw = st.query_params.get(key)
        if raw is not None and raw not in ("0", "1"):
            st.warning(plain(f"{label}: {shown(raw)} is not 0 or 1; using {int(default)}."))
        st.session_state[key] = {"1": True, "0": False}.get(raw or "", default)

    def sync() -> None:
        st.query_params[key] = "1" if st.session_state[key] else "0"

    value = bool(st.toggle(label, key=key, on_change=sync, **kwargs))
    st.query_params[key] = "1" if value else "0"
    return value


def query_multi(label: str, options: Sequence[str], key: str, default: Sequence[str],
                **kwargs: Any) -> list[str]:
    """A multiselect mirrored in the URL as ``?key=a,b,c``; unknown names are dropped with a
    warning naming them."""
    if key not in st.session_state:
        wanted = [w for w in st.query_params.get(key, "").split(",") if w]
        unknown = [w for w in wanted if w not in options]
        if unknown:
            st.warning(plain(f"Not in the list, left out: "
                             f"{', '.join(shown(u) for u in unknown[:10])}."))
        st.session_state[key] = [w for w in wanted if w in options] or list(default)

    def sync() -> None:
        st.query_params[key] = ",".join(st.session_state[key])

    value = st.multiselect(label, options, key=key, on_change=sync, **kwargs)
    st.query_params[key] = ",".join(value)
    return value


def zoo_label(name: str) -> str:
    """A zoo network as every picker shows it: "VGG · vgg16 (2014)", so that a family's
    members read as one group in the catalogue's order."""
    info = registry.get(name)
    return f"{info.family} · {name} ({info.year})"
