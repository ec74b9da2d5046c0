// End-to-end tests of the `lineage` CLI on the real fixture services.
// Run by `npm test` with LINEAGE_BIN pointing at the built binary.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { join } from "node:path";

const BIN = process.env.LINEAGE_BIN;
const F = join(fileURLToPath(new URL(".", import.meta.url)), "fixtures");

function lineage(...args) {
  assert.ok(BIN, "LINEAGE_BIN must point at the lineage binary");
  const r = spawnSync(BIN, args, { encoding: "utf8", timeout: 60_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

test("service call returns the function's JSON result", () => {
  const r = lineage("service", "call", `${F}/greeting.wasm`, "greet", '["Ada"]', "--compact");
  assert.equal(r.code, 0, r.err);
  assert.deepEqual(JSON.parse(r.out), { message: "Hi, Ada", name_len: 3, shouted: false });
});

test("multi-module service: facade calls into callee", () => {
  const r = lineage("service", "call", `${F}/callee.wasm`, `${F}/facade.wasm`, "process", '[["ab","c"]]', "--compact");
  assert.equal(r.code, 0, r.err);
  assert.deepEqual(JSON.parse(r.out), {
    shout: ["AB", "C"],
    total: 3,
    pairs: [
      { key: "ab", value: [97, 98], weight: 1.5 },
      { key: "c", value: [99], weight: 2.5 },
    ],
  });
});

test("service interface lists functions and records", () => {
  const r = lineage("service", "interface", `${F}/greeting.wasm`);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /^greet\(name: string\) -> Greeting$/m);
  assert.match(r.out, /^data Greeting:$/m);
  const j = lineage("service", "interface", `${F}/greeting.wasm`, "--json");
  assert.equal(j.code, 0, j.err);
  assert.ok(JSON.parse(j.out).functions.some((f) => f.name === "greet"));
});

test("an endless loop is stopped by fuel with an error naming module and function", () => {
  const r = lineage("service", "call", `${F}/spin.wasm`, "spin", "[1]", "--fuel", "5000000");
  assert.equal(r.code, 1);
  assert.match(r.err, /`spin\.spin` ran out of fuel/);
});

test("deterministic mode fixes the clock", () => {
  const r = lineage("service", "call", `${F}/greeting.wasm`, "now_ms", "[]", "--deterministic", "1700000000123000000");
  assert.equal(r.code, 0, r.err);
  assert.equal(r.out.trim(), "1700000000123");
});

test("bad input gives a clear error and a non-zero exit", () => {
  const cases = [
    [["service", "call", `${F}/greeting.wasm`, "nope", "[]"], /no function `nope`/],
    [["service", "call", `${F}/greeting.wasm`, "greet", "[1]"], /argument `name`: expected string/],
    [["service", "call", `${F}/greeting.wasm`, "greet", "not json"], /not valid JSON/],
    [["service", "call", `${F}/facade.wasm`, "shout", '["x"]'], /no module `callee` was loaded before `facade`/],
    [["service", "call", `${F}/missing.wasm`, "f", "[]"], /cannot read file/],
    [["service", "call", "greet", "[]"], /module file/],
  ];
  for (const [args, re] of cases) {
    const r = lineage(...args);
    assert.notEqual(r.code, 0, `expected failure for ${args.join(" ")}`);
    assert.match(r.err, re);
  }
});
