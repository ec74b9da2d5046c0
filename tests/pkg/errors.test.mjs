// The rejection of a script that called errorHandlingSrv.error reads like js-client's raw value.
import assert from "node:assert/strict";
import { test } from "node:test";
import "./setup.mjs";

const { scriptError, callRejection } = await import("../../pkg/src/errors.js");

test("an Aqua :error: object keeps its fields, message and JSON form", () => {
  const value = { error_code: 10000, instruction: 'call %init_peer_id% ("svc" "fn") [] ret', message: "Local service error", peer_id: "12D3KooW" };
  const err = scriptError(value);
  assert.ok(err instanceof Error);
  assert.equal(err.code, "SCRIPT_ERROR");
  assert.equal(err.value, value);
  assert.equal(err.message, value.message);
  assert.equal(err.error_code, 10000);
  assert.equal(JSON.stringify(err), JSON.stringify(value));
});

test("other values become the message", () => {
  assert.equal(scriptError("boom").message, "boom");
  assert.equal(scriptError([1, 2]).message, "[1,2]");
  assert.equal(JSON.stringify(scriptError({ a: 1 })), '{"a":1}');
  assert.equal(scriptError({ a: 1 }).message, '{"a":1}');
});

test("only SCRIPT_ERROR rejections of the facade are reshaped", () => {
  const facade = Object.assign(new Error("x"), { code: "SCRIPT_ERROR", value: { message: "m", error_code: 1 } });
  assert.equal(callRejection(facade).message, "m");
  const expired = Object.assign(new Error("Particle expired after ttl of 7000ms (particle id: p)"), { code: "EXPIRED" });
  assert.equal(callRejection(expired), expired);
});
