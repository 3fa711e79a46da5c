#!/usr/bin/env bash
# The test suite: set-up, then pytest (every test, none skipped) and ruff.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/python -m pytest -q "$@"
.venv/bin/ruff check autograd_lite tests bench derivations
