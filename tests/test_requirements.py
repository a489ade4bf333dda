"""The requirement files are the home of what the project needs (hosting installs
requirements.txt, ``./dev.sh test`` requirements-dev.txt); pyproject.toml, for installing
cnnlib as a package, must list the same packages with the same minimums."""

from __future__ import annotations

from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10, where pytest itself depends on tomli
    import tomli as tomllib

ROOT = Path(__file__).parent.parent


def requirements(name: str) -> set[str]:
    """The requirement lines of ``name``, without comments and ``-r`` includes."""
    lines = (line.split("#")[0].strip() for line in (ROOT / name).read_text().splitlines())
    return {line for line in lines if line and not line.startswith("-r")}


def test_pyproject_lists_what_the_requirement_files_list() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    assert set(project["dependencies"]) | set(extras["app"]) == requirements("requirements.txt")
    assert set(extras["test"]) == requirements("requirements-dev.txt")
