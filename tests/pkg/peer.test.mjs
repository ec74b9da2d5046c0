// ClientPeer, Fluence, callAquaFunction and the v5_* compiler entry points over a fake facade
// (fake-facade.mjs): what the package passes to the wasm peer and how it serves calls back.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { FakeMarineService, FakePeer, fakeFacade, testContext } from "./fake-facade.mjs";

globalThis.__lineageFakeFacade = fakeFacade;
const { ours } = await import("./setup.mjs");

const RELAY = "/ip4/127.0.0.1/tcp/9999/ws/p2p/12D3KooWANqfCDrV79MZdMnMqTvDdqSAPSxdgFY1L6DCq2DVGB4D";
const SEED = Uint8Array.from({ length: 32 }, (_, i) => 200 - i);
const s = (name) => ({ tag: "scalar", name });
const opt = (type) => ({ tag: "option", type });
const arrow = (fields, ...items) => ({
  tag: "arrow",
  domain: fields === null ? { tag: "nil" } : { tag: "labeledProduct", fields },
  codomain: items.length ? { tag: "unlabeledProduct", items } : { tag: "nil" },
});
const funcDef = (functionName, arrowType) => ({ functionName, arrow: arrowType, names: {} });

describe("ClientPeer over the facade", () => {
  test("createClient passes key, relay and options; states flow to every handler", async () => {
    const client = await ours.createClient(RELAY, {
      keyPair: { type: "Ed25519", source: SEED },
      connectionOptions: { dialTimeoutMs: 1234, reconnect: false },
      debug: { printParticleId: true },
    });
    const fake = FakePeer.last;
    assert.deepEqual([...fake.seed], [...SEED]);
    assert.equal(fake.relay, RELAY);
    assert.deepEqual(fake.options, { dialTimeoutMs: 1234, reconnect: false, printParticleId: true });
    assert.equal(client.connectionState, "connected");
    assert.equal(client.getPeerId(), fakeFacade.keypair_from_seed(SEED).peerId);
    assert.equal(client.getRelayPeerId(), "12D3KooWANqfCDrV79MZdMnMqTvDdqSAPSxdgFY1L6DCq2DVGB4D");
    const seen = [];
    assert.equal(client.onConnectionStateChange((st) => seen.push(`a:${st}`)), "connected");
    client.onConnectionStateChange((st) => seen.push(`b:${st}`));
    await client.disconnect();
    assert.deepEqual(seen, ["a:disconnecting", "b:disconnecting", "a:disconnected", "b:disconnected"]);
    assert.equal(client.connectionState, "disconnected");
  });

  test("services registered before connect, and marine services, come back after a reconnect", async () => {
    const client = new ours.ClientPeer(RELAY);
    ours.registerService({ peer: client, serviceId: "echo", service: { echo: ({ args }) => args[0] } });
    await client.connect();
    let fake = FakePeer.last;
    assert.deepEqual(await fake.invoke("echo", "echo", ["hi"]), { retCode: 0, result: "hi" });
    await client.registerMarineService(new Uint8Array([0, 97, 115, 109]).buffer, "greeting", { fuelPerCall: 10 });
    const svc = FakeMarineService.made.at(-1);
    assert.deepEqual(svc.options, { fuelPerCall: 10 });
    assert.deepEqual(svc.modules.map((m) => [m.name, [...m.wasm]]), [["greeting", [0, 97, 115, 109]]]);
    await assert.rejects(client.registerMarineService(new Uint8Array(4), "greeting"), { code: "SERVICE_EXISTS" });
    await assert.rejects(client.registerMarineService(new Uint8Array(4), "other", { fuelPerCall: -1 }), { code: "BAD_ARGUMENT" });
    // A call reaches the runtime with Marine's call parameters built from the particle context.
    assert.deepEqual(await fake.invoke("greeting", "greet", ["Ada"]), { retCode: 0, result: "Hi, Ada" });
    const { params } = svc.calls.at(-1);
    assert.equal(params.particle.id, testContext().particleId);
    assert.equal(params.particle.init_peer_id, "init");
    assert.equal(params.particle.signature.length, 64);
    assert.equal(params.service_id, "greeting");
    assert.equal(params.host_id, client.getPeerId());
    assert.deepEqual(await fake.invoke("greeting", "nope", []), { retCode: 1, result: "Service 'greeting' has no function 'nope'" });
    await client.disconnect();
    await client.connect();
    fake = FakePeer.last;
    assert.deepEqual(await fake.invoke("echo", "echo", ["again"]), { retCode: 0, result: "again" });
    // The same service instance (its state) serves again after the reconnect.
    assert.deepEqual(await fake.invoke("greeting", "greet", ["Bo"]), { retCode: 0, result: "Hi, Bo" });
    assert.equal(FakeMarineService.made.at(-1), svc);
    assert.equal(await client.removeMarineService("greeting"), true);
    assert.equal(fake.services.has("greeting"), false);
    assert.equal(svc.freed, true);
    assert.equal(await client.removeMarineService("greeting"), false);
    await client.disconnect();
  });

  test("handler errors and unknown functions read as js-client's", async () => {
    const client = await ours.createClient(RELAY);
    ours.registerService({ peer: client, serviceId: "svc", service: { boom: () => { throw new Error("bad"); }, nothing: () => undefined } });
    const fake = FakePeer.last;
    assert.deepEqual(await fake.invoke("svc", "boom", []), { retCode: 1, result: 'Service call failed. fnName="boom" serviceId="svc" error: bad' });
    assert.deepEqual(await fake.invoke("svc", "nothing", []), { retCode: 0, result: null });
    assert.deepEqual(await fake.invoke("svc", "missing", [1]), {
      retCode: 1,
      result: "No service found for service call: serviceId='svc', fnName='missing' args='[\n    1\n]'",
    });
    client.internals.regHandler.common("svc", "raw", (req) => ({ retCode: 1, result: `refused ${req.args[0]} for ${req.particleContext.particleId}` }));
    assert.deepEqual(await fake.invoke("svc", "raw", ["x"]), { retCode: 1, result: "refused x for p-1" });
    await client.disconnect();
  });
});

describe("compiled Aqua entry points", () => {
  test("v5_callFunction converts arguments, wraps callbacks, converts the result", async () => {
    await ours.Fluence.connect(RELAY, { defaultTtlMs: 5000 });
    const def = funcDef(
      "greet",
      arrow({ name: s("string"), nick: opt(s("string")), log: arrow({ line: s("string") }) }, opt(s("u32"))),
    );
    const lines = [];
    FakePeer.onCall = async ({ args, callbacks }) => {
      assert.deepEqual(args, { name: "Ada", nick: [] });
      const ctx = testContext();
      assert.equal(await callbacks.log("log", ["hello"], ctx), null);
      return [42];
    };
    const result = await ours.v5_callFunction(["Ada", null, (line, context) => lines.push([line, context.particleId])], def, "(air)");
    assert.equal(result, 42);
    assert.deepEqual(lines, [["hello", "p-1"]]);
    const call = FakePeer.last.calls.at(-1);
    assert.equal(call.script, "(air)");
    assert.equal(call.ttl, 5000);
    assert.equal(call.fireAndForget, false);

    // explicit peer, trailing config, void function → fire and forget
    FakePeer.onCall = async () => null;
    const client = ours.Fluence.getClient();
    assert.equal(await ours.v5_callFunction([client, "x", { ttl: 99 }], funcDef("f", arrow({ a: s("string") })), "(air2)"), null);
    assert.deepEqual(FakePeer.last.calls.at(-1).ttl, 99);
    assert.equal(FakePeer.last.calls.at(-1).fireAndForget, true);

    await assert.rejects(ours.v5_callFunction([1, null, () => {}], def, "(air)"), { code: "SCHEMA_MISMATCH" });
    await assert.rejects(ours.v5_callFunction(["Ada", null, "not a function"], def, "(air)"), { code: "SCHEMA_MISMATCH" });
  });

  test("a script error rejects with the Aqua error's fields", async () => {
    const value = { error_code: 10000, instruction: "call", message: "Local service error", peer_id: "relay" };
    FakePeer.onCall = async () => {
      throw Object.assign(new Error("script failed"), { code: "SCRIPT_ERROR", value });
    };
    const err = await ours.v5_callFunction([], funcDef("f", arrow(null, s("string"))), "(air)").catch((e) => e);
    assert.equal(err.code, "SCRIPT_ERROR");
    assert.equal(err.message, "Local service error");
    assert.equal(err.error_code, 10000);
    assert.equal(JSON.stringify(err), JSON.stringify(value));
    FakePeer.onCall = async () => {
      throw Object.assign(new Error("Particle expired after ttl of 7000ms (particle id: p)"), { code: "EXPIRED" });
    };
    await assert.rejects(ours.v5_callFunction([], funcDef("f", arrow(null, s("string"))), "(air)"), { code: "EXPIRED" });
  });

  test("v5_registerService serves a class instance with converted arguments and results", async () => {
    class Greeter {
      constructor() {
        this.prefix = "Hi";
      }
      greet(name, times, context) {
        return { text: `${this.prefix} ${name}`.repeat(times ?? 1), from: context.initPeerId };
      }
    }
    const def = {
      defaultServiceId: "greeter",
      functions: {
        tag: "labeledProduct",
        fields: {
          greet: {
            tag: "arrow",
            domain: { tag: "labeledProduct", fields: { name: s("string"), times: opt(s("u32")) } },
            codomain: { tag: "unlabeledProduct", items: [{ tag: "struct", name: "G", fields: { text: s("string"), from: s("string"), extra: opt(s("string")) } }] },
          },
        },
      },
    };
    ours.v5_registerService([new Greeter()], def);
    const fake = FakePeer.last;
    assert.deepEqual(await fake.invoke("greeter", "greet", ["Ada", [2]]), { retCode: 0, result: { text: "Hi AdaHi Ada", from: "init", extra: [] } });
    const wrongCount = await fake.invoke("greeter", "greet", ["Ada"]);
    assert.equal(wrongCount.retCode, 1);
    assert.equal(
      wrongCount.result,
      'Service call failed. fnName="greet" serviceId="greeter" error: Schema and generated air doesn\'t match. Air has been called with 1 args and schema contains 2 args',
    );
    ours.v5_registerService(["other", new Greeter()], def);
    assert.equal((await fake.invoke("other", "greet", ["Bo", []])).result.text, "Hi Bo");
    await ours.Fluence.disconnect();
    assert.equal(ours.Fluence.defaultClient, undefined);
  });
});

describe("KeyPair over the facade", () => {
  test("seed, peer id, public key, signing", async () => {
    const kp = await ours.KeyPair.fromEd25519SK(SEED);
    assert.equal(kp.getPeerId(), fakeFacade.keypair_from_seed(SEED).peerId);
    assert.deepEqual([...kp.toEd25519PrivateKey()], [...SEED]);
    assert.deepEqual([...kp.getPublicKey().subarray(0, 4)], [8, 1, 18, 32]);
    const sig = await kp.signBytes(new Uint8Array([1, 2, 3]));
    assert.equal(sig.length, 64);
    assert.equal(await kp.verify(new Uint8Array([1, 2, 3]), sig), true);
    // loaded now, so verification is synchronous as in js-client
    assert.equal(ours.KeyPair.verifyWithPublicKey(kp.getPublicKey(), new Uint8Array([1]), sig), true);
    const b64 = await ours.fromBase64Sk(Buffer.from(SEED).toString("base64"));
    assert.equal(b64.getPeerId(), kp.getPeerId());
    const random = await ours.fromOpts({ type: "Ed25519", source: "random" });
    assert.deepEqual([...random.toEd25519PrivateKey()], [...fakeFacade.random_seed()]);
    assert.throws(() => kp.getLibp2pPeerId(), { code: "UNSUPPORTED" });
  });
});
