//! The `sig` builtin: signing with the peer's key, under nox's guard (its tests are with the
//! Marine host's, which they need to deploy a `registry`).

use serde_json::{json, Value};

use crate::builtins::{Args, R};
use crate::services::{CallContext, Services};

/// The (service, function) pairs whose results a client peer signs for its own particles
/// (js-client's default `sig` guard).
const CLIENT_SIGNABLE: &[(&str, &str)] = &[
    ("trust-graph", "get_trust_bytes"),
    ("trust-graph", "get_revocation_bytes"),
    ("registry", "get_key_bytes"),
    ("registry", "get_record_bytes"),
    ("registry", "get_record_metadata_bytes"),
    ("registry", "get_tombstone_bytes"),
];

/// Whether `sig.sign` may sign this call's data, and why not. Two rules, as the two
/// reference peers have them:
/// - js-client: the particle was started by this peer and the data came from one of
///   [`CLIENT_SIGNABLE`];
/// - nox: the data was produced on this peer by `registry.get_record_bytes` or
///   `registry.get_record_metadata_bytes`, whole (no lens), and that `registry` is a service
///   this peer itself owns.
///
/// Anything else — above all data a client made up, which would let it sign particles or
/// records in this peer's name — is refused.
fn may_sign(s: &Services, ctx: &CallContext) -> Result<(), String> {
    let own = s.peer_id;
    let Some([t]) = ctx.tetraplets.first().map(Vec::as_slice) else {
        return Err("data must come from exactly one service call".into());
    };
    let pair = (t.service_id.as_str(), t.function_name.as_str());
    if ctx.init_peer_id == own && CLIENT_SIGNABLE.contains(&pair) {
        return Ok(());
    }
    if t.peer_pk != own.to_base58() {
        return Err(format!(
            "data is expected to be produced by service 'registry' on peer '{own}', was from peer '{}'",
            t.peer_pk
        ));
    }
    if pair != ("registry", "get_record_bytes") && pair != ("registry", "get_record_metadata_bytes")
    {
        return Err(format!(
            "data is expected to result from a call to 'registry.get_record_bytes' or 'registry.get_record_metadata_bytes', was from '{}.{}'",
            t.service_id, t.function_name
        ));
    }
    if !t.lens.is_empty() {
        return Err("lens for data tetraplet is expected to be empty".into());
    }
    match s.marine.owner_of("registry") {
        Some(owner) if owner == own => Ok(()),
        _ => Err("no 'registry' service of this peer's own produced the data".into()),
    }
}

pub(crate) fn sig(s: &Services, function: &str, a: &Args, ctx: &CallContext) -> Option<R> {
    Some(match function {
        "get_peer_id" => Ok(Value::String(s.peer_id.to_base58())),
        "sign" => a.bytes(0).and_then(|data| {
            may_sign(s, ctx).map_err(|e| a.fail(e))?;
            Ok(match s.key.sign(&data) {
                Ok(sig) => json!({"success": true, "error": [], "signature": [sig]}),
                Err(e) => json!({"success": false, "error": [e.to_string()], "signature": []}),
            })
        }),
        "verify" => (|| {
            let sig = a.bytes(0)?;
            let data = a.bytes(1)?;
            Ok(json!(s.key.public().verify(&data, &sig)))
        })(),
        _ => return None,
    })
}
