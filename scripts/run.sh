#!/usr/bin/env bash
# Runs the bridge from this folder, installing it into ./.venv first when needed.
#   bash scripts/run.sh                 serve (flags such as --port 5103 go to `serve`)
#   bash scripts/run.sh check           any other command: check, capture-ids, update-models
# Config files are created on the first serve, in this folder or $LMARENA_BRIDGE_HOME.
set -euo pipefail
cd "$(dirname "$0")/.."
NEED_MAJOR=3
NEED_MINOR=11
CANDIDATES="python3 python3.14 python3.13 python3.12 python3.11"

# "3.12" for an interpreter that runs, nothing (and failure) otherwise.
version_of() {
  "$1" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null
}

new_enough() {
  local major=${1%%.*} minor=${1#*.}
  [ "$major" -gt "$NEED_MAJOR" ] || { [ "$major" -eq "$NEED_MAJOR" ] && [ "$minor" -ge "$NEED_MINOR" ]; }
}

# The first interpreter of CANDIDATES that is new enough; says what it found otherwise.
pick_python() {
  local py version found=""
  for py in $CANDIDATES; do
    command -v "$py" >/dev/null 2>&1 || continue
    version=$(version_of "$py") || continue
    if new_enough "$version"; then
      echo "$py"
      return 0
    fi
    found="$found $py ($version)"
  done
  echo "LMArena Bridge needs Python $NEED_MAJOR.$NEED_MINOR or newer; found:${found:- no python3 at all}." >&2
  echo "Install one (Debian/Ubuntu: sudo apt-get install python3.11 python3.11-venv) and run this again." >&2
  return 1
}

# A venv made by an old Python, or left half-made, is recreated rather than reused.
venv_ok() {
  local version
  [ -x .venv/bin/python ] || return 1
  version=$(version_of .venv/bin/python) || return 1
  new_enough "$version" || return 1
  .venv/bin/python -m pip --version >/dev/null 2>&1
}

if [ -e .venv ] && ! venv_ok; then
  echo "The .venv here is broken or was made with an older Python; recreating it." >&2
  rm -rf .venv
fi
if [ ! -e .venv ]; then
  PYTHON=$(pick_python)
  echo "Creating .venv with $PYTHON (Python $(version_of "$PYTHON"))." >&2
  if ! "$PYTHON" -m venv .venv; then
    rm -rf .venv
    echo "Could not create the venv with $PYTHON. On Debian/Ubuntu: sudo apt-get install python$(version_of "$PYTHON")-venv" >&2
    exit 1
  fi
fi

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
