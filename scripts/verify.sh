#!/usr/bin/env bash
# The main job: verify every shipped derivation three ways (formula, tape, finite differences):
# each derivations/*.py file, and each derivations/*.md writeup checked as written (a separate
# entry; docs/writeups.md), and write the report to report/: index.html (open it in a browser:
# each writeup's math with every equation marked, the tables, the diagnoses and each
# derivation's graph), README.md, and the graphs as SVG in report/graphs/.
# Exit status: 0 every check passes, 1 a check fails, 2 a derivation cannot be verified.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
status=0
.venv/bin/autograd-lite verify derivations --report report --graphs report/graphs "$@" || status=$?
echo "Open the report: $(pwd)/report/index.html" >&2
exit "$status"
