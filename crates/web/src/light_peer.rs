//! The light peer for JS (wasm32 only): [`WasmPeer`] wraps the shared client
//! (`lineage_net::client::Client`, the same code the native Rust client runs) and turns JS
//! functions into service handlers whose Promises the host loop awaits. Values cross the
//! boundary as JSON; every rejection is an `Error` with a stable `code`.
//!
//! ```js
//! import init, { WasmPeer, random_seed } from "./lineage_web.js";
//! await init();
//! const peer = await WasmPeer.start(random_seed(), "/ip4/127.0.0.1/tcp/9999/ws/p2p/12D3KooW…", {}, (s) => console.log(s));
//! const air = '(call %init_peer_id% ("callbackSrv" "response") ["hi"])';
//! console.log(await peer.call(air, {}, {}, 7000, false)); // "hi"
//! ```

use std::collections::HashMap;
use std::time::Duration;

use js_sys::{Array, Function, Object, Promise, Reflect, Uint8Array, JSON};
use libp2p::identity::{Keypair, PublicKey};
use libp2p::Multiaddr;
use lineage_net::client::{Client, ClientConfig, ClientError};
use lineage_peer::client::Call;
use lineage_peer::{Answer, CallContext, Handler};
use serde_json::Value;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::{future_to_promise, JsFuture};

/// What identify announces for browser peers.
const AGENT: &str = concat!("lineage-edge-js/", env!("CARGO_PKG_VERSION"));

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_namespace = console, js_name = log)]
    fn console_log2(a: &str, b: &str);
}

/// A light peer connected to a relay.
#[wasm_bindgen]
pub struct WasmPeer {
    client: Client,
    /// `debug.printParticleId`: log each call's particle id to the console, as js-client does.
    print_particle_id: bool,
}

#[wasm_bindgen]
impl WasmPeer {
    /// Dials `relay` (a multiaddr ending in `/p2p/<id>`, `/ws` or `/webrtc-direct/certhash/…`)
    /// with the Ed25519 key whose 32-byte seed is `seed`; resolves once connected.
    /// `options`: `{dialTimeoutMs?, reconnect?, printParticleId?}`; `onState(state)` sees every
    /// state change.
    /// Rejects with `BAD_KEY`, `BAD_RELAY`, `DIAL_FAILED` or `DIAL_TIMEOUT`.
    pub async fn start(
        seed: Uint8Array,
        relay: String,
        options: JsValue,
        on_state: Option<Function>,
    ) -> Result<WasmPeer, JsValue> {
        let key = key_from_seed(&seed)?;
        let relay: Multiaddr = relay.parse().map_err(|e| {
            js_error(
                "BAD_RELAY",
                &format!("invalid relay multiaddr '{relay}': {e}"),
            )
        })?;
        let mut config = ClientConfig::default();
        if let Some(ms) = number(&options, "dialTimeoutMs") {
            config.dial_timeout = Duration::from_millis(ms.max(1.0) as u64);
        }
        if let Some(b) = get(&options, "reconnect").and_then(|v| v.as_bool()) {
            config.reconnect = b;
        }
        let print_particle_id = get(&options, "printParticleId")
            .and_then(|v| v.as_bool())
            .unwrap_or(false);
        let swarm = lineage_net::transport::build_swarm(
            key.clone(),
            AGENT,
            lineage_net::ConnectionLimits::default(),
            lineage_particle_max_frame(),
        )
        .await
        .map_err(|e| js_error("TRANSPORT", &e.to_string()))?;
        let listener = on_state.map(|f| {
            Box::new(move |s: lineage_net::client::ConnectionState| {
                let _ = f.call1(&JsValue::NULL, &JsValue::from_str(s.as_str()));
            }) as lineage_net::client::StateListener
        });
        let client = Client::connect_with(swarm, key, relay, config, listener)
            .await
            .map_err(|e| client_error(&e))?;
        Ok(WasmPeer {
            client,
            print_particle_id,
        })
    }

    /// This peer's id (base58, `12D3KooW…`).
    #[wasm_bindgen(js_name = peerId)]
    pub fn peer_id(&self) -> String {
        self.client.peer_id().to_base58()
    }

    /// The relay's peer id.
    #[wasm_bindgen(js_name = relayPeerId)]
    pub fn relay_peer_id(&self) -> String {
        self.client.relay_id().to_base58()
    }

    /// `"connected"`, `"connecting"`, `"disconnected"` or `"disconnecting"`.
    pub fn state(&self) -> String {
        self.client.state().as_str().to_string()
    }

    /// Runs an AIR script like js-client's `callAquaFunction`: `args` (an object) are served by
    /// `getDataSrv.<name>`, `callbacks` (an object of functions) by `callbackSrv.<name>` for
    /// this particle only; resolves with the value given to `callbackSrv.response` (or `null`
    /// once sent, when `fireAndForget`). Rejects with `SCRIPT_ERROR` (the Aqua error in
    /// `value`), `EXPIRED`, `INTERPRETER`, `SEND_FAILED`, `STOPPED` or `BAD_ARGUMENT`.
    pub fn call(
        &self,
        script: String,
        args: JsValue,
        callbacks: JsValue,
        ttl_ms: u32,
        fire_and_forget: bool,
    ) -> Promise {
        let client = self.client.clone();
        let prepared =
            prepare_call(script, &args, &callbacks, ttl_ms, fire_and_forget).map(|mut c| {
                if self.print_particle_id {
                    c.on_particle = Some(Box::new(|id: &str| {
                        console_log2("Particle id:", id);
                    }));
                }
                c
            });
        future_to_promise(async move {
            let call = prepared?;
            match client.run(call).await {
                Ok(v) => Ok(to_js(&v)),
                Err(e) => Err(client_error(&e)),
            }
        })
    }

    /// Registers `handler(fnName, args, context)` for every function of `serviceId`
    /// (replacing an earlier one); it may return a value or a Promise.
    #[wasm_bindgen(js_name = registerService)]
    pub fn register_service(&self, service_id: String, handler: Function) {
        self.client
            .register_service(&service_id, js_handler(handler));
    }

    /// Removes a service registered with `registerService`; resolves with whether one was there.
    #[wasm_bindgen(js_name = removeService)]
    pub fn remove_service(&self, service_id: String) -> Promise {
        let client = self.client.clone();
        future_to_promise(async move {
            let removed = client
                .ask_peer(move |peer| peer.services.unregister(&service_id))
                .await
                .map_err(|e| client_error(&e))?;
            Ok(JsValue::from_bool(removed))
        })
    }

    /// Closes the relay connection; pending calls reject with `STOPPED`.
    pub fn disconnect(&self) -> Promise {
        let client = self.client.clone();
        future_to_promise(async move {
            client.disconnect().await;
            Ok(JsValue::UNDEFINED)
        })
    }
}

/// `{peerId, publicKey}` of the Ed25519 key with this 32-byte seed; `publicKey` is
/// libp2p-protobuf encoded (`08 01 12 20 ‖ key`), as js-client's `getPublicKey` returns it.
#[wasm_bindgen]
pub fn keypair_from_seed(seed: Uint8Array) -> Result<JsValue, JsValue> {
    let key = key_from_seed(&seed)?;
    let out = Object::new();
    set(
        &out,
        "peerId",
        &key.public().to_peer_id().to_base58().into(),
    );
    let pk = key.public().encode_protobuf();
    set(&out, "publicKey", &Uint8Array::from(pk.as_slice()).into());
    Ok(out.into())
}

/// The 64-byte Ed25519 signature of `data` with the key of `seed`.
#[wasm_bindgen]
pub fn sign_bytes(seed: Uint8Array, data: Uint8Array) -> Result<Uint8Array, JsValue> {
    let key = key_from_seed(&seed)?;
    let sig = key
        .sign(&data.to_vec())
        .map_err(|e| js_error("SIGN_FAILED", &e.to_string()))?;
    Ok(Uint8Array::from(sig.as_slice()))
}

/// Whether `signature` is `publicKey`'s (libp2p protobuf) signature of `data`.
#[wasm_bindgen]
pub fn verify_signature(
    public_key: Uint8Array,
    data: Uint8Array,
    signature: Uint8Array,
) -> Result<bool, JsValue> {
    let pk = PublicKey::try_decode_protobuf(&public_key.to_vec())
        .map_err(|e| js_error("BAD_KEY", &format!("invalid public key: {e}")))?;
    Ok(pk.verify(&data.to_vec(), &signature.to_vec()))
}

/// 32 random bytes: a fresh Ed25519 seed.
#[wasm_bindgen]
pub fn random_seed() -> Result<Uint8Array, JsValue> {
    let key = Keypair::generate_ed25519()
        .try_into_ed25519()
        .map_err(|e| js_error("BAD_KEY", &e.to_string()))?;
    Ok(Uint8Array::from(&key.secret().as_ref()[..32]))
}

fn lineage_particle_max_frame() -> usize {
    // js-client refuses frames over 4 MiB; ours take what the node sends (its cap).
    64 * 1024 * 1024
}

fn key_from_seed(seed: &Uint8Array) -> Result<Keypair, JsValue> {
    let bytes = seed.to_vec();
    if bytes.len() != 32 {
        return Err(js_error(
            "BAD_KEY",
            &format!("an Ed25519 seed is 32 bytes, got {}", bytes.len()),
        ));
    }
    Keypair::ed25519_from_bytes(bytes).map_err(|e| js_error("BAD_KEY", &e.to_string()))
}

fn prepare_call(
    script: String,
    args: &JsValue,
    callbacks: &JsValue,
    ttl_ms: u32,
    fire_and_forget: bool,
) -> Result<Call, JsValue> {
    let args: HashMap<String, Value> = if args.is_undefined() || args.is_null() {
        HashMap::new()
    } else {
        match from_js(args) {
            Ok(Value::Object(m)) => m.into_iter().collect(),
            Ok(_) => return Err(js_error("BAD_ARGUMENT", "args must be an object")),
            Err(e) => return Err(js_error("BAD_ARGUMENT", &format!("args: {e}"))),
        }
    };
    let mut handlers: HashMap<String, Handler> = HashMap::new();
    if callbacks.is_object() {
        for entry in Object::entries(&Object::from(callbacks.clone())).iter() {
            let pair = Array::from(&entry);
            let name = pair.get(0).as_string().unwrap_or_default();
            let f = pair.get(1);
            if !f.is_function() {
                return Err(js_error(
                    "BAD_ARGUMENT",
                    &format!("callback '{name}' is not a function"),
                ));
            }
            handlers.insert(name, js_handler(Function::from(f)));
        }
    }
    let mut call = Call::new(script, ttl_ms)
        .args(args)
        .fire_and_forget(fire_and_forget);
    call.callbacks = handlers;
    Ok(call)
}

/// A service handler calling the JS function `f(fnName, args, context)`; a returned Promise
/// is awaited by the host loop, a throw or rejection fails the call with its message.
fn js_handler(f: Function) -> Handler {
    Box::new(move |function: &str, args: Vec<Value>, ctx: &CallContext| {
        let out = f.call3(
            &JsValue::NULL,
            &JsValue::from_str(function),
            &to_js(&Value::Array(args)),
            &context_js(ctx),
        );
        match out {
            Err(e) => Answer::Now(Err(error_text(&e))),
            Ok(v) if v.is_instance_of::<Promise>() => {
                let pending = JsFuture::from(Promise::from(v));
                Answer::Later(Box::pin(async move {
                    match pending.await {
                        Ok(v) => from_js(&v),
                        Err(e) => Err(error_text(&e)),
                    }
                }))
            }
            Ok(v) => Answer::Now(from_js(&v)),
        }
    })
}

/// js-client's `ParticleContext`.
fn context_js(ctx: &CallContext) -> JsValue {
    let o = Object::new();
    set(&o, "particleId", &ctx.particle_id.as_str().into());
    set(&o, "initPeerId", &ctx.init_peer_id.to_base58().into());
    set(&o, "timestamp", &(ctx.timestamp as f64).into());
    set(&o, "ttl", &f64::from(ctx.ttl).into());
    set(
        &o,
        "signature",
        &Uint8Array::from(ctx.signature.as_slice()).into(),
    );
    let tetraplets: Value = ctx
        .tetraplets
        .iter()
        .map(|arg| {
            arg.iter()
                .map(|t| {
                    serde_json::json!({
                        "peer_pk": t.peer_pk, "service_id": t.service_id,
                        "function_name": t.function_name, "lens": t.lens,
                    })
                })
                .collect::<Value>()
        })
        .collect();
    set(&o, "tetraplets", &to_js(&tetraplets));
    o.into()
}

fn to_js(v: &Value) -> JsValue {
    JSON::parse(&v.to_string()).unwrap_or(JsValue::NULL)
}

fn from_js(v: &JsValue) -> Result<Value, String> {
    if v.is_undefined() {
        return Ok(Value::Null);
    }
    let text = JSON::stringify(v)
        .map_err(|e| format!("not JSON-serializable: {}", error_text(&e)))?
        .as_string()
        .unwrap_or_else(|| "null".into());
    serde_json::from_str(&text).map_err(|e| format!("not JSON: {e}"))
}

/// The message of a thrown value: `Error.message`, a string as is, anything else as JSON.
fn error_text(e: &JsValue) -> String {
    if let Some(err) = e.dyn_ref::<js_sys::Error>() {
        return String::from(err.message());
    }
    if let Some(s) = e.as_string() {
        return s;
    }
    JSON::stringify(e)
        .ok()
        .and_then(|s| s.as_string())
        .unwrap_or_else(|| "unknown error".into())
}

fn client_error(e: &ClientError) -> JsValue {
    let err = js_error(e.code(), &e.to_string());
    if let ClientError::Script(v) = e {
        set(&err, "value", &to_js(v));
        if let Some(m) = v.get("message").and_then(Value::as_str) {
            set(&err, "message", &m.into());
        }
    }
    err
}

fn get(o: &JsValue, key: &str) -> Option<JsValue> {
    if !o.is_object() {
        return None;
    }
    Reflect::get(o, &key.into())
        .ok()
        .filter(|v| !v.is_undefined() && !v.is_null())
}

fn number(o: &JsValue, key: &str) -> Option<f64> {
    get(o, key).and_then(|v| v.as_f64())
}

fn set(o: &JsValue, key: &str, v: &JsValue) {
    let _ = Reflect::set(o, &key.into(), v);
}

/// A JS `Error` with a `code` property.
pub(crate) fn js_error(code: &str, message: &str) -> JsValue {
    let err = js_sys::Error::new(message);
    let _ = Reflect::set(&err, &"code".into(), &code.into());
    err.into()
}
