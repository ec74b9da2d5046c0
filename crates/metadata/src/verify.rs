//! Checking a record's history without trusting whoever served it: every block's bytes hash
//! to its CID, every link points at the next block, every transaction hashes to what it claims
//! and carries a valid signature, and all versions belong to one record. (Replaying the meta
//! contract of each version is the browser verifier's next step and builds on this.)

use cid::Cid;

use crate::block::{Block, BlockError};
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
    let mut out: Vec<(Cid, Block)> = Vec::new();
    let mut next = Some(*head);
    while let Some(cid) = next.take() {
        let index = out.len();
        if index >= max_versions {
            return Err(HistoryError::TooLong(max_versions));
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
            if !allow_legacy {
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
        if let Some((_, newer)) = out.last() {
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
        next = block.previous;
        out.push((cid, block));
    }
    Ok(out)
}
