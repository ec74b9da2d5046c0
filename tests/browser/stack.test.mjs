// AquaVM recurses per `fold` element and per nested `seq`: wasm32's default 1 MiB stack would
// overflow on an ordinary Aqua `for` over a few hundred items. crates/web/build.rs gives the light
// peer an 8 MiB stack; this runs such folds in real headless Chromium (locally, and with each
// item's call made on the relay) and checks the page survives and answers.
//
//   node --test tests/browser/stack.test.mjs
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";

import * as S from "./support.mjs";

const T = { timeout: 120_000 };
const missing = S.missingArtifacts();

after(() => S.exitIfStuck());

/** AIR of `for x <- items: results <<- f(x)` then `<- results` (what aqua compiles a `for` to). */
function foldAir(onRelay) {
  const callee = onRelay ? "-relay-" : "%init_peer_id%";
  return `
(xor
 (seq
  (seq
   (seq
    (call %init_peer_id% ("getDataSrv" "-relay-") [] -relay-)
    (call %init_peer_id% ("getDataSrv" "items") [] items))
   (new $results
    (seq
     (fold items x
      (seq
       (seq
        (call ${callee} ("op" "identity") [x] y)
        (ap y $results))
       (next x)))
     (canon %init_peer_id% $results #results))))
  (call %init_peer_id% ("callbackSrv" "response") [#results]))
 (call %init_peer_id% ("errorHandlingSrv" "error") [%last_error% 0]))`;
}

describe("AquaVM folds in the browser light peer (stack size)", { skip: S.skipReason(missing) }, () => {
  let node;
  let server;
  let browser;

  before(
    async () => {
      S.assertArtifacts(missing);
      server = await S.startServer();
      node = await S.startNode();
      browser = await S.launchBrowser();
    },
    { timeout: 120_000 },
  );
  after(async () => S.teardown({ server }));

  const call = (h, script, args, opts) =>
    h
      .eval(({ script, args, opts }) => window.lab.call(script, args, opts), { script, args, opts }, { what: "lab.call", timeoutMs: 100_000 })
      .then((r) => h.unwrap(r, "callAquaFunction"));

  test("a local fold over 400 items returns every item", T, async () => {
    await S.withPage(S.openLab(browser, server, node.wsAddr, { label: "fold local" }), async (h) => {
      const items = Array.from({ length: 400 }, (_, i) => `item-${i}`);
      const got = await call(h, foldAir(false), { items }, { ttl: 90_000 });
      assert.deepEqual(got, items);
      // The page is still alive and serving.
      assert.deepEqual(await call(h, foldAir(false), { items: ["still", "here"] }, { ttl: 20_000 }), ["still", "here"]);
    });
  });

  test("a fold over 100 items with one relay call each comes back whole", T, async () => {
    await S.withPage(S.openLab(browser, server, node.wsAddr, { label: "fold via relay" }), async (h) => {
      const items = Array.from({ length: 100 }, (_, i) => i);
      const got = await call(h, foldAir(true), { items }, { ttl: 90_000 });
      assert.deepEqual(got, items);
    });
  });
});
