//! Signing Lineage transactions in the page: the bytes and typed data a signer signs, computed by
//! the same code the node verifies with (`lineage_metadata::sign`), so the two cannot drift.

use js_sys::{Object, Reflect, Uint8Array};
use lineage_metadata::sign::{self, Intent, KeyKind};
use lineage_metadata::TransactionRequest;
use wasm_bindgen::prelude::*;

use crate::js_error;

fn request(json: &str) -> Result<TransactionRequest, JsValue> {
    serde_json::from_str(json).map_err(|e| {
        js_error(
            "BAD_ARGUMENT",
            &format!("not a Lineage transaction request: {e}"),
        )
    })
}

fn signing_key(seed: &[u8]) -> Result<ed25519_dalek::SigningKey, JsValue> {
    let seed: [u8; 32] = seed.try_into().map_err(|_| {
        js_error(
            "BAD_ARGUMENT",
            &format!("an Ed25519 seed is 32 bytes, not {}", seed.len()),
        )
    })?;
    Ok(ed25519_dalek::SigningKey::from_bytes(&seed))
}

fn set(obj: &Object, key: &str, value: &JsValue) {
    // Setting a plain data property on a fresh object cannot fail.
    let _ = Reflect::set(obj, &key.into(), value);
}

/// What a transaction's signer signs: `{typedData, canonicalBytes, transactionHash, keyKind}`
/// for `requestJson` (a `TransactionRequest` as JSON; `public_key` may still be empty).
/// `typedData` is the EIP-712 JSON string `eth_signTypedData_v4` takes, `canonicalBytes` what an
/// Ed25519 key signs, `transactionHash` the hash the node will file it under (over the key's
/// canonical spelling), `keyKind` `"evm"` or `"ed25519"`. Throws `BAD_ARGUMENT`.
#[wasm_bindgen(js_name = signingPayload)]
pub fn signing_payload(request_json: &str) -> Result<Object, JsValue> {
    let mut req = request(request_json)?;
    req.public_key = sign::canonical_key(&req.public_key);
    let intent = Intent::of(&req);
    let out = Object::new();
    set(
        &out,
        "typedData",
        &sign::typed_data(&intent).to_string().into(),
    );
    set(
        &out,
        "canonicalBytes",
        &Uint8Array::from(sign::canonical_bytes(&intent).as_slice()).into(),
    );
    set(
        &out,
        "transactionHash",
        &sign::transaction_hash(&req).into(),
    );
    let kind = match sign::key_kind(&req.public_key) {
        KeyKind::Evm => "evm",
        KeyKind::Ed25519 => "ed25519",
    };
    set(&out, "keyKind", &kind.into());
    Ok(out)
}

/// `requestJson` signed in strong mode with the Ed25519 key of the 32-byte `seed`
/// (`KeyPair.toEd25519PrivateKey()`): `public_key` and `signature` filled in, as JSON.
/// Throws `BAD_ARGUMENT` for a malformed request or seed.
#[wasm_bindgen(js_name = signEd25519)]
pub fn sign_ed25519(request_json: &str, seed: &[u8]) -> Result<String, JsValue> {
    let mut req = request(request_json)?;
    sign::sign_ed25519(&mut req, &signing_key(seed)?);
    serde_json::to_string(&req).map_err(|e| js_error("BAD_ARGUMENT", &e.to_string()))
}

/// Checks `requestJson`'s signature against its `public_key`, as the node will — in strong mode,
/// or with `legacy` Lineage's form (over `data` only): throws `SIGNATURE_INVALID` (naming the
/// key) when it does not verify, `BAD_ARGUMENT` when the request is malformed. Lets a client
/// catch a wallet that signed with another account before anything is sent.
#[wasm_bindgen(js_name = checkSignature)]
pub fn check_signature(request_json: &str, legacy: bool) -> Result<(), JsValue> {
    let req = request(request_json)?;
    if legacy {
        sign::verify_legacy(&req)
    } else {
        sign::verify_strong(&req)
    }
    .map_err(|e| js_error("SIGNATURE_INVALID", &e.to_string()))
}

/// The Lineage `public_key` (base58 of the 32 raw bytes) of the Ed25519 key of the 32-byte
/// `seed`. Throws `BAD_ARGUMENT` for a seed of another length.
#[wasm_bindgen(js_name = ed25519PublicKey)]
pub fn ed25519_public_key(seed: &[u8]) -> Result<String, JsValue> {
    let key = signing_key(seed)?;
    Ok(bs58::encode(key.verifying_key().as_bytes()).into_string())
}
