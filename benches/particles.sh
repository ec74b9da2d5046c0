#!/usr/bin/env bash
# Particle round-trip benchmark: N concurrent clients (1, 10, 100) each calling an Aqua function
# (concatOnRelay, compiled by aqua-api) through a running lineage-node on loopback:
#   rust-client   our Rust client (lineage_net::client::Client)
#   js-client     the anchor: @fluencelabs/js-client 0.9 against the same node
# Prints particles/s and p50/p99 round trips with ratios. Usage: bash benches/particles.sh [seconds]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/scripts/env.sh"
cd "$ROOT"
bash scripts/setup.sh
SECS="${1:-5}"
AIR="$ROOT/benches/particles/concat.air"
OUT="$(mktemp -d)"
step() { printf '==> %s\n' "$*" >&2; }

step "release build: lineage-node and the Rust bench client"
cargo build -p lineage-node --release --bins --locked
cargo bench -p lineage-node --bench particles --locked --no-run 2>&1 | tail -1 >&2
BENCH_BIN=$(ls -t "$CARGO_TARGET_DIR"/release/deps/particles-* | grep -v '\.d$' | head -1)

DATA="$(mktemp -d)"
"$CARGO_TARGET_DIR/release/lineage-node" --data-dir "$DATA" --ws-port 0 --tcp-port 0 --webrtc-port 0 --http-port 0 --log warn \
  --particles-per-sec 1000000 >"$OUT/node.out" 2>"$OUT/node.err" &
NODE=$!
trap 'kill $NODE 2>/dev/null; wait $NODE 2>/dev/null; rm -rf "$DATA"' EXIT
for _ in $(seq 100); do grep -q '^ready' "$OUT/node.out" && break; sleep 0.1; done
WS=$(grep -m1 '^listening: .*/ws/' "$OUT/node.out" | cut -d' ' -f2)
TCP=$(grep '^listening: ' "$OUT/node.out" | grep '/tcp/' | grep -v '/ws/' | head -1 | cut -d' ' -f2)
step "node at $WS"

for n in 1 10 100; do
  step "rust-client x$n (tcp)"
  "$BENCH_BIN" "$TCP" "$AIR" "$n" "$SECS" >>"$OUT/results.jsonl"
  step "js-client x$n (ws)"
  timeout $((SECS * 20 + 120)) node benches/particles/jsclient.mjs "$WS" "$AIR" "$n" "$SECS" 2>>"$OUT/js.err" >>"$OUT/results.jsonl" \
    || echo "{\"engine\":\"js-client\",\"clients\":$n,\"failed\":true}" >>"$OUT/results.jsonl"
done

node -e '
const rows = require("fs").readFileSync(process.argv[1], "utf8").split("\n").filter(Boolean).map(JSON.parse);
const f = (x, d = 1) => (x == null ? "-" : Number(x).toFixed(d));
console.log("\nclient -> node -> client Aqua call round trips on loopback (" + process.argv[2] + " s per row)");
console.log("clients  engine        calls/s   p50 ms   p99 ms  errors  throughput vs js-client  p50 vs js-client");
for (const n of [1, 10, 100]) {
  const js = rows.find((r) => r.engine === "js-client" && r.clients === n && !r.failed);
  for (const r of rows.filter((r) => r.clients === n)) {
    if (r.failed) { console.log(String(n).padEnd(9) + r.engine.padEnd(14) + "failed (see stderr)"); continue; }
    const tr = js ? (r.calls_per_s / js.calls_per_s).toFixed(2) + "x" : "-";
    const lr = js ? (r.p50_ms / js.p50_ms).toFixed(2) + "x" : "-";
    console.log(String(n).padEnd(9) + r.engine.padEnd(14) + f(r.calls_per_s).padStart(7) + f(r.p50_ms, 2).padStart(9) + f(r.p99_ms, 2).padStart(9) + String(r.errors).padStart(8) + tr.padStart(25) + lr.padStart(18));
  }
}' "$OUT/results.jsonl" "$SECS"
