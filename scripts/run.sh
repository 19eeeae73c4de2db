#!/usr/bin/env bash
# Installs the bridge into a local venv and starts it (config files are created on first run).
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/pip install -q --disable-pip-version-check .
exec .venv/bin/lmarena-bridge serve "$@"
