// @lineage-edge/js-client: the API of @fluencelabs/js-client 0.9 on a Rust/Wasm light peer.
// Importing loads no wasm; it is fetched on the first connect or key-pair operation.

export { Fluence, createClient } from "./fluence.js";
export { ClientPeer } from "./client-peer.js";
export { callAquaFunction, registerService, v5_callFunction, v5_registerService } from "./compiler-support.js";
export { KeyPair, fromBase58Sk, fromBase64Sk, fromOpts } from "./keypair.js";
export { kras, stage, testNet, randomKras, randomStage, randomTestNet } from "./network.js";
export { js2aqua, aqua2js } from "./conversions.js";
export { verifyHistory, verifyMetadata } from "./verify.js";
export { discoverWallets, keyPairSigner, publishMetadata, walletSigner } from "./wallet.js";
