// Under `script-src 'self' 'wasm-unsafe-eval'`: connect, call the relay, report. Also records
// that the policy is in force (eval is blocked) and every CSP violation the page caused.
import { createClient, callAquaFunction } from "/pkg/dist/index.js";
import { IDENTIFY, ADD } from "./air.js";

const violations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  violations.push({ directive: e.violatedDirective, blocked: e.blockedURI, sample: e.sample, source: `${e.sourceFile}:${e.lineNumber}` });
});

async function main() {
  let evalBlocked = false;
  try {
    // eslint-disable-next-line no-eval
    (0, eval)("1");
  } catch {
    evalBlocked = true;
  }
  const relay = new URLSearchParams(location.search).get("relay");
  const peer = await createClient(relay, { defaultTtlMs: 20_000 });
  const identify = await callAquaFunction({ script: IDENTIFY, config: { ttl: 20_000 }, peer, args: {}, fireAndForget: false });
  const sum = await callAquaFunction({ script: ADD, config: { ttl: 20_000 }, peer, args: { x: 40, y: 2 }, fireAndForget: false });
  const out = { peerId: peer.getPeerId(), relayPeerId: peer.getRelayPeerId(), identify, sum, evalBlocked };
  await peer.disconnect();
  // The eval probe itself is one violation (script-src 'unsafe-eval'); report the others.
  out.violations = violations.filter((v) => !(v.directive.startsWith("script-src") && v.blocked === "eval"));
  out.evalViolations = violations.length - out.violations.length;
  return out;
}

main().then(
  (ok) => (window.__result = { ok }),
  (e) => (window.__result = { error: { name: e?.name, message: String(e?.message ?? e), code: e?.code, stack: String(e?.stack ?? "") }, violations }),
);
