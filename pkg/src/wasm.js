// Loads the wasm peer (wasm-bindgen `--target web` output in ../dist) on first use.
//
// The glue is imported statically: dynamic `import()` is forbidden in service workers (MV3), and
// the glue does nothing at import time. The .wasm file is fetched relative to this module only when
// something needs it (connect, key pairs), with no CDN, Blob URL or eval, so it runs under
// CSP `script-src 'self' 'wasm-unsafe-eval'`.

import initGlue, * as glue from "../dist/lineage_web.js";
import { codedError } from "./errors.js";
import { installNodeShims } from "./node-shims.js";

const WASM_URL = new URL("../dist/lineage_web_bg.wasm", import.meta.url);

let loading;
let loaded = null;

/** Resolves to the initialised glue module (`WasmPeer`, `keypair_from_seed`, …); loads it once. */
export function loadWasm() {
  loading ??= instantiate().then(
    (exports) => (loaded = exports),
    (err) => {
      loading = undefined; // let a later call retry (e.g. after a network error)
      throw err;
    },
  );
  return loading;
}

/** The glue module if `loadWasm()` has finished, else null. */
export function loadedWasm() {
  return loaded;
}

async function instantiate() {
  if (isNode()) {
    // Node's fetch does not read file: URLs, so pass the bytes.
    const fsName = "node:fs/promises"; // a variable, so browser bundlers leave it alone
    const { readFile } = await import(/* webpackIgnore: true */ /* @vite-ignore */ fsName);
    let bytes;
    try {
      bytes = await readFile(WASM_URL);
    } catch (err) {
      if (err?.code !== "ENOENT") throw err;
      throw codedError("WASM_NOT_FOUND", `${WASM_URL.pathname} is missing; build it with \`bash scripts/build-pkg.sh\``);
    }
    await installNodeShims();
    await initGlue({ module_or_path: bytes });
  } else {
    await initGlue({ module_or_path: WASM_URL });
  }
  return glue;
}

function isNode() {
  return typeof process === "object" && typeof process.versions?.node === "string" && typeof window === "undefined";
}
