// Module worker: imports the package, connects over /ws, calls peer.identify on the relay and
// posts {ok: {...}} or {error}. No DOM, no `window`.
import { IDENTIFY } from "./air.js";

self.onmessage = async ({ data }) => {
  const t0 = Date.now();
  let peer;
  try {
    const lib = await import("/pkg/dist/index.js");
    peer = await lib.createClient(data.relay, { defaultTtlMs: 20_000 });
    const identify = await lib.callAquaFunction({ script: IDENTIFY, config: { ttl: 20_000 }, peer, args: {}, fireAndForget: false });
    const out = {
      peerId: peer.getPeerId(),
      relayPeerId: peer.getRelayPeerId(),
      state: peer.connectionState,
      identify,
      hasWindow: typeof window !== "undefined",
      ms: Date.now() - t0,
    };
    await peer.disconnect();
    out.stateAfterDisconnect = peer.connectionState;
    self.postMessage({ ok: out });
  } catch (e) {
    self.postMessage({ error: { name: e?.name, message: String(e?.message ?? e), code: e?.code, stack: String(e?.stack ?? "") } });
  }
};
