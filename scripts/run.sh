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

# --browser needs a Chromium: on Debian/Ubuntu install it once when none is found (a
# browser_executable set in config.jsonc still wins; without apt the bridge says what to do).
case " $* " in
  *" --browser "*)
    if ! command -v chromium chromium-browser google-chrome google-chrome-stable chrome \
        >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then
      SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
      echo "Installing Debian's chromium for --browser (once)..." >&2
      $SUDO apt-get update -q >&2 && \
        $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium >&2 \
        || echo "Could not install chromium; the bridge starts without its browser." >&2
    fi ;;
esac

# Hints the program prints name the command as the user typed it.
export LMARENA_BRIDGE_PROG="bash $0"
exec .venv/bin/lmarena-bridge "$@"
