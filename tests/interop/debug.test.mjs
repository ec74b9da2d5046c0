// debug.printParticleId on our package, against a real lineage-node: each call logs
// "Particle id: <uuid>" through console.log (js-client 0.9 does the same), and only when asked.
import { after, test } from "node:test";
import assert from "node:assert/strict";

import { connectClient, disconnectClient, exitIfStuck, loadClient, ourPackageStatus, startNode, teardown } from "./harness.mjs";

after(async () => {
  await teardown();
  exitIfStuck();
});

const pkg = ourPackageStatus();
const skip = !process.env.LINEAGE_NODE_BIN ? "LINEAGE_NODE_BIN is not set" : pkg.skip;
const AIR = `(xor (seq (seq (call %init_peer_id% ("getDataSrv" "-relay-") [] -relay-) (call -relay- ("op" "identity") ["x"] r)) (call %init_peer_id% ("callbackSrv" "response") [r])) (call %init_peer_id% ("errorHandlingSrv" "error") [%last_error% 0]))`;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

test("debug.printParticleId logs each call's particle id, and nothing without it", { skip, timeout: 60_000 }, async () => {
  const kit = await loadClient("ours");
  const node = await startNode();
  const logged = [];
  const original = console.log;
  console.log = (...a) => {
    if (a[0] === "Particle id:") logged.push(a[1]);
    else original(...a);
  };
  try {
    const quiet = await connectClient(kit, node.wsAddr);
    const call = (peer) => kit.lib.callAquaFunction({ script: AIR, config: { ttl: 10_000 }, peer, args: {}, fireAndForget: false });
    assert.equal(await call(quiet), "x");
    assert.deepEqual(logged, []);
    await disconnectClient(quiet);

    const loud = await kit.lib.createClient(node.wsAddr, { keyPair: { type: "Ed25519", source: "random" }, debug: { printParticleId: true } });
    try {
      assert.equal(await call(loud), "x");
      assert.equal(await call(loud), "x");
    } finally {
      await loud.disconnect();
    }
    assert.equal(logged.length, 2, JSON.stringify(logged));
    for (const id of logged) assert.match(id, UUID);
    assert.notEqual(logged[0], logged[1]);
  } finally {
    console.log = original;
    await node.stop();
  }
});
