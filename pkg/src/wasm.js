// Loads the package's two wasm files (wasm-bindgen `--target web` output in ../dist) on first use:
//   lineage_web     the light peer (AquaVM, libp2p, builtins): on connect or key-pair operations;
//   lineage_marine  the Marine runtime (wasmi): only on the first registerMarineService, so pages
//                   that host no Marine service never download the interpreter.
//
// The glue modules are imported statically: dynamic `import()` is forbidden in service workers
// (MV3), and the glue does nothing at import time. The .wasm files are fetched relative to this
// module only when needed, with no CDN, Blob URL or eval, so they run under
// CSP `script-src 'self' 'wasm-unsafe-eval'`.

import initPeerGlue, * as peerGlue from "../dist/lineage_web.js";
import initMarineGlue, * as marineGlue from "../dist/lineage_marine.js";
import { codedError } from "./errors.js";
import { installNodeShims } from "./node-shims.js";

const peer = lazyWasm(initPeerGlue, peerGlue, new URL("../dist/lineage_web_bg.wasm", import.meta.url), true);
const marine = lazyWasm(initMarineGlue, marineGlue, new URL("../dist/lineage_marine_bg.wasm", import.meta.url), false);

/** Resolves to the initialised light-peer glue (`WasmPeer`, `keypair_from_seed`, …); loads it once. */
export const loadWasm = peer.load;

/** The light-peer glue if `loadWasm()` has finished, else null. */
export const loadedWasm = peer.loaded;

/** Resolves to the initialised Marine-runtime glue (`MarineService`); loads it once. */
export const loadMarine = marine.load;

function lazyWasm(initGlue, glue, url, needsShims) {
  let loading;
  let loaded = null;
  const load = () => {
    loading ??= instantiate(initGlue, glue, url, needsShims).then(
      (exports) => (loaded = exports),
      (err) => {
        loading = undefined; // let a later call retry (e.g. after a network error)
        throw err;
      },
    );
    return loading;
  };
  return { load, loaded: () => loaded };
}

async function instantiate(initGlue, glue, url, needsShims) {
  if (isNode()) {
    // Node's fetch does not read file: URLs, so pass the bytes.
    const fsName = "node:fs/promises"; // a variable, so browser bundlers leave it alone
    const { readFile } = await import(/* webpackIgnore: true */ /* @vite-ignore */ fsName);
    let bytes;
    try {
      bytes = await readFile(url);
    } catch (err) {
      if (err?.code !== "ENOENT") throw err;
      throw codedError("WASM_NOT_FOUND", `${url.pathname} is missing; build it with \`bash scripts/build-pkg.sh\``);
    }
    if (needsShims) await installNodeShims();
    await initGlue({ module_or_path: bytes });
  } else {
    await initGlue({ module_or_path: url });
  }
  return glue;
}

function isNode() {
  return typeof process === "object" && typeof process.versions?.node === "string" && typeof window === "undefined";
}
