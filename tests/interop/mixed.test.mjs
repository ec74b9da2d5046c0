// Wire interop both ways between our package and the real js-client 0.9, through lineage-node:
// a JS service registered on OUR client is called by a REAL js-client peer via the relay, and
// vice versa (aqua/echo.aqua). Each side runs the Aqua generated for js-client; ours with only the
// import line rewritten (harness.mjs `importGenerated`).
//
// Our package is loaded and connected first, before `loadClient("jsclient")` installs the
// Promise.withResolvers polyfill js-client needs on Node 20; that our package works without the
// polyfill at all is checked by ours.test.mjs, which never loads js-client.
//
// Skipped like ours.test.mjs while our package is not built, and without LINEAGE_NODE_BIN.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";

import { GEN_DIR, compileAll } from "./compile.mjs";
import { connectClient, disconnectClient, exitIfStuck, importGenerated, loadClient, ourPackageStatus, startNode, teardown } from "./harness.mjs";
import { SKIP_NODE, T } from "./suite.mjs";

after(() => exitIfStuck());

const pkg = ourPackageStatus();
if (pkg.missing && pkg.required) {
  test("our package is built (required: CI=true or LINEAGE_REQUIRE_PKG=1)", () => {
    assert.fail(pkg.missing);
  });
}

describe("our package and js-client 0.9 on one lineage-node", { skip: pkg.skip || SKIP_NODE }, () => {
  let node;
  let ours; // kit
  let js; // kit
  let oursPeer;
  let jsPeer;
  const echoOurs = {}; // generated echo.aqua for each package
  const echoJs = {};
  const calls = { ours: [], js: [] };

  before(async () => {
    node = await startNode();
    const { modules } = await compileAll({ outDir: join(GEN_DIR, "mixed") });
    ours = await loadClient("ours");
    Object.assign(echoOurs, await importGenerated(modules.echo, ours));
    oursPeer = await connectClient(ours, node.wsAddr);
    echoOurs.registerEcho(oursPeer, {
      echo: (s, ctx) => {
        calls.ours.push({ s, initPeerId: ctx.initPeerId });
        return `ours: ${s}`;
      },
    });

    js = await loadClient("jsclient");
    Object.assign(echoJs, await importGenerated(modules.echo, js));
    jsPeer = await connectClient(js, node.wsAddr);
    echoJs.registerEcho(jsPeer, {
      echo: (s, ctx) => {
        calls.js.push({ s, initPeerId: ctx.initPeerId });
        return `js: ${s}`;
      },
    });
  });

  after(async () => {
    await teardown();
  });

  test("both peers are connected to the node and see each other through Peer.is_connected", T, async () => {
    assert.equal(oursPeer.getRelayPeerId(), node.peerId);
    assert.equal(jsPeer.getRelayPeerId(), node.peerId);
    assert.equal(oursPeer.connectionState, "connected");
    assert.equal(jsPeer.connectionState, "connected");
    assert.equal(await echoJs.isConnectedOnRelay(jsPeer, oursPeer.getPeerId()), true);
    assert.equal(await echoOurs.isConnectedOnRelay(oursPeer, jsPeer.getPeerId()), true);
  });

  test("a JS service registered on our client is called by a real js-client peer via the relay", T, async () => {
    assert.equal(await echoJs.echoViaRelay(jsPeer, oursPeer.getPeerId(), "from js-client"), "ours: from js-client");
    assert.deepEqual(calls.ours, [{ s: "from js-client", initPeerId: jsPeer.getPeerId() }]);
  });

  test("a JS service registered on a real js-client peer is called by our client via the relay", T, async () => {
    assert.equal(await echoOurs.echoViaRelay(oursPeer, jsPeer.getPeerId(), "from ours"), "js: from ours");
    assert.deepEqual(calls.js, [{ s: "from ours", initPeerId: oursPeer.getPeerId() }]);
  });

  test("many calls both ways at once, all answered", T, async () => {
    const n = 5; // more makes js-client warn (MaxListenersExceededWarning on its marine Worker)
    const [a, b] = await Promise.all([
      Promise.all(Array.from({ length: n }, (_, i) => echoJs.echoViaRelay(jsPeer, oursPeer.getPeerId(), `j${i}`))),
      Promise.all(Array.from({ length: n }, (_, i) => echoOurs.echoViaRelay(oursPeer, jsPeer.getPeerId(), `o${i}`))),
    ]);
    assert.deepEqual(a, Array.from({ length: n }, (_, i) => `ours: j${i}`));
    assert.deepEqual(b, Array.from({ length: n }, (_, i) => `js: o${i}`));
  });

  test("both disconnect; the node exits 0 on SIGTERM within 5 s", T, async () => {
    await disconnectClient(oursPeer);
    await disconnectClient(jsPeer);
    const r = await node.stop(5_000);
    assert.equal(r.killed, false, `node still running ${r.ms} ms after SIGTERM`);
    assert.deepEqual({ code: r.code, signal: r.signal }, { code: 0, signal: null });
  });
});
