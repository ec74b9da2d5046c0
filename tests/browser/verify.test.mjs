// In-browser verification: our package's verifyHistory in real headless Chromium on a history a
// real lineage-node wrote — the genuine history verifies (meta contract replayed in the page's
// wasm), and each tampering a dishonest node could serve is caught at its version
// (tests/metadata/tamper.mjs builds the cases; tests/metadata/verify.test.mjs runs them in Node).
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";

import * as S from "./support.mjs";
import { teardown as stopInteropNodes } from "../interop/harness.mjs";
import { startNode } from "../metadata/support.mjs";
import { historyAndTamperings } from "../metadata/tamper.mjs";

const T = { timeout: 120_000 };
const missing = S.missingArtifacts();

after(() => S.exitIfStuck());

describe("verifyHistory in headless Chromium", { skip: S.skipReason(missing) }, () => {
  let server;
  let browser;
  let h;

  before(async () => {
    S.assertArtifacts(missing);
    const node = await startNode();
    h = await historyAndTamperings(node.httpUrl);
    server = await S.startServer();
    browser = await S.launchBrowser();
  }, T);

  after(async () => {
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

  test("the genuine history verifies, every version replayed; each tampering is caught at its version", T, async () => {
    await S.withPage(S.openPage(browser, server.url(`${S.PAGES}/lab.html`), { label: "verify", waitFor: "__labReady" }), async (page) => {
      const good = await inPage(page, h.head, h.blocks);
      assert.ok(good.ok, JSON.stringify(good.error));
      assert.deepEqual(good.ok.versions.map((v) => v.content.name), h.names);
      assert.ok(good.ok.versions.every((v) => v.replayed));
      for (const c of h.cases) {
        const r = await inPage(page, c.head, c.blocks);
        assert.ok(r.error, `${c.name}: not caught (${JSON.stringify(r.ok?.versions?.map((v) => v.content))})`);
        assert.equal(r.error.code, c.code, `${c.name}: ${r.error.message}`);
        assert.equal(r.error.index, c.index, `${c.name}: ${r.error.message}`);
      }
    });
  });
});
