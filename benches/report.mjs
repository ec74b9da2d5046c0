// Prints benchmark results (JSON lines) as a table with ratios against the marine-js anchor.
import { readFileSync } from "node:fs";

const rows = readFileSync(process.argv[2], "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l));
const anchor = (c) => rows.find((r) => r.engine === "marine-js" && r.case === c);
const f = (x, d = 1) => (x === undefined ? "-" : Number(x).toFixed(d));
const pad = (s, n) => String(s).padEnd(n);

console.log("\nper call (lower is better); ratio = our µs/call ÷ marine-js µs/call (same module, same call)");
console.log(pad("case", 10) + pad("engine", 17) + pad("µs/call", 12) + pad("calls/s", 11) + pad("load ms", 9) + "ratio vs marine-js");
for (const c of ["greet", "process", "work_1e6"]) {
  const a = anchor(c);
  for (const r of rows.filter((r) => r.case === c)) {
    const ratio = a ? `${(r.us_per_call / a.us_per_call).toFixed(2)}×` : "-";
    console.log(pad(c, 10) + pad(r.engine, 17) + pad(f(r.us_per_call, 2), 12) + pad(f(r.calls_per_s, 0), 11) + pad(f(r.load_ms, 2), 9) + ratio);
  }
}
console.log("\nmemory per loaded greeting service (50 loaded)");
for (const r of rows.filter((r) => r.case === "memory")) {
  const extra = r.rss_kb_per_service !== undefined ? `RSS ${f(r.rss_kb_per_service)} KiB` : `wasm heap ${f(r.heap_kb_per_service)} KiB`;
  console.log(`${pad(r.engine, 17)} ${extra}, of which module linear memory ${f(r.linear_kb_per_service)} KiB; load ${f(r.load_ms, 2)} ms each`);
}
const mj = anchor("greet");
if (mj) console.log(`${pad("marine-js", 17)} RSS ${f(mj.rss_mb_after_load, 1)} MiB for the process after loading one service (load ${f(mj.load_ms, 2)} ms)`);
