//! What a transaction's signature covers and how it is checked (docs/metadata-signing.md).
//!
//! **Strong mode** (default): the signature covers the whole intent — domain `lineage-tx-v1`,
//! method, meta_contract_id, chain_id, token_address, token_id, alias, version, mcdata, data,
//! prev and timestamp. `0x` keys (EVM addresses) sign it as EIP-712 typed data
//! ([`eip712_signing_hash`], [`typed_data`]); Ed25519 keys (base58) sign [`canonical_bytes`].
//!
//! **Legacy mode** (Lineage's, opt-in per node): only `data` is signed — EIP-191
//! `personal_sign` for `0x` keys, raw Ed25519 over `data` otherwise.

use alloy_primitives::{Address, Signature as EvmSignature, B256};
use alloy_sol_types::{eip712_domain, sol, Eip712Domain, SolStruct};
use ed25519_dalek::Signer;
use sha2::{Digest, Sha256};

use crate::types::TransactionRequest;

/// Domain string that starts the canonical bytes and names the EIP-712 domain's version line.
pub const DOMAIN: &str = "lineage-tx-v1";

sol! {
    /// The EIP-712 struct an EVM wallet signs (primary type `LineageTransaction`).
    #[derive(Debug, PartialEq, Eq)]
    struct LineageTransaction {
        string method;
        string meta_contract_id;
        string chain_id;
        string token_address;
        string token_id;
        string alias;
        string version;
        string mcdata;
        string data;
        string prev;
        uint64 timestamp;
    }
}

/// The EIP-712 domain: name `lineage-tx`, version `1`, no chain id (metadata is not tied to
/// the chain a wallet happens to be on; `chain_id` is a signed field instead).
pub const EIP712_DOMAIN: Eip712Domain = eip712_domain! {
    name: "lineage-tx",
    version: "1",
};

/// The signed part of a transaction (everything but the key and the signature).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Intent<'a> {
    pub method: &'a str,
    pub meta_contract_id: &'a str,
    pub chain_id: &'a str,
    pub token_address: &'a str,
    pub token_id: &'a str,
    pub alias: &'a str,
    pub version: &'a str,
    pub mcdata: &'a str,
    pub data: &'a str,
    pub prev: &'a str,
    pub timestamp: u64,
}

impl<'a> Intent<'a> {
    /// The intent a request claims.
    pub fn of(req: &'a TransactionRequest) -> Intent<'a> {
        Intent {
            method: &req.method,
            meta_contract_id: &req.meta_contract_id,
            chain_id: &req.chain_id,
            token_address: &req.token_address,
            token_id: &req.token_id,
            alias: &req.alias,
            version: &req.version,
            mcdata: &req.mcdata,
            data: &req.data,
            prev: &req.prev,
            timestamp: req.timestamp,
        }
    }

    fn fields(&self) -> [&'a str; 10] {
        [
            self.method,
            self.meta_contract_id,
            self.chain_id,
            self.token_address,
            self.token_id,
            self.alias,
            self.version,
            self.mcdata,
            self.data,
            self.prev,
        ]
    }
}

/// The bytes an Ed25519 key signs in strong mode: `DOMAIN`, then each field of [`Intent`] in
/// declaration order, every string as a 4-byte big-endian length and its UTF-8 bytes, then the
/// timestamp as 8 bytes big-endian. Length prefixes make the encoding injective (Lineage's
/// separator-less concatenation is not).
///
/// ```
/// use lineage_metadata::sign::{canonical_bytes, Intent};
/// let i = Intent { method: "metadata", meta_contract_id: "", chain_id: "", token_address: "",
///     token_id: "", alias: "", version: "", mcdata: "", data: "", prev: "", timestamp: 1 };
/// let b = canonical_bytes(&i);
/// assert_eq!(&b[..4], &13u32.to_be_bytes()); // "lineage-tx-v1"
/// assert_eq!(b.len(), 4 + 13 + 4 + 8 + 9 * 4 + 8);
/// ```
pub fn canonical_bytes(intent: &Intent<'_>) -> Vec<u8> {
    let mut out = Vec::with_capacity(128 + intent.data.len());
    push_str(&mut out, DOMAIN);
    for f in intent.fields() {
        push_str(&mut out, f);
    }
    out.extend_from_slice(&intent.timestamp.to_be_bytes());
    out
}

fn push_str(out: &mut Vec<u8>, s: &str) {
    // Strings longer than 4 GiB cannot reach here (the node caps request bodies far below);
    // saturate rather than wrap so that no two inputs could share an encoding silently.
    let len = u32::try_from(s.len()).unwrap_or(u32::MAX);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(s.as_bytes());
}

fn typed(intent: &Intent<'_>) -> LineageTransaction {
    LineageTransaction {
        method: intent.method.to_string(),
        meta_contract_id: intent.meta_contract_id.to_string(),
        chain_id: intent.chain_id.to_string(),
        token_address: intent.token_address.to_string(),
        token_id: intent.token_id.to_string(),
        alias: intent.alias.to_string(),
        version: intent.version.to_string(),
        mcdata: intent.mcdata.to_string(),
        data: intent.data.to_string(),
        prev: intent.prev.to_string(),
        timestamp: intent.timestamp,
    }
}

/// The 32-byte EIP-712 digest an EVM key signs in strong mode.
pub fn eip712_signing_hash(intent: &Intent<'_>) -> [u8; 32] {
    typed(intent).eip712_signing_hash(&EIP712_DOMAIN).0
}

/// The typed data as `eth_signTypedData_v4` takes it (`{types, primaryType, domain, message}`);
/// pass it as the second parameter, JSON-encoded. `timestamp` is a decimal string there.
pub fn typed_data(intent: &Intent<'_>) -> serde_json::Value {
    let field = |n: &str, t: &str| serde_json::json!({"name": n, "type": t});
    let mut fields: Vec<serde_json::Value> = [
        "method",
        "meta_contract_id",
        "chain_id",
        "token_address",
        "token_id",
        "alias",
        "version",
        "mcdata",
        "data",
        "prev",
    ]
    .iter()
    .map(|n| field(n, "string"))
    .collect();
    fields.push(field("timestamp", "uint64"));
    serde_json::json!({
        "types": {
            "EIP712Domain": [field("name", "string"), field("version", "string")],
            "LineageTransaction": fields,
        },
        "primaryType": "LineageTransaction",
        "domain": {"name": "lineage-tx", "version": "1"},
        "message": {
            "method": intent.method, "meta_contract_id": intent.meta_contract_id,
            "chain_id": intent.chain_id, "token_address": intent.token_address,
            "token_id": intent.token_id, "alias": intent.alias, "version": intent.version,
            "mcdata": intent.mcdata, "data": intent.data, "prev": intent.prev,
            "timestamp": intent.timestamp.to_string(),
        },
    })
}

/// The kind of key a `public_key` names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    /// `0x` + 40 hex digits: an EVM address (secp256k1).
    Evm,
    /// base58 of a 32-byte Ed25519 public key.
    Ed25519,
}

/// Lineage's rule: `0x…` is secp256k1 (an EVM address), anything else Ed25519.
pub fn key_kind(public_key: &str) -> KeyKind {
    if public_key.starts_with("0x") || public_key.starts_with("0X") {
        KeyKind::Evm
    } else {
        KeyKind::Ed25519
    }
}

/// The one spelling of a key the ledger stores and hashes: EVM addresses lower-cased, Ed25519
/// keys as they are.
///
/// ```
/// assert_eq!(lineage_metadata::sign::canonical_key("0xAbC"), "0xabc");
/// ```
pub fn canonical_key(public_key: &str) -> String {
    match key_kind(public_key) {
        KeyKind::Evm => public_key.to_ascii_lowercase(),
        KeyKind::Ed25519 => public_key.to_string(),
    }
}

/// How a signature was accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Accepted {
    /// Over the whole intent: single-use.
    Strong,
    /// Over `data` only (Lineage's form): replayable.
    Legacy,
}

/// A signature that does not verify, or a key or signature that cannot be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("public_key {key:?} is not {expected}")]
    MalformedKey { key: String, expected: &'static str },
    #[error("signature is not {expected}: {reason}")]
    MalformedSignature {
        expected: &'static str,
        reason: String,
    },
    #[error("signature does not match public_key {key} ({mode} mode)")]
    Mismatch { key: String, mode: &'static str },
}

fn evm_address(key: &str) -> Result<Address, SignatureError> {
    let malformed = || SignatureError::MalformedKey {
        key: key.to_string(),
        expected: "an EVM address (0x + 40 hex digits)",
    };
    if key.len() != 42 {
        return Err(malformed());
    }
    key.parse::<Address>().map_err(|_| malformed())
}

fn evm_signature(sig: &str) -> Result<EvmSignature, SignatureError> {
    let expected = "0x + 65 bytes of hex (r ‖ s ‖ v)";
    let hexpart = sig
        .strip_prefix("0x")
        .ok_or_else(|| SignatureError::MalformedSignature {
            expected,
            reason: "missing 0x".into(),
        })?;
    let bytes = hex::decode(hexpart).map_err(|e| SignatureError::MalformedSignature {
        expected,
        reason: e.to_string(),
    })?;
    if bytes.len() != 65 {
        return Err(SignatureError::MalformedSignature {
            expected,
            reason: format!("{} bytes", bytes.len()),
        });
    }
    EvmSignature::from_raw(&bytes).map_err(|e| SignatureError::MalformedSignature {
        expected,
        reason: e.to_string(),
    })
}

fn verify_evm(
    key: &str,
    sig: &str,
    digest: B256,
    mode: &'static str,
) -> Result<(), SignatureError> {
    let want = evm_address(key)?;
    let sig = evm_signature(sig)?;
    let got = sig
        .recover_address_from_prehash(&digest)
        .map_err(|_| SignatureError::Mismatch {
            key: key.to_string(),
            mode,
        })?;
    if got == want {
        Ok(())
    } else {
        Err(SignatureError::Mismatch {
            key: key.to_string(),
            mode,
        })
    }
}

fn ed25519_key(key: &str) -> Result<ed25519_dalek::VerifyingKey, SignatureError> {
    let malformed = || SignatureError::MalformedKey {
        key: key.to_string(),
        expected: "base58 of a 32-byte Ed25519 public key",
    };
    let bytes = bs58::decode(key).into_vec().map_err(|_| malformed())?;
    let arr: [u8; 32] = bytes.try_into().map_err(|_| malformed())?;
    ed25519_dalek::VerifyingKey::from_bytes(&arr).map_err(|_| malformed())
}

fn verify_ed25519(
    key: &str,
    sig: &str,
    msg: &[u8],
    mode: &'static str,
) -> Result<(), SignatureError> {
    let vk = ed25519_key(key)?;
    let expected = "base58 of 64 bytes";
    let bytes = bs58::decode(sig)
        .into_vec()
        .map_err(|e| SignatureError::MalformedSignature {
            expected,
            reason: e.to_string(),
        })?;
    let arr: [u8; 64] =
        bytes
            .try_into()
            .map_err(|b: Vec<u8>| SignatureError::MalformedSignature {
                expected,
                reason: format!("{} bytes", b.len()),
            })?;
    vk.verify_strict(msg, &ed25519_dalek::Signature::from_bytes(&arr))
        .map_err(|_| SignatureError::Mismatch {
            key: key.to_string(),
            mode,
        })
}

/// Checks a strong-mode signature.
///
/// # Errors
/// [`SignatureError`] for a malformed key or signature, or one made by another key or over
/// other fields.
pub fn verify_strong(req: &TransactionRequest) -> Result<(), SignatureError> {
    let intent = Intent::of(req);
    match key_kind(&req.public_key) {
        KeyKind::Evm => verify_evm(
            &req.public_key,
            &req.signature,
            B256::from(eip712_signing_hash(&intent)),
            "strong",
        ),
        KeyKind::Ed25519 => verify_ed25519(
            &req.public_key,
            &req.signature,
            &canonical_bytes(&intent),
            "strong",
        ),
    }
}

/// Checks a legacy (Lineage) signature over `data` only.
///
/// # Errors
/// As [`verify_strong`].
pub fn verify_legacy(req: &TransactionRequest) -> Result<(), SignatureError> {
    match key_kind(&req.public_key) {
        KeyKind::Evm => verify_evm(
            &req.public_key,
            &req.signature,
            alloy_primitives::eip191_hash_message(req.data.as_bytes()),
            "legacy",
        ),
        KeyKind::Ed25519 => verify_ed25519(
            &req.public_key,
            &req.signature,
            req.data.as_bytes(),
            "legacy",
        ),
    }
}

/// Checks the request's signature: strong first, then legacy when `allow_legacy`.
///
/// # Errors
/// The strong-mode error when neither form verifies (malformed input is reported as such).
pub fn verify_request(
    req: &TransactionRequest,
    allow_legacy: bool,
) -> Result<Accepted, SignatureError> {
    match verify_strong(req) {
        Ok(()) => Ok(Accepted::Strong),
        Err(e @ SignatureError::Mismatch { .. }) if allow_legacy => match verify_legacy(req) {
            Ok(()) => Ok(Accepted::Legacy),
            Err(_) => Err(e),
        },
        Err(e) => Err(e),
    }
}

/// A transaction's hash: `base58(sha256(canonical_bytes(intent) ‖ len ‖ public_key))` (the node
/// lower-cases an EVM `public_key` first) — every
/// signed field and the signer, not the signature. Two transactions with one hash are the same
/// transaction, so a node stores each at most once.
pub fn transaction_hash(req: &TransactionRequest) -> String {
    let mut bytes = canonical_bytes(&Intent::of(req));
    push_str(&mut bytes, &req.public_key);
    bs58::encode(Sha256::digest(&bytes)).into_string()
}

/// Signs `req` in strong mode with an Ed25519 key, filling `public_key` and `signature` (for
/// Rust clients and tests; browsers and wallets sign on their side).
///
/// ```
/// use lineage_metadata::{sign, TransactionRequest};
/// let key = ed25519_dalek::SigningKey::from_bytes(&[7; 32]);
/// let mut req = TransactionRequest { method: "metadata".into(), data: "{}".into(), timestamp: 1, ..Default::default() };
/// sign::sign_ed25519(&mut req, &key);
/// assert!(sign::verify_strong(&req).is_ok());
/// ```
pub fn sign_ed25519(req: &mut TransactionRequest, key: &ed25519_dalek::SigningKey) {
    req.public_key = bs58::encode(key.verifying_key().as_bytes()).into_string();
    let sig = key.sign(&canonical_bytes(&Intent::of(req)));
    req.signature = bs58::encode(sig.to_bytes()).into_string();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req() -> TransactionRequest {
        TransactionRequest {
            meta_contract_id: "open".into(),
            method: "metadata".into(),
            chain_id: "80001".into(),
            token_address: "0x0692f233614802D06e86CBDE6b5D090A9F5d3c10".into(),
            token_id: "1".into(),
            version: "v1".into(),
            data: r#"{"name":"a"}"#.into(),
            timestamp: 1_700_000_000_000,
            ..Default::default()
        }
    }

    #[test]
    fn ed25519_strong_binds_every_field() {
        let key = ed25519_dalek::SigningKey::from_bytes(&[1; 32]);
        let mut r = req();
        sign_ed25519(&mut r, &key);
        assert_eq!(verify_request(&r, false), Ok(Accepted::Strong));
        let tamper: [fn(&mut TransactionRequest); 11] = [
            |r| r.method = "contract".into(),
            |r| r.meta_contract_id.push('x'),
            |r| r.chain_id.push('1'),
            |r| r.token_address.push('a'),
            |r| r.token_id.push('2'),
            |r| r.alias.push('n'),
            |r| r.version.push('2'),
            |r| r.mcdata.push('{'),
            |r| r.data.push(' '),
            |r| r.prev.push('b'),
            |r| r.timestamp += 1,
        ];
        for (i, t) in tamper.iter().enumerate() {
            let mut bad = r.clone();
            t(&mut bad);
            assert!(
                matches!(verify_strong(&bad), Err(SignatureError::Mismatch { .. })),
                "field {i}"
            );
            assert_ne!(transaction_hash(&bad), transaction_hash(&r), "field {i}");
        }
    }

    #[test]
    fn shifted_boundaries_do_not_collide() {
        let mut a = req();
        a.alias = "ab".into();
        a.version = "c".into();
        let mut b = req();
        b.alias = "a".into();
        b.version = "bc".into();
        assert_ne!(
            canonical_bytes(&Intent::of(&a)),
            canonical_bytes(&Intent::of(&b))
        );
    }

    #[test]
    fn evm_strong_and_legacy_with_a_k256_key() {
        use k256::ecdsa::SigningKey;
        let sk = SigningKey::from_bytes(&[3u8; 32].into()).unwrap();
        let pk = sk.verifying_key().to_encoded_point(false);
        let addr = Address::from_raw_public_key(&pk.as_bytes()[1..]);
        let sign = |digest: [u8; 32]| {
            let (sig, rec) = sk.sign_prehash_recoverable(&digest).unwrap();
            let mut out = sig.to_bytes().to_vec();
            out.push(27 + rec.to_byte());
            format!("0x{}", hex::encode(out))
        };
        let mut r = req();
        r.public_key = addr.to_checksum(None);
        r.signature = sign(eip712_signing_hash(&Intent::of(&r)));
        assert_eq!(verify_request(&r, false), Ok(Accepted::Strong));
        // Lower-case address is the same key.
        r.public_key = r.public_key.to_lowercase();
        assert_eq!(verify_request(&r, false), Ok(Accepted::Strong));

        let mut l = req();
        l.public_key = r.public_key.clone();
        l.signature = sign(alloy_primitives::eip191_hash_message(l.data.as_bytes()).0);
        assert!(verify_request(&l, false).is_err(), "legacy off by default");
        assert_eq!(verify_request(&l, true), Ok(Accepted::Legacy));
        // Another key's signature.
        l.public_key = "0x000000000000000000000000000000000000dEaD".into();
        assert!(matches!(
            verify_request(&l, true),
            Err(SignatureError::Mismatch { .. })
        ));
    }

    #[test]
    fn malformed_inputs_are_typed_errors() {
        let mut r = req();
        for (k, s) in [
            ("0x12", "0x00"),
            ("0xzz92f233614802D06e86CBDE6b5D090A9F5d3c10", "0x00"),
            ("0x0692f233614802D06e86CBDE6b5D090A9F5d3c10", "00"),
            ("0x0692f233614802D06e86CBDE6b5D090A9F5d3c10", "0xnothex"),
            ("0x0692f233614802D06e86CBDE6b5D090A9F5d3c10", "0x0011"),
            ("notbase58!!", "x"),
            ("11111111111111111111111111111111", "0OIl"),
            ("11111111111111111111111111111111", "1111"),
        ] {
            r.public_key = k.into();
            r.signature = s.into();
            assert!(
                matches!(
                    verify_request(&r, true),
                    Err(SignatureError::MalformedKey { .. }
                        | SignatureError::MalformedSignature { .. })
                ),
                "{k} {s}: {:?}",
                verify_request(&r, true)
            );
        }
    }

    #[test]
    fn typed_data_json_hashes_like_the_struct() {
        // The JSON we hand wallets describes exactly the struct we hash.
        let r = req();
        let v = typed_data(&Intent::of(&r));
        let names: Vec<&str> = v["types"]["LineageTransaction"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["name"].as_str().unwrap())
            .collect();
        let encoded = LineageTransaction::eip712_encode_type();
        let expected = format!(
            "LineageTransaction({})",
            names
                .iter()
                .map(|n| format!(
                    "{} {n}",
                    if *n == "timestamp" {
                        "uint64"
                    } else {
                        "string"
                    }
                ))
                .collect::<Vec<_>>()
                .join(",")
        );
        assert_eq!(encoded, expected);
    }
}
