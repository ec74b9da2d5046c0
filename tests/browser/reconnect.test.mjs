// Automatic reconnect (beyond js-client 0.9): the page is connected over /ws, the node is killed
// (SIGKILL), the page's state handler sees "disconnected"; the node is restarted on the same
// ports and data dir (same peer id), the page reconnects by itself and the next call succeeds.
//
//   node --test tests/browser/reconnect.test.mjs
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

import * as S from "./support.mjs";
import { ADD, IDENTIFY } from "./pages/air.js";

const missing = S.missingArtifacts();

after(() => S.exitIfStuck());

describe("reconnect after the relay restarts", { skip: S.skipReason(missing) }, () => {
  let server;
  let browser;
  let dataDir;
  let ports;

  before(
    async () => {
      S.assertArtifacts(missing);
      dataDir = await mkdtemp(join(tmpdir(), "lineage-browser-reconnect-"));
      ports = await S.freePorts({ tcp: 2, udp: 1 });
      server = await S.startServer();
      browser = await S.launchBrowser();
    },
    { timeout: 90_000 },
  );

  after(async () => {
    await S.teardown({ server, dirs: [dataDir] });
  });

  test("8. SIGKILL the node, restart it on the same ports: the page reconnects by itself", { timeout: 150_000 }, async () => {
    const opts = { ws: ports.tcp[0], tcp: ports.tcp[1], webrtc: ports.udp[0], dataDir };
    let node = await S.startNode(opts);
    const first = { peerId: node.peerId, wsAddr: node.wsAddr, webrtcAddr: node.webrtcAddr };
    assert.ok(node.wsAddr.includes(`/tcp/${ports.tcp[0]}/ws/`), `ws on the fixed port ${ports.tcp[0]}: ${node.wsAddr}`);

    await S.withPage(S.openLab(browser, server, node.wsAddr, { label: "reconnect" }), async (h) => {
      const states = () => h.eval(() => window.lab.states.map((s) => s.state));
      assert.equal(h.info.state, "connected");
      assert.equal(await h.eval(({ ADD }) => window.lab.call(ADD, { x: 1, y: 2 }).then((r) => r.ok ?? r), { ADD }), 3);

      const before = (await states()).length;
      const killed = await node.kill();
      assert.equal(killed.signal, "SIGKILL");
      try {
        await S.until(async () => (await states()).slice(before).includes("disconnected"), {
          timeoutMs: 45_000,
          message: () => `"disconnected" after the node was killed`,
        });
      } catch (e) {
        throw h.fail(`${e.message}; states: ${JSON.stringify(await states())}`);
      }
      const afterKill = (await states()).length;

      node = await S.startNode(opts);
      assert.equal(node.peerId, first.peerId, "the restarted node keeps its peer id (same data dir)");
      assert.equal(node.wsAddr, first.wsAddr, "and its /ws address");

      try {
        await S.until(async () => (await states()).slice(afterKill).includes("connected"), {
          timeoutMs: 60_000,
          intervalMs: 250,
          message: () => `"connected" again after the restart`,
        });
      } catch (e) {
        throw h.fail(`${e.message}; states: ${JSON.stringify(await states())}`);
      }
      const seq = (await states()).slice(before);
      assert.equal(seq.at(-1), "connected", `last state: ${JSON.stringify(seq)}`);
      assert.ok(seq.indexOf("disconnected") < seq.lastIndexOf("connected"), `disconnected → … → connected: ${JSON.stringify(seq)}`);
      if (!seq.includes("connecting")) console.log(`note: no "connecting" state between: ${JSON.stringify(seq)}`);

      const info = await h.eval(() => window.lab.info());
      assert.equal(info.state, "connected");
      assert.equal(info.relayPeerId, first.peerId);
      const r = await h.eval(({ ADD }) => window.lab.call(ADD, { x: 40, y: 2 }), { ADD }, { timeoutMs: 40_000 });
      assert.equal(h.unwrap(r, "call after reconnect"), 42);
      const id = await h.eval(({ IDENTIFY }) => window.lab.call(IDENTIFY), { IDENTIFY }, { timeoutMs: 40_000 });
      assert.equal(typeof h.unwrap(id, "identify after reconnect").node_version, "string");
      console.log(`states: ${JSON.stringify(seq)}; certhash kept: ${node.webrtcAddr === first.webrtcAddr}`);
    });
    await node.stop();
  });
});

if (S.REQUIRE && missing.length > 0) {
  test("browser test artifacts are present (required: CI / LINEAGE_REQUIRE_BROWSER)", () => S.assertArtifacts(missing));
}
