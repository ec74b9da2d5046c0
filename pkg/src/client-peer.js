// ClientPeer: one light peer connected to one relay, with js-client 0.9's public surface.
// The JS side owns the registry of services (so they survive disconnect/connect); the wasm
// WasmPeer runs AquaVM, libp2p and the builtins. Marine services run in the second wasm
// (MarineService, loaded on the first registerMarineService) and reach the WasmPeer as handlers.

import { validateClientArgs } from "./config.js";
import { callRejection, codedError, errorText } from "./errors.js";
import { checkSeed, fromOpts } from "./keypair.js";
import { loadMarine, loadWasm } from "./wasm.js";

export class ClientPeer {
  #relay;
  #options;
  #keyPair;
  #wasm = null; // the started WasmPeer, null while not connected
  #generation = 0; // bumps on every start/stop so late state events of an old WasmPeer are ignored
  #starting = null;
  #state = "disconnected";
  #stateHandlers = new Set();
  #services = new Map(); // serviceId → Map(fnName → (CallServiceData) => CallServiceResult)
  #marineServices = new Map(); // serviceId → MarineService (lineage_marine wasm)

  /**
   * Usually made by `createClient` / `Fluence.connect`. `relay` and `config` as `createClient`
   * takes them; `keyPair` (a KeyPair) overrides `config.keyPair`. Not connected until `connect()`.
   */
  constructor(relay, config = {}, keyPair = undefined) {
    const { relay: parsed, options } = validateClientArgs(relay, config);
    if (options.keyPair.source !== "random") checkSeed(options.keyPair.source);
    this.#relay = parsed;
    this.#options = options;
    this.#keyPair = keyPair;
  }

  /** Dials the relay; resolves once connected. Rejects with `Error{code}` (BAD_RELAY, DIAL_TIMEOUT, DIAL_FAILED, …). */
  async connect() {
    if (this.#starting) return this.#starting;
    if (this.#wasm && this.#state !== "disconnected") return;
    if (this.#wasm) this.#drop(); // relay lost and not reconnecting: start afresh
    this.#starting = this.#start().finally(() => (this.#starting = null));
    return this.#starting;
  }

  /** Closes the connection; registered services stay and come back with the next `connect()`. */
  async disconnect() {
    if (this.#starting) await this.#starting.catch(() => {});
    const peer = this.#wasm;
    if (!peer) return;
    this.#setState("disconnecting");
    this.#wasm = null;
    try {
      await peer.disconnect();
    } finally {
      this.#generation++;
      this.#setState("disconnected");
    }
  }

  /** Same as connect() (js-client's FluencePeer name). */
  start() {
    return this.connect();
  }

  /** Same as disconnect() (js-client's FluencePeer name). */
  stop() {
    return this.disconnect();
  }

  /** "disconnected" | "connecting" | "connected" | "disconnecting". */
  get connectionState() {
    return this.#state;
  }

  /**
   * Adds `handler` for every later state change (all handlers are kept, unlike js-client, which
   * keeps the last one); returns the current state.
   */
  onConnectionStateChange(handler) {
    if (typeof handler === "function") this.#stateHandlers.add(handler);
    return this.#state;
  }

  /** Removes a handler added with onConnectionStateChange (ours). */
  offConnectionStateChange(handler) {
    return this.#stateHandlers.delete(handler);
  }

  /** This peer's id (base58). Throws NOT_INITIALIZED before the first connect() with a random key. */
  getPeerId() {
    if (!this.#keyPair) throw codedError("NOT_INITIALIZED", "Peer is not initialized: its key pair is made by connect()");
    return this.#keyPair.getPeerId();
  }

  /** The relay's peer id (base58), from the relay multiaddr. */
  getRelayPeerId() {
    return this.#relay.peerId;
  }

  /** The KeyPair of this peer (undefined before the first connect() with a random key). */
  get keyPair() {
    return this.#keyPair;
  }

  /**
   * Runs a Marine module (`.wasm` bytes) as service `serviceId` inside this peer, on the wasmi
   * interpreter (the Marine runtime's wasm is fetched on the first call). `options` (ours):
   * `{fuelPerCall?, memoryBytes?}`. Needs a connected peer; the service (and its state) is kept
   * across reconnects. Rejects with NOT_CONNECTED, SERVICE_EXISTS, BAD_ARGUMENT or LOAD_ERROR.
   */
  async registerMarineService(wasm, serviceId, options = {}) {
    const taken = () => this.#services.has(serviceId) || this.#marineServices.has(serviceId);
    const exists = () => codedError("SERVICE_EXISTS", `Service with '${serviceId}' id already exists`);
    const notConnected = () =>
      codedError("NOT_CONNECTED", "Marine services can be registered only on a connected peer; call connect() first");
    if (taken()) throw exists();
    if (!this.#wasm) throw notConnected();
    const bytes = toBytes(wasm);
    const { MarineService } = await loadMarine();
    // Loading awaited: the peer may have disconnected or the id been taken meanwhile.
    if (taken()) throw exists();
    if (!this.#wasm) throw notConnected();
    const service = new MarineService([{ name: serviceId, wasm: bytes }], marineOptions(options));
    this.#marineServices.set(serviceId, service);
    this.#wasm.registerService(serviceId, this.#marineHandler(serviceId, service));
  }

  /** Removes a Marine service; resolves to whether one was registered under `serviceId`. */
  async removeMarineService(serviceId) {
    const service = this.#marineServices.get(serviceId);
    if (!service) return false;
    this.#marineServices.delete(serviceId);
    if (this.#wasm) await this.#wasm.removeService(serviceId);
    service.free();
    return true;
  }

  /**
   * Low-level hooks used by callAquaFunction / registerService (not a stable API, as in js-client).
   * Supported: getRelayPeerId, regHandler.common, callScript (ours). The particle-level hooks of
   * js-client (createNewParticle, initiateParticle, regHandler.forParticle, parseAst, getServices)
   * throw UNSUPPORTED: particles are made inside the wasm peer.
   */
  get internals() {
    const unsupported = (name) => () => {
      throw codedError("UNSUPPORTED", `internals.${name} is not available in @lineage-edge/js-client`);
    };
    return {
      getRelayPeerId: () => this.getRelayPeerId(),
      regHandler: {
        common: (serviceId, fnName, handler) => this.#addHandler(serviceId, fnName, handler),
        forParticle: unsupported("regHandler.forParticle"),
      },
      callScript: (script, args, callbacks, ttl, fireAndForget) => this.#call(script, args, callbacks, ttl, fireAndForget),
      createNewParticle: unsupported("createNewParticle"),
      initiateParticle: unsupported("initiateParticle"),
      parseAst: unsupported("parseAst"),
      getServices: unsupported("getServices"),
    };
  }

  async #start() {
    this.#setState("connecting");
    const generation = ++this.#generation;
    try {
      const wasm = await loadWasm();
      this.#keyPair ??= await fromOpts(this.#options.keyPair);
      const { dialTimeoutMs, reconnect, printParticleId } = this.#options;
      const peer = await wasm.WasmPeer.start(
        this.#keyPair.toEd25519PrivateKey(),
        this.#relay.multiaddr,
        { ...(dialTimeoutMs !== undefined ? { dialTimeoutMs } : {}), reconnect, printParticleId },
        (state) => {
          if (generation === this.#generation) this.#setState(state);
        },
      );
      if (generation !== this.#generation) {
        await peer.disconnect(); // disconnect() was called meanwhile
        return;
      }
      for (const serviceId of this.#services.keys()) peer.registerService(serviceId, this.#dispatcher(serviceId));
      for (const [serviceId, service] of this.#marineServices) peer.registerService(serviceId, this.#marineHandler(serviceId, service));
      this.#wasm = peer;
      this.#setState(peer.state());
    } catch (err) {
      if (generation === this.#generation) this.#setState("disconnected");
      throw err;
    }
  }

  #drop() {
    const old = this.#wasm;
    this.#wasm = null;
    this.#generation++;
    old.disconnect().catch(() => {});
  }

  #setState(state) {
    if (state === this.#state) return;
    this.#state = state;
    for (const handler of [...this.#stateHandlers]) {
      try {
        handler(state);
      } catch (err) {
        // A failing handler must not break connecting; report it like an uncaught error.
        if (typeof globalThis.reportError === "function") globalThis.reportError(err);
        else console.error(err);
      }
    }
  }

  #addHandler(serviceId, fnName, handler) {
    let fns = this.#services.get(serviceId);
    if (!fns) {
      fns = new Map();
      this.#services.set(serviceId, fns);
      this.#wasm?.registerService(serviceId, this.#dispatcher(serviceId));
    }
    fns.set(fnName, handler);
  }

  // One facade handler per service id; looks the function up at call time so later
  // registrations of single functions take effect.
  #dispatcher(serviceId) {
    return async (fnName, args, context) => {
      const handler = this.#services.get(serviceId)?.get(fnName);
      if (!handler) {
        throw `No service found for service call: serviceId='${serviceId}', fnName='${fnName}' args='${JSON.stringify(args, null, 4)}'`;
      }
      return runHandler(handler, serviceId, fnName, args, context);
    };
  }

  // A hosted Marine service as a WasmPeer handler: what Marine's `get_call_parameters()` returns
  // is built from the particle context; errors carry the runtime's message (OUT_OF_FUEL, TRAP…).
  #marineHandler(serviceId, service) {
    return (fnName, args, context) => {
      if (!service.hasFunction(fnName)) throw `Service '${serviceId}' has no function '${fnName}'`;
      const self = this.getPeerId();
      const params = {
        particle: {
          id: context.particleId,
          init_peer_id: context.initPeerId,
          timestamp: context.timestamp,
          ttl: context.ttl,
          signature: Array.from(context.signature ?? []),
        },
        service_id: serviceId,
        service_creator_peer_id: self,
        host_id: self,
        worker_id: self,
        tetraplets: context.tetraplets ?? [],
      };
      return JSON.parse(service.callJson(fnName, JSON.stringify(args), JSON.stringify(params)));
    };
  }

  async #call(script, args, callbacks, ttl, fireAndForget) {
    const peer = this.#wasm;
    if (!peer) throw codedError("NOT_CONNECTED", "Cannot initiate new particle: peer is not initialized");
    const wrapped = {};
    for (const [name, handler] of Object.entries(callbacks)) {
      wrapped[name] = (fnName, callArgs, context) => runHandler(handler, "callbackSrv", fnName, callArgs, context);
    }
    try {
      return await peer.call(script, args, wrapped, ttl ?? this.#options.defaultTtlMs, fireAndForget);
    } catch (err) {
      throw callRejection(err);
    }
  }
}

/**
 * Runs a js-client style handler (`(CallServiceData) => CallServiceResult`) for the facade:
 * returns the result, or throws a string that is the AIR call's error (js-client's texts).
 */
async function runHandler(handler, serviceId, fnName, args, context) {
  let res;
  try {
    res = await handler({ serviceId, fnName, args, tetraplets: context.tetraplets, particleContext: context });
  } catch (err) {
    throw `Service call failed. fnName="${fnName}" serviceId="${serviceId}" error: ${errorText(err)}`;
  }
  if (res?.retCode === 0) return res.result === undefined ? null : res.result;
  const result = res?.result;
  throw typeof result === "string" ? result : JSON.stringify(result ?? null);
}

/** The MarineService options the runtime reads (numbers only; anything else is BAD_ARGUMENT). */
function marineOptions(options) {
  if (options === undefined || options === null) return undefined;
  if (typeof options !== "object") throw codedError("BAD_ARGUMENT", "options must be an object");
  const out = {};
  for (const key of ["fuelPerCall", "memoryBytes"]) {
    const v = options[key];
    if (v === undefined) continue;
    if (typeof v !== "number" || !Number.isFinite(v) || v <= 0) {
      throw codedError("BAD_ARGUMENT", `options.${key} must be a positive number`);
    }
    out[key] = v;
  }
  return out;
}

function toBytes(wasm) {
  if (wasm instanceof Uint8Array) return wasm;
  if (ArrayBuffer.isView(wasm)) return new Uint8Array(wasm.buffer, wasm.byteOffset, wasm.byteLength);
  if (wasm instanceof ArrayBuffer || (typeof SharedArrayBuffer !== "undefined" && wasm instanceof SharedArrayBuffer)) {
    return new Uint8Array(wasm);
  }
  throw codedError("BAD_ARGUMENT", "wasm must be an ArrayBuffer, SharedArrayBuffer or Uint8Array");
}
