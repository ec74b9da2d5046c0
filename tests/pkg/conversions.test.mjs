// js2aqua / aqua2js against the real @fluencelabs/js-client 0.9 over a table of schemas and values.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { needsReal, ours, outcome, real } from "./setup.mjs";

const scalar = (name) => ({ tag: "scalar", name });
const option = (type) => ({ tag: "option", type });
const array = (type) => ({ tag: "array", type });
const struct = (fields) => ({ tag: "struct", name: "Rec", fields });
const labeled = (fields) => ({ tag: "labeledProduct", fields });
const product = (...items) => ({ tag: "unlabeledProduct", items });

const person = struct({ name: scalar("string"), age: option(scalar("u32")), tags: array(scalar("string")) });

// [label, schema, values for js2aqua, values for aqua2js]
const TABLE = [
  ["u32", scalar("u32"), [1, 0, -3.5, NaN, "1", null, true, [], {}], [1, "1", null]],
  ["i64/f64", scalar("i64"), [9007199254740991, "9", undefined], [1]],
  ["f64", scalar("f64"), [1.5, "x"], [1.5]],
  ["bool", scalar("bool"), [true, false, 0, "true", null], [true]],
  ["string", scalar("string"), ["", "a", 1, null, undefined, ["a"]], ["a", 1]],
  ["unknown scalar", scalar("u128"), [1, "x"], [1]],
  ["option string", option(scalar("string")), [null, "a", 1, undefined, []], [[], ["a"], null, "a", {}, [1, 2], [null]]],
  ["option option", option(option(scalar("u8"))), [null, 1], [[], [[]], [[1]]]],
  ["array u8", array(scalar("u8")), [[], [1, 2], "12", [1, "2"], null, { 0: 1 }], [[], [1, 2], "12", null, {}]],
  ["array of option", array(option(scalar("string"))), [["a", null], [undefined]], [[["a"], []], [null], ["a"]]],
  [
    "struct",
    person,
    [
      { name: "Ada", age: 36, tags: ["x"] },
      { name: "Ada", tags: [] },
      { name: "Ada", age: null, tags: [], extra: 1 },
      { name: 1, tags: [] },
      { name: "Ada", age: "36", tags: [] },
      { name: "Ada" },
      null,
      [],
      "Ada",
    ],
    [{ name: "Ada", age: [36], tags: ["x"] }, { name: "Ada", age: [], tags: [] }, { name: "Ada", tags: [] }, { name: "Ada", age: 36, tags: [] }, [], null, "x"],
  ],
  ["labeledProduct", labeled({ a: scalar("u8"), b: option(scalar("bool")) }), [{ a: 1, b: true }, { a: 1 }, { b: false }, 5], [{ a: 1, b: [true] }, { a: 1 }, []]],
  ["unlabeledProduct", product(scalar("string"), scalar("u32")), [["a", 1], ["a"], ["a", 1, 2], [1, "a"], "a", null], [["a", 1], ["a"], {}, null]],
  [
    "nested",
    array(option(struct({ id: scalar("string"), inner: struct({ xs: array(option(scalar("i32"))) }) }))),
    [[{ id: "1", inner: { xs: [1, null] } }, null], [{ id: "1", inner: { xs: [1, "2"] } }], [{ id: "1" }], [{ id: "1", inner: {} }]],
    [[[{ id: "1", inner: { xs: [[1], []] } }], []], [[{ id: "1", inner: null }]], [[{ id: "1", inner: { xs: [[1], 2] } }]]],
  ],
  ["nil", { tag: "nil" }, [null, 1, undefined, {}], [null, 1, {}]],
  ["topType", { tag: "topType" }, [1, "x", null, { a: [1] }], [1, { a: 1 }]],
  ["bottomType", { tag: "bottomType" }, [1, null], [1, null]],
  ["unknown tag", { tag: "arrow", domain: { tag: "nil" }, codomain: { tag: "nil" } }, [1], [1]],
];

describe("js2aqua / aqua2js match @fluencelabs/js-client", needsReal, () => {
  for (const [label, schema, jsValues, aquaValues] of TABLE) {
    test(label, async () => {
      for (const value of jsValues) {
        const path = ["arg"];
        const mine = await outcome(() => ours.js2aqua(value, schema, { path }));
        const theirs = await outcome(() => real.js2aqua(value, schema, { path }));
        assert.deepEqual(mine, theirs, `js2aqua(${JSON.stringify(value)})`);
      }
      for (const value of aquaValues) {
        const path = ["ret"];
        const mine = await outcome(() => ours.aqua2js(value, schema, { path }));
        const theirs = await outcome(() => real.aqua2js(value, schema, { path }));
        assert.deepEqual(mine, theirs, `aqua2js(${JSON.stringify(value)})`);
      }
    });
  }
});

describe("js2aqua / aqua2js", () => {
  test("options, missing struct fields", () => {
    assert.deepEqual(ours.js2aqua({ name: "Ada", tags: [] }, person, { path: [] }), { name: "Ada", age: [], tags: [] });
    assert.deepEqual(ours.aqua2js({ name: "Ada", age: [7], tags: [] }, person, { path: [] }), { name: "Ada", age: 7, tags: [] });
    assert.equal(ours.aqua2js([], option(scalar("string")), { path: [] }), null);
  });

  test("a mismatch is an Error with code SCHEMA_MISMATCH, the path and js-client's text", () => {
    const err = (() => {
      try {
        ours.js2aqua({ name: "Ada", age: "x", tags: [] }, person, { path: ["p"] });
      } catch (e) {
        return e;
      }
    })();
    assert.ok(err instanceof Error);
    assert.equal(err.code, "SCHEMA_MISMATCH");
    assert.deepEqual(err.path, ["p", "age", "?"]);
    assert.match(err.message, /^Aqua type mismatch\. Path: p\.age\.\?; Expected: number; Given: string; \nSchema: /);
  });

  test("product length mismatch keeps js-client's message", () => {
    assert.throws(() => ours.js2aqua(["a"], product(scalar("string"), scalar("u8")), { path: [] }), {
      code: "SCHEMA_MISMATCH",
      message: "Array length doesn't match",
    });
  });
});
