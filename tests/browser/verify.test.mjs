// In-browser verification: our package's verifyHistory in real headless Chromium on a history a
// real lineage-node wrote — the genuine history verifies (meta contract replayed in the page's
// wasm), and each tampering a dishonest node could serve is caught at its version
// (tests/metadata/tamper.mjs builds the cases; tests/metadata/verify.test.mjs runs them in Node).
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";

import * as S from "./support.mjs";
import { teardown as stopInteropNodes } from "../interop/harness.mjs";
import { startNode } from "../metadata/support.mjs";
import { historyAndTamperings, tamperingGateway } from "../metadata/tamper.mjs";

const T = { timeout: 120_000 };
const missing = S.missingArtifacts();

after(() => S.exitIfStuck());

describe("verifyHistory in headless Chromium", { skip: S.skipReason(missing) }, () => {
  let server;
  let browser;
  let h;
  let gatewayUrl;
  let dishonest;

  before(async () => {
    S.assertArtifacts(missing);
    const node = await startNode();
    gatewayUrl = node.httpUrl;
    h = await historyAndTamperings(gatewayUrl);
    dishonest = await tamperingGateway(gatewayUrl);
    server = await S.startServer();
    browser = await S.launchBrowser();
  }, T);

  after(async () => {
    await dishonest?.close();
    await S.teardown({ server });
    await stopInteropNodes();
  });

  /** Runs verifyHistory in the page; returns {ok: report} or {error: {code, index, message}}. */
  const inPage = (page, head, blocks, options) =>
    page.eval(
      async ({ head, entries, options }) => {
        const blocks = new Map(entries.map(([cid, bytes]) => [cid, new Uint8Array(bytes)]));
        try {
          return { ok: await window.lab.lib.verifyHistory(head, blocks, options) };
        } catch (e) {
          return { error: { code: e?.code, index: e?.index, message: String(e?.message ?? e) } };
        }
      },
      { head, entries: [...blocks].map(([cid, bytes]) => [cid, Array.from(bytes)]), options },
      { what: "verifyHistory", timeoutMs: 60_000 },
    );

  test("verifyMetadata in the page looks the record up on the node's gateway (CORS) and verifies it", T, async () => {
    await S.withPage(S.openPage(browser, server.url(`${S.PAGES}/lab.html`), { label: "verifyMetadata", waitFor: "__labReady" }), async (page) => {
      const r = await page.eval(
        async (record) => {
          const stages = [];
          try {
            const got = await window.lab.lib.verifyMetadata({ ...record, onProgress: (p) => stages.push(p.phase ? `${p.stage}:${p.phase} ${p.done}/${p.total}` : p.bytes !== undefined ? `${p.stage} ${p.bytes}/${p.totalBytes}` : p.stage) });
            return { ok: { cid: got.cid, content: got.content, replayed: got.versions.map((v) => v.replayed), stages } };
          } catch (e) {
            return { error: { code: e?.code, message: String(e?.message ?? e) } };
          }
        },
        { gateway: gatewayUrl, ...h.record },
        { what: "verifyMetadata", timeoutMs: 60_000 },
      );
      assert.ok(r.ok, JSON.stringify(r.error));
      assert.equal(r.ok.cid, h.head);
      assert.deepEqual(r.ok.content, { name: h.names[0] });
      assert.deepEqual(r.ok.replayed, [true, true, true]);
      // The CAR is small (one progress call, at its end), its length read through CORS.
      const carBytes = (await (await fetch(`${gatewayUrl}/ipfs/${h.head}?format=car`)).arrayBuffer()).byteLength;
      assert.deepEqual(r.ok.stages, ["lookup", "fetch-history", `fetch-history ${carBytes}/${carBytes}`, "fetch-modules", "verify", "verify:check 3/3", "verify:replay 3/3", "done"]);
    });
  });

  test("verifyMetadata against a dishonest gateway catches each tampering at its version", T, async () => {
    await S.withPage(S.openPage(browser, server.url(`${S.PAGES}/lab.html`), { label: "dishonest", waitFor: "__labReady" }), async (page) => {
      for (const c of h.cases) {
        dishonest.serve(c);
        const r = await page.eval(
          async (record) => {
            try {
              const got = await window.lab.lib.verifyMetadata(record);
              return { ok: got.content };
            } catch (e) {
              return { error: { code: e?.code, index: e?.index, message: String(e?.message ?? e) } };
            }
          },
          { gateway: dishonest.url, ...h.record },
          { what: `verifyMetadata: ${c.name}`, timeoutMs: 60_000 },
        );
        assert.ok(r.error, `${c.name}: not caught (content ${JSON.stringify(r.ok)})`);
        assert.equal(r.error.code, c.code, `${c.name}: ${r.error.message}`);
        assert.equal(r.error.index, c.index, `${c.name}: ${r.error.message}`);
      }
      dishonest.serve(null);
    });
  });

  test("in the page, a stalled or endless download ends: TIMEOUT, TOO_LARGE, or ABORTED by a signal", T, async () => {
    await S.withPage(S.openPage(browser, server.url(`${S.PAGES}/lab.html`), { label: "misbehaving", waitFor: "__labReady" }), async (page) => {
      const attempt = (record, abortAfterMs) =>
        page.eval(
          async ({ record, abortAfterMs }) => {
            const ac = new AbortController();
            if (abortAfterMs !== undefined) setTimeout(() => ac.abort(new Error("changed my mind")), abortAfterMs);
            const t0 = performance.now();
            try {
              await window.lab.lib.verifyMetadata({ ...record, signal: ac.signal });
              return { ok: true };
            } catch (e) {
              return { error: { code: e?.code, reason: e?.reason, cause: e?.cause?.message, message: String(e?.message ?? e) }, ms: performance.now() - t0 };
            }
          },
          { record, abortAfterMs },
          { what: "verifyMetadata (misbehaving gateway)", timeoutMs: 60_000 },
        );
      try {
        dishonest.misbehave("stall");
        const stalled = await attempt({ gateway: dishonest.url, ...h.record, timeoutMs: 500 });
        assert.deepEqual([stalled.error?.code, stalled.error?.reason], ["FETCH_FAILED", "TIMEOUT"], JSON.stringify(stalled));
        const aborted = await attempt({ gateway: dishonest.url, ...h.record }, 300);
        assert.deepEqual([aborted.error?.code, aborted.error?.cause], ["ABORTED", "changed my mind"], JSON.stringify(aborted));
        assert.ok(aborted.ms < 10_000, `the abort took ${aborted.ms} ms`);
        dishonest.misbehave("endless");
        const flood = await attempt({ gateway: dishonest.url, ...h.record, maxBytes: 4 << 20 });
        assert.deepEqual([flood.error?.code, flood.error?.reason], ["FETCH_FAILED", "TOO_LARGE"], JSON.stringify(flood));
      } finally {
        dishonest.misbehave(null);
      }
      // Behaving again (serving the genuine history), its answer verifies in the same page.
      dishonest.serve({ head: h.head, blocks: h.blocks });
      try {
        assert.deepEqual(await attempt({ gateway: dishonest.url, ...h.record }), { ok: true });
      } finally {
        dishonest.serve(null);
      }
    });
  });

  test("the genuine history verifies, every version replayed; each tampering is caught at its version", T, async () => {
    await S.withPage(S.openPage(browser, server.url(`${S.PAGES}/lab.html`), { label: "verify", waitFor: "__labReady" }), async (page) => {
      const good = await inPage(page, h.head, h.blocks);
      assert.ok(good.ok, JSON.stringify(good.error));
      assert.deepEqual(good.ok.versions.map((v) => v.content.name), h.names);
      assert.ok(good.ok.versions.every((v) => v.replayed));
      for (const c of h.cases.filter((c) => !c.lookupOnly)) {
        const r = await inPage(page, c.head, c.blocks);
        assert.ok(r.error, `${c.name}: not caught (${JSON.stringify(r.ok?.versions?.map((v) => v.content))})`);
        assert.equal(r.error.code, c.code, `${c.name}: ${r.error.message}`);
        assert.equal(r.error.index, c.index, `${c.name}: ${r.error.message}`);
      }
    });
  });
});
