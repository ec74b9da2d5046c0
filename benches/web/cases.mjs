// Benchmark cases shared by the Chromium page and the Node run of our wasm build.
// Mirrors crates/marine/benches/runtime.rs and the marine-js runs in benches/run.sh.
export const CASES = [
  { name: "greet", modules: ["greeting"], fn: "greet", args: ["world"], iters: 20000, warmup: 2000 },
  { name: "process", modules: ["callee", "facade"], fn: "process", args: [["a", "bc", "déf"]], iters: 5000, warmup: 500 },
  { name: "work_1e6", modules: ["spin"], fn: "work", args: [1000000], iters: 10, warmup: 2 },
];

/**
 * Runs every case with our `MarineService` (lineage-web-marine, built as benches/web/pkg/lineage_web.js) and returns result objects.
 * @param {typeof import("./pkg/lineage_web.js").MarineService} MarineService
 * @param {(name: string) => Promise<Uint8Array>} loadModule
 * @param {string} engine label for the results
 * @param {() => number} [memoryBytes] the wasm instance's memory size, for per-service memory
 */
export async function runCases(MarineService, loadModule, engine, memoryBytes) {
  const out = [];
  const bytes = {};
  for (const name of ["greeting", "callee", "facade", "spin"]) bytes[name] = await loadModule(name);
  for (const c of CASES) {
    const t0 = performance.now();
    const svc = new MarineService(c.modules.map((name) => ({ name, wasm: bytes[name] })), undefined);
    const load_ms = performance.now() - t0;
    const args = JSON.stringify(c.args);
    let result;
    for (let i = 0; i < c.warmup; i++) result = svc.callJson(c.fn, args);
    const t1 = performance.now();
    for (let i = 0; i < c.iters; i++) result = svc.callJson(c.fn, args);
    const total_ms = performance.now() - t1;
    out.push({
      engine, case: c.name, fn: c.fn, load_ms, calls: c.iters,
      us_per_call: (total_ms * 1000) / c.iters, calls_per_s: (c.iters * 1000) / total_ms,
      result: JSON.parse(result),
    });
    svc.free();
  }
  // Memory per loaded service: growth of our wasm instance's memory over N loads.
  if (memoryBytes) {
    const n = 50;
    const before = memoryBytes();
    const t0 = performance.now();
    const keep = [];
    for (let i = 0; i < n; i++) keep.push(new MarineService([{ name: "greeting", wasm: bytes.greeting }], undefined));
    const load_ms = (performance.now() - t0) / n;
    const linear = keep.reduce((s, k) => s + k.memoryBytes(), 0);
    out.push({
      engine, case: "memory", services: n, load_ms,
      heap_kb_per_service: (memoryBytes() - before) / 1024 / n,
      linear_kb_per_service: linear / 1024 / n,
    });
    keep.forEach((k) => k.free());
  }
  return out;
}
