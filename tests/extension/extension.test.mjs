// The Manifest V3 example extension (www/extension/) in headless Chromium against a real
// lineage-node: Chromium loads it unpacked (--load-extension), its module service worker runs our
// package (pkg/dist, copied in by www/extension/build.mjs) under the CSP
// `script-src 'self' 'wasm-unsafe-eval'`, and the test drives its popup page: Connect (over
// WebSocket: a service worker has no RTCPeerConnection), Verify a record the test published with
// an independent signer (node:crypto), Publish with the worker's own key, Verify that, and errors
// shown with their code.
import assert from "node:assert/strict";
import { accessSync, constants } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";

import * as S from "../browser/support.mjs";
import { peerIdOfSeed, teardown as stopInteropNodes } from "../interop/harness.mjs";
import { NODE_BIN as METADATA_NODE_BIN, bindContract, call, dataKey, ed25519Signer, putModule, startNode } from "../metadata/support.mjs";
import { EXTENSION_DIR, buildExtension } from "../../www/extension/build.mjs";

const T = { timeout: 120_000 };
const CHAIN = "80001";
const COLLECTION = "0x0000000000000000000000000000000000e7e715";
const MC = "open";
const EXPECTED_CSP = "script-src 'self' 'wasm-unsafe-eval'; object-src 'self'";
const SEED_KEY = "lineage-edge.seed"; // where background.js keeps its key

const missing = S.missingArtifacts();
try {
  // tests/metadata/support.mjs starts the node from LINEAGE_NODE_BIN or ~/.cache/…: also needed.
  accessSync(METADATA_NODE_BIN, constants.X_OK);
} catch {
  if (METADATA_NODE_BIN !== S.NODE_BIN) missing.push(`lineage-node binary ${METADATA_NODE_BIN} (set LINEAGE_NODE_BIN)`);
}

after(() => S.exitIfStuck());

describe("the MV3 example extension in headless Chromium", { skip: S.skipReason(missing), timeout: 600_000 }, () => {
  let node;
  let userDataDir;
  let context;
  let worker; // the extension's service worker (playwright Worker)
  let extensionId;
  let popup; // the popup page, opened as a tab
  const log = []; // popup console, page errors, worker console: appended to failures
  const pageErrors = [];
  const author = ed25519Signer(); // publishes the first record, independently of the package
  const published = []; // the author's versions of token "1", oldest first

  before(async () => {
    S.assertArtifacts(missing);
    node = await startNode();
    const moduleCid = await putModule(node.httpUrl, "mc_open");
    const bound = await bindContract(node.httpUrl, ed25519Signer(), { id: MC, cid: moduleCid, chainId: CHAIN, tokenAddress: COLLECTION });
    assert.equal(bound.success, true, JSON.stringify(bound));
    let prev = "";
    for (const name of ["Ada", "Ada Lovelace"]) {
      const req = await author.sign({ method: "metadata", meta_contract_id: MC, chain_id: CHAIN, token_address: COLLECTION, token_id: "1", alias: "", version: "v1", data: JSON.stringify({ name }), prev });
      const r = await call(node.httpUrl, "publish", req);
      assert.equal(r.success, true, JSON.stringify(r));
      prev = JSON.parse(r.receipt.data).cids[0];
      published.push({ name, cid: prev });
    }

    await buildExtension();
    userDataDir = await mkdtemp(join(tmpdir(), "lineage-extension-profile-"));
    const { chromium } = await import("playwright-core");
    context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: S.CHROMIUM,
      // Playwright's headless mode is Chromium's new headless, which loads extensions.
      headless: true,
      args: [...S.CHROMIUM_ARGS, `--disable-extensions-except=${EXTENSION_DIR}`, `--load-extension=${EXTENSION_DIR}`],
      timeout: 60_000,
    });
    worker = context.serviceWorkers().find((w) => w.url().startsWith("chrome-extension://"));
    worker ??= await context.waitForEvent("serviceworker", { predicate: (w) => w.url().startsWith("chrome-extension://"), timeout: 30_000 });
    watchWorker(worker);
    extensionId = new URL(worker.url()).host;

    popup = await context.newPage();
    popup.on("console", (m) => push(`[popup console.${m.type()}] ${m.text()}`));
    popup.on("pageerror", (e) => {
      pageErrors.push(String(e?.stack ?? e));
      push(`[popup pageerror] ${e}`);
    });
    await popup.goto(`chrome-extension://${extensionId}/popup.html`);
    await popup.waitForSelector("body[data-ready='true']", { timeout: 60_000 });
    const first = await result();
    assert.equal(first.state, "idle", `the popup's first status request failed: ${JSON.stringify(first)}${logText()}`);
  }, { timeout: 240_000 });

  after(async () => {
    await Promise.race([context?.close(), new Promise((r) => setTimeout(r, 10_000).unref())]).catch(() => {});
    if (userDataDir) await rm(userDataDir, { recursive: true, force: true }).catch(() => {});
    await stopInteropNodes();
    await S.teardown();
  });

  function push(line) {
    log.push(`${new Date().toISOString().slice(11, 23)} ${line.length > 2_000 ? line.slice(0, 2_000) + "…" : line}`);
    if (log.length > 300) log.splice(0, log.length - 300);
  }
  const logText = () => `\n--- extension log ---\n${log.join("\n") || "(empty)"}`;
  function watchWorker(w) {
    w.on("console", (m) => push(`[worker console.${m.type()}] ${m.text()}`));
    w.on("close", () => push(`[worker] closed ${w.url()}`));
  }

  /** Sends a message to the worker as the popup does (chrome.runtime.sendMessage). */
  const ask = (msg) => popup.evaluate((m) => chrome.runtime.sendMessage(m), msg);

  /** What the popup's result area shows. */
  const result = () =>
    popup.evaluate(() => {
      const t = (id) => document.getElementById(id).textContent;
      return {
        state: document.getElementById("result").dataset.state,
        title: t("result-title"),
        cid: t("result-cid"),
        versions: t("result-versions"),
        tx: t("result-tx"),
        content: t("result-content") ? JSON.parse(t("result-content")) : undefined,
        history: [...document.querySelectorAll("#result-history li")].map((li) => ({ cid: li.dataset.cid, text: li.textContent })),
        errorCode: t("error-code"),
        errorMessage: t("error-message"),
      };
    });

  /** Fills the popup's form fields (id → value). */
  async function fill(fields) {
    for (const [id, value] of Object.entries(fields)) await popup.fill(`#${id}`, value);
  }

  /** Clicks a button and waits until its action finished; returns what the result area shows. */
  async function press(button, { timeoutMs = 90_000 } = {}) {
    const before = await popup.getAttribute("#result", "data-finished");
    await popup.click(`#${button}`);
    try {
      await popup.waitForFunction((n) => document.getElementById("result").dataset.finished !== n, before, { timeout: timeoutMs });
    } catch (err) {
      err.message += logText();
      throw err;
    }
    return result();
  }

  const record = (fields = {}) => ({ gateway: node.httpUrl, chainId: CHAIN, tokenAddress: COLLECTION, tokenId: "1", metaContractId: MC, version: "v1", alias: "", ...fields });
  // The worker's stored seed, read from the popup (same extension, same storage).
  const ownSeed = async () => (await popup.evaluate((k) => chrome.storage.local.get(k), SEED_KEY))[SEED_KEY];

  it("runs in a genuine MV3 module service worker: no RTCPeerConnection, no eval, wasm allowed", T, async () => {
    assert.equal(worker.url(), `chrome-extension://${extensionId}/background.js`);
    const manifest = await worker.evaluate(() => chrome.runtime.getManifest());
    assert.equal(manifest.manifest_version, 3);
    assert.deepEqual(manifest.background, { service_worker: "background.js", type: "module" });
    assert.equal(manifest.content_security_policy.extension_pages, EXPECTED_CSP);
    assert.doesNotMatch(manifest.content_security_policy.extension_pages, /'unsafe-eval'/);
    // Chromium accepted every permission the manifest asks for (a bad pattern would be dropped).
    const granted = await popup.evaluate(() => chrome.permissions.getAll());
    assert.deepEqual(granted.permissions, ["storage"]);
    assert.deepEqual([...granted.origins].sort(), [...manifest.host_permissions].sort());

    // What the worker finds about itself (run by its own code, under its CSP: DevTools'
    // evaluate is exempt from the CSP, so `eval` is tested by background.js, not from here).
    const r = await ask({ type: "environment" });
    assert.ok(r.ok, JSON.stringify(r));
    assert.deepEqual(r.environment, {
      serviceWorker: true,
      hasRTCPeerConnection: false,
      hasWebSocket: true,
      hasDocument: false,
      evalAllowed: false, // the CSP has no 'unsafe-eval'…
      wasmCompiled: true, // …and 'wasm-unsafe-eval' is enough for WebAssembly
      location: `chrome-extension://${extensionId}/background.js`,
    });
    assert.equal(await worker.evaluate(() => typeof RTCPeerConnection), "undefined");
    // The popup runs under the same policy (an inline script would be refused).
    const popupEval = await popup.evaluate(() => {
      const s = document.createElement("script");
      s.textContent = "window.__inline = true";
      document.head.append(s);
      return window.__inline === true;
    });
    assert.equal(popupEval, false, "an inline script ran in the popup: the CSP is not in force");
    // The extension's signing key was made and stored once; the popup shows its public key.
    const seed = await ownSeed();
    assert.match(seed, /^[0-9a-f]{64}$/);
    assert.equal(await popup.textContent("#own-public-key"), ed25519Signer(Buffer.from(seed, "hex")).publicKey);
  });

  it("Connect: dials the relay over WebSocket; the popup shows the peer id of the stored key and the relay's", T, async () => {
    await fill({ gateway: node.httpUrl, relay: node.wsAddr });
    const r = await press("connect");
    assert.equal(r.state, "connected", `${JSON.stringify(r)}${logText()}`);
    const seed = await ownSeed();
    const expectedPeerId = peerIdOfSeed(Buffer.from(seed, "hex"));
    assert.equal(await popup.textContent("#peer-id"), expectedPeerId);
    assert.equal(await popup.textContent("#relay-peer-id"), node.peerId);
    assert.equal(await popup.textContent("#connection-state"), "connected");
    assert.equal(await popup.textContent("#connection-relay"), node.wsAddr);
    assert.match(r.title, /a particle went to the relay and back in \d+ ms/);
    // The worker holds the connection, not the page.
    const status = await ask({ type: "status" });
    assert.deepEqual(status.connection, { state: "connected", peerId: expectedPeerId, relayPeerId: node.peerId, relay: node.wsAddr });
    // A webrtc-direct address cannot work in a service worker: refused with a code, connection kept.
    await fill({ relay: `/ip4/127.0.0.1/udp/1/webrtc-direct/p2p/${node.peerId}` });
    const bad = await press("connect");
    assert.equal(bad.state, "error");
    assert.equal(bad.errorCode, "BAD_RELAY", bad.errorMessage);
    const after = await ask({ type: "status" });
    assert.deepEqual(after.connection, status.connection, "a refused Connect dropped the working connection");
    await fill({ relay: node.wsAddr });
  });

  it("Verify: the record the test published verifies in the worker, every version replayed", T, async () => {
    const { gateway, ...fields } = record({ publicKey: author.publicKey });
    await fill({ gateway, ...fields });
    const r = await press("verify");
    assert.equal(r.state, "verified", `${JSON.stringify(r)}${logText()}`);
    assert.deepEqual(r.content, { name: "Ada Lovelace" });
    assert.equal(r.cid, published.at(-1).cid);
    assert.equal(r.versions, "2");
    assert.deepEqual(r.history.map((v) => v.cid), published.map((p) => p.cid).reverse());
    assert.ok(r.history.every((v) => v.text.includes("— replayed")), JSON.stringify(r.history));
    assert.match(r.title, /^Verified: 2 versions, signatures checked, meta contract replayed$/);
  });

  it("Publish: the worker signs with its own key; the node files it; Verify shows the new content", T, async () => {
    const ownKey = await popup.textContent("#own-public-key");
    const first = { name: "From the extension", n: Math.floor(Math.random() * 1e9) };
    await fill({ tokenId: "2", data: JSON.stringify(first) });
    const p1 = await press("publish");
    assert.equal(p1.state, "published", `${JSON.stringify(p1)}${logText()}`);
    assert.match(p1.cid, /^bafy/);
    assert.match(p1.title, new RegExp(`^Published as ${ownKey} \\(first version\\)$`));
    // The node, asked directly, names the shown CID as the head of (token 2, the worker's key).
    const head = await call(node.httpUrl, "get_metadata", [dataKey(CHAIN, COLLECTION, "2"), MC, ownKey, "", "v1"]);
    assert.equal(head.metadata.cid, p1.cid);

    await popup.click("#use-own-key");
    assert.equal(await popup.inputValue("#publicKey"), ownKey);
    const v1 = await press("verify");
    assert.equal(v1.state, "verified", `${JSON.stringify(v1)}${logText()}`);
    assert.deepEqual(v1.content, first);
    assert.equal(v1.cid, p1.cid);
    assert.equal(v1.versions, "1");

    // A second version links to the first.
    const second = { ...first, name: "From the extension, again" };
    await fill({ data: JSON.stringify(second) });
    const p2 = await press("publish");
    assert.equal(p2.state, "published", `${JSON.stringify(p2)}${logText()}`);
    assert.match(p2.title, /replaces the previous version/);
    const v2 = await press("verify");
    assert.equal(v2.state, "verified", `${JSON.stringify(v2)}${logText()}`);
    assert.deepEqual(v2.content, second);
    assert.equal(v2.cid, p2.cid);
    assert.deepEqual(v2.history.map((v) => v.cid), [p2.cid, p1.cid]);
  });

  it("errors are shown with their code: no such record, a gateway that is not there, a refused publish", T, async () => {
    await fill({ tokenId: "404404", publicKey: author.publicKey });
    const notFound = await press("verify");
    assert.equal(notFound.state, "error");
    assert.equal(notFound.errorCode, "NOT_FOUND", notFound.errorMessage);
    assert.match(notFound.title, /^Verify failed: NOT_FOUND$/);
    assert.equal(notFound.content, undefined, "no content is shown for a failure");

    await fill({ tokenId: "1", gateway: "http://127.0.0.1:9" });
    const down = await press("verify");
    assert.equal(down.errorCode, "FETCH_FAILED", down.errorMessage);

    await fill({ gateway: node.httpUrl, metaContractId: "no-such-contract", tokenId: "3" });
    const refused = await press("publish");
    assert.equal(refused.errorCode, "PUBLISH_REJECTED", refused.errorMessage);
    assert.match(refused.errorMessage, /reason: unknown_meta_contract/);
    await fill({ metaContractId: MC });
  });

  it("the worker keeps its key across a restart (the seed is in chrome.storage.local)", T, async () => {
    const seedBefore = await ownSeed();
    const keyBefore = await popup.textContent("#own-public-key");
    const before = await ask({ type: "status" });
    assert.equal(before.connection.state, "connected");
    // Stop the extension's service worker, as Chromium does to an idle one, and see it stopped
    // (DevTools' ServiceWorker domain; playwright's Worker object does not follow a restart).
    const cdp = await context.newCDPSession(popup);
    let status = "unknown";
    const ours = (v) => v.scriptURL === `chrome-extension://${extensionId}/background.js`;
    cdp.on("ServiceWorker.workerVersionUpdated", ({ versions }) => {
      for (const v of versions) if (ours(v)) status = v.runningStatus;
    });
    await cdp.send("ServiceWorker.enable");
    await cdp.send("ServiceWorker.stopAllWorkers");
    await S.until(() => status === "stopped", { timeoutMs: 30_000, message: () => `the worker did not stop (runningStatus ${status})${logText()}` });
    // A message starts it again: a new worker instance, a new (disconnected) peer, the same key.
    const after = await ask({ type: "status" });
    assert.ok(after.ok, JSON.stringify(after));
    await cdp.detach();
    assert.notEqual(after.instance, before.instance, "the same worker answered: it was not restarted");
    assert.equal(after.publicKey, keyBefore);
    assert.equal(after.connection.state, "disconnected", "the connection went with the old worker");
    assert.equal(await ownSeed(), seedBefore);
    // It connects again as the same peer and still verifies.
    await popup.reload();
    await popup.waitForSelector("body[data-ready='true']", { timeout: 60_000 });
    const c = await press("connect");
    assert.equal(c.state, "connected", `${JSON.stringify(c)}${logText()}`);
    assert.equal(await popup.textContent("#peer-id"), peerIdOfSeed(Buffer.from(seedBefore, "hex")));
    await fill({ tokenId: "1", publicKey: author.publicKey });
    const v = await press("verify");
    assert.equal(v.state, "verified", `${JSON.stringify(v)}${logText()}`);
    assert.deepEqual(v.content, { name: "Ada Lovelace" });
    assert.deepEqual(pageErrors, [], "uncaught errors in the popup");
  });
});
