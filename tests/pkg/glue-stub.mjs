// Stand-in for the wasm-bindgen glue (both wasm files) in tests. Without a fake facade installed
// (globalThis.__lineageFakeFacade, see fake-facade.mjs) every function fails with code NO_WASM.
function facade() {
  const fake = globalThis.__lineageFakeFacade;
  if (fake) return fake;
  const err = new Error("the wasm module is not available in these tests");
  err.code = "NO_WASM";
  throw err;
}
export default async function init() {
  facade();
}
export const keypair_from_seed = (...a) => facade().keypair_from_seed(...a);
export const sign_bytes = (...a) => facade().sign_bytes(...a);
export const verify_signature = (...a) => facade().verify_signature(...a);
export const random_seed = (...a) => facade().random_seed(...a);
export class WasmPeer {
  static start(...a) {
    return facade().WasmPeer.start(...a);
  }
}
export class MarineService {
  constructor(...a) {
    return new (facade().MarineService)(...a);
  }
}
