// A tiny app as a user bundles it: the package by its npm name, built by `vite build`.
import { createClient, callAquaFunction, KeyPair } from "@lineage-edge/js-client";

const script = `
(xor
 (seq
  (seq
   (call %init_peer_id% ("getDataSrv" "-relay-") [] -relay-)
   (call -relay- ("math" "add") [20 22] r))
  (call %init_peer_id% ("callbackSrv" "response") [r]))
 (call %init_peer_id% ("errorHandlingSrv" "error") [%last_error% 0]))`;

async function main() {
  const relay = new URLSearchParams(location.search).get("relay");
  const kp = await KeyPair.randomEd25519();
  const peer = await createClient(relay, { defaultTtlMs: 20000, keyPair: { type: "Ed25519", source: kp.toEd25519PrivateKey() } });
  const sum = await callAquaFunction({ script, config: { ttl: 20000 }, peer, args: {}, fireAndForget: false });
  const out = { sum, peerId: peer.getPeerId(), keyPairPeerId: kp.getPeerId(), relayPeerId: peer.getRelayPeerId() };
  document.getElementById("out").textContent = String(sum);
  await peer.disconnect();
  return out;
}

main().then(
  (ok) => (window.__result = { ok }),
  (e) => (window.__result = { error: { name: e?.name, message: String(e?.message ?? e), code: e?.code, stack: String(e?.stack ?? "") } }),
);
