#!/usr/bin/env bash
# Installs everything the tests need (Debian chromium, a venv with pinned packages) and runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."
SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
if ! [ -x /usr/bin/chromium ]; then
  $SUDO apt-get update -q
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium
fi
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/pip install -q --disable-pip-version-check -r requirements-dev.txt
.venv/bin/ruff check .
.venv/bin/mypy src/lmarena_bridge
set +e; .venv/bin/python -m pytest -q -p no:cacheprovider "$@"; rc=$?; set -e
if [ "$rc" -eq 5 ]; then echo "no tests were collected"; exit 1; fi
exit "$rc"
