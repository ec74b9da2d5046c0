//! The records of the model (LINEAGE.md): requests, stored transactions, metadata rows, meta
//! contracts, the registry and receipts. Field names are Lineage's; what we add is marked.

use serde::{Deserialize, Serialize};

/// What a transaction does (`method`). Lineage also names `clone` and `cron`; the public node
/// never executes `clone` and `cron` needs a chain oracle, so both are refused here with
/// [`crate::PublishError::UnsupportedMethod`] instead of being stored and left pending.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Method {
    /// Writes metadata through a meta contract.
    Metadata,
    /// Binds a meta contract to a collection and/or registers a registry id.
    Contract,
}

impl Method {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Metadata => "metadata",
            Method::Contract => "contract",
        }
    }
}

/// A transaction as a client sends it (`publish`). All of Lineage's fields are strings; ours
/// adds `timestamp` (ms since the Unix epoch, chosen by the client and signed) and `prev` (the
/// head CID of the record the transaction writes, "" for a new one; signed).
///
/// ```
/// let req: lineage_metadata::TransactionRequest = serde_json::from_str(r#"{
///   "meta_contract_id": "open", "alias": "", "public_key": "0xabc", "signature": "0x00",
///   "data": "{}", "method": "metadata", "chain_id": "1", "token_address": "0xaa",
///   "token_id": "7", "version": "v1", "mcdata": ""
/// }"#).unwrap();
/// assert_eq!(req.timestamp, 0); // a Lineage-era request: valid in legacy mode only
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct TransactionRequest {
    pub meta_contract_id: String,
    pub alias: String,
    pub public_key: String,
    pub signature: String,
    pub data: String,
    pub method: String,
    pub chain_id: String,
    pub token_address: String,
    pub token_id: String,
    pub version: String,
    pub mcdata: String,
    /// Ours: client time in ms, signed; the node accepts it within its clock skew.
    pub timestamp: u64,
    /// Ours: the record's head CID the signer saw ("" = new record), signed.
    pub prev: String,
}

/// Receipt status: the transaction was applied.
pub const RECEIPT_SUCCESS: i64 = 1;
/// Receipt status: the transaction was rejected and wrote nothing but this receipt.
pub const RECEIPT_FAILED: i64 = 2;

/// A stored transaction: Lineage's columns plus the signature and `prev`, so that anyone can
/// re-check it later. `status` is 1 once processed (there is no pending state here: `publish`
/// validates synchronously).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transaction {
    pub hash: String,
    pub method: String,
    pub meta_contract_id: String,
    pub data_key: String,
    pub token_key: String,
    pub data: String,
    pub public_key: String,
    pub alias: String,
    pub timestamp: u64,
    pub chain_id: String,
    pub token_address: String,
    pub token_id: String,
    pub version: String,
    pub status: i64,
    pub mcdata: String,
    /// Ours.
    pub signature: String,
    /// Ours.
    pub prev: String,
}

/// A metadata record row; its identity is `(data_key, meta_contract_id, public_key, alias,
/// version)` and `cid` is its newest block.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Metadata {
    pub hash: String,
    pub token_key: String,
    pub data_key: String,
    pub meta_contract_id: String,
    pub token_id: String,
    pub alias: String,
    pub cid: String,
    pub public_key: String,
    pub version: String,
    pub loose: i64,
}

/// A meta contract bound to a collection (`token_key`, "" = unbound). `cid` is ours: the CID
/// (raw codec) of the contract's Wasm module, so a verifier can fetch and replay it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MetaContract {
    pub hash: String,
    pub token_key: String,
    pub meta_contract_id: String,
    pub public_key: String,
    pub cid: String,
}

/// A registry entry: a stable id (e.g. `0x01`) that points at a meta contract; only its owner
/// (`public_key`) may repoint it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Registry {
    pub registry_id: String,
    pub registry_name: String,
    pub meta_contract_id: String,
    pub public_key: String,
}

/// What a meta contract decides to write.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FinalMetadata {
    pub public_key: String,
    pub alias: String,
    pub content: String,
    pub loose: i64,
    pub version: String,
}

/// A meta contract's answer to `on_execute`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MetaContractResult {
    pub result: bool,
    pub metadatas: Vec<FinalMetadata>,
    pub error_string: String,
}

/// The outcome of a transaction, returned by `publish` and kept by hash.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransactionReceipt {
    pub hash: String,
    pub meta_contract_id: String,
    /// [`RECEIPT_SUCCESS`] or [`RECEIPT_FAILED`].
    pub status: i64,
    /// The transaction's (client) timestamp.
    pub timestamp: u64,
    pub error_text: String,
    /// On success: JSON `{"cids": [...]}` of the blocks written.
    pub data: String,
    /// Ours: true when the signature was accepted in legacy mode (it covers `data` only, so it
    /// could be replayed elsewhere).
    pub replayable: bool,
}

/// The `data` of a `contract` transaction (Lineage's `SerdeMetaContract`, plus `cid`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContractData {
    pub is_registry: bool,
    #[serde(default)]
    pub registry_id: String,
    #[serde(default)]
    pub registry_name: String,
    pub meta_contract_id: String,
    #[serde(default)]
    pub migrate_from: String,
    /// Ours: CID of the Wasm module (uploaded with `put_module`); required when the contract
    /// id is bound for the first time, optional (unchanged) afterwards.
    #[serde(default)]
    pub cid: String,
}
