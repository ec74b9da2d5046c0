#!/usr/bin/env bash
# Builds the `lineage` CLI and runs the runtime demo on the fixture services.
# (The edge node and the web demo replace this once they exist.)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/scripts/env.sh"
cd "$ROOT"
bash scripts/setup.sh
cargo build -p lineage-node --locked
L="$CARGO_TARGET_DIR/debug/lineage"
F="$ROOT/tests/fixtures"
run() { printf '\n$ lineage %s\n' "$*"; "$L" "$@"; }
run service interface "$F/callee.wasm" "$F/facade.wasm"
run service call "$F/greeting.wasm" greet '["Ada"]'
run service call "$F/callee.wasm" "$F/facade.wasm" process '[["a","bc","déf"]]'
run service call "$F/spin.wasm" work '[1000]' --timing
printf '\n$ lineage service call spin.wasm spin [1] --fuel 10000000   # an endless loop, stopped by fuel\n'
"$L" service call "$F/spin.wasm" spin '[1]' --fuel 10000000 || true
