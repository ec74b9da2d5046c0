// The Lineage Edge demo dApp: connects to a node as a light peer (state shown live, reconnects by
// itself), looks a token's metadata up and verifies it here — every block re-hashed, every
// signature checked, the meta contract rerun on wasmi — shows its version history, and publishes
// an edit signed by the wallet the user has (EIP-6963 discovery, EIP-712 typed data), after which
// the new version is verified the same way. A node that serves tampered data gets a red badge
// naming the first bad version.
//
// Configuration: URL query parameters, else the VITE_LINEAGE_* values `npm start` sets, else the
// node's embedded defaults (gateway http://127.0.0.1:3030).
import { createClient, discoverWallets, publishMetadata, verifyMetadata, walletSigner } from "@lineage-edge/js-client";

const $ = (id) => document.getElementById(id);
const query = new URLSearchParams(location.search);
const env = import.meta.env ?? {};
const setting = (name, envName, fallback = "") => query.get(name) ?? env[envName] ?? fallback;

const config = {
  gateway: setting("gateway", "VITE_LINEAGE_GATEWAY", "http://127.0.0.1:3030").replace(/\/+$/, ""),
  relay: setting("relay", "VITE_LINEAGE_RELAY"),
  chain: setting("chain", "VITE_LINEAGE_CHAIN", "80001"),
  collection: setting("collection", "VITE_LINEAGE_COLLECTION"),
  contract: setting("contract", "VITE_LINEAGE_CONTRACT", "lineage-demo"),
  publisher: setting("publisher", "VITE_LINEAGE_PUBLISHER"),
  version: setting("version", "VITE_LINEAGE_VERSION", "v1"),
  token: setting("token", "VITE_LINEAGE_TOKEN", "1"),
  samples: setting("samples", "VITE_LINEAGE_SAMPLES", "").split(",").filter(Boolean),
};

// ---- the node connection ----------------------------------------------------------------------

function showState(state, detail = "") {
  const pill = $("node-state");
  pill.dataset.state = state;
  pill.textContent = state;
  $("node-detail").textContent = detail;
  document.body.dataset.nodeState = state;
}

async function connect() {
  if (!config.relay) {
    showState("disconnected", "no relay configured (?relay=/ip4/…/ws/p2p/…)");
    return;
  }
  showState("connecting", config.relay);
  try {
    const client = await createClient(config.relay, { connectionOptions: { reconnect: true } });
    const describe = () => `peer ${client.getPeerId().slice(-8)} via relay ${client.getRelayPeerId().slice(-8)}`;
    client.onConnectionStateChange((state) => showState(state === "disconnecting" ? "disconnected" : state, state === "connected" ? describe() : "reconnecting…"));
    showState("connected", describe());
  } catch (err) {
    showState("disconnected", `${err.code ?? "ERROR"}: ${err.message} — retrying in 3 s`);
    setTimeout(connect, 3_000);
  }
}

// ---- looking up and verifying ------------------------------------------------------------------

const STAGES = { lookup: "look up head", "fetch-history": "fetch history (CAR)", "fetch-modules": "fetch meta contract", verify: "verify + replay", done: "done" };

function progressList(el, stages) {
  el.replaceChildren(
    ...Object.entries(stages).map(([stage, label]) => {
      const li = document.createElement("li");
      li.dataset.stage = stage;
      li.textContent = label;
      return li;
    }),
  );
  return ({ stage, ...extra }) => {
    let reached = true;
    for (const li of el.children) {
      li.dataset.done = String(reached);
      if (li.dataset.stage === stage) {
        reached = false;
        const detail =
          stage === "fetch-history" && extra.bytes !== undefined ? `${(extra.bytes / 1024).toFixed(0)}${extra.totalBytes ? ` of ${(extra.totalBytes / 1024).toFixed(0)}` : ""} KiB`
          : stage === "fetch-modules" ? extra.modules
          : stage === "verify" && extra.phase ? `${extra.phase} ${extra.done}/${extra.total ?? "…"}`
          : stage === "done" && extra.versions !== undefined ? `${extra.versions} versions`
          : undefined;
        if (detail !== undefined) li.textContent = `${stages[stage]} (${detail})`;
      }
    }
  };
}

function record() {
  return {
    gateway: config.gateway,
    chainId: $("chain").value.trim(),
    tokenAddress: $("collection").value.trim(),
    tokenId: $("token").value.trim(),
    metaContractId: $("contract").value.trim(),
    publicKey: $("publisher").value.trim(),
    version: $("version").value.trim(),
  };
}

const short = (s) => (s.length > 16 ? `${s.slice(0, 8)}…${s.slice(-6)}` : s);

function showError(el, err) {
  el.hidden = false;
  const at = err.index !== undefined ? ` at version ${err.index} (0 = newest)${err.cid ? `, block ${err.cid}` : ""}` : "";
  el.textContent = `${err.code ?? "ERROR"}${at}: ${err.message}`;
  el.dataset.code = err.code ?? "ERROR";
}

let current = null; // the last verified record: {record, content, versions}
let lookups = 0; // a newer lookup wins: an older one that finishes later is dropped
let lookupAbort = null; // …and is aborted, so it stops fetching and replaying

/** Looks the form's record up and verifies it; resolves to true when it verified. */
async function lookup() {
  const mine = ++lookups;
  lookupAbort?.abort(new Error("a newer lookup started"));
  const abort = (lookupAbort = new AbortController());
  const r = record();
  const badge = $("badge");
  $("error").hidden = true;
  $("result").hidden = false;
  badge.dataset.verdict = "checking";
  badge.textContent = "Checking…";
  $("content").textContent = "";
  $("content").hidden = true;
  $("versions").replaceChildren();
  $("version-count").textContent = "";
  const onProgress = progressList($("progress"), STAGES);
  const t0 = performance.now();
  try {
    const v = await verifyMetadata({ ...r, signal: abort.signal, onProgress: (p) => mine === lookups && onProgress(p) });
    if (mine !== lookups) return false;
    const ms = performance.now() - t0;
    current = { record: r, ...v };
    badge.dataset.verdict = "verified";
    badge.textContent = `✓ Verified — ${v.versions.length} version${v.versions.length === 1 ? "" : "s"}, ${ms.toFixed(0)} ms`;
    $("content").textContent = JSON.stringify(v.content, null, 2);
    $("content").hidden = false;
    $("version-count").textContent = `(${v.versions.length})`;
    $("versions").replaceChildren(
      ...v.versions.map((x, i) => {
        const li = document.createElement("li");
        li.dataset.cid = x.cid;
        const when = new Date(x.transaction.timestamp).toISOString().replace("T", " ").slice(0, 19);
        li.textContent = `${i === 0 ? "head " : ""}${short(x.cid)}  ${when}  by ${short(x.transaction.public_key)}  ${x.replayed ? "replayed ✓" : ""}  ${JSON.stringify(x.content).slice(0, 60)}`;
        return li;
      }),
    );
    $("edit").value = JSON.stringify(v.content, null, 2);
    refreshPublish();
    return true;
  } catch (err) {
    if (err.code === "ABORTED") document.body.dataset.abortedLookups = String(Number(document.body.dataset.abortedLookups ?? 0) + 1);
    if (mine !== lookups) return false;
    current = null;
    const tampered = err.code === "HISTORY_INVALID" || err.code === "REPLAY_FAILED";
    badge.dataset.verdict = tampered ? "tampered" : "checking";
    badge.textContent = tampered ? "✗ Tampered — the node's answer does not verify" : "Not verified";
    if (!tampered) badge.dataset.verdict = "";
    showError($("error"), err);
    return false;
  }
}

// ---- wallet and publishing ---------------------------------------------------------------------

let signer = null;
let account = null;

function refreshPublish() {
  $("publish").disabled = !(signer && account && $("edit").value.trim());
}

async function findWallets() {
  const box = $("wallets");
  const wallets = await discoverWallets();
  if (wallets.length === 0) {
    $("account").textContent = "No wallet found in this browser (install one that supports EIP-6963 or EIP-1193).";
    return;
  }
  box.replaceChildren(
    ...wallets.map((w) => {
      const b = document.createElement("button");
      b.type = "button";
      b.className = "secondary";
      b.dataset.rdns = w.info.rdns;
      b.textContent = `Connect ${w.info.name}`;
      b.addEventListener("click", () => useWallet(w));
      return b;
    }),
  );
}

async function useWallet(w) {
  const status = $("publish-status");
  try {
    const s = walletSigner(w.provider);
    account = await s.publicKey();
    signer = s;
    $("account").textContent = `${w.info.name}: ${account}`;
    $("account").dataset.account = account;
    status.textContent = "";
  } catch (err) {
    status.dataset.kind = "error";
    status.textContent = `${err.code}: ${err.message}`;
  }
  refreshPublish();
}

const PUBLISH_STAGES = { account: "account", prev: "current head", sign: "sign in wallet", send: "send", done: "done" };

async function publish() {
  const status = $("publish-status");
  let data;
  try {
    data = JSON.parse($("edit").value);
  } catch (err) {
    status.dataset.kind = "error";
    status.textContent = `BAD_ARGUMENT: the content is not JSON: ${err.message}`;
    return;
  }
  const r = { ...record(), publicKey: account.toLowerCase() };
  $("publish").disabled = true;
  status.dataset.kind = "";
  delete status.dataset.code;
  delete status.dataset.cid;
  status.textContent = "Waiting for the wallet…";
  const onProgress = progressList($("publish-progress"), PUBLISH_STAGES);
  try {
    const { cid } = await publishMetadata({ ...r, signer, data, onProgress });
    status.dataset.kind = "ok";
    status.textContent = `Published ${cid}; verifying it…`;
    // Your edit is your record: the same token, signed by your key.
    $("publisher").value = r.publicKey;
    if (await lookup()) {
      status.textContent = `Published ${cid} and verified.`;
      status.dataset.cid = cid;
    } else {
      status.dataset.kind = "error";
      status.dataset.code = "NOT_VERIFIED";
      status.textContent = `Published ${cid}, but the node's answer for it does not verify (see above).`;
    }
  } catch (err) {
    status.dataset.kind = "error";
    status.dataset.code = err.code ?? "ERROR";
    status.textContent = err.code === "USER_REJECTED" ? "USER_REJECTED: you declined the signature in your wallet; nothing was sent." : `${err.code ?? "ERROR"}: ${err.message}`;
  } finally {
    refreshPublish();
  }
}

// ---- start -------------------------------------------------------------------------------------

function init() {
  $("chain").value = config.chain;
  $("collection").value = config.collection;
  $("token").value = config.token;
  $("contract").value = config.contract;
  $("publisher").value = config.publisher;
  $("version").value = config.version;
  $("samples").replaceChildren(
    ...config.samples.map((t) => {
      const b = document.createElement("button");
      b.type = "button";
      b.className = "secondary";
      b.dataset.token = t;
      b.textContent = `token ${t}`;
      b.addEventListener("click", () => {
        $("token").value = t;
        $("publisher").value = config.publisher;
        lookup();
      });
      return b;
    }),
  );
  $("lookup-form").addEventListener("submit", (e) => {
    e.preventDefault();
    lookup();
  });
  $("find-wallets").addEventListener("click", findWallets);
  $("publish").addEventListener("click", publish);
  $("edit").addEventListener("input", refreshPublish);
  document.body.dataset.ready = "true";
  connect();
  findWallets();
  if (config.collection && config.publisher) lookup();
}

init();
