// Helpers for the metadata end-to-end tests: start `lineage-node` with its HTTP gateway (through
// the interop harness's `startNode`), call its JSON-RPC methods, build and sign Lineage
// transactions in strong mode (EIP-712 with ethers v6, Ed25519 over the canonical bytes with
// node:crypto) and legacy mode, and verify gateway blocks with multiformats / @ipld/dag-cbor.
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign as cryptoSign } from "node:crypto";
import { homedir } from "node:os";
import { join } from "node:path";

import * as dagCbor from "@ipld/dag-cbor";
import { base58btc } from "multiformats/bases/base58";
import { CID } from "multiformats/cid";
import { sha256 } from "multiformats/hashes/sha2";

import { fixtureBase64, startNode as harnessStartNode } from "../interop/harness.mjs";

export const NODE_BIN = process.env.LINEAGE_NODE_BIN ?? join(homedir(), ".cache", "lineage-edge", "target", "debug", "lineage-node");

/** Starts a node (fresh temporary data dir unless `dataDir`) and checks it printed its gateway URL. */
export async function startNode({ args = [], dataDir, readyTimeoutMs = 60_000 } = {}) {
  const node = await harnessStartNode({ bin: NODE_BIN, args, dataDir, readyTimeoutMs });
  if (!node.httpUrl || !/^http:\/\/127\.0\.0\.1:\d+$/.test(node.httpUrl)) {
    await node.stop(1_000);
    throw new Error(`node printed no "http: http://127.0.0.1:<port>" line before "ready"; stdout:\n${node.stdout()}`);
  }
  return node;
}

// --- JSON-RPC ---

let nextId = 1;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * `fetch`, waiting out the gateway's per-IP rate limit: a 429 is retried after its Retry-After
 * (at most 5 times), so long verification loops do not fail on the limiter.
 */
async function fetchPolitely(input, init) {
  for (let attempt = 0; ; attempt++) {
    const res = await fetch(input, { ...init, signal: AbortSignal.timeout(30_000) });
    if (res.status !== 429 || attempt >= 5) return res;
    await res.arrayBuffer();
    await sleep(1000 * Number(res.headers.get("retry-after") ?? 1));
  }
}

/** POSTs `body` (a string is sent as is) to the node's JSON-RPC endpoint; returns { status, headers, text, json }. */
export async function rpcRaw(url, body, { headers = {} } = {}) {
  const res = await fetchPolitely(`${url}/api/v0/json-rpc`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  const text = await res.text();
  let json;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, text, json };
}

/** One JSON-RPC call; returns the whole reply ({jsonrpc, id, result} or {jsonrpc, id, error}). */
export async function rpc(url, method, params) {
  const id = nextId++;
  const msg = { jsonrpc: "2.0", id, method };
  if (params !== undefined) msg.params = params;
  const r = await rpcRaw(url, msg);
  if (r.status !== 200 || !r.json) throw new Error(`${method}: HTTP ${r.status}: ${r.text}`);
  if (r.json.id !== id) throw new Error(`${method}: reply id ${r.json.id} is not ${id}`);
  return r.json;
}

/** A JSON-RPC error thrown by `call`: `.rpc` is the error object {code, message, data}. */
export class RpcError extends Error {
  constructor(method, error) {
    super(`${method}: JSON-RPC error ${error.code} (${error.data?.code ?? "-"}): ${error.message}`);
    this.rpc = error;
  }
}

/** One JSON-RPC call; returns its `result`, throws an `RpcError` for an `error` reply. */
export async function call(url, method, params) {
  const r = await rpc(url, method, params);
  if (r.error) throw new RpcError(method, r.error);
  return r.result;
}

// --- transactions ---

export const FIELDS = ["method", "meta_contract_id", "chain_id", "token_address", "token_id", "alias", "version", "mcdata", "data", "prev"];

/** A TransactionRequest with every field present (strings "" by default, timestamp now). */
export function request(fields = {}) {
  return {
    meta_contract_id: "",
    alias: "",
    public_key: "",
    signature: "",
    data: "",
    method: "metadata",
    chain_id: "",
    token_address: "",
    token_id: "",
    version: "",
    mcdata: "",
    timestamp: Date.now(),
    prev: "",
    ...fields,
  };
}

function pushStr(parts, s) {
  const b = Buffer.from(s, "utf8");
  const len = Buffer.alloc(4);
  len.writeUInt32BE(b.length);
  parts.push(len, b);
}

/** Strong mode's canonical bytes (docs/metadata-signing.md), computed independently of the node. */
export function canonicalBytes(req) {
  const parts = [];
  pushStr(parts, "lineage-tx-v1");
  for (const f of FIELDS) pushStr(parts, req[f]);
  const ts = Buffer.alloc(8);
  ts.writeBigUInt64BE(BigInt(req.timestamp));
  parts.push(ts);
  return Buffer.concat(parts);
}

export const b58 = (bytes) => base58btc.baseEncode(bytes);
export const unb58 = (s) => base58btc.baseDecode(s);

/** An EVM address (`0x`/`0X`…) lower-cased, as the node stores and hashes it; other keys as they are. */
export const normalizeKey = (k) => (/^0x/i.test(k) ? k.toLowerCase() : k);

/**
 * base58btc(sha256(canonical bytes ‖ u32be len(public_key) ‖ public_key)), with an EVM
 * public_key lower-cased first (docs/metadata-signing.md, "The transaction hash").
 */
export function transactionHash(req) {
  const parts = [canonicalBytes(req)];
  pushStr(parts, normalizeKey(req.public_key));
  return b58(createHash("sha256").update(Buffer.concat(parts)).digest());
}

/** Lineage's data_key / token_key: base58(sha256(lower-cased parts joined with nothing)). */
export const dataKey = (chainId, tokenAddress, tokenId) =>
  b58(createHash("sha256").update([chainId, tokenAddress, tokenId].map((s) => s.toLowerCase()).join("")).digest());
export const tokenKey = (chainId, tokenAddress) =>
  b58(createHash("sha256").update([chainId, tokenAddress].map((s) => s.toLowerCase()).join("")).digest());

// EIP-712
export const EIP712_DOMAIN = { name: "lineage-tx", version: "1" };
export const EIP712_TYPES = {
  LineageTransaction: [...FIELDS.map((name) => ({ name, type: "string" })), { name: "timestamp", type: "uint64" }],
};

/** The EIP-712 message of a request (timestamp a decimal string, as eth_signTypedData_v4 JSON has it). */
export function typedMessage(req) {
  const m = {};
  for (const f of FIELDS) m[f] = req[f];
  m.timestamp = String(req.timestamp);
  return m;
}

/** What we expect `signing_payload`'s `typed_data` to be. */
export function typedData(req) {
  return {
    types: {
      EIP712Domain: [
        { name: "name", type: "string" },
        { name: "version", type: "string" },
      ],
      ...EIP712_TYPES,
    },
    primaryType: "LineageTransaction",
    domain: { ...EIP712_DOMAIN },
    message: typedMessage(req),
  };
}

/** An EVM signer: an ethers v6 Wallet. `sign(req)` fills public_key and signature (strong mode). */
export function evmSigner(wallet) {
  return {
    kind: "evm",
    wallet,
    publicKey: wallet.address, // checksummed; the node stores it lower-cased
    storedKey: wallet.address.toLowerCase(),
    async sign(fields) {
      const req = request({ ...fields, public_key: fields.public_key ?? wallet.address });
      req.signature = await wallet.signTypedData(EIP712_DOMAIN, EIP712_TYPES, typedMessage(req));
      return req;
    },
    /** Lineage's legacy form: EIP-191 personal_sign over `data` only. */
    async signLegacy(fields) {
      const req = request({ ...fields, public_key: fields.public_key ?? wallet.address });
      req.signature = await wallet.signMessage(req.data);
      return req;
    },
  };
}

/** An Ed25519 signer from node:crypto: a random key, or the one of a 32-byte `seed`. */
export function ed25519Signer(seed) {
  let privateKey;
  let publicKey;
  if (seed) {
    // PKCS#8 wrapping of a raw Ed25519 seed (RFC 8410).
    const der = Buffer.concat([Buffer.from("302e020100300506032b657004220420", "hex"), Buffer.from(seed)]);
    privateKey = createPrivateKey({ key: der, format: "der", type: "pkcs8" });
    publicKey = createPublicKey(privateKey);
  } else {
    ({ privateKey, publicKey } = generateKeyPairSync("ed25519"));
  }
  const raw = Buffer.from(publicKey.export({ format: "jwk" }).x, "base64url");
  if (raw.length !== 32) throw new Error("ed25519 public key is not 32 bytes");
  const pk = b58(raw);
  return {
    kind: "ed25519",
    publicKey: pk,
    storedKey: pk,
    privateKey,
    async sign(fields) {
      const req = request({ ...fields, public_key: fields.public_key ?? pk });
      req.signature = b58(cryptoSign(null, canonicalBytes(req), privateKey));
      return req;
    },
    async signLegacy(fields) {
      const req = request({ ...fields, public_key: fields.public_key ?? pk });
      req.signature = b58(cryptoSign(null, Buffer.from(req.data, "utf8"), privateKey));
      return req;
    },
  };
}

// --- meta contracts ---

/** Uploads tests/fixtures/<name>.wasm with put_module; returns its CID. */
export async function putModule(url, name = "mc_open") {
  const r = await call(url, "put_module", [await fixtureBase64(name)]);
  if (!r.success || !/^bafk/.test(r.cid)) throw new Error(`put_module: ${JSON.stringify(r)}`);
  return r.cid;
}

/** The `data` of a `contract` transaction. */
export function contractData({ id, cid = "", isRegistry = false, registryId = "", registryName = "" }) {
  return JSON.stringify({ is_registry: isRegistry, registry_id: registryId, registry_name: registryName, meta_contract_id: id, migrate_from: "", cid });
}

/** Publishes a signed `contract` transaction binding `id` (module `cid`) to a collection; returns the publish result. */
export async function bindContract(url, signer, { id, cid, chainId, tokenAddress, ...rest }) {
  const req = await signer.sign({
    method: "contract",
    meta_contract_id: id,
    chain_id: chainId,
    token_address: tokenAddress,
    token_id: "",
    data: contractData({ id, cid, ...rest }),
  });
  return call(url, "publish", req);
}

// --- blocks ---

/** GET /ipfs/<cid> with a query string; returns { status, headers, bytes }. */
export async function gatewayGet(url, path, { method = "GET", headers = {} } = {}) {
  const res = await fetchPolitely(`${url}${path}`, { method, headers });
  const bytes = new Uint8Array(await res.arrayBuffer());
  return { status: res.status, headers: res.headers, bytes };
}

/** The CID of dag-cbor `bytes` (CIDv1, sha2-256), recomputed here. */
export async function dagCborCid(bytes) {
  return CID.create(1, dagCbor.code, await sha256.digest(bytes));
}

/** Fetches a raw block, checks it hashes to `cid` and decodes it. Returns { bytes, block, cid }. */
export async function fetchBlock(url, cid) {
  const r = await gatewayGet(url, `/ipfs/${cid}?format=raw`);
  if (r.status !== 200) throw new Error(`GET /ipfs/${cid}?format=raw: HTTP ${r.status}: ${Buffer.from(r.bytes).toString()}`);
  const actual = await dagCborCid(r.bytes);
  if (actual.toString() !== String(cid)) throw new Error(`block served for ${cid} hashes to ${actual}`);
  return { bytes: r.bytes, block: dagCbor.decode(r.bytes), cid: actual };
}

export { CID, dagCbor, sha256, base58btc };
