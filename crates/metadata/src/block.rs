//! Blocks: one per content write, dag-cbor, CIDv1 sha2-256 (`bafyrei…`). A block holds only what
//! the transaction determines — no node clock, no node id — so every node and every browser
//! computes the same CID for the same write, and holds the whole signed transaction, so a
//! verifier can re-check the signature from the block alone.

use cid::Cid;
use multihash::Multihash;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::types::{MetaContract, Metadata, Transaction, TransactionRequest};

/// Multicodec of dag-cbor.
pub const DAG_CBOR: u64 = 0x71;
/// Multicodec of raw bytes (used for meta-contract modules).
pub const RAW: u64 = 0x55;
/// Multihash code of sha2-256.
pub const SHA2_256: u64 = 0x12;

/// CIDv1 of `bytes` under `codec`, sha2-256.
///
/// ```
/// let cid = lineage_metadata::block::cid_of(lineage_metadata::block::RAW, b"");
/// assert_eq!(cid.to_string(), "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku");
/// ```
pub fn cid_of(codec: u64, bytes: &[u8]) -> Cid {
    let digest = Sha256::digest(bytes);
    // A 32-byte digest always fits the 64-byte multihash.
    let mh = Multihash::<64>::wrap(SHA2_256, &digest).unwrap_or_default();
    Cid::new_v1(codec, mh)
}

/// The record a block belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordRef {
    pub data_key: String,
    pub meta_contract_id: String,
    pub public_key: String,
    pub alias: String,
    pub version: String,
    pub loose: i64,
}

/// The signed transaction as kept in a block: every field its signature covers, its key and
/// signature, and its hash.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedTransaction {
    pub hash: String,
    pub method: String,
    pub meta_contract_id: String,
    pub chain_id: String,
    pub token_address: String,
    pub token_id: String,
    pub alias: String,
    pub version: String,
    pub mcdata: String,
    pub data: String,
    pub prev: String,
    pub timestamp: u64,
    pub public_key: String,
    pub signature: String,
    /// True when the node accepted the signature in legacy (data-only) mode.
    pub legacy: bool,
}

impl SignedTransaction {
    /// The transaction as a meta contract's `on_execute` receives it (status 1, keys derived
    /// from the token): what the ledger passes, and what a verifier replays with.
    pub fn to_transaction(&self) -> Transaction {
        let data_key = if self.chain_id.is_empty()
            || self.token_address.is_empty()
            || self.token_id.is_empty()
        {
            String::new()
        } else {
            crate::keys::data_key(&self.chain_id, &self.token_address, &self.token_id)
        };
        let token_key = if self.chain_id.is_empty() || self.token_address.is_empty() {
            String::new()
        } else {
            crate::keys::token_key(&self.chain_id, &self.token_address)
        };
        Transaction {
            hash: self.hash.clone(),
            method: self.method.clone(),
            meta_contract_id: self.meta_contract_id.clone(),
            data_key,
            token_key,
            data: self.data.clone(),
            public_key: self.public_key.clone(),
            alias: self.alias.clone(),
            timestamp: self.timestamp,
            chain_id: self.chain_id.clone(),
            token_address: self.token_address.clone(),
            token_id: self.token_id.clone(),
            version: self.version.clone(),
            status: 1,
            mcdata: self.mcdata.clone(),
            signature: self.signature.clone(),
            prev: self.prev.clone(),
        }
    }

    /// The request this transaction was made from (for re-verifying its signature).
    pub fn to_request(&self) -> TransactionRequest {
        TransactionRequest {
            meta_contract_id: self.meta_contract_id.clone(),
            alias: self.alias.clone(),
            public_key: self.public_key.clone(),
            signature: self.signature.clone(),
            data: self.data.clone(),
            method: self.method.clone(),
            chain_id: self.chain_id.clone(),
            token_address: self.token_address.clone(),
            token_id: self.token_id.clone(),
            version: self.version.clone(),
            mcdata: self.mcdata.clone(),
            timestamp: self.timestamp,
            prev: self.prev.clone(),
        }
    }
}

/// What the meta contract was given when it wrote a block (ours; Lineage keeps no such thing):
/// with it a verifier reruns `on_execute` and checks the block's content came out of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContractInputs {
    /// The contract that ran; its `cid` names the module's bytes (raw codec).
    pub contract: MetaContract,
    /// The token's records at the transaction's version when it ran, as passed.
    pub metadatas: Vec<Metadata>,
}

/// One version of a record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Block {
    /// The content the meta contract wrote, as JSON (a non-JSON content is kept as a string).
    pub content: serde_json::Value,
    /// The record's previous version, `null` for the first.
    pub previous: Option<Cid>,
    pub record: RecordRef,
    pub transaction: SignedTransaction,
    /// The meta contract's inputs (absent in blocks written before nodes recorded them: such a
    /// version cannot be replayed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inputs: Option<ContractInputs>,
}

/// A block that cannot be encoded or decoded.
#[derive(Debug, thiserror::Error)]
pub enum BlockError {
    #[error("cannot encode block as dag-cbor: {0}")]
    Encode(String),
    #[error("block {cid} is not a Lineage dag-cbor block: {reason}")]
    Decode { cid: String, reason: String },
    #[error("block bytes hash to {actual}, not to the requested {expected}")]
    CidMismatch { expected: String, actual: String },
}

impl Block {
    /// Encodes the block; returns its CID and bytes.
    ///
    /// # Errors
    /// [`BlockError::Encode`] (a content value dag-cbor cannot hold).
    pub fn encode(&self) -> Result<(Cid, Vec<u8>), BlockError> {
        let bytes =
            serde_ipld_dagcbor::to_vec(self).map_err(|e| BlockError::Encode(e.to_string()))?;
        Ok((cid_of(DAG_CBOR, &bytes), bytes))
    }

    /// Decodes the bytes served for `cid`, checking first that they hash to it.
    ///
    /// # Errors
    /// [`BlockError::CidMismatch`] when the bytes are not the block named, [`BlockError::Decode`]
    /// when they are not a Lineage block.
    pub fn decode_checked(cid: &Cid, bytes: &[u8]) -> Result<Block, BlockError> {
        let actual = cid_of(cid.codec(), bytes);
        if cid.hash().code() != SHA2_256 || actual.hash() != cid.hash() {
            return Err(BlockError::CidMismatch {
                expected: cid.to_string(),
                actual: actual.to_string(),
            });
        }
        if cid.codec() != DAG_CBOR {
            return Err(BlockError::Decode {
                cid: cid.to_string(),
                reason: format!("codec 0x{:x} is not dag-cbor", cid.codec()),
            });
        }
        // Checked above: `cid` is the CIDv1 dag-cbor of these bytes, as `decode` names them.
        Block::decode(bytes)
    }

    /// Decodes block bytes without checking them against a CID (for reading links before
    /// verification, which checks every block anyway).
    ///
    /// # Errors
    /// [`BlockError::Decode`] when the bytes are not a Lineage block.
    pub fn decode(bytes: &[u8]) -> Result<Block, BlockError> {
        serde_ipld_dagcbor::from_slice(bytes).map_err(|e| BlockError::Decode {
            cid: cid_of(DAG_CBOR, bytes).to_string(),
            reason: e.to_string(),
        })
    }
}

/// The JSON a stored content string becomes in a block: parsed when it is JSON, else kept as a
/// JSON string (Lineage does the same).
pub fn content_value(content: &str) -> serde_json::Value {
    serde_json::from_str(content).unwrap_or_else(|_| serde_json::Value::String(content.into()))
}

/// The dag-json form of a dag-cbor block (what `GET /ipfs/<cid>?format=dag-json` serves).
///
/// # Errors
/// [`BlockError::Decode`] when the bytes are not dag-cbor.
pub fn to_dag_json(cid: &Cid, bytes: &[u8]) -> Result<Vec<u8>, BlockError> {
    let ipld: ipld_core::ipld::Ipld =
        serde_ipld_dagcbor::from_slice(bytes).map_err(|e| BlockError::Decode {
            cid: cid.to_string(),
            reason: e.to_string(),
        })?;
    let mut out = Vec::new();
    write_dag_json(&ipld, &mut out);
    Ok(out)
}

fn write_dag_json(v: &ipld_core::ipld::Ipld, out: &mut Vec<u8>) {
    use base64::Engine as _;
    use ipld_core::ipld::Ipld;
    let s = |out: &mut Vec<u8>, t: &str| {
        // serde_json writes a valid JSON string for any &str.
        out.extend_from_slice(serde_json::to_string(t).unwrap_or_default().as_bytes());
    };
    match v {
        Ipld::Null => out.extend_from_slice(b"null"),
        Ipld::Bool(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Ipld::Integer(i) => out.extend_from_slice(i.to_string().as_bytes()),
        Ipld::Float(f) => out.extend_from_slice(
            serde_json::to_string(f)
                .unwrap_or_else(|_| "null".into())
                .as_bytes(),
        ),
        Ipld::String(t) => s(out, t),
        Ipld::Bytes(b) => {
            out.extend_from_slice(b"{\"/\":{\"bytes\":");
            s(
                out,
                &base64::engine::general_purpose::STANDARD_NO_PAD.encode(b),
            );
            out.extend_from_slice(b"}}");
        }
        Ipld::List(l) => {
            out.push(b'[');
            for (i, x) in l.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_dag_json(x, out);
            }
            out.push(b']');
        }
        Ipld::Map(m) => {
            // dag-json sorts keys by their UTF-8 bytes.
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
            out.push(b'{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                s(out, k);
                out.push(b':');
                if let Some(x) = m.get(k) {
                    write_dag_json(x, out);
                }
            }
            out.push(b'}');
        }
        Ipld::Link(c) => {
            out.extend_from_slice(b"{\"/\":");
            s(out, &c.to_string());
            out.push(b'}');
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block(prev: Option<Cid>) -> Block {
        Block {
            content: serde_json::json!({"name": "a", "n": 1, "nested": {"z": [true, null], "a": 1.5}}),
            previous: prev,
            record: RecordRef {
                data_key: "dk".into(),
                meta_contract_id: "mc".into(),
                public_key: "pk".into(),
                alias: "".into(),
                version: "v".into(),
                loose: 0,
            },
            transaction: SignedTransaction {
                hash: "h".into(),
                timestamp: 5,
                ..Default::default()
            },
            inputs: None,
        }
    }

    #[test]
    fn encoding_is_deterministic_and_round_trips() {
        let (c1, b1) = block(None).encode().unwrap();
        let (c2, b2) = block(None).encode().unwrap();
        assert_eq!((c1, &b1), (c2, &b2));
        assert!(c1.to_string().starts_with("bafyrei"));
        let (c3, _) = block(Some(c1)).encode().unwrap();
        assert_ne!(c3, c1);
        assert_eq!(Block::decode_checked(&c1, &b1).unwrap(), block(None));
        let json = String::from_utf8(to_dag_json(&c1, &b1).unwrap()).unwrap();
        assert!(json.contains(r#""previous":null"#), "{json}");
        let (c4, b4) = block(Some(c1)).encode().unwrap();
        let json = String::from_utf8(to_dag_json(&c4, &b4).unwrap()).unwrap();
        assert!(
            json.contains(&format!(r#""previous":{{"/":"{c1}"}}"#)),
            "{json}"
        );
    }

    #[test]
    fn tampered_bytes_are_caught() {
        let (c, mut b) = block(None).encode().unwrap();
        let last = b.len() - 1;
        b[last] ^= 1;
        assert!(matches!(
            Block::decode_checked(&c, &b),
            Err(BlockError::CidMismatch { .. })
        ));
        let raw = cid_of(DAG_CBOR, b"\xff\xff");
        assert!(matches!(
            Block::decode_checked(&raw, b"\xff\xff"),
            Err(BlockError::Decode { .. })
        ));
    }

    #[test]
    fn non_json_content_stays_a_string() {
        assert_eq!(content_value("not json"), serde_json::json!("not json"));
        assert_eq!(content_value("[1]"), serde_json::json!([1]));
    }
}
