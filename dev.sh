#!/usr/bin/env bash
# One entry for a fresh machine: `./dev.sh app` starts the dashboard, `./dev.sh test` lints,
# type-checks and runs the tests. Each first creates .venv (or updates it when a requirements
# file changed) and installs into it (the test command also Debian's chromium and graphviz,
# for the browser and graph tests), so nothing else needs setting up.
set -euo pipefail
cd "$(dirname "$0")"
PY=${PYTHON:-python3}

# ensure_venv FILE: install FILE's requirements into .venv unless they are already there.
ensure_venv() {
  [ -x .venv/bin/python ] || "$PY" -m venv .venv
  local stamp=.venv/.$1.sha256
  local want
  want=$(cat requirements*.txt | sha256sum | cut -d' ' -f1)
  if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    .venv/bin/python -m pip install --disable-pip-version-check -q -r "$1"
    echo "$want" > "$stamp"
  fi
}

# apt_install PACKAGE WHY: install a Debian package where apt can (root or sudo).
apt_install() {
  local sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo -n"
  if command -v apt-get >/dev/null; then
    echo "Installing $1 for $2..." >&2
    $sudo apt-get update -qq && $sudo apt-get install -y -qq "$1" >/dev/null \
      || echo "Could not install $1; $2 will skip or fail." >&2
  fi
}

# The browser test drives Debian's chromium; the graph tests check DOT with Graphviz's dot
# and fail without it.
ensure_system_tools() {
  command -v chromium >/dev/null || command -v chromium-browser >/dev/null \
    || apt_install chromium "the browser test"
  command -v dot >/dev/null || apt_install graphviz "the graph tests"
}

case "${1:-}" in
  app)
    ensure_venv requirements.txt
    shift
    exec .venv/bin/python -m streamlit run streamlit_app.py "$@"
    ;;
  test)
    ensure_venv requirements-dev.txt
    ensure_system_tools
    shift
    .venv/bin/ruff check .
    .venv/bin/mypy  # what it checks, and how strictly: [tool.mypy] in pyproject.toml
    exec .venv/bin/python -m pytest "$@"
    ;;
  *)
    echo "usage: ./dev.sh app | test [pytest args]" >&2
    exit 2
    ;;
esac
