"""Widgets shared by the pages: settings that live in the URL's query string.

A page's settings are read from ``st.query_params`` on first load and written back on every
change, so a teacher can link to exactly the view on the projector
(``/visualize?model=alexnet&view=filters``).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import streamlit as st

T = TypeVar("T")


def plain(text: str) -> str:
    """cnnlib's text for a markdown element (st.error, st.markdown...): the '*' of its
    formulas ("2*3*3") kept, not read as emphasis. Inside `code spans` (a spec's tokens) a
    '*' is literal already, so those are left as they are."""
    parts = text.split("`")
    return "`".join(p if i % 2 else p.replace("*", "\\*") for i, p in enumerate(parts))


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
    st.query_params[key] = str(st.session_state[key])


def query_select(label: str, options: Sequence[Any], key: str, default: Any = None,
                 format_func: Callable[[Any], str] = str, radio: bool = False,
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
            st.warning(f"'{wanted}' is not a valid {label.lower()}; showing the default.")
        initial = by_text.get(wanted, default if default in options else options[0])
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
    """An integer slider/input mirrored in the URL; out-of-range URL values are clamped."""
    if key not in st.session_state:
        try:
            wanted = int(st.query_params.get(key, default))
        except ValueError:
            st.warning(f"'{st.query_params.get(key)}' is not a whole number for {label}; "
                       f"using {default}.")
            wanted = default
        st.session_state[key] = min(max(wanted, min_value), max_value)
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


def query_multi(label: str, options: Sequence[str], key: str, default: Sequence[str],
                **kwargs: Any) -> list[str]:
    """A multiselect mirrored in the URL as ``?key=a,b,c``; unknown names are dropped with a
    warning naming them."""
    if key not in st.session_state:
        wanted = [w for w in st.query_params.get(key, "").split(",") if w]
        unknown = [w for w in wanted if w not in options]
        if unknown:
            st.warning(f"Not in the list, left out: {', '.join(unknown)}.")
        st.session_state[key] = [w for w in wanted if w in options] or list(default)

    def sync() -> None:
        st.query_params[key] = ",".join(st.session_state[key])

    value = st.multiselect(label, options, key=key, on_change=sync, **kwargs)
    st.query_params[key] = ",".join(value)
    return value
