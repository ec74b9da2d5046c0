// Our light peer (@lineage-edge/js-client, release wasm) beside @fluencelabs/js-client 0.9 in one
// headless Chromium, both connected to one lineage-node on loopback. Prints a table, then one JSON
// line per figure (ours, js-client, ratio ours÷js-client, target met?). See README.md.
//
//   node benches/peer/run.mjs            (npm run bench:peer)
//   LINEAGE_PKG_DIST=dir                 our wasm build to serve (default /tmp/lineage-pkg-release,
//                                        made by `PKG_OUT_DIR=/tmp/lineage-pkg-release bash scripts/build-pkg.sh release`;
//                                        falls back to pkg/dist, reported as not the release build)
//   BENCH_COLD_RUNS=5 BENCH_WARM_CALLS=20 BENCH_BATCH=100
//   LINEAGE_NODE_BIN, LINEAGE_CHROMIUM   as for tests/browser (support.mjs)
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { cp, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { constants as Z, brotliCompressSync, gzipSync } from "node:zlib";
import { NODE_BIN, ROOT, launchBrowser, openPage, startNode, startServer, teardown } from "../../tests/browser/support.mjs";

const COLD_RUNS = Number(process.env.BENCH_COLD_RUNS ?? 5);
const WARM_CALLS = Number(process.env.BENCH_WARM_CALLS ?? 20);
const WARMUP_CALLS = 3;
const BATCH = Number(process.env.BENCH_BATCH ?? 100);
const TTL_MS = 60_000;
const STEP_TIMEOUT_MS = 120_000;

// The round trip: the relay's op.identity, result back through callbackSrv.response.
const AIR = `(xor (seq (seq (call %init_peer_id% ("getDataSrv" "-relay-") [] -relay-) (call -relay- ("op" "identity") ["x"] r)) (call %init_peer_id% ("callbackSrv" "response") [r])) (call %init_peer_id% ("errorHandlingSrv" "error") [%last_error% 0]))`;

// Targets from the issue.
const MB = 1_000_000;
const TARGET_GZIP_BYTES = 1.0 * MB; // js-client 0.9: 3.08 MB

const FL = join(ROOT, "node_modules", "@fluencelabs");
const version = (pkg) => JSON.parse(readFileSync(join(FL, pkg, "package.json"), "utf8")).version;

const log = (s) => process.stderr.write(`[bench:peer] ${s}\n`);
const errText = (e) => String(e?.message ?? e).split("\n--- page log")[0];
const clip = (s, n = 1500) => (s.length > n ? s.slice(0, n) + " …" : s);

// ------------------------------------------------------------------------------------------------
// Our package as a page imports it: pkg/src + the release wasm build, laid out as the package is.
// The Marine runtime's wasm is fetched only by registerMarineService (measured separately).

const DIST_FILES = ["index.js", "lineage_web.js", "lineage_web_bg.wasm", "lineage_marine.js", "lineage_marine_bg.wasm"];

function pickDist() {
  const want = process.env.LINEAGE_PKG_DIST || "/tmp/lineage-pkg-release";
  const has = (d) => DIST_FILES.every((f) => existsSync(join(d, f)));
  if (has(want)) return { dir: want, release: !process.env.LINEAGE_PKG_DIST || /release/.test(want), note: want };
  const dev = join(ROOT, "pkg", "dist");
  if (has(dev)) {
    return {
      dir: dev,
      release: false,
      note: `${dev} (NOT the release build: ${want} is missing; make it with \`PKG_OUT_DIR=/tmp/lineage-pkg-release bash scripts/build-pkg.sh release\`)`,
    };
  }
  return null;
}

// ------------------------------------------------------------------------------------------------
// The two pages (generated, served from memory). Each imports its client statically, connects at
// once and records when Fluence.connect resolved; window.__bench runs the call loops in the page.

const pageHtml = (libUrl, connectConfig) => `<!doctype html>
<html><head><meta charset="utf-8"><title>bench:peer</title>
<script type="module">
import { Fluence, callAquaFunction } from ${JSON.stringify(libUrl)};
const now = () => performance.timeOrigin + performance.now();
const errorJson = (e) => ({ name: e?.name, code: e?.code, message: String(e?.message ?? e), stack: String(e?.stack ?? "").split("\\n").slice(0, 6).join("\\n") });
const relay = new URLSearchParams(location.search).get("relay");
const AIR = ${JSON.stringify(AIR)};
const call = () => callAquaFunction({ script: AIR, config: { ttl: ${TTL_MS} }, peer: Fluence.getClient(), args: {}, fireAndForget: false });
window.__bench = {
  async one() {
    const t = performance.now();
    const r = await call();
    if (r !== "x") throw new Error("op.identity returned " + JSON.stringify(r));
    return performance.now() - t;
  },
  async many(n) { const out = []; for (let i = 0; i < n; i++) out.push(await this.one()); return out; },
  async seq(n) { const t = performance.now(); for (let i = 0; i < n; i++) await this.one(); return performance.now() - t; },
  async conc(n) { const t = performance.now(); await Promise.all(Array.from({ length: n }, () => this.one())); return performance.now() - t; },
  async run(what, n) {
    try { return { ok: await this[what](n) }; } catch (e) { return { error: errorJson(e) }; }
  },
  // Hosting a Marine service in the page (greeting.wasm): register, then one call through AquaVM.
  async marine(url) {
    try {
      const bytes = new Uint8Array(await (await fetch(url)).arrayBuffer());
      const t0 = performance.now();
      await Fluence.getClient().registerMarineService(bytes, "bench-greeting");
      const t1 = performance.now();
      const air = '(xor (seq (call %init_peer_id% ("bench-greeting" "greet") ["Ada"] r) (call %init_peer_id% ("callbackSrv" "response") [r])) (call %init_peer_id% ("errorHandlingSrv" "error") [%last_error% 0]))';
      const r = await callAquaFunction({ script: air, config: { ttl: ${TTL_MS} }, peer: Fluence.getClient(), args: {}, fireAndForget: false });
      if (r?.name_len !== 3) throw new Error("greet returned " + JSON.stringify(r));
      return { ok: { registerMs: t1 - t0, firstCallMs: performance.now() - t1 } };
    } catch (e) { return { error: errorJson(e) }; }
  },
  async disconnect() { try { await Fluence.disconnect(); return { ok: true }; } catch (e) { return { error: errorJson(e) }; } },
};
Fluence.connect(relay, ${JSON.stringify(connectConfig)}).then(
  () => { window.__connected = { ok: { at: now(), sinceNavMs: performance.now() } }; },
  (e) => { window.__connected = { error: errorJson(e) }; },
);
</script></head><body>bench:peer</body></html>`;

// ------------------------------------------------------------------------------------------------
// Figures

const median = (xs) => quantile(xs, 0.5);
function quantile(xs, q) {
  const s = [...xs].sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const i = (s.length - 1) * q;
  const lo = Math.floor(i);
  return s[lo] + (s[Math.ceil(i)] - s[lo]) * (i - lo);
}
const round = (x, d = 1) => (Number.isFinite(x) ? Math.round(x * 10 ** d) / 10 ** d : null);

function sizesOf(body) {
  return {
    raw: body.length,
    gzip: gzipSync(body, { level: 9 }).length,
    brotli: brotliCompressSync(body, {
      params: { [Z.BROTLI_PARAM_QUALITY]: 11, [Z.BROTLI_PARAM_SIZE_HINT]: body.length },
    }).length,
  };
}

/** What one page fetched from the server (its own HTML excluded), with sizes. */
async function downloads(server, paths) {
  const files = [];
  for (const path of [...new Set(paths)]) {
    let res;
    let body;
    for (let attempt = 1; ; attempt++) {
      try {
        res = await fetch(server.url(path));
        body = Buffer.from(await res.arrayBuffer());
        break;
      } catch (e) {
        if (attempt < 3) continue;
        throw new Error(`re-fetching ${path} for its size: ${e.message}${e.cause ? ` (${e.cause.message ?? e.cause})` : ""}`);
      }
    }
    files.push({ path, status: res.status, ...sizesOf(body) });
  }
  const total = { raw: 0, gzip: 0, brotli: 0 };
  for (const f of files) for (const k of Object.keys(total)) total[k] += f[k];
  return { files, total };
}

// ------------------------------------------------------------------------------------------------

const SIDES = ["ours", "jsclient"];
const LABEL = { ours: "ours (@lineage-edge/js-client)", jsclient: "js-client 0.9" };

async function main() {
  const results = { ours: { error: null }, jsclient: { error: null } };
  const cleanup = [];
  let server;
  try {
    // --- artifacts
    const dist = pickDist();
    let libUrl = null;
    if (!dist) {
      results.ours.error = `no wasm build: neither /tmp/lineage-pkg-release nor pkg/dist has ${DIST_FILES.join(" + ")}`;
    } else {
      const pkgDir = await mkdtemp(join(tmpdir(), "lineage-bench-pkg-"));
      cleanup.push(pkgDir);
      await cp(join(ROOT, "pkg", "src"), join(pkgDir, "src"), { recursive: true });
      await cp(join(ROOT, "pkg", "package.json"), join(pkgDir, "package.json"));
      // Everything the package ships from dist/: the JS bundle (index.js and its chunk), glue, wasm.
      for (const f of readdirSync(dist.dir).filter((n) => /\.(js|wasm)$/.test(n))) await cp(join(dist.dir, f), join(pkgDir, "dist", f));
      results.ours.build = dist.note;
      results.ours.release = dist.release;
      results.ours.pkgDir = pkgDir;
      libUrl = "/ours/dist/index.js";
    }
    const cdn = {
      [`/@fluencelabs/marine-js@${version("marine-js")}/`]: join(FL, "marine-js"),
      [`/@fluencelabs/avm@${version("avm")}/`]: join(FL, "avm"),
      [`/@fluencelabs/marine-worker@${version("marine-worker")}/`]: join(FL, "marine-worker"),
    };
    const mounts = { ...cdn, "/fixtures/": join(ROOT, "tests", "fixtures") };
    if (results.ours.pkgDir) mounts["/ours/"] = results.ours.pkgDir;
    server = await startServer({ mounts, cspPaths: new Set() });
    server.virtual.set("/bench/ours.html", { body: pageHtml(libUrl ?? "/ours/missing.js", { defaultTtlMs: TTL_MS }) });
    server.virtual.set("/bench/jsclient.html", {
      body: pageHtml("/node_modules/@fluencelabs/js-client/dist/browser/index.min.js", { defaultTtlMs: TTL_MS, CDNUrl: server.origin }),
    });
    log(`static server ${server.origin}; our wasm: ${results.ours.build ?? "(none)"}`);

    const node = await startNode();
    log(`lineage-node ${NODE_BIN} → ${node.wsAddr}`);
    const browser = await launchBrowser();
    log(`Chromium ${browser.version()}`);

    // --- cold starts (alternating sides, each in a fresh context: no cache, no storage)
    for (const side of SIDES) Object.assign(results[side], { coldMs: [], downloads: null });
    const keep = {};
    for (let run = 0; run < COLD_RUNS; run++) {
      for (const side of SIDES) {
        const r = results[side];
        if (r.error) continue;
        const last = run === COLD_RUNS - 1;
        const from = server.requests.length;
        let h = null;
        try {
          const t0 = Date.now();
          h = await openPage(browser, server.url(`/bench/${side}.html?relay=${encodeURIComponent(node.wsAddr)}`), {
            label: `${side} cold ${run + 1}`,
            timeoutMs: 60_000,
          });
          const c = await h.waitGlobal("__connected", { timeoutMs: 60_000 });
          if (c.error) throw h.fail(`Fluence.connect failed: ${JSON.stringify(c.error)}`);
          const errors = h.pageErrors();
          if (errors.length) throw h.fail(`uncaught page errors: ${errors.join("\n")}`);
          r.coldMs.push(c.ok.at - t0);
          r.coldSinceNavMs ??= [];
          r.coldSinceNavMs.push(c.ok.sinceNavMs);
          if (run === 0) {
            const got = server.requests.slice(from).filter((q) => !q.path.startsWith("/bench/") && q.path !== "/favicon.ico");
            const bad = got.filter((q) => q.status !== 200);
            if (bad.length) throw h.fail(`page got HTTP errors: ${JSON.stringify(bad)}`);
            r.downloads = await downloads(server, got.map((q) => q.path));
          }
          log(`${side} cold start ${run + 1}/${COLD_RUNS}: ${round(c.ok.at - t0)} ms`);
          if (last) keep[side] = h;
          else await h.eval(() => window.__bench.disconnect(), undefined, { timeoutMs: 10_000 }).catch(() => {});
        } catch (e) {
          r.error = `cold start ${run + 1}: ${errText(e)}`;
          r.errorLog = clip(String(e?.message ?? e).split("--- page log").slice(1).join("") || "", 4000);
          log(`${side} FAILED: ${r.error}`);
        } finally {
          if (h && keep[side] !== h) await h.close();
        }
      }
    }

    // --- warm figures, one side at a time on its last connected page
    for (const side of SIDES) {
      const r = results[side];
      const h = keep[side];
      if (r.error || !h) continue;
      const step = async (what, n) => {
        const out = await h.eval(({ what, n }) => window.__bench.run(what, n), { what, n }, { timeoutMs: STEP_TIMEOUT_MS, what: `${side} ${what}(${n})` });
        if (out.error) throw h.fail(`${what}(${n}) failed: ${JSON.stringify(out.error)}`);
        return out.ok;
      };
      try {
        const warmup = await step("many", WARMUP_CALLS);
        r.firstCallMs = warmup[0];
        r.rtMs = await step("many", WARM_CALLS);
        log(`${side} warm round trip: median ${round(median(r.rtMs))} ms, p90 ${round(quantile(r.rtMs, 0.9))} ms`);
        r.seqMs = await step("seq", BATCH);
        log(`${side} ${BATCH} sequential: ${round(r.seqMs)} ms`);
        r.concMs = await step("conc", BATCH);
        log(`${side} ${BATCH} concurrent: ${round(r.concMs)} ms`);
        const errors = h.pageErrors();
        if (errors.length) throw h.fail(`uncaught page errors: ${errors.join("\n")}`);
      } catch (e) {
        r.error = `warm calls: ${errText(e)}`;
        r.errorLog = clip(String(e?.message ?? e).split("--- page log").slice(1).join("") || "", 4000);
        log(`${side} FAILED: ${r.error}`);
      }
      // Then a Marine service in the same page: what it costs to fetch, compile and call (ours
      // fetches the Marine runtime's wasm now; js-client loaded marine-js at start).
      try {
        if (r.error) throw new Error("skipped: warm calls failed");
        const from = server.requests.length;
        const m = await h.eval(({ url }) => window.__bench.marine(url), { url: "/fixtures/greeting.wasm" }, { timeoutMs: STEP_TIMEOUT_MS, what: `${side} marine` });
        if (m.error) throw h.fail(`marine: ${JSON.stringify(m.error)}`);
        r.marine = m.ok;
        const got = server.requests.slice(from).filter((q) => !q.path.startsWith("/fixtures/"));
        r.marineDownloads = await downloads(server, got.map((q) => q.path));
        log(`${side} marine: register ${round(m.ok.registerMs)} ms, first call ${round(m.ok.firstCallMs)} ms, +${r.marineDownloads.total.gzip} B gzip`);
      } catch (e) {
        r.marineError = errText(e);
        log(`${side} marine FAILED: ${r.marineError}`);
      } finally {
        await h.eval(() => window.__bench.disconnect(), undefined, { timeoutMs: 10_000 }).catch(() => {});
        await h.close();
      }
    }
    results.env = { chromium: browser.version(), node: NODE_BIN, relay: node.wsAddr };
  } catch (e) {
    results.fatal = String(e?.stack ?? e);
  } finally {
    await teardown({ server, dirs: cleanup });
  }
  return results;
}

// ------------------------------------------------------------------------------------------------
// Report

function report(res) {
  const o = res.ours;
  const j = res.jsclient;
  const figures = [];
  const fig = (name, unit, ours, js, target) => {
    const ratio = Number.isFinite(ours) && Number.isFinite(js) && js !== 0 ? ours / js : null;
    let met = null;
    if (target) met = target.check(ours, js, ratio);
    figures.push({ figure: name, unit, ours: round(ours, unit === "B" ? 0 : 1), jsclient: round(js, unit === "B" ? 0 : 1), ratio: round(ratio, 3), ...(target ? { target: target.text, met } : {}) });
  };
  const dl = (r, k) => r.downloads?.total?.[k] ?? NaN;
  const ok = (x) => Number.isFinite(x);
  fig("download_raw_total", "B", dl(o, "raw"), dl(j, "raw"));
  fig("download_gzip9_total", "B", dl(o, "gzip"), dl(j, "gzip"), {
    text: `ours ≤ ${TARGET_GZIP_BYTES / MB} MB gzip${o.release === false ? " (measured on a non-release build)" : ""}`,
    check: (ours) => (ok(ours) ? ours <= TARGET_GZIP_BYTES : null),
  });
  fig("download_brotli11_total", "B", dl(o, "brotli"), dl(j, "brotli"));
  fig("cold_start_median", "ms", median(o.coldMs ?? []), median(j.coldMs ?? []), {
    text: "ours ≤ ½ × js-client",
    check: (_, __, ratio) => (ratio === null ? null : ratio <= 0.5),
  });
  fig("cold_start_min", "ms", Math.min(...(o.coldMs?.length ? o.coldMs : [NaN])), Math.min(...(j.coldMs?.length ? j.coldMs : [NaN])));
  // The same moment measured inside the page from its navigation start (performance.now()):
  // without the browser-context and page creation the Node-side figure above includes.
  fig("cold_start_since_navigation_median", "ms", median(o.coldSinceNavMs ?? []), median(j.coldSinceNavMs ?? []), {
    text: "ours ≤ ½ × js-client",
    check: (_, __, ratio) => (ratio === null ? null : ratio <= 0.5),
  });
  fig("first_call", "ms", o.firstCallMs ?? NaN, j.firstCallMs ?? NaN);
  fig("warm_round_trip_median", "ms", median(o.rtMs ?? []), median(j.rtMs ?? []), {
    text: "ours ≤ js-client",
    check: (_, __, ratio) => (ratio === null ? null : ratio <= 1),
  });
  fig("warm_round_trip_p90", "ms", quantile(o.rtMs ?? [], 0.9), quantile(j.rtMs ?? [], 0.9));
  fig(`sequential_${BATCH}_total`, "ms", o.seqMs ?? NaN, j.seqMs ?? NaN);
  fig(`concurrent_${BATCH}_total`, "ms", o.concMs ?? NaN, j.concMs ?? NaN);
  const mdl = (r) => r.marineDownloads?.total?.gzip ?? NaN;
  fig("marine_extra_download_gzip9", "B", mdl(o), mdl(j));
  fig("download_gzip9_with_marine", "B", dl(o, "gzip") + mdl(o), dl(j, "gzip") + mdl(j));
  fig("marine_register", "ms", o.marine?.registerMs ?? NaN, j.marine?.registerMs ?? NaN);
  fig("marine_first_call", "ms", o.marine?.firstCallMs ?? NaN, j.marine?.firstCallMs ?? NaN);

  const out = [];
  const p = (s = "") => out.push(s);
  const pad = (s, n) => String(s).padStart(n);
  const padr = (s, n) => String(s).padEnd(n);
  const show = (x) => (x === null || x === undefined ? "—" : x.toLocaleString("en-US"));
  p(`bench:peer — ${LABEL.ours} vs ${LABEL.jsclient}, one headless Chromium ${res.env?.chromium ?? "?"}, relay lineage-node on loopback`);
  p(`  our wasm build: ${o.build ?? "(none)"}`);
  p(`  node: ${res.env?.node ?? NODE_BIN}`);
  p(`  cold runs ${COLD_RUNS}, warm calls ${WARM_CALLS} (after ${WARMUP_CALLS} warm-up calls), batch ${BATCH}`);
  p();
  for (const side of SIDES) {
    const d = res[side].downloads;
    p(`downloads, ${LABEL[side]}:`);
    if (!d) {
      p("  (not measured)");
      continue;
    }
    p(`  ${padr("file", 72)} ${pad("raw", 11)} ${pad("gzip -9", 11)} ${pad("brotli 11", 11)}`);
    for (const f of d.files) p(`  ${padr(f.path, 72)} ${pad(show(f.raw), 11)} ${pad(show(f.gzip), 11)} ${pad(show(f.brotli), 11)}`);
    p(`  ${padr("total", 72)} ${pad(show(d.total.raw), 11)} ${pad(show(d.total.gzip), 11)} ${pad(show(d.total.brotli), 11)}`);
    const m = res[side].marineDownloads;
    if (m) {
      p(`  then, on the first registerMarineService:`);
      if (!m.files.length) p("  (nothing more)");
      for (const f of m.files) p(`  ${padr(f.path, 72)} ${pad(show(f.raw), 11)} ${pad(show(f.gzip), 11)} ${pad(show(f.brotli), 11)}`);
    }
  }
  p();
  p(`${padr("figure", 28)} ${pad("unit", 4)} ${pad("ours", 12)} ${pad("js-client", 12)} ${pad("ours÷js", 8)}  target`);
  for (const f of figures) {
    const t = f.target ? `${f.target}: ${f.met === null ? "not measured" : f.met ? "MET" : "NOT MET"}` : "";
    p(`${padr(f.figure, 28)} ${pad(f.unit, 4)} ${pad(show(f.ours), 12)} ${pad(show(f.jsclient), 12)} ${pad(f.ratio ?? "—", 8)}  ${t}`);
  }
  p();
  for (const side of SIDES) {
    if (res[side].error) {
      p(`FAILED ${LABEL[side]}: ${res[side].error}`);
      if (res[side].errorLog) p(`  page log:${res[side].errorLog.replace(/\n/g, "\n    ")}`);
    }
    if (res[side].marineError) p(`FAILED ${LABEL[side]} (Marine service): ${res[side].marineError}`);
  }
  if (res.fatal) p(`FATAL: ${res.fatal}`);
  p();
  console.log(out.join("\n"));
  for (const f of figures) console.log(JSON.stringify({ bench: "peer", ...f }));
  for (const side of SIDES) {
    const r = res[side];
    console.log(
      JSON.stringify({
        bench: "peer",
        side,
        ok: !r.error,
        error: r.error ?? undefined,
        build: r.build,
        coldMs: r.coldMs?.map((x) => round(x)),
        coldSinceNavMs: r.coldSinceNavMs?.map((x) => round(x)),
        rtMs: r.rtMs?.map((x) => round(x, 2)),
        downloads: r.downloads?.files,
      }),
    );
  }
  return figures;
}

const res = await main();
report(res);
// js-client's figures are the baseline: without them the run failed; ours failing is reported above.
process.exitCode = res.fatal || res.jsclient.error ? 1 : 0;
setTimeout(() => process.exit(process.exitCode), 3_000).unref();
