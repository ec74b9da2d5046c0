// Node.js only: wasm.js calls installNodeShims() when it runs under Node, never in browsers or workers.
// The wasm peer's libp2p transport (rust-libp2p's websocket-websys) is written for the web.

import { codedError } from "./errors.js";

/** Makes a Node.js global scope look enough like a web worker for the wasm peer. */
export async function installNodeShims() {
  // Node 20 has no global WebSocket (22 has); `ws` implements the same browser API
  // (binaryType "arraybuffer", onopen/onmessage/onclose/onerror, send, close).
  if (typeof globalThis.WebSocket === "undefined") {
    const wsName = "ws"; // a variable, so browser bundlers do not try to bundle it
    try {
      const { WebSocket } = await import(/* webpackIgnore: true */ /* @vite-ignore */ wsName);
      globalThis.WebSocket = WebSocket;
    } catch (err) {
      throw codedError("MISSING_DEPENDENCY", `Node.js without a global WebSocket needs the "ws" package (${err.message})`);
    }
  }
  // websocket-websys only starts where a `window` or a `WorkerGlobalScope` global exists, then uses
  // the global setInterval/clearInterval; Node has both, and its timers convert to the numeric
  // ids clearInterval accepts. An empty class is enough for the existence check.
  if (typeof globalThis.WorkerGlobalScope === "undefined" && typeof globalThis.window === "undefined") {
    globalThis.WorkerGlobalScope = class WorkerGlobalScope {};
  }
}
