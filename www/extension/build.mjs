// Copies the built npm package (pkg/dist, made by `bash scripts/build-pkg.sh`) into the example
// extension as lib/dist/, because an extension can only load files from its own directory.
//
//   node www/extension/build.mjs            # then load www/extension/ unpacked in chrome://extensions
//   LINEAGE_PKG_DIR=/path/to/pkg node www/extension/build.mjs
//
// The bundle (dist/index.js) holds the package's code and both wasm-bindgen glues; it finds its
// two wasm files with `new URL("../dist/<name>_bg.wasm", import.meta.url)`, so the copy keeps the
// package's `dist/` directory name: lib/dist/index.js → lib/dist/lineage_web_bg.wasm. lib/ is
// git-ignored (www/extension/.gitignore); rerun this after every package build.
import { copyFile, mkdir, rm, stat } from "node:fs/promises";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(HERE, "..", "..");

/** What the extension needs from pkg/dist: the bundle and the two wasm files it loads. */
export const PACKAGE_FILES = ["index.js", "lineage_web_bg.wasm", "lineage_marine_bg.wasm"];

/** The extension's directory (what Chromium loads unpacked). */
export const EXTENSION_DIR = HERE;

/**
 * Copies PACKAGE_FILES from `<pkgDir>/dist/` to `<extensionDir>/lib/dist/` (replacing what was
 * there). Returns the copied paths. Throws, naming every missing file, if the package is not built.
 */
export async function buildExtension({ pkgDir = process.env.LINEAGE_PKG_DIR ?? join(ROOT, "pkg"), extensionDir = HERE } = {}) {
  const from = join(resolve(pkgDir), "dist");
  const to = join(extensionDir, "lib", "dist");
  const missing = [];
  for (const f of PACKAGE_FILES) {
    try {
      if (!(await stat(join(from, f))).isFile()) missing.push(f);
    } catch (err) {
      if (err.code !== "ENOENT") throw err;
      missing.push(f);
    }
  }
  if (missing.length) {
    throw new Error(`${relative(process.cwd(), from) || from}: missing ${missing.join(", ")} — build the package first with \`bash scripts/build-pkg.sh\``);
  }
  await rm(join(extensionDir, "lib"), { recursive: true, force: true });
  await mkdir(to, { recursive: true });
  const copied = [];
  for (const f of PACKAGE_FILES) {
    await copyFile(join(from, f), join(to, f));
    copied.push(join(to, f));
  }
  return copied;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    const copied = await buildExtension();
    for (const f of copied) console.log(`copied ${relative(process.cwd(), f)}`);
    console.log(`load ${relative(process.cwd(), HERE) || "."} unpacked (chrome://extensions → Developer mode → Load unpacked)`);
  } catch (err) {
    console.error(err.message);
    process.exit(1);
  }
}
