//! # lineage-web
//!
//! The JavaScript face of the light peer (built with `wasm-bindgen`, wasm32 only): `WasmPeer`
//! with Ed25519 key helpers, on which `pkg/` builds the `@fluencelabs/js-client`-compatible API.
//! Marine services run in a second wasm (`lineage-web-marine`) that `pkg/` loads only when a
//! page registers one; they reach this peer as ordinary handlers (`registerService`).
//!
//! ```js
//! import init, { WasmPeer, random_seed } from "./lineage_web.js";
//! await init();
//! const peer = await WasmPeer.start(random_seed(), relayMultiaddr, {}, (state) => console.log(state));
//! ```

#[cfg(target_arch = "wasm32")]
mod light_peer;
