#!/usr/bin/env bash
# Runtime benchmark: the same Marine modules and calls on
#   wasmi-native      our runtime, native release build
#   wasmi-chromium    our runtime compiled to wasm32, in headless Chromium (V8)
#   wasmi-wasm-node   the same wasm build in Node 20 (V8)
#   marine-js         the anchor: @fluencelabs/marine-js 0.13.0 (what js-client 0.9 runs) in Node 20
# and prints a table with ratios against the anchor. Usage: npm run bench
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/scripts/env.sh"
cd "$ROOT"
bash scripts/setup.sh
(cd benches/marinejs && { [ -d node_modules ] || npm ci --no-audit --no-fund; })

OUT="$(mktemp -d)/results.jsonl"
step() { printf '==> %s\n' "$*" >&2; }

step "native (cargo bench, release)"
cargo bench -p lineage-marine --bench runtime --locked 2>/dev/null >>"$OUT"

step "wasm32 build of lineage-web-marine (release) + wasm-bindgen"
cargo build -p lineage-web-marine --target wasm32-unknown-unknown --release --locked
wasm-bindgen --target web --out-dir benches/web/pkg --out-name lineage_web \
  "$CARGO_TARGET_DIR/wasm32-unknown-unknown/release/lineage_web_marine.wasm"
step "Chromium + Node (wasm build)"
node benches/web/run.mjs >>"$OUT"

step "anchor: marine-js 0.13.0 in Node"
F=tests/fixtures
mjs() { local case="$1"; shift; node benches/marinejs/run.mjs "$@" 2>/dev/null | node -e \
  'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const r=JSON.parse(s);r.case=process.argv[1];console.log(JSON.stringify(r))})' "$case" >>"$OUT"; }
mjs greet --modules $F/greeting.wasm --fn greet --args '["world"]' --iters 20000 --warmup 2000
mjs process --modules $F/callee.wasm,$F/facade.wasm --fn process --args '[["a","bc","déf"]]' --iters 5000 --warmup 500
mjs work_1e6 --modules $F/spin.wasm --fn work --args '[1000000]' --iters 200 --warmup 20

node benches/report.mjs "$OUT"
