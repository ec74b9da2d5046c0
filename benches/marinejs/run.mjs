#!/usr/bin/env node
// Benchmark driver: load a Marine service (one or more .wasm modules) into the
// real @fluencelabs/marine-js 0.13.0 runtime on V8/Node, call one function of
// the facade module N times, and print ONE JSON line with timings to stdout.
//
// usage:
//   node run.mjs --modules a.wasm[,b.wasm,...] --fn <name> [--args '<json>']
//                [--iters N] [--warmup W] [--wasm-log off|info|debug|...]
//
// Module import names are the file stems; modules are loaded in the order
// given, so dependencies go first and the facade module goes LAST (marine-js
// always dispatches MarineService.call() to the last module of modules_config).
// Diagnostics (the verification call's result, logs) go to stderr.

import { readFile } from 'node:fs/promises';
import { basename, extname, resolve as resolvePath } from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';

import { MarineService } from '@fluencelabs/marine-js/MarineService';
import { defaultCallParameters } from '@fluencelabs/marine-js/types';

const USAGE =
  "usage: node run.mjs --modules a.wasm[,b.wasm] --fn <name> [--args '<json>'] " +
  '[--iters N] [--warmup W] [--wasm-log LEVEL]';

class UsageError extends Error {}

function parseArgs(argv) {
  const opts = { modules: null, fn: null, args: '[]', iters: 1000, warmup: 100, wasmLog: 'off' };
  const keys = {
    '--modules': 'modules',
    '--fn': 'fn',
    '--args': 'args',
    '--iters': 'iters',
    '--warmup': 'warmup',
    '--wasm-log': 'wasmLog',
  };
  for (let i = 0; i < argv.length; i++) {
    let flag = argv[i];
    let value;
    const eq = flag.indexOf('=');
    if (flag.startsWith('--') && eq > 0) {
      value = flag.slice(eq + 1);
      flag = flag.slice(0, eq);
    }
    if (flag === '-h' || flag === '--help') {
      process.stderr.write(USAGE + '\n');
      process.exit(0);
    }
    const key = keys[flag];
    if (!key) throw new UsageError(`unknown argument '${argv[i]}'`);
    if (value === undefined) {
      if (i + 1 >= argv.length) throw new UsageError(`${flag} needs a value`);
      value = argv[++i];
    }
    opts[key] = value;
  }
  if (!opts.modules) throw new UsageError('--modules is required');
  if (!opts.fn) throw new UsageError('--fn is required');
  opts.modules = opts.modules.split(',').map((s) => s.trim()).filter(Boolean);
  if (opts.modules.length === 0) throw new UsageError('--modules lists no file');
  for (const k of ['iters', 'warmup']) {
    const n = Number(opts[k]);
    if (!Number.isInteger(n) || n < 0 || (k === 'iters' && n === 0)) {
      throw new UsageError(`--${k} must be a ${k === 'iters' ? 'positive' : 'non-negative'} integer, got '${opts[k]}'`);
    }
    opts[k] = n;
  }
  try {
    opts.args = JSON.parse(opts.args);
  } catch (e) {
    throw new UsageError(`--args is not valid JSON: ${e.message}`);
  }
  if (opts.args === null || typeof opts.args !== 'object') {
    throw new UsageError('--args must be a JSON array (positional) or object (named arguments)');
  }
  return opts;
}

// Path of marine-js.wasm (the "control module": Marine itself compiled to wasm).
function controlModulePath() {
  return fileURLToPath(import.meta.resolve('@fluencelabs/marine-js/marine-js.wasm'));
}

function moduleDescriptor(importName, wasmLog) {
  // Shape expected by marine-js' register_module (ApiModuleDescriptor in the
  // Rust side; ModuleDescriptor in dist/config.d.ts). Same settings that
  // @fluencelabs/marine-worker 0.6.0 uses, except WASM_LOG is configurable.
  return {
    import_name: importName,
    config: {
      logger_enabled: true,
      logging_mask: 0,
      wasi: {
        envs: { WASM_LOG: wasmLog },
        preopened_files: new Set(),
        mapped_dirs: new Map(),
      },
    },
  };
}

function errText(e) {
  if (e instanceof Error) return e.message || String(e);
  try {
    return typeof e === 'string' ? e : JSON.stringify(e);
  } catch {
    return String(e);
  }
}

const mib = (bytes) => Math.round((bytes / (1024 * 1024)) * 100) / 100;
const round3 = (x) => Math.round(x * 1000) / 1000;

async function main() {
  const opts = parseArgs(process.argv.slice(2));

  // Read inputs first so that file errors are reported clearly and file I/O is
  // not counted in load_ms.
  const files = [];
  const seen = new Set();
  for (const m of opts.modules) {
    const path = resolvePath(m);
    const name = basename(path, extname(path));
    if (seen.has(name)) throw new Error(`two modules share the import name '${name}'`);
    seen.add(name);
    let bytes;
    try {
      bytes = new Uint8Array(await readFile(path));
    } catch (e) {
      throw new Error(`cannot read module '${m}': ${errText(e)}`);
    }
    files.push({ name, path, bytes });
  }
  let controlBytes;
  const controlPath = controlModulePath();
  try {
    controlBytes = await readFile(controlPath);
  } catch (e) {
    throw new Error(`cannot read marine-js control module '${controlPath}': ${errText(e)}`);
  }

  const serviceId = files[files.length - 1].name;
  const config = { modules_config: files.map((f) => moduleDescriptor(f.name, opts.wasmLog)) };
  const modules = Object.fromEntries(files.map((f) => [f.name, f.bytes]));
  const logFunction = (msg) => {
    process.stderr.write(`[marine-js log ${msg.level}] ${msg.service}: ${msg.message}\n`);
  };

  // ---- load: compile control module + instantiate Marine + register service ----
  const t0 = performance.now();
  const controlModule = new WebAssembly.Module(controlBytes);
  const t1 = performance.now();
  const service = new MarineService(controlModule, serviceId, logFunction, config, modules, {
    WASM_LOG: opts.wasmLog,
  });
  try {
    await service.init();
  } catch (e) {
    throw new Error(`marine-js failed to load service [${files.map((f) => f.name).join(', ')}]: ${errText(e)}`);
  }
  const t2 = performance.now();
  const rssAfterLoad = process.memoryUsage().rss;

  const callParams = { ...defaultCallParameters, service_id: serviceId };
  const call = () => service.call(opts.fn, opts.args, callParams);

  // ---- verification call ----
  let first;
  try {
    first = call();
  } catch (e) {
    throw new Error(`call ${serviceId}.${opts.fn}(${JSON.stringify(opts.args)}) failed: ${errText(e)}`);
  }
  process.stderr.write(`verify: ${serviceId}.${opts.fn}(${JSON.stringify(opts.args)}) -> ${JSON.stringify(first)}\n`);

  // ---- warmup + timed loop ----
  for (let i = 0; i < opts.warmup; i++) call();
  let sink = 0;
  const s = process.hrtime.bigint();
  for (let i = 0; i < opts.iters; i++) {
    const r = call();
    if (r !== undefined) sink++;
  }
  const e = process.hrtime.bigint();
  const totalMs = Number(e - s) / 1e6;

  const out = {
    engine: 'marine-js',
    engine_version: '0.13.0',
    node: process.version,
    modules: files.map((f) => f.name),
    fn: opts.fn,
    load_ms: round3(t2 - t0),
    control_compile_ms: round3(t1 - t0),
    service_init_ms: round3(t2 - t1),
    calls: opts.iters,
    warmup: opts.warmup,
    total_ms: round3(totalMs),
    us_per_call: round3((totalMs * 1000) / opts.iters),
    calls_per_s: Math.round(opts.iters / (totalMs / 1000)),
    rss_mb_after_load: mib(rssAfterLoad),
    rss_mb_after_calls: mib(process.memoryUsage().rss),
    result: first,
  };
  if (sink < 0) out.sink = sink; // keep the loop's results observable
  process.stdout.write(JSON.stringify(out) + '\n');
  service.terminate();
}

main().catch((e) => {
  if (e instanceof UsageError) {
    process.stderr.write(`error: ${e.message}\n${USAGE}\n`);
    process.exit(2);
  }
  process.stderr.write(`marine-js bench error: ${errText(e)}\n`);
  process.exit(1);
});
