"""The Build page through AppTest: a typed spec is analysed like a zoo model, errors point at
the token, examples load with one click, and the spec lives in the URL."""

from __future__ import annotations

from cnnlib import spec


def test_a_shared_link_opens_the_design(open_page) -> None:
    text = "[conv3-16 relu]*2 maxpool fc10"
    at = open_page("app/build.py", spec=text, input="3x32x32", view="table")
    expected = spec.profile_spec(text, "3x32x32")
    assert at.text_area(key="spec").value == text
    assert len(at.dataframe[0].value) == len(expected.layers)
    assert at.metric[0].help == f"{expected.totals['params']:,}"


def test_an_example_loads_with_one_click_and_goes_into_the_url(open_page) -> None:
    at = open_page("app/build.py")
    at.button_group(key="example").set_value("lenet5").run()
    assert not at.exception and not at.error
    assert at.text_area(key="spec").value == spec.EXAMPLES["lenet5"]
    assert at.query_params["spec"] == spec.EXAMPLES["lenet5"]
    assert at.text_input(key="input").value == "1x32x32"
    assert len(at.get("graphviz_chart")) == 1


def test_a_mistake_names_the_token_and_points_at_it(open_page) -> None:
    at = open_page("app/build.py", clean=False, spec="conv3-64 relu conv3- fc10")
    assert not at.exception
    assert "`conv3-` at 14" in at.error[0].value
    assert at.code[0].value.splitlines()[1] == " " * 14 + "^"


def test_a_spec_too_deep_for_its_input_says_which_layer_empties_the_map(open_page) -> None:
    at = open_page("app/build.py", clean=False, spec="(conv3-8 maxpool)*6", input="3x32x32")
    assert not at.exception
    assert "empties the feature map" in at.error[0].value


def test_diff_against_a_classic_and_hints(open_page) -> None:
    at = open_page("app/build.py", spec=spec.EXAMPLES["vgg16"], input="3x224x224", view="diff",
                   vs="vgg16")
    diff = at.dataframe[0].value.set_index("quantity")
    assert diff.loc["parameters", "ratio"] == 1.0  # the notation's VGG-16 is the zoo's
    at.radio(key="view").set_value("hints").run()
    assert not at.exception
    assert any("fc4096" in m.value for m in at.markdown)


def test_diff_against_a_net_after_resnet_never_raises(open_page) -> None:
    """Every net of the After ResNet group can be picked; one the analysis cannot take yet
    (issue 11: Swin, ConvNeXt) is a warning that names it, never a traceback."""
    from cnnlib.models import registry

    for name in registry.names():
        if registry.get(name).family != registry.AFTER_RESNET:
            continue
        at = open_page("app/build.py", clean=False, view="diff", vs=name)
        assert not at.exception and not at.error, (name, [e.value for e in at.exception])
        assert at.dataframe or any("cannot be analysed" in w.value for w in at.warning), name
