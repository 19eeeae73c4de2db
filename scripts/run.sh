#!/usr/bin/env bash
# Runs the bridge from this folder, installing it into ./.venv first when needed.
#   bash scripts/run.sh                 serve (flags such as --port 5103 go to `serve`)
#   bash scripts/run.sh --browser       serve with a Chromium of its own (add --headless later)
#   bash scripts/run.sh check           any other command: check, capture-ids, update-models
# Config files are created on the first serve, in this folder or $LMARENA_BRIDGE_HOME.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/find_python.sh
ensure_venv

# Editable install: code changes need no reinstall; a changed pyproject.toml (dependencies,
# commands) does.
STAMP=.venv/.lmarena-bridge-installed
if [ "$(cat "$STAMP" 2>/dev/null || true)" != "$(sha256sum pyproject.toml)" ]; then
  .venv/bin/python -m pip install -q --disable-pip-version-check -e .
  sha256sum pyproject.toml >"$STAMP"
fi

# Hints the program prints name the command as the user typed it.
export LMARENA_BRIDGE_PROG="bash $0"
exec .venv/bin/lmarena-bridge "$@"
