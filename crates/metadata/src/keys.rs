//! Lineage's keys: base58btc (Bitcoin alphabet) of SHA-256 over lower-cased strings joined with
//! no separator, exactly as the public Lineage node computes them (notes/lineage.md §3.1).

use sha2::{Digest, Sha256};

fn b58_sha256(parts: &[&str]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p.as_bytes());
    }
    bs58::encode(h.finalize()).into_string()
}

/// The key of one token: `base58(sha256(lower(chain_id) ‖ lower(token_address) ‖ lower(token_id)))`.
///
/// ```
/// use lineage_metadata::data_key;
/// assert_eq!(
///     data_key("80001", "0x0692f233614802D06e86CBDE6b5D090A9F5d3c10", "1"),
///     "21d7zhefyND97abvvBwNp5AYP2geVxrboW44prVkXhmv"
/// );
/// ```
pub fn data_key(chain_id: &str, token_address: &str, token_id: &str) -> String {
    b58_sha256(&[
        &chain_id.to_lowercase(),
        &token_address.to_lowercase(),
        &token_id.to_lowercase(),
    ])
}

/// The key of a collection: `base58(sha256(lower(chain_id) ‖ lower(token_address)))`.
///
/// ```
/// use lineage_metadata::token_key;
/// assert_eq!(
///     token_key("80001", "0x0692f233614802D06e86CBDE6b5D090A9F5d3c10"),
///     "724Xu9NeKHoMvvBc7ov5VBmuLsj4S9QF1urnqGNPp7Vc"
/// );
/// ```
pub fn token_key(chain_id: &str, token_address: &str) -> String {
    b58_sha256(&[&chain_id.to_lowercase(), &token_address.to_lowercase()])
}

/// Hash of a record's identity, as Lineage stores it in `metadatas.hash`:
/// `base58(sha256(data_key ‖ meta_contract_id ‖ alias ‖ public_key ‖ version))`.
pub fn record_hash(
    data_key: &str,
    meta_contract_id: &str,
    alias: &str,
    public_key: &str,
    version: &str,
) -> String {
    b58_sha256(&[data_key, meta_contract_id, alias, public_key, version])
}

/// Hash of a meta-contract binding: `base58(sha256(token_key ‖ meta_contract_id ‖ public_key))`.
pub fn binding_hash(token_key: &str, meta_contract_id: &str, public_key: &str) -> String {
    b58_sha256(&[token_key, meta_contract_id, public_key])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_match_the_lineage_vector_and_ignore_case() {
        let a = "0x0692f233614802D06e86CBDE6b5D090A9F5d3c10";
        assert_eq!(
            data_key("80001", a, "1"),
            "21d7zhefyND97abvvBwNp5AYP2geVxrboW44prVkXhmv"
        );
        assert_eq!(
            token_key("80001", a),
            "724Xu9NeKHoMvvBc7ov5VBmuLsj4S9QF1urnqGNPp7Vc"
        );
        assert_eq!(
            data_key("80001", &a.to_lowercase(), "1"),
            data_key("80001", a, "1")
        );
        assert_ne!(data_key("80001", a, "2"), data_key("80001", a, "1"));
    }
}
