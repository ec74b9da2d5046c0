// Lineage Edge example extension — the popup's script (popup.html; a file, as the CSP allows no
// inline script). It keeps the form in chrome.storage.local (a popup is closed whenever it loses
// focus), sends each action to the service worker (background.js) with chrome.runtime.sendMessage
// and shows the answer: the connection (peer id, relay), a verified record (content, CID,
// versions), a published one (CID, transaction hash), or an error with its code.
//
// The result area's `data-state` says what it shows: idle, working, connected, verified,
// published or error; its `data-finished` counts finished actions. The body gets
// `data-ready="true"` once the worker answered the first status request.

const FORM_KEY = "lineage-edge.form"; // chrome.storage.local
const FIELDS = ["gateway", "relay", "chainId", "tokenAddress", "tokenId", "metaContractId", "publicKey", "alias", "version", "data"];
const DEFAULTS = {
  gateway: "http://127.0.0.1:3030", // lineage-node's default --http-port
  relay: "", // /ip4/127.0.0.1/tcp/9999/ws/p2p/<the node's peer id>, as the node prints it
  chainId: "80001",
  tokenAddress: "",
  tokenId: "1",
  metaContractId: "open",
  publicKey: "",
  alias: "",
  version: "v1",
  data: '{"name": "example"}',
};

const $ = (id) => document.getElementById(id);
const coded = (code, message) => Object.assign(new Error(message), { code });
const buttons = ["connect", "verify", "publish", "use-own-key"].map($);
let ownPublicKey = null;
let finished = 0; // actions finished, as #result's data-finished (a test waits for it to change)

// --- the worker -------------------------------------------------------------------------------

/** Sends `msg` to the service worker; resolves to its answer, rejects with {code, message}. */
async function ask(msg) {
  let reply;
  try {
    reply = await chrome.runtime.sendMessage(msg);
  } catch (err) {
    throw coded("NO_WORKER", `the service worker did not answer: ${err?.message ?? err}`);
  }
  if (reply?.error) throw Object.assign(new Error(reply.error.message), reply.error); // keeps code, reason, index
  if (!reply?.ok) throw coded("NO_WORKER", `the service worker answered ${JSON.stringify(reply)}`);
  return reply;
}

// --- the form ---------------------------------------------------------------------------------

function values() {
  return Object.fromEntries(FIELDS.map((f) => [f, $(f).value.trim()]));
}

async function loadForm() {
  const saved = (await chrome.storage.local.get(FORM_KEY))[FORM_KEY] ?? {};
  for (const f of FIELDS) $(f).value = saved[f] ?? DEFAULTS[f];
}

function saveForm() {
  chrome.storage.local.set({ [FORM_KEY]: values() }).catch((err) => console.error("lineage-edge: saving the form failed:", err));
}

const record = (v) => ({ gateway: v.gateway, chainId: v.chainId, tokenAddress: v.tokenAddress, tokenId: v.tokenId, metaContractId: v.metaContractId, publicKey: v.publicKey, alias: v.alias, version: v.version });

// --- showing ----------------------------------------------------------------------------------

function showConnection(c) {
  $("connection").dataset.state = c.state;
  $("connection-state").textContent = c.state;
  $("connection-relay").textContent = c.relay ?? "";
  $("peer-id").textContent = c.peerId ?? "–";
  $("relay-peer-id").textContent = c.relayPeerId ?? "–";
}

function showResult(state, { title, cid = "", versions = "", tx = "", content, history = [], error } = {}) {
  $("result").dataset.state = state;
  $("result-title").textContent = title;
  $("result-cid").textContent = cid;
  $("result-versions").textContent = String(versions);
  $("result-tx").textContent = tx;
  $("result-content").textContent = content === undefined ? "" : JSON.stringify(content, null, 2);
  $("result-history").replaceChildren(
    ...history.map((v) => {
      const li = document.createElement("li");
      li.textContent = `${JSON.stringify(v.content)} — ${v.replayed ? "replayed" : "not replayed"}, ${new Date(v.timestamp).toISOString()}`;
      li.dataset.cid = v.cid;
      return li;
    }),
  );
  $("error-code").textContent = error?.code ?? "";
  $("error-message").textContent = error ? error.message + (error.reason ? ` (reason: ${error.reason})` : "") : "";
}

/** Runs one action with the buttons disabled; a failure is shown with its code. */
async function run(label, action) {
  for (const b of buttons) b.disabled = true;
  showResult("working", { title: `${label}…` });
  try {
    await action();
  } catch (err) {
    const error = { code: err?.code ?? "ERROR", message: String(err?.message ?? err), reason: err?.reason };
    showResult("error", { title: `${label} failed: ${error.code}`, error });
  } finally {
    for (const b of buttons) b.disabled = false;
    $("result").dataset.finished = String(++finished);
  }
}

// --- actions ----------------------------------------------------------------------------------

async function onConnect() {
  const v = values();
  const { connection, ping } = await ask({ type: "connect", relay: v.relay });
  showConnection(connection);
  showResult("connected", { title: `Connected to ${connection.relayPeerId} as ${connection.peerId}; a particle went to the relay and back in ${ping.ms} ms` });
}

async function onVerify() {
  const v = values();
  const r = await ask({ type: "verify", record: record(v) });
  const replayed = r.versions.every((x) => x.replayed);
  showResult("verified", {
    title: `Verified: ${r.versions.length} version${r.versions.length === 1 ? "" : "s"}, signatures checked${replayed ? ", meta contract replayed" : ""}`,
    cid: r.cid,
    versions: r.versions.length,
    content: r.content,
    history: r.versions,
  });
}

async function onPublish() {
  const v = values();
  const tx = { ...record(v), data: v.data };
  delete tx.publicKey; // the worker signs with its own key
  const r = await ask({ type: "publish", tx });
  showResult("published", { title: `Published as ${r.publicKey}${r.prev ? " (replaces the previous version)" : " (first version)"}`, cid: r.cid, tx: r.transactionHash });
}

function onUseOwnKey() {
  if (!ownPublicKey) return;
  $("publicKey").value = ownPublicKey;
  saveForm();
}

// --- start ------------------------------------------------------------------------------------

document.addEventListener("DOMContentLoaded", async () => {
  $("connect").addEventListener("click", () => run("Connect", onConnect));
  $("verify").addEventListener("click", () => run("Verify", onVerify));
  $("publish").addEventListener("click", () => run("Publish", onPublish));
  $("use-own-key").addEventListener("click", onUseOwnKey);
  $("form").addEventListener("input", saveForm);
  $("form").addEventListener("submit", (e) => e.preventDefault());
  await run("Loading", async () => {
    await loadForm();
    const status = await ask({ type: "status" });
    ownPublicKey = status.publicKey;
    $("own-public-key").textContent = ownPublicKey;
    showConnection(status.connection);
    showResult("idle", { title: "Ready." });
  });
  document.body.dataset.ready = "true";
});
