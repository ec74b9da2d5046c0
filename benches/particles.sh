#!/usr/bin/env bash
# Particle round-trip benchmark: N concurrent clients (1, 10, 100) each calling an Aqua function
# (concatOnRelay, compiled by aqua-api) through a running lineage-node on loopback:
#   rust-client   our Rust client (lineage_net::client::Client)
#   js-client     the anchor: @fluencelabs/js-client 0.9 against the same node
# Prints particles/s and p50/p99 round trips with ratios; rust-client also at 1 000 clients, and
# one client's round trips while a hostile client keeps heavy particles in flight, and while 50
# peers send 20 trivial particles a second each. Per row: the
# node's CPU time per round trip (/proc) beside its workers' time inside it (AquaVM rounds and
# service calls, from /metrics), and throughput as a share of the CPU limit (2 cores ÷ the
# measured node worker + client CPU time per round trip).
# Usage: bash benches/particles.sh [seconds]
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

HTTP=$(grep -m1 '^http: ' "$OUT/node.out" | cut -d' ' -f2)
# The node's CPU seconds and its workers' busy seconds and visits (from /metrics), one JSON object.
snap() {
  local cpu
  cpu=$(awk -v t="$(getconf CLK_TCK)" '{ sub(/^.*\) /, ""); print ($12 + $13) / t }' "/proc/$NODE/stat")
  node -e '
    fetch(process.argv[1]).then((r) => r.text()).then((t) => {
      const v = (n) => Number((t.match(new RegExp("^" + n + " (\\S+)", "m")) || [])[1] || 0);
      console.log(JSON.stringify({ cpu_s: Number(process.argv[2]), exec_s: v("lineage_particle_exec_seconds_sum"), visits: v("lineage_particle_exec_seconds_count") }));
    });' "$HTTP/metrics" "$cpu"
}
# Runs one row: "$@" prints the row's JSON; the node's figures are merged in.
row() {
  local before after out
  before=$(snap)
  out=$("$@") || out='{"failed":true}'
  after=$(snap)
  node -e '
    const [b, a, r] = process.argv.slice(1).map(JSON.parse);
    console.log(JSON.stringify({ ...r, node_cpu_s: a.cpu_s - b.cpu_s, node_exec_s: a.exec_s - b.exec_s, node_visits: a.visits - b.visits }));' \
    "$before" "$after" "$out" >>"$OUT/results.jsonl"
}

for n in 1 10 100; do
  step "rust-client x$n (tcp)"
  row "$BENCH_BIN" "$TCP" "$AIR" "$n" "$SECS"
  step "js-client x$n (ws)"
  row timeout $((SECS * 20 + 120)) node benches/particles/jsclient.mjs "$WS" "$AIR" "$n" "$SECS" 2>>"$OUT/js.err" \
    || echo "{\"engine\":\"js-client\",\"clients\":$n,\"failed\":true}" >>"$OUT/results.jsonl"
done
step "rust-client x1000 (tcp)"
row "$BENCH_BIN" "$TCP" "$AIR" 1000 "$SECS"
step "rust-client x1 while a hostile client keeps 4 heavy particles in flight"
"$BENCH_BIN" "$TCP" hostile 1 $((SECS + 2)) >"$OUT/hostile.json" &
HOSTILE=$!
sleep 1
row "$BENCH_BIN" "$TCP" "$AIR" 1 "$SECS"
wait $HOSTILE
sed -i '$ s/"engine":"rust-client"/"engine":"rust+hostile"/' "$OUT/results.jsonl"
# The well-behaved client makes a call every 200 ms (5/s, under its fair share of the node
# among 51 busy senders); back to back it would ask for more than that share and wait like them.
for pace in 200 0; do
  step "rust-client x1 (a call every ${pace} ms) while 50 peers send 20 trivial particles/s each (issue 8, finding 15)"
  "$BENCH_BIN" "$TCP" flood 50 $((SECS + 2)) >"$OUT/flood.json" &
  FLOOD=$!
  sleep 1
  PACE_MS=$pace row "$BENCH_BIN" "$TCP" "$AIR" 1 "$SECS"
  wait $FLOOD
  sed -i "\$ s/\"engine\":\"rust-client\"/\"engine\":\"rust+flood@${pace}\"/" "$OUT/results.jsonl"
  cat "$OUT/flood.json" >&2
done

node -e '
const rows = require("fs").readFileSync(process.argv[1], "utf8").split("\n").filter(Boolean).map(JSON.parse);
const f = (x, d = 1) => (x == null || Number.isNaN(Number(x)) ? "-" : Number(x).toFixed(d));
console.log("\nclient -> node -> client Aqua call round trips on loopback (" + process.argv[2] + " s per row)");
console.log("clients  engine         calls/s   p50 ms   p99 ms  errors  vs js: calls/s   p50 | node CPU ms/rt  worker ms/rt  CPU/worker  client CPU ms/rt  share of limit");
for (const n of [1, 10, 100, 1000]) {
  const js = rows.find((r) => r.engine === "js-client" && r.clients === n && !r.failed);
  for (const r of rows.filter((r) => r.clients === n)) {
    if (r.failed) { console.log(String(n).padEnd(9) + String(r.engine || "?").padEnd(15) + "failed (see stderr)"); continue; }
    const tr = js ? (r.calls_per_s / js.calls_per_s).toFixed(2) + "x" : "-";
    const lr = js ? (r.p50_ms / js.p50_ms).toFixed(2) + "x" : "-";
    const calls = r.calls || 1;
    const cpu = (r.node_cpu_s * 1e3) / calls, exec = (r.node_exec_s * 1e3) / calls;
    const client = r.client_cpu_s != null ? (r.client_cpu_s * 1e3) / calls : null;
    const limit = client != null ? 2000 / (exec + client) : null;
    console.log(String(n).padEnd(9) + r.engine.padEnd(15) + f(r.calls_per_s).padStart(7) + f(r.p50_ms, 2).padStart(9) + f(r.p99_ms, 2).padStart(9) + String(r.errors).padStart(8)
      + tr.padStart(16) + lr.padStart(7) + " |" + f(cpu, 3).padStart(15) + f(exec, 3).padStart(14) + f(cpu / exec, 2).padStart(12) + f(client, 3).padStart(18)
      + (limit ? (((100 * r.calls_per_s) / limit).toFixed(0) + "%").padStart(16) : "-".padStart(16)));
  }
}
console.log("targets (release): node CPU per round trip <= 1.25 x its worker time; throughput >= 80% of the limit; p99 < 50 ms at 100 clients and for rust+hostile / rust+flood");' "$OUT/results.jsonl" "$SECS"
