// A record history written by a real lineage-node, and the tampered variants a dishonest node
// could serve — shared by tests/metadata/verify.test.mjs (our package in Node) and
// tests/browser/verify.test.mjs (the same in headless Chromium).
import assert from "node:assert/strict";
import { createServer } from "node:http";

import { CarReader, CarWriter } from "@ipld/car";

import { fixtureBytes } from "../interop/harness.mjs";
import { CID, bindContract, call, dagCbor, dagCborCid, ed25519Signer, gatewayGet, putModule } from "./support.mjs";

const CHAIN = "80001";

/**
 * Binds mc_open and publishes three versions of one record on the node at `url`; fetches the
 * history as a CAR from the gateway and the module. Returns { head, moduleCid, blocks: Map<cid,
 * bytes>, record: the record's identity as verifyMetadata takes it, names: [newest … oldest],
 * cases: [{ name, head, blocks, code, index, lookupOnly? }] } — each case a
 * tampering that verification must catch with error `code` at version `index` (0 = newest);
 * `lookupOnly` ones are genuine histories of another record, caught by verifyMetadata (which
 * knows the record asked for), not by verifyHistory.
 */
export async function historyAndTamperings(url, { collection = "0x00000000000000000000000000000000000e1f1e", mc = "mc-open-verify" } = {}) {
  const signer = ed25519Signer();
  const moduleCid = await putModule(url, "mc_open");
  const bound = await bindContract(url, signer, { id: mc, cid: moduleCid, chainId: CHAIN, tokenAddress: collection });
  assert.equal(bound.success, true, JSON.stringify(bound));
  let prev = "";
  const names = ["first", "second", "third"];
  for (const name of names) {
    const req = await signer.sign({ method: "metadata", meta_contract_id: mc, chain_id: CHAIN, token_address: collection, token_id: "7", alias: "", version: "v1", data: JSON.stringify({ name }), prev });
    const r = await call(url, "publish", req);
    assert.equal(r.success, true, JSON.stringify(r));
    prev = JSON.parse(r.receipt.data).cids[0];
  }
  const head = prev;
  const blocks = new Map();
  const car = await CarReader.fromBytes((await gatewayGet(url, `/ipfs/${head}?format=car`)).bytes);
  const order = [];
  for await (const { cid, bytes } of car.blocks()) {
    blocks.set(cid.toString(), bytes);
    order.push(cid.toString());
  }
  assert.equal(order.length, 3, "the CAR holds the three versions");
  blocks.set(moduleCid, new Uint8Array(await fixtureBytes("mc_open")));

  const versionCid = (i) => {
    // Newest first, following `previous` from the head.
    let cid = head;
    for (let k = 0; k < i; k++) cid = dagCbor.decode(blocks.get(cid)).previous.toString();
    return cid;
  };
  const reencoded = async (cid, change) => {
    const block = dagCbor.decode(blocks.get(cid));
    change(block);
    const bytes = dagCbor.encode(block);
    return [(await dagCborCid(bytes)).toString(), bytes];
  };
  const served = (...extra) => new Map([...blocks, ...extra]);
  const cases = [];

  const v1 = versionCid(1);
  const [, modified] = await reencoded(v1, (b) => (b.content = { name: "modified" }));
  cases.push({ name: "a modified block (bytes no longer hash to the CID)", head, blocks: served([v1, modified]), code: "HISTORY_INVALID", index: 1 });

  const [forged, forgedBytes] = await reencoded(head, (b) => (b.content = { name: "forged" }));
  cases.push({ name: "content changed under the genuine transaction (a wrong meta-contract result)", head: forged, blocks: served([forged, forgedBytes]), code: "REPLAY_FAILED", index: 0 });

  const [badSig, badSigBytes] = await reencoded(head, (b) => {
    const s = b.transaction.signature;
    b.transaction.signature = (s[0] === "2" ? "3" : "2") + s.slice(1);
  });
  cases.push({ name: "a forged signature", head: badSig, blocks: served([badSig, badSigBytes]), code: "HISTORY_INVALID", index: 0 });

  const [truncated, truncatedBytes] = await reencoded(head, (b) => (b.previous = null));
  cases.push({ name: "a truncated history", head: truncated, blocks: served([truncated, truncatedBytes]), code: "HISTORY_INVALID", index: 0 });

  const [skipped, skippedBytes] = await reencoded(head, (b) => (b.previous = dagCbor.decode(blocks.get(v1)).previous));
  cases.push({ name: "a reordered history (the head relinked past its predecessor)", head: skipped, blocks: served([skipped, skippedBytes]), code: "HISTORY_INVALID", index: 0 });

  cases.push({ name: "another module served as the meta contract", head, blocks: served([moduleCid, new Uint8Array(await fixtureBytes("mc_owner"))]), code: "REPLAY_FAILED", index: 0 });

  const missing = served();
  missing.delete(versionCid(2));
  cases.push({ name: "a missing version", head, blocks: missing, code: "HISTORY_INVALID", index: 2 });

  // Another publisher's genuine record of the same token: a valid history, but not the one asked
  // for — only a lookup (verifyMetadata) knows what was asked, so only it can catch this.
  const mallory = ed25519Signer();
  const other = await call(url, "publish", await mallory.sign({ method: "metadata", meta_contract_id: mc, chain_id: CHAIN, token_address: collection, token_id: "7", alias: "", version: "v1", data: JSON.stringify({ name: "mallory's" }), prev: "" }));
  assert.equal(other.success, true, JSON.stringify(other));
  const otherHead = JSON.parse(other.receipt.data).cids[0];
  const otherBlocks = new Map([[otherHead, (await gatewayGet(url, `/ipfs/${otherHead}?format=raw`)).bytes], [moduleCid, blocks.get(moduleCid)]]);
  cases.push({ name: "the head of another record (another publisher's, same token)", head: otherHead, blocks: otherBlocks, code: "HISTORY_INVALID", index: 0, lookupOnly: true });

  const record = { chainId: CHAIN, tokenAddress: collection, tokenId: "7", metaContractId: mc, publicKey: signer.publicKey, alias: "", version: "v1" };
  return { head, moduleCid, blocks, record, names: [...names].reverse(), cases };
}

/**
 * A dishonest gateway in front of the real one at `realUrl`: JSON-RPC is forwarded, but while a
 * case is set (`serve(c)`), `get_metadata` names `c.head` and `/ipfs/…` serves `c.blocks` (as a
 * CAR or raw). CORS is open, as the node's own gateway. Returns { url, serve(c), close() }.
 */
export async function tamperingGateway(realUrl) {
  let current = null;
  let misbehaviour = null; // "stall" | "endless": what the CAR request gets instead
  const cors = { "access-control-allow-origin": "*", "access-control-allow-headers": "content-type", "access-control-allow-methods": "GET, POST, OPTIONS" };
  const server = createServer(async (req, res) => {
    try {
      const url = new URL(req.url, "http://x");
      if (req.method === "OPTIONS") return res.writeHead(204, cors).end();
      if (req.method === "POST" && url.pathname === "/api/v0/json-rpc") {
        let body = "";
        for await (const chunk of req) body += chunk;
        const reply = await (await fetch(`${realUrl}/api/v0/json-rpc`, { method: "POST", headers: { "content-type": "application/json" }, body })).json();
        if (current && reply?.result?.metadata) reply.result.metadata.cid = current.head;
        return res.writeHead(200, { ...cors, "content-type": "application/json" }).end(JSON.stringify(reply));
      }
      const m = url.pathname.match(/^\/ipfs\/([^/]+)$/);
      if (m && misbehaviour && url.searchParams.get("format") === "car") {
        res.writeHead(200, { ...cors, "content-type": "application/vnd.ipld.car; version=1" });
        if (misbehaviour === "stall") return res.write(Buffer.alloc(10)); // and nothing more
        const chunk = Buffer.alloc(64 * 1024, 7); // "endless": for ever, as fast as it is read
        const more = () => {
          while (res.write(chunk));
        };
        res.on("drain", more);
        return more();
      }
      if (m && current) {
        if (url.searchParams.get("format") === "car") {
          const { writer, out } = CarWriter.create([CID.parse(current.head)]);
          const chunks = [];
          const collected = (async () => {
            for await (const c of out) chunks.push(c);
          })();
          for (const [cid, bytes] of current.blocks) {
            if (!cid.startsWith("bafk")) await writer.put({ cid: CID.parse(cid), bytes }); // modules are raw blocks, fetched apart
          }
          await writer.close();
          await collected;
          return res.writeHead(200, { ...cors, "content-type": "application/vnd.ipld.car; version=1" }).end(Buffer.concat(chunks));
        }
        const bytes = current.blocks.get(m[1]);
        if (!bytes) return res.writeHead(404, cors).end("not found");
        return res.writeHead(200, { ...cors, "content-type": "application/vnd.ipld.raw" }).end(Buffer.from(bytes));
      }
      res.writeHead(404, cors).end("not found");
    } catch (err) {
      res.writeHead(500, cors).end(String(err?.stack ?? err));
    }
  });
  await new Promise((ok) => server.listen(0, "127.0.0.1", ok));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    serve(c) {
      current = c;
    },
    /** The genuine head named, then the CAR stalls after 10 bytes or never ends (null: neither). */
    misbehave(mode) {
      misbehaviour = mode;
    },
    close: () => {
      server.closeAllConnections();
      return new Promise((ok) => server.close(ok));
    },
  };
}
