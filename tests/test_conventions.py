"""The counting conventions have one text: cnnlib.formulas.CONVENTIONS. The README's
"Counting conventions" section is the same text, and Explore shows it."""

from __future__ import annotations

from pathlib import Path

from cnnlib.formulas import CONVENTIONS

README = Path(__file__).parent.parent / "README.md"


def readme_section(heading: str) -> str:
    """The body of the README's ``## heading`` section, up to the next ``## ``."""
    text = README.read_text(encoding="utf-8")
    start = text.index(f"\n## {heading}\n") + len(f"\n## {heading}\n")
    end = text.find("\n## ", start)
    return text[start:end if end >= 0 else None].strip()


def test_the_readme_section_is_the_code_s_text() -> None:
    assert readme_section("Counting conventions") == CONVENTIONS.strip(), (
        "README.md's Counting conventions must be cnnlib.formulas.CONVENTIONS, word for word")


def test_the_conventions_cover_every_counted_quantity() -> None:
    for quantity in ("**MACs**", "**Params**", "**Memory**", "**Output size**", "**Depth**"):
        assert quantity in CONVENTIONS


def test_explore_shows_the_conventions(open_page) -> None:
    at = open_page("app/explore.py", model="lenet5", view="table")
    assert not at.exception
    shown = [e for e in at.expander if e.label == "How these numbers are counted"]
    assert len(shown) == 1
    assert any(m.value.strip() == CONVENTIONS.strip() for m in shown[0].markdown)
