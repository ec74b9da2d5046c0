// The page the browser tests drive through page.evaluate: one light peer per page, exposed as
// `window.lab`. Every method returns plain JSON (errors as {error: {message, code, name}}).
import * as lib from "/pkg/dist/index.js";

const errorJson = (e) => ({
  name: e?.name,
  message: String(e?.message ?? e),
  code: e?.code,
  stack: typeof e?.stack === "string" ? e.stack.split("\n").slice(0, 8).join("\n") : undefined,
});

const calls = new Map(); // handle -> {promise, settled}
let nextHandle = 1;

const lab = {
  lib,
  peer: null,
  states: [],
  /** Events seen by services registered through this page, in order. */
  serviceCalls: [],

  exports() {
    return Object.keys(lib).sort();
  },

  async connect(relay, { ttl = 20_000 } = {}) {
    const peer = await lib.createClient(relay, { defaultTtlMs: ttl });
    lab.peer = peer;
    window.peer = peer;
    peer.onConnectionStateChange((s) => {
      lab.states.push({ state: s, at: Date.now() });
    });
    return lab.info();
  },

  info() {
    const p = lab.peer;
    return { peerId: p.getPeerId(), relayPeerId: p.getRelayPeerId(), state: p.connectionState, states: lab.states.map((s) => s.state) };
  },

  /** callAquaFunction with hand-written AIR; resolves {ok: value} or {error}. */
  async call(script, args = {}, { ttl = 20_000, fireAndForget = false } = {}) {
    try {
      const ok = await lib.callAquaFunction({ script, config: { ttl }, peer: lab.peer, args, fireAndForget });
      return { ok: ok === undefined ? null : ok };
    } catch (e) {
      return { error: errorJson(e) };
    }
  },

  /** Starts a call without waiting; `wait(handle)` gets its outcome. */
  start(script, args = {}, opts = {}) {
    const handle = nextHandle++;
    const entry = { settled: null };
    entry.promise = lab.call(script, args, opts).then((r) => {
      entry.settled = { ...r, at: Date.now() };
      return entry.settled;
    });
    calls.set(handle, entry);
    return handle;
  },

  peek(handle) {
    return calls.get(handle)?.settled ?? null;
  },

  wait(handle) {
    return calls.get(handle).promise;
  },

  /** Imports an aqua-compiled module (served by the test server) and calls `fn(peer, ...args)`. */
  async aqua(modUrl, fn, args = [], config) {
    try {
      const mod = await import(modUrl);
      const all = config ? [lab.peer, ...args, config] : [lab.peer, ...args];
      const ok = await mod[fn](...all);
      return { ok: ok === undefined ? null : ok };
    } catch (e) {
      return { error: errorJson(e) };
    }
  },

  /** Registers the compiled `Echo` service (v5_registerService) under its default id "echo". */
  async registerCompiledEcho(modUrl) {
    const mod = await import(modUrl);
    mod.registerEcho(lab.peer, {
      echo: (s, ctx) => {
        lab.serviceCalls.push({ service: "echo", s, initPeerId: ctx?.initPeerId, particleId: ctx?.particleId });
        return `echo from page: ${s}`;
      },
    });
    return true;
  },

  /** Registers a low-level service (registerService) `calc` with `twice(x)`. */
  registerLowLevelCalc() {
    lib.registerService({
      peer: lab.peer,
      serviceId: "calc",
      service: {
        twice: ({ args, context }) => {
          lab.serviceCalls.push({ service: "calc", args, initPeerId: context?.initPeerId });
          return args[0] * 2;
        },
      },
    });
    return true;
  },

  async registerMarine(wasmUrl, serviceId) {
    try {
      const res = await fetch(wasmUrl);
      if (!res.ok) throw new Error(`GET ${wasmUrl}: ${res.status}`);
      const buf = await res.arrayBuffer();
      await lab.peer.registerMarineService(buf, serviceId);
      return { ok: buf.byteLength };
    } catch (e) {
      return { error: errorJson(e) };
    }
  },

  async disconnect() {
    if (!lab.peer) return null;
    await lab.peer.disconnect();
    return lab.peer.connectionState;
  },

  /** Runs pages/worker.js as a module worker: it connects on its own and posts its outcome. */
  runWorker(relay, timeoutMs = 45_000) {
    return new Promise((resolve) => {
      const w = new Worker(new URL("./worker.js", import.meta.url), { type: "module", name: "lineage-test-worker" });
      const timer = setTimeout(() => {
        w.terminate();
        resolve({ error: { message: `worker posted nothing within ${timeoutMs} ms` } });
      }, timeoutMs);
      w.onmessage = ({ data }) => {
        clearTimeout(timer);
        w.terminate();
        resolve(data);
      };
      w.onerror = (ev) => {
        clearTimeout(timer);
        w.terminate();
        resolve({ error: { message: `worker error event: ${ev.message} at ${ev.filename}:${ev.lineno}:${ev.colno}` } });
      };
      w.postMessage({ relay });
    });
  },
};

window.lab = lab;
window.__labReady = true;
