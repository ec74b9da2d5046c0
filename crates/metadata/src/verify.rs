//! Checking a record's history without trusting whoever served it: every block's bytes hash
//! to its CID, every link points at the next block, every transaction hashes to what it claims
//! and carries a valid signature, and all versions belong to one record ([`verify_history`]);
//! and every version's content is what its meta contract writes when run again on the inputs the
//! block records ([`replay_history`]).

use std::collections::hash_map::{Entry, HashMap};

use cid::Cid;

use crate::block::{self, Block, BlockError, RAW};
use crate::contract;
use crate::keys;
use crate::sign::{self, SignatureError};

/// The first thing wrong with a history, naming the version (0 = newest).
#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    #[error("version {index} ({cid}): block missing")]
    Missing { index: usize, cid: String },
    #[error("version {index}: {source}")]
    Block {
        index: usize,
        #[source]
        source: BlockError,
    },
    #[error(
        "version {index} ({cid}): transaction hash {claimed} does not match its fields ({actual})"
    )]
    Hash {
        index: usize,
        cid: String,
        claimed: String,
        actual: String,
    },
    #[error("version {index} ({cid}): {source}")]
    Signature {
        index: usize,
        cid: String,
        #[source]
        source: SignatureError,
    },
    #[error("version {index} ({cid}): legacy (data-only) signature, not accepted")]
    Legacy { index: usize, cid: String },
    #[error("version {index} ({cid}): {what}")]
    Inconsistent {
        index: usize,
        cid: String,
        what: String,
    },
    #[error("history longer than {0} versions")]
    TooLong(usize),
}

fn identity(r: &crate::block::RecordRef) -> (&str, &str, &str, &str, &str) {
    (
        &r.data_key,
        &r.meta_contract_id,
        &r.public_key,
        &r.alias,
        &r.version,
    )
}

/// Verifies the history that ends at `head`, fetching blocks with `fetch`; returns the blocks
/// newest first.
///
/// ```
/// use lineage_metadata::verify::{verify_history, HistoryError};
/// let head: cid::Cid = "bafyreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku".parse().unwrap();
/// let r = verify_history(&head, |_| None, false, 10);
/// assert!(matches!(r, Err(HistoryError::Missing { index: 0, .. })));
/// ```
///
/// # Errors
/// The first [`HistoryError`] found.
pub fn verify_history(
    head: &Cid,
    mut fetch: impl FnMut(&Cid) -> Option<Vec<u8>>,
    allow_legacy: bool,
    max_versions: usize,
) -> Result<Vec<(Cid, Block)>, HistoryError> {
    let mut walk = HistoryWalk::new(*head, allow_legacy, max_versions);
    while walk.step(&mut fetch)? {}
    Ok(walk.into_versions())
}

/// [`verify_history`] one version at a time, newest first, for callers that pause between
/// versions (a page yielding to its event loop): each [`step`](Self::step) fetches and checks
/// the next older version.
///
/// ```
/// use lineage_metadata::verify::{HistoryError, HistoryWalk};
/// let head: cid::Cid = "bafyreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku".parse().unwrap();
/// let mut walk = HistoryWalk::new(head, false, 10);
/// assert!(matches!(walk.step(|_| None), Err(HistoryError::Missing { index: 0, .. })));
/// assert_eq!(walk.checked(), 0); // nothing is taken for checked that was not
/// ```
pub struct HistoryWalk {
    out: Vec<(Cid, Block)>,
    next: Option<Cid>,
    allow_legacy: bool,
    max_versions: usize,
}

impl HistoryWalk {
    /// A walk from `head`, accepting legacy (data-only) signatures if `allow_legacy`, and at
    /// most `max_versions` versions.
    pub fn new(head: Cid, allow_legacy: bool, max_versions: usize) -> Self {
        Self {
            out: Vec::new(),
            next: Some(head),
            allow_legacy,
            max_versions,
        }
    }

    /// How many versions are checked so far.
    pub fn checked(&self) -> usize {
        self.out.len()
    }

    /// Whether the walk reached the first version.
    pub fn is_done(&self) -> bool {
        self.next.is_none()
    }

    /// Checks the next older version, fetched with `fetch`; `Ok(true)` while older versions are
    /// left, `Ok(false)` once the first version is checked (and for any call after).
    ///
    /// # Errors
    /// What is wrong with that version, as a [`HistoryError`]; the walk stays at it.
    pub fn step(
        &mut self,
        mut fetch: impl FnMut(&Cid) -> Option<Vec<u8>>,
    ) -> Result<bool, HistoryError> {
        let Some(cid) = self.next else {
            return Ok(false);
        };
        let index = self.out.len();
        if index >= self.max_versions {
            return Err(HistoryError::TooLong(self.max_versions));
        }
        let c = cid.to_string();
        let bytes = fetch(&cid).ok_or_else(|| HistoryError::Missing {
            index,
            cid: c.clone(),
        })?;
        let block = Block::decode_checked(&cid, &bytes)
            .map_err(|source| HistoryError::Block { index, source })?;
        let t = &block.transaction;
        let req = t.to_request();
        let actual = sign::transaction_hash(&req);
        if actual != t.hash {
            return Err(HistoryError::Hash {
                index,
                cid: c,
                claimed: t.hash.clone(),
                actual,
            });
        }
        if t.legacy {
            if !self.allow_legacy {
                return Err(HistoryError::Legacy { index, cid: c });
            }
            sign::verify_legacy(&req)
        } else {
            sign::verify_strong(&req)
        }
        .map_err(|source| HistoryError::Signature {
            index,
            cid: c.clone(),
            source,
        })?;
        let inconsistent = |what: String| HistoryError::Inconsistent {
            index,
            cid: c.clone(),
            what,
        };
        let r = &block.record;
        if r.data_key != keys::data_key(&t.chain_id, &t.token_address, &t.token_id) {
            return Err(inconsistent(
                "record data_key is not the transaction's token".into(),
            ));
        }
        if r.meta_contract_id != t.meta_contract_id {
            return Err(inconsistent(
                "record meta_contract_id is not the transaction's".into(),
            ));
        }
        if let Some((_, newer)) = self.out.last() {
            if identity(&newer.record) != identity(r) {
                return Err(inconsistent(
                    "belongs to another record than the newer version".into(),
                ));
            }
            if newer.transaction.timestamp < t.timestamp {
                return Err(inconsistent("newer than the version after it".into()));
            }
        }
        // A strong signature names the head it was made over: for the signer's own record
        // that head is this block's predecessor.
        let own = r.public_key.eq_ignore_ascii_case(&t.public_key)
            && r.alias == t.alias
            && r.version == t.version;
        let prev = block.previous.map(|p| p.to_string()).unwrap_or_default();
        if !t.legacy && own && t.prev != prev {
            return Err(inconsistent(format!(
                "signed over head {:?} but links to {:?} (reordered or truncated history)",
                t.prev, prev
            )));
        }
        self.next = block.previous;
        self.out.push((cid, block));
        Ok(self.next.is_some())
    }

    /// The checked versions, newest first.
    pub fn versions(&self) -> &[(Cid, Block)] {
        &self.out
    }

    /// The checked versions, newest first, owned.
    pub fn into_versions(self) -> Vec<(Cid, Block)> {
        self.out
    }
}

/// The first version whose content its meta contract does not reproduce (0 = newest).
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error(
        "version {index} ({cid}): the block records no meta-contract inputs; it cannot be replayed"
    )]
    NoInputs { index: usize, cid: String },
    #[error("version {index} ({cid}): meta contract module {module} missing")]
    ModuleMissing {
        index: usize,
        cid: String,
        module: String,
    },
    #[error("version {index} ({cid}): meta contract module bytes hash to {actual}, not {module}")]
    ModuleMismatch {
        index: usize,
        cid: String,
        module: String,
        actual: String,
    },
    #[error("version {index} ({cid}): the recorded inputs are inconsistent: {what}")]
    Inputs {
        index: usize,
        cid: String,
        what: String,
    },
    #[error("version {index} ({cid}): the meta contract failed on replay: {reason}")]
    Contract {
        index: usize,
        cid: String,
        reason: String,
    },
    #[error("version {index} ({cid}): the meta contract {what}")]
    Mismatch {
        index: usize,
        cid: String,
        what: String,
    },
}

/// Reruns each version's meta contract (deterministically: the transaction's clock and seed, as
/// the node ran it) on the inputs its block records, and checks the contract accepts and writes
/// exactly this block's record and content. `blocks` are what [`verify_history`] returned
/// (newest first); `module` fetches a contract module's bytes by CID (checked here).
///
/// ```
/// use lineage_metadata::verify::replay_history;
/// // Nothing to replay: nothing wrong.
/// assert!(replay_history(&[], |_| None, &lineage_metadata::contract::default_limits()).is_ok());
/// ```
///
/// # Errors
/// The first [`ReplayError`] found.
pub fn replay_history(
    blocks: &[(Cid, Block)],
    module: impl FnMut(&Cid) -> Option<Vec<u8>>,
    limits: &lineage_marine::Limits,
) -> Result<(), ReplayError> {
    replay_history_with_progress(blocks, module, limits, |_| {})
}

/// [`replay_history`], calling `progress(n)` after each of the `blocks.len()` versions replayed
/// (`n` = how many so far).
///
/// # Errors
/// As [`replay_history`].
pub fn replay_history_with_progress(
    blocks: &[(Cid, Block)],
    mut module: impl FnMut(&Cid) -> Option<Vec<u8>>,
    limits: &lineage_marine::Limits,
    mut progress: impl FnMut(usize),
) -> Result<(), ReplayError> {
    let mut replayer = Replayer::new(limits.clone());
    for (index, (cid, block)) in blocks.iter().enumerate() {
        replayer.replay(index, cid, block, &mut module)?;
        progress(index + 1);
    }
    Ok(())
}

/// Replays versions one at a time, keeping each meta-contract module it has checked and
/// compiled for the versions after: what [`replay_history`] does in one call, for callers that
/// pause between versions (a page yielding to its event loop to repaint a progress bar).
///
/// ```
/// use lineage_metadata::{block::Block, verify::{Replayer, ReplayError}};
/// let mut replayer = Replayer::new(lineage_metadata::contract::default_limits());
/// let versions: Vec<(cid::Cid, Block)> = Vec::new(); // what `verify_history` returned
/// for (i, (cid, block)) in versions.iter().enumerate() {
///     replayer.replay(i, cid, block, |_| None)?; // …and yield between versions as you like
/// }
/// # Ok::<(), ReplayError>(())
/// ```
pub struct Replayer {
    limits: lineage_marine::Limits,
    compiled: HashMap<Cid, lineage_marine::CompiledModules>,
}

impl Replayer {
    /// A replayer running contracts under `limits` (the network's: [`contract::default_limits`]).
    pub fn new(limits: lineage_marine::Limits) -> Self {
        Self {
            limits,
            compiled: HashMap::new(),
        }
    }

    /// Replays version `index` (0 = newest; for the error's naming) with CID `cid` and block
    /// `b`, as [`replay_history`] does each; `module` fetches a contract module's bytes the
    /// first time the module is needed (its bytes are checked against its CID).
    ///
    /// # Errors
    /// What is wrong with this version, as a [`ReplayError`].
    pub fn replay(
        &mut self,
        index: usize,
        cid: &Cid,
        b: &Block,
        mut module: impl FnMut(&Cid) -> Option<Vec<u8>>,
    ) -> Result<(), ReplayError> {
        let c = cid.to_string();
        let inputs = b.inputs.as_ref().ok_or_else(|| ReplayError::NoInputs {
            index,
            cid: c.clone(),
        })?;
        let inconsistent = |what: String| ReplayError::Inputs {
            index,
            cid: c.clone(),
            what,
        };
        let t = &b.transaction;
        let tx = t.to_transaction();
        if inputs.contract.meta_contract_id.is_empty() {
            return Err(inconsistent("no meta contract id".into()));
        }
        // The contract's own record, as passed, must be this block's predecessor: the state
        // the chain says the record was in.
        let own_before = inputs.metadatas.iter().find(|m| {
            m.public_key == b.record.public_key
                && m.alias == b.record.alias
                && m.version == b.record.version
                && m.meta_contract_id == b.record.meta_contract_id
        });
        let prev = b.previous.map(|p| p.to_string());
        if own_before.map(|m| m.cid.clone()) != prev {
            return Err(inconsistent(format!(
                "the record's state given to the contract ({:?}) is not its previous version \
                 ({prev:?})",
                own_before.map(|m| &m.cid)
            )));
        }
        if inputs.metadatas.iter().any(|m| m.data_key != tx.data_key) {
            return Err(inconsistent("a record of another token was given".into()));
        }
        let module_cid: Cid = inputs.contract.cid.parse().map_err(|e| {
            inconsistent(format!(
                "module id {:?} is not a CID: {e}",
                inputs.contract.cid
            ))
        })?;
        let code = match self.compiled.entry(module_cid) {
            Entry::Occupied(e) => e.into_mut(),
            Entry::Vacant(e) => {
                let wasm = module(&module_cid).ok_or_else(|| ReplayError::ModuleMissing {
                    index,
                    cid: c.clone(),
                    module: inputs.contract.cid.clone(),
                })?;
                let actual = block::cid_of(RAW, &wasm);
                if actual.hash() != module_cid.hash() {
                    return Err(ReplayError::ModuleMismatch {
                        index,
                        cid: c.clone(),
                        module: inputs.contract.cid.clone(),
                        actual: actual.to_string(),
                    });
                }
                e.insert(contract::compile(&wasm, &self.limits).map_err(|err| {
                    ReplayError::Contract {
                        index,
                        cid: c.clone(),
                        reason: err.to_string(),
                    }
                })?)
            }
        };
        let result = contract::on_execute_compiled(
            code,
            &self.limits,
            &inputs.contract,
            &inputs.metadatas,
            &tx,
        )
        .map_err(|e| ReplayError::Contract {
            index,
            cid: c.clone(),
            reason: e.to_string(),
        })?;
        let mismatch = |what: String| ReplayError::Mismatch {
            index,
            cid: c.clone(),
            what,
        };
        if !result.result {
            return Err(mismatch(format!(
                "rejects the transaction on replay ({:?})",
                result.error_string
            )));
        }
        let written = result.metadatas.iter().find(|fm| {
            sign::canonical_key(&fm.public_key) == b.record.public_key
                && fm.alias == b.record.alias
                && fm.version == b.record.version
        });
        match written {
            None => return Err(mismatch("writes no such record on replay".into())),
            Some(fm) if block::content_value(&fm.content) != b.content => {
                return Err(mismatch(
                    "writes other content on replay than the block holds".into(),
                ))
            }
            Some(_) => {}
        }
        Ok(())
    }
}
