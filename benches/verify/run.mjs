// In-browser verification of Lineage record histories: one record of N versions (N = 1, 100,
// 1000; meta contract mc_open) published on a real lineage-node, then verified in headless
// Chromium by our package, beside the anchor "just fetching the bytes" (the history as one CAR
// plus the module, from the node's gateway). Per N: the fetch, verifyHistory without replay
// (CIDs, hashes, signatures, links), verifyHistory with replay (the full check) and
// verifyMetadata end to end (lookup + fetch + verify + replay), timed with performance.now()
// inside the page. Prints a table, the target (1000 versions fully verified < 1 s) MET / NOT MET,
// where the time goes when it is not met (or with --profile), then one JSON line per figure.
// See README.md.
//
//   node benches/verify/run.mjs [--node-bin PATH] [--pkg DIR] [--sizes 1,100,1000] [--profile | --no-profile] [--cpuprofile DIR]
//     --node-bin  default $CARGO_TARGET_DIR/release/lineage-node if present, else …/debug/… (warned);
//                 the node only builds the histories: its build type does not enter the figures
//     --pkg       a package build dir (index.js + glue + wasm) served as /pkg/dist/ instead of
//                 pkg/dist (web-dev); e.g. PKG_OUT_DIR=/tmp/pkg-release bash scripts/build-pkg.sh release
//     --sizes     record lengths (default 1,100,1000); the target is judged on 1000
//     --profile   always profile the largest history; --no-profile never (default: when the target is missed)
//     --cpuprofile DIR  also write the V8 profiles there (full.cpuprofile, no-replay.cpuprofile; DevTools opens them)
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { accessSync, constants, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { cpus, homedir, loadavg } from "node:os";
import { dirname, join, resolve } from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";

import { startNode, teardown as stopInteropNodes } from "../../tests/interop/harness.mjs";
import * as B from "../../tests/browser/support.mjs";
import { bindContract, call, dagCbor, dataKey, ed25519Signer, gatewayGet, putModule, tokenKey } from "../../tests/metadata/support.mjs";

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = join(HERE, "..", "..");

// ------------------------------------------------------------------------------------------------
// Arguments

function usage(err) {
  if (err) process.stderr.write(`bench:verify: ${err}\n`);
  process.stderr.write("usage: node benches/verify/run.mjs [--node-bin PATH] [--pkg DIR] [--sizes 1,100,1000] [--profile | --no-profile] [--cpuprofile DIR]\n");
  process.exit(err ? 2 : 0);
}

function parseArgs(argv) {
  const o = { nodeBin: null, pkg: null, sizes: [1, 100, 1000], profile: "auto", cpuprofile: null };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const [flag, inline] = a.startsWith("--") && a.includes("=") ? [a.slice(0, a.indexOf("=")), a.slice(a.indexOf("=") + 1)] : [a, undefined];
    const val = () => {
      if (inline !== undefined) return inline;
      const v = argv[++i];
      if (v === undefined) usage(`${flag} needs a value`);
      return v;
    };
    if (flag === "--node-bin") o.nodeBin = val();
    else if (flag === "--pkg") o.pkg = val();
    else if (flag === "--sizes") o.sizes = val().split(",").map((s) => Number(s.trim()));
    else if (flag === "--profile") o.profile = "always";
    else if (flag === "--no-profile") o.profile = "never";
    else if (flag === "--cpuprofile") o.cpuprofile = val();
    else if (flag === "-h" || flag === "--help") usage();
    else usage(`unknown argument ${a}`);
  }
  if (!o.sizes.length || !o.sizes.every((n) => Number.isInteger(n) && n >= 1 && n <= 10_000)) usage("--sizes takes integers in 1..10000");
  o.sizes = [...new Set(o.sizes)].sort((a, b) => a - b);
  return o;
}

const opts = parseArgs(process.argv.slice(2));
const log = (s) => process.stderr.write(`[bench:verify] ${s}\n`);

const TARGET_DIR = process.env.CARGO_TARGET_DIR || join(homedir(), ".cache", "lineage-edge", "target");
const RELEASE_NODE = join(TARGET_DIR, "release", "lineage-node");
const DEBUG_NODE = join(TARGET_DIR, "debug", "lineage-node");
const executable = (p) => {
  try {
    accessSync(p, constants.X_OK);
    return true;
  } catch {
    return false;
  }
};

/** Node binaries to try, in order: the one given, or release (if present) then debug. */
function nodeCandidates() {
  if (opts.nodeBin) {
    if (!executable(opts.nodeBin)) {
      process.stderr.write(`bench:verify: --node-bin ${opts.nodeBin} is not an executable file\n`);
      process.exit(1);
    }
    return [{ bin: resolve(opts.nodeBin), explicit: true }];
  }
  const c = [];
  if (executable(RELEASE_NODE)) c.push({ bin: RELEASE_NODE, explicit: false });
  if (executable(DEBUG_NODE)) c.push({ bin: DEBUG_NODE, explicit: false });
  if (!c.length) {
    process.stderr.write(
      `bench:verify: no lineage-node at ${RELEASE_NODE} or ${DEBUG_NODE}.\n` +
        `Build one (export ROOT=$PWD && source scripts/env.sh && cargo build -p lineage-node --locked) or pass --node-bin PATH.\n`,
    );
    process.exit(1);
  }
  return c;
}

// The package the page loads: pkg/dist (web-dev, what `bash scripts/build-pkg.sh` builds) or --pkg.
const PKG_DIR = resolve(opts.pkg ?? join(ROOT, "pkg", "dist"));
const PKG_FILES = ["index.js", "lineage_marine.js", "lineage_marine_bg.wasm", "lineage_web.js", "lineage_web_bg.wasm"];
{
  const miss = PKG_FILES.filter((f) => !existsSync(join(PKG_DIR, f)));
  if (miss.length) {
    process.stderr.write(
      `bench:verify: ${PKG_DIR} lacks ${miss.join(", ")}.\n` +
        (opts.pkg ? "Build a release package with: PKG_OUT_DIR=/tmp/pkg-release bash scripts/build-pkg.sh release\n" : "Build the package with: bash scripts/build-pkg.sh\n"),
    );
    process.exit(1);
  }
  const miss2 = B.missingArtifacts().filter((m) => !m.startsWith("pkg/dist") && !m.startsWith("lineage-node"));
  if (miss2.length) {
    process.stderr.write(`bench:verify: missing:\n  - ${miss2.join("\n  - ")}\n`);
    process.exit(1);
  }
}

/** What the package build looks like: wasm-opt (release) drops the name section, web-dev keeps it. */
function describePkg() {
  const wasm = readFileSync(join(PKG_DIR, "lineage_marine_bg.wasm"));
  const names = WebAssembly.Module.customSections(new WebAssembly.Module(wasm), "name").length > 0;
  const kind = names ? "web-dev-like (has a name section: not wasm-opt'd)" : "web-release-like (no name section: wasm-opt'd)";
  const where = opts.pkg ? `${PKG_DIR} (--pkg)` : `${PKG_DIR} (default: the web-dev build in pkg/dist; pass --pkg DIR for a release build)`;
  const st = statSync(join(PKG_DIR, "lineage_marine_bg.wasm"));
  return {
    names,
    kind,
    line: `${where}\n                lineage_marine_bg.wasm ${(wasm.length / 1e6).toFixed(2)} MB, sha256 ${createHash("sha256").update(wasm).digest("hex").slice(0, 16)}…, ${st.mtime.toISOString().slice(0, 19)}Z → ${kind}`,
    json: { dir: PKG_DIR, given: !!opts.pkg, marine_wasm_bytes: wasm.length, marine_wasm_sha256: createHash("sha256").update(wasm).digest("hex"), name_section: names, build: names ? "web-dev" : "web-release" },
  };
}

// ------------------------------------------------------------------------------------------------
// The workload (as crates/metadata/benches/history.rs): one collection, mc_open bound as "open",
// one Ed25519 signer; the record of N versions is token id N, each version's prev the last cid.

const CHAIN = "80001";
const ADDR = "0x0692f233614802D06e86CBDE6b5D090A9F5d3c10";
const MC = "open";
const VERSION = "v1";
const RUNS = (n) => (n >= 1000 ? 5 : 7); // measured runs, after one warm-up run

const firstCid = (r) => JSON.parse(r.receipt.data).cids[0];

async function publishVersion(url, signer, tokenId, i, prev) {
  const req = await signer.sign({
    method: "metadata",
    meta_contract_id: MC,
    chain_id: CHAIN,
    token_address: ADDR,
    token_id: tokenId,
    alias: "",
    version: VERSION,
    data: JSON.stringify({ name: `token ${tokenId}`, description: "a version of a record", version: i }),
    mcdata: '{"loose":0}',
    prev,
  });
  const r = await call(url, "publish", req);
  if (!r.success || r.receipt?.status !== 1) throw new Error(`publish of version ${i} of token ${tokenId} refused: ${JSON.stringify(r).slice(0, 400)}`);
  return firstCid(r);
}

/**
 * Starts a node, uploads and binds mc_open, and checks with one probe version that the node
 * records the meta contract's inputs in its blocks (replay needs them; a node built before they
 * were recorded writes blocks without `inputs`). Returns { node, url, signer, moduleCid } or
 * { stale: reason } (the node is then stopped).
 */
async function startWorkloadNode(bin) {
  const node = await startNode({ bin, args: ["--log", "warn"], readyTimeoutMs: 60_000 });
  if (!node.httpUrl) {
    await node.stop(1_000);
    throw new Error(`${bin} printed no "http: …" line:\n${node.stdout()}`);
  }
  const url = node.httpUrl;
  const signer = ed25519Signer(Buffer.alloc(32, 7));
  const moduleCid = await putModule(url, "mc_open");
  const bound = await bindContract(url, signer, { id: MC, cid: moduleCid, chainId: CHAIN, tokenAddress: ADDR });
  if (!bound.success) throw new Error(`binding mc_open failed: ${JSON.stringify(bound)}`);
  const probe = await publishVersion(url, signer, "probe", 0, "");
  const got = await gatewayGet(url, `/ipfs/${probe}?format=raw`);
  if (got.status !== 200) throw new Error(`GET /ipfs/${probe}?format=raw: HTTP ${got.status}`);
  const block = dagCbor.decode(got.bytes);
  if (!block.inputs) {
    await node.stop();
    return { stale: `its blocks carry no meta-contract \`inputs\` (a build older than the replay support; ${statSync(bin).mtime.toISOString().slice(0, 19)}Z), so no history it writes can be replayed` };
  }
  return { node, url, signer, moduleCid, probe };
}

/** Publishes the record of `n` versions (token id `n`); returns { head, ms, blockBytes }. */
async function buildHistory(url, signer, n) {
  const tokenId = String(n);
  let prev = "";
  const t0 = performance.now();
  let tLast = t0;
  for (let i = 0; i < n; i++) {
    prev = await publishVersion(url, signer, tokenId, i, prev);
    if ((i + 1) % 100 === 0 || i + 1 === n) {
      const now = performance.now();
      if (n >= 100) log(`  N=${n}: ${i + 1}/${n} versions published (${((now - t0) / 1000).toFixed(1)} s; last ${(i + 1) % 100 === 0 ? 100 : (i + 1) % 100} at ${((now - tLast) / ((i + 1) % 100 === 0 ? 100 : (i + 1) % 100)).toFixed(1)} ms each)`);
      tLast = now;
    }
  }
  const ms = performance.now() - t0;
  const head = (await gatewayGet(url, `/ipfs/${prev}?format=raw`)).bytes;
  return { head: prev, ms, blockBytes: head.length, tokenId };
}

// ------------------------------------------------------------------------------------------------
// In the page

/** Loads a second instance of the package's Marine glue (for carBlocks and the profiling parts). */
async function pageSetup(page) {
  await page.eval(
    async () => {
      const g = await import(`${location.origin}/pkg/dist/lineage_marine.js`);
      await g.default();
      window.__glue = g;
      return true;
    },
    undefined,
    { what: "load the Marine glue", timeoutMs: 60_000 },
  );
}

/**
 * One run in the page: fetch (CAR + module: the anchor), split the CAR, verifyHistory without and
 * with replay, verifyMetadata. Returns the times (ms, performance.now()) and what was checked.
 */
function pageRun(page, arg) {
  return page.eval(
    async ({ gateway, head, moduleCid, record, n }) => {
      const lib = window.lab.lib;
      const glue = window.__glue;
      const get = async (url) => {
        const res = await fetch(url, { cache: "no-store" });
        if (!res.ok) throw new Error(`${url}: HTTP ${res.status}`);
        return new Uint8Array(await res.arrayBuffer());
      };
      const fail = (what) => {
        throw new Error(`N=${n}: ${what}`);
      };
      try {
        const t0 = performance.now();
        const car = await get(`${gateway}/ipfs/${head}?format=car`);
        const mod = await get(`${gateway}/ipfs/${moduleCid}?format=raw`);
        const t1 = performance.now();
        const blocks = new Map(glue.carBlocks(car));
        blocks.set(moduleCid, mod);
        const t2 = performance.now();
        const quick = await lib.verifyHistory(head, blocks, { replay: false });
        const t3 = performance.now();
        const full = await lib.verifyHistory(head, blocks);
        const t4 = performance.now();
        const meta = await lib.verifyMetadata({ gateway, ...record });
        const t5 = performance.now();
        if (blocks.size !== n + 1) fail(`the CAR holds ${blocks.size - 1} blocks, not ${n}`);
        if (quick.head !== head || quick.versions.length !== n || quick.versions.some((v) => v.replayed)) fail("verifyHistory({replay: false}) report is off");
        if (full.head !== head || full.versions.length !== n || !full.versions.every((v) => v.replayed)) fail("verifyHistory report is off (not every version replayed)");
        if (full.versions[0].content.version !== n - 1 || full.versions[n - 1].content.version !== 0) fail("versions out of order");
        if (meta.cid !== head || meta.versions.length !== n || !meta.versions.every((v) => v.replayed)) fail(`verifyMetadata verified ${meta.cid} (${meta.versions.length} versions)`);
        return {
          ok: { fetch: t1 - t0, split: t2 - t1, quick: t3 - t2, full: t4 - t3, meta: t5 - t4, carBytes: car.length, moduleBytes: mod.length },
        };
      } catch (e) {
        return { error: { code: e?.code, index: e?.index, message: String(e?.message ?? e) } };
      }
    },
    arg,
    { what: `verification run, N=${arg.n}`, timeoutMs: 300_000 },
  );
}

/**
 * Where the time goes, on the largest history, in the page (second glue instance, same wasm):
 * the parts of verifyHistory timed apart, then a V8 sampling profile of one full verification.
 */
function pageParts(page, arg) {
  return page.eval(
    async ({ gateway, head, moduleCid, missingCid, argsJson, clockNs, reps }) => {
      const lib = window.lab.lib;
      const g = window.__glue;
      const now = () => performance.now();
      const med = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
      const get = async (url) => new Uint8Array(await (await fetch(url, { cache: "no-store" })).arrayBuffer());
      const car = await get(`${gateway}/ipfs/${head}?format=car`);
      const mod = await get(`${gateway}/ipfs/${moduleCid}?format=raw`);
      const blocks = new Map(g.carBlocks(car));
      blocks.set(moduleCid, mod);
      const n = blocks.size - 1;
      const expectThrow = (f, code) => {
        try {
          f();
        } catch (e) {
          if (code && e?.code !== code) throw new Error(`expected ${code}, got ${e?.code}: ${e?.message}`);
          return;
        }
        throw new Error(`expected ${code} to be thrown`);
      };
      const timeMed = (k, f) => {
        const xs = [];
        for (let i = 0; i < k; i++) {
          const t = now();
          f();
          xs.push(now() - t);
        }
        return med(xs);
      };
      const out = { n, reps };

      // 1. The JS wrapper's own work: Map copy into a fresh Map (lib.verifyHistory's loop).
      out.jsMapCopyMs = timeMed(reps.big, () => {
        const m = new Map();
        for (const [c, b] of blocks) {
          if (!(b instanceof Uint8Array)) throw new Error("not bytes");
          m.set(String(c), b);
        }
      });
      // 2. Into the wasm: the Map → HashMap copy (every block to_vec), then "missing head".
      out.copyInMs = timeMed(reps.big, () => expectThrow(() => g.verifyHistory(missingCid, blocks, { replay: false }), "HISTORY_INVALID"));
      // 3. The glue's verifyHistory alone, without replay, returning the report's JSON string;
      //    then JSON.parse of that string (the report crossing the boundary).
      let json = "";
      out.rawQuickMs = timeMed(reps.big, () => (json = g.verifyHistory(head, blocks, { replay: false })));
      out.reportChars = json.length;
      out.jsonParseMs = timeMed(reps.big, () => JSON.parse(json));
      // 4. The same with replay (and, for comparison, the package's verifyHistory around it).
      out.rawFullMs = timeMed(reps.full, () => g.verifyHistory(head, blocks, {}));
      const pkgFull = [];
      for (let i = 0; i < reps.full; i++) {
        const t = now();
        await lib.verifyHistory(head, blocks);
        pkgFull.push(now() - t);
      }
      out.pkgFullMs = med(pkgFull);
      // 5. Ed25519 strong-mode check + transaction hash of every version (checkSignature: the
      //    request's JSON parsed in the wasm, canonical bytes, sha256, verify_strict).
      const report = JSON.parse(json);
      const reqs = report.versions.map(({ transaction: t }) =>
        JSON.stringify({
          method: t.method, meta_contract_id: t.meta_contract_id, chain_id: t.chain_id, token_address: t.token_address, token_id: t.token_id,
          alias: t.alias, version: t.version, mcdata: t.mcdata, data: t.data, prev: t.prev, timestamp: t.timestamp, public_key: t.public_key, signature: t.signature,
        }),
      );
      out.ed25519AllMs = timeMed(reps.big, () => {
        for (const r of reqs) g.checkSignature(r);
      });
      // 6. sha2-256 of the module (replay hashes it once per version): a history whose head is the
      //    module's raw CID fails after hashing it (codec is not dag-cbor); minus a missing head.
      const onlyMod = new Map([[moduleCid, mod]]);
      const modRuns = reps.small * 5;
      out.moduleHashAndCopyUs = (timeMed(reps.big, () => {
        for (let i = 0; i < modRuns; i++) expectThrow(() => g.verifyHistory(moduleCid, onlyMod, { replay: false }), "HISTORY_INVALID");
      }) / modRuns) * 1000;
      out.moduleCopyOnlyUs = (timeMed(reps.big, () => {
        for (let i = 0; i < modRuns; i++) expectThrow(() => g.verifyHistory(missingCid, onlyMod, { replay: false }), "HISTORY_INVALID");
      }) / modRuns) * 1000;
      // 7. wasmi: loading mc_open as a Marine service (parse, validate, translate, instantiate,
      //    Marine init) — replay does this for every version — and load + one on_execute call.
      const svcOpts = { fuelPerCall: 50_000_000, memoryBytes: 64 * 1024 * 1024, deterministicClockNs: clockNs, seed: new Uint8Array(32) };
      const load = () => new g.MarineService([{ name: "meta_contract", wasm: mod }], svcOpts);
      load().free();
      out.loadUs = timeMed(reps.small, () => load().free()) * 1000;
      let callOut = "";
      out.loadCallUs = timeMed(reps.small, () => {
        const s = load();
        callOut = s.callJson("on_execute", argsJson);
        s.free();
      }) * 1000;
      const parsed = JSON.parse(callOut);
      out.callResultOk = parsed?.result === true;
      return out;
    },
    arg,
    { what: "profiling parts", timeoutMs: 600_000 },
  );
}

// ------------------------------------------------------------------------------------------------
// V8 sampling profile (CDP) of one full verification: self and inclusive time per function.

function demangle(name) {
  if (!name) return "(anonymous)";
  let s = name;
  if (s.startsWith("_ZN")) {
    const parts = [];
    let i = 3;
    while (i < s.length && s[i] !== "E") {
      let j = i;
      while (j < s.length && s[j] >= "0" && s[j] <= "9") j++;
      if (j === i) break;
      const len = Number(s.slice(i, j));
      parts.push(s.slice(j, j + len));
      i = j + len;
    }
    if (parts.length && /^h[0-9a-f]{16}$/.test(parts[parts.length - 1])) parts.pop();
    s = parts.join("::");
  }
  s = s
    .replace(/\$LT\$/g, "<").replace(/\$GT\$/g, ">").replace(/\$RF\$/g, "&").replace(/\$BP\$/g, "*").replace(/\$C\$/g, ",")
    .replace(/\$u20\$/g, " ").replace(/\$u27\$/g, "'").replace(/\$u7b\$/g, "{").replace(/\$u7d\$/g, "}").replace(/\$u5b\$/g, "[").replace(/\$u5d\$/g, "]")
    .replace(/\.\./g, "::")
    .replace(/::h[0-9a-f]{16}$/, "");
  return s;
}

// Categories by function name (first match wins), for self time.
const CATEGORIES = [
  ["wasmi: compile (parse, validate, translate to wasmi IR, instantiate)", /wasmparser|wasmi_ir|wasmi::(module|engine::translator|engine::func_builder|engine::code_map|linker|instance|store|engine::config)|wasmi::engine::Engine.*translate|FuncTranslator|ModuleParser|ModuleBuilder|Validator|lineage_marine::.*load|ValType|FuncType/],
  ["wasmi: execute", /wasmi::engine::executor|wasmi::engine::(stack|regmach)|Executor|wasmi::func|execute_/],
  ["wasmi: instance memory (allocating, zeroing, data segments)", /wasmi_core::memory|wasmi::memory|ByteBuffer/],
  ["wasmi: other", /wasmi/],
  ["Marine interface (lilo: lowering args, lifting results)", /lineage_marine::(lilo|adapter)/],
  ["ed25519 / curve25519", /curve25519|ed25519|EdwardsPoint|FieldElement|Scalar52|Scalar|montgomery|RistrettoPoint/],
  ["sha2", /sha2|Sha256|compress256|sha256/],
  ["dag-cbor", /serde_ipld_dagcbor|cbor4ii|cbor/],
  ["serde_json", /serde_json/],
  ["base58 / base32 / CID", /bs58|base_x|multibase|data_encoding|base32|unsigned_varint|multihash|cid::/],
  ["memcpy / alloc", /memcpy|memmove|memset|memcmp|dlmalloc|__rust_alloc|__rust_dealloc|__rust_realloc|alloc::raw_vec|alloc::alloc|RawVec|finish_grow|<alloc::vec::Vec|alloc::vec::Vec|hashbrown/],
];

function analyzeProfile(profile) {
  const byId = new Map(profile.nodes.map((nd) => [nd.id, nd]));
  const parent = new Map();
  for (const nd of profile.nodes) for (const c of nd.children ?? []) parent.set(c, nd.id);
  const isWasm = (nd) => {
    const { url = "", functionName = "" } = nd.callFrame;
    return url.startsWith("wasm://") || /\.wasm($|[?#])/.test(url) || (!url && functionName.includes("::")) || /^\$?func\d+$|^wasm-function\[/.test(functionName);
  };
  const nameOf = (nd) => {
    const cf = nd.callFrame;
    if (isWasm(nd)) return demangle(cf.functionName);
    if (!cf.url && /^\(.*\)$/.test(cf.functionName)) return cf.functionName; // (program), (garbage collector), (idle)
    return `${cf.functionName || "(anonymous)"} [js]`;
  };
  const self = new Map();
  const incl = new Map();
  const cat = new Map();
  // Top-down tree merged by name, from the wasm entry (verifyHistory's glue) down.
  const tree = { name: "(root)", ms: 0, kids: new Map() };
  // The one-call glue function, or the HistoryVerifier steps the package calls.
  const ROOT_RE = /verify_history_js|HistoryVerifier::(check|replay)|historyverifier_(check|replay)/;
  let total = 0;
  const deltas = profile.timeDeltas ?? [];
  for (let i = 0; i < profile.samples.length; i++) {
    const dt = (deltas[i + 1] ?? deltas[i] ?? 0) / 1000; // µs → ms; a sample's time runs to the next
    const leaf = byId.get(profile.samples[i]);
    if (!leaf) continue;
    const leafName = nameOf(leaf);
    if (leafName === "(idle)") continue;
    total += dt;
    self.set(leafName, (self.get(leafName) ?? 0) + dt);
    let c = "other";
    if (leafName === "(garbage collector)") c = "GC";
    else if (leafName === "(program)") c = "(program)";
    else if (!isWasm(leaf)) c = "JavaScript (glue, report objects)";
    else {
      c = "other wasm";
      for (const [label, re] of CATEGORIES) if (re.test(leafName)) {
        c = label;
        break;
      }
    }
    cat.set(c, (cat.get(c) ?? 0) + dt);
    const stack = [];
    for (let id = leaf.id; id !== undefined; id = parent.get(id)) stack.push(nameOf(byId.get(id)));
    for (const nm of new Set(stack)) incl.set(nm, (incl.get(nm) ?? 0) + dt);
    stack.reverse();
    const at = stack.findIndex((nm) => ROOT_RE.test(nm));
    if (at >= 0) {
      let t = tree;
      tree.ms += dt;
      let last = null;
      for (const nm of stack.slice(at)) {
        if (nm === last) continue; // direct recursion folded
        last = nm;
        let k = t.kids.get(nm);
        if (!k) t.kids.set(nm, (k = { name: nm, ms: 0, kids: new Map() }));
        k.ms += dt;
        t = k;
      }
    }
  }
  const sorted = (m) => [...m].sort((a, b) => b[1] - a[1]);
  return { total, self: sorted(self), incl: sorted(incl), cat: sorted(cat), tree };
}

/**
 * The merged top-down tree as lines: children of at least `minFrac` of the total, chains where a
 * child carries ≥ 97% of its parent joined with " → ", at most `maxDepth` levels.
 */
function treeLines(tree, total, { minFrac = 0.03, maxDepth = 8 } = {}) {
  const lines = [];
  const visit = (node, depth) => {
    if (depth > maxDepth) return;
    const kids = [...node.kids.values()].filter((k) => k.ms >= total * minFrac).sort((a, b) => b.ms - a.ms);
    for (const k of kids) {
      const chain = [k.name];
      let cur = k;
      for (;;) {
        const big = [...cur.kids.values()].sort((a, b) => b.ms - a.ms)[0];
        if (!big || big.ms < cur.ms * 0.97) break;
        chain.push(big.name);
        cur = big;
      }
      lines.push(`${((k.ms / total) * 100).toFixed(1).padStart(5)}%  ${fmtMs(k.ms).padStart(9)}  ${"  ".repeat(depth)}${chain.map((c) => clipName(c, 70)).join(" → ")}`);
      visit(cur, depth + 1);
    }
  };
  visit(tree, 0);
  return lines;
}

async function profileFull(page, session, arg) {
  await session.send("Profiler.enable");
  await session.send("Profiler.setSamplingInterval", { interval: 200 });
  // The blocks are prepared in the page first, so that only verifyHistory is sampled.
  await page.eval(
    async ({ gateway, head, moduleCid }) => {
      const get = async (url) => new Uint8Array(await (await fetch(url, { cache: "no-store" })).arrayBuffer());
      const blocks = new Map(window.__glue.carBlocks(await get(`${gateway}/ipfs/${head}?format=car`)));
      blocks.set(moduleCid, await get(`${gateway}/ipfs/${moduleCid}?format=raw`));
      window.__profBlocks = blocks;
      return true;
    },
    arg,
    { what: "profile setup", timeoutMs: 120_000 },
  );
  const runIt = (replay) =>
    page.eval(
      async ({ head, replay }) => {
        const t = performance.now();
        await window.lab.lib.verifyHistory(head, window.__profBlocks, replay ? {} : { replay: false });
        return performance.now() - t;
      },
      { head: arg.head, replay },
      { what: "profiled verifyHistory", timeoutMs: 300_000 },
    );
  const out = {};
  for (const replay of [true, false]) {
    await session.send("Profiler.start");
    const ms = await runIt(replay);
    const { profile } = await session.send("Profiler.stop");
    out[replay ? "full" : "quick"] = { ms, ...analyzeProfile(profile) };
    if (opts.cpuprofile) {
      mkdirSync(opts.cpuprofile, { recursive: true });
      writeFileSync(join(opts.cpuprofile, replay ? "full.cpuprofile" : "no-replay.cpuprofile"), JSON.stringify(profile));
    }
  }
  await session.send("Profiler.disable");
  await page.eval(() => {
    delete window.__profBlocks;
    return true;
  });
  return out;
}

// ------------------------------------------------------------------------------------------------
// Statistics and printing

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const stats = (xs) => ({ median: median(xs), min: Math.min(...xs), max: Math.max(...xs) });
const r3 = (x) => (x == null || Number.isNaN(x) ? null : Number(x.toFixed(3)));
const fmtMs = (x) => (x == null ? "-" : x >= 1000 ? `${(x / 1000).toFixed(2)} s` : x >= 100 ? `${x.toFixed(0)} ms` : x >= 10 ? `${x.toFixed(1)} ms` : `${x.toFixed(2)} ms`);
const fmtUs = (ms) => (ms == null ? "-" : ms >= 1 ? `${ms.toFixed(2)} ms` : `${(ms * 1000).toFixed(0)} µs`);
const fmtX = (x) => (x == null ? "-" : x >= 100 ? `${x.toFixed(0)}×` : x >= 10 ? `${x.toFixed(1)}×` : `${x.toFixed(2)}×`);

function gitDescribe() {
  try {
    const head = execFileSync("git", ["-C", ROOT, "rev-parse", "--short", "HEAD"]).toString().trim();
    const dirty = execFileSync("git", ["-C", ROOT, "status", "--porcelain", "--untracked-files=no"]).toString().trim() ? "+dirty" : "";
    return head + dirty;
  } catch {
    return "?";
  }
}

function chromiumVersion(browser) {
  try {
    return browser.version();
  } catch {
    return "?";
  }
}

// ------------------------------------------------------------------------------------------------

async function main() {
  const t00 = performance.now();
  const pkg = describePkg();
  const load0 = loadavg();

  // --- the node, and the histories ---
  let w = null;
  let nodeBin = null;
  const nodeNotes = [];
  for (const cand of nodeCandidates()) {
    log(`starting ${cand.bin}`);
    const got = await startWorkloadNode(cand.bin);
    if (got.stale) {
      const msg = `${cand.bin}: ${got.stale}`;
      if (cand.explicit) throw Object.assign(new Error(`${msg}; rebuild it (cargo build [--release] -p lineage-node --locked) or pass another --node-bin`), { plain: true });
      log(`WARNING: ${msg}; trying the next binary`);
      nodeNotes.push(`skipped ${cand.bin}: ${got.stale}`);
      continue;
    }
    w = got;
    nodeBin = cand.bin;
    break;
  }
  if (!w) throw new Error(`no usable lineage-node: ${nodeNotes.join("; ")}; rebuild with: cargo build -p lineage-node --locked`);
  if (/\/debug\//.test(nodeBin)) {
    const msg = `using a debug lineage-node (${nodeBin}): publishing is slower; verifyHistory figures are unaffected, "fetch" and verifyMetadata include its (slower) serving of the CAR`;
    log(`WARNING: ${msg}`);
    nodeNotes.push(msg);
  }

  const histories = [];
  for (const n of opts.sizes) {
    log(`building the record of ${n} version${n > 1 ? "s" : ""} (token ${n})`);
    const h = await buildHistory(w.url, w.signer, n);
    histories.push({ n, ...h });
    log(`  N=${n}: head ${h.head}, built in ${(h.ms / 1000).toFixed(1)} s (${(h.ms / n).toFixed(1)} ms/version)`);
  }
  const record = (h) => ({ chainId: CHAIN, tokenAddress: ADDR, tokenId: h.tokenId, metaContractId: MC, publicKey: w.signer.publicKey, alias: "", version: VERSION });

  // --- the browser ---
  const server = await B.startServer({ mounts: opts.pkg ? { "/pkg/dist/": PKG_DIR } : {} });
  const browser = await B.launchBrowser();
  const page = await B.openPage(browser, server.url(`${B.PAGES}/lab.html`), { label: "bench:verify", waitFor: "__labReady", timeoutMs: 60_000 });
  const session = await page.context.newCDPSession(page.page);
  // Every run fetches over the network, as a first visit would (the gateway's /ipfs replies are cacheable).
  await session.send("Network.enable");
  await session.send("Network.setCacheDisabled", { cacheDisabled: true });
  await pageSetup(page);
  const browserVersion = chromiumVersion(browser);

  // V8 compiles the wasm with its baseline tier first and optimizes hot functions later: one full
  // verification of a mid-sized history first, so that the N = 1 figures are not the tier-up's.
  {
    const h = [...histories].reverse().find((x) => x.n <= 100) ?? histories[0];
    log(`tier-up warm-up: one run on N=${h.n}`);
    const r = await pageRun(page, { gateway: w.url, head: h.head, moduleCid: w.moduleCid, record: record(h), n: h.n });
    if (r.error) throw page.fail(`warm-up on N=${h.n}: ${JSON.stringify(r.error)}`);
  }

  const results = [];
  for (const h of histories) {
    const runs = RUNS(h.n);
    log(`N=${h.n}: 1 warm-up + ${runs} runs in Chromium`);
    const arg = { gateway: w.url, head: h.head, moduleCid: w.moduleCid, record: record(h), n: h.n };
    const samples = [];
    for (let i = 0; i <= runs; i++) {
      const r = await pageRun(page, arg);
      if (r.error) throw page.fail(`N=${h.n} run ${i}: ${JSON.stringify(r.error)}`);
      if (i > 0) samples.push(r.ok);
      log(`  N=${h.n} ${i === 0 ? "warm-up" : `run ${i}/${runs}`}: fetch ${fmtMs(r.ok.fetch)}, verify(no replay) ${fmtMs(r.ok.quick)}, verify(full) ${fmtMs(r.ok.full)}, verifyMetadata ${fmtMs(r.ok.meta)}`);
    }
    const col = (k) => samples.map((s) => s[k]);
    const res = {
      n: h.n,
      runs,
      carBytes: samples[0].carBytes,
      moduleBytes: samples[0].moduleBytes,
      blockBytes: h.blockBytes,
      buildMs: h.ms,
      fetch: stats(col("fetch")),
      split: stats(col("split")),
      quick: stats(col("quick")),
      full: stats(col("full")),
      meta: stats(col("meta")),
      replayPerVersion: median(samples.map((s) => (s.full - s.quick) / h.n)),
      ratio: {
        quick: median(samples.map((s) => s.quick / s.fetch)),
        full: median(samples.map((s) => s.full / s.fetch)),
        meta: median(samples.map((s) => s.meta / s.fetch)),
      },
      samples,
    };
    results.push(res);
  }

  // --- the target, and where the time goes ---
  const TARGET_N = 1000;
  const TARGET_MS = 1000;
  const targetRow = results.find((r) => r.n === TARGET_N);
  const met = targetRow ? targetRow.full.median < TARGET_MS : null;
  const big = results[results.length - 1];
  const bigHist = histories[histories.length - 1];
  let parts = null;
  let prof = null;
  if (opts.profile === "always" || (opts.profile === "auto" && met === false)) {
    log(`profiling verification of N=${big.n} in the page`);
    const headBlock = dagCbor.decode((await gatewayGet(w.url, `/ipfs/${bigHist.head}?format=raw`)).bytes);
    const t = headBlock.transaction;
    const inp = headBlock.inputs;
    // The arguments replay passes to on_execute (lineage_metadata::contract::on_execute).
    const argsJson = JSON.stringify([
      { hash: inp.contract.hash, token_key: inp.contract.token_key, meta_contract_id: inp.contract.meta_contract_id, public_key: inp.contract.public_key, cid: inp.contract.cid },
      inp.metadatas.map((m) => ({ hash: m.hash, token_key: m.token_key, data_key: m.data_key, meta_contract_id: m.meta_contract_id, token_id: m.token_id, alias: m.alias, cid: m.cid, public_key: m.public_key, version: m.version, loose: m.loose })),
      {
        hash: t.hash, method: t.method, meta_contract_id: t.meta_contract_id, data_key: dataKey(t.chain_id, t.token_address, t.token_id), token_key: tokenKey(t.chain_id, t.token_address),
        data: t.data, public_key: t.public_key, alias: t.alias, timestamp: t.timestamp, chain_id: t.chain_id, token_address: t.token_address, token_id: t.token_id, version: t.version, status: 1, mcdata: t.mcdata,
      },
    ]);
    parts = await pageParts(page, {
      gateway: w.url,
      head: bigHist.head,
      moduleCid: w.moduleCid,
      missingCid: w.probe, // a dag-cbor CID not among the history's blocks
      argsJson,
      clockNs: Number(t.timestamp) * 1e6,
      reps: { big: 5, full: 3, small: 20 },
    });
    if (!parts.callResultOk) log("WARNING: on_execute on the page did not return result: true");
    // Without a name section (wasm-opt'd release build) a V8 profile is only "wasm-function[N]".
    if (pkg.names) prof = await profileFull(page, session, { gateway: w.url, head: bigHist.head, moduleCid: w.moduleCid });
  }

  await page.close();
  await browser.close();
  await server.close();
  const nodeStop = await w.node.stop();
  const load1 = loadavg();

  // --- print ---
  const out = [];
  out.push(`In-browser verification of Lineage record histories (headless Chromium; meta contract mc_open, Ed25519 strong mode)`);
  out.push(`  package       ${pkg.line}`);
  out.push(`  browser       Chromium ${browserVersion} (${B.CHROMIUM}); HTTP cache disabled (CDP), every fetch goes to the gateway`);
  out.push(`  node          ${nodeBin} (builds the histories; its gateway's serving time is inside "fetch" and verifyMetadata, not inside verifyHistory)`);
  for (const nn of nodeNotes) out.push(`                ${nn}`);
  out.push(`  gateway       ${w.url} (loopback; CORS); module ${w.moduleCid}`);
  out.push(`  commit        ${gitDescribe()}   node ${process.version}   ${cpus().length} CPUs (${cpus()[0]?.model ?? "?"})   load avg ${load0.map((x) => x.toFixed(2)).join(" ")} → ${load1.map((x) => x.toFixed(2)).join(" ")}`);
  out.push(`  runs          one tier-up warm-up run (N ≤ 100), then per N 1 warm-up + 7 runs (N ≤ 100) / 5 runs (N ≥ 1000); performance.now() in the page; medians unless said`);
  out.push(`  histories     ${histories.map((h) => `N=${h.n}: ${(h.ms / 1000).toFixed(1)} s to publish (${(h.ms / h.n).toFixed(1)} ms/version), head block ${h.blockBytes} B`).join("; ")}`);
  out.push("");
  const cols = [
    ["versions", 8, (r) => r.n],
    ["CAR", 9, (r) => `${(r.carBytes / 1024).toFixed(1)} KiB`],
    ["fetch (anchor)", 26, (r) => span(r.fetch)],
    ["verify, replay:false", 26, (r) => span(r.quick)],
    ["verify, full (replay)", 26, (r) => span(r.full)],
    ["verifyMetadata (e2e)", 26, (r) => span(r.meta)],
  ];
  const span = (s) => `${fmtMs(s.median)} (${fmtMs(s.min)}–${fmtMs(s.max)})`;
  const line = (c, vals) => vals.map((v, i) => String(v).padStart(c[i][1])).join("  ");
  out.push("time, median (min–max)");
  out.push(line(cols, cols.map((c) => c[0])));
  out.push(line(cols, cols.map((c) => "-".repeat(c[1]))));
  for (const r of results) out.push(line(cols, cols.map((c) => c[2](r))));
  out.push("");
  const cols2 = [
    ["versions", 8, (r) => r.n],
    ["fetch/ver", 10, (r) => fmtUs(r.fetch.median / r.n)],
    ["no-replay/ver", 13, (r) => fmtUs(r.quick.median / r.n)],
    ["full/ver", 10, (r) => fmtUs(r.full.median / r.n)],
    ["replay/ver", 10, (r) => fmtUs(r.replayPerVersion)],
    ["e2e/ver", 10, (r) => fmtUs(r.meta.median / r.n)],
    ["no-replay÷fetch", 15, (r) => fmtX(r.ratio.quick)],
    ["full÷fetch", 10, (r) => fmtX(r.ratio.full)],
    ["e2e÷fetch", 10, (r) => fmtX(r.ratio.meta)],
    ["CAR split", 10, (r) => fmtMs(r.split.median)],
  ];
  out.push("per version (median ÷ N), replay/ver = median over runs of (full − replay:false) ÷ N; ratios = median over runs of figure ÷ that run's fetch");
  out.push(line(cols2, cols2.map((c) => c[0])));
  out.push(line(cols2, cols2.map((c) => "-".repeat(c[1]))));
  for (const r of results) out.push(line(cols2, cols2.map((c) => c[2](r))));
  out.push("");
  out.push(`fetch = GET /ipfs/<head>?format=car + GET /ipfs/<module>?format=raw (sequential, bytes in hand); verify = the package's verifyHistory on those blocks`);
  out.push(`(CAR split by the wasm's carBlocks, not counted); verifyMetadata = get_metadata lookup + CAR + module fetch + verify with replay.`);
  out.push("");
  if (targetRow) {
    out.push(`TARGET  ${TARGET_N} versions verified in full (with replay) < ${TARGET_MS} ms in the browser: ${met ? "MET" : "NOT MET"} — median ${fmtMs(targetRow.full.median)} (min ${fmtMs(targetRow.full.min)}, max ${fmtMs(targetRow.full.max)})${met ? "" : `, ${(targetRow.full.median / TARGET_MS).toFixed(1)}× over`}; package ${pkg.json.build}`);
  } else {
    out.push(`TARGET  ${TARGET_N} versions verified in full < ${TARGET_MS} ms: not judged (${TARGET_N} not in --sizes)`);
  }

  const jsonLines = [];
  for (const r of results) {
    const base = { bench: "verify", versions: r.n, runs: r.runs, pkg_build: pkg.json.build, pkg_dir: pkg.json.dir, node_bin: nodeBin };
    const fig = (figure, s, extra = {}) =>
      jsonLines.push({ ...base, figure, median_ms: r3(s.median), min_ms: r3(s.min), max_ms: r3(s.max), per_version_us: r3((s.median / r.n) * 1000), ...extra });
    fig("fetch", r.fetch, { anchor: true, what: "GET /ipfs/<head>?format=car + GET /ipfs/<module>?format=raw in the page", car_bytes: r.carBytes, module_bytes: r.moduleBytes });
    fig("car split", r.split, { what: "carBlocks (wasm) + Map" });
    fig("verifyHistory replay:false", r.quick, { ratio_to_fetch: r3(r.ratio.quick) });
    fig("verifyHistory full", r.full, { ratio_to_fetch: r3(r.ratio.full) });
    fig("verifyMetadata", r.meta, { ratio_to_fetch: r3(r.ratio.meta) });
    jsonLines.push({ ...base, figure: "replay per version", per_version_us: r3(r.replayPerVersion * 1000), what: "median over runs of (full − replay:false) / N" });
  }
  if (targetRow) jsonLines.push({ bench: "verify", figure: "target", versions: TARGET_N, target_ms: TARGET_MS, full_median_ms: r3(targetRow.full.median), met, pkg_build: pkg.json.build });

  if (parts) {
    const n = parts.n;
    const perV = (ms) => (ms / n) * 1000; // µs per version
    const replayUs = perV(parts.rawFullMs - parts.rawQuickMs);
    const hashUs = Math.max(0, parts.moduleHashAndCopyUs - parts.moduleCopyOnlyUs);
    const callUs = Math.max(0, parts.loadCallUs - parts.loadUs);
    const modelUs = hashUs + parts.moduleCopyOnlyUs + parts.loadCallUs;
    const quickUs = perV(parts.rawQuickMs);
    const sigUs = perV(parts.ed25519AllMs);
    const copyUs = perV(parts.copyInMs);
    const restQuickUs = Math.max(0, quickUs - sigUs - copyUs);
    out.push("");
    out.push(`WHERE THE TIME GOES (N=${n}, parts timed apart in the page on a second instance of the same wasm; medians)`);
    out.push(`  full verification (glue verifyHistory → JSON string)      ${fmtMs(parts.rawFullMs).padStart(9)}   = ${perV(parts.rawFullMs).toFixed(0)} µs/version   (package verifyHistory: ${fmtMs(parts.pkgFullMs)})`);
    out.push(`    without replay                                          ${fmtMs(parts.rawQuickMs).padStart(9)}   = ${quickUs.toFixed(0)} µs/version`);
    out.push(`      blocks Map → wasm HashMap copy                        ${fmtMs(parts.copyInMs).padStart(9)}   = ${copyUs.toFixed(1)} µs/version`);
    out.push(`      Ed25519 verify_strict + tx hash (checkSignature × N)  ${fmtMs(parts.ed25519AllMs).padStart(9)}   = ${sigUs.toFixed(0)} µs/version (incl. parsing the request JSON)`);
    out.push(`      the rest (sha256 of blocks, dag-cbor, checks, report) ${fmtMs((restQuickUs * n) / 1000).padStart(9)}   ≈ ${restQuickUs.toFixed(0)} µs/version (difference; 0 = within noise)`);
    out.push(`    replay (full − without)                                 ${fmtMs(parts.rawFullMs - parts.rawQuickMs).padStart(9)}   = ${replayUs.toFixed(0)} µs/version, of which per version:`);
    out.push(`      wasmi load of mc_open (${(big.moduleBytes / 1024).toFixed(0)} KiB: parse, validate, translate, instantiate, Marine init)  ${parts.loadUs.toFixed(0)} µs`);
    out.push(`      on_execute call on the fresh instance (args/result JSON)       ${callUs.toFixed(0)} µs`);
    out.push(`      sha2-256 of the module (once per version)                      ${hashUs.toFixed(0)} µs`);
    out.push(`      module bytes cloned (fetch closure) + error path               ${parts.moduleCopyOnlyUs.toFixed(0)} µs`);
    out.push(`      sum of the parts                                               ${modelUs.toFixed(0)} µs  (${((modelUs / replayUs) * 100).toFixed(0)}% of the measured replay/version)`);
    out.push(`  report JSON across the boundary: ${(parts.reportChars / 1e6).toFixed(2)} MB string, JSON.parse ${fmtMs(parts.jsonParseMs)} (${((parts.jsonParseMs / parts.rawFullMs) * 100).toFixed(2)}% of full); JS Map copy in the wrapper ${fmtMs(parts.jsMapCopyMs)}`);
    jsonLines.push({
      bench: "verify", figure: "profile parts", versions: n, pkg_build: pkg.json.build,
      glue_full_ms: r3(parts.rawFullMs), glue_no_replay_ms: r3(parts.rawQuickMs), package_full_ms: r3(parts.pkgFullMs),
      replay_us_per_version: r3(replayUs), no_replay_us_per_version: r3(quickUs),
      wasmi_load_us: r3(parts.loadUs), on_execute_call_us: r3(callUs), module_sha256_us: r3(hashUs), module_clone_us: r3(parts.moduleCopyOnlyUs),
      ed25519_us_per_version: r3(sigUs), copy_in_us_per_version: r3(copyUs),
      report_json_chars: parts.reportChars, json_parse_ms: r3(parts.jsonParseMs), js_map_copy_ms: r3(parts.jsMapCopyMs),
    });
  }
  if (parts && !prof) {
    out.push("");
    out.push("V8 sampling profile: skipped — this wasm has no name section (a wasm-opt'd release build); run without --pkg (web-dev) for a profile with function names.");
  }
  if (prof) {
    for (const [k, label] of [["full", "full verification"], ["quick", "replay:false"]]) {
      const p = prof[k];
      out.push("");
      out.push(`V8 sampling profile (CDP, 200 µs) of one package verifyHistory, ${label}, N=${big.n}: ${fmtMs(p.ms)}, ${fmtMs(p.total)} sampled${pkg.names ? "" : " — no wasm names (release build): see the parts above"}`);
      out.push(`  self time by category:`);
      for (const [c, ms] of p.cat.slice(0, 10)) out.push(`    ${((ms / p.total) * 100).toFixed(1).padStart(5)}%  ${fmtMs(ms).padStart(9)}  ${c}`);
      out.push(`  top self time:`);
      for (const [f, ms] of p.self.slice(0, 12)) out.push(`    ${((ms / p.total) * 100).toFixed(1).padStart(5)}%  ${fmtMs(ms).padStart(9)}  ${clipName(f)}`);
      out.push(`  top-down (merged by function, ≥ 3%; "a → b": b is ≥ 97% of a):`);
      for (const l of treeLines(p.tree, p.total).slice(0, 28)) out.push(`  ${l}`);
      if (k === "full") {
        const key = p.incl.filter(([f]) => /lineage_|wasmi::(Module|Linker|Instance|Store|Engine)|Service::load|on_execute|verify_strong|verify_strict|transaction_hash|decode_checked|replay_history|verify_history|cid_of|serde_json::(ser|de)::/.test(f));
        out.push(`  inclusive time of key functions:`);
        for (const [f, ms] of key.slice(0, 18)) out.push(`    ${((ms / p.total) * 100).toFixed(1).padStart(5)}%  ${fmtMs(ms).padStart(9)}  ${clipName(f)}`);
      }
      jsonLines.push({
        bench: "verify", figure: `cpu profile ${label}`, versions: big.n, pkg_build: pkg.json.build, ms: r3(p.ms), sampled_ms: r3(p.total),
        categories: Object.fromEntries(p.cat.map(([c, ms]) => [c, r3(ms)])),
        top_self: p.self.slice(0, 12).map(([f, ms]) => ({ f: clipName(f), ms: r3(ms) })),
        key_inclusive: k === "full" ? p.incl.filter(([f]) => /lineage_|Service::load|on_execute|verify_strong|replay_history|verify_history/.test(f)).slice(0, 18).map(([f, ms]) => ({ f: clipName(f), ms: r3(ms) })) : undefined,
      });
    }
  }
  out.push("");
  out.push(`node stopped: code ${nodeStop.code} signal ${nodeStop.signal}; total ${((performance.now() - t00) / 1000).toFixed(0)} s`);
  out.push("");
  for (const j of jsonLines) out.push(JSON.stringify(j));
  process.stdout.write(out.join("\n") + "\n");
  return 0;
}

const clipName = (s, n = 110) => (s.length > n ? s.slice(0, n - 1) + "…" : s);

let code = 1;
try {
  code = await main();
} catch (e) {
  process.stderr.write(`bench:verify: ${e?.plain ? e.message : (e?.stack ?? e)}\n`);
} finally {
  await B.teardown().catch(() => {});
  await stopInteropNodes().catch(() => {});
}
process.exit(code);
