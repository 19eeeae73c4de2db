#!/usr/bin/env bash
# Installs everything the tests need (Debian chromium, a venv with pinned packages) and runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."
# The same Python 3.11+ search as run.sh; a venv made by an older one is recreated.
. scripts/find_python.sh
ensure_venv
SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
if ! [ -x /usr/bin/chromium ]; then
  $SUDO apt-get update -q
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium
fi
.venv/bin/python -m pip install -q --disable-pip-version-check -r requirements-dev.txt
# The JavaScript clients of the end-to-end tests, pinned by each folder's package-lock.json;
# reinstalled only when a lock changed (npm's cache then serves it without the network).
if ! command -v npm >/dev/null; then
  $SUDO apt-get update -q
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends nodejs npm
fi
for lock in tests/e2e/*/package-lock.json; do
  dir=$(dirname "$lock")
  if ! [ "$dir/node_modules/.package-lock.json" -nt "$lock" ]; then
    (cd "$dir" && npm ci --prefer-offline --no-audit --no-fund --loglevel=error)
  fi
done
.venv/bin/ruff check .
.venv/bin/mypy src/lmarena_bridge
set +e; .venv/bin/python -m pytest -q -p no:cacheprovider "$@"; rc=$?; set -e
if [ "$rc" -eq 5 ]; then echo "no tests were collected"; exit 1; fi
exit "$rc"
