// Crash consistency of the metadata store: kill -9 lineage-node in the middle of a stream of
// publishes, restart it on the same data dir, and check that every transaction it acknowledged
// survived (receipt, transaction, record, block) and that the store is consistent (every record's
// head block resolves and hashes to its CID, every receipt-less publish left nothing behind).
//
// LINEAGE_NODE_BIN points at the node binary (default ~/.cache/lineage-edge/target/debug/lineage-node).
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";

import { CarReader } from "@ipld/car";

import { exitIfStuck, teardown } from "../interop/harness.mjs";
import { CID, bindContract, call, dataKey, ed25519Signer, fetchBlock, gatewayGet, putModule, rpc, sha256, startNode, transactionHash } from "./support.mjs";

const ROUNDS = Number(process.env.CRASH_ROUNDS ?? 3);
const IN_FLIGHT = 6; // concurrent publishers; the node serialises them
const CHAIN = "80001";
const COLLECTION = "0x00000000000000000000000000000000c0ffee00";
const MC = "mc-crash";

let dataDir;
after(async () => {
  await teardown();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
  exitIfStuck();
});

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
/** Resolves when `promise` does or after `ms`, whichever is first, leaving no timer behind. */
async function within(promise, ms) {
  let timer;
  await Promise.race([promise, new Promise((r) => (timer = setTimeout(r, ms)))]);
  clearTimeout(timer);
}
const between = (lo, hi) => lo + Math.floor(Math.random() * (hi - lo + 1));
const keyOf = (signer, tokenId, version) => [dataKey(CHAIN, COLLECTION, tokenId), MC, signer.publicKey, "", version];

test(`kill -9 during publishes, ${ROUNDS} rounds: every acknowledged transaction survives and the store stays consistent`, { timeout: 300_000 }, async (t) => {
  dataDir = await mkdtemp(join(tmpdir(), "lineage-crash-"));
  const signer = ed25519Signer();
  let node = await startNode({ dataDir });
  const moduleCid = await putModule(node.httpUrl, "mc_open");
  const bound = await bindContract(node.httpUrl, signer, { id: MC, cid: moduleCid, chainId: CHAIN, tokenAddress: COLLECTION });
  assert.equal(bound.success, true, JSON.stringify(bound));

  /** hash → { round, tokenId, version, cid, chain } of every publish answered with a success receipt. */
  const acked = new Map();
  /** hash → { round, tokenId, version, chain } of every publish sent (answered or not). */
  const sent = new Map();
  // One record updated serially (prev = head) alongside the one-shot records, so a kill can land
  // in the middle of a history too.
  const CHAIN_TOKEN = "chain";
  let chainHead = "";
  const chainAcked = []; // CIDs acknowledged for the chained record, oldest first

  for (let round = 1; round <= ROUNDS; round++) {
    const url = node.httpUrl;
    const roundAcked = new Set();
    let stop = false;
    let n = 0;
    let firstAck;
    const gotFirstAck = new Promise((r) => (firstAck = r));
    let networkErrors = 0;
    let inFlight = 0;

    /** One publisher: publishes until told to stop or the node is gone. */
    const lane = async (w) => {
      while (!stop) {
        const chained = w === 0;
        const tokenId = chained ? CHAIN_TOKEN : `r${round}-w${w}-${n++}`;
        const version = chained ? "v1" : `v${between(1, 3)}`;
        const req = await signer.sign({
          method: "metadata",
          meta_contract_id: MC,
          chain_id: CHAIN,
          token_address: COLLECTION,
          token_id: tokenId,
          alias: "",
          version,
          data: JSON.stringify({ round, lane: w, tokenId, at: Date.now() }),
          prev: chained ? chainHead : "",
        });
        const hash = transactionHash(req);
        sent.set(hash, { round, tokenId, version, chained });
        let reply;
        inFlight++;
        try {
          reply = await rpc(url, "publish", req);
        } catch {
          networkErrors++;
          return; // the node is gone
        } finally {
          inFlight--;
        }
        assert.ok(!reply.error, `publish refused (${tokenId}): ${JSON.stringify(reply.error)}`);
        const r = reply.result;
        assert.equal(r.transaction_hash, hash);
        assert.equal(r.success, true, JSON.stringify(r));
        assert.equal(r.receipt.status, 1);
        const cid = JSON.parse(r.receipt.data).cids[0];
        acked.set(r.transaction_hash, { round, tokenId, version, cid, chained });
        roundAcked.add(r.transaction_hash);
        if (chained) {
          chainHead = cid;
          chainAcked.push(cid);
        }
        firstAck();
      }
    };

    const t0 = Date.now();
    const lanes = Array.from({ length: IN_FLIGHT }, (_, w) => lane(w));
    // Kill 100–300 ms after the first acknowledgement, with publishes in flight.
    const delay = between(100, 300);
    await within(gotFirstAck, 30_000);
    await sleep(delay);
    const inFlightAtKill = inFlight;
    const killedAt = Date.now() - t0;
    node.child.kill("SIGKILL");
    const exit = await node.exited;
    stop = true;
    const settled = await Promise.allSettled(lanes);
    const failed = settled.filter((s) => s.status === "rejected");
    assert.deepEqual(failed, [], "a publisher saw a refusal before the kill");
    assert.equal(exit.signal, "SIGKILL");
    await node.stop(); // bookkeeping only: the process is gone, the data dir is kept
    assert.ok(roundAcked.size >= 1, `round ${round}: no publish was acknowledged before the kill`);

    // Restart on the same data.
    const t1 = Date.now();
    node = await startNode({ dataDir });
    const restartMs = Date.now() - t1;
    const u = node.httpUrl;
    assert.equal((await call(u, "get_meta_contract_by_id", [MC])).meta?.cid, moduleCid, "the binding survived");

    // 1. Every acknowledged transaction, from every round so far.
    for (const [hash, a] of acked) {
      const receipt = await call(u, "get_transaction_receipt", [hash]);
      assert.equal(receipt.success, true, `round ${round}: acknowledged ${hash} (round ${a.round}) has no receipt after the restart`);
      assert.equal(receipt.receipt.status, 1);
      assert.deepEqual(JSON.parse(receipt.receipt.data).cids, [a.cid]);
      const tx = await call(u, "get_transaction", [hash]);
      assert.equal(tx.success, true, `transaction ${hash} lost`);
      assert.equal(tx.transaction.token_id, a.tokenId);
      const m = await call(u, "get_metadata", keyOf(signer, a.tokenId, a.version));
      assert.equal(m.success, true, `record of ${hash} (${a.tokenId}/${a.version}) lost`);
      if (!a.chained) assert.equal(m.metadata.cid, a.cid, `record ${a.tokenId}/${a.version} head`);
      const { block } = await fetchBlock(u, a.cid); // checks the CID recomputes
      assert.equal(block.transaction.hash, hash);
    }

    // 2. Publishes that were answered by nobody: committed entirely or not at all.
    let committedUnacked = 0;
    for (const [hash, s] of sent) {
      if (acked.has(hash)) continue;
      const receipt = await call(u, "get_transaction_receipt", [hash]);
      if (receipt.success) {
        committedUnacked++;
        assert.equal(receipt.receipt.status, 1);
        const cid = JSON.parse(receipt.receipt.data).cids[0];
        await fetchBlock(u, cid);
        assert.equal((await call(u, "get_metadata", keyOf(signer, s.tokenId, s.version))).success, true);
      }
    }

    // 3. The chained record: its history holds every acknowledged version, in order, as a CAR too.
    const h = await call(u, "get_metadata_with_history", keyOf(signer, CHAIN_TOKEN, "v1"));
    assert.equal(h.success, true, "the chained record is lost");
    const oldestFirst = [...h.cids].reverse();
    let at = -1;
    for (const cid of chainAcked) {
      const i = oldestFirst.indexOf(cid);
      assert.ok(i > at, `acknowledged chain version ${cid} missing or out of order in ${JSON.stringify(oldestFirst)}`);
      at = i;
    }
    chainHead = h.cids[0]; // a committed-but-unanswered update may have moved it
    const car = await CarReader.fromBytes((await gatewayGet(u, `/ipfs/${chainHead}?format=car`)).bytes);
    const carCids = [];
    for await (const { cid, bytes } of car.blocks()) {
      assert.ok(CID.create(1, cid.code, await sha256.digest(bytes)).equals(cid));
      carCids.push(cid.toString());
    }
    assert.deepEqual(carCids, h.cids);

    // 4. Consistency: every record the node lists resolves to a block that hashes to its CID and
    // belongs to it, written by a transaction with a success receipt.
    const all = await call(u, "search_metadatas", { query: [], ordering: [], from: 0, to: 1000 });
    assert.equal(all.success, true);
    assert.ok(all.metadatas.length < 1000, "more records than one search returns: lower the load");
    for (const m of all.metadatas) {
      const { block } = await fetchBlock(u, m.cid);
      for (const f of ["data_key", "meta_contract_id", "public_key", "alias", "version"]) assert.equal(block.record[f], m[f], `${m.cid}: record.${f}`);
      const r = await call(u, "get_transaction_receipt", [block.transaction.hash]);
      assert.equal(r.receipt?.status, 1, `${m.cid}: its transaction has no success receipt`);
      if (block.previous) await fetchBlock(u, block.previous.toString());
    }
    const expectedRecords = new Set([...acked.values()].map((a) => `${a.tokenId}/${a.version}`));
    assert.ok(all.metadatas.length >= expectedRecords.size, `${all.metadatas.length} records listed, ${expectedRecords.size} acknowledged`);

    t.diagnostic(
      `round ${round}: SIGKILL ${killedAt} ms into the stream (${delay} ms after the first ack), ` +
        `${roundAcked.size} acknowledged this round (${acked.size} in all), ${inFlightAtKill} in flight at the kill, ` +
        `${networkErrors} cut off, ${committedUnacked} committed but unanswered (all rounds), ` +
        `chain history ${h.cids.length} (${chainAcked.length} acknowledged), ${all.metadatas.length} records; restart ${restartMs} ms`,
    );
  }

  // A clean stop at the end.
  const stopped = await node.stop(10_000);
  assert.equal(stopped.killed, false, "the node did not stop on SIGTERM");
});
