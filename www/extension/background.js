// Lineage Edge example extension — the background service worker (MV3, an ES module).
//
// It runs the @lineage-edge/js-client package (copied to lib/dist/ by build.mjs) under the
// extension's CSP `script-src 'self' 'wasm-unsafe-eval'`: the package's two wasm files are
// compiled here, with no eval and no dynamic import(). A service worker has no
// RTCPeerConnection, so the light peer dials the relay over WebSocket (a `/ws` multiaddr).
//
// The popup (popup.js) sends it one message per action and shows the answer:
//   {type: "status"}                         → {ok, connection, publicKey, instance}
//   {type: "connect", relay}                 → {ok, connection, ping}    (Fluence.connect over /ws, then
//                                               one particle to the relay and back)
//   {type: "disconnect"}                     → {ok, connection}
//   {type: "verify", record}                 → {ok, cid, content, versions, stages}   (verifyMetadata)
//   {type: "publish", tx, seed?}             → {ok, cid, transactionHash, publicKey, prev, stages} (publishMetadata)
//   {type: "environment"}                    → {ok, environment}  (what this worker is: for checks)
// and every failure as {error: {code, message, reason?, index?}} with the package's error code.
//
// Its identity is one Ed25519 key: the peer id it connects with and the public key it signs
// Lineage transactions with (keyPairSigner — there is no wallet in a service worker). The key's
// 32-byte seed is kept in chrome.storage.local, so it survives the worker being stopped and
// restarted. Nothing is hard-coded but the defaults in popup.js (127.0.0.1): the gateway and the
// relay come with each message.
import { Fluence, KeyPair, callAquaFunction, keyPairSigner, publishMetadata, verifyMetadata } from "./lib/dist/index.js";

const SEED_KEY = "lineage-edge.seed"; // chrome.storage.local: the seed as 64 hex digits
// New each time Chromium starts this worker (it stops idle ones): tells a restart from a wake-up.
const INSTANCE = crypto.randomUUID();

/** An Error with a `code`, as the package throws them. */
function coded(code, message) {
  return Object.assign(new Error(message), { code });
}

const toHex = (bytes) => [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");

function fromHex(hex, what) {
  if (typeof hex !== "string" || !/^[0-9a-fA-F]{64}$/.test(hex)) throw coded("BAD_ARGUMENT", `${what} must be 64 hex digits (a 32-byte Ed25519 seed)`);
  return Uint8Array.from(hex.match(/../g), (h) => parseInt(h, 16));
}

// --- the key --------------------------------------------------------------------------------

let keyPairLoading; // Promise<KeyPair>, made once per worker start

/** This extension's key pair: the stored one, or a new random one that is then stored. */
function ownKeyPair() {
  keyPairLoading ??= (async () => {
    const stored = (await chrome.storage.local.get(SEED_KEY))[SEED_KEY];
    if (stored !== undefined) return KeyPair.fromEd25519SK(fromHex(stored, "the stored seed"));
    const kp = await KeyPair.randomEd25519();
    await chrome.storage.local.set({ [SEED_KEY]: toHex(kp.toEd25519PrivateKey()) });
    return kp;
  })().catch((err) => {
    keyPairLoading = undefined; // let the next request try again
    throw err;
  });
  return keyPairLoading;
}

/** The Lineage public key (base58 Ed25519) transactions signed with `keyPair` carry. */
const lineagePublicKey = (keyPair) => keyPairSigner(keyPair).publicKey();

// --- the relay connection -------------------------------------------------------------------

let connectedRelay = null; // the multiaddr of the last successful connect

/** What the popup shows about the connection. */
function connection() {
  const client = Fluence.defaultClient;
  if (!client) return { state: "disconnected", peerId: null, relayPeerId: null, relay: null };
  return { state: client.connectionState, peerId: client.getPeerId(), relayPeerId: client.getRelayPeerId(), relay: connectedRelay };
}

async function connect(relay) {
  if (typeof relay !== "string" || !relay.includes("/ws/p2p/")) {
    // Not a rule of the package: a service worker has no RTCPeerConnection, so webrtc-direct
    // addresses cannot work here.
    throw coded("BAD_RELAY", `a service worker dials the relay over WebSocket: give its /ws multiaddr (…/tcp/<port>/ws/p2p/<peer id>), not ${JSON.stringify(relay)}`);
  }
  await Fluence.disconnect(); // a second Connect replaces the first connection
  connectedRelay = null;
  const keyPair = await ownKeyPair();
  await Fluence.connect(relay, { keyPair: { type: "Ed25519", source: keyPair.toEd25519PrivateKey() }, connectionOptions: { dialTimeoutMs: 10_000 } });
  connectedRelay = relay;
  return connection();
}

// A particle to the relay and back: the relay's `op identity` echoes a nonce this peer sent.
const PING_AIR = `
(xor
  (seq
    (seq
      (seq (call %init_peer_id% ("getDataSrv" "-relay-") [] -relay-)
           (call %init_peer_id% ("getDataSrv" "nonce") [] nonce))
      (call -relay- ("op" "identity") [nonce] echoed))
    (call %init_peer_id% ("callbackSrv" "response") [echoed]))
  (call %init_peer_id% ("errorHandlingSrv" "error") [%last_error% 0]))`;

/** Sends PING_AIR through the connected relay; resolves to {nonce, echoed, ms}. */
async function pingRelay() {
  const nonce = crypto.randomUUID();
  const t0 = performance.now();
  const echoed = await callAquaFunction({ script: PING_AIR, config: { ttl: 10_000 }, peer: Fluence.getClient(), args: { nonce }, fireAndForget: false });
  if (echoed !== nonce) throw coded("PING_MISMATCH", `the relay echoed ${JSON.stringify(echoed)}, not the nonce ${nonce}`);
  return { nonce, echoed, ms: Math.round(performance.now() - t0) };
}

// --- verify and publish ---------------------------------------------------------------------

const RECORD_FIELDS = ["gateway", "chainId", "tokenAddress", "tokenId", "metaContractId", "publicKey", "version"];

async function verify(record) {
  for (const f of RECORD_FIELDS) if (typeof record?.[f] !== "string" || record[f] === "") throw coded("BAD_ARGUMENT", `the record needs ${f}`);
  const stages = [];
  const got = await verifyMetadata({ ...record, alias: record.alias ?? "", onProgress: (p) => stages.at(-1) !== p.stage && stages.push(p.stage) });
  return {
    cid: got.cid,
    content: got.content,
    // Newest first; the fields the popup shows (a message carries JSON only).
    versions: got.versions.map((v) => ({ cid: v.cid, content: v.content, replayed: v.replayed, publicKey: v.transaction.public_key, timestamp: v.transaction.timestamp, prev: v.transaction.prev })),
    stages,
  };
}

async function publish(tx, seed) {
  if (typeof tx !== "object" || tx === null) throw coded("BAD_ARGUMENT", "publish needs tx");
  for (const f of ["gateway", "chainId", "tokenAddress", "tokenId", "metaContractId", "version"]) {
    if (typeof tx[f] !== "string" || tx[f] === "") throw coded("BAD_ARGUMENT", `the transaction needs ${f}`);
  }
  const keyPair = seed === undefined ? await ownKeyPair() : await KeyPair.fromEd25519SK(fromHex(seed, "seed"));
  const signer = keyPairSigner(keyPair);
  const stages = [];
  const r = await publishMetadata({ ...tx, alias: tx.alias ?? "", signer, onProgress: (p) => stages.push(p.stage) });
  return { cid: r.cid, transactionHash: r.transactionHash, publicKey: r.request.public_key, prev: r.request.prev, stages };
}

// --- what this worker is ----------------------------------------------------------------------

/** Facts about this global scope, for the popup's footer and the test. */
function environment() {
  let evalAllowed;
  try {
    // Blocked unless the CSP has 'unsafe-eval' (MV3 forbids it): proves the wasm needed only
    // 'wasm-unsafe-eval'.
    evalAllowed = new Function("return true")() === true;
  } catch (err) {
    if (!(err instanceof EvalError)) throw err;
    evalAllowed = false;
  }
  return {
    serviceWorker: typeof ServiceWorkerGlobalScope === "function" && self instanceof ServiceWorkerGlobalScope,
    hasRTCPeerConnection: typeof globalThis.RTCPeerConnection !== "undefined",
    hasWebSocket: typeof globalThis.WebSocket === "function",
    hasDocument: typeof globalThis.document !== "undefined",
    evalAllowed,
    wasmCompiled: wasmCompiled(),
    location: self.location.href,
  };
}

/** Whether WebAssembly compiles here (it needs 'wasm-unsafe-eval' under an extension CSP). */
function wasmCompiled() {
  // The smallest module: magic and version.
  try {
    return new WebAssembly.Module(new Uint8Array([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00])) instanceof WebAssembly.Module;
  } catch (err) {
    if (err instanceof WebAssembly.CompileError || err instanceof EvalError) return false;
    throw err;
  }
}

// --- messages ---------------------------------------------------------------------------------

async function handle(msg) {
  switch (msg?.type) {
    case "status":
      return { connection: connection(), publicKey: await lineagePublicKey(await ownKeyPair()), instance: INSTANCE };
    case "connect":
      return { connection: await connect(msg.relay), ping: await pingRelay() };
    case "disconnect":
      await Fluence.disconnect();
      connectedRelay = null;
      return { connection: connection() };
    case "verify":
      return verify(msg.record);
    case "publish":
      return publish(msg.tx, msg.seed);
    case "environment":
      return { environment: environment() };
    default:
      throw coded("BAD_ARGUMENT", `unknown request ${JSON.stringify(msg?.type)}`);
  }
}

// Registered synchronously at the top level, as MV3 requires for a worker woken by a message.
chrome.runtime.onMessage.addListener((msg, sender, sendResponse) => {
  if (sender.id !== chrome.runtime.id) return false; // only our own pages
  handle(msg).then(
    (result) => sendResponse({ ok: true, ...result }),
    (err) => {
      const error = { code: err?.code ?? "ERROR", message: String(err?.message ?? err) };
      console.warn(`lineage-edge: ${msg?.type} failed: ${error.code}: ${error.message}`);
      if (err?.reason !== undefined) error.reason = err.reason; // PUBLISH_REJECTED: the node's code
      if (err?.index !== undefined) error.index = err.index; // HISTORY_INVALID / REPLAY_FAILED: the bad version
      sendResponse({ error });
    },
  );
  return true; // the answer comes asynchronously
});
