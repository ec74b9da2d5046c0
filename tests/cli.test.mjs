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

test("tx keygen / public-key / sign: a strong-mode Ed25519 transaction (docs/metadata-signing.md)", async () => {
  const { mkdtempSync, writeFileSync } = await import("node:fs");
  const { tmpdir } = await import("node:os");
  const { createPublicKey, verify } = await import("node:crypto");
  const dir = mkdtempSync(join(tmpdir(), "lineage-cli-"));
  const gen = lineage("tx", "keygen");
  assert.equal(gen.code, 0, gen.err);
  assert.match(gen.out.trim(), /^[0-9a-f]{64}$/);
  const keyFile = join(dir, "k");
  writeFileSync(keyFile, gen.out);
  const pk = lineage("tx", "public-key", "--key", keyFile).out.trim();
  assert.ok(gen.err.includes(pk), gen.err);
  const req = { method: "metadata", meta_contract_id: "open", chain_id: "1", token_address: "0xaa", token_id: "7", data: '{"a":1}' };
  const r = spawnSync(BIN, ["tx", "sign", "--key", keyFile], { input: JSON.stringify(req), encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  const signed = JSON.parse(r.stdout);
  assert.equal(signed.public_key, pk);
  assert.ok(Math.abs(signed.timestamp - Date.now()) < 60_000, "timestamp filled with the current time");
  // Verify with node:crypto over the canonical bytes (computed independently in support.mjs).
  const { canonicalBytes, request, unb58 } = await import("./metadata/support.mjs");
  const msg = canonicalBytes(request(signed));
  const spki = Buffer.concat([Buffer.from("302a300506032b6570032100", "hex"), Buffer.from(unb58(pk))]);
  const key = createPublicKey({ key: spki, format: "der", type: "spki" });
  assert.ok(verify(null, msg, key, unb58(signed.signature)), "signature verifies");
  const bad = spawnSync(BIN, ["tx", "sign", "--key", keyFile], { input: "not json", encoding: "utf8" });
  assert.notEqual(bad.status, 0);
  assert.match(bad.stderr, /TransactionRequest/);
  assert.notEqual(lineage("tx", "sign", "--key", join(dir, "missing")).code, 0);
});
