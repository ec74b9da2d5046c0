// End-to-end tests of lineage-node's metadata gateway (JSON-RPC at /api/v0/json-rpc and the
// trustless gateway at /ipfs/<cid>) against a real node: EVM (ethers v6, EIP-712) and Ed25519
// (node:crypto) strong-mode signing, legacy signatures, blocks and CARs re-verified with
// multiformats / @ipld/dag-cbor / @ipld/car, replay protection, injection-shaped strings,
// meta-contract hijacks and HTTP edge cases.
//
// LINEAGE_NODE_BIN points at the node binary (default ~/.cache/lineage-edge/target/debug/lineage-node).
import assert from "node:assert/strict";
import { createPublicKey, randomBytes, verify as cryptoVerify } from "node:crypto";
import { after, before, describe, it } from "node:test";

import { CarReader } from "@ipld/car";
import { TypedDataEncoder, Wallet, verifyTypedData } from "ethers";

import { cidRawSha256, exitIfStuck, fixtureBytes, teardown } from "../interop/harness.mjs";
import {
  CID,
  EIP712_DOMAIN,
  EIP712_TYPES,
  bindContract,
  call,
  canonicalBytes,
  dagCbor,
  dagCborCid,
  dataKey,
  ed25519Signer,
  evmSigner,
  fetchBlock,
  gatewayGet,
  putModule,
  rpc,
  rpcRaw,
  sha256,
  tokenKey,
  transactionHash,
  typedData,
  typedMessage,
  unb58,
  startNode,
} from "./support.mjs";

after(async () => {
  await teardown();
  exitIfStuck();
});

const T = { timeout: 120_000 };
const CHAIN = "80001";
// The collection of Lineage's own test vector (notes/lineage.md): its data_key for token 1 is known.
const COLLECTION = "0x0692f233614802D06e86CBDE6b5D090A9F5d3c10";
const COLLECTION_ED = "0x00000000000000000000000000000000000ed255";
const MC = "mc-open-evm";
const MC_ED = "mc-open-ed25519";

let node; // default node (strong mode only)
let url;
let moduleCid;
// A fixed key, so that failures are reproducible; the address is 0x2c7536E3605D9C16a7a3D7b1898e529396a65c23.
const alice = evmSigner(new Wallet("0x4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318"));
const mallory = evmSigner(Wallet.createRandom());

/** Publishes and expects a success receipt; returns { result, hash, cids, cid }. */
async function publishOk(req, { at = url, params } = {}) {
  const result = await call(at, "publish", params ?? req);
  assert.equal(result.success, true, `publish refused: ${JSON.stringify(result)}`);
  assert.equal(result.err_msg, "");
  assert.equal(result.receipt.status, 1);
  const cids = JSON.parse(result.receipt.data).cids;
  return { result, hash: result.transaction_hash, cids, cid: cids[0] };
}

/** Publishes and expects a JSON-RPC error with `data.code` = `code`; returns the error. */
async function publishRefused(req, code, { at = url } = {}) {
  const r = await rpc(at, "publish", req);
  assert.ok(r.error, `expected a JSON-RPC error ${code}, got result ${JSON.stringify(r.result)}`);
  assert.equal(r.error.code, -32000, JSON.stringify(r.error));
  assert.equal(r.error.data?.code, code, JSON.stringify(r.error));
  return r.error;
}

/** Publishes and expects a failed receipt (status 2); returns the result. */
async function publishFailed(req, { at = url } = {}) {
  const result = await call(at, "publish", req);
  assert.equal(result.success, false, JSON.stringify(result));
  assert.equal(result.receipt.status, 2, JSON.stringify(result));
  assert.notEqual(result.receipt.error_text, "");
  assert.equal(result.err_msg, result.receipt.error_text);
  assert.equal(result.receipt.data, "");
  return result;
}

function metadataFields(signer, fields) {
  return {
    method: "metadata",
    meta_contract_id: signer.kind === "evm" ? MC : MC_ED,
    chain_id: CHAIN,
    token_address: signer.kind === "evm" ? COLLECTION : COLLECTION_ED,
    alias: "",
    version: "v1",
    ...fields,
  };
}

const recordKey = (signer, tokenId, { alias = "", version = "v1", mc, collection } = {}) => [
  dataKey(CHAIN, collection ?? (signer.kind === "evm" ? COLLECTION : COLLECTION_ED), tokenId),
  mc ?? (signer.kind === "evm" ? MC : MC_ED),
  signer.publicKey,
  alias,
  version,
];

before(async () => {
  node = await startNode();
  url = node.httpUrl;
  moduleCid = await putModule(url, "mc_open");
  const bound = await bindContract(url, alice, { id: MC, cid: moduleCid, chainId: CHAIN, tokenAddress: COLLECTION });
  assert.equal(bound.success, true, JSON.stringify(bound));
});

// ---------------------------------------------------------------------------------------------
describe("(a) EVM wallet flow (ethers v6, EIP-712 strong mode)", T, () => {
  const tokenId = "1";
  let first; // { req, hash, cid }
  let second;

  it("put_module returns the raw-codec CID of the module; the binding is readable", async () => {
    assert.equal(moduleCid, cidRawSha256(await fixtureBytes("mc_open")));
    // Uploading again is idempotent.
    assert.equal(await putModule(url, "mc_open"), moduleCid);
    const tk = await call(url, "generate_token_key", [CHAIN, COLLECTION]);
    assert.equal(tk, "724Xu9NeKHoMvvBc7ov5VBmuLsj4S9QF1urnqGNPp7Vc"); // Lineage's vector
    assert.equal(tk, tokenKey(CHAIN, COLLECTION));
    const byId = await call(url, "get_meta_contract_by_id", [MC]);
    assert.equal(byId.success, true);
    assert.equal(byId.err_msg, "");
    assert.equal(byId.meta.meta_contract_id, MC);
    assert.equal(byId.meta.public_key, alice.storedKey);
    assert.equal(byId.meta.token_key, tk);
    assert.equal(byId.meta.cid, moduleCid);
    const byCollection = await call(url, "get_meta_contract", [tk]);
    assert.deepEqual(byCollection, byId);
  });

  it("generate_data_key → signing_payload equals our typed data → publish", async () => {
    const dk = await call(url, "generate_data_key", [CHAIN, COLLECTION, tokenId]);
    assert.equal(dk, "21d7zhefyND97abvvBwNp5AYP2geVxrboW44prVkXhmv"); // Lineage's vector
    assert.equal(dk, dataKey(CHAIN, COLLECTION, tokenId));

    const req = await alice.sign(metadataFields(alice, { token_id: tokenId, data: JSON.stringify({ name: "Beat #1", bpm: 120 }) }));
    const payload = await call(url, "signing_payload", req);
    assert.equal(payload.success, true);
    // The node's typed data is exactly what we signed with ethers: same types, domain, message.
    assert.deepEqual(payload.typed_data, typedData(req));
    const { EIP712Domain, ...types } = payload.typed_data.types;
    assert.deepEqual(EIP712Domain, [
      { name: "name", type: "string" },
      { name: "version", type: "string" },
    ]);
    assert.equal(
      TypedDataEncoder.hash(payload.typed_data.domain, types, payload.typed_data.message),
      TypedDataEncoder.hash(EIP712_DOMAIN, EIP712_TYPES, typedMessage(req)),
    );
    // What a wallet given the node's JSON (eth_signTypedData_v4) signs recovers to the wallet.
    assert.equal(verifyTypedData(payload.typed_data.domain, types, payload.typed_data.message, req.signature), alice.wallet.address);
    assert.equal(payload.canonical_bytes, canonicalBytes(req).toString("hex"));

    // publish with params = the object
    const { result, hash, cids } = await publishOk(req);
    assert.equal(hash, transactionHash(req));
    assert.deepEqual(result.receipt, {
      hash,
      meta_contract_id: MC,
      status: 1,
      timestamp: req.timestamp,
      error_text: "",
      data: JSON.stringify({ cids }),
      replayable: false,
    });
    assert.equal(cids.length, 1);
    first = { req, hash, cid: cids[0], payload };
  });

  it("signing_payload's transaction_hash is the hash publish gives (checksummed address)", async () => {
    assert.ok(first, "needs the publish above");
    assert.notEqual(first.req.public_key, first.req.public_key.toLowerCase(), "the request carries a checksummed address");
    // BUG: publish hashes the lower-cased address (docs/metadata-signing.md), but signing_payload
    // hashes public_key as sent, so for a checksummed address (what ethers' wallet.address is) the
    // dApp is told a hash under which the transaction will never be found.
    // Expected: signing_payload.transaction_hash === publish's transaction_hash.
    assert.equal(first.payload.transaction_hash, first.hash, "signing_payload.transaction_hash differs from publish's");
  });

  it("the signing vectors of docs/metadata-signing.md: ours and the node's signing_payload agree", async () => {
    const fields = { method: "metadata", meta_contract_id: "open", chain_id: "80001", token_address: COLLECTION, token_id: "1", alias: "", version: "v1", mcdata: "", data: '{"name":"Ada"}', prev: "", timestamp: 1700000000000 };
    const ed = await ed25519Signer(Buffer.alloc(32, 1)).sign(fields);
    assert.equal(ed.public_key, "AKnL4NNf3DGWZJS6cPknBuEGnVsV4A4m5tgebLHaRSZ9");
    assert.equal(ed.signature, "pcrjE4vDZD9gbujSKqBc6mTHMugrD57dN9SRLwrNJAdp7gRoTmm26jZuU19ydw8Wm4Kh2Lb2eQVoBfcUKW5YCUj");
    assert.equal(transactionHash(ed), "ATCYN2nNJvuqcR3KgsckQ4nrBma2ncQEinuEnvPgqP43");
    const edPayload = await call(url, "signing_payload", ed);
    assert.equal(edPayload.canonical_bytes, canonicalBytes(ed).toString("hex"));
    assert.equal(edPayload.transaction_hash, "ATCYN2nNJvuqcR3KgsckQ4nrBma2ncQEinuEnvPgqP43");

    const w = evmSigner(new Wallet(`0x${"03".repeat(32)}`));
    assert.equal(w.wallet.address, "0x3325a78425F17a7E487Eb5666b2bFd93aBb06c70");
    const evm = await w.sign(fields);
    assert.equal(TypedDataEncoder.hash(EIP712_DOMAIN, EIP712_TYPES, typedMessage(evm)), "0x871be0a2ec079d61f1c6043b1d50df8f86a615a63395c84cfbfc8a391a273b60");
    assert.equal(evm.signature, "0x64447bc430404b6b90957a1443a4fa7c76ef67cfb8f6f29468cee838b146f36434e6a2d545679d573aee8910f6bd27cc7963cd4b437358562ff1d22c4383b4271c");
    assert.equal(transactionHash(evm), "GWsnDqJDLh1XYwgjSYYMwwoREKXmx2h7bxWU5XJAuNDr");
    const evmPayload = await call(url, "signing_payload", { ...evm, public_key: evm.public_key.toLowerCase() });
    assert.deepEqual(evmPayload.typed_data, typedData(evm));
    assert.equal(evmPayload.transaction_hash, "GWsnDqJDLh1XYwgjSYYMwwoREKXmx2h7bxWU5XJAuNDr");
  });

  it("get_metadata / search_metadatas find the record; GET /ipfs/<cid> serves its block", async () => {
    const dk = dataKey(CHAIN, COLLECTION, tokenId);
    const got = await call(url, "get_metadata", recordKey(alice, tokenId));
    assert.equal(got.success, true, JSON.stringify(got));
    const m = got.metadata;
    assert.equal(m.cid, first.cid);
    assert.equal(m.data_key, dk);
    assert.equal(m.meta_contract_id, MC);
    assert.equal(m.public_key, alice.storedKey, "EVM keys are stored lower-cased");
    assert.equal(m.alias, "");
    assert.equal(m.version, "v1");
    assert.equal(m.token_id, tokenId);
    assert.equal(m.token_key, tokenKey(CHAIN, COLLECTION));
    // The lower-cased key names the same record.
    const lower = await call(url, "get_metadata", [dk, MC, alice.storedKey, "", "v1"]);
    assert.deepEqual(lower, got);

    const found = await call(url, "search_metadatas", { query: [{ column: "data_key", query: dk, op: "=" }], ordering: [], from: 0, to: 0 });
    assert.equal(found.success, true);
    assert.deepEqual(found.metadatas, [m]);
    assert.equal(await call(url, "search_metadatas_count", { query: [{ column: "data_key", query: dk, op: "=" }] }), 1);
    const byVersion = await call(url, "get_metadatas", [dk, "v1"]);
    assert.deepEqual(byVersion.metadatas, [m]);

    // Default format (no ?format, no Accept) is the raw block.
    const raw = await gatewayGet(url, `/ipfs/${first.cid}`);
    assert.equal(raw.status, 200);
    assert.equal(raw.headers.get("content-type"), "application/vnd.ipld.raw");
    assert.equal((await dagCborCid(raw.bytes)).toString(), first.cid);
    const block = dagCbor.decode(raw.bytes);
    assert.deepEqual(block.content, { name: "Beat #1", bpm: 120 });
    assert.equal(block.previous, null);
    assert.deepEqual(block.record, { data_key: dk, meta_contract_id: MC, public_key: alice.storedKey, alias: "", version: "v1", loose: m.loose });
    const tx = block.transaction;
    assert.equal(tx.hash, first.hash);
    assert.equal(tx.signature, first.req.signature);
    assert.equal(tx.public_key, alice.storedKey);
    assert.equal(tx.legacy, false);
    for (const f of ["method", "meta_contract_id", "chain_id", "token_address", "token_id", "alias", "version", "mcdata", "data", "prev", "timestamp"]) {
      assert.equal(tx[f], first.req[f], f);
    }
    // Trustless: the signature re-checks from the block alone.
    assert.equal(verifyTypedData(EIP712_DOMAIN, EIP712_TYPES, typedMessage(tx), tx.signature), alice.wallet.address);

    const stored = await call(url, "get_transaction", [first.hash]);
    assert.equal(stored.success, true);
    assert.equal(stored.transaction.hash, first.hash);
    assert.equal(stored.transaction.signature, first.req.signature);
    assert.equal(stored.transaction.data_key, dk);
    const receipt = await call(url, "get_transaction_receipt", [first.hash]);
    assert.equal(receipt.success, true);
    assert.equal(receipt.receipt.status, 1);
    assert.equal(receipt.receipt.data, JSON.stringify({ cids: [first.cid] }));
  });

  it("a second version with prev = the first CID; get_metadata_with_history has both", async () => {
    const req = await alice.sign(metadataFields(alice, { token_id: tokenId, data: JSON.stringify({ name: "Beat #1", bpm: 128 }), prev: first.cid }));
    // publish with params = [object]
    const { hash, cid } = await publishOk(req, { params: [req] });
    assert.equal(hash, transactionHash(req));
    assert.notEqual(cid, first.cid);
    second = { req, hash, cid };

    const got = await call(url, "get_metadata", recordKey(alice, tokenId));
    assert.equal(got.metadata.cid, cid);
    const h = await call(url, "get_metadata_with_history", recordKey(alice, tokenId));
    assert.equal(h.success, true);
    assert.equal(h.err_msg, "");
    assert.deepEqual(h.cids, [second.cid, first.cid]);
    assert.equal(h.history.length, 2);
    assert.equal(h.metadata, h.history[0]);
    const [newest, oldest] = h.history.map((s) => JSON.parse(s));
    assert.deepEqual(newest.content, { name: "Beat #1", bpm: 128 });
    assert.deepEqual(oldest.content, { name: "Beat #1", bpm: 120 });
    assert.equal(newest.transaction.hash, second.hash);
    assert.equal(oldest.transaction.hash, first.hash);
    assert.equal(oldest.previous, null);
    const block = (await fetchBlock(url, second.cid)).block;
    assert.ok(block.previous.equals(CID.parse(first.cid)));

    const txs = await call(url, "get_transactions", { query: [{ column: "public_key", query: alice.storedKey, op: "=" }], ordering: [{ column: "timestamp", sort: "asc" }] });
    assert.equal(txs.success, true);
    const hashes = txs.transactions.map((t) => t.hash);
    assert.ok(hashes.includes(first.hash) && hashes.includes(second.hash), JSON.stringify(hashes));
  });

  it("get_metadata_with_history: each history string is the block as ipfs_get / ?format=dag-json serve it", async () => {
    const h = await call(url, "get_metadata_with_history", recordKey(alice, tokenId));
    assert.equal(h.success, true, JSON.stringify(h));
    assert.equal(h.cids.length, 2);
    for (const [i, cid] of h.cids.entries()) {
      const viaIpfsGet = await call(url, "ipfs_get", [cid]);
      assert.equal(viaIpfsGet.success, true);
      assert.equal(viaIpfsGet.error, "");
      const dagJson = await gatewayGet(url, `/ipfs/${cid}?format=dag-json`);
      assert.equal(dagJson.status, 200);
      assert.equal(dagJson.headers.get("content-type"), "application/vnd.ipld.dag-json");
      assert.deepEqual(JSON.parse(Buffer.from(dagJson.bytes).toString()), JSON.parse(viaIpfsGet.block));
      // BUG: get_metadata_with_history serialises blocks with serde_json, so `previous` comes out
      // as the CID's raw bytes ([1,113,18,32,...]) instead of the link {"/": "bafy..."} that
      // ipfs_get and ?format=dag-json give for the same block. Expected: the same JSON.
      assert.deepEqual(JSON.parse(h.history[i]), JSON.parse(viaIpfsGet.block), `history[${i}] (${cid}) differs from ipfs_get`);
    }
  });

  it("a block's transaction.hash recomputes from the block's own fields", async () => {
    // The request was signed with the checksummed address; the block holds it lower-cased.
    for (const { cid, hash } of [first, second]) {
      const tx = (await fetchBlock(url, cid)).block.transaction;
      assert.equal(tx.hash, hash);
      assert.equal(transactionHash(tx), tx.hash);
    }
  });
});

// ---------------------------------------------------------------------------------------------
describe("(b) legacy signatures (--legacy-signatures)", T, () => {
  let legacy; // a second node that accepts legacy signatures
  let lurl;
  const bob = ed25519Signer();

  before(async () => {
    legacy = await startNode({ args: ["--legacy-signatures"] });
    lurl = legacy.httpUrl;
    const cid = await putModule(lurl, "mc_open");
    assert.equal((await bindContract(lurl, alice, { id: MC, cid, chainId: CHAIN, tokenAddress: COLLECTION })).success, true);
    assert.equal((await bindContract(lurl, bob, { id: MC_ED, cid, chainId: CHAIN, tokenAddress: COLLECTION_ED })).success, true);
  });
  after(async () => {
    await legacy?.stop();
  });

  /** A Lineage-era request: no timestamp, no prev. */
  function lineageShaped(req) {
    const { timestamp, prev, ...rest } = req;
    return rest;
  }

  it("the legacy node accepts EVM signMessage(data) and marks the receipt replayable", async () => {
    const req = lineageShaped(await alice.signLegacy(metadataFields(alice, { token_id: "legacy-1", data: JSON.stringify({ legacy: true }) })));
    const t0 = Date.now();
    const { result, cid } = await publishOk(req, { at: lurl });
    assert.equal(result.receipt.replayable, true);
    assert.ok(result.receipt.timestamp >= t0 - 1000 && result.receipt.timestamp <= Date.now() + 1000, "the node's clock stands in for the missing timestamp");
    const { block } = await fetchBlock(lurl, cid);
    assert.equal(block.transaction.legacy, true);
    assert.equal(block.transaction.signature, req.signature);
    const got = await call(lurl, "get_metadata", recordKey(alice, "legacy-1"));
    assert.equal(got.metadata.cid, cid);
  });

  it("the legacy node accepts Ed25519 over raw data, replayable", async () => {
    const req = lineageShaped(await bob.signLegacy(metadataFields(bob, { token_id: "legacy-ed-1", data: JSON.stringify({ legacy: "ed" }) })));
    const { result, cid } = await publishOk(req, { at: lurl });
    assert.equal(result.receipt.replayable, true);
    assert.equal((await fetchBlock(lurl, cid)).block.transaction.legacy, true);
  });

  it("a legacy signature covers data only: moved to another token it still verifies (hence replayable)", async () => {
    const signed = await alice.signLegacy(metadataFields(alice, { token_id: "legacy-2", data: JSON.stringify({ moved: true }) }));
    const moved = lineageShaped({ ...signed, token_id: "legacy-3" });
    const { result } = await publishOk(moved, { at: lurl });
    assert.equal(result.receipt.replayable, true);
  });

  it("strong signatures on the legacy node are not replayable", async () => {
    const req = await alice.sign(metadataFields(alice, { token_id: "legacy-strong", data: "{}" }));
    const { result, cid } = await publishOk(req, { at: lurl });
    assert.equal(result.receipt.replayable, false);
    assert.equal((await fetchBlock(lurl, cid)).block.transaction.legacy, false);
  });

  it("the default node rejects the same legacy signatures with bad_signature", async () => {
    const evm = lineageShaped(await alice.signLegacy(metadataFields(alice, { token_id: "legacy-4", data: JSON.stringify({ legacy: true }) })));
    await publishRefused(evm, "bad_signature");
    // With a timestamp too (a legacy signature is not a strong one whatever the fields).
    await publishRefused(await alice.signLegacy(metadataFields(alice, { token_id: "legacy-4", data: "{}" })), "bad_signature");
    const ed = lineageShaped(await bob.signLegacy(metadataFields(bob, { token_id: "legacy-ed-2", data: "{}" })));
    await publishRefused(ed, "bad_signature");
    const none = await call(url, "get_metadata", recordKey(alice, "legacy-4"));
    assert.equal(none.success, false);
  });
});

// ---------------------------------------------------------------------------------------------
describe("(c) Ed25519 strong flow (node:crypto)", T, () => {
  const carol = ed25519Signer();
  const tokenId = "ed-1";
  let v1;

  it("binds its own meta contract with an Ed25519-signed contract transaction", async () => {
    const r = await bindContract(url, carol, { id: MC_ED, cid: moduleCid, chainId: CHAIN, tokenAddress: COLLECTION_ED });
    assert.equal(r.success, true, JSON.stringify(r));
    const meta = (await call(url, "get_meta_contract_by_id", [MC_ED])).meta;
    assert.equal(meta.public_key, carol.publicKey);
    assert.equal(meta.token_key, tokenKey(CHAIN, COLLECTION_ED));
    assert.equal(unb58(carol.publicKey).length, 32);
  });

  it("publishes, the node's canonical bytes and hash equal ours, the block re-verifies", async () => {
    const req = await carol.sign(metadataFields(carol, { token_id: tokenId, alias: "cover", data: JSON.stringify({ image: "ipfs://x" }) }));
    assert.equal(unb58(req.signature).length, 64);
    const payload = await call(url, "signing_payload", req);
    assert.equal(payload.canonical_bytes, canonicalBytes(req).toString("hex"));
    assert.equal(payload.transaction_hash, transactionHash(req));
    const { hash, cid } = await publishOk(req);
    assert.equal(hash, transactionHash(req));
    v1 = { req, cid, hash };

    const got = await call(url, "get_metadata", recordKey(carol, tokenId, { alias: "cover" }));
    assert.equal(got.metadata.cid, cid);
    assert.equal(got.metadata.public_key, carol.publicKey);
    const { block } = await fetchBlock(url, cid);
    const tx = block.transaction;
    assert.equal(tx.hash, hash);
    assert.equal(transactionHash(tx), hash, "Ed25519 keys are not re-cased, so the hash recomputes from the block");
    const pub = createPublicKey({ key: { kty: "OKP", crv: "Ed25519", x: Buffer.from(unb58(tx.public_key)).toString("base64url") }, format: "jwk" });
    assert.equal(cryptoVerify(null, canonicalBytes(tx), pub, Buffer.from(unb58(tx.signature))), true);
  });

  it("a second version over prev; history has two versions", async () => {
    const req = await carol.sign(metadataFields(carol, { token_id: tokenId, alias: "cover", data: JSON.stringify({ image: "ipfs://y" }), prev: v1.cid }));
    const { cid } = await publishOk(req);
    const h = await call(url, "get_metadata_with_history", recordKey(carol, tokenId, { alias: "cover" }));
    assert.deepEqual(h.cids, [cid, v1.cid]);
    assert.deepEqual(JSON.parse(h.history[0]).content, { image: "ipfs://y" });
    assert.deepEqual(JSON.parse(h.history[1]).content, { image: "ipfs://x" });
  });

  it("another Ed25519 key's signature under carol's key is bad_signature", async () => {
    const eve = ed25519Signer();
    const forged = await eve.sign(metadataFields(carol, { token_id: "ed-2", data: "{}" }));
    await publishRefused({ ...forged, public_key: carol.publicKey }, "bad_signature");
  });
});

// ---------------------------------------------------------------------------------------------
describe("(d) blocks and CARs recomputed with multiformats, @ipld/dag-cbor, @ipld/car", T, () => {
  const tokenId = "car-1";
  const cids = []; // oldest first

  before(async () => {
    let prev = "";
    for (let i = 0; i < 3; i++) {
      const req = await alice.sign(metadataFields(alice, { token_id: tokenId, data: JSON.stringify({ v: i }), prev }));
      prev = (await publishOk(req)).cid;
      cids.push(prev);
    }
    // Another record, so a CAR holding blocks of other records would show.
    await publishOk(await alice.sign(metadataFields(alice, { token_id: "car-2", data: "{}" })));
  });

  it("every served raw block hashes to its CID (dag-cbor 0x71, sha2-256) and links to the previous one", async () => {
    const h = await call(url, "get_metadata_with_history", recordKey(alice, tokenId));
    assert.deepEqual(h.cids, [...cids].reverse());
    for (const [i, cid] of h.cids.entries()) {
      const r = await gatewayGet(url, `/ipfs/${cid}?format=raw`);
      assert.equal(r.status, 200);
      const parsed = CID.parse(cid);
      assert.equal(parsed.version, 1);
      assert.equal(parsed.code, dagCbor.code);
      assert.equal(dagCbor.code, 0x71);
      assert.equal(parsed.multihash.code, sha256.code);
      const recomputed = CID.create(1, dagCbor.code, await sha256.digest(r.bytes));
      assert.equal(recomputed.toString(), cid);
      assert.ok(recomputed.equals(parsed));
      const block = dagCbor.decode(r.bytes);
      // Canonical dag-cbor: re-encoding the decoded block gives the same bytes.
      assert.deepEqual(Buffer.from(dagCbor.encode(block)), Buffer.from(r.bytes));
      assert.deepEqual(block.content, { v: h.cids.length - 1 - i });
      const older = h.cids[i + 1];
      if (older) {
        assert.ok(block.previous instanceof CID || CID.asCID(block.previous), "previous is a CID link");
        assert.equal(block.previous.toString(), older);
        assert.equal(block.transaction.prev, older, "the signed prev is the link");
      } else {
        assert.equal(block.previous, null);
        assert.equal(block.transaction.prev, "");
      }
      // Accept: application/vnd.ipld.raw gives the same bytes.
      const viaAccept = await gatewayGet(url, `/ipfs/${cid}`, { headers: { accept: "application/vnd.ipld.raw" } });
      assert.deepEqual(viaAccept.bytes, r.bytes);
    }
  });

  it("?format=car is a CARv1 rooted at the CID holding that block and every previous version", async () => {
    const head = cids[cids.length - 1];
    for (const how of [{ path: `/ipfs/${head}?format=car` }, { path: `/ipfs/${head}`, headers: { accept: "application/vnd.ipld.car" } }]) {
      const r = await gatewayGet(url, how.path, { headers: how.headers ?? {} });
      assert.equal(r.status, 200);
      assert.match(r.headers.get("content-type"), /^application\/vnd\.ipld\.car/);
      const reader = await CarReader.fromBytes(r.bytes);
      assert.equal(reader.version, 1);
      const roots = await reader.getRoots();
      assert.equal(roots.length, 1);
      assert.equal(roots[0].toString(), head);
      const seen = [];
      for await (const { cid, bytes } of reader.blocks()) {
        const recomputed = CID.create(1, cid.code, await sha256.digest(bytes));
        assert.ok(recomputed.equals(cid), `CAR block ${cid} hashes to ${recomputed}`);
        seen.push(cid.toString());
      }
      assert.equal(seen.length, cids.length, "block count = history length");
      assert.deepEqual(seen, [...cids].reverse(), "newest first, following previous");
    }
    // A CAR of an older version holds only it and what precedes it.
    const mid = await CarReader.fromBytes((await gatewayGet(url, `/ipfs/${cids[1]}?format=car`)).bytes);
    const midCids = [];
    for await (const { cid } of mid.blocks()) midCids.push(cid.toString());
    assert.deepEqual(midCids, [cids[1], cids[0]]);
  });

  it("the module is served as a raw block (codec 0x55) whose CID recomputes; its CAR has one block", async () => {
    const r = await gatewayGet(url, `/ipfs/${moduleCid}?format=raw`);
    assert.equal(r.status, 200);
    assert.deepEqual(Buffer.from(r.bytes), await fixtureBytes("mc_open"));
    assert.equal(CID.create(1, 0x55, await sha256.digest(r.bytes)).toString(), moduleCid);
    const car = await CarReader.fromBytes((await gatewayGet(url, `/ipfs/${moduleCid}?format=car`)).bytes);
    const blocks = [];
    for await (const b of car.blocks()) blocks.push(b);
    assert.equal(blocks.length, 1);
    assert.equal(blocks[0].cid.toString(), moduleCid);
    // dag-json of a raw block is refused (406) rather than mangled.
    assert.equal((await gatewayGet(url, `/ipfs/${moduleCid}?format=dag-json`)).status, 406);
    const ipfsGet = await call(url, "ipfs_get", [moduleCid]);
    assert.equal(ipfsGet.success, false);
  });

  it("?format=dag-json and ipfs_get describe the same block as the raw bytes", async () => {
    const head = cids[cids.length - 1];
    const { block } = await fetchBlock(url, head);
    const dj = JSON.parse(Buffer.from((await gatewayGet(url, `/ipfs/${head}?format=dag-json`)).bytes).toString());
    assert.deepEqual(dj.previous, { "/": block.previous.toString() });
    assert.deepEqual(dj.content, block.content);
    assert.deepEqual(dj.record, block.record);
    assert.deepEqual(dj.transaction, block.transaction);
    const viaRpc = JSON.parse((await call(url, "ipfs_get", [head])).block);
    assert.deepEqual(viaRpc, dj);
  });
});

// ---------------------------------------------------------------------------------------------
describe("(e) replay protection", T, () => {
  const tokenId = "replay-1";
  let v1;
  let v2;

  it("the same signed request again is a duplicate", async () => {
    const req = await alice.sign(metadataFields(alice, { token_id: tokenId, data: JSON.stringify({ n: 1 }) }));
    const { cid, hash } = await publishOk(req);
    v1 = { req, cid, hash };
    const e = await publishRefused(req, "duplicate");
    assert.match(e.message, new RegExp(hash));
    // Also as [object], and at once in a batch: each is a duplicate.
    await publishRefused([req], "duplicate");
    const r = await rpcRaw(url, [1, 2].map((id) => ({ jsonrpc: "2.0", id, method: "publish", params: req })));
    assert.deepEqual(
      r.json.map((x) => x.error?.data?.code),
      ["duplicate", "duplicate"],
    );
    const got = await call(url, "get_metadata", recordKey(alice, tokenId));
    assert.equal(got.metadata.cid, cid);
  });

  it("the same signature over changed token_id / alias / version (or any other field) is bad_signature", async () => {
    const changes = {
      token_id: "replay-2",
      alias: "other",
      version: "v2",
      data: JSON.stringify({ n: 666 }),
      meta_contract_id: MC_ED,
      chain_id: "1",
      token_address: COLLECTION_ED,
      mcdata: '{"loose":0}',
      prev: v1.cid,
      timestamp: v1.req.timestamp + 1,
      method: "contract",
    };
    for (const [field, value] of Object.entries(changes)) {
      const e = await publishRefused({ ...v1.req, [field]: value }, "bad_signature");
      assert.match(e.message, /signature does not match/, field);
    }
    // Nothing was written under the changed identities.
    for (const k of [recordKey(alice, "replay-2"), recordKey(alice, tokenId, { alias: "other" }), recordKey(alice, tokenId, { version: "v2" })]) {
      assert.equal((await call(url, "get_metadata", k)).success, false, JSON.stringify(k));
    }
  });

  it("a request signed over an old prev after a newer version is stale_prev", async () => {
    const req2 = await alice.sign(metadataFields(alice, { token_id: tokenId, data: JSON.stringify({ n: 2 }), prev: v1.cid }));
    v2 = await publishOk(req2);
    // Signed before v2 was known: prev = v1 (a fork) and prev = "" (a second "new" record).
    const forkA = await alice.sign(metadataFields(alice, { token_id: tokenId, data: JSON.stringify({ n: "fork" }), prev: v1.cid }));
    const eA = await publishRefused(forkA, "stale_prev");
    assert.ok(eA.message.includes(v2.cid), eA.message);
    const forkB = await alice.sign(metadataFields(alice, { token_id: tokenId, data: JSON.stringify({ n: "new" }), prev: "" }));
    await publishRefused(forkB, "stale_prev");
    // A stale request stored nothing: after the head moves on it is still just refused, never a duplicate.
    await publishRefused(forkA, "stale_prev");
    const h = await call(url, "get_metadata_with_history", recordKey(alice, tokenId));
    assert.deepEqual(h.cids, [v2.cid, v1.cid]);
    // A prev that is not a CID of this record is also stale.
    await publishRefused(await alice.sign(metadataFields(alice, { token_id: tokenId, data: "{}", prev: moduleCid })), "stale_prev");
  });

  it("other refusals: clock skew, malformed signature, forged key, unknown meta contract, invalid", async () => {
    const base = metadataFields(alice, { token_id: "replay-3", data: "{}" });
    await publishRefused(await alice.sign({ ...base, timestamp: Date.now() - 6 * 60_000 }), "clock_skew");
    await publishRefused(await alice.sign({ ...base, timestamp: Date.now() + 6 * 60_000 }), "clock_skew");
    const ok = await alice.sign(base);
    await publishRefused({ ...ok, signature: "0x1234" }, "malformed_signature");
    await publishRefused({ ...ok, signature: ok.signature.slice(2) }, "malformed_signature");
    // Mallory signs, claiming alice's key.
    const forged = await mallory.sign({ ...base, public_key: alice.publicKey });
    await publishRefused(forged, "bad_signature");
    await publishRefused(await alice.sign({ ...base, meta_contract_id: "no-such-contract" }), "unknown_meta_contract");
    await publishRefused(await alice.sign({ ...base, token_id: "" }), "invalid_transaction");
    await publishRefused(await alice.sign({ ...base, alias: "x".repeat(513) }), "invalid_transaction");
    const wrongMethod = await rpc(url, "publish", await alice.sign({ ...base, method: "clone" }));
    assert.equal(wrongMethod.error?.code, -32000);
    assert.equal(wrongMethod.error?.data?.code, "unsupported_method");
    assert.equal((await call(url, "get_metadata", recordKey(alice, "replay-3"))).success, false);
  });

  it("a validly signed request the contract refuses uses its hash up (status 2, then duplicate)", async () => {
    const req = await alice.sign(metadataFields(alice, { token_id: "replay-4", data: "not json" }));
    const r = await publishFailed(req);
    assert.match(r.receipt.error_text, /data is not JSON/);
    assert.equal(r.transaction_hash, transactionHash(req));
    assert.equal((await call(url, "get_transaction_receipt", [r.transaction_hash])).receipt.status, 2);
    await publishRefused(req, "duplicate");
    assert.equal((await call(url, "get_metadata", recordKey(alice, "replay-4"))).success, false);
  });

  it("a contract binding replayed with the public_key re-cased is not accepted again", async () => {
    // alice binds contract `mc-replay` to module mc_open, then rebinds it to mc_owner. Anyone who
    // saw the first (public) transaction sends it again with the address written in another case.
    const owner = await putModule(url, "mc_owner");
    const id = "mc-replay";
    const collection = "0x000000000000000000000000000000000000beef";
    const t1 = await alice.sign({ method: "contract", meta_contract_id: id, chain_id: CHAIN, token_address: collection, token_id: "", data: JSON.stringify({ is_registry: false, registry_id: "", registry_name: "", meta_contract_id: id, migrate_from: "", cid: moduleCid }) });
    await publishOk(t1);
    const t2 = await alice.sign({ method: "contract", meta_contract_id: id, chain_id: CHAIN, token_address: collection, token_id: "", data: JSON.stringify({ is_registry: false, registry_id: "", registry_name: "", meta_contract_id: id, migrate_from: "", cid: owner }) });
    await publishOk(t2);
    assert.equal((await call(url, "get_meta_contract_by_id", [id])).meta.cid, owner);
    await publishRefused(t1, "duplicate");
    // The signer is compared case-insensitively, so the hash must not depend on how the address
    // is spelled: otherwise t1 re-cased is a "new" transaction with a valid signature, and (a
    // contract transaction having no prev) its replay would revert alice's binding to mc_open.
    // (An earlier build hashed public_key as sent and accepted all three replays.)
    const hex = t1.public_key.slice(2);
    for (const spelling of [`0x${hex.toLowerCase()}`, `0x${hex.toUpperCase()}`, `0X${hex}`]) {
      const r = await rpc(url, "publish", { ...t1, public_key: spelling });
      const binding = (await call(url, "get_meta_contract_by_id", [id])).meta.cid;
      assert.equal(binding, owner, `${spelling}: binding reverted by a replay: publish answered ${JSON.stringify(r.result ?? r.error)}`);
      assert.equal(r.error?.data?.code, "duplicate", `${spelling}: ${JSON.stringify(r.result ?? r.error)}`);
    }
  });
});

// ---------------------------------------------------------------------------------------------
describe("(f) injection-shaped strings stay data", T, () => {
  const INJ = ["'; DROP TABLE metadatas; --", '" OR 1=1 --', "$(id)"];
  const made = []; // { s, cid, hash }

  before(async () => {
    for (const [i, s] of INJ.entries()) {
      const req = await alice.sign(metadataFields(alice, { token_id: s, alias: s, version: s, data: JSON.stringify({ note: s }) }));
      const { cid, hash } = await publishOk(req);
      made.push({ s, cid, hash });
      // A plain record next to each, that must never match.
      await publishOk(await alice.sign(metadataFields(alice, { token_id: `inj-control-${i}`, alias: "plain", version: "v1", data: JSON.stringify({ note: "plain" }) })));
    }
  });

  it("each record reads back exactly, by key and through its block", async () => {
    for (const { s, cid } of made) {
      const got = await call(url, "get_metadata", recordKey(alice, s, { alias: s, version: s }));
      assert.equal(got.success, true, s);
      assert.equal(got.metadata.cid, cid);
      assert.equal(got.metadata.token_id, s);
      assert.equal(got.metadata.alias, s);
      assert.equal(got.metadata.version, s);
      const { block } = await fetchBlock(url, cid);
      assert.deepEqual(block.content, { note: s });
      assert.equal(block.transaction.token_id, s);
      assert.equal(await call(url, "generate_data_key", [CHAIN, COLLECTION, s]), dataKey(CHAIN, COLLECTION, s));
    }
  });

  it("exact searches on alias, version and token_id hit only them", async () => {
    for (const { s, cid } of made) {
      for (const column of ["alias", "version", "token_id"]) {
        const q = { query: [{ column, query: s, op: "=" }] };
        const r = await call(url, "search_metadatas", q);
        assert.equal(r.success, true);
        assert.deepEqual(
          r.metadatas.map((m) => m.cid),
          [cid],
          `${column} = ${JSON.stringify(s)}`,
        );
        assert.equal(await call(url, "search_metadatas_count", q), 1);
      }
      const txs = await call(url, "get_transactions", { query: [{ column: "data", query: JSON.stringify({ note: s }), op: "=" }] });
      assert.deepEqual(
        txs.transactions.map((t) => t.token_id),
        [s],
      );
    }
    // Classic tautologies match nothing.
    for (const s of ["' OR '1'='1", "1 OR 1=1", "*", "%", '" OR ""="']) {
      assert.equal(await call(url, "search_metadatas_count", { query: [{ column: "alias", query: s, op: "=" }] }), 0, s);
    }
    // LIKE is a pattern over the value, nothing more.
    const like = await call(url, "search_metadatas", { query: [{ column: "alias", query: "%drop table%", op: "like" }] });
    assert.deepEqual(
      like.metadatas.map((m) => m.alias),
      [INJ[0]],
    );
    // Nothing was dropped: the plain records are all still there.
    assert.equal(await call(url, "search_metadatas_count", { query: [{ column: "alias", query: "plain", op: "=" }] }), INJ.length);
  });

  it("a bad column, op or sort is a JSON-RPC error (invalid_transaction), not a query", async () => {
    const bad = [
      { query: [{ column: "alias; DROP TABLE metadatas; --", query: "x", op: "=" }] },
      { query: [{ column: "alias", query: "x", op: "= 1 OR 1=1 --" }] },
      { query: [{ column: "alias", query: "x", op: "OR" }] },
      { query: [{ column: "content", query: "x", op: "=" }] },
      { query: [], ordering: [{ column: "1; DROP TABLE metadatas", sort: "asc" }] },
      { query: [], ordering: [{ column: "alias", sort: "desc; DROP TABLE metadatas" }] },
    ];
    for (const params of bad) {
      for (const method of ["search_metadatas", "search_metadatas_count"]) {
        const r = await rpc(url, method, params);
        assert.ok(r.error, `${method} ${JSON.stringify(params)} answered ${JSON.stringify(r.result)}`);
        assert.equal(r.error.code, -32000);
        assert.equal(r.error.data?.code, "invalid_transaction");
      }
    }
    const txs = await rpc(url, "get_transactions", { query: [{ column: "signature' OR 1=1", query: "x", op: "=" }] });
    assert.equal(txs.error?.data?.code, "invalid_transaction");
  });
});

// ---------------------------------------------------------------------------------------------
describe("(g) meta-contract and registry hijacks by another wallet", T, () => {
  const REG = "0xreg-alice";
  const COLLECTION_M = "0x000000000000000000000000000000000000a11e";
  let snapshot;

  const state = async () => ({
    contract: await call(url, "get_meta_contract_by_id", [MC]),
    collection: await call(url, "get_meta_contract", [tokenKey(CHAIN, COLLECTION)]),
    registry: await call(url, "get_registry_by_id", [REG]),
  });

  before(async () => {
    // alice registers a registry id pointing at her contract.
    const r = await bindContract(url, alice, { id: MC, chainId: CHAIN, tokenAddress: COLLECTION, isRegistry: true, registryId: REG, registryName: "alice's registry" });
    assert.equal(r.success, true, JSON.stringify(r));
    // mallory owns a contract of her own on her own collection.
    assert.equal((await bindContract(url, mallory, { id: "mc-mallory", cid: moduleCid, chainId: CHAIN, tokenAddress: COLLECTION_M })).success, true);
    snapshot = await state();
    assert.equal(snapshot.contract.meta.public_key, alice.storedKey);
    assert.equal(snapshot.registry.success, true);
    assert.equal(snapshot.registry.registry.meta_contract_id, MC);
    assert.equal(snapshot.registry.registry.public_key, alice.storedKey);
  });

  const attempts = {
    "rebinding alice's contract id to mallory's collection": () => bindContract(url, mallory, { id: MC, cid: moduleCid, chainId: CHAIN, tokenAddress: COLLECTION_M }),
    "rebinding alice's contract id on alice's collection": () => bindContract(url, mallory, { id: MC, chainId: CHAIN, tokenAddress: COLLECTION }),
    "binding mallory's contract to alice's collection": () => bindContract(url, mallory, { id: "mc-mallory", chainId: CHAIN, tokenAddress: COLLECTION }),
    "a new contract of mallory's on alice's collection": () => bindContract(url, mallory, { id: "mc-mallory-2", cid: moduleCid, chainId: CHAIN, tokenAddress: COLLECTION }),
    "repointing alice's registry id at mallory's contract": () => bindContract(url, mallory, { id: "mc-mallory", chainId: CHAIN, tokenAddress: COLLECTION_M, isRegistry: true, registryId: REG }),
    "a contract id shadowing alice's registry id": () => bindContract(url, mallory, { id: REG, cid: moduleCid, chainId: CHAIN, tokenAddress: COLLECTION_M }),
    "a registry id shadowing alice's contract id": () => bindContract(url, mallory, { id: "mc-mallory", chainId: CHAIN, tokenAddress: COLLECTION_M, isRegistry: true, registryId: MC }),
  };

  for (const [name, attempt] of Object.entries(attempts)) {
    it(`${name}: success false, receipt status 2, binding unchanged`, async () => {
      const r = await attempt();
      assert.equal(r.success, false, JSON.stringify(r));
      assert.equal(r.receipt.status, 2, JSON.stringify(r));
      assert.notEqual(r.receipt.error_text, "");
      const receipt = await call(url, "get_transaction_receipt", [r.transaction_hash]);
      assert.equal(receipt.receipt.status, 2);
      assert.deepEqual(await state(), snapshot);
    });
  }

  it("alice's own metadata still goes through her contract", async () => {
    await publishOk(await alice.sign(metadataFields(alice, { token_id: "after-hijack", data: "{}" })));
    // And through her registry id.
    const viaReg = await publishOk(await alice.sign(metadataFields(alice, { meta_contract_id: REG, token_id: "after-hijack-reg", data: "{}" })));
    assert.equal(viaReg.cids.length, 1);
  });
});

// ---------------------------------------------------------------------------------------------
describe("(h) gateway edge cases", T, () => {
  let blockCid;

  before(async () => {
    blockCid = (await publishOk(await alice.sign(metadataFields(alice, { token_id: "edge-1", data: '{"edge":true}' })))).cid;
  });

  it("unknown CID → 404, malformed CID → 400, bad format → 400", async () => {
    const unknown = CID.create(1, dagCbor.code, await sha256.digest(randomBytes(32))).toString();
    assert.equal((await gatewayGet(url, `/ipfs/${unknown}`)).status, 404);
    assert.equal((await gatewayGet(url, `/ipfs/${unknown}?format=car`)).status, 404);
    assert.equal((await gatewayGet(url, `/ipfs/${unknown}?format=dag-json`)).status, 404);
    assert.equal((await gatewayGet(url, `/ipfs/${unknown}`, { method: "HEAD" })).status, 404);
    for (const bad of ["not-a-cid", "bafy", "Qm", "bafyreiXXXX", "%00"]) {
      assert.equal((await gatewayGet(url, `/ipfs/${bad}`)).status, 400, bad);
    }
    assert.equal((await gatewayGet(url, `/ipfs/${blockCid}?format=tar`)).status, 400);
    const r = await call(url, "ipfs_get", [unknown]);
    assert.equal(r.success, false);
    assert.equal((await rpc(url, "ipfs_get", ["not-a-cid"])).error?.code, -32602);
  });

  it("bafkqaaa (identity CID of no bytes) → 200 with an empty body", async () => {
    const r = await gatewayGet(url, "/ipfs/bafkqaaa");
    assert.equal(r.status, 200);
    assert.equal(r.bytes.length, 0);
    assert.equal(r.headers.get("content-length"), "0");
    const raw = await gatewayGet(url, "/ipfs/bafkqaaa?format=raw");
    assert.equal(raw.status, 200);
    assert.equal(raw.bytes.length, 0);
  });

  it("headers: Etag, immutable Cache-Control, content type; HEAD has them and no body; If-None-Match → 304", async () => {
    const get = await gatewayGet(url, `/ipfs/${blockCid}?format=raw`);
    assert.equal(get.status, 200);
    assert.equal(get.headers.get("cache-control"), "public, max-age=29030400, immutable");
    const etag = get.headers.get("etag");
    assert.ok(etag && etag.includes(blockCid), `etag ${etag}`);
    assert.equal(get.headers.get("content-type"), "application/vnd.ipld.raw");
    assert.equal(get.headers.get("x-content-type-options"), "nosniff");
    assert.equal(get.headers.get("content-length"), String(get.bytes.length));
    assert.equal(get.headers.get("access-control-allow-origin"), "*");

    const head = await gatewayGet(url, `/ipfs/${blockCid}?format=raw`, { method: "HEAD" });
    assert.equal(head.status, 200);
    assert.equal(head.bytes.length, 0);
    assert.equal(head.headers.get("etag"), etag);
    assert.equal(head.headers.get("cache-control"), "public, max-age=29030400, immutable");
    assert.equal(head.headers.get("content-length"), String(get.bytes.length));

    const car = await gatewayGet(url, `/ipfs/${blockCid}?format=car`);
    assert.notEqual(car.headers.get("etag"), etag, "each format has its own Etag");
    assert.equal(car.headers.get("cache-control"), "public, max-age=29030400, immutable");

    const cached = await gatewayGet(url, `/ipfs/${blockCid}?format=raw`, { headers: { "if-none-match": etag } });
    assert.equal(cached.status, 304);
    assert.equal(cached.bytes.length, 0);
  });

  it("unknown methods, including Object.prototype names, are -32601 no_method", async () => {
    for (const m of ["constructor", "__proto__", "toString", "hasOwnProperty", "prototype", "", "PUBLISH", "publish ", "get_metadata\u0000"]) {
      const r = await rpc(url, m, []);
      assert.equal(r.error?.code, -32601, `${JSON.stringify(m)}: ${JSON.stringify(r)}`);
      assert.equal(r.error?.data?.code, "no_method");
    }
  });

  it("a batch request gets one reply per call (notifications none)", async () => {
    const batch = [
      { jsonrpc: "2.0", id: "a", method: "get_node_clock" },
      { jsonrpc: "2.0", id: 2, method: "generate_token_key", params: [CHAIN, COLLECTION] },
      { jsonrpc: "2.0", id: 3, method: "constructor" },
      { jsonrpc: "2.0", method: "get_node_clock" }, // notification
      { jsonrpc: "2.0", id: 5, method: "get_metadata", params: recordKey(alice, "edge-1") },
    ];
    const r = await rpcRaw(url, batch);
    assert.equal(r.status, 200);
    assert.ok(Array.isArray(r.json), r.text);
    assert.equal(r.json.length, 4);
    const byId = Object.fromEntries(r.json.map((x) => [x.id, x]));
    assert.ok(Math.abs(byId.a.result.timestamp - Date.now()) < 10_000);
    assert.equal(byId[2].result, tokenKey(CHAIN, COLLECTION));
    assert.equal(byId[3].error.code, -32601);
    assert.equal(byId[5].result.metadata.cid, blockCid);
    const empty = await rpcRaw(url, []);
    assert.equal(empty.json?.error?.code, -32600);
  });

  it("a non-JSON body is -32700; a non-2.0 request -32600; bad params -32602", async () => {
    for (const body of ["nope", "{", "", '{"jsonrpc":"2.0","id":1,"method":"get_node_clock"'] ) {
      const r = await rpcRaw(url, body);
      assert.equal(r.json?.error?.code, -32700, `${JSON.stringify(body)}: ${r.status} ${r.text}`);
      assert.equal(r.json.id, null);
    }
    const v1 = await rpcRaw(url, { id: 1, method: "get_node_clock" });
    assert.equal(v1.json?.error?.code, -32600);
    const notObject = await rpcRaw(url, [1]);
    assert.equal(notObject.json?.[0]?.error?.code, -32600);
    const badParams = await rpc(url, "get_metadata", [1, 2, 3]);
    assert.equal(badParams.error?.code, -32602);
    assert.equal(badParams.error?.data?.code, "invalid_params");
    const badPublish = await rpc(url, "publish", "x");
    assert.equal(badPublish.error?.code, -32602);
  });

  it("CORS: access-control-allow-origin: * on JSON-RPC, gateway and preflight", async () => {
    const post = await rpcRaw(url, { jsonrpc: "2.0", id: 1, method: "get_node_clock" }, { headers: { origin: "https://dapp.example" } });
    assert.equal(post.headers.get("access-control-allow-origin"), "*");
    const get = await gatewayGet(url, `/ipfs/${blockCid}`, { headers: { origin: "https://dapp.example" } });
    assert.equal(get.headers.get("access-control-allow-origin"), "*");
    const pre = await fetch(`${url}/api/v0/json-rpc`, {
      method: "OPTIONS",
      headers: { origin: "https://dapp.example", "access-control-request-method": "POST", "access-control-request-headers": "content-type" },
    });
    await pre.arrayBuffer();
    assert.ok(pre.status >= 200 && pre.status < 300, `preflight ${pre.status}`);
    assert.equal(pre.headers.get("access-control-allow-origin"), "*");
    assert.match(pre.headers.get("access-control-allow-methods") ?? "", /POST/);
  });

  it("get_node_clock is the node's time in ms", async () => {
    const r = await call(url, "get_node_clock");
    assert.equal(r.success, true);
    assert.ok(Math.abs(r.timestamp - Date.now()) < 10_000, String(r.timestamp));
  });
});
