// Vite config of the demo dApp (www/). `npm start` serves it with the dev server
// (scripts/start-demo.mjs); `npx vite build --config www/vite.config.mjs` writes www/dist/.
import { fileURLToPath } from "node:url";
import { defineConfig } from "vite";

const repo = fileURLToPath(new URL("..", import.meta.url));

export default defineConfig({
  root: fileURLToPath(new URL(".", import.meta.url)),
  // Keep our own package out of dependency pre-bundling: it loads its .wasm files relative to
  // its own module (`new URL("../dist/…_bg.wasm", import.meta.url)`), which a pre-bundled copy
  // in node_modules/.vite would break.
  optimizeDeps: { exclude: ["@lineage-edge/js-client"] },
  server: { host: "127.0.0.1", fs: { allow: [repo] } },
  preview: { host: "127.0.0.1" },
  build: { outDir: "dist", emptyOutDir: true, target: "es2022" },
  logLevel: "warn",
});
