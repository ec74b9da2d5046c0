// The anchor: N real @fluencelabs/js-client 0.9 peers doing the same client → node → client
// Aqua call against our node. Usage: node jsclient.mjs <relay multiaddr> <air file> <N> <seconds>
// Prints one JSON line like crates/node/benches/particles.rs.
import { readFileSync } from "node:fs";
import { performance } from "node:perf_hooks";

// js-client 0.9's dependencies use Promise.withResolvers (Node >= 22): polyfill for Node 20.
if (!Promise.withResolvers) {
  Promise.withResolvers = function () {
    let resolve, reject;
    const promise = new Promise((a, b) => { resolve = a; reject = b; });
    return { promise, resolve, reject };
  };
}
const { createClient, callAquaFunction } = await import("@fluencelabs/js-client");

const [relay, airPath, nArg, secsArg] = process.argv.slice(2);
if (!relay || !airPath) {
  console.error("usage: node jsclient.mjs <relay multiaddr> <air file> <clients> <seconds>");
  process.exit(2);
}
const air = readFileSync(airPath, "utf8");
const n = Number(nArg ?? 1);
const secs = Number(secsArg ?? 5);

const t0 = performance.now();
const clients = [];
for (let i = 0; i < n; i++) clients.push(await createClient(relay, { defaultTtlMs: 20000 }));
const connect_ms_total = performance.now() - t0;

const deadline = performance.now() + secs * 1000;
const lat = [];
let errors = 0;
const started = performance.now();
await Promise.all(clients.map(async (peer) => {
  while (performance.now() < deadline) {
    const t = performance.now();
    try {
      const r = await callAquaFunction({ script: air, config: { ttl: 20000 }, peer, args: { a: "a", b: "b" }, fireAndForget: false });
      if (r === "ab") lat.push(performance.now() - t); else errors++;
    } catch {
      errors++;
    }
  }
}));
const elapsed = (performance.now() - started) / 1000;
lat.sort((a, b) => a - b);
const pct = (p) => lat.length ? lat[Math.min(lat.length - 1, Math.floor(lat.length * p))] : null;
console.log(JSON.stringify({
  engine: "js-client", clients: n, calls: lat.length, errors, calls_per_s: lat.length / elapsed,
  p50_ms: pct(0.5), p99_ms: pct(0.99), connect_ms_total,
}));
await Promise.all(clients.map((c) => c.disconnect().catch(() => {})));
process.exit(0);
