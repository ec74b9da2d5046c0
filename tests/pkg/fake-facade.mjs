// A JS fake of the wasm facade (pkg/dist/lineage_web.js exports) for the package tests: records
// what the package hands to it and lets a test play the relay's part (call a registered service,
// answer a script).

const hex = (bytes) => [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");

export class FakePeer {
  static last = null;
  /** What `call` should do: ({script, args, callbacks, ttl, fireAndForget, peer}) => result. */
  static onCall = async () => null;

  constructor(seed, relay, options, onState) {
    Object.assign(this, { seed, relay, options, onState, services: new Map(), calls: [], current: "connecting" });
  }

  static async start(seed, relay, options, onState) {
    const peer = new FakePeer(seed, relay, options, onState);
    FakePeer.last = peer;
    onState("connecting");
    await new Promise((r) => setTimeout(r, 1));
    peer.current = "connected";
    onState("connected");
    return peer;
  }

  peerId() {
    return `fake-${hex(this.seed).slice(0, 8)}`;
  }
  relayPeerId() {
    return this.relay.slice(this.relay.lastIndexOf("/p2p/") + 5);
  }
  state() {
    return this.current;
  }
  async call(script, args, callbacks, ttl, fireAndForget) {
    this.calls.push({ script, args, callbacks, ttl, fireAndForget });
    return FakePeer.onCall({ script, args, callbacks, ttl, fireAndForget, peer: this });
  }
  registerService(serviceId, handler) {
    this.services.set(serviceId, handler);
  }
  removeService(serviceId) {
    return this.services.delete(serviceId);
  }
  async disconnect() {
    this.current = "disconnecting";
    this.onState("disconnecting");
    this.current = "disconnected";
    this.onState("disconnected");
  }

  /** Plays a service call from the network: like the facade, a throw becomes the error string. */
  async invoke(serviceId, fnName, args, context = testContext()) {
    const handler = this.services.get(serviceId);
    if (!handler) return { retCode: 1, result: "no such service" };
    try {
      return { retCode: 0, result: await handler(fnName, args, context) };
    } catch (err) {
      return { retCode: 1, result: typeof err === "string" ? err : String(err) };
    }
  }
}

/** Fake of the Marine runtime's MarineService: records what it was given; `greet` echoes. */
export class FakeMarineService {
  static made = [];
  constructor(modules, options) {
    Object.assign(this, { modules, options, calls: [], freed: false });
    FakeMarineService.made.push(this);
  }
  hasFunction(name) {
    return name === "greet";
  }
  callJson(fnName, argsJson, paramsJson) {
    this.calls.push({ fnName, args: JSON.parse(argsJson), params: JSON.parse(paramsJson) });
    return JSON.stringify(`Hi, ${JSON.parse(argsJson)[0]}`);
  }
  free() {
    this.freed = true;
  }
}

export function testContext() {
  return { particleId: "p-1", initPeerId: "init", timestamp: 1, ttl: 7000, signature: new Uint8Array(64), tetraplets: [] };
}

export const fakeFacade = {
  keypair_from_seed(seed) {
    return { peerId: `fake-${hex(seed).slice(0, 8)}`, publicKey: Uint8Array.from([8, 1, 18, 32, ...seed]) };
  },
  sign_bytes: (seed, data) => Uint8Array.from({ length: 64 }, (_, i) => (seed[i % 32] ^ (data[i % data.length] ?? 0)) & 0xff),
  verify_signature: (publicKey, data, signature) => signature.length === 64,
  random_seed: () => Uint8Array.from({ length: 32 }, (_, i) => i + 1),
  WasmPeer: FakePeer,
  MarineService: FakeMarineService,
};
