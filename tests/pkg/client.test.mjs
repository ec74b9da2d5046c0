// Client-side behaviour that needs no wasm: exports, relay/config validation (against the real
// js-client's messages), default-client errors, relay lists, key decoding, error shapes.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { needsReal, ours, outcome, real } from "./setup.mjs";

// Connecting stops at loading the wasm: the glue is stubbed and fails with NO_WASM.
const NO_WASM = { code: "NO_WASM" };
const RELAY = "/ip4/127.0.0.1/tcp/9999/ws/p2p/12D3KooWANqfCDrV79MZdMnMqTvDdqSAPSxdgFY1L6DCq2DVGB4D";

// createClient arguments js-client's zod schema rejects: compared with the live js-client.
const SCHEMA_CASES = [
  [123, {}],
  [undefined, {}],
  [null, {}],
  [{ peerId: 1 }, {}],
  [{ multiaddr: RELAY }, {}],
  [["/ip4/1.2.3.4"], {}],
  [RELAY, "x"],
  [RELAY, null],
  [RELAY, []],
  [RELAY, { defaultTtlMs: "1" }],
  [RELAY, { defaultTtlMs: NaN }],
  [RELAY, { CDNUrl: 1, debug: { printParticleId: 1 } }],
  [RELAY, { keyPair: { source: "x" } }],
  [RELAY, { keyPair: { type: "RSA", source: new Uint8Array(32) } }],
  [RELAY, { keyPair: 5, connectionOptions: null }],
  [RELAY, { connectionOptions: { dialTimeoutMs: "5", skipCheckConnection: [], maxInboundStreams: {}, maxOutboundStreams: null } }],
  [RELAY, { debug: [] }],
];

// Arguments that pass js-client's schema and fail later, with the messages js-client 0.9 gives
// (recorded on Node 20: a live createClient that gets this far leaves its marine worker running).
const LATER_CASES = [
  ["/ip4/127.0.0.1/tcp/9999/ws", {}, "Specified multiaddr is invalid or missing peer id: /ip4/127.0.0.1/tcp/9999/ws"],
  ["/ip4/127.0.0.1/tcp/9999/ws/", {}, "Specified multiaddr is invalid or missing peer id: /ip4/127.0.0.1/tcp/9999/ws"],
  [{ peerId: "x", multiaddr: "/dns4/example.com/tcp/443/wss" }, {}, "Specified multiaddr is invalid or missing peer id: /dns4/example.com/tcp/443/wss"],
  [`${RELAY}/p2p-circuit`, {}, `Specified multiaddr is invalid or missing peer id: ${RELAY}/p2p-circuit`],
  ["ip4/127.0.0.1", {}, 'multiaddr "ip4/127.0.0.1" must start with a "/"'],
  [RELAY, { keyPair: { type: "Ed25519", source: new Uint8Array(3) } }, '"seed" must be 32 bytes in length.'],
];

const label = (relay, config) => `${JSON.stringify(relay)} ${JSON.stringify(config) ?? String(config)}`;

describe("createClient validation matches @fluencelabs/js-client", needsReal, () => {
  for (const [relay, config] of SCHEMA_CASES) {
    test(label(relay, config), async () => {
      const theirs = await outcome(() => real.createClient(relay, config));
      assert.ok("error" in theirs, "js-client accepted these arguments");
      const mine = await outcome(() => ours.createClient(relay, config));
      assert.deepEqual(mine, theirs);
    });
  }
});

describe("createClient rejects bad relays and seeds as js-client does", () => {
  for (const [relay, config, message] of LATER_CASES) {
    test(label(relay, config), async () => {
      await assert.rejects(ours.createClient(relay, config), { code: /^BAD_(RELAY|KEY)$/, message });
    });
  }
});

describe("createClient validation", () => {
  test("errors carry a code", async () => {
    await assert.rejects(ours.createClient(123), { code: "BAD_CONFIG" });
    await assert.rejects(ours.createClient(RELAY, { defaultTtlMs: "1" }), {
      code: "BAD_CONFIG",
      message: '{"_errors":[],"defaultTtlMs":{"_errors":["Expected number, received string"]}}',
    });
    await assert.rejects(ours.createClient("/ip4/127.0.0.1/tcp/9999/ws"), {
      code: "BAD_RELAY",
      message: "Specified multiaddr is invalid or missing peer id: /ip4/127.0.0.1/tcp/9999/ws",
    });
    await assert.rejects(ours.createClient(RELAY, { connectionOptions: { reconnect: "no" } }), {
      code: "BAD_CONFIG",
      message: '{"_errors":[],"connectionOptions":{"_errors":[],"reconnect":{"_errors":["Expected boolean, received string"]}}}',
    });
  });

  test("a valid configuration gets as far as loading the wasm", async () => {
    const config = { keyPair: { type: "Ed25519", source: "random" }, defaultTtlMs: 1000, CDNUrl: "https://x", debug: { printParticleId: true } };
    await assert.rejects(ours.createClient({ peerId: "ignored", multiaddr: RELAY }, config), NO_WASM);
  });

  test("ClientPeer reads the relay peer id without connecting", () => {
    const peer = new ours.ClientPeer(RELAY);
    assert.equal(peer.getRelayPeerId(), "12D3KooWANqfCDrV79MZdMnMqTvDdqSAPSxdgFY1L6DCq2DVGB4D");
    assert.equal(peer.connectionState, "disconnected");
    assert.throws(() => peer.getPeerId(), { code: "NOT_INITIALIZED" });
  });

  test("state handlers are all kept, also when added before connect", async () => {
    const peer = new ours.ClientPeer(RELAY);
    const seen = [];
    assert.equal(peer.onConnectionStateChange((s) => seen.push(["a", s])), "disconnected");
    peer.onConnectionStateChange((s) => seen.push(["b", s]));
    await assert.rejects(peer.connect(), NO_WASM);
    assert.deepEqual(seen, [["a", "connecting"], ["b", "connecting"], ["a", "disconnected"], ["b", "disconnected"]]);
  });

  test("calls on a peer that is not connected", async () => {
    const peer = new ours.ClientPeer(RELAY);
    await assert.rejects(ours.callAquaFunction({ script: "(null)", peer, args: {}, fireAndForget: false }), {
      code: "NOT_CONNECTED",
      message: "Cannot initiate new particle: peer is not initialized",
    });
    await assert.rejects(peer.registerMarineService(new Uint8Array(8), "svc"), { code: "NOT_CONNECTED" });
    // Services can be registered before connecting; they are installed on connect.
    ours.registerService({ peer, serviceId: "echo", service: { echo: ({ args }) => args[0] } });
    await assert.rejects(peer.registerMarineService(new Uint8Array(8), "echo"), {
      code: "SERVICE_EXISTS",
      message: "Service with 'echo' id already exists",
    });
    assert.throws(() => peer.internals.regHandler.forParticle("id", "s", "f", () => {}), { code: "UNSUPPORTED" });
  });
});

describe("exports", () => {
  test("every runtime export of js-client 0.9 exists, and only our verification besides", () => {
    const expected = real
      ? Object.keys(real).sort()
      : [
          "ClientPeer", "Fluence", "KeyPair", "aqua2js", "callAquaFunction", "createClient", "fromBase58Sk", "fromBase64Sk",
          "fromOpts", "js2aqua", "kras", "randomKras", "randomStage", "randomTestNet", "registerService", "stage", "testNet",
          "v5_callFunction", "v5_registerService",
        ];
    // Ours only (not in js-client): in-page verification of Lineage metadata.
    const oursOnly = ["verifyHistory", "verifyMetadata", "discoverWallets", "keyPairSigner", "publishMetadata", "walletSigner"];
    assert.deepEqual(Object.keys(ours).filter((k) => !oursOnly.includes(k)).sort(), expected);
    for (const name of oursOnly) assert.equal(typeof ours[name], "function", name);
  });

  test("the ./keypair subpath", async () => {
    const keypair = await import("../../pkg/src/keypair.js");
    for (const name of ["KeyPair", "fromBase64Sk", "fromBase58Sk", "fromOpts"]) assert.equal(keypair[name], ours[name]);
  });

  test("relay lists equal js-client's", needsReal, () => {
    for (const name of ["kras", "stage", "testNet"]) assert.deepEqual(ours[name], real[name], name);
    for (const name of ["randomKras", "randomStage", "randomTestNet"]) {
      const list = ours[name.replace("random", "").replace(/^./, (c) => c.toLowerCase())];
      assert.ok(list.includes(ours[name]()), name);
    }
  });
});

describe("default client", () => {
  const fnDef = (domain, codomain = { tag: "nil" }) => ({ functionName: "f", arrow: { tag: "arrow", domain, codomain }, names: {} });
  const svcDef = { defaultServiceId: "svc", functions: { tag: "labeledProduct", fields: {} } };

  test("errors before Fluence.connect match js-client", async () => {
    const cases = [
      () => ours.Fluence.getClient(),
      () => ours.v5_callFunction([], fnDef({ tag: "nil" }), "(null)"),
      () => ours.v5_callFunction(["x", { ttl: 1 }], fnDef({ tag: "labeledProduct", fields: { a: { tag: "scalar", name: "string" } } }), "(null)"),
      () => ours.v5_registerService([{}], svcDef),
      () => ours.v5_registerService(["id", {}], svcDef),
    ];
    const texts = [
      "Fluence client is not initialized. Call Fluence.connect() first",
      ...Array(4).fill("Could not register Aqua service because the client is not initialized. Did you forget to call Fluence.connect()?"),
    ];
    for (const [i, run] of cases.entries()) {
      const mine = await outcome(run);
      assert.deepEqual(mine, { error: texts[i] }, `case ${i}`);
      if (real) {
        const theirs = await outcome(() => (i === 0 ? real.Fluence.getClient() : i <= 2 ? real.v5_callFunction(...runArgs(i)) : real.v5_registerService(...runArgs(i))));
        assert.deepEqual(mine, theirs, `case ${i} vs js-client`);
      }
      await assert.rejects(async () => run(), { code: "NOT_INITIALIZED" });
    }
    function runArgs(i) {
      return [
        null,
        [[], fnDef({ tag: "nil" }), "(null)"],
        [["x", { ttl: 1 }], fnDef({ tag: "labeledProduct", fields: { a: { tag: "scalar", name: "string" } } }), "(null)"],
        [[{}], svcDef],
        [["id", {}], svcDef],
      ][i];
    }
  });

  test("Fluence keeps state handlers given before connect", async () => {
    const seen = [];
    const handler = (s) => seen.push(s);
    assert.equal(ours.Fluence.onConnectionStateChange(handler), "disconnected");
    await assert.rejects(ours.Fluence.connect(RELAY), NO_WASM);
    assert.deepEqual(seen, ["connecting", "disconnected"]);
    assert.equal(ours.Fluence.defaultClient, undefined);
    assert.equal(ours.Fluence.offConnectionStateChange(handler), true);
  });

  test("v5_registerService checks the implementation against the schema", () => {
    const peer = new ours.ClientPeer(RELAY);
    const def = {
      defaultServiceId: "greeter",
      functions: { tag: "labeledProduct", fields: { hi: { tag: "arrow", domain: { tag: "nil" }, codomain: { tag: "nil" } } } },
    };
    assert.throws(() => ours.v5_registerService([peer, {}], def), {
      code: "SCHEMA_MISMATCH",
      message:
        "Service function hi listed in Aqua schema but wasn't provided in schema implementation object or class instance. Check that your Aqua service definition matches passed service implementation",
    });
    assert.throws(() => ours.v5_registerService([peer, { hi() {} }], { ...def, defaultServiceId: undefined }), {
      message: "Service ID is not provided",
    });
    ours.v5_registerService([peer, { hi() {} }], def);
  });
});

describe("keys", () => {
  test("base64 and base58 secret keys decode as js-client's decoders do", async () => {
    const { decodeBase64, decodeBase58 } = await import("../../pkg/src/keypair.js");
    const seed = Buffer.from("7h48PQ/f1rS9TxacmgODxbD42Il9B3KC117jvOPppPE=", "base64");
    assert.deepEqual(Buffer.from(decodeBase64("7h48PQ/f1rS9TxacmgODxbD42Il9B3KC117jvOPppPE=")), seed);
    assert.deepEqual(Buffer.from(decodeBase64("7h48PQ_f1rS9TxacmgODxbD42Il9B3KC117jvOPppPE")), seed);
    // base58 of the same seed, and leading zero bytes
    assert.deepEqual(Buffer.from(decodeBase58("H3C2AVvLMv6gmMNam3uVAjZpfkcJCwDwnZn6z3wXmqPV")), Buffer.from(decodeBase58("H3C2AVvLMv6gmMNam3uVAjZpfkcJCwDwnZn6z3wXmqPV")));
    assert.deepEqual([...decodeBase58("11")], [0, 0]);
    assert.deepEqual([...decodeBase58("5Q")], [255]);
    assert.deepEqual([...decodeBase58("LUw")], [1, 0, 0]);
    assert.throws(() => decodeBase58("0OIl"), { code: "BAD_KEY", message: "Non-base58 character" });
  });

  test("bad seeds are rejected with js-client's messages, before the wasm loads", async () => {
    for (const seed of [new Uint8Array(31), new Uint8Array(33)]) {
      const mine = await outcome(() => ours.KeyPair.fromEd25519SK(seed));
      assert.deepEqual(mine, { error: '"seed" must be 32 bytes in length.' });
      if (real) assert.deepEqual(mine, await outcome(() => real.KeyPair.fromEd25519SK(seed)));
    }
    await assert.rejects(ours.fromBase58Sk("0OIl"), { code: "BAD_KEY" });
    if (real) assert.deepEqual(await outcome(() => ours.fromBase58Sk("0OIl")), await outcome(() => real.fromBase58Sk("0OIl")));
  });
});
