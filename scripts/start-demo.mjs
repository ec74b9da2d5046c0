// `npm start`'s main job (after scripts/start.sh built what was missing): runs lineage-node with
// its embedded defaults (127.0.0.1; WebSocket 9999, TCP 7777, gateway 3030; the user's data dir),
// seeds the sample collection on first run (scripts/demo-seed.mjs), serves the demo dApp (www/)
// with Vite, and prints the URL to open. Ctrl-C stops both.
//
//   node scripts/start-demo.mjs [node flags…]     e.g. --data-dir /tmp/x --http-port 3031
import { spawn } from "node:child_process";
import { homedir } from "node:os";
import { join } from "node:path";

import { createServer } from "vite";

import { SAMPLE, seed } from "./demo-seed.mjs";

const ROOT = join(import.meta.dirname, "..");
const NODE_BIN = process.env.LINEAGE_NODE_BIN ?? join(process.env.CARGO_TARGET_DIR ?? join(homedir(), ".cache", "lineage-edge", "target"), "debug", "lineage-node");

function startNode(args) {
  const child = spawn(NODE_BIN, args, { stdio: ["ignore", "pipe", "inherit"] });
  return new Promise((resolve, reject) => {
    const seen = { http: null, ws: null };
    let buf = "";
    child.stdout.setEncoding("utf8");
    child.stdout.on("data", (d) => {
      process.stdout.write(d);
      buf += d;
      let nl;
      while ((nl = buf.indexOf("\n")) >= 0) {
        const line = buf.slice(0, nl).trim();
        buf = buf.slice(nl + 1);
        const http = /^http: (http:\/\/\S+)$/.exec(line);
        const ws = /^listening: (\/ip4\/\S+\/tcp\/\d+\/ws\/p2p\/\w+)$/.exec(line);
        if (http) seen.http = http[1];
        if (ws) seen.ws ??= ws[1];
        if (line === "ready") resolve({ child, ...seen });
      }
    });
    child.once("error", (e) => reject(new Error(`cannot run ${NODE_BIN}: ${e.message}`)));
    child.once("exit", (code, signal) => reject(new Error(`lineage-node exited before "ready" (code ${code}, signal ${signal}); is another node already using its ports?`)));
  });
}

const node = await startNode(process.argv.slice(2));
// Whatever happens from here on (a failed seed, Vite not starting, Ctrl-C), the node goes too.
let stopping = false;
let server;
process.on("exit", () => node.child.kill("SIGTERM"));
const stopAll = async (code) => {
  if (stopping) return;
  stopping = true;
  node.child.kill("SIGTERM");
  await server?.close().catch(() => {});
  process.exit(code);
};
process.on("SIGINT", () => stopAll(0));
process.on("SIGTERM", () => stopAll(0));
node.child.once("exit", (code, signal) => {
  if (stopping) return;
  console.error(`lineage-node exited (code ${code}, signal ${signal}); stopping the demo`);
  stopAll(1);
});
if (!node.http || !node.ws) {
  console.error(`lineage-node printed no gateway ("http: …") or WebSocket ("listening: …/ws/p2p/…") line`);
  await stopAll(1);
}

let seeded;
try {
  console.log(`\nseeding the sample collection on ${node.http} …`);
  seeded = await seed(node.http, { log: (l) => console.log(`  ${l}`) });
} catch (err) {
  console.error(`seeding the sample collection failed: ${err.message}`);
  await stopAll(1);
}

// Vite hands VITE_-prefixed environment variables to the page as import.meta.env.
Object.assign(process.env, {
  VITE_LINEAGE_GATEWAY: node.http,
  VITE_LINEAGE_RELAY: node.ws,
  VITE_LINEAGE_CHAIN: SAMPLE.chainId,
  VITE_LINEAGE_COLLECTION: SAMPLE.tokenAddress,
  VITE_LINEAGE_CONTRACT: SAMPLE.metaContractId,
  VITE_LINEAGE_PUBLISHER: seeded.publicKey,
  VITE_LINEAGE_VERSION: SAMPLE.version,
  VITE_LINEAGE_SAMPLES: seeded.tokens.join(","),
});
try {
  server = await createServer({ configFile: join(ROOT, "www", "vite.config.mjs") });
  await server.listen();
} catch (err) {
  console.error(`serving the demo failed: ${err.message}`);
  await stopAll(1);
}
const url = server.resolvedUrls?.local?.[0] ?? `http://127.0.0.1:${server.config.server.port}/`;
console.log(`\nLineage Edge demo: open ${url}\n(node gateway ${node.http}, relay ${node.ws}; Ctrl-C to stop)`);
