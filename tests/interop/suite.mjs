// The interop suite, run once per client package: jsclient.test.mjs (real @fluencelabs/js-client
// 0.9.0) and ours.test.mjs (our @lineage-edge/js-client, pkg/dist/index.js). Each test file runs in
// its own process. The Aqua is compiled by @fluencelabs/aqua-api 0.14.6 for js-client; for our
// package only the generated file's `from '@fluencelabs/js-client'` line is changed
// (harness.mjs `importGenerated`), i.e. existing Aqua compiled for js-client runs unchanged.
//
// The expectations are the same for both clients. Where our package differs on purpose, the test
// asserts each client's behaviour separately and says so (`OURS` branches).
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";

import { GEN_DIR, compileAll } from "./compile.mjs";
import {
  CLIENTS,
  JS_CLIENT_SPECIFIER,
  blueprintDagJson,
  cidRawSha256,
  connectClient,
  disconnectClient,
  fixtureBase64,
  fixtureBytes,
  importGenerated,
  loadClient,
  peerIdOfSeed,
  randomSeed,
  rewriteClientImport,
  startNode,
  teardown,
} from "./harness.mjs";
import { readFile } from "node:fs/promises";

export const NODE_BIN = process.env.LINEAGE_NODE_BIN;
export const SKIP_NODE = NODE_BIN
  ? false
  : "LINEAGE_NODE_BIN is not set: set it to the lineage-node binary to run the interop tests against the node";
export const T = { timeout: 60_000 };

// The AquaVM message for a call whose service returned ret_code 1 with the JSON string `text`
// (aquavm 0.63 `CatchableError::LocalServiceError`); `:error:.error_code` is 10000 for it.
export const localServiceError = (text) => `Local service error, ret_code is 1, error message is '${JSON.stringify(text)}'`;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** The functions each .aqua file must export after compilation. */
export const EXPECTED_EXPORTS = {
  relay: ["identifyRelay", "relayTimestampMs", "concatOnRelay", "addOnRelay", "timeoutOnRelay", "neighborhoodOnRelay"],
  services: [
    "deployService",
    "greetOnRelay",
    "listServices",
    "removeService",
    "callRemovedGreeting",
    "callMissingService",
    "callMissingUncaught",
    "trapOnRelay",
  ],
  echo: ["echoViaRelay", "isConnectedOnRelay", "registerEcho"],
};

/**
 * Defines the suite for client `name` ("jsclient" | "ours"). `skip`: reason to skip all of it.
 * Generated code goes to gen/<name>/ so the two test files never share (or race on) a directory.
 */
export function interopSuite(name, { skip = false } = {}) {
  const { label } = CLIENTS[name];
  const OURS = name === "ours";
  let kit;
  let compiled = null;
  const compileOnce = () => (compiled ??= compileAll({ outDir: join(GEN_DIR, name) }));
  const gen = {}; // generated modules by .aqua name, importing `kit`'s package
  const importAll = async () => {
    const { modules } = await compileOnce();
    for (const m of Object.keys(EXPECTED_EXPORTS)) gen[m] ??= await importGenerated(modules[m], kit);
  };

  describe(label, { skip }, () => {
    before(async () => {
      kit = await loadClient(name);
    });

    // ----------------------------------------------------------------------------------------------
    // Offline: always run (when the package is there).

    test("key pairs: nox test vector seed gives the nox peer id", async () => {
      const { KeyPair, fromBase64Sk } = kit.lib;
      const seed = "7h48PQ/f1rS9TxacmgODxbD42Il9B3KC117jvOPppPE=";
      const expected = "12D3KooWANqfCDrV79MZdMnMqTvDdqSAPSxdgFY1L6DCq2DVGB4D";
      assert.equal((await fromBase64Sk(seed)).getPeerId(), expected);
      const kp = await KeyPair.fromEd25519SK(new Uint8Array(Buffer.from(seed, "base64")));
      assert.equal(kp.getPeerId(), expected);
      assert.deepEqual(Buffer.from(kp.toEd25519PrivateKey()).toString("base64"), seed);
    });

    test("Aqua sources compile with aqua-api 0.14.6 and the generated JS imports resolve", T, async () => {
      const { modules, air } = await compileOnce();
      assert.deepEqual(Object.keys(modules).sort(), Object.keys(EXPECTED_EXPORTS).sort());
      for (const [m, fns] of Object.entries(EXPECTED_EXPORTS)) {
        const source = await readFile(modules[m], "utf8");
        assert.ok(source.includes(`from '${JS_CLIENT_SPECIFIER}'`), `${m}.js is generated for js-client`);
        if (OURS) {
          // Only the import line differs from what aqua-api generated.
          const orig = source.split("\n");
          const rewritten = rewriteClientImport(source, kit.specifier).split("\n");
          assert.equal(rewritten.length, orig.length);
          const changed = orig.flatMap((l, i) => (l === rewritten[i] ? [] : [[l.trim(), rewritten[i].trim()]]));
          assert.deepEqual(changed, [[`} from '${JS_CLIENT_SPECIFIER}';`, `} from '${kit.specifier}';`]]);
        }
        gen[m] = await importGenerated(modules[m], kit);
        for (const fn of fns) assert.equal(typeof gen[m][fn], "function", `${m}.js exports ${fn}`);
      }
      // The builtins each function calls on the relay, as the node will see them.
      assert.match(air.relay.identifyRelay, /\(call -relay- \("peer" "identify"\) \[\] ret\)/);
      assert.match(air.relay.addOnRelay, /\(call -relay- \("math" "add"\) \[-x-arg- -y-arg-\] ret\)/);
      assert.match(air.services.deployService, /\(call -relay- \("dist" "add_module"\) \[-wasm_b64-arg- ret\] ret-0\)/);
      assert.match(air.echo.echoViaRelay, /\(call -peer2-arg- \("echo" "echo"\) \[-s-arg-\] ret\)/);
    });

    // ----------------------------------------------------------------------------------------------
    // Against lineage-node: two peers of this client connected to one node.

    describe("against lineage-node", { skip: SKIP_NODE }, () => {
      let node;
      let client1;
      let client2;
      const echoCalls = [];

      before(async () => {
        await importAll();
        // client1 holds the node's management key: by default only it (and the node) may deploy.
        const adminSeed = randomSeed();
        node = await startNode({ args: ["--management-peer-id", peerIdOfSeed(adminSeed)] });
        client1 = await connectClient(kit, node.wsAddr, { seed: adminSeed });
        assert.equal(client1.getPeerId(), peerIdOfSeed(adminSeed));
        client2 = await connectClient(kit, node.wsAddr);
        gen.echo.registerEcho(client2, {
          echo: (s, ctx) => {
            echoCalls.push({ s, initPeerId: ctx.initPeerId });
            return `echo: ${s}`;
          },
        });
      });

      after(async () => {
        await teardown();
      });

      test("clients connect over /ws and see the node as their relay", () => {
        assert.match(node.peerId, /^12D3KooW\w+$/);
        assert.equal(client1.getRelayPeerId(), node.peerId);
        assert.equal(client1.connectionState, "connected");
        assert.notEqual(client1.getPeerId(), client2.getPeerId());
      });

      // --- relay builtins ---

      test("Peer.identify() on the relay returns nox's Info shape", T, async () => {
        const info = await gen.relay.identifyRelay(client1);
        assert.deepEqual(Object.keys(info).sort(), ["air_version", "allowed_binaries", "external_addresses", "node_version", "spell_version"]);
        assert.ok(Array.isArray(info.external_addresses), "external_addresses is an array");
        for (const a of info.external_addresses) assert.equal(typeof a, "string");
        assert.equal(typeof info.node_version, "string");
        assert.ok(info.node_version.length > 0, "node_version is not empty");
        assert.equal(typeof info.air_version, "string");
        assert.ok(info.air_version.length > 0, "air_version is not empty");
        assert.equal(typeof info.spell_version, "string");
        assert.ok(Array.isArray(info.allowed_binaries), "allowed_binaries is an array");
      });

      test("Peer.timestamp_ms() on the relay is the node's clock in ms", T, async () => {
        const t0 = Date.now();
        const ts = await gen.relay.relayTimestampMs(client1);
        const t1 = Date.now();
        assert.equal(typeof ts, "number");
        assert.ok(Number.isInteger(ts), `integer: ${ts}`);
        assert.ok(ts >= t0 - 1_000 && ts <= t1 + 1_000, `${ts} within [${t0}, ${t1}] ± 1 s`);
      });

      test("Op.concat_strings on the relay", T, async () => {
        assert.equal(await gen.relay.concatOnRelay(client1, "foo", "bar"), "foobar");
        assert.equal(await gen.relay.concatOnRelay(client1, "Zoë ", "✓"), "Zoë ✓");
        assert.equal(await gen.relay.concatOnRelay(client1, "", ""), "");
      });

      test("Math.add on the relay", T, async () => {
        assert.equal(await gen.relay.addOnRelay(client1, 2, 3), 5);
        assert.equal(await gen.relay.addOnRelay(client1, -7, 10), 3);
        assert.equal(await gen.relay.addOnRelay(client1, 4_000_000_000, 4_000_000_000), 8_000_000_000);
      });

      test("Peer.timeout on the relay answers with the message after the delay", T, async () => {
        const t = Date.now();
        assert.equal(await gen.relay.timeoutOnRelay(client1, 300, "late"), "late");
        const elapsed = Date.now() - t;
        assert.ok(elapsed >= 300, `answered after ${elapsed} ms, before the 300 ms timeout`);
      });

      test("Peer.is_connected on the relay: true for a connected client, false otherwise", T, async () => {
        assert.equal(await gen.echo.isConnectedOnRelay(client1, client2.getPeerId()), true);
        const stranger = (await kit.lib.KeyPair.randomEd25519()).getPeerId();
        assert.equal(await gen.echo.isConnectedOnRelay(client1, stranger), false);
      });

      // --- client -> relay -> client -> relay -> client ---

      test("a JS service of client 2 is called from client 1 via the relay", T, async () => {
        const r = await gen.echo.echoViaRelay(client1, client2.getPeerId(), "hello");
        assert.equal(r, "echo: hello");
        assert.deepEqual(echoCalls, [{ s: "hello", initPeerId: client1.getPeerId() }]);
      });

      // --- Marine services through Dist/Srv ---

      let greeting; // Deployed
      let greetingWasm;

      test("Dist/Srv: upload greeting.wasm, make a blueprint, create a service", T, async () => {
        greetingWasm = await fixtureBytes("greeting");
        greeting = await gen.services.deployService(client1, await fixtureBase64("greeting"), "greeting");
        assert.deepEqual(Object.keys(greeting).sort(), ["blueprint", "blueprint_id", "module_hash", "service_id"]);
        // Same ids nox computes (cid-utils Hash::new, service-modules AddBlueprint).
        assert.equal(greeting.module_hash, cidRawSha256(greetingWasm));
        assert.equal(greeting.blueprint, blueprintDagJson("greeting", [greeting.module_hash]));
        assert.equal(greeting.blueprint_id, cidRawSha256(Buffer.from(greeting.blueprint)));
        assert.match(greeting.service_id, UUID);
      });

      test("a peer without the management key may not deploy (the node's default policy)", T, async () => {
        await assert.rejects(
          gen.services.deployService(client2, await fixtureBase64("greeting"), "greeting"),
          (e) => {
            assert.match(JSON.stringify(e?.message ?? e), /may not deploy here/);
            return true;
          },
        );
      });

      test("the created service answers through `service Greeting` with the returned id", T, async () => {
        assert.ok(greeting, "service was deployed");
        assert.deepEqual(await gen.services.greetOnRelay(client1, greeting.service_id, "Bob"), { message: "Hi, Bob", name_len: 3, shouted: false });
        assert.deepEqual(await gen.services.greetOnRelay(client1, greeting.service_id, "ÅSA"), { message: "Hi, ÅSA", name_len: 4, shouted: true });
      });

      test("Srv.list shows the service with nox's Service shape", T, async () => {
        assert.ok(greeting, "service was deployed");
        const list = await gen.services.listServices(client1);
        const mine = list.filter((s) => s.id === greeting.service_id);
        assert.deepEqual(mine, [
          {
            id: greeting.service_id,
            blueprint_id: greeting.blueprint_id,
            service_type: "service",
            owner_id: client1.getPeerId(),
            aliases: [],
            worker_id: node.peerId,
          },
        ]);
      });

      test("a Marine function that traps is caught by try/catch; the service still answers", T, async () => {
        const trap = await gen.services.deployService(client1, await fixtureBase64("trap"), "trap");
        const r = await gen.services.trapOnRelay(client1, trap.service_id);
        assert.equal(r.ping, "pong");
        assert.equal(r.error.error_code, 10000);
        assert.ok(
          r.error.message.startsWith(`Local service error, ret_code is 1, error message is '"`),
          `AquaVM local service error, got: ${r.error.message}`,
        );
        await gen.services.removeService(client1, trap.service_id);
      });

      test("Srv.remove: the service is gone and calling it fails like nox", T, async () => {
        assert.ok(greeting, "service was deployed");
        await gen.services.removeService(client1, greeting.service_id);
        const list = await gen.services.listServices(client1);
        assert.deepEqual(list.filter((s) => s.id === greeting.service_id), []);
        const caught = await gen.services.callRemovedGreeting(client1, greeting.service_id);
        assert.deepEqual(caught, {
          message: localServiceError(`Service with id '${greeting.service_id}' not found (function greet)`),
          error_code: 10000,
        });
      });

      // --- errors ---

      test("a call to a nonexistent service is caught by try/catch with nox's message", T, async () => {
        assert.deepEqual(await gen.services.callMissingService(client1), {
          message: localServiceError("Service with id 'no-such-service' not found (function no_such_fn)"),
          error_code: 10000,
        });
      });

      test("an uncaught error on the relay rejects the call's promise", T, async (t) => {
        const text = "Service with id 'no-such-service' not found (function no_such_fn)";
        const err = await gen.services.callMissingUncaught(client1).then(
          (v) => assert.fail(`resolved with ${JSON.stringify(v)}`),
          (e) => e,
        );
        t.diagnostic(`rejected with ${err instanceof Error ? `${err.name} (code ${JSON.stringify(err.code)}): ` : ""}${JSON.stringify(err)}`);
        // Both: AquaVM's `:error:` fields, as js-client 0.9 rejects with them.
        assert.deepEqual(Object.keys(err).sort(), ["error_code", "instruction", "message", "peer_id"]);
        assert.equal(err.error_code, 10000);
        assert.equal(err.message, localServiceError(text));
        assert.equal(err.peer_id, node.peerId);
        assert.match(err.instruction, /no_such_fn/);
        if (OURS) {
          // Intentional difference: our package rejects with an Error carrying those fields and a
          // non-enumerable `code`, where js-client 0.9 rejects with the bare `:error:` object.
          assert.ok(err instanceof Error, `an Error, got ${typeof err}`);
          assert.equal(err.code, "SCRIPT_ERROR");
        } else {
          assert.ok(!(err instanceof Error), "js-client rejects with the :error: object, not an Error");
        }
      });

      // --- connection state ---

      test("onConnectionStateChange: returns the state; disconnect goes disconnecting → disconnected", T, async () => {
        const client3 = await connectClient(kit, node.wsAddr);
        const seen1 = [];
        const seen2 = [];
        assert.equal(client3.onConnectionStateChange((s) => seen1.push(s)), "connected");
        assert.equal(client3.onConnectionStateChange((s) => seen2.push(s)), "connected");
        await disconnectClient(client3);
        assert.equal(client3.connectionState, "disconnected");
        assert.deepEqual(seen2, ["disconnecting", "disconnected"]);
        if (OURS) {
          // Intentional difference: our package keeps every handler.
          assert.deepEqual(seen1, ["disconnecting", "disconnected"], "the first handler is kept");
        } else {
          // js-client 0.9 keeps one handler: the second registration replaced the first.
          assert.deepEqual(seen1, [], "js-client keeps only the last handler");
        }
      });

      // --- shutdown ---

      test("clients disconnect; the node exits 0 on SIGTERM within 5 s", T, async () => {
        await disconnectClient(client1);
        await disconnectClient(client2);
        const r = await node.stop(5_000);
        assert.equal(r.killed, false, `node still running ${r.ms} ms after SIGTERM`);
        assert.deepEqual({ code: r.code, signal: r.signal }, { code: 0, signal: null });
        assert.ok(r.ms <= 5_000, `exited after ${r.ms} ms`);
      });
    });
  });
}
