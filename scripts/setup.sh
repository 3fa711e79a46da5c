#!/usr/bin/env bash
# Idempotent set-up used by the other scripts. It needs nothing from the caller's environment
# (it is run as `env -i HOME=$HOME PATH=/usr/local/bin:/usr/bin:/bin bash scripts/...` in CI):
# whatever is missing it installs with apt-get (Debian/Ubuntu; as root, else through sudo):
#   - Graphviz's `dot`, which draws the graphs;
#   - with --with-browser (scripts/test.sh), Chromium, in which a test opens the HTML report;
#   - Python 3.10+ with venv, when no such interpreter is on PATH;
# then it makes .venv with autograd_lite (editable) and its test tools, and byte-compiles it.
# Python: $PYTHON if set, else the first of python3.11 python3.12 python3.13 python3.10 python3
# on PATH that is at least 3.10 and can make a venv; failing that, Debian's python3 and
# python3-venv are installed.
set -euo pipefail
cd "$(dirname "$0")/.."

apt_updated=""
apt_install() {
  local sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  echo "setup: installing $* (apt-get)" >&2
  if [ -z "$apt_updated" ]; then
    $sudo apt-get update -qq
    apt_updated=1
  fi
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$@" >/dev/null
}

# Whether $1 is Python 3.10+ and can make a venv with pip (tried for real: Debian's python3
# imports ensurepip but cannot use it without python3-venv).
can_make_venv() {
  local probe status=0
  probe=$(mktemp -d)
  "$1" -c 'import sys; sys.exit(sys.version_info < (3, 10))' 2>/dev/null \
    && "$1" -m venv "$probe/venv" >/dev/null 2>&1 || status=1
  rm -rf "$probe"
  return "$status"
}

find_python() {
  local candidate
  for candidate in ${PYTHON:-} python3.11 python3.12 python3.13 python3.10 python3; do
    if command -v "$candidate" >/dev/null 2>&1 && can_make_venv "$candidate"; then
      command -v "$candidate"
      return 0
    fi
  done
  return 1
}

command -v dot >/dev/null 2>&1 || apt_install graphviz
if [ "${1:-}" = --with-browser ] && ! command -v chromium >/dev/null 2>&1; then
  apt_install chromium
fi

# A .venv whose interpreter no longer runs (its base Python was removed) is made again.
if [ -e .venv ] && ! .venv/bin/python -c "" 2>/dev/null; then
  echo "setup: .venv is broken; making it again" >&2
  rm -rf .venv
fi
if [ ! -x .venv/bin/python ]; then
  python=$(find_python) || { apt_install python3 python3-venv; python=$(find_python); } || {
    echo "setup: found no Python 3.10+ able to make a venv; set PYTHON=/path/to/python3" >&2
    exit 1
  }
  echo "setup: creating .venv with $python ($("$python" --version))" >&2
  "$python" -m venv .venv
fi
# (Re)install when pyproject.toml changed since the last install, or a tool is missing.
stamp=$(cksum < pyproject.toml)
if [ "$(cat .venv/.installed 2>/dev/null)" != "$stamp" ] || ! .venv/bin/python -c \
    "import autograd_lite, pytest, hypothesis, graphviz, latex2mathml, nbclient" 2>/dev/null; then
  echo "setup: installing autograd_lite and its test tools into .venv" >&2
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".[test]"
  echo "$stamp" > .venv/.installed
fi
# Byte-compile the package, as pip does for a regular install (an editable one is not): where
# PYTHONDONTWRITEBYTECODE is set, nothing else would cache it and every start would compile
# it again (about 25 ms). Up-to-date files are skipped.
.venv/bin/python -m compileall -q autograd_lite
