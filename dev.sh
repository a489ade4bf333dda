#!/usr/bin/env bash
# One entry for a fresh machine: `./dev.sh app` starts the dashboard, `./dev.sh test` runs the
# tests. Each first creates .venv (or updates it when requirements.txt changed) and installs
# into it, so nothing else needs setting up.
set -euo pipefail
cd "$(dirname "$0")"
PY=${PYTHON:-python3}

ensure_venv() {
  [ -x .venv/bin/python ] || "$PY" -m venv .venv
  local stamp=.venv/.requirements.sha256
  local want
  want=$(sha256sum requirements.txt | cut -d' ' -f1)
  if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    .venv/bin/python -m pip install --disable-pip-version-check -q -r requirements.txt
    echo "$want" > "$stamp"
  fi
}

case "${1:-}" in
  app)
    ensure_venv
    shift
    exec .venv/bin/python -m streamlit run streamlit_app.py "$@"
    ;;
  test)
    ensure_venv
    shift
    .venv/bin/ruff check .
    exec .venv/bin/python -m pytest "$@"
    ;;
  *)
    echo "usage: ./dev.sh app | test [pytest args]" >&2
    exit 2
    ;;
esac
