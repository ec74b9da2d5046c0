// Helpers for the interop tests: start `lineage-node`, connect peers of one of two client packages
// to it — the real @fluencelabs/js-client 0.9.0 ("jsclient") or our @lineage-edge/js-client
// ("ours", pkg/dist/index.js, the shipped bundle) — and tear everything down so `node --test` exits by itself.
//
// Nothing here imports a client package at load time: `loadClient(name)` does, so a test file that
// only uses our package never loads js-client (nor the Promise.withResolvers polyfill it needs).
import { spawn } from "node:child_process";
import { createHash, createPrivateKey, createPublicKey, randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, dirname, join, relative, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = join(HERE, "..", "..");
export const FIXTURES = join(HERE, "..", "fixtures");

// --- the two client packages ---

/** The specifier aqua-api's JS output imports `v5_callFunction`/`v5_registerService` from. */
export const JS_CLIENT_SPECIFIER = "@fluencelabs/js-client";
/**
 * Our package's entry and the one wasm file it loads (built by `bash scripts/build-pkg.sh`).
 * LINEAGE_PKG_DIR tests another copy of the package (e.g. an unpacked `npm pack`); default pkg/.
 */
export const PKG_DIR = resolve(process.env.LINEAGE_PKG_DIR ?? join(ROOT, "pkg"));
// The bundle the package ships (scripts/build-pkg.sh makes it from pkg/src).
export const PKG_ENTRY = join(PKG_DIR, "dist", "index.js");
export const PKG_WASM = join(PKG_DIR, "dist", "lineage_web_bg.wasm");

export const CLIENTS = {
  jsclient: { label: "js-client 0.9", specifier: JS_CLIENT_SPECIFIER },
  ours: { label: "@lineage-edge/js-client", specifier: pathToFileURL(PKG_ENTRY).href },
};

/**
 * Whether our package can be tested: `{ missing, required, skip }`. `missing` says what is not
 * built (or null); `required` is CI=true or LINEAGE_REQUIRE_PKG=1; `skip` is the reason to skip
 * the tests of our package (false when it is built, or when it is required: then they fail).
 */
export function ourPackageStatus() {
  const absent = [PKG_ENTRY, PKG_WASM].filter((f) => !existsSync(f)).map((f) => relative(ROOT, f));
  const missing = absent.length ? `our package is not built: ${absent.join(" and ")} missing (build it with \`bash scripts/build-pkg.sh\`)` : null;
  const required = process.env.CI === "true" || process.env.LINEAGE_REQUIRE_PKG === "1";
  const skip = missing && !required ? `${missing}; skipping its tests (CI=true or LINEAGE_REQUIRE_PKG=1 makes this a failure)` : false;
  return { missing, required, skip };
}

let polyfilled = false;
/** True once this process installed the Promise.withResolvers polyfill (only `loadClient("jsclient")` does). */
export const withResolversPolyfilled = () => polyfilled;

/**
 * Loads a client package: "jsclient" (real @fluencelabs/js-client 0.9.0) or "ours" (pkg/dist/index.js).
 * Returns a kit `{ name, label, specifier, lib }`; `lib` is the package's module namespace and
 * `specifier` what generated Aqua must import it as (see `importGenerated`).
 */
export async function loadClient(name) {
  const c = CLIENTS[name];
  if (!c) throw new Error(`unknown client ${JSON.stringify(name)}: expected one of ${Object.keys(CLIENTS).join(", ")}`);
  if (name === "jsclient") {
    // js-client 0.9.0 on Node 20: libp2p 1.2 → @libp2p/peer-store → mortice 3.3 → it-queue uses
    // Promise.withResolvers (Node ≥ 22), so `createClient` fails with "Promise.withResolvers is not a
    // function" without this. Only for the real js-client; our package must not need it.
    if (typeof Promise.withResolvers !== "function") {
      Promise.withResolvers = function withResolvers() {
        let resolve;
        let reject;
        const promise = new this((res, rej) => {
          resolve = res;
          reject = rej;
        });
        return { promise, resolve, reject };
      };
      polyfilled = true;
    }
  }
  const lib = await import(c.specifier);
  return { name, label: c.label, specifier: c.specifier, lib };
}

/** Reads a fixture module (e.g. "greeting") as base64, the form `dist.add_module` takes. */
export async function fixtureBase64(name) {
  return (await readFile(join(FIXTURES, `${name}.wasm`))).toString("base64");
}

export async function fixtureBytes(name) {
  return readFile(join(FIXTURES, `${name}.wasm`));
}

const liveNodes = new Set(); // started, not yet stopped
const liveClients = new Set(); // connected, not yet disconnected

/**
 * Starts `$LINEAGE_NODE_BIN --data-dir <tmp> --ws-port 0 --tcp-port 0 --webrtc-port 0 --http-port 0 [args]`
 * and waits for `ready`. Expects on stdout one `listening: <multiaddr>` line per listen address and an
 * `http: <url>` line (the gateway), then `ready`.
 * `dataDir`: use this directory instead of a fresh temporary one (to restart a node on the same
 * data); it is then not removed by `stop()`.
 * Returns { peerId, wsAddr, tcpAddr, httpUrl, addrs, dataDir, exited, stdout(), stderr(), stop() };
 * `exited` resolves to { code, signal } when the process ends.
 */
export async function startNode({ bin = process.env.LINEAGE_NODE_BIN, args = [], dataDir: fixedDir, readyTimeoutMs = 30_000 } = {}) {
  if (!bin) throw new Error("LINEAGE_NODE_BIN is not set");
  const dataDir = fixedDir ?? (await mkdtemp(join(tmpdir(), "lineage-node-")));
  const child = spawn(bin, ["--data-dir", dataDir, "--ws-port", "0", "--tcp-port", "0", "--webrtc-port", "0", "--http-port", "0", ...args], {
    stdio: ["ignore", "pipe", "pipe"],
    env: { RUST_LOG: "info", ...process.env },
  });
  let out = "";
  let err = "";
  child.stderr.setEncoding("utf8");
  child.stderr.on("data", (d) => {
    err += d;
    if (process.env.INTEROP_NODE_LOG) process.stderr.write(d);
  });
  child.stdout.setEncoding("utf8");

  const exited = new Promise((resolve) => child.once("exit", (code, signal) => resolve({ code, signal })));
  const addrs = [];
  let httpUrl = null;
  const ready = new Promise((resolve, reject) => {
    let buf = "";
    const timer = setTimeout(() => reject(new Error(`node did not print "ready" within ${readyTimeoutMs} ms`)), readyTimeoutMs);
    child.stdout.on("data", (d) => {
      out += d;
      if (process.env.INTEROP_NODE_LOG) process.stderr.write(d);
      buf += d;
      let nl;
      while ((nl = buf.indexOf("\n")) >= 0) {
        const line = buf.slice(0, nl).trim();
        buf = buf.slice(nl + 1);
        const m = line.match(/^listening: (\S+)$/);
        const h = line.match(/^http: (\S+)$/);
        if (m) addrs.push(m[1]);
        else if (h) httpUrl = h[1];
        else if (line === "ready") {
          clearTimeout(timer);
          resolve();
        }
      }
    });
    child.once("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
    exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`node exited before "ready" (code ${code}, signal ${signal})`));
    });
  });

  let stopped = null;
  const node = {
    child,
    dataDir,
    addrs,
    exited,
    stdout: () => out,
    stderr: () => err,
    /** SIGTERM, wait up to `graceMs` (then SIGKILL). Returns { code, signal, ms, killed }. */
    stop(graceMs = 5_000) {
      stopped ??= (async () => {
        liveNodes.delete(node);
        const t0 = Date.now();
        let killed = false;
        if (child.exitCode === null && child.signalCode === null) {
          child.kill("SIGTERM");
          let graceTimer;
          const timer = new Promise((r) => (graceTimer = setTimeout(r, graceMs, "timeout")));
          const first = await Promise.race([exited, timer]);
          clearTimeout(graceTimer); // do not keep the event loop alive for the rest of the grace
          if (first === "timeout") {
            killed = true;
            child.kill("SIGKILL");
          }
        }
        const { code, signal } = await exited;
        if (!fixedDir) await rm(dataDir, { recursive: true, force: true });
        return { code, signal, ms: Date.now() - t0, killed };
      })();
      return stopped;
    },
  };
  liveNodes.add(node);

  try {
    await ready;
  } catch (e) {
    await node.stop(1_000);
    throw new Error(`${e.message}\n--- stdout ---\n${out}\n--- stderr (tail) ---\n${err.slice(-4000)}`);
  }
  const ws = addrs.find((a) => /^\/ip4\/127\.0\.0\.1\/tcp\/\d+\/ws\/p2p\/\w+$/.test(a));
  const tcp = addrs.find((a) => /^\/ip4\/127\.0\.0\.1\/tcp\/\d+\/p2p\/\w+$/.test(a));
  if (!ws) {
    await node.stop(1_000);
    throw new Error(`node printed no "listening: /ip4/127.0.0.1/tcp/<port>/ws/p2p/<id>" line; got ${JSON.stringify(addrs)}`);
  }
  node.wsAddr = ws;
  node.tcpAddr = tcp;
  node.peerId = ws.split("/p2p/")[1];
  node.httpUrl = httpUrl;
  return node;
}

const B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
function base58(bytes) {
  let n = BigInt("0x" + (Buffer.from(bytes).toString("hex") || "0"));
  let s = "";
  while (n > 0n) {
    s = B58[Number(n % 58n)] + s;
    n /= 58n;
  }
  for (const b of bytes) {
    if (b !== 0) break;
    s = "1" + s;
  }
  return s;
}

/**
 * The libp2p peer id (base58, "12D3KooW…") of the Ed25519 key with this 32-byte seed — what
 * `connectClient(…, { seed })` will be — computed before connecting, e.g. for the node's
 * `--management-peer-id`.
 */
export function peerIdOfSeed(seed) {
  const pkcs8 = Buffer.concat([Buffer.from("302e020100300506032b657004220420", "hex"), Buffer.from(seed)]);
  const spki = createPublicKey(createPrivateKey({ key: pkcs8, format: "der", type: "pkcs8" })).export({ format: "der", type: "spki" });
  const publicKey = spki.subarray(spki.length - 32);
  // Identity multihash of the protobuf PublicKey { Type: Ed25519, Data: key }.
  return base58(Buffer.concat([Buffer.from([0x00, 0x24, 0x08, 0x01, 0x12, 0x20]), publicKey]));
}

/** A fresh random Ed25519 seed (32 bytes), as js-client's `keyPair.source` takes it. */
export function randomSeed() {
  return new Uint8Array(randomBytes(32));
}

/**
 * Connects a peer of `kit` (from `loadClient`) to `relay` (a multiaddr with /p2p/<id>) with the
 * package's `createClient`. `ttlMs` is the default particle TTL (js-client's own default is 7000).
 */
export async function connectClient(kit, relay, { seed = randomSeed(), ttlMs = Number(process.env.INTEROP_TTL_MS ?? 20_000) } = {}) {
  const client = await kit.lib.createClient(relay, {
    keyPair: { type: "Ed25519", source: seed },
    defaultTtlMs: ttlMs,
    connectionOptions: { dialTimeoutMs: 10_000 },
  });
  liveClients.add(client);
  return client;
}

/** `client.disconnect()`, failing (not hanging) if it takes more than `timeoutMs`. */
export async function disconnectClient(client, timeoutMs = 10_000) {
  if (!liveClients.delete(client)) return;
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`client.disconnect() took over ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    await Promise.race([client.disconnect(), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Disconnects every client still connected, then stops every node still running. */
export async function teardown() {
  for (const c of [...liveClients]) await disconnectClient(c).catch(() => {});
  for (const n of [...liveNodes]) await n.stop().catch(() => {});
}

// Last resort: never leave a node process behind, whatever happens to this process.
process.once("exit", () => {
  for (const n of liveNodes) if (n.child.exitCode === null) n.child.kill("SIGKILL");
});

/**
 * If something (a js-client worker, a socket) still holds the event loop after the tests ended,
 * print what and exit after `ms` instead of hanging `node --test`. The timer is unref'd: it
 * never keeps a clean process alive.
 */
export function exitIfStuck(ms = 5_000) {
  setTimeout(() => {
    const res = process.getActiveResourcesInfo().filter((r) => r !== "TTYWrap");
    process.stderr.write(`interop harness: still alive ${ms} ms after the last test (${res.join(", ")}); exiting\n`);
    process.exit(process.exitCode ?? 0);
  }, ms).unref();
}

/**
 * Imports a module generated by compile.mjs (path → module namespace) for `kit`. For the real
 * js-client the file is imported as generated. For another package the one line importing from
 * '@fluencelabs/js-client' is rewritten to the package's specifier — nothing else changes — and
 * the result is written next to the original as `<name>.<kit.name>.js`, then imported.
 */
export async function importGenerated(path, kit) {
  if (!kit) throw new Error("importGenerated(path, kit): kit is required");
  if (kit.specifier === JS_CLIENT_SPECIFIER) return import(pathToFileURL(path).href);
  const out = join(dirname(path), `${basename(path, ".js")}.${kit.name}.js`);
  await writeFile(out, rewriteClientImport(await readFile(path, "utf8"), kit.specifier));
  return import(pathToFileURL(out).href);
}

/**
 * `source` with its single `from '@fluencelabs/js-client'` line pointing at `specifier` instead.
 * Throws unless exactly one line of `source` imports from '@fluencelabs/js-client'.
 */
export function rewriteClientImport(source, specifier) {
  const re = /(\bfrom\s*)(['"])@fluencelabs\/js-client\2/;
  const lines = source.split("\n");
  const hits = lines.flatMap((l, i) => (re.test(l) ? [i] : []));
  if (hits.length !== 1) throw new Error(`expected exactly one line importing from '${JS_CLIENT_SPECIFIER}', found ${hits.length}`);
  lines[hits[0]] = lines[hits[0]].replace(re, (_, from, q) => `${from}${q}${specifier}${q}`);
  return lines.join("\n");
}

// --- nox-compatible identifiers, computed locally ---

const B32 = "abcdefghijklmnopqrstuvwxyz234567";
function base32(bytes) {
  let bits = 0;
  let v = 0;
  let s = "";
  for (const b of bytes) {
    v = ((v << 8) | b) & 0xffff;
    bits += 8;
    while (bits >= 5) {
      s += B32[(v >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) s += B32[(v << (5 - bits)) & 31];
  return s;
}

/**
 * nox's module/blueprint id (cid-utils `Hash::new`) for data of at most 256 KiB:
 * CIDv1, codec raw (0x55), sha2-256 multihash, base32 lower ("bafkrei…").
 */
export function cidRawSha256(data) {
  if (data.length > 262_144) throw new Error("data over 256 KiB is chunked (dag-pb) by nox: not implemented here");
  const digest = createHash("sha256").update(data).digest();
  return "b" + base32(Buffer.concat([Buffer.from([0x01, 0x55, 0x12, 0x20]), digest]));
}

/** nox's `dist.make_blueprint(name, deps)` result: the DAG-JSON of {name, dependencies: [links]}. */
export function blueprintDagJson(name, deps) {
  return JSON.stringify({ dependencies: deps.map((d) => ({ "/": d })), name });
}
