//! The node's metadata store on [redb](https://docs.rs/redb): an embedded, pure-Rust,
//! ACID key-value store. Chosen over SQLite (rusqlite) because it needs no C toolchain, commits
//! with fsync by default (a `kill -9` loses nothing acknowledged), has one writer at a time
//! (exactly one write transaction per publish) and — having no query language — cannot be
//! injected into: searches are allow-listed filters in `lineage_metadata::ledger`.
//!
//! Tables hold JSON rows (blocks as raw bytes) keyed by hash, CID or an encoded record key;
//! `meta.schema_version` names the layout.

use std::path::Path;

use lineage_metadata::store::{Batch, RecordKey, Store, StoreError};
use lineage_metadata::{MetaContract, Metadata, Registry, Transaction, TransactionReceipt};
use redb::{Database, ReadableTable, TableDefinition};
use serde::de::DeserializeOwned;

/// Layout version written at creation; a store with another version is refused.
pub const SCHEMA_VERSION: u64 = 1;

const META: TableDefinition<&str, u64> = TableDefinition::new("meta");
const BLOCKS: TableDefinition<&str, &[u8]> = TableDefinition::new("blocks");
const RECORDS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("records");
const TRANSACTIONS: TableDefinition<&str, &[u8]> = TableDefinition::new("transactions");
const RECEIPTS: TableDefinition<&str, &[u8]> = TableDefinition::new("receipts");
const CONTRACTS: TableDefinition<&str, &[u8]> = TableDefinition::new("contracts");
const COLLECTIONS: TableDefinition<&str, &str> = TableDefinition::new("collections");
const REGISTRY: TableDefinition<&str, &[u8]> = TableDefinition::new("registry");

/// A [`Store`] in one redb file.
pub struct RedbStore {
    db: Database,
}

fn row<T: DeserializeOwned>(bytes: &[u8], what: &str) -> Result<T, StoreError> {
    serde_json::from_slice(bytes).map_err(|e| StoreError::with(&format!("corrupt {what} row"), e))
}

fn json<T: serde::Serialize>(v: &T) -> Result<Vec<u8>, StoreError> {
    serde_json::to_vec(v).map_err(|e| StoreError::with("encode row", e))
}

impl RedbStore {
    /// Opens (or creates) the store at `path`, creating the tables and checking the schema.
    ///
    /// # Errors
    /// [`StoreError`] when the file can't be opened, is not a redb file, or has another schema.
    pub fn open(path: &Path) -> Result<RedbStore, StoreError> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)
                .map_err(|e| StoreError::with(&format!("create {}", dir.display()), e))?;
        }
        let db = Database::create(path)
            .map_err(|e| StoreError::with(&format!("open {}", path.display()), e))?;
        let w = db.begin_write().map_err(|e| StoreError::with("begin", e))?;
        {
            let mut meta = w
                .open_table(META)
                .map_err(|e| StoreError::with("meta", e))?;
            let found = meta
                .get("schema_version")
                .map_err(|e| StoreError::with("meta", e))?
                .map(|v| v.value());
            match found {
                None => {
                    meta.insert("schema_version", SCHEMA_VERSION)
                        .map_err(|e| StoreError::with("meta", e))?;
                }
                Some(SCHEMA_VERSION) => {}
                Some(other) => {
                    return Err(StoreError(format!(
                        "{} has schema version {other}; this node reads {SCHEMA_VERSION}",
                        path.display()
                    )))
                }
            }
            // Create every table so that reads never meet a missing one.
            w.open_table(BLOCKS)
                .map_err(|e| StoreError::with("blocks", e))?;
            w.open_table(RECORDS)
                .map_err(|e| StoreError::with("records", e))?;
            w.open_table(TRANSACTIONS)
                .map_err(|e| StoreError::with("transactions", e))?;
            w.open_table(RECEIPTS)
                .map_err(|e| StoreError::with("receipts", e))?;
            w.open_table(CONTRACTS)
                .map_err(|e| StoreError::with("contracts", e))?;
            w.open_table(COLLECTIONS)
                .map_err(|e| StoreError::with("collections", e))?;
            w.open_table(REGISTRY)
                .map_err(|e| StoreError::with("registry", e))?;
        }
        w.commit().map_err(|e| StoreError::with("commit", e))?;
        Ok(RedbStore { db })
    }

    /// `table` in a fresh read transaction (a consistent snapshot).
    fn read<K: redb::Key + 'static, V: redb::Value + 'static>(
        &self,
        table: TableDefinition<K, V>,
        what: &str,
    ) -> Result<redb::ReadOnlyTable<K, V>, StoreError> {
        let r = self
            .db
            .begin_read()
            .map_err(|e| StoreError::with(what, e))?;
        r.open_table(table).map_err(|e| StoreError::with(what, e))
    }

    fn get_json<T: DeserializeOwned>(
        &self,
        table: TableDefinition<&str, &[u8]>,
        key: &str,
        what: &str,
    ) -> Result<Option<T>, StoreError> {
        let t = self.read(table, what)?;
        match t.get(key).map_err(|e| StoreError::with(what, e))? {
            Some(v) => Ok(Some(row(v.value(), what)?)),
            None => Ok(None),
        }
    }

    /// Decodes every row of `table` in key order until `visit` returns false.
    fn scan_json<K: redb::Key + 'static, T: DeserializeOwned>(
        &self,
        table: TableDefinition<K, &[u8]>,
        what: &str,
        mut visit: impl FnMut(T) -> bool,
    ) -> Result<(), StoreError> {
        let t = self.read(table, what)?;
        for item in t.iter().map_err(|e| StoreError::with(what, e))? {
            let (_, v) = item.map_err(|e| StoreError::with(what, e))?;
            if !visit(row(v.value(), what)?) {
                break;
            }
        }
        Ok(())
    }
}

impl Store for RedbStore {
    fn block(&self, cid: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let t = self.read(BLOCKS, "block")?;
        Ok(t.get(cid)
            .map_err(|e| StoreError::with("block", e))?
            .map(|v| v.value().to_vec()))
    }

    fn record(&self, key: &RecordKey) -> Result<Option<Metadata>, StoreError> {
        let t = self.read(RECORDS, "record")?;
        match t
            .get(key.encode().as_slice())
            .map_err(|e| StoreError::with("record", e))?
        {
            Some(v) => Ok(Some(row(v.value(), "record")?)),
            None => Ok(None),
        }
    }

    fn records_of(&self, data_key: &str) -> Result<Vec<Metadata>, StoreError> {
        let prefix = RecordKey::data_key_prefix(data_key);
        let t = self.read(RECORDS, "records")?;
        let mut out = Vec::new();
        for item in t
            .range(prefix.as_slice()..)
            .map_err(|e| StoreError::with("records", e))?
        {
            let (k, v) = item.map_err(|e| StoreError::with("records", e))?;
            if !k.value().starts_with(&prefix) {
                break;
            }
            out.push(row(v.value(), "record")?);
        }
        Ok(out)
    }

    fn scan_records(&self, visit: &mut dyn FnMut(&Metadata) -> bool) -> Result<(), StoreError> {
        self.scan_json(RECORDS, "record", |m: Metadata| visit(&m))
    }

    fn transaction(&self, hash: &str) -> Result<Option<Transaction>, StoreError> {
        self.get_json(TRANSACTIONS, hash, "transaction")
    }

    fn scan_transactions(
        &self,
        visit: &mut dyn FnMut(&Transaction) -> bool,
    ) -> Result<(), StoreError> {
        self.scan_json(TRANSACTIONS, "transaction", |t: Transaction| visit(&t))
    }

    fn receipt(&self, hash: &str) -> Result<Option<TransactionReceipt>, StoreError> {
        self.get_json(RECEIPTS, hash, "receipt")
    }

    fn contract(&self, id: &str) -> Result<Option<MetaContract>, StoreError> {
        self.get_json(CONTRACTS, id, "contract")
    }

    fn contract_of_collection(&self, token_key: &str) -> Result<Option<MetaContract>, StoreError> {
        let id = self
            .read(COLLECTIONS, "collection")?
            .get(token_key)
            .map_err(|e| StoreError::with("collection", e))?
            .map(|v| v.value().to_string());
        match id {
            Some(id) => self.contract(&id),
            None => Ok(None),
        }
    }

    fn registry(&self, id: &str) -> Result<Option<Registry>, StoreError> {
        self.get_json(REGISTRY, id, "registry")
    }

    fn registry_of_contract(&self, id: &str) -> Result<Vec<Registry>, StoreError> {
        let mut out = Vec::new();
        self.scan_json(REGISTRY, "registry", |r: Registry| {
            if r.meta_contract_id == id {
                out.push(r);
            }
            true
        })?;
        Ok(out)
    }

    fn commit(&self, b: Batch) -> Result<(), StoreError> {
        let w = self
            .db
            .begin_write()
            .map_err(|e| StoreError::with("begin write", e))?;
        {
            let mut blocks = w
                .open_table(BLOCKS)
                .map_err(|e| StoreError::with("blocks", e))?;
            for (cid, bytes) in &b.blocks {
                blocks
                    .insert(cid.as_str(), bytes.as_slice())
                    .map_err(|e| StoreError::with("write block", e))?;
            }
            let mut records = w
                .open_table(RECORDS)
                .map_err(|e| StoreError::with("records", e))?;
            for r in &b.records {
                records
                    .insert(RecordKey::of(r).encode().as_slice(), json(r)?.as_slice())
                    .map_err(|e| StoreError::with("write record", e))?;
            }
            if let Some(t) = &b.transaction {
                w.open_table(TRANSACTIONS)
                    .map_err(|e| StoreError::with("transactions", e))?
                    .insert(t.hash.as_str(), json(t)?.as_slice())
                    .map_err(|e| StoreError::with("write transaction", e))?;
            }
            if let Some(r) = &b.receipt {
                w.open_table(RECEIPTS)
                    .map_err(|e| StoreError::with("receipts", e))?
                    .insert(r.hash.as_str(), json(r)?.as_slice())
                    .map_err(|e| StoreError::with("write receipt", e))?;
            }
            let mut contracts = w
                .open_table(CONTRACTS)
                .map_err(|e| StoreError::with("contracts", e))?;
            let mut collections = w
                .open_table(COLLECTIONS)
                .map_err(|e| StoreError::with("collections", e))?;
            for c in &b.contracts {
                let old: Option<MetaContract> = match contracts
                    .get(c.meta_contract_id.as_str())
                    .map_err(|e| StoreError::with("contract", e))?
                {
                    Some(v) => Some(row(v.value(), "contract")?),
                    None => None,
                };
                if let Some(old) = old {
                    let points_here = collections
                        .get(old.token_key.as_str())
                        .map_err(|e| StoreError::with("collection", e))?
                        .map(|v| v.value() == old.meta_contract_id)
                        .unwrap_or(false);
                    if points_here {
                        collections
                            .remove(old.token_key.as_str())
                            .map_err(|e| StoreError::with("collection", e))?;
                    }
                }
                if !c.token_key.is_empty() {
                    collections
                        .insert(c.token_key.as_str(), c.meta_contract_id.as_str())
                        .map_err(|e| StoreError::with("collection", e))?;
                }
                contracts
                    .insert(c.meta_contract_id.as_str(), json(c)?.as_slice())
                    .map_err(|e| StoreError::with("write contract", e))?;
            }
            let mut registry = w
                .open_table(REGISTRY)
                .map_err(|e| StoreError::with("registry", e))?;
            for r in &b.registry {
                registry
                    .insert(r.registry_id.as_str(), json(r)?.as_slice())
                    .map_err(|e| StoreError::with("write registry", e))?;
            }
        }
        w.commit().map_err(|e| StoreError::with("commit", e))
    }
}
