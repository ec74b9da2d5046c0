// verifyHistory of our package (pkg/dist, the shipped bundle) on a history a real lineage-node
// wrote: fetched as a CAR from its gateway, checked in the Marine-runtime wasm — CIDs, hashes,
// signatures, links and a deterministic rerun of the meta contract — and every kind of tampering
// a node could try caught, each naming the first bad version. (In Chromium: issue 9, next.)
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { join } from "node:path";

import { CarReader } from "@ipld/car";

import { exitIfStuck, fixtureBytes, teardown } from "../interop/harness.mjs";
import { bindContract, call, dagCbor, dagCborCid, ed25519Signer, gatewayGet, putModule, startNode } from "./support.mjs";

const ROOT = join(import.meta.dirname, "..", "..");
const { verifyHistory } = await import(join(ROOT, "pkg", "dist", "index.js"));

after(async () => {
  await teardown();
  exitIfStuck();
});

const T = { timeout: 120_000 };
const CHAIN = "80001";
const COLLECTION = "0x00000000000000000000000000000000000e1f1e";
const MC = "mc-open-verify";

let head; // CID string of the newest of three versions
let moduleCid;
const blocks = new Map(); // CID string → bytes, as served

/** Re-encodes a block after `change` edits its decoded form; returns [cid string, bytes]. */
async function reencoded(cid, change) {
  const block = dagCbor.decode(blocks.get(cid));
  change(block);
  const bytes = dagCbor.encode(block);
  return [(await dagCborCid(bytes)).toString(), bytes];
}

async function rejects(promise, code, index) {
  await assert.rejects(promise, (e) => {
    assert.equal(e.code, code, `${e.code}: ${e.message}`);
    assert.equal(e.index, index, e.message);
    return true;
  });
}

before(async () => {
  const node = await startNode();
  const url = node.httpUrl;
  const signer = ed25519Signer();
  moduleCid = await putModule(url, "mc_open");
  const bound = await bindContract(url, signer, { id: MC, cid: moduleCid, chainId: CHAIN, tokenAddress: COLLECTION });
  assert.equal(bound.success, true, JSON.stringify(bound));
  let prev = "";
  for (const name of ["first", "second", "third"]) {
    const req = await signer.sign({ method: "metadata", meta_contract_id: MC, chain_id: CHAIN, token_address: COLLECTION, token_id: "7", alias: "", version: "v1", data: JSON.stringify({ name }), prev });
    const r = await call(url, "publish", req);
    assert.equal(r.success, true, JSON.stringify(r));
    prev = JSON.parse(r.receipt.data).cids[0];
  }
  head = prev;
  const car = await CarReader.fromBytes((await gatewayGet(url, `/ipfs/${head}?format=car`)).bytes);
  for await (const { cid, bytes } of car.blocks()) blocks.set(cid.toString(), bytes);
  blocks.set(moduleCid, new Uint8Array(await fixtureBytes("mc_open")));
  assert.equal(blocks.size, 4);
});

describe("verifyHistory (our package) on a node's history", T, () => {
  it("verifies every version and replays its meta contract", async () => {
    const report = await verifyHistory(head, blocks);
    assert.equal(report.head, head);
    assert.deepEqual(report.versions.map((v) => v.content.name), ["third", "second", "first"]);
    assert.ok(report.versions.every((v) => v.replayed));
    assert.equal(report.versions[2].transaction.prev, "");
    assert.equal(report.versions[0].transaction.prev, report.versions[1].cid);
  });

  it("a node that serves a modified block is caught at that version (bytes do not hash to the CID)", async () => {
    const v1 = (await verifyHistory(head, blocks)).versions[1].cid;
    const [, bytes] = await reencoded(v1, (b) => (b.content = { name: "modified" }));
    await rejects(verifyHistory(head, new Map([...blocks, [v1, bytes]])), "HISTORY_INVALID", 1);
  });

  it("content changed under the genuine transaction passes the signature checks but not the replay", async () => {
    const [forged, bytes] = await reencoded(head, (b) => (b.content = { name: "forged" }));
    const tampered = new Map([...blocks, [forged, bytes]]);
    await rejects(verifyHistory(forged, tampered), "REPLAY_FAILED", 0);
    const unreplayed = await verifyHistory(forged, tampered, { replay: false });
    assert.equal(unreplayed.versions[0].content.name, "forged", "without the replay the forgery would pass");
  });

  it("a forged signature is caught", async () => {
    const [forged, bytes] = await reencoded(head, (b) => {
      const sig = b.transaction.signature;
      b.transaction.signature = (sig[0] === "2" ? "3" : "2") + sig.slice(1);
    });
    await rejects(verifyHistory(forged, new Map([...blocks, [forged, bytes]])), "HISTORY_INVALID", 0);
  });

  it("a truncated or reordered history is caught", async () => {
    const [truncated, tb] = await reencoded(head, (b) => (b.previous = null));
    await rejects(verifyHistory(truncated, new Map([...blocks, [truncated, tb]])), "HISTORY_INVALID", 0);
    const versions = (await verifyHistory(head, blocks)).versions;
    // The head relinked past its predecessor: signed over v1, links to v2.
    const [skipped, sb] = await reencoded(head, (b) => (b.previous = dagCbor.decode(blocks.get(versions[1].cid)).previous));
    await rejects(verifyHistory(skipped, new Map([...blocks, [skipped, sb]])), "HISTORY_INVALID", 0);
  });

  it("a wrong meta-contract module or a missing block is caught; bad arguments are typed errors", async () => {
    const wrong = new Map([...blocks, [moduleCid, new Uint8Array(await fixtureBytes("mc_owner"))]]);
    await rejects(verifyHistory(head, wrong), "REPLAY_FAILED", 0);
    const missing = new Map(blocks);
    missing.delete((await verifyHistory(head, blocks)).versions[2].cid);
    await rejects(verifyHistory(head, missing), "HISTORY_INVALID", 2);
    await assert.rejects(verifyHistory("not-a-cid", blocks), (e) => e.code === "BAD_ARGUMENT");
    await assert.rejects(verifyHistory(head, { [head]: "bytes" }), (e) => e.code === "BAD_ARGUMENT");
  });
});
