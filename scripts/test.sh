#!/usr/bin/env bash
# Installs everything the tests need (Debian chromium, a venv with pinned packages) and runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."
SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
if ! [ -x /usr/bin/chromium ]; then
  $SUDO apt-get update -q
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium
fi
# A venv left half-made or made by a Python older than 3.11 is recreated, not reused.
if [ -e .venv ] && ! .venv/bin/python -c 'import sys, pip; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  echo "The .venv here is broken or too old; recreating it." >&2
  rm -rf .venv
fi
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/pip install -q --disable-pip-version-check -r requirements-dev.txt
.venv/bin/ruff check .
.venv/bin/mypy src/lmarena_bridge
set +e; .venv/bin/python -m pytest -q -p no:cacheprovider "$@"; rc=$?; set -e
if [ "$rc" -eq 5 ]; then echo "no tests were collected"; exit 1; fi
exit "$rc"
