// Compiles tests/interop/aqua/*.aqua with the real Aqua compiler (@fluencelabs/aqua-api 0.14.6) to
// the JS that js-client 0.9 users run (`targetType: "js"`), into tests/interop/gen/ (gitignored).
// Imports `@fluencelabs/aqua-lib/...` resolve to node_modules/@fluencelabs/aqua-lib (0.10.2).
//
//   node tests/interop/compile.mjs [--air-dir DIR]     # also prints every function's AIR
//
// Writes gen/<name>.js, gen/<name>.d.ts and gen/air/<name>.<function>.air (plus DIR/… if given).
// The tests compile into gen/<test file>/ each (`compileAll({ outDir })`), so files never share one.
import { compileFromPath } from "@fluencelabs/aqua-api";
import { mkdir, readdir, rm, writeFile } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = join(HERE, "..", "..");
export const AQUA_DIR = join(HERE, "aqua");
export const GEN_DIR = join(HERE, "gen");
const AQUA_LIB = join(ROOT, "node_modules", "@fluencelabs", "aqua-lib");

/**
 * Compiles every .aqua file of AQUA_DIR.
 * Returns { modules: {<name>: <path of generated .js>}, air: {<name>: {<function>: <AIR>}} }.
 * Throws if the compiler reports any error.
 */
export async function compileAll({ outDir = GEN_DIR, airDirs = [] } = {}) {
  const sources = (await readdir(AQUA_DIR)).filter((f) => f.endsWith(".aqua")).sort();
  if (sources.length === 0) throw new Error(`no .aqua files in ${AQUA_DIR}`);
  await rm(outDir, { recursive: true, force: true });
  const airOut = [join(outDir, "air"), ...airDirs];
  for (const d of [outDir, ...airOut]) await mkdir(d, { recursive: true });
  // The generated files are ES modules; say so, or Node warns and re-parses them.
  await writeFile(join(outDir, "package.json"), '{ "type": "module" }\n');

  const modules = {};
  const air = {};
  for (const file of sources) {
    const name = basename(file, ".aqua");
    const filePath = join(AQUA_DIR, file);
    const res = await compileFromPath({
      filePath,
      imports: { "/": { "@fluencelabs/aqua-lib": AQUA_LIB } },
      targetType: "js",
    });
    if (res.errors.length > 0) {
      throw new Error(`aqua-api failed on ${file}:\n${res.errors.join("\n")}`);
    }
    if (res.generatedSources.length !== 1) {
      throw new Error(`${file}: expected one generated source, got ${res.generatedSources.length}`);
    }
    const gen = res.generatedSources[0];
    if (!gen.jsSource) throw new Error(`${file}: no JS source generated`);
    const js = join(outDir, `${name}.js`);
    await writeFile(js, gen.jsSource);
    if (gen.tsTypes) await writeFile(join(outDir, `${name}.d.ts`), gen.tsTypes);
    modules[name] = js;

    // With targetType "js" `res.functions` is empty: take each function's AIR from the generated
    // `export const <fn>_script = `...`` — exactly what js-client will send.
    air[name] = {};
    for (const m of gen.jsSource.matchAll(/export const (\w+)_script = `([^`]*)`/g)) {
      const script = dedent(m[2]);
      air[name][m[1]] = script;
      for (const d of airOut) await writeFile(join(d, `${name}.${m[1]}.air`), script);
    }
    if (Object.keys(air[name]).length === 0) throw new Error(`${file}: no functions generated`);
  }
  return { modules, air };
}

function dedent(text) {
  const lines = text.split("\n").filter((l) => l.trim() !== "");
  const indent = Math.min(...lines.map((l) => l.match(/^ */)[0].length));
  return lines.map((l) => l.slice(indent)).join("\n") + "\n";
}

// The service/function pairs each AIR script calls, grouped by the peer expression they run on.
export function callsByPeer(script) {
  const calls = {};
  for (const m of script.matchAll(/\(call\s+(\S+)\s+\(("[^"]*"|\S+)\s+("[^"]*"|\S+)\)/g)) {
    const [, peer, svc, fn] = m;
    (calls[peer] ??= new Set()).add(`${svc.replaceAll('"', "")}.${fn.replaceAll('"', "")}`);
  }
  return Object.fromEntries(Object.entries(calls).map(([p, s]) => [p, [...s]]));
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const i = process.argv.indexOf("--air-dir");
  const airDirs = i > 0 ? [process.argv[i + 1]] : [];
  const { modules, air } = await compileAll({ airDirs });
  for (const [name, fns] of Object.entries(air)) {
    console.log(`# ${name}.aqua -> ${modules[name]}`);
    for (const [fn, script] of Object.entries(fns)) {
      console.log(`## ${fn}: ${JSON.stringify(callsByPeer(script))}`);
      console.log(script.trim());
    }
  }
}
