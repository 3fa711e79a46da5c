#!/usr/bin/env bash
# Make docs/report.png, the README's picture: the HTML report of docs/my_derivation.py (a
# derivation with a bug) as headless Chromium draws it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --with-browser
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
status=0
.venv/bin/autograd-lite verify docs/my_derivation.py --report "$out/report" >/dev/null || status=$?
[ "$status" = 1 ] || { echo "expected the example to fail (exit 1), got $status" >&2; exit 1; }
chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
  --disable-background-networking --disable-component-update --disable-sync \
  --user-data-dir="$out/profile" --hide-scrollbars --window-size="${SIZE:-1000,1560}" \
  --screenshot="$(pwd)/docs/report.png" "file://$out/report/index.html" 2>/dev/null
echo "wrote docs/report.png" >&2
