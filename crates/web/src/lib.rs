//! # lineage-web
//!
//! The JavaScript face of Lineage Edge (built with `wasm-bindgen`): the Marine runtime as
//! `MarineService`, and (wasm32 only) the light peer `WasmPeer` with Ed25519 key helpers, on
//! which `pkg/` builds the `@fluencelabs/js-client`-compatible API.
//!
//! ```js
//! import init, { MarineService } from "./lineage_web.js";
//! await init();
//! const svc = new MarineService([{ name: "greeting", wasm: bytes }], { fuelPerCall: 1e8 });
//! const out = JSON.parse(svc.callJson("greet", JSON.stringify(["Ada"])));
//! ```

use js_sys::{Array, Reflect, Uint8Array};
use lineage_marine::{CallError, Environment, Limits, LoadError, Service, ServiceConfig};
use wasm_bindgen::prelude::*;

#[cfg(target_arch = "wasm32")]
mod light_peer;

/// A Marine service running in this page/worker on the wasmi interpreter.
#[wasm_bindgen]
pub struct MarineService {
    inner: Service,
}

#[wasm_bindgen]
impl MarineService {
    /// Loads `modules` (`[{name, wasm: Uint8Array}]`, dependencies first, facade last).
    /// `options` (optional): `{fuelPerCall, memoryBytes, deterministicClockNs, seed: Uint8Array(32)}`.
    /// Throws an `Error` whose `code` is `LOAD_ERROR` on bad modules.
    #[wasm_bindgen(constructor)]
    pub fn new(modules: Array, options: JsValue) -> Result<MarineService, JsValue> {
        let mut named: Vec<(String, Vec<u8>)> = Vec::with_capacity(modules.length() as usize);
        for (i, m) in modules.iter().enumerate() {
            let name = Reflect::get(&m, &"name".into())
                .ok()
                .and_then(|v| v.as_string())
                .ok_or_else(|| {
                    js_error(
                        "BAD_ARGUMENT",
                        &format!("modules[{i}].name must be a string"),
                    )
                })?;
            let wasm = Reflect::get(&m, &"wasm".into())
                .ok()
                .filter(|v| v.is_instance_of::<Uint8Array>())
                .map(|v| Uint8Array::from(v).to_vec())
                .ok_or_else(|| {
                    js_error(
                        "BAD_ARGUMENT",
                        &format!("modules[{i}].wasm must be a Uint8Array"),
                    )
                })?;
            named.push((name, wasm));
        }
        let config = config_from(&options)?;
        let inner = Service::load(
            named.iter().map(|(n, w)| (n.as_str(), w.as_slice())),
            config,
        )
        .map_err(|e: LoadError| js_error("LOAD_ERROR", &e.to_string()))?;
        Ok(MarineService { inner })
    }

    /// Calls a facade function with JSON-encoded arguments; returns the JSON-encoded result.
    /// Throws an `Error` with a stable `code` (`OUT_OF_FUEL`, `TRAP`, `ARGUMENT_TYPE`, …).
    #[wasm_bindgen(js_name = callJson)]
    pub fn call_json(&mut self, function: &str, args_json: &str) -> Result<String, JsValue> {
        let args: serde_json::Value = serde_json::from_str(args_json)
            .map_err(|e| js_error("BAD_ARGUMENT", &format!("arguments are not JSON: {e}")))?;
        let out = self
            .inner
            .call_json(function, &args)
            .map_err(|e: CallError| js_error(e.code(), &e.to_string()))?;
        Ok(out.to_string())
    }

    /// The service interface as Aqua-like text.
    pub fn interface(&self) -> String {
        self.inner.interface().to_string()
    }

    /// Linear memory of all modules, bytes.
    #[wasm_bindgen(js_name = memoryBytes)]
    pub fn memory_bytes(&self) -> f64 {
        self.inner.memory_bytes() as f64
    }
}

fn config_from(options: &JsValue) -> Result<ServiceConfig, JsValue> {
    let mut limits = Limits::default();
    let mut config = ServiceConfig::default();
    if options.is_undefined() || options.is_null() {
        return Ok(config);
    }
    let num = |key: &str| {
        Reflect::get(options, &key.into())
            .ok()
            .and_then(|v| v.as_f64())
    };
    if let Some(f) = num("fuelPerCall") {
        limits.fuel_per_call = f as u64;
    }
    if let Some(m) = num("memoryBytes") {
        limits.memory_bytes = m as u64;
    }
    if let Some(clock) = num("deterministicClockNs") {
        let mut seed = [0u8; 32];
        if let Ok(s) = Reflect::get(options, &"seed".into()) {
            if s.is_instance_of::<Uint8Array>() {
                let bytes = Uint8Array::from(s).to_vec();
                if bytes.len() != 32 {
                    return Err(js_error("BAD_ARGUMENT", "seed must be 32 bytes"));
                }
                seed.copy_from_slice(&bytes);
            }
        }
        config.environment = Environment::Deterministic {
            clock_ns: clock as u64,
            seed,
        };
    }
    config.limits = limits;
    Ok(config)
}

/// A JS `Error` with a `code` property.
pub(crate) fn js_error(code: &str, message: &str) -> JsValue {
    let err = js_sys::Error::new(message);
    let _ = Reflect::set(&err, &"code".into(), &code.into());
    err.into()
}
