#!/usr/bin/env node
// Bundles the npm package's JS (pkg/src, plus the wasm-bindgen glue in pkg/dist) into the files
// the package's `exports` name: dist/index.js and dist/keypair.js (and a chunk of the code both
// use). One request instead of a 4-deep waterfall of 15 modules: on a 50 ms link that waterfall
// alone costs ~250 ms of cold start. Not minified (readable stack traces; gzip does the rest).
// The .wasm files are not touched: wasm.js finds them with `new URL("../dist/…", import.meta.url)`,
// which from dist/ points at dist/ just as it does from src/.
//   node scripts/bundle-pkg.mjs [outDir]     (default pkg/dist; scripts/build-pkg.sh runs it)
import { fileURLToPath } from "node:url";
import { join } from "node:path";
import { build } from "rolldown";

const root = fileURLToPath(new URL("..", import.meta.url));
const outDir = process.argv[2] ?? join(root, "pkg", "dist");
const src = join(root, "pkg", "src");

const out = await build({
  input: { index: join(src, "index.js"), keypair: join(src, "keypair.js") },
  // Node-only modules, imported dynamically (and never in browsers).
  external: ["ws", /^node:/],
  plugins: [
    {
      // The glue is built into the output dir, which may not be pkg/dist (PKG_OUT_DIR).
      name: "glue-in-out-dir",
      resolveId(specifier) {
        const m = /^\.\.\/dist\/(lineage_(web|marine)\.js)$/.exec(specifier);
        return m ? join(outDir, m[1]) : null;
      },
    },
  ],
  logLevel: "warn",
  output: {
    dir: outDir,
    format: "esm",
    entryFileNames: "[name].js",
    chunkFileNames: "lineage-shared.js",
    sourcemap: false,
  },
});
const files = [out].flat().flatMap((o) => o.output.map((f) => f.fileName));
console.log(`bundled pkg/src → ${outDir}: ${files.join(", ")}`);
