// Module hooks for the package tests: the wasm-bindgen glue (pkg/dist/lineage_web.js and
// lineage_marine.js, build outputs) is replaced by glue-stub.mjs, wasm.js reads the .wasm bytes through fs-stub.mjs and
// gets an empty `ws`, so the tests run without building the wasm or installing anything.
const GLUE_STUB = new URL("./glue-stub.mjs", import.meta.url).href;
const FS_STUB = new URL("./fs-stub.mjs", import.meta.url).href;
const WS_STUB = "data:text/javascript,export class WebSocket {}";

export async function resolve(specifier, context, nextResolve) {
  const fromPackage = context.parentURL?.includes("/pkg/src/");
  if (fromPackage && /\/dist\/lineage_(web|marine)\.js$/.test(specifier)) return { url: GLUE_STUB, shortCircuit: true };
  if (fromPackage && specifier === "node:fs/promises") return { url: FS_STUB, shortCircuit: true };
  if (fromPackage && specifier === "ws") return { url: WS_STUB, shortCircuit: true };
  return nextResolve(specifier, context);
}
