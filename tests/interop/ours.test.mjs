// "Existing Aqua compiled for js-client runs unchanged with only its import changed": the suite of
// jsclient.test.mjs (suite.mjs) with our @lineage-edge/js-client (pkg/dist/index.js, the bundle it ships) in place of
// @fluencelabs/js-client 0.9 — the generated code's import line is the only thing rewritten.
//
// This file never loads js-client, so the Promise.withResolvers polyfill the harness installs for
// js-client (Node 20) is never installed here: our package must work without it.
//
// Skipped, saying why, while pkg/dist/lineage_web_bg.wasm (or pkg/dist/index.js) is missing —
// unless CI=true or LINEAGE_REQUIRE_PKG=1, which make a missing package a failure.
import { after, test } from "node:test";
import assert from "node:assert/strict";

// Before anything else: what Promise.withResolvers is natively (undefined on Node 20).
const nativeWithResolvers = Promise.withResolvers;

const { exitIfStuck, ourPackageStatus, withResolversPolyfilled } = await import("./harness.mjs");
const { interopSuite } = await import("./suite.mjs");

after(() => exitIfStuck());

const pkg = ourPackageStatus();
if (pkg.missing && pkg.required) {
  test("our package is built (required: CI=true or LINEAGE_REQUIRE_PKG=1)", () => {
    assert.fail(pkg.missing);
  });
}

interopSuite("ours", { skip: pkg.skip });

test("our package ran without the Promise.withResolvers polyfill", { skip: pkg.skip }, () => {
  assert.equal(withResolversPolyfilled(), false, "the harness installed the polyfill in this process");
  assert.equal(Promise.withResolvers, nativeWithResolvers, "something in this process (our package?) set Promise.withResolvers globally");
});
