// verifyHistory of our package (pkg/dist, the shipped bundle) in Node on a history a real
// lineage-node wrote, fetched as a CAR from its gateway: checked in the Marine-runtime wasm —
// CIDs, hashes, signatures, links, a deterministic rerun of the meta contract — and every
// tampering a node could try caught, naming the first bad version (tamper.mjs; the same cases
// run in Chromium in tests/browser/verify.test.mjs).
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { join } from "node:path";

import { exitIfStuck, teardown } from "../interop/harness.mjs";
import { startNode } from "./support.mjs";
import { historyAndTamperings, tamperingGateway } from "./tamper.mjs";

const { verifyHistory, verifyMetadata } = await import(join(import.meta.dirname, "..", "..", "pkg", "dist", "index.js"));

after(async () => {
  await teardown();
  exitIfStuck();
});

const T = { timeout: 120_000 };
let h;
let url;

before(async () => {
  const node = await startNode();
  url = node.httpUrl;
  h = await historyAndTamperings(url);
});

describe("verifyHistory (our package, Node) on a node's history", T, () => {
  it("verifies every version and replays its meta contract", async () => {
    const report = await verifyHistory(h.head, h.blocks);
    assert.equal(report.head, h.head);
    assert.deepEqual(report.versions.map((v) => v.content.name), h.names);
    assert.ok(report.versions.every((v) => v.replayed));
    assert.equal(report.versions.at(-1).transaction.prev, "");
    assert.equal(report.versions[0].transaction.prev, report.versions[1].cid);
  });

  it("catches each tampering at the first bad version", async () => {
    for (const c of h.cases.filter((c) => !c.lookupOnly)) {
      await assert.rejects(verifyHistory(c.head, c.blocks), (e) => {
        assert.equal(e.code, c.code, `${c.name}: ${e.code}: ${e.message}`);
        assert.equal(e.index, c.index, `${c.name}: ${e.message}`);
        return true;
      }, c.name);
    }
  });

  it("without the replay, forged content would pass: the replay is what catches it", async () => {
    const forged = h.cases.find((c) => c.code === "REPLAY_FAILED" && c.index === 0 && c.head !== h.head);
    const report = await verifyHistory(forged.head, forged.blocks, { replay: false });
    assert.equal(report.versions[0].content.name, "forged");
    assert.equal(report.versions[0].replayed, false);
  });

  it("bad arguments are typed errors", async () => {
    await assert.rejects(verifyHistory("not-a-cid", h.blocks), (e) => e.code === "BAD_ARGUMENT");
    await assert.rejects(verifyHistory(h.head, { [h.head]: "bytes" }), (e) => e.code === "BAD_ARGUMENT");
  });
});

describe("verifyMetadata (our package, Node): look up, fetch and verify from a node's gateway", T, () => {
  it("fetches the history as a CAR and the module, verifies and replays, with progress", async () => {
    const events = [];
    const r = await verifyMetadata({ gateway: url, ...h.record, onProgress: (p) => events.push(p) });
    assert.equal(r.cid, h.head);
    assert.deepEqual(r.content, { name: h.names[0] });
    assert.deepEqual(r.versions.map((v) => v.content.name), h.names);
    assert.deepEqual([...new Set(events.map((p) => p.stage))], ["lookup", "fetch-history", "fetch-modules", "verify", "done"]);
    const phases = events.filter((p) => p.phase).map(({ phase, done, total }) => [phase, done, total]);
    assert.deepEqual(phases, [["check", 3, 3], ["replay", 3, 3]]);
  });

  it("a long history reports progress every 100 versions in each phase", async () => {
    // The demo's sample collection (what npm start seeds): token 5 has 120 versions.
    const { SAMPLE, seed } = await import("../../scripts/demo-seed.mjs");
    const { publicKey } = await seed(url);
    const events = [];
    const r = await verifyMetadata({ gateway: url, chainId: SAMPLE.chainId, tokenAddress: SAMPLE.tokenAddress, tokenId: SAMPLE.longHistoryToken, metaContractId: SAMPLE.metaContractId, publicKey, version: SAMPLE.version, onProgress: (p) => events.push(p) });
    assert.equal(r.versions.length, SAMPLE.longHistoryVersions);
    const phases = events.filter((p) => p.phase).map(({ phase, done, total }) => [phase, done, total]);
    assert.deepEqual(phases, [["check", 100, undefined], ["check", 120, 120], ["replay", 100, 120], ["replay", 120, 120]]);
    // verifyHistory takes the same callback; one that throws does not stop it.
    let calls = 0;
    const report = await verifyHistory(h.head, h.blocks, {
      onProgress: () => {
        calls++;
        throw new Error("ignored");
      },
    });
    assert.equal(calls, 2, "check and replay each reported once on 3 versions");
    assert.equal(report.versions.length, 3);
  });

  it("a dishonest gateway is caught at the version, including naming another record's head", async () => {
    const dishonest = await tamperingGateway(url);
    try {
      for (const c of h.cases) {
        dishonest.serve(c);
        await assert.rejects(verifyMetadata({ gateway: dishonest.url, ...h.record }), (e) => {
          assert.equal(e.code, c.code, `${c.name}: ${e.code}: ${e.message}`);
          assert.equal(e.index, c.index, `${c.name}: ${e.message}`);
          return true;
        }, c.name);
      }
    } finally {
      await dishonest.close();
    }
  });

  it("an unknown record is NOT_FOUND, an unreachable gateway FETCH_FAILED, bad fields BAD_ARGUMENT", async () => {
    await assert.rejects(verifyMetadata({ gateway: url, ...h.record, tokenId: "no-such-token" }), (e) => e.code === "NOT_FOUND");
    await assert.rejects(verifyMetadata({ gateway: "http://127.0.0.1:9", ...h.record }), (e) => e.code === "FETCH_FAILED");
    await assert.rejects(verifyMetadata({ gateway: url, ...h.record, version: 1 }), (e) => e.code === "BAD_ARGUMENT");
  });
});
