#!/usr/bin/env bash
# The main job: verify every shipped derivation three ways (formula, tape, finite differences),
# write the Markdown report and render each derivation's graph into report/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/autograd-lite verify derivations --report report --graphs report/graphs "$@"
