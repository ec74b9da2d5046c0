// The npm package (pkg/, `@lineage-edge/js-client`) in real headless Chromium against the real
// lineage-node on loopback: /ws and /webrtc-direct, hand-written AIR and aqua-compiled code, JS and
// Marine services called by the real js-client 0.9 from Node, a module Worker, a strict CSP page,
// a plain module script, a Vite bundle, and a hostile peer answering for the page.
//
//   node --test tests/browser/
//
// Needs pkg/dist (bash scripts/build-pkg.sh), lineage-node ($LINEAGE_NODE_BIN, default
// $CARGO_TARGET_DIR/debug/lineage-node), /usr/bin/chromium. Missing ones skip the tests, saying
// which; with CI=true or LINEAGE_REQUIRE_BROWSER=1 they fail instead. BROWSER_NODE_LOG=1 echoes
// the node's output.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

import * as S from "./support.mjs";
import { ADD, HOSTILE, IDENTIFY, TIMEOUT, TIMESTAMP } from "./pages/air.js";

const T = { timeout: 90_000 };
const missing = S.missingArtifacts(["jsclient", "aqua"]);
const missingVite = S.missingArtifacts(["jsclient", "aqua", "vite"]);

after(() => S.exitIfStuck());

// The relay's Info as the node answers `peer.identify` (nox's shape; tests/interop checks it too).
function assertInfo(info, where) {
  assert.equal(typeof info, "object", `${where}: Info is an object, got ${JSON.stringify(info)}`);
  assert.deepEqual(
    Object.keys(info).sort(),
    ["air_version", "allowed_binaries", "external_addresses", "node_version", "spell_version"],
    `${where}: Info keys`,
  );
  assert.ok(Array.isArray(info.external_addresses), `${where}: external_addresses is an array`);
  assert.equal(typeof info.node_version, "string");
  assert.ok(info.node_version.length > 0, `${where}: node_version is not empty`);
}

describe("@lineage-edge/js-client in headless Chromium against lineage-node", { skip: S.skipReason(missing) }, () => {
  let node;
  let server;
  let browser;
  let aqua; // compiled tests/browser/aqua/browser.aqua
  let gen; // its Node copy (imports the real js-client 0.9)
  let jsc; // a real js-client 0.9 peer in this process
  let js; // the @fluencelabs/js-client module

  before(
    async () => {
      S.assertArtifacts(missing);
      aqua = await S.compileBrowserAqua();
      server = await S.startServer({ virtual: new Map([[S.PAGE_GEN, { body: aqua.pageJs }]]) });
      node = await S.startNode();
      browser = await S.launchBrowser();
      js = await S.jsClient();
      gen = await S.importFile(aqua.nodeModule);
      jsc = await S.connectJsClient(node.wsAddr);
    },
    { timeout: 120_000 },
  );

  after(async () => {
    await S.teardown({ server, dirs: [aqua?.dir] });
  });

  const lab = (relay = node.wsAddr, label = "lab /ws") => S.openLab(browser, server, relay, { label });
  const call = (h, script, args = {}, opts = {}) =>
    h.eval(({ script, args, opts }) => window.lab.call(script, args, opts), { script, args, opts }, { what: "lab.call" }).then((r) => h.unwrap(r, "callAquaFunction"));
  const aquaCall = (h, fn, args = []) =>
    h.eval(({ url, fn, args }) => window.lab.aqua(url, fn, args), { url: S.PAGE_GEN, fn, args }, { what: `aqua ${fn}` }).then((r) => h.unwrap(r, `aqua ${fn}`));

  // 1 -------------------------------------------------------------------------------------------
  test("1a. the package's exports mirror js-client 0.9", T, async () => {
    await S.withPage(S.openPage(browser, server.url(`${S.PAGES}/lab.html`), { waitFor: "__labReady" }), async (h) => {
      const names = await h.eval(() => window.lab.exports());
      for (const n of [
        "ClientPeer",
        "Fluence",
        "KeyPair",
        "callAquaFunction",
        "createClient",
        "fromBase64Sk",
        "registerService",
        "v5_callFunction",
        "v5_registerService",
      ]) {
        assert.ok(names.includes(n), `export ${n} missing; exports: ${names.join(", ")}`);
      }
    });
  });

  test("1b. a page connects over /ws and calls relay builtins with hand-written AIR", T, async () => {
    await S.withPage(lab(), async (h) => {
      assert.match(h.info.peerId, /^12D3KooW\w+$/);
      assert.equal(h.info.relayPeerId, node.peerId);
      assert.equal(h.info.state, "connected");
      assertInfo(await call(h, IDENTIFY), "peer.identify");
      assert.equal(await call(h, ADD, { x: 2, y: 3 }), 5);
      assert.equal(await call(h, ADD, { x: -7, y: 10 }), 3);
      const t0 = Date.now();
      const ts = await call(h, TIMESTAMP);
      assert.ok(Number.isInteger(ts) && ts >= t0 - 2_000 && ts <= Date.now() + 2_000, `relay clock ${ts} near ${t0}`);
      assert.equal(await call(h, TIMEOUT, { ms: 200, msg: "late" }), "late");
    });
  });

  test("1c. the page runs Aqua compiled by aqua-api 0.14.6 (generated JS, import rewritten)", T, async () => {
    await S.withPage(lab(), async (h) => {
      assertInfo(await aquaCall(h, "identifyRelay"), "identifyRelay()");
      assert.equal(await aquaCall(h, "addOnRelay", [4_000_000_000, 4_000_000_000]), 8_000_000_000);
      assert.equal(await aquaCall(h, "timeoutOnRelay", [150, "zoë ✓"]), "zoë ✓");
      // An arrow argument: callbackSrv/cb is served by the page's function.
      const r = await h.eval(async (url) => {
        try {
          const m = await import(url);
          const seen = [];
          const out = await m.stampViaCallback(window.lab.peer, "stamp", (label, ts, ctx) => {
            seen.push({ label, ts, particleId: ctx?.particleId });
            return `${label}@${ts}`;
          });
          return { ok: { out, seen } };
        } catch (e) {
          return { error: { message: String(e?.message ?? e), code: e?.code, stack: String(e?.stack ?? "") } };
        }
      }, S.PAGE_GEN);
      const { out, seen } = h.unwrap(r, "stampViaCallback");
      assert.equal(seen.length, 1, `callback called once: ${JSON.stringify(seen)}`);
      assert.equal(out, `stamp@${seen[0].ts}`);
      assert.ok(typeof seen[0].particleId === "string" && seen[0].particleId.length > 0, "callback got a ParticleContext");
    });
  });

  test("1d. connecting to a relay that is not there rejects with an Error carrying a code", T, async () => {
    const [closed] = (await S.freePorts({ tcp: 1, udp: 0 })).tcp;
    await S.withPage(S.openPage(browser, server.url(`${S.PAGES}/lab.html`), { label: "dial error", waitFor: "__labReady" }), async (h) => {
      const r = await h.eval(
        async (relay) => {
          const t0 = Date.now();
          try {
            await window.lab.lib.createClient(relay, { defaultTtlMs: 5_000, connectionOptions: { dialTimeoutMs: 5_000 } });
            return { resolved: true };
          } catch (e) {
            return { isError: e instanceof Error, name: e?.name, message: String(e?.message ?? e), code: e?.code, ms: Date.now() - t0 };
          }
        },
        `/ip4/127.0.0.1/tcp/${closed}/ws/p2p/${node.peerId}`,
        { timeoutMs: 40_000, what: "createClient to a closed port" },
      );
      assert.notEqual(r.resolved, true, "createClient resolved although nothing listens");
      assert.equal(r.isError, true, `rejects with an Error: ${JSON.stringify(r)}`);
      assert.ok(r.code !== undefined && r.code !== null && r.code !== "", `the Error has a code: ${JSON.stringify(r)}`);
      console.log(`dial error: ${JSON.stringify(r)}`);
    });
  });

  // 2 -------------------------------------------------------------------------------------------
  test("2. a page connects over /webrtc-direct/certhash and calls the relay", T, async () => {
    assert.ok(node.webrtcAddr, `the node printed no /ip4/127.0.0.1/udp/N/webrtc-direct/certhash/…/p2p/… address: ${JSON.stringify(node.addrs)}`);
    await S.withPage(lab(node.webrtcAddr, "lab /webrtc-direct"), async (h) => {
      assert.equal(h.info.relayPeerId, node.peerId);
      assert.equal(h.info.state, "connected");
      assertInfo(await call(h, IDENTIFY), "peer.identify over webrtc-direct");
      assert.equal(await call(h, ADD, { x: 20, y: 22 }), 42);
    });
  });

  // 3 -------------------------------------------------------------------------------------------
  test("3. JS services registered in the page are called by js-client 0.9 (Node) through the relay", T, async () => {
    await S.withPage(lab(), async (h) => {
      const pageId = h.info.peerId;
      assert.equal(await h.eval((url) => window.lab.registerCompiledEcho(url), S.PAGE_GEN), true);
      assert.equal(await h.eval(() => window.lab.registerLowLevelCalc()), true);

      assert.equal(await gen.echoViaRelay(jsc, pageId, "hello"), "echo from page: hello");
      assert.equal(await gen.echoViaRelay(jsc, pageId, "Zoë ✓"), "echo from page: Zoë ✓");
      assert.equal(await gen.twiceViaRelay(jsc, pageId, 21), 42);

      const seen = await h.eval(() => window.lab.serviceCalls);
      assert.deepEqual(
        seen.map(({ service, s, args, initPeerId }) => ({ service, arg: s ?? args[0], initPeerId })),
        [
          { service: "echo", arg: "hello", initPeerId: jsc.getPeerId() },
          { service: "echo", arg: "Zoë ✓", initPeerId: jsc.getPeerId() },
          { service: "calc", arg: 21, initPeerId: jsc.getPeerId() },
        ],
      );
    });
  });

  // 4 -------------------------------------------------------------------------------------------
  test("4. a Marine service (greeting.wasm) registered in the page answers particles", T, async () => {
    await S.withPage(lab(), async (h) => {
      const pageId = h.info.peerId;
      const reg = await h.eval(() => window.lab.registerMarine("/tests/fixtures/greeting.wasm", "greeting"), undefined, { timeoutMs: 60_000 });
      h.unwrap(reg, "registerMarineService");
      // from the real js-client 0.9 in Node, through the relay
      assert.deepEqual(await gen.greetOnPeer(jsc, pageId, "Bob"), { message: "Hi, Bob", name_len: 3, shouted: false });
      assert.deepEqual(await gen.greetOnPeer(jsc, pageId, "ÅSA"), { message: "Hi, ÅSA", name_len: 4, shouted: true });
      // and from the page itself
      const local = await call(
        h,
        `(xor (seq (call %init_peer_id% ("greeting" "greet") ["BOB"] r) (call %init_peer_id% ("callbackSrv" "response") [r]))
              (call %init_peer_id% ("errorHandlingSrv" "error") [%last_error% 0]))`,
      );
      assert.deepEqual(local, { message: "Hi, BOB", name_len: 3, shouted: true });
    });
  });

  // 5 -------------------------------------------------------------------------------------------
  test("5. a module Web Worker imports the package, connects over /ws and calls the relay", T, async () => {
    await S.withPage(S.openPage(browser, server.url(`${S.PAGES}/lab.html`), { label: "worker", waitFor: "__labReady" }), async (h) => {
      const r = await h.eval((relay) => window.lab.runWorker(relay), node.wsAddr, { timeoutMs: 60_000, what: "worker" });
      const ok = h.unwrap(r, "worker");
      assert.equal(ok.hasWindow, false);
      assert.equal(ok.relayPeerId, node.peerId);
      assert.equal(ok.state, "connected");
      assertInfo(ok.identify, "peer.identify from the worker");
      assert.equal(ok.stateAfterDisconnect, "disconnected");
    });
  });

  // 6 -------------------------------------------------------------------------------------------
  test("6. under Content-Security-Policy script-src 'self' 'wasm-unsafe-eval'", T, async () => {
    const url = server.url(`${S.PAGES}/csp.html?relay=${encodeURIComponent(node.wsAddr)}`);
    await S.withPage(S.openPage(browser, url, { label: "csp" }), async (h) => {
      assert.equal(h.response.headers()["content-security-policy"], S.CSP);
      const ok = await h.result();
      assert.equal(ok.evalBlocked, true, "the policy is in force (eval is blocked)");
      assert.deepEqual(ok.violations, [], "no CSP violations besides the eval probe");
      assert.equal(ok.relayPeerId, node.peerId);
      assertInfo(ok.identify, "peer.identify under CSP");
      assert.equal(ok.sum, 42);
    });
  });

  // 7 -------------------------------------------------------------------------------------------
  test("7a. a plain <script type=module> page (Fluence.connect / getClient / disconnect)", T, async () => {
    const url = server.url(`${S.PAGES}/plain.html?relay=${encodeURIComponent(node.wsAddr)}`);
    await S.withPage(S.openPage(browser, url, { label: "plain" }), async (h) => {
      const ok = await h.result();
      assert.equal(ok.r, "plain module");
      assert.equal(ok.relayPeerId, node.peerId);
      assert.equal(ok.state, "connected");
      assert.equal(ok.defaultClientAfter, "undefined");
      assert.equal(await h.page.textContent("#out"), "plain module");
    });
  });

  test("7b. a tiny app bundled by `vite build` works", { ...T, timeout: 180_000, skip: S.skipReason(missingVite) }, async () => {
    S.assertArtifacts(missingVite);
    const out = await mkdtemp(join(tmpdir(), "lineage-vite-"));
    try {
      const build = await run(
        process.execPath,
        [join(S.ROOT, "node_modules", "vite", "bin", "vite.js"), "build", "--outDir", out, "--emptyOutDir", "--base", "/__vite/", "--logLevel", "warn"],
        { cwd: join(S.ROOT, "tests", "browser", "vite-app"), timeoutMs: 150_000 },
      );
      assert.equal(build.code, 0, `vite build failed (code ${build.code}, signal ${build.signal}):\n${build.output}`);
      const assets = await readdir(join(out, "assets")).catch(() => []);
      server.mounts["/__vite/"] = out;
      const url = server.url(`/__vite/index.html?relay=${encodeURIComponent(node.wsAddr)}`);
      await S.withPage(S.openPage(browser, url, { label: "vite app" }), async (h) => {
        let ok;
        try {
          ok = await h.result();
        } catch (e) {
          e.message += `\n--- vite output (${out}) ---\nassets: ${assets.join(", ")}\n${build.output}`;
          throw e;
        }
        assert.equal(ok.sum, 42);
        assert.equal(ok.peerId, ok.keyPairPeerId, "the configured key pair is used");
        assert.equal(ok.relayPeerId, node.peerId);
        const wasm = server.requests.filter((r) => r.path.startsWith("/__vite/") && r.path.endsWith(".wasm"));
        assert.ok(wasm.length > 0 && wasm.every((r) => r.status === 200), `the bundle loads its wasm from /__vite/: ${JSON.stringify(wasm)}; assets ${assets}`);
      });
    } finally {
      delete server.mounts["/__vite/"];
      await rm(out, { recursive: true, force: true });
    }
  });

  // 9 -------------------------------------------------------------------------------------------
  test("9. a hostile peer answering for the page's pending call cannot change its result", T, async () => {
    await S.withPage(lab(), async (h) => {
      const pageId = h.info.peerId;
      const own = `own-${Math.random().toString(36).slice(2)}`;
      const hostile = `HOSTILE-${Math.random().toString(36).slice(2)}`;
      const handle = await h.eval(({ script, own }) => window.lab.start(script, { ms: 4_000, msg: own }), { script: TIMEOUT, own });
      await S.sleep(300);
      assert.equal(await h.eval((id) => window.lab.peek(id), handle), null, "the page's call is still pending");

      // js-client 0.9 (Node) sends its own particle to the page, calling the page's
      // callbackSrv.response and errorHandlingSrv.error with its value.
      const report = await js.callAquaFunction({
        script: HOSTILE,
        config: { ttl: 20_000 },
        peer: jsc,
        args: { target: pageId, value: hostile },
        fireAndForget: false,
      });
      const pendingAfterAttack = await h.eval((id) => window.lab.peek(id), handle);
      assert.equal(pendingAfterAttack, null, `the page's call settled during the attack: ${JSON.stringify(pendingAfterAttack)}`);
      assert.ok(Array.isArray(report) && report.length === 2, `the hostile particle went through the page and back: ${JSON.stringify(report)}`);

      const settled = await h.eval((id) => window.lab.wait(id), handle, { timeoutMs: 30_000 });
      assert.ok(!JSON.stringify(settled).includes(hostile), `the hostile value reached the page's call: ${JSON.stringify(settled)}`);
      assert.deepEqual({ ok: settled.ok, error: settled.error }, { ok: own, error: undefined });
      // the page still works
      assert.equal(await call(h, ADD, { x: 1, y: 1 }), 2);
      console.log(`hostile particle report from the page: ${JSON.stringify(report)}`);
    });
  });
});

// When artifacts are missing and CI=true / LINEAGE_REQUIRE_BROWSER=1: fail loudly, don't skip.
if (S.REQUIRE && missing.length > 0) {
  test("browser test artifacts are present (required: CI / LINEAGE_REQUIRE_BROWSER)", () => S.assertArtifacts(missing));
}

/** Runs a command, collecting its output; kills it after `timeoutMs`. */
function run(cmd, args, { cwd, timeoutMs }) {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd, stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, NO_COLOR: "1" } });
    let output = "";
    child.stdout.on("data", (d) => (output += d));
    child.stderr.on("data", (d) => (output += d));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, output });
    });
  });
}
