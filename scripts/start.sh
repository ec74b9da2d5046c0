#!/usr/bin/env bash
# Builds what is missing (the `lineage` CLI, `lineage-node`, the npm package's wasm), shows the
# runtime on the fixture services, then runs the edge node with its embedded defaults (127.0.0.1;
# WebSocket 9999, TCP 7777, gateway 3030; the user's data dir), seeds the sample collection with
# its meta contract on first run, and serves the demo dApp (www/, Vite) — printing the URL to open —
# until Ctrl-C (scripts/start-demo.mjs). Flags after `npm start --` go to the node.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/scripts/env.sh"
cd "$ROOT"
bash scripts/setup.sh
cargo build -p lineage-node --bins --locked
bash scripts/build-pkg.sh
L="$CARGO_TARGET_DIR/debug/lineage"
F="$ROOT/tests/fixtures"
run() { printf '\n$ lineage %s\n' "$*"; "$L" "$@"; }
run service interface "$F/callee.wasm" "$F/facade.wasm"
run service call "$F/greeting.wasm" greet '["Ada"]'
run service call "$F/callee.wasm" "$F/facade.wasm" process '[["a","bc","déf"]]'
run service call "$F/spin.wasm" work '[1000]' --timing
printf '\n$ lineage service call spin.wasm spin [1] --fuel 10000000   # an endless loop, stopped by fuel\n'
"$L" service call "$F/spin.wasm" spin '[1]' --fuel 10000000 || true

printf '\n$ lineage-node + the demo dApp   # Ctrl-C to stop; js-client peers connect to the /ws address below\n'
LINEAGE_NODE_BIN="$CARGO_TARGET_DIR/debug/lineage-node" exec node scripts/start-demo.mjs "$@"
