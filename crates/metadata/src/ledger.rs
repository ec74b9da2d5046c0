//! The publish/validate logic, independent of storage: [`Ledger::publish`] checks a
//! transaction completely before anything is written, runs its meta contract, and commits all
//! of its effects in one [`Batch`] — or rejects it.
//!
//! Two kinds of "no":
//! - a [`PublishError`] stores nothing (malformed, bad signature, clock skew, already
//!   published, stale `prev`, unknown meta contract): nobody can block a hash with a forgery;
//! - a *failed receipt* (status 2) is stored with the transaction when a validly signed
//!   transaction is refused by policy or by its meta contract (non-owner rebinding, registry
//!   hijack, a contract that rejects, traps, loops, exhausts memory or returns garbage). The
//!   transaction's hash is then used up, and the record is unchanged.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use lineage_marine::{CompiledModules, Limits};
use serde::{Deserialize, Serialize};

use crate::block::{self, Block, RecordRef, SignedTransaction};
use crate::contract::{self, ContractError};
use crate::keys;
use crate::sign::{self, Accepted, KeyKind, SignatureError};
use crate::store::{Batch, RecordKey, Store, StoreError};
use crate::types::*;

/// What a node accepts.
#[derive(Debug, Clone)]
pub struct LedgerConfig {
    /// Accept Lineage's data-only signatures (receipts marked replayable). Off by default.
    pub allow_legacy: bool,
    /// How far a strong-mode timestamp may be from the node's clock, either way.
    pub max_clock_skew_ms: u64,
    /// Limits of one meta-contract call.
    pub contract_limits: Limits,
    /// Largest `data`.
    pub max_data_bytes: usize,
    /// Largest of every other string field.
    pub max_field_bytes: usize,
    /// Most records one transaction may write.
    pub max_writes_per_tx: usize,
    /// Largest record content a contract may write.
    pub max_content_bytes: usize,
}

impl Default for LedgerConfig {
    fn default() -> Self {
        LedgerConfig {
            allow_legacy: false,
            max_clock_skew_ms: 5 * 60 * 1000,
            contract_limits: contract::default_limits(),
            max_data_bytes: 256 * 1024,
            max_field_bytes: 512,
            max_writes_per_tx: 64,
            max_content_bytes: 256 * 1024,
        }
    }
}

/// A transaction refused before anything was stored.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PublishError {
    #[error("invalid transaction: {0}")]
    Invalid(String),
    #[error("method {0:?} is not supported (metadata, contract)")]
    UnsupportedMethod(String),
    #[error(transparent)]
    Signature(#[from] SignatureError),
    #[error("timestamp {timestamp} is more than {skew_ms} ms from the node's clock ({now})")]
    ClockSkew {
        timestamp: u64,
        now: u64,
        skew_ms: u64,
    },
    #[error("transaction {0} was already published")]
    Duplicate(String),
    #[error(
        "prev {got:?} is not the record's current head {head:?}: sign again over the new head"
    )]
    StalePrev { got: String, head: String },
    #[error("no meta contract or registry id {0:?}")]
    UnknownMetaContract(String),
    #[error("module rejected: {0}")]
    Module(ContractError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl PublishError {
    /// A stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            PublishError::Invalid(_) => "invalid_transaction",
            PublishError::UnsupportedMethod(_) => "unsupported_method",
            PublishError::Signature(SignatureError::Mismatch { .. }) => "bad_signature",
            PublishError::Signature(_) => "malformed_signature",
            PublishError::ClockSkew { .. } => "clock_skew",
            PublishError::Duplicate(_) => "duplicate",
            PublishError::StalePrev { .. } => "stale_prev",
            PublishError::UnknownMetaContract(_) => "unknown_meta_contract",
            PublishError::Module(_) => "invalid_module",
            PublishError::Store(_) => "store",
        }
    }
}

/// A query term `{column, query, op}` (Lineage's shape).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Query {
    pub column: String,
    pub query: String,
    pub op: String,
}

/// An ordering term `{column, sort}`; sort is `asc` or `desc`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ordering {
    pub column: String,
    pub sort: String,
}

/// A search: terms joined with AND, orderings, then `from` (offset) and `to` (count; 0 = all,
/// capped at [`MAX_RESULTS`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Search {
    pub query: Vec<Query>,
    pub ordering: Vec<Ordering>,
    pub from: u32,
    pub to: u32,
}

/// Most rows one search returns.
pub const MAX_RESULTS: usize = 1000;
/// Most versions a history walk follows.
pub const MAX_HISTORY: usize = 100_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Like,
}

fn parse_op(op: &str) -> Result<Op, PublishError> {
    Ok(match op.trim().to_ascii_lowercase().as_str() {
        "=" | "==" | "" => Op::Eq,
        "!=" | "<>" => Op::Ne,
        "<" => Op::Lt,
        "<=" => Op::Le,
        ">" => Op::Gt,
        ">=" => Op::Ge,
        "like" => Op::Like,
        other => {
            return Err(PublishError::Invalid(format!(
                "operator {other:?} is not one of = != < <= > >= like"
            )))
        }
    })
}

/// A column value: text or integer (integers compare numerically).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Cell<'a> {
    Int(i64),
    Text(&'a str),
}

const METADATA_COLUMNS: &[&str] = &[
    "hash",
    "token_key",
    "data_key",
    "meta_contract_id",
    "token_id",
    "alias",
    "cid",
    "public_key",
    "version",
    "loose",
];

fn metadata_cell<'a>(m: &'a Metadata, column: &str) -> Option<Cell<'a>> {
    Some(match column {
        "hash" => Cell::Text(&m.hash),
        "token_key" => Cell::Text(&m.token_key),
        "data_key" => Cell::Text(&m.data_key),
        "meta_contract_id" => Cell::Text(&m.meta_contract_id),
        "token_id" => Cell::Text(&m.token_id),
        "alias" => Cell::Text(&m.alias),
        "cid" => Cell::Text(&m.cid),
        "public_key" => Cell::Text(&m.public_key),
        "version" => Cell::Text(&m.version),
        "loose" => Cell::Int(m.loose),
        _ => return None,
    })
}

const TRANSACTION_COLUMNS: &[&str] = &[
    "hash",
    "method",
    "meta_contract_id",
    "data_key",
    "token_key",
    "data",
    "public_key",
    "alias",
    "timestamp",
    "chain_id",
    "token_address",
    "token_id",
    "version",
    "status",
    "mcdata",
];

fn transaction_cell<'a>(t: &'a Transaction, column: &str) -> Option<Cell<'a>> {
    Some(match column {
        "hash" => Cell::Text(&t.hash),
        "method" => Cell::Text(&t.method),
        "meta_contract_id" => Cell::Text(&t.meta_contract_id),
        "data_key" => Cell::Text(&t.data_key),
        "token_key" => Cell::Text(&t.token_key),
        "data" => Cell::Text(&t.data),
        "public_key" => Cell::Text(&t.public_key),
        "alias" => Cell::Text(&t.alias),
        "timestamp" => Cell::Int(i64::try_from(t.timestamp).unwrap_or(i64::MAX)),
        "chain_id" => Cell::Text(&t.chain_id),
        "token_address" => Cell::Text(&t.token_address),
        "token_id" => Cell::Text(&t.token_id),
        "version" => Cell::Text(&t.version),
        "status" => Cell::Int(t.status),
        "mcdata" => Cell::Text(&t.mcdata),
        _ => return None,
    })
}

/// SQL `LIKE` semantics (`%` any run, `_` one character, case-insensitive for ASCII), matched
/// on characters: a value is only ever data.
fn like(value: &str, pattern: &str) -> bool {
    let v: Vec<char> = value.to_lowercase().chars().collect();
    let p: Vec<char> = pattern.to_lowercase().chars().collect();
    // Iterative wildcard match with backtracking on the last `%`.
    let (mut i, mut j) = (0usize, 0usize);
    let (mut star, mut mark) = (None::<usize>, 0usize);
    while i < v.len() {
        if j < p.len() && (p[j] == '_' || p[j] == v[i]) {
            i += 1;
            j += 1;
        } else if j < p.len() && p[j] == '%' {
            star = Some(j);
            mark = i;
            j += 1;
        } else if let Some(s) = star {
            j = s + 1;
            mark += 1;
            i = mark;
        } else {
            return false;
        }
    }
    while j < p.len() && p[j] == '%' {
        j += 1;
    }
    j == p.len()
}

struct Compiled {
    terms: Vec<(String, Op, String)>,
    order: Vec<(String, bool)>,
    from: usize,
    to: usize,
}

fn compile(s: &Search, columns: &[&str]) -> Result<Compiled, PublishError> {
    let col = |c: &str| -> Result<String, PublishError> {
        let c = c.trim();
        if columns.contains(&c) {
            Ok(c.to_string())
        } else {
            Err(PublishError::Invalid(format!(
                "column {c:?} is not one of {}",
                columns.join(", ")
            )))
        }
    };
    let mut terms = Vec::new();
    for q in &s.query {
        terms.push((col(&q.column)?, parse_op(&q.op)?, q.query.clone()));
    }
    let mut order = Vec::new();
    for o in &s.ordering {
        let desc = match o.sort.trim().to_ascii_lowercase().as_str() {
            "asc" | "" => false,
            "desc" => true,
            other => {
                return Err(PublishError::Invalid(format!(
                    "sort {other:?} is not asc or desc"
                )))
            }
        };
        order.push((col(&o.column)?, desc));
    }
    let to = if s.to == 0 {
        MAX_RESULTS
    } else {
        (s.to as usize).min(MAX_RESULTS)
    };
    Ok(Compiled {
        terms,
        order,
        from: s.from as usize,
        to,
    })
}

fn matches(cell: Option<Cell<'_>>, op: Op, q: &str) -> bool {
    let Some(cell) = cell else { return false };
    let want = match &cell {
        Cell::Int(_) => match q.trim().parse::<i64>() {
            Ok(n) => Cell::Int(n),
            Err(_) => return op == Op::Ne,
        },
        Cell::Text(_) => Cell::Text(q),
    };
    match op {
        Op::Eq => cell == want,
        Op::Ne => cell != want,
        Op::Lt => cell < want,
        Op::Le => cell <= want,
        Op::Gt => cell > want,
        Op::Ge => cell >= want,
        Op::Like => match cell {
            Cell::Text(t) => like(t, q),
            Cell::Int(n) => like(&n.to_string(), q),
        },
    }
}

fn run_search<T: Clone>(
    c: &Compiled,
    rows: Vec<T>,
    cell: for<'a> fn(&'a T, &str) -> Option<Cell<'a>>,
) -> Vec<T> {
    let mut rows: Vec<T> = rows
        .into_iter()
        .filter(|r| {
            c.terms
                .iter()
                .all(|(col, op, q)| matches(cell(r, col), *op, q))
        })
        .collect();
    if !c.order.is_empty() {
        rows.sort_by(|a, b| {
            for (col, desc) in &c.order {
                let o = cell(a, col).cmp(&cell(b, col));
                let o = if *desc { o.reverse() } else { o };
                if o != std::cmp::Ordering::Equal {
                    return o;
                }
            }
            std::cmp::Ordering::Equal
        });
    }
    rows.into_iter().skip(c.from).take(c.to).collect()
}

/// One version in a history walk.
#[derive(Debug, Clone, PartialEq)]
pub struct Version {
    pub cid: String,
    pub block: Block,
    /// The block as stored (dag-cbor), checked against `cid`.
    pub bytes: Vec<u8>,
}

/// The ledger: a store plus the rules.
///
/// ```
/// use lineage_metadata::{Ledger, LedgerConfig, store::MemStore};
/// let ledger = Ledger::new(MemStore::default(), LedgerConfig::default());
/// assert!(ledger.get_transaction("nope").unwrap().is_none());
/// ```
pub struct Ledger<S: Store> {
    store: S,
    config: LedgerConfig,
    write: Mutex<()>,
    /// Meta-contract modules compiled once, by module CID (modules are content-addressed, so an
    /// entry never goes stale); at most [`COMPILED_MODULES`], emptied when full.
    compiled: Mutex<HashMap<String, CompiledModules>>,
}

/// How many compiled meta-contract modules a ledger keeps.
const COMPILED_MODULES: usize = 16;

fn same_key(a: &str, b: &str) -> bool {
    match (sign::key_kind(a), sign::key_kind(b)) {
        (KeyKind::Evm, KeyKind::Evm) => a.eq_ignore_ascii_case(b),
        _ => a == b,
    }
}

fn loose_of(mcdata: &str) -> i64 {
    serde_json::from_str::<serde_json::Value>(mcdata)
        .ok()
        .and_then(|v| v.get("loose").and_then(|l| l.as_i64()))
        .map(|l| if l == 0 { 0 } else { 1 })
        .unwrap_or(1)
}

impl<S: Store> Ledger<S> {
    pub fn new(store: S, config: LedgerConfig) -> Ledger<S> {
        Ledger {
            store,
            config,
            write: Mutex::new(()),
            compiled: Mutex::new(HashMap::new()),
        }
    }

    pub fn store(&self) -> &S {
        &self.store
    }

    pub fn config(&self) -> &LedgerConfig {
        &self.config
    }

    fn check_shape(&self, req: &TransactionRequest) -> Result<Method, PublishError> {
        let method = match req.method.as_str() {
            "metadata" => Method::Metadata,
            "contract" => Method::Contract,
            other => return Err(PublishError::UnsupportedMethod(other.to_string())),
        };
        if req.data.len() > self.config.max_data_bytes {
            return Err(PublishError::Invalid(format!(
                "data is {} bytes; the limit is {}",
                req.data.len(),
                self.config.max_data_bytes
            )));
        }
        for (name, v) in [
            ("meta_contract_id", &req.meta_contract_id),
            ("alias", &req.alias),
            ("public_key", &req.public_key),
            ("signature", &req.signature),
            ("chain_id", &req.chain_id),
            ("token_address", &req.token_address),
            ("token_id", &req.token_id),
            ("version", &req.version),
            ("mcdata", &req.mcdata),
            ("prev", &req.prev),
        ] {
            if v.len() > self.config.max_field_bytes {
                return Err(PublishError::Invalid(format!(
                    "{name} is {} bytes; the limit is {}",
                    v.len(),
                    self.config.max_field_bytes
                )));
            }
        }
        if req.public_key.is_empty() {
            return Err(PublishError::Invalid("public_key is empty".into()));
        }
        if method == Method::Metadata {
            if req.meta_contract_id.is_empty() {
                return Err(PublishError::Invalid("meta_contract_id is empty".into()));
            }
            if req.chain_id.is_empty() || req.token_address.is_empty() || req.token_id.is_empty() {
                return Err(PublishError::Invalid(
                    "a metadata transaction needs chain_id, token_address and token_id".into(),
                ));
            }
        }
        Ok(method)
    }

    /// Validates and applies a transaction; returns its receipt (success, or failed with the
    /// reason — see the module docs for which refusals store a receipt).
    ///
    /// # Errors
    /// [`PublishError`] for a transaction refused before anything was stored.
    pub fn publish(
        &self,
        req: &TransactionRequest,
        now_ms: u64,
    ) -> Result<TransactionReceipt, PublishError> {
        let method = self.check_shape(req)?;
        let accepted = sign::verify_request(req, self.config.allow_legacy)?;
        let mut req = req.clone();
        match accepted {
            Accepted::Strong => {
                if req.timestamp.abs_diff(now_ms) > self.config.max_clock_skew_ms {
                    return Err(PublishError::ClockSkew {
                        timestamp: req.timestamp,
                        now: now_ms,
                        skew_ms: self.config.max_clock_skew_ms,
                    });
                }
            }
            Accepted::Legacy => {
                // Lineage's clients send no time; the node's clock stands in (receipts say
                // replayable).
                if req.timestamp == 0 {
                    req.timestamp = now_ms;
                }
            }
        }
        // One key, one spelling: the hash (and everything stored) uses the lower-cased address,
        // so re-sending a signature with the address in another case is still a duplicate.
        req.public_key = sign::canonical_key(&req.public_key);
        let hash = sign::transaction_hash(&req);
        let signer = req.public_key.clone();
        let signed = SignedTransaction {
            hash: hash.clone(),
            method: req.method.clone(),
            meta_contract_id: req.meta_contract_id.clone(),
            chain_id: req.chain_id.clone(),
            token_address: req.token_address.clone(),
            token_id: req.token_id.clone(),
            alias: req.alias.clone(),
            version: req.version.clone(),
            mcdata: req.mcdata.clone(),
            data: req.data.clone(),
            prev: req.prev.clone(),
            timestamp: req.timestamp,
            public_key: signer,
            signature: req.signature.clone(),
            legacy: accepted == Accepted::Legacy,
        };
        // One construction for the ledger and for verifiers replaying the block.
        let mut tx = signed.to_transaction();

        let _guard = self.write.lock().unwrap_or_else(PoisonError::into_inner);
        if self.store.transaction(&hash)?.is_some() {
            return Err(PublishError::Duplicate(hash));
        }
        let outcome = match method {
            Method::Metadata => self.apply_metadata(&mut tx, &signed, accepted)?,
            Method::Contract => self.apply_contract(&mut tx)?,
        };
        let (mut batch, receipt) = match outcome {
            Ok((batch, cids)) => {
                let receipt = TransactionReceipt {
                    hash: hash.clone(),
                    meta_contract_id: tx.meta_contract_id.clone(),
                    status: RECEIPT_SUCCESS,
                    timestamp: tx.timestamp,
                    error_text: String::new(),
                    data: serde_json::json!({ "cids": cids }).to_string(),
                    replayable: accepted == Accepted::Legacy,
                };
                (batch, receipt)
            }
            Err(reason) => (
                Batch::default(),
                TransactionReceipt {
                    hash: hash.clone(),
                    meta_contract_id: tx.meta_contract_id.clone(),
                    status: RECEIPT_FAILED,
                    timestamp: tx.timestamp,
                    error_text: reason,
                    data: String::new(),
                    replayable: accepted == Accepted::Legacy,
                },
            ),
        };
        batch.transaction = Some(tx);
        batch.receipt = Some(receipt.clone());
        self.store.commit(batch)?;
        Ok(receipt)
    }

    /// Resolves a metadata transaction's `meta_contract_id`: a contract id, else a registry id.
    fn resolve(&self, id: &str) -> Result<Option<MetaContract>, StoreError> {
        if let Some(c) = self.store.contract(id)? {
            return Ok(Some(c));
        }
        match self.store.registry(id)? {
            Some(r) => self.store.contract(&r.meta_contract_id),
            None => Ok(None),
        }
    }

    #[allow(clippy::type_complexity)]
    fn apply_metadata(
        &self,
        tx: &mut Transaction,
        signed: &SignedTransaction,
        accepted: Accepted,
    ) -> Result<Result<(Batch, Vec<String>), String>, PublishError> {
        let own = RecordKey {
            data_key: tx.data_key.clone(),
            meta_contract_id: tx.meta_contract_id.clone(),
            public_key: tx.public_key.clone(),
            alias: tx.alias.clone(),
            version: tx.version.clone(),
        };
        let head = self.store.record(&own)?.map(|m| m.cid).unwrap_or_default();
        if accepted == Accepted::Strong && head != tx.prev {
            return Err(PublishError::StalePrev {
                got: tx.prev.clone(),
                head,
            });
        }
        let contract = self
            .resolve(&tx.meta_contract_id)?
            .ok_or_else(|| PublishError::UnknownMetaContract(tx.meta_contract_id.clone()))?;
        let cached = self
            .compiled
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&contract.cid)
            .cloned();
        let code = match cached {
            Some(code) => code,
            None => {
                let Some(wasm) = self.store.block(&contract.cid)? else {
                    return Ok(Err(format!(
                        "module {} of meta contract {} is missing",
                        contract.cid, contract.meta_contract_id
                    )));
                };
                let code = match contract::compile(&wasm, &self.config.contract_limits) {
                    Ok(code) => code,
                    Err(e) => return Ok(Err(e.to_string())),
                };
                let mut cache = self.compiled.lock().unwrap_or_else(PoisonError::into_inner);
                if cache.len() >= COMPILED_MODULES {
                    cache.clear();
                }
                cache.insert(contract.cid.clone(), code.clone());
                code
            }
        };
        let metas: Vec<Metadata> = self
            .store
            .records_of(&tx.data_key)?
            .into_iter()
            .filter(|m| m.version == tx.version)
            .collect();
        tx.status = 1;
        let result = match contract::on_execute_compiled(
            &code,
            &self.config.contract_limits,
            &contract,
            &metas,
            tx,
        ) {
            Ok(r) => r,
            Err(e) => return Ok(Err(e.to_string())),
        };
        if !result.result {
            return Ok(Err(if result.error_string.is_empty() {
                "Metadata not updateable".to_string()
            } else {
                format!("meta contract rejected: {}", result.error_string)
            }));
        }
        if result.metadatas.len() > self.config.max_writes_per_tx {
            return Ok(Err(format!(
                "meta contract returned garbage: {} writes (limit {})",
                result.metadatas.len(),
                self.config.max_writes_per_tx
            )));
        }
        let loose = loose_of(&tx.mcdata);
        let mut batch = Batch::default();
        let mut cids = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for fm in &result.metadatas {
            let owner = sign::canonical_key(&fm.public_key);
            if !(same_key(&owner, &tx.public_key)
                || owner == contract.meta_contract_id
                || owner == tx.meta_contract_id)
            {
                return Ok(Err(format!(
                    "meta contract returned garbage: a write under key {:?}, which neither signed this transaction nor is the contract",
                    fm.public_key
                )));
            }
            if fm.alias.len() > self.config.max_field_bytes
                || fm.version.len() > self.config.max_field_bytes
            {
                return Ok(Err(
                    "meta contract returned garbage: alias or version over the field limit".into(),
                ));
            }
            if fm.content.len() > self.config.max_content_bytes {
                return Ok(Err(format!(
                    "meta contract returned garbage: content of {} bytes (limit {})",
                    fm.content.len(),
                    self.config.max_content_bytes
                )));
            }
            let key = RecordKey {
                data_key: tx.data_key.clone(),
                meta_contract_id: tx.meta_contract_id.clone(),
                public_key: owner.clone(),
                alias: fm.alias.clone(),
                version: fm.version.clone(),
            };
            if !seen.insert(key.clone()) {
                return Ok(Err(
                    "meta contract returned garbage: two writes to one record".into(),
                ));
            }
            let previous_row = self.store.record(&key)?;
            let previous = match previous_row.as_ref().map(|m| m.cid.parse::<cid::Cid>()) {
                None => None,
                Some(Ok(c)) => Some(c),
                Some(Err(e)) => {
                    return Err(PublishError::Store(StoreError::with(
                        "a record's head is not a CID",
                        e,
                    )))
                }
            };
            let blk = Block {
                content: block::content_value(&fm.content),
                previous,
                record: RecordRef {
                    data_key: key.data_key.clone(),
                    meta_contract_id: key.meta_contract_id.clone(),
                    public_key: key.public_key.clone(),
                    alias: key.alias.clone(),
                    version: key.version.clone(),
                    loose,
                },
                transaction: signed.clone(),
                inputs: Some(block::ContractInputs {
                    contract: contract.clone(),
                    metadatas: metas.clone(),
                }),
            };
            let (cid, bytes) = match blk.encode() {
                Ok(x) => x,
                Err(e) => return Ok(Err(format!("meta contract returned garbage: {e}"))),
            };
            let cid = cid.to_string();
            batch.records.push(Metadata {
                hash: keys::record_hash(
                    &key.data_key,
                    &key.meta_contract_id,
                    &key.alias,
                    &key.public_key,
                    &key.version,
                ),
                token_key: tx.token_key.clone(),
                data_key: key.data_key.clone(),
                meta_contract_id: key.meta_contract_id.clone(),
                token_id: tx.token_id.clone(),
                alias: key.alias.clone(),
                cid: cid.clone(),
                public_key: key.public_key.clone(),
                version: key.version.clone(),
                loose,
            });
            batch.blocks.push((cid.clone(), bytes));
            cids.push(cid);
        }
        Ok(Ok((batch, cids)))
    }

    #[allow(clippy::type_complexity)]
    fn apply_contract(
        &self,
        tx: &mut Transaction,
    ) -> Result<Result<(Batch, Vec<String>), String>, PublishError> {
        let data: ContractData = match serde_json::from_str(&tx.data) {
            Ok(d) => d,
            Err(e) => {
                return Ok(Err(format!(
                    "contract data is not {{is_registry, registry_id, registry_name, meta_contract_id, migrate_from, cid}}: {e}"
                )))
            }
        };
        // Lineage stores the contract id from `data`.
        tx.meta_contract_id = data.meta_contract_id.clone();
        let id = data.meta_contract_id.as_str();
        if id.is_empty() || id.len() > self.config.max_field_bytes {
            return Ok(Err("meta_contract_id must be 1..=512 bytes".into()));
        }
        if !data.migrate_from.is_empty() {
            return Ok(Err("migrate_from is not supported by this node".into()));
        }
        let signer = tx.public_key.clone();
        let existing = self.store.contract(id)?;
        if let Some(c) = &existing {
            if !same_key(&c.public_key, &signer) {
                return Ok(Err(format!(
                    "meta contract {id} belongs to another key: only its owner may rebind it"
                )));
            }
        } else if let Some(r) = self.store.registry(id)? {
            if !same_key(&r.public_key, &signer) {
                return Ok(Err(format!(
                    "{id} is a registry id of another key: a contract may not shadow it"
                )));
            }
        }
        let module_cid = if data.cid.is_empty() {
            match &existing {
                Some(c) => c.cid.clone(),
                None => {
                    return Ok(Err(format!(
                        "meta contract {id} is new: cid of its module (put_module) is required"
                    )))
                }
            }
        } else {
            data.cid.clone()
        };
        if module_cid != existing.as_ref().map(|c| c.cid.clone()).unwrap_or_default() {
            let Some(wasm) = self.store.block(&module_cid)? else {
                return Ok(Err(format!(
                    "module {module_cid} is unknown: upload it with put_module first"
                )));
            };
            if let Err(e) = contract::check_module(&wasm, &self.config.contract_limits) {
                return Ok(Err(e.to_string()));
            }
        }
        if !tx.token_key.is_empty() {
            if let Some(bound) = self.store.contract_of_collection(&tx.token_key)? {
                if bound.meta_contract_id != id && !same_key(&bound.public_key, &signer) {
                    return Ok(Err(format!(
                        "collection {} is bound to {} of another key: only that key may rebind it",
                        tx.token_key, bound.meta_contract_id
                    )));
                }
            }
        }
        let mut batch = Batch::default();
        batch.contracts.push(MetaContract {
            hash: keys::binding_hash(&tx.token_key, id, &signer),
            token_key: tx.token_key.clone(),
            meta_contract_id: id.to_string(),
            public_key: signer.clone(),
            cid: module_cid,
        });
        if data.is_registry {
            let rid = data.registry_id.as_str();
            if rid.is_empty() || rid.len() > self.config.max_field_bytes {
                return Ok(Err("registry_id must be 1..=512 bytes".into()));
            }
            if let Some(r) = self.store.registry(rid)? {
                if !same_key(&r.public_key, &signer) {
                    return Ok(Err(format!(
                        "registry id {rid} belongs to another key: only its owner may repoint it"
                    )));
                }
            }
            if let Some(c) = self.store.contract(rid)? {
                if !same_key(&c.public_key, &signer) {
                    return Ok(Err(format!(
                        "{rid} is a meta contract of another key: a registry id may not shadow it"
                    )));
                }
            }
            batch.registry.push(Registry {
                registry_id: rid.to_string(),
                registry_name: data.registry_name.clone(),
                meta_contract_id: id.to_string(),
                public_key: signer,
            });
        }
        Ok(Ok((batch, Vec::new())))
    }

    /// Stores a meta contract's Wasm module as a raw block after checking that it loads and
    /// exports `on_execute`; returns its CID (`bafkrei…`). Idempotent.
    ///
    /// # Errors
    /// [`PublishError::Module`], [`PublishError::Store`].
    pub fn put_module(&self, wasm: &[u8]) -> Result<String, PublishError> {
        contract::check_module(wasm, &self.config.contract_limits).map_err(PublishError::Module)?;
        let cid = block::cid_of(block::RAW, wasm).to_string();
        let _guard = self.write.lock().unwrap_or_else(PoisonError::into_inner);
        if self.store.block(&cid)?.is_none() {
            self.store.commit(Batch {
                blocks: vec![(cid.clone(), wasm.to_vec())],
                ..Batch::default()
            })?;
        }
        Ok(cid)
    }

    pub fn get_transaction(&self, hash: &str) -> Result<Option<Transaction>, PublishError> {
        Ok(self.store.transaction(hash)?)
    }

    pub fn get_receipt(&self, hash: &str) -> Result<Option<TransactionReceipt>, PublishError> {
        Ok(self.store.receipt(hash)?)
    }

    pub fn get_metadata(&self, key: &RecordKey) -> Result<Option<Metadata>, PublishError> {
        Ok(self.store.record(&normalized(key))?)
    }

    /// Rows of a token and version ("" = every version; Lineage's `get_metadatas`).
    pub fn get_metadatas(
        &self,
        data_key: &str,
        version: &str,
    ) -> Result<Vec<Metadata>, PublishError> {
        Ok(self
            .store
            .records_of(data_key)?
            .into_iter()
            .filter(|m| version.is_empty() || m.version == version)
            .take(MAX_RESULTS)
            .collect())
    }

    /// The versions of a record, newest first, following `previous` links.
    ///
    /// # Errors
    /// [`PublishError::Store`] when a block is missing or not a Lineage block.
    pub fn history(&self, head: &str) -> Result<Vec<Version>, PublishError> {
        let mut out = Vec::new();
        let mut next = Some(head.to_string());
        while let Some(cid) = next.take() {
            if out.len() >= MAX_HISTORY {
                break;
            }
            let c: cid::Cid = cid
                .parse()
                .map_err(|e| StoreError::with(&format!("history link {cid}"), e))?;
            let bytes = self
                .store
                .block(&cid)?
                .ok_or_else(|| StoreError(format!("history block {cid} is missing")))?;
            let block =
                Block::decode_checked(&c, &bytes).map_err(|e| StoreError::with("history", e))?;
            next = block.previous.map(|p| p.to_string());
            out.push(Version { cid, block, bytes });
        }
        Ok(out)
    }

    /// Searches records (`search_metadatas`) with allow-listed columns and operators.
    ///
    /// # Errors
    /// [`PublishError::Invalid`] for an unknown column, operator or sort.
    pub fn search_metadatas(&self, s: &Search) -> Result<Vec<Metadata>, PublishError> {
        let c = compile(s, METADATA_COLUMNS)?;
        // A data_key equality narrows the scan to one token's key range.
        let rows = match c
            .terms
            .iter()
            .find(|(col, op, _)| col == "data_key" && *op == Op::Eq)
        {
            Some((_, _, dk)) => self.store.records_of(dk)?,
            None => {
                let mut all = Vec::new();
                self.store.scan_records(&mut |m| {
                    all.push(m.clone());
                    true
                })?;
                all
            }
        };
        Ok(run_search(&c, rows, metadata_cell))
    }

    /// Searches transactions (`get_transactions`); default order: newest first.
    ///
    /// # Errors
    /// [`PublishError::Invalid`] for an unknown column, operator or sort.
    pub fn search_transactions(&self, s: &Search) -> Result<Vec<Transaction>, PublishError> {
        let mut s = s.clone();
        if s.ordering.is_empty() {
            s.ordering.push(Ordering {
                column: "timestamp".into(),
                sort: "desc".into(),
            });
        }
        let c = compile(&s, TRANSACTION_COLUMNS)?;
        let mut all = Vec::new();
        self.store.scan_transactions(&mut |t| {
            all.push(t.clone());
            true
        })?;
        Ok(run_search(&c, all, transaction_cell))
    }
}

fn normalized(k: &RecordKey) -> RecordKey {
    RecordKey {
        public_key: sign::canonical_key(&k.public_key),
        ..k.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_is_a_wildcard_match_not_sql() {
        assert!(like("Hello", "h%"));
        assert!(like("hello", "%ll%"));
        assert!(like("hello", "h_llo"));
        assert!(!like("hello", "h_lo"));
        assert!(like("' OR 1=1 --", "' or 1=1 --"));
        assert!(!like("x", "' OR '1'='1"));
        assert!(like("", "%"));
    }

    #[test]
    fn unknown_columns_and_operators_are_refused() {
        let bad_col = Search {
            query: vec![Query {
                column: "1=1; DROP TABLE metadatas".into(),
                query: "x".into(),
                op: "=".into(),
            }],
            ..Default::default()
        };
        assert!(matches!(
            compile(&bad_col, METADATA_COLUMNS),
            Err(PublishError::Invalid(_))
        ));
        let bad_op = Search {
            query: vec![Query {
                column: "alias".into(),
                query: "x".into(),
                op: "= 'x' OR 1=1 --".into(),
            }],
            ..Default::default()
        };
        assert!(matches!(
            compile(&bad_op, METADATA_COLUMNS),
            Err(PublishError::Invalid(_))
        ));
    }
}
