#!/usr/bin/env bash
# The test suite: set-up, ruff, then pytest (every test, none skipped; its summary closes the log).
# Extra arguments go to pytest, e.g. `bash scripts/test.sh tests/test_html_report.py -x`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --with-browser
.venv/bin/ruff check autograd_lite tests bench derivations docs
.venv/bin/python -m pytest -q "$@"
