//! Where the ledger keeps its state: a trait the node implements on redb and the browser can
//! implement on IndexedDB, and [`MemStore`] for tests and short-lived verifiers.
//!
//! Every write of one `publish` is one [`Batch`], committed atomically by [`Store::commit`]:
//! a store either has all of a transaction's blocks, rows and receipt, or none of them.

use std::collections::BTreeMap;
use std::sync::{Mutex, PoisonError};

use crate::types::{MetaContract, Metadata, Registry, Transaction, TransactionReceipt};

/// A storage failure (I/O, corruption, a poisoned lock), with context.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("store: {0}")]
pub struct StoreError(pub String);

impl StoreError {
    /// Wraps any error with what was being done.
    pub fn with(context: &str, e: impl std::fmt::Display) -> StoreError {
        StoreError(format!("{context}: {e}"))
    }
}

/// Identity of a record.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RecordKey {
    pub data_key: String,
    pub meta_contract_id: String,
    pub public_key: String,
    pub alias: String,
    pub version: String,
}

impl RecordKey {
    /// The key of a row.
    pub fn of(m: &Metadata) -> RecordKey {
        RecordKey {
            data_key: m.data_key.clone(),
            meta_contract_id: m.meta_contract_id.clone(),
            public_key: m.public_key.clone(),
            alias: m.alias.clone(),
            version: m.version.clone(),
        }
    }

    /// An unambiguous byte encoding (length-prefixed fields), usable as an ordered key: every
    /// record of one `data_key` shares the prefix [`RecordKey::data_key_prefix`].
    pub fn encode(&self) -> Vec<u8> {
        let mut out = RecordKey::data_key_prefix(&self.data_key);
        for f in [
            &self.meta_contract_id,
            &self.public_key,
            &self.alias,
            &self.version,
        ] {
            push(&mut out, f);
        }
        out
    }

    /// The prefix of every encoded key of `data_key`.
    pub fn data_key_prefix(data_key: &str) -> Vec<u8> {
        let mut out = Vec::with_capacity(64);
        push(&mut out, data_key);
        out
    }
}

fn push(out: &mut Vec<u8>, s: &str) {
    let len = u32::try_from(s.len()).unwrap_or(u32::MAX);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(s.as_bytes());
}

/// Everything one `publish` writes.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Batch {
    /// `(cid string, bytes)`.
    pub blocks: Vec<(String, Vec<u8>)>,
    /// Rows to insert or replace.
    pub records: Vec<Metadata>,
    pub transaction: Option<Transaction>,
    pub receipt: Option<TransactionReceipt>,
    /// Meta contracts to insert or replace (by id); the collection index follows `token_key`.
    pub contracts: Vec<MetaContract>,
    pub registry: Vec<Registry>,
}

/// The ledger's storage.
pub trait Store: Send + Sync {
    fn block(&self, cid: &str) -> Result<Option<Vec<u8>>, StoreError>;
    fn record(&self, key: &RecordKey) -> Result<Option<Metadata>, StoreError>;
    /// Every record of a token (all contracts, keys, aliases, versions), in key order.
    fn records_of(&self, data_key: &str) -> Result<Vec<Metadata>, StoreError>;
    /// Visits every record until `visit` returns false.
    fn scan_records(&self, visit: &mut dyn FnMut(&Metadata) -> bool) -> Result<(), StoreError>;
    fn transaction(&self, hash: &str) -> Result<Option<Transaction>, StoreError>;
    /// Visits every transaction until `visit` returns false.
    fn scan_transactions(
        &self,
        visit: &mut dyn FnMut(&Transaction) -> bool,
    ) -> Result<(), StoreError>;
    fn receipt(&self, hash: &str) -> Result<Option<TransactionReceipt>, StoreError>;
    fn contract(&self, meta_contract_id: &str) -> Result<Option<MetaContract>, StoreError>;
    fn contract_of_collection(&self, token_key: &str) -> Result<Option<MetaContract>, StoreError>;
    fn registry(&self, registry_id: &str) -> Result<Option<Registry>, StoreError>;
    fn registry_of_contract(&self, meta_contract_id: &str) -> Result<Vec<Registry>, StoreError>;
    /// Writes a batch atomically and durably.
    fn commit(&self, batch: Batch) -> Result<(), StoreError>;
}

#[derive(Default)]
struct Mem {
    blocks: BTreeMap<String, Vec<u8>>,
    records: BTreeMap<Vec<u8>, Metadata>,
    transactions: BTreeMap<String, Transaction>,
    receipts: BTreeMap<String, TransactionReceipt>,
    contracts: BTreeMap<String, MetaContract>,
    collections: BTreeMap<String, String>,
    registry: BTreeMap<String, Registry>,
}

/// An in-memory [`Store`].
///
/// ```
/// use lineage_metadata::store::{MemStore, Store};
/// let s = MemStore::default();
/// assert_eq!(s.block("bafkqaaa").unwrap(), None);
/// ```
#[derive(Default)]
pub struct MemStore(Mutex<Mem>);

fn poisoned<T>(_: PoisonError<T>) -> StoreError {
    StoreError("memory store lock poisoned".into())
}

impl Store for MemStore {
    fn block(&self, cid: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.0.lock().map_err(poisoned)?.blocks.get(cid).cloned())
    }
    fn record(&self, key: &RecordKey) -> Result<Option<Metadata>, StoreError> {
        Ok(self
            .0
            .lock()
            .map_err(poisoned)?
            .records
            .get(&key.encode())
            .cloned())
    }
    fn records_of(&self, data_key: &str) -> Result<Vec<Metadata>, StoreError> {
        let prefix = RecordKey::data_key_prefix(data_key);
        let m = self.0.lock().map_err(poisoned)?;
        Ok(m.records
            .range(prefix.clone()..)
            .take_while(|(k, _)| k.starts_with(&prefix))
            .map(|(_, v)| v.clone())
            .collect())
    }
    fn scan_records(&self, visit: &mut dyn FnMut(&Metadata) -> bool) -> Result<(), StoreError> {
        let m = self.0.lock().map_err(poisoned)?;
        for r in m.records.values() {
            if !visit(r) {
                break;
            }
        }
        Ok(())
    }
    fn transaction(&self, hash: &str) -> Result<Option<Transaction>, StoreError> {
        Ok(self
            .0
            .lock()
            .map_err(poisoned)?
            .transactions
            .get(hash)
            .cloned())
    }
    fn scan_transactions(
        &self,
        visit: &mut dyn FnMut(&Transaction) -> bool,
    ) -> Result<(), StoreError> {
        let m = self.0.lock().map_err(poisoned)?;
        for t in m.transactions.values() {
            if !visit(t) {
                break;
            }
        }
        Ok(())
    }
    fn receipt(&self, hash: &str) -> Result<Option<TransactionReceipt>, StoreError> {
        Ok(self.0.lock().map_err(poisoned)?.receipts.get(hash).cloned())
    }
    fn contract(&self, id: &str) -> Result<Option<MetaContract>, StoreError> {
        Ok(self.0.lock().map_err(poisoned)?.contracts.get(id).cloned())
    }
    fn contract_of_collection(&self, token_key: &str) -> Result<Option<MetaContract>, StoreError> {
        let m = self.0.lock().map_err(poisoned)?;
        Ok(m.collections
            .get(token_key)
            .and_then(|id| m.contracts.get(id))
            .cloned())
    }
    fn registry(&self, id: &str) -> Result<Option<Registry>, StoreError> {
        Ok(self.0.lock().map_err(poisoned)?.registry.get(id).cloned())
    }
    fn registry_of_contract(&self, id: &str) -> Result<Vec<Registry>, StoreError> {
        let m = self.0.lock().map_err(poisoned)?;
        Ok(m.registry
            .values()
            .filter(|r| r.meta_contract_id == id)
            .cloned()
            .collect())
    }
    fn commit(&self, b: Batch) -> Result<(), StoreError> {
        let mut m = self.0.lock().map_err(poisoned)?;
        for (cid, bytes) in b.blocks {
            m.blocks.insert(cid, bytes);
        }
        for r in b.records {
            m.records.insert(RecordKey::of(&r).encode(), r);
        }
        if let Some(t) = b.transaction {
            m.transactions.insert(t.hash.clone(), t);
        }
        if let Some(r) = b.receipt {
            m.receipts.insert(r.hash.clone(), r);
        }
        for c in b.contracts {
            if let Some(old) = m.contracts.get(&c.meta_contract_id).cloned() {
                if m.collections.get(&old.token_key) == Some(&old.meta_contract_id) {
                    m.collections.remove(&old.token_key);
                }
            }
            if !c.token_key.is_empty() {
                m.collections
                    .insert(c.token_key.clone(), c.meta_contract_id.clone());
            }
            m.contracts.insert(c.meta_contract_id.clone(), c);
        }
        for r in b.registry {
            m.registry.insert(r.registry_id.clone(), r);
        }
        Ok(())
    }
}
