#!/usr/bin/env node
// Bundles the npm package's JS (pkg/src, plus the wasm-bindgen glue in pkg/dist) into the one file
// the package's `exports` name for ".": dist/index.js. "./keypair" (dist/keypair.js) re-exports
// from it, so both share one loader (one wasm instance) and a page fetches a single module. One request instead of a 4-deep waterfall of 15 modules: on a 50 ms link that waterfall
// alone costs ~250 ms of cold start. Not minified (readable stack traces; gzip does the rest).
// The .wasm files are not touched: wasm.js finds them with `new URL("../dist/…", import.meta.url)`,
// which from dist/ points at dist/ just as it does from src/.
//   node scripts/bundle-pkg.mjs [outDir]     (default pkg/dist; scripts/build-pkg.sh runs it)
import { fileURLToPath } from "node:url";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { build } from "rolldown";

const root = fileURLToPath(new URL("..", import.meta.url));
const outDir = process.argv[2] ?? join(root, "pkg", "dist");
const src = join(root, "pkg", "src");

const out = await build({
  input: { index: join(src, "index.js") },
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
    sourcemap: false,
  },
});
await writeFile(
  join(outDir, "keypair.js"),
  '// @lineage-edge/js-client/keypair: the key-pair API of the main bundle.\nexport { KeyPair, fromBase58Sk, fromBase64Sk, fromOpts } from "./index.js";\n',
);
const files = [...[out].flat().flatMap((o) => o.output.map((f) => f.fileName)), "keypair.js"];
console.log(`bundled pkg/src → ${outDir}: ${files.join(", ")}`);
