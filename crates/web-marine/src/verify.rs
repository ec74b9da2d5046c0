//! `verifyHistory`: checks a record's history in the page, trusting nobody who served it.

use std::collections::HashMap;

use cid::Cid;
use js_sys::{Array, Map, Reflect, Uint8Array};
use lineage_metadata::block::Block;
use lineage_metadata::verify::{HistoryError, HistoryWalk, ReplayError, Replayer};
use serde_json::json;
use wasm_bindgen::prelude::*;

use crate::js_error;

/// How often (in versions) `verifyHistory` reports progress.
pub const PROGRESS_EVERY: usize = 100;

/// Verifies the history ending at `head` (a CID string) from `blocks` (a `Map` of CID string →
/// `Uint8Array`: the record's blocks and its meta contract's module), and returns the report
/// as JSON: `{head, versions: [{cid, content, record, transaction, replayed}]}`, newest first.
///
/// Every block's bytes must hash to its CID, every transaction to its hash and carry a valid
/// signature, the links must form one record's history, and — unless `options.replay` is
/// `false` — each version's meta contract, rerun deterministically on the inputs its block
/// records, must write exactly that version's content. `options`: `{replay?: boolean,
/// allowLegacy?: boolean, maxVersions?: number, onProgress?: function}` (defaults true, false,
/// 10 000). `onProgress({phase, done, total?})` is called every [`PROGRESS_EVERY`] versions and
/// at the end of each phase: `check` (hashes, signatures, links; `total` once known) and
/// `replay`; what it throws is ignored. All in one call: [`HistoryVerifier`] does the same in
/// steps, so that a page can yield between them.
///
/// Throws an `Error` with `code` `HISTORY_INVALID` or `REPLAY_FAILED` and `index` (0 = newest)
/// and `cid` of the first bad version, or `BAD_ARGUMENT`.
#[wasm_bindgen(js_name = verifyHistory)]
pub fn verify_history_js(head: &str, blocks: &Map, options: JsValue) -> Result<String, JsValue> {
    let on_progress = progress_callback(&options);
    let mut verifier = HistoryVerifier::new(head, blocks, options)?;
    while !verifier.check_done() {
        let done = verifier.check(PROGRESS_EVERY)?;
        let total = verifier.check_done().then_some(done);
        report_progress(on_progress.as_ref(), "check", done, total);
    }
    let total = verifier.total()?;
    while verifier.replayed() < total {
        let done = verifier.replay(PROGRESS_EVERY)?;
        report_progress(on_progress.as_ref(), "replay", done, Some(total));
    }
    verifier.report()
}

/// `verifyHistory` in steps, so that the caller can yield to its event loop between them:
/// `check(count)` checks up to `count` more versions (hashes, signatures, links; newest first)
/// until `checkDone`, then `replay(count)` reruns their meta contract until `replayed ===
/// total`, then `report()`. The constructor takes `verifyHistory`'s arguments (its
/// `onProgress` is not called: the caller knows the progress).
///
/// ```js
/// const v = new HistoryVerifier(head, blocks, {});
/// try {
///   while (!v.checkDone) { v.check(20); await yieldToEventLoop(); }
///   while (v.replayed < v.total) { v.replay(20); await yieldToEventLoop(); }
///   const report = JSON.parse(v.report());
/// } finally { v.free(); }
/// ```
#[wasm_bindgen]
pub struct HistoryVerifier {
    by_cid: HashMap<String, Vec<u8>>,
    walk: HistoryWalk,
    head: Cid,
    /// `None` when the options turned replaying off.
    replayer: Option<Replayer>,
    replayed: usize,
}

#[wasm_bindgen]
impl HistoryVerifier {
    /// Takes the history ending at `head` in `blocks` (see `verifyHistory`; the blocks are
    /// copied). Throws `BAD_ARGUMENT`.
    #[wasm_bindgen(constructor)]
    pub fn new(head: &str, blocks: &Map, options: JsValue) -> Result<HistoryVerifier, JsValue> {
        let head: Cid = head
            .parse()
            .map_err(|e| js_error("BAD_ARGUMENT", &format!("head {head:?} is not a CID: {e}")))?;
        let flag = |key: &str, default: bool| {
            Reflect::get(&options, &key.into())
                .ok()
                .and_then(|v| v.as_bool())
                .unwrap_or(default)
        };
        let (replay, allow_legacy) = if options.is_object() {
            (flag("replay", true), flag("allowLegacy", false))
        } else {
            (true, false)
        };
        let max_versions = Reflect::get(&options, &"maxVersions".into())
            .ok()
            .and_then(|v| v.as_f64())
            .map_or(10_000, |n| n.max(1.0) as usize);
        let mut by_cid: HashMap<String, Vec<u8>> = HashMap::new();
        let mut bad = None;
        blocks.for_each(
            &mut |value, key| match (key.as_string(), value.dyn_into::<Uint8Array>()) {
                (Some(k), Ok(v)) => {
                    by_cid.insert(k, v.to_vec());
                }
                _ => bad = Some("blocks must map CID strings to Uint8Array"),
            },
        );
        if let Some(why) = bad {
            return Err(js_error("BAD_ARGUMENT", why));
        }
        Ok(HistoryVerifier {
            by_cid,
            walk: HistoryWalk::new(head, allow_legacy, max_versions),
            head,
            replayer: replay.then(|| Replayer::new(lineage_metadata::contract::default_limits())),
            replayed: 0,
        })
    }

    /// Checks up to `count` more versions and returns how many are checked so far. Throws
    /// `HISTORY_INVALID` with `index` and `cid` of the first bad version (calling again checks
    /// it again).
    pub fn check(&mut self, count: usize) -> Result<usize, JsValue> {
        let by_cid = &self.by_cid;
        for _ in 0..count {
            let more = self
                .walk
                .step(|c: &Cid| by_cid.get(&c.to_string()).cloned())
                .map_err(|e| {
                    let (index, cid) = history_at(&e);
                    located("HISTORY_INVALID", &e.to_string(), index, cid)
                })?;
            if !more {
                break;
            }
        }
        Ok(self.walk.checked())
    }

    /// Whether every version is checked (the walk reached the first one).
    #[wasm_bindgen(getter = checkDone)]
    pub fn check_done(&self) -> bool {
        self.walk.is_done()
    }

    /// How many versions the history has. Throws `BAD_ARGUMENT` until `checkDone`.
    #[wasm_bindgen(getter)]
    pub fn total(&self) -> Result<usize, JsValue> {
        self.checked_versions().map(<[_]>::len)
    }

    /// How many versions have been replayed (all of them once checked, when replaying is off).
    #[wasm_bindgen(getter)]
    pub fn replayed(&self) -> usize {
        match (&self.replayer, self.walk.is_done()) {
            (None, true) => self.walk.checked(),
            _ => self.replayed,
        }
    }

    /// Replays up to `count` more versions (once `checkDone`) and returns how many are replayed
    /// so far. Throws `REPLAY_FAILED` with `index` and `cid` of the version that does not replay
    /// (calling again tries it again), `BAD_ARGUMENT` before `checkDone`.
    pub fn replay(&mut self, count: usize) -> Result<usize, JsValue> {
        if !self.walk.is_done() {
            return Err(not_checked());
        }
        let versions = self.walk.versions();
        let Some(replayer) = self.replayer.as_mut() else {
            return Ok(versions.len());
        };
        let end = self.replayed.saturating_add(count).min(versions.len());
        while self.replayed < end {
            let index = self.replayed;
            let (cid, block) = &versions[index];
            replayer
                .replay(index, cid, block, |m: &Cid| {
                    self.by_cid.get(&m.to_string()).cloned()
                })
                .map_err(|e| {
                    let (index, cid) = replay_at(&e);
                    located("REPLAY_FAILED", &e.to_string(), Some(index), Some(cid))
                })?;
            self.replayed += 1;
        }
        Ok(self.replayed)
    }

    /// The report as JSON (see `verifyHistory`). Throws `BAD_ARGUMENT` while versions are left
    /// to check or replay: a report never says more was checked than was.
    pub fn report(&self) -> Result<String, JsValue> {
        let versions = self.checked_versions()?;
        let left = versions.len() - self.replayed();
        if left > 0 {
            return Err(js_error(
                "BAD_ARGUMENT",
                &format!("{left} versions are not replayed yet: replay() them first"),
            ));
        }
        let replayed = self.replayer.is_some();
        let report = json!({
            "head": self.head.to_string(),
            "versions": versions.iter().map(|(cid, b)| json!({
                "cid": cid.to_string(),
                "content": b.content,
                "record": b.record,
                "transaction": b.transaction,
                "replayed": replayed,
            })).collect::<Vec<_>>(),
        });
        Ok(report.to_string())
    }
}

impl HistoryVerifier {
    fn checked_versions(&self) -> Result<&[(Cid, Block)], JsValue> {
        if self.walk.is_done() {
            Ok(self.walk.versions())
        } else {
            Err(not_checked())
        }
    }
}

fn not_checked() -> JsValue {
    js_error(
        "BAD_ARGUMENT",
        "the history is not checked to its first version yet: check() it first",
    )
}

fn progress_callback(options: &JsValue) -> Option<js_sys::Function> {
    Reflect::get(options, &"onProgress".into())
        .ok()
        .and_then(|f| f.dyn_into::<js_sys::Function>().ok())
}

fn report_progress(f: Option<&js_sys::Function>, phase: &str, done: usize, total: Option<usize>) {
    if let Some(f) = f {
        let event = js_sys::Object::new();
        let _ = Reflect::set(&event, &"phase".into(), &phase.into());
        let _ = Reflect::set(&event, &"done".into(), &(done as f64).into());
        if let Some(t) = total {
            let _ = Reflect::set(&event, &"total".into(), &(t as f64).into());
        }
        let _ = f.call1(&JsValue::NULL, &event);
    }
}

fn located(code: &str, message: &str, index: Option<usize>, cid: Option<&str>) -> JsValue {
    let err = js_error(code, message);
    if let Some(i) = index {
        let _ = Reflect::set(&err, &"index".into(), &(i as f64).into());
    }
    if let Some(c) = cid {
        let _ = Reflect::set(&err, &"cid".into(), &c.into());
    }
    err
}

fn history_at(e: &HistoryError) -> (Option<usize>, Option<&str>) {
    match e {
        HistoryError::Missing { index, cid }
        | HistoryError::Hash { index, cid, .. }
        | HistoryError::Signature { index, cid, .. }
        | HistoryError::Legacy { index, cid }
        | HistoryError::Inconsistent { index, cid, .. } => (Some(*index), Some(cid)),
        HistoryError::Block { index, .. } => (Some(*index), None),
        HistoryError::TooLong(_) => (None, None),
    }
}

fn replay_at(e: &ReplayError) -> (usize, &str) {
    match e {
        ReplayError::NoInputs { index, cid }
        | ReplayError::ModuleMissing { index, cid, .. }
        | ReplayError::ModuleMismatch { index, cid, .. }
        | ReplayError::Inputs { index, cid, .. }
        | ReplayError::Contract { index, cid, .. }
        | ReplayError::Mismatch { index, cid, .. } => (*index, cid),
    }
}

/// Lineage's `data_key` of a token (what the gateway's record lookups take).
#[wasm_bindgen(js_name = dataKey)]
pub fn data_key_js(chain_id: &str, token_address: &str, token_id: &str) -> String {
    lineage_metadata::data_key(chain_id, token_address, token_id)
}

/// The blocks of a CARv1 (`GET /ipfs/<cid>?format=car`) as `[cid string, Uint8Array]` pairs,
/// in file order. Nothing is trusted here: `verifyHistory` checks every block against its CID.
/// Throws `BAD_ARGUMENT` when the bytes are not a CARv1.
#[wasm_bindgen(js_name = carBlocks)]
pub fn car_blocks(car: &[u8]) -> Result<Array, JsValue> {
    let bad = |what: String| js_error("BAD_ARGUMENT", &format!("not a CARv1: {what}"));
    let (header_len, mut rest) =
        unsigned_varint::decode::usize(car).map_err(|e| bad(format!("header length: {e}")))?;
    rest = rest
        .get(header_len..)
        .ok_or_else(|| bad("header cut short".into()))?;
    let out = Array::new();
    while !rest.is_empty() {
        let (len, after) = unsigned_varint::decode::usize(rest)
            .map_err(|e| bad(format!("section length: {e}")))?;
        let section = after
            .get(..len)
            .ok_or_else(|| bad("a section is cut short".into()))?;
        rest = &after[len..];
        let mut reader = section;
        let cid = Cid::read_bytes(&mut reader).map_err(|e| bad(format!("a section's CID: {e}")))?;
        let pair = Array::of2(&cid.to_string().into(), &Uint8Array::from(reader).into());
        out.push(&pair);
    }
    Ok(out)
}

/// The CIDs of the meta-contract modules the blocks' recorded inputs name (each once): what to
/// fetch besides the history for `verifyHistory` to replay it. Blocks that do not decode are
/// skipped (`verifyHistory` reports them).
#[wasm_bindgen(js_name = contractModules)]
pub fn contract_modules(blocks: &Map) -> Array {
    let mut seen = std::collections::BTreeSet::new();
    blocks.for_each(&mut |value, _| {
        if let Ok(bytes) = value.dyn_into::<Uint8Array>() {
            if let Ok(block) = lineage_metadata::block::Block::decode(&bytes.to_vec()) {
                if let Some(inputs) = block.inputs {
                    seen.insert(inputs.contract.cid);
                }
            }
        }
    });
    seen.into_iter().map(JsValue::from).collect()
}
