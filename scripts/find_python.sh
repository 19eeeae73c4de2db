# Sourced by run.sh and test.sh (from the project folder): find a Python 3.11 or newer and
# make sure ./.venv was made by one. `ensure_venv` does both; it exits with advice when no
# suitable Python is installed.
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

ensure_venv() {
  local python
  if [ -e .venv ] && ! venv_ok; then
    echo "The .venv here is broken or was made with an older Python; recreating it." >&2
    rm -rf .venv
  fi
  if [ ! -e .venv ]; then
    python=$(pick_python) || exit 1
    echo "Creating .venv with $python (Python $(version_of "$python"))." >&2
    if ! "$python" -m venv .venv; then
      rm -rf .venv
      echo "Could not create the venv with $python. On Debian/Ubuntu: sudo apt-get install python$(version_of "$python")-venv" >&2
      exit 1
    fi
  fi
}
