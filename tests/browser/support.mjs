// Helpers for the browser tests: a static HTTP server for the repo, `lineage-node` on loopback
// (also on fixed ports, for restarts), headless Chromium through playwright-core, Aqua compiled
// by aqua-api for the page and for the real js-client 0.9 in Node, and teardown so that
// `node --test tests/browser/` always ends by itself.
import { spawn } from "node:child_process";
import { createServer as createHttpServer } from "node:http";
import { createServer as createNetServer } from "node:net";
import { createSocket } from "node:dgram";
import { accessSync, constants, existsSync } from "node:fs";
import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir, homedir } from "node:os";
import { dirname, extname, join, resolve, sep } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const HERE = dirname(fileURLToPath(import.meta.url));
export const ROOT = resolve(HERE, "..", "..");
export const PAGES = "/tests/browser/pages"; // URL path of tests/browser/pages/

export const NODE_BIN =
  process.env.LINEAGE_NODE_BIN ||
  join(process.env.CARGO_TARGET_DIR || join(homedir(), ".cache", "lineage-edge", "target"), "debug", "lineage-node");
export const CHROMIUM = process.env.LINEAGE_CHROMIUM || "/usr/bin/chromium";
export const CHROMIUM_ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--disable-dev-shm-usage",
];

/** With CI=true or LINEAGE_REQUIRE_BROWSER=1 missing artifacts fail the run instead of skipping it. */
export const REQUIRE = process.env.CI === "true" || process.env.CI === "1" || process.env.LINEAGE_REQUIRE_BROWSER === "1";

const executable = (p) => {
  try {
    accessSync(p, constants.X_OK);
    return true;
  } catch {
    return false;
  }
};
const resolvable = (spec) => {
  try {
    import.meta.resolve(spec);
    return true;
  } catch {
    return false;
  }
};

/**
 * What the browser tests need and is not there, as human-readable strings ([] = all present).
 * `extra`: also "vite" (vite + node_modules/@lineage-edge/js-client), "jsclient" (@fluencelabs/js-client).
 */
export function missingArtifacts(extra = []) {
  const miss = [];
  for (const f of ["pkg/dist/index.js", "pkg/dist/lineage_web.js", "pkg/dist/lineage_web_bg.wasm", "pkg/dist/lineage_marine.js", "pkg/dist/lineage_marine_bg.wasm"]) {
    if (!existsSync(join(ROOT, f))) miss.push(`${f} (npm package; pkg/dist comes from \`bash scripts/build-pkg.sh\`)`);
  }
  if (!executable(NODE_BIN)) miss.push(`lineage-node binary ${NODE_BIN} (set LINEAGE_NODE_BIN)`);
  if (!executable(CHROMIUM)) miss.push(`Chromium ${CHROMIUM} (scripts/setup.sh installs it; or set LINEAGE_CHROMIUM)`);
  if (!resolvable("playwright-core")) miss.push("playwright-core (npm ci)");
  if (extra.includes("jsclient") && !resolvable("@fluencelabs/js-client")) miss.push("@fluencelabs/js-client (npm ci)");
  if (extra.includes("aqua") && !resolvable("@fluencelabs/aqua-api")) miss.push("@fluencelabs/aqua-api (npm ci)");
  if (extra.includes("vite")) {
    if (!existsSync(join(ROOT, "node_modules", "vite", "bin", "vite.js"))) miss.push("vite (npm ci)");
    if (!existsSync(join(ROOT, "node_modules", "@lineage-edge", "js-client", "package.json"))) {
      miss.push("node_modules/@lineage-edge/js-client (root package.json dependency file:pkg; npm install)");
    }
  }
  return miss;
}

/** node:test `skip` option: false, or the reason (never a skip when REQUIRE is set: then it throws in `before`). */
export function skipReason(missing) {
  if (missing.length === 0 || REQUIRE) return false;
  return `missing: ${missing.join("; ")} (CI=true or LINEAGE_REQUIRE_BROWSER=1 makes this a failure)`;
}

export function assertArtifacts(missing) {
  if (missing.length > 0) throw new Error(`browser tests cannot run, missing:\n  - ${missing.join("\n  - ")}`);
}

// ------------------------------------------------------------------------------------------------
// Static HTTP server

const MIME = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".wasm": "application/wasm",
  ".json": "application/json; charset=utf-8",
  ".map": "application/json; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".txt": "text/plain; charset=utf-8",
  ".svg": "image/svg+xml",
  ".ico": "image/x-icon",
};
export const CSP = "script-src 'self' 'wasm-unsafe-eval'";

/**
 * Serves ROOT on 127.0.0.1:<free port>. `mounts`: {"/prefix/": dir} served before ROOT;
 * `virtual`: Map(urlPath -> {body, type}) for generated files; `cspPaths`: URL paths answered
 * with the Content-Security-Policy header. Keeps a request log (`requests`).
 */
export async function startServer({ mounts = {}, virtual = new Map(), cspPaths = new Set([`${PAGES}/csp.html`]) } = {}) {
  const requests = [];
  const server = createHttpServer(async (req, res) => {
    const url = new URL(req.url, "http://127.0.0.1");
    let path;
    try {
      path = decodeURIComponent(url.pathname);
    } catch {
      res.writeHead(400).end();
      return;
    }
    const headers = { "Cache-Control": "no-store" };
    if (cspPaths.has(path)) headers["Content-Security-Policy"] = CSP;
    const send = (status, body, type) => {
      requests.push({ path, status });
      if (type) headers["Content-Type"] = type;
      res.writeHead(status, headers);
      res.end(req.method === "HEAD" ? undefined : body);
    };
    if (req.method !== "GET" && req.method !== "HEAD") return send(405, "method not allowed", MIME[".txt"]);
    if (path === "/favicon.ico") return send(204, "");
    if (virtual.has(path)) {
      const v = virtual.get(path);
      return send(200, v.body, v.type ?? MIME[extname(path)] ?? "application/octet-stream");
    }
    let base = ROOT;
    let rel = path;
    for (const [prefix, dir] of Object.entries(mounts)) {
      if (path.startsWith(prefix)) {
        base = dir;
        rel = path.slice(prefix.length - 1);
        break;
      }
    }
    let file = resolve(base, "." + rel);
    if (file !== base && !file.startsWith(base + sep)) return send(403, "forbidden", MIME[".txt"]);
    try {
      if ((await stat(file)).isDirectory()) file = join(file, "index.html");
      const body = await readFile(file);
      return send(200, body, MIME[extname(file)] ?? "application/octet-stream");
    } catch {
      return send(404, `not found: ${path}`, MIME[".txt"]);
    }
  });
  await new Promise((ok, fail) => {
    server.once("error", fail);
    server.listen(0, "127.0.0.1", ok);
  });
  const origin = `http://127.0.0.1:${server.address().port}`;
  return {
    origin,
    virtual,
    mounts,
    requests,
    url: (p) => origin + p,
    close: () =>
      new Promise((ok) => {
        server.closeAllConnections?.();
        server.close(() => ok());
      }),
  };
}

// ------------------------------------------------------------------------------------------------
// lineage-node

const liveNodes = new Set();

/** Free loopback ports: `tcp` TCP ports and `udp` UDP ports, all distinct. */
export async function freePorts({ tcp = 2, udp = 1 } = {}) {
  const seen = new Set();
  const one = (kind) =>
    new Promise((ok, fail) => {
      if (kind === "tcp") {
        const s = createNetServer();
        s.once("error", fail);
        s.listen(0, "127.0.0.1", () => {
          const { port } = s.address();
          s.close(() => ok(port));
        });
      } else {
        const s = createSocket("udp4");
        s.once("error", fail);
        s.bind(0, "127.0.0.1", () => {
          const { port } = s.address();
          s.close(() => ok(port));
        });
      }
    });
  const pick = async (kind) => {
    for (;;) {
      const p = await one(kind);
      if (!seen.has(p)) {
        seen.add(p);
        return p;
      }
    }
  };
  const out = { tcp: [], udp: [] };
  for (let i = 0; i < tcp; i++) out.tcp.push(await pick("tcp"));
  for (let i = 0; i < udp; i++) out.udp.push(await pick("udp"));
  return out;
}

/**
 * Starts lineage-node and waits for `ready`. Ports default to 0 (any); `dataDir` defaults to a
 * fresh temp dir that `stop()` removes (a given one is kept). Returns
 * { peerId, wsAddr, webrtcAddr, httpUrl (the gateway), addrs, stdout(), stderr(), stop(), kill(), child }.
 */
export async function startNode({ ws = 0, tcp = 0, webrtc = 0, http = 0, dataDir, args = [], readyTimeoutMs = 30_000 } = {}) {
  const ownDir = !dataDir;
  dataDir ??= await mkdtemp(join(tmpdir(), "lineage-browser-node-"));
  const argv = ["--data-dir", dataDir, "--ws-port", String(ws), "--tcp-port", String(tcp), "--webrtc-port", String(webrtc), "--http-port", String(http), ...args];
  const child = spawn(NODE_BIN, argv, { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env } });
  let out = "";
  let err = "";
  child.stderr.setEncoding("utf8");
  child.stderr.on("data", (d) => {
    err += d;
    if (err.length > 400_000) err = err.slice(-200_000);
    if (process.env.BROWSER_NODE_LOG) process.stderr.write(d);
  });
  child.stdout.setEncoding("utf8");
  const exited = new Promise((ok) => child.once("exit", (code, signal) => ok({ code, signal })));
  const addrs = [];
  let httpUrl;
  const ready = new Promise((ok, fail) => {
    let buf = "";
    const timer = setTimeout(() => fail(new Error(`lineage-node did not print "ready" within ${readyTimeoutMs} ms`)), readyTimeoutMs);
    child.stdout.on("data", (d) => {
      out += d;
      if (process.env.BROWSER_NODE_LOG) process.stderr.write(d);
      buf += d;
      let nl;
      while ((nl = buf.indexOf("\n")) >= 0) {
        const line = buf.slice(0, nl).trim();
        buf = buf.slice(nl + 1);
        const m = line.match(/^listening: (\S+)$/);
        const h = line.match(/^http: (http:\/\/\S+)$/);
        if (m) addrs.push(m[1]);
        else if (h) httpUrl = h[1];
        else if (line === "ready") {
          clearTimeout(timer);
          ok();
        }
      }
    });
    child.once("error", (e) => {
      clearTimeout(timer);
      fail(e);
    });
    exited.then(({ code, signal }) => {
      clearTimeout(timer);
      fail(new Error(`lineage-node exited before "ready" (code ${code}, signal ${signal})`));
    });
  });

  let stopped = null;
  const node = {
    child,
    dataDir,
    argv,
    addrs,
    stdout: () => out,
    stderr: () => err,
    exited,
    /** SIGTERM, SIGKILL after `graceMs`; removes an own data dir. */
    stop(graceMs = 5_000) {
      stopped ??= (async () => {
        liveNodes.delete(node);
        if (child.exitCode === null && child.signalCode === null) {
          child.kill("SIGTERM");
          const t = new Promise((r) => setTimeout(r, graceMs, "timeout").unref());
          if ((await Promise.race([exited, t])) === "timeout") child.kill("SIGKILL");
        }
        const r = await exited;
        if (ownDir) await rm(dataDir, { recursive: true, force: true });
        return r;
      })();
      return stopped;
    },
    /** SIGKILL now (a crash); keeps the data dir. */
    async kill() {
      liveNodes.delete(node);
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
      return exited;
    },
  };
  liveNodes.add(node);
  try {
    await ready;
  } catch (e) {
    await node.stop(1_000);
    throw new Error(`${e.message}\nargs: ${argv.join(" ")}\n--- stdout ---\n${out}\n--- stderr (tail) ---\n${err.slice(-4000)}`);
  }
  node.httpUrl = httpUrl;
  node.wsAddr = addrs.find((a) => /^\/ip4\/127\.0\.0\.1\/tcp\/\d+\/ws\/p2p\/\w+$/.test(a));
  node.webrtcAddr = addrs.find((a) => /^\/ip4\/127\.0\.0\.1\/udp\/\d+\/webrtc-direct\/certhash\/[^/]+\/p2p\/\w+$/.test(a));
  if (!node.wsAddr) {
    await node.stop(1_000);
    throw new Error(`lineage-node printed no "listening: /ip4/127.0.0.1/tcp/<port>/ws/p2p/<id>" line; got ${JSON.stringify(addrs)}`);
  }
  node.peerId = node.wsAddr.split("/p2p/")[1];
  return node;
}

export async function stopAllNodes() {
  for (const n of [...liveNodes]) await n.stop().catch(() => {});
}

process.once("exit", () => {
  for (const n of liveNodes) if (n.child.exitCode === null) n.child.kill("SIGKILL");
});

// ------------------------------------------------------------------------------------------------
// Chromium

const liveBrowsers = new Set();

export async function launchBrowser() {
  const { chromium } = await import("playwright-core");
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS, timeout: 60_000 });
  liveBrowsers.add(browser);
  const close = browser.close.bind(browser);
  browser.close = async () => {
    liveBrowsers.delete(browser);
    await Promise.race([close(), new Promise((r) => setTimeout(r, 10_000).unref())]);
  };
  return browser;
}

export async function closeAllBrowsers() {
  for (const b of [...liveBrowsers]) await b.close().catch(() => {});
}

const clip = (s, n = 2_000) => (s.length > n ? s.slice(0, n) + `… (${s.length} chars)` : s);

/**
 * Runs `fn(h)` with the page handle `h` from `opening`, closes the page, and fails if the page had
 * uncaught errors. A failing assertion gets the page log appended to its message.
 */
export async function withPage(opening, fn) {
  const h = await opening;
  try {
    const r = await fn(h);
    h.assertNoPageErrors();
    return r;
  } catch (e) {
    if (e instanceof Error && !String(e.message).includes("--- page log")) {
      e.message = `${e.message}\n${h.logText()}`;
    }
    throw e;
  } finally {
    await h.close();
  }
}

/**
 * Opens `url` in a new page of `browser` (own context) and records what the page says:
 * pageerror, console messages (every type), failed requests, worker console, crashes.
 * Returns a handle with `eval(fn, arg, {timeoutMs})` and `result({timeoutMs})` (polls
 * `window.__result`); both throw with the page log appended. `pageErrors()` lists uncaught errors.
 */
export async function openPage(browser, url, { label = url, waitFor = null, timeoutMs = 30_000 } = {}) {
  const context = await browser.newContext();
  const page = await context.newPage();
  const log = [];
  const errors = [];
  const push = (line) => {
    log.push(`${new Date().toISOString().slice(11, 23)} ${clip(line)}`);
    if (log.length > 400) log.splice(0, log.length - 400);
  };
  page.on("pageerror", (e) => {
    errors.push(String(e?.stack ?? e));
    push(`[pageerror] ${String(e?.stack ?? e).split("\n").slice(0, 4).join(" | ")}`);
  });
  page.on("console", (m) => push(`[console.${m.type()}] ${m.text()}`));
  page.on("requestfailed", (r) => push(`[requestfailed] ${r.url()} ${r.failure()?.errorText ?? ""}`));
  page.on("response", (r) => {
    if (r.status() >= 400) push(`[http ${r.status()}] ${r.url()}`);
  });
  page.on("crash", () => push("[crash] the page crashed"));
  page.on("worker", (w) => {
    push(`[worker] started ${w.url()}`);
    w.on("console", (m) => push(`[worker console.${m.type()}] ${m.text()}`));
    w.on("close", () => push(`[worker] closed ${w.url()}`));
  });
  const h = {
    page,
    context,
    log,
    label,
    pageErrors: () => [...errors],
    logText: () => `--- page log (${label}) ---\n${log.join("\n") || "(empty)"}`,
    fail(message) {
      return new Error(`${message}\n${h.logText()}`);
    },
    async eval(fn, arg, { timeoutMs: t = 30_000, what = "page.evaluate" } = {}) {
      let timer;
      try {
        return await Promise.race([
          page.evaluate(fn, arg),
          new Promise((_, rej) => {
            timer = setTimeout(() => rej(new Error(`${what}: no answer within ${t} ms`)), t);
          }),
        ]);
      } catch (e) {
        throw h.fail(`${e.message}`);
      } finally {
        clearTimeout(timer);
      }
    },
    /** Polls `window[name]` until it is set (page.evaluate polling: no eval, so works under CSP). */
    async waitGlobal(name, { timeoutMs: t = 30_000 } = {}) {
      const deadline = Date.now() + t;
      for (;;) {
        const v = await page.evaluate((n) => window[n] ?? null, name).catch((e) => ({ __evalError: String(e) }));
        if (v && !v.__evalError) return v;
        if (Date.now() > deadline) throw h.fail(`window.${name} not set within ${t} ms${v?.__evalError ? ` (last evaluate: ${v.__evalError})` : ""}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    },
    /** window.__result = {ok} | {error}; returns ok or throws with the error and the page log. */
    async result({ timeoutMs: t = 40_000 } = {}) {
      const r = await h.waitGlobal("__result", { timeoutMs: t });
      if (r.error) throw h.fail(`page reported an error: ${JSON.stringify(r.error, null, 2)}`);
      return r.ok;
    },
    /** Unwraps a lab call outcome {ok}|{error}. */
    unwrap(r, what = "call") {
      if (r && "ok" in r) return r.ok;
      throw h.fail(`${what} failed: ${JSON.stringify(r?.error ?? r, null, 2)}`);
    },
    assertNoPageErrors() {
      if (errors.length === 0) return;
      const counts = new Map();
      for (const e of errors) {
        const k = e.split("\n").slice(0, 8).join("\n");
        counts.set(k, (counts.get(k) ?? 0) + 1);
      }
      const list = [...counts].map(([k, n]) => (n > 1 ? `(${n}×) ${k}` : k)).join("\n");
      throw h.fail(`${errors.length} uncaught page error(s), the test's own checks passed:\n${list}`);
    },
    close: () => context.close().catch(() => {}),
  };
  try {
    h.response = await page.goto(url, { waitUntil: "load", timeout: timeoutMs });
  } catch (e) {
    throw h.fail(`page.goto ${url}: ${e.message}`);
  }
  if (waitFor) await h.waitGlobal(waitFor, { timeoutMs });
  return h;
}

/** Opens the lab page and connects its peer to `relay`; returns the handle plus `info` (peer ids). */
export async function openLab(browser, server, relay, { label = "lab", ttl = 20_000 } = {}) {
  const h = await openPage(browser, server.url(`${PAGES}/lab.html`), { label, waitFor: "__labReady" });
  h.info = await h.eval(
    async ({ relay, ttl }) => {
      try {
        return { ok: await window.lab.connect(relay, { ttl }) };
      } catch (e) {
        return { error: { name: e?.name, message: String(e?.message ?? e), code: e?.code, stack: String(e?.stack ?? "") } };
      }
    },
    { relay, ttl },
    { what: `connect to ${relay}`, timeoutMs: 40_000 },
  );
  h.info = h.unwrap(h.info, `connect to ${relay}`);
  return h;
}

// ------------------------------------------------------------------------------------------------
// Aqua (aqua-api 0.14.6) and the real js-client 0.9 in Node

export const PAGE_GEN = "/__gen/browser.js"; // virtual URL of the page's copy of browser.aqua

/**
 * Compiles tests/browser/aqua/browser.aqua for js-client (`targetType: "js"`). Returns
 * { pageJs: source with the js-client import → /pkg/dist/index.js (the bundle the package ships), nodeModule: path of a temp
 * copy importing the real @fluencelabs/js-client, dir, scripts: {fn: AIR} }.
 */
export async function compileBrowserAqua() {
  const { compileFromPath } = await import("@fluencelabs/aqua-api");
  const res = await compileFromPath({
    filePath: join(HERE, "aqua", "browser.aqua"),
    imports: { "/": { "@fluencelabs/aqua-lib": join(ROOT, "node_modules", "@fluencelabs", "aqua-lib") } },
    targetType: "js",
  });
  if (res.errors.length > 0) throw new Error(`aqua-api failed on browser.aqua:\n${res.errors.join("\n")}`);
  const js = res.generatedSources[0]?.jsSource;
  if (!js) throw new Error("aqua-api generated no JS for browser.aqua");
  const importRe = /(from\s+|import\s*\(\s*)(["'])@fluencelabs\/js-client\2/g;
  if (!importRe.test(js)) throw new Error(`generated JS does not import @fluencelabs/js-client:\n${js.slice(0, 1500)}`);
  const pageJs = js.replace(importRe, (_, kw, q) => `${kw}${q}/pkg/dist/index.js${q}`);
  const realJsClient = import.meta.resolve("@fluencelabs/js-client");
  const nodeJs = js.replace(importRe, (_, kw, q) => `${kw}${q}${realJsClient}${q}`);
  const dir = await mkdtemp(join(tmpdir(), "lineage-browser-aqua-"));
  const nodeModule = join(dir, "browser.mjs");
  await writeFile(nodeModule, nodeJs);
  const scripts = {};
  for (const m of js.matchAll(/export const (\w+)_script = `([^`]*)`/g)) scripts[m[1]] = m[2];
  return { pageJs, nodeModule, dir, scripts };
}

export async function importFile(path) {
  return import(pathToFileURL(path).href);
}

let jsClientLib = null;
/** The real @fluencelabs/js-client 0.9 (with the Node-20 Promise.withResolvers polyfill it needs). */
export async function jsClient() {
  if (!jsClientLib) {
    if (typeof Promise.withResolvers !== "function") {
      // libp2p 1.2 → mortice 3.3 → it-queue uses Promise.withResolvers (Node ≥ 22); see tests/interop/harness.mjs.
      Promise.withResolvers = function withResolvers() {
        let resolve;
        let reject;
        const promise = new this((res, rej) => {
          resolve = res;
          reject = rej;
        });
        return { promise, resolve, reject };
      };
    }
    jsClientLib = await import("@fluencelabs/js-client");
  }
  return jsClientLib;
}

const liveClients = new Set();

/** Connects a real js-client 0.9 peer (in this Node process) to `relay`. */
export async function connectJsClient(relay, { ttlMs = 20_000 } = {}) {
  const { createClient } = await jsClient();
  const client = await createClient(relay, { defaultTtlMs: ttlMs, connectionOptions: { dialTimeoutMs: 10_000 } });
  liveClients.add(client);
  return client;
}

export async function disconnectJsClient(client, timeoutMs = 10_000) {
  if (!liveClients.delete(client)) return;
  let timer;
  try {
    await Promise.race([
      client.disconnect(),
      new Promise((_, rej) => {
        timer = setTimeout(() => rej(new Error(`js-client disconnect took over ${timeoutMs} ms`)), timeoutMs);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** Closes browsers, disconnects js-clients, stops nodes (in that order). Never throws. */
export async function teardown({ server, dirs = [] } = {}) {
  await closeAllBrowsers();
  for (const c of [...liveClients]) await disconnectJsClient(c).catch(() => {});
  await stopAllNodes();
  if (server) await server.close().catch(() => {});
  for (const d of dirs) if (d) await rm(d, { recursive: true, force: true }).catch(() => {});
}

/** As tests/interop/harness.mjs: exit after `ms` if something still holds the event loop. */
export function exitIfStuck(ms = 5_000) {
  setTimeout(() => {
    const res = process.getActiveResourcesInfo().filter((r) => r !== "TTYWrap");
    process.stderr.write(`browser tests: still alive ${ms} ms after the last test (${res.join(", ")}); exiting\n`);
    process.exit(process.exitCode ?? 0);
  }, ms).unref();
}

/** `fn()` until it returns a truthy value, or throws `message()` after `timeoutMs`. */
export async function until(fn, { timeoutMs = 30_000, intervalMs = 100, message = () => "condition" } = {}) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${message()}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

