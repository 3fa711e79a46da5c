#!/usr/bin/env bash
# Idempotent set-up used by the other scripts: the system Graphviz `dot`, and a virtual
# environment (.venv) holding autograd_lite with its test tools.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v dot >/dev/null 2>&1; then
  echo "setup: installing Graphviz (apt-get install graphviz)" >&2
  sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq graphviz >/dev/null
fi
python=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv with $("$python" --version)" >&2
  "$python" -m venv .venv
fi
if ! .venv/bin/python -c "import autograd_lite, pytest, hypothesis, graphviz" 2>/dev/null \
   || [ pyproject.toml -nt .venv/.installed ]; then
  echo "setup: installing autograd_lite and its test tools into .venv" >&2
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".[test]"
  touch .venv/.installed
fi
# Byte-compile the package, as pip does for a regular install (an editable one is not): where
# PYTHONDONTWRITEBYTECODE is set, nothing else would cache it and every start would compile
# it again (about 25 ms). Up-to-date files are skipped.
.venv/bin/python -m compileall -q autograd_lite
