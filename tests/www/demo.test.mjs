// The demo dApp (www/) clicked through in headless Chromium, served by the real Vite dev server,
// against a real lineage-node seeded by the same script `npm start` runs (scripts/demo-seed.mjs):
// the node connection is shown (and its loss and the reconnect), a token's metadata verifies with
// its version history, a long history shows progress, an edit is signed by an injected EIP-6963
// wallet (an EIP-1193 provider backed by a real ethers Wallet) and the new version verifies, a
// rejection in the wallet is reported, and a dishonest gateway's tampered answers get the red
// badge naming the first bad version. Screenshots go to tests/artifacts/ (ignored by git).
//
//   node --test tests/www/demo.test.mjs
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdir, mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

import * as S from "../browser/support.mjs";
import { call } from "../metadata/support.mjs";
import { historyAndTamperings, tamperingGateway } from "../metadata/tamper.mjs";
import { ethersProvider } from "../metadata/wallet-provider.mjs";
import { SAMPLE, seed } from "../../scripts/demo-seed.mjs";

const missing = S.missingArtifacts();
const ARTIFACTS = join(S.ROOT, "tests", "artifacts");
const T = { timeout: 180_000 };

after(() => S.exitIfStuck());

/** The in-page half of the test wallet: an EIP-1193 provider over `window.__walletRequest`, announced per EIP-6963. */
function injectWallet() {
  const provider = {
    async request({ method, params }) {
      const r = await window.__walletRequest(method, params ?? []);
      if (r.error) {
        const e = new Error(r.error.message);
        e.code = r.error.code;
        throw e;
      }
      return r.result;
    },
  };
  const detail = Object.freeze({ info: Object.freeze({ uuid: "6f1e5b1a-7c9b-4b9e-9d43-1f0c2a7b8e01", name: "Test Wallet", icon: "data:image/svg+xml,<svg xmlns='http://www.w3.org/2000/svg'/>", rdns: "test.lineage.wallet" }), provider });
  const announce = () => window.dispatchEvent(new CustomEvent("eip6963:announceProvider", { detail }));
  window.addEventListener("eip6963:requestProvider", announce);
  announce();
}

describe("the demo dApp in headless Chromium", { skip: S.skipReason(missing) }, () => {
  let node;
  let ports;
  let dataDir;
  let vite;
  let demoUrl;
  let browser;
  let seeded;
  let wallet;
  let walletSays = () => true;
  let startIt;

  before(async () => {
    S.assertArtifacts(missing);
    await mkdir(ARTIFACTS, { recursive: true });
    dataDir = await mkdtemp(join(tmpdir(), "lineage-demo-node-"));
    ports = await S.freePorts({ tcp: 3, udp: 1 });
    // Fixed ports and data dir, so the node can be restarted as the same peer at the same address.
    startIt = () => S.startNode({ ws: ports.tcp[0], tcp: ports.tcp[1], http: ports.tcp[2], webrtc: ports.udp[0], dataDir });
    node = await startIt();
    seeded = await seed(node.httpUrl);
    assert.equal(seeded.seeded, true);
    assert.equal((await seed(node.httpUrl)).seeded, false, "seeding again leaves the node as it is");
    const { createServer } = await import("vite");
    vite = await createServer({ configFile: join(S.ROOT, "www", "vite.config.mjs"), server: { port: 0 }, logLevel: "error" });
    await vite.listen();
    demoUrl = (params) => `http://127.0.0.1:${vite.httpServer.address().port}/?${new URLSearchParams(params)}`;
    browser = await S.launchBrowser();
    wallet = ethersProvider({ decide: (...a) => walletSays(...a) });
  }, T);

  after(async () => {
    await browser?.close();
    await vite?.close();
    await S.teardown({ dirs: dataDir ? [dataDir] : [] });
  });

  const sampleParams = () => ({
    gateway: node.httpUrl,
    relay: node.wsAddr,
    chain: SAMPLE.chainId,
    collection: SAMPLE.tokenAddress,
    contract: SAMPLE.metaContractId,
    publisher: seeded.publicKey,
    version: SAMPLE.version,
    token: "1",
    samples: seeded.tokens.join(","),
  });

  /** A page with the test wallet injected; `errors` collects uncaught page errors. */
  async function open(params) {
    const context = await browser.newContext({ viewport: { width: 1100, height: 1000 } });
    await context.exposeFunction("__walletRequest", async (method, params) => {
      try {
        return { result: await wallet.request({ method, params }) };
      } catch (e) {
        return { error: { code: e.code, message: e.message } };
      }
    });
    await context.addInitScript(injectWallet);
    const page = await context.newPage();
    const log = [];
    const errors = [];
    page.on("pageerror", (e) => errors.push(String(e?.stack ?? e)));
    page.on("console", (m) => log.push(`[${m.type()}] ${m.text()}`));
    await page.goto(demoUrl(params));
    await page.waitForSelector("body[data-ready=true]", { timeout: 30_000 });
    const shot = (name) => page.screenshot({ path: join(ARTIFACTS, `demo-${name}.png`), fullPage: true });
    const text = (sel) => page.locator(sel).innerText();
    const close = async () => {
      assert.deepEqual(errors, [], `uncaught page errors:\n${log.join("\n")}`);
      await context.close();
    };
    return { page, shot, text, close, log };
  }

  const verified = (page, timeout = 60_000) => page.waitForSelector("#badge[data-verdict=verified]", { timeout });

  test("connects, verifies a token with its history, and shows progress on a long one", T, async () => {
    const p = await open(sampleParams());
    await p.page.waitForSelector("#node-state[data-state=connected]", { timeout: 30_000 });
    assert.match(await p.text("#node-detail"), new RegExp(`relay ${node.peerId.slice(-8)}`));
    await verified(p.page);
    assert.deepEqual(JSON.parse(await p.text("#content")), SAMPLE.tokens[0].versions.at(-1));
    assert.equal(await p.page.locator("#versions li").count(), SAMPLE.tokens[0].versions.length);
    assert.match(await p.text("#badge"), /Verified — 2 versions/);
    await p.shot("1-verified");

    // A task loop in the page records what the verify stage shows whenever the page gets a turn:
    // it runs only when verification yields (MessageChannel tasks run in order, so the loop's
    // pending message runs before the verifier's next slice).
    await p.page.evaluate(() => {
      window.__seen = [];
      window.__watching = true;
      const { port1, port2 } = new MessageChannel();
      port1.onmessage = () => {
        const t = document.querySelector("#progress li[data-stage=verify]")?.textContent;
        if (t && window.__seen.at(-1) !== t) window.__seen.push(t);
        if (window.__watching) port2.postMessage(null);
        else port1.close();
      };
      port2.postMessage(null);
    });
    await p.page.click(`#samples button[data-token="${SAMPLE.longHistoryToken}"]`);
    await p.page.waitForSelector("#badge[data-verdict=checking]", { timeout: 10_000 });
    await verified(p.page);
    // The replay yields to the page after a progress call: the page had a turn (and so a chance
    // to paint) while it showed the progress midway, not only the final count (a synchronous
    // replay gives it none between them).
    const seen = await p.page.evaluate(() => {
      window.__watching = false;
      return window.__seen;
    });
    const midway = `replay 100/${SAMPLE.longHistoryVersions}`;
    assert.ok(seen.some((t) => t.includes(midway)), `the page never had a turn showing "${midway}": ${JSON.stringify(seen)}`);
    assert.equal(await p.page.locator("#versions li").count(), SAMPLE.longHistoryVersions);
    assert.equal(JSON.parse(await p.text("#content")).revision, SAMPLE.longHistoryVersions);
    const stages = await p.page.locator("#progress li").evaluateAll((lis) => lis.map((li) => [li.dataset.stage, li.dataset.done]));
    assert.deepEqual(stages.map(([s]) => s), ["lookup", "fetch-history", "fetch-modules", "verify", "done"]);
    assert.ok(stages.every(([, done]) => done === "true"), JSON.stringify(stages));
    assert.match(await p.text("#progress"), new RegExp(`${SAMPLE.longHistoryVersions} versions`), "the stages name the history's size");
    assert.match(await p.text("#progress"), new RegExp(`replay ${SAMPLE.longHistoryVersions}/${SAMPLE.longHistoryVersions}`), "and the replay's progress");
    await p.shot("2-long-history");

    // A newer lookup aborts the one still running: the long history, then at once (in the same
    // task, so the first is surely still running) token 1.
    await p.page.evaluate(([long, first]) => {
      document.querySelector(`#samples button[data-token="${long}"]`).click();
      document.querySelector(`#samples button[data-token="${first}"]`).click();
    }, [SAMPLE.longHistoryToken, SAMPLE.tokens[0].tokenId]);
    await p.page.waitForSelector("body[data-aborted-lookups='1']", { timeout: 30_000 });
    await verified(p.page);
    assert.deepEqual(JSON.parse(await p.text("#content")), SAMPLE.tokens[0].versions.at(-1));
    assert.equal(await p.page.locator("#versions li").count(), SAMPLE.tokens[0].versions.length);
    assert.equal(await p.page.locator("#error").isHidden(), true, "the aborted lookup showed an error");
    await p.close();
  });

  test("an edit signed with the injected wallet is published and verified; a rejection is reported", T, async () => {
    const p = await open(sampleParams());
    await verified(p.page);
    const button = p.page.locator('#wallets button[data-rdns="test.lineage.wallet"]');
    await button.waitFor({ timeout: 10_000 });
    assert.match(await button.innerText(), /Test Wallet/);
    await button.click();
    await p.page.waitForSelector(`#account[data-account="${wallet.wallet.address}"]`, { timeout: 10_000 });

    const edit = { name: "Ada, edited in the demo", description: "Signed with the test wallet." };
    await p.page.fill("#edit", JSON.stringify(edit));
    await p.page.click("#publish");
    await p.page.waitForSelector("#publish-status[data-kind=ok][data-cid]", { timeout: 60_000 });
    await verified(p.page);
    assert.deepEqual(JSON.parse(await p.text("#content")), edit);
    assert.equal(await p.page.inputValue("#publisher"), wallet.wallet.address.toLowerCase(), "the view switched to the wallet's record");
    assert.equal(await p.page.locator("#versions li").count(), 1);
    const shown = wallet.calls.filter((c) => c.method === "eth_signTypedData_v4").at(-1);
    const typed = JSON.parse(shown.params[1]);
    assert.equal(typed.message.data, JSON.stringify(edit), "the wallet was shown the content it signed");
    assert.equal(typed.message.token_id, "1");
    assert.equal(typed.message.token_address, SAMPLE.tokenAddress);
    await p.shot("3-published");

    const second = { ...edit, description: "A second version." };
    await p.page.fill("#edit", JSON.stringify(second));
    await p.page.click("#publish");
    await p.page.waitForFunction(() => document.querySelectorAll("#versions li").length === 2 && document.querySelector("#badge").dataset.verdict === "verified", null, { timeout: 60_000 });
    const head = await p.page.locator("#versions li").first().getAttribute("data-cid");
    assert.equal(await p.page.getAttribute("#publish-status", "data-cid"), head);

    walletSays = (method) => method !== "eth_signTypedData_v4";
    try {
      await p.page.fill("#edit", JSON.stringify({ name: "never sent" }));
      await p.page.click("#publish");
      await p.page.waitForSelector("#publish-status[data-code=USER_REJECTED]", { timeout: 30_000 });
      assert.match(await p.text("#publish-status"), /declined/);
      await p.shot("4-rejected");
    } finally {
      walletSays = () => true;
    }
    const key = await call(node.httpUrl, "generate_data_key", [SAMPLE.chainId, SAMPLE.tokenAddress, "1"]);
    const record = await call(node.httpUrl, "get_metadata", [key, SAMPLE.metaContractId, wallet.wallet.address.toLowerCase(), "", SAMPLE.version]);
    assert.equal(record.metadata.cid, head, "the rejected edit wrote nothing");
    await p.close();
  });

  test("a dishonest gateway's tampered answers are shown as tampered, naming the version", T, async () => {
    const h = await historyAndTamperings(node.httpUrl, { collection: "0x000000000000000000000000000000000000de31", mc: "demo-tamper" });
    const dishonest = await tamperingGateway(node.httpUrl);
    try {
      const params = { ...sampleParams(), gateway: dishonest.url, collection: h.record.tokenAddress, token: h.record.tokenId, contract: h.record.metaContractId, publisher: h.record.publicKey, samples: "" };
      for (const [i, c] of h.cases.entries()) {
        dishonest.serve(c);
        const p = await open(params);
        await p.page.waitForSelector("#badge[data-verdict=tampered]", { timeout: 60_000 });
        assert.equal(await p.page.getAttribute("#error", "data-code"), c.code, c.name);
        assert.match(await p.text("#error"), new RegExp(`at version ${c.index} `), c.name);
        if (i < 2) await p.shot(`5-tampered-${i + 1}`);
        await p.close();
      }
      // The same record from the honest gateway: verified.
      const p = await open({ ...params, gateway: node.httpUrl });
      await verified(p.page);
      assert.deepEqual(JSON.parse(await p.text("#content")), { name: h.names[0] });
      await p.close();
    } finally {
      await dishonest.close();
    }
  });

  test("the node going away is shown, and the page reconnects when it is back", T, async () => {
    const p = await open(sampleParams());
    await p.page.waitForSelector("#node-state[data-state=connected]", { timeout: 30_000 });
    await node.kill();
    await p.page.waitForSelector("#node-state:not([data-state=connected])", { timeout: 30_000 });
    await p.shot("6-node-lost");
    node = await startIt();
    await p.page.waitForSelector("#node-state[data-state=connected]", { timeout: 60_000 });
    await p.shot("7-reconnected");
    // And it works again: a lookup verifies from the restarted node.
    await p.page.click('#samples button[data-token="2"]');
    await verified(p.page);
    assert.equal(JSON.parse(await p.text("#content")).name, SAMPLE.tokens[1].versions[0].name);
    await p.close();
  });
});
