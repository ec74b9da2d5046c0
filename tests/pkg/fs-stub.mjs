// Stand-in for node:fs/promises as pkg/src/wasm.js sees it in tests: the .wasm is never read.
export async function readFile() {
  return new Uint8Array(0);
}
