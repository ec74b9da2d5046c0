//! # lineage-web-marine
//!
//! The Marine runtime (wasmi) for JavaScript, as `MarineService` (built with `wasm-bindgen`).
//! It is the light peer's second wasm: `pkg/` loads it only when a page registers a Marine
//! service, so pages that host none never download the interpreter. The light peer
//! (`lineage-web`) reaches such a service as an ordinary handler.
//!
//! ```js
//! import init, { MarineService } from "./lineage_marine.js";
//! await init();
//! const svc = new MarineService([{ name: "greeting", wasm: bytes }], { fuelPerCall: 1e8 });
//! const out = JSON.parse(svc.callJson("greet", JSON.stringify(["Ada"])));
//! ```
//!
//! It also verifies Lineage record histories (`verifyHistory`, see `verify.rs`): meta contracts
//! are Marine services, and replaying them needs this interpreter.

mod sign;
mod verify;

use js_sys::{Array, Reflect, Uint8Array};
use lineage_marine::{
    CallError, CallParameters, Environment, Limits, LoadError, Service, ServiceConfig,
};
use wasm_bindgen::prelude::*;

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
    /// `callParametersJson` (optional) is what the module's `get_call_parameters()` returns,
    /// as JSON (`{particle: {id, init_peer_id, timestamp, ttl, …}, service_id, host_id,
    /// tetraplets, …}`; missing fields are empty). Throws an `Error` with a stable `code`
    /// (`NO_SUCH_FUNCTION`, `OUT_OF_FUEL`, `TRAP`, `ARGUMENT_TYPE`, `BAD_ARGUMENT`, …).
    #[wasm_bindgen(js_name = callJson)]
    pub fn call_json(
        &mut self,
        function: &str,
        args_json: &str,
        call_parameters_json: Option<String>,
    ) -> Result<String, JsValue> {
        let args: serde_json::Value = serde_json::from_str(args_json)
            .map_err(|e| js_error("BAD_ARGUMENT", &format!("arguments are not JSON: {e}")))?;
        if let Some(json) = call_parameters_json {
            let params: CallParameters = serde_json::from_str(&json).map_err(|e| {
                js_error(
                    "BAD_ARGUMENT",
                    &format!("call parameters are not valid: {e}"),
                )
            })?;
            self.inner.set_call_parameters(params);
        }
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

    /// Whether the facade module exports `function`.
    #[wasm_bindgen(js_name = hasFunction)]
    pub fn has_function(&self, function: &str) -> bool {
        self.inner.interface().function(function).is_some()
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
