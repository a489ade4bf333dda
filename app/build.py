"""Build: type a network in the slides' notation and see at once its shapes, parameters,
memory, multiply-adds, receptive field and graph, every mistake pointed out, design hints
with the slides' reasons, and how it weighs against a classic.

The spec lives in the URL (``/build?spec=...&input=3x32x32``) so a teacher can share a design.
Specs are parsed, never evaluated, and analysed on the meta device only: no text typed here
can run code or allocate a real tensor.
"""

from __future__ import annotations

import streamlit as st

from app import network, warm
from app.style import is_classroom
from app.widgets import plain, query_select, zoo_label
from cnnlib import compare, design_rules, spec
from cnnlib.analysis import Profile, format_shape
from cnnlib.errors import CnnlibError, SpecError
from cnnlib.formulas import short
from cnnlib.models import registry

START = "vgg11"  # the example a fresh page opens with


@st.cache_resource(max_entries=64, show_spinner="Analysing...")
def analysed(text: str, size: str) -> Profile:
    """Shared by every session, like the zoo's analyses: keyed by the text itself."""
    return spec.profile_spec(text, size)


def load_example(name: str) -> None:
    st.session_state["spec"] = spec.EXAMPLES[name]
    st.session_state["input"] = format_shape(spec.EXAMPLE_INPUTS[name])


def pointed(text: str, position: int) -> str:
    """The line of ``text`` holding ``position``, with a caret under that character."""
    start = text.rfind("\n", 0, position) + 1
    end = text.find("\n", position)
    line = text[start:end if end >= 0 else len(text)]
    return f"{line}\n{' ' * (position - start)}^"


def hints_view(text: str, profile: Profile) -> None:
    found = design_rules.hints(text, profile)
    if all(not hint.token for hint in found):  # only the summary of where the cost is
        st.success("No design rule of the course notes is broken here.")
    for hint in found:
        where = f" (`{hint.token}` at {hint.position})" if hint.token else ""
        st.markdown(f"**{hint.rule}**{where}: {hint.message}")


def diff_view(profile: Profile) -> None:
    other = query_select("Compare with", registry.names(), "vs", default="vgg16",
                         format_func=zoo_label)
    try:
        theirs = network.zoo_profile(other)
    except CnnlibError as exc:  # a later net the analysis cannot take yet: say so, no trace
        st.warning(plain(f"{other} cannot be analysed, so there is nothing to compare with: "
                         f"{exc}"))
        return
    mine, t = profile.totals, theirs.totals
    st.markdown(f"**Your net**: {short(mine['params'])} parameters, {short(mine['macs'])} "
                f"multiply-adds, depth {mine['depth']}. **{other}**: {short(t['params'])} "
                f"parameters, {short(t['macs'])} multiply-adds, depth {t['depth']}.")
    if format_shape(theirs.input_size) != format_shape(profile.input_size):
        st.caption(f"Each at its own input: yours {format_shape(profile.input_size)}, "
                   f"{other} {format_shape(theirs.input_size)}.")
    st.dataframe(compare.diff_totals(profile, theirs), hide_index=True,
                 column_config={"ratio": st.column_config.NumberColumn(format="%.3gx")})


def examples() -> None:
    """The spec examples, one click each (loading one replaces the text and input)."""
    st.pills("Examples", list(spec.EXAMPLES), key="example", selection_mode="single",
             on_change=lambda: load_example(st.session_state["example"])
             if st.session_state["example"] else None)


warm.start()  # the rest of the zoo, in the background, once per server
st.title("Design your own network")
if "spec" not in st.session_state:
    st.session_state["spec"] = st.query_params.get("spec", spec.EXAMPLES[START])
    st.session_state["input"] = st.query_params.get(
        "input", format_shape(spec.EXAMPLE_INPUTS.get(START, spec.DEFAULT_INPUT)))
NOTATION = ("The slides' notation: `conv3-64` (3x3, 64 filters, 'same' padding), "
            "`conv11-96/4` (stride 4), `conv5-256/1p2` (padding 2), `maxpool`, `avgpool2`, "
            "`lrn`, `relu`, `bn`, `dropout0.5`, `fc4096`, `gap`, `softmax`; repeat with "
            "`[conv3-64 relu]*2`, group with `( ... )*3`; `res3-64/2`, `bottleneck-64-256`, "
            "`inception(64,96,128,16,32,32)`; `#` starts a comment.")
classroom = is_classroom()
if not classroom:
    st.caption(NOTATION)
# classroom mode: the editor, examples and input on one short band, so the analysis is on
# the first screen; the notation is one click away
editor, side = st.columns([3, 1] if classroom else [4, 1])
with side:
    size = st.text_input("Input (C x H x W)", key="input")
    if classroom:
        with st.popover("Notation and examples"):
            st.markdown(NOTATION)
            examples()
with editor:
    if not classroom:
        examples()
    text = st.text_area("Network", key="spec", height=110 if classroom else 220,
                        help="Ctrl+Enter (or click outside) to analyse.")
st.query_params["spec"], st.query_params["input"] = text, size  # a shareable link

try:
    profile = analysed(text, size)
except SpecError as exc:
    st.error(plain(str(exc)))
    if exc.position >= 0:
        st.code(pointed(text, exc.position), language=None)
    st.stop()
except CnnlibError as exc:
    st.error(plain(str(exc)))
    st.stop()
network.views(profile, ("spec", text, size), text, extra={
    "hints": ("Design hints", lambda: hints_view(text, profile)),
    "diff": ("Against a classic", lambda: diff_view(profile))})
