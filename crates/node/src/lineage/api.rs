//! Lineage's methods, one dispatcher for both surfaces: the JSON-RPC gateway and the Aqua
//! service `transaction`. Names, positional parameters and result shapes (`{success, err_msg,
//! …}`) are the public Lineage node's (notes/lineage.md §2.1, §5); only the methods listed in
//! [`METHODS`] exist — nothing else is reachable by name.

use std::sync::Arc;

use lineage_metadata::store::{RecordKey, Store};
use lineage_metadata::{
    block, data_key, sign, token_key, Ledger, PublishError, Search, TransactionRequest,
};
use serde_json::{json, Value};

/// Every method, in Lineage's names (ours last: `put_module`, `signing_payload`).
pub const METHODS: &[&str] = &[
    "publish",
    "get_transaction",
    "get_transaction_receipt",
    "get_transactions",
    "get_pending_transactions",
    "get_complete_transactions",
    "get_metadata",
    "get_metadata_with_history",
    "get_metadatas",
    "get_metadatas_count",
    "get_metadatas_all_version",
    "get_metadatas_by_block",
    "get_metadatas_by_tokenkey",
    "search_metadatas",
    "search_metadatas_count",
    "get_meta_contract",
    "get_meta_contract_by_id",
    "get_registry_by_id",
    "get_registry_by_meta_contract_id",
    "get_node_clock",
    "generate_data_key",
    "generate_token_key",
    "ipfs_get",
    "put_module",
    "signing_payload",
];

/// Why a call failed.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("method {0:?} does not exist")]
    NoMethod(String),
    #[error("invalid params for {method}: {reason}")]
    Params { method: String, reason: String },
    #[error(transparent)]
    Publish(#[from] PublishError),
}

impl ApiError {
    /// A stable code for clients (`error.data.code` in JSON-RPC).
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::NoMethod(_) => "no_method",
            ApiError::Params { .. } => "invalid_params",
            ApiError::Publish(e) => e.code(),
        }
    }
}

/// The methods over a ledger.
pub struct Api<S: Store> {
    ledger: Arc<Ledger<S>>,
}

impl<S: Store> Clone for Api<S> {
    fn clone(&self) -> Self {
        Api {
            ledger: Arc::clone(&self.ledger),
        }
    }
}

fn ok(mut v: Value) -> Value {
    if let Value::Object(m) = &mut v {
        m.insert("success".into(), Value::Bool(true));
        m.insert("err_msg".into(), Value::String(String::new()));
    }
    v
}

/// A failed lookup in Lineage's shape: `success: false`, the reason, and the payload field
/// present with default values (typed Aqua callers read every field).
fn not_found(field: &str, empty: Value, what: String) -> Value {
    let mut v = json!({"success": false, "err_msg": what});
    v[field] = empty;
    v
}

fn empty<T: Default + serde::Serialize>() -> Value {
    serde_json::to_value(T::default()).unwrap_or(Value::Null)
}

/// Current time in ms.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

impl<S: Store> Api<S> {
    pub fn new(ledger: Arc<Ledger<S>>) -> Api<S> {
        Api { ledger }
    }

    pub fn ledger(&self) -> &Ledger<S> {
        &self.ledger
    }

    /// Calls `method` with positional `args`.
    ///
    /// # Errors
    /// [`ApiError`]: an unknown method, wrong arguments, or a refused transaction.
    pub fn call(&self, method: &str, args: &[Value]) -> Result<Value, ApiError> {
        let p = Params { method, args };
        let l = &self.ledger;
        Ok(match method {
            "publish" => {
                let req: TransactionRequest = p.json(0)?;
                let receipt = l.publish(&req, now_ms())?;
                let success = receipt.status == lineage_metadata::RECEIPT_SUCCESS;
                json!({
                    "success": success,
                    "err_msg": receipt.error_text,
                    "transaction_hash": receipt.hash,
                    "receipt": receipt,
                })
            }
            "get_transaction" => match l.get_transaction(&p.str(0)?)? {
                Some(t) => ok(json!({ "transaction": t })),
                None => not_found(
                    "transaction",
                    empty::<lineage_metadata::Transaction>(),
                    format!("transaction {} not found", p.str(0)?),
                ),
            },
            "get_transaction_receipt" => match l.get_receipt(&p.str(0)?)? {
                Some(r) => ok(json!({ "receipt": r })),
                None => not_found(
                    "receipt",
                    empty::<lineage_metadata::TransactionReceipt>(),
                    format!("receipt {} not found", p.str(0)?),
                ),
            },
            "get_transactions" => {
                ok(json!({ "transactions": l.search_transactions(&p.search()?)? }))
            }
            // Nothing is ever pending here: publish validates and applies synchronously.
            "get_pending_transactions" => ok(json!({ "transactions": [] })),
            "get_complete_transactions" => {
                let from = p.opt_u64(0)?;
                let to = match p.opt_u64(1)? {
                    0 => now_ms(),
                    t => t,
                };
                let s = Search {
                    query: vec![
                        lineage_metadata::Query {
                            column: "timestamp".into(),
                            query: from.to_string(),
                            op: ">=".into(),
                        },
                        lineage_metadata::Query {
                            column: "timestamp".into(),
                            query: to.to_string(),
                            op: "<=".into(),
                        },
                    ],
                    ..Search::default()
                };
                ok(json!({ "transactions": l.search_transactions(&s)? }))
            }
            "get_metadata" => match l.get_metadata(&p.record_key()?)? {
                Some(m) => ok(json!({ "metadata": m })),
                None => not_found(
                    "metadata",
                    empty::<lineage_metadata::Metadata>(),
                    "metadata not found".into(),
                ),
            },
            "get_metadata_with_history" => match l.get_metadata(&p.record_key()?)? {
                Some(m) => {
                    let versions = l.history(&m.cid)?;
                    let mut texts = Vec::with_capacity(versions.len());
                    for v in &versions {
                        // dag-json, as ipfs_get and /ipfs/<cid>?format=dag-json give it.
                        let c: cid::Cid = v.cid.parse().map_err(|e| {
                            PublishError::Store(lineage_metadata::store::StoreError::with(
                                "history", e,
                            ))
                        })?;
                        let text = block::to_dag_json(&c, &v.bytes).map_err(|e| {
                            PublishError::Store(lineage_metadata::store::StoreError::with(
                                "history", e,
                            ))
                        })?;
                        texts.push(String::from_utf8_lossy(&text).into_owned());
                    }
                    let metadata = texts.first().cloned().unwrap_or_default();
                    ok(
                        json!({ "metadata": metadata, "history": texts, "cids": versions.iter().map(|v| &v.cid).collect::<Vec<_>>() }),
                    )
                }
                None => {
                    let mut v = not_found("metadata", json!(""), "metadata not found".into());
                    v["history"] = json!([]);
                    v["cids"] = json!([]);
                    v
                }
            },
            "get_metadatas" => {
                ok(json!({ "metadatas": l.get_metadatas(&p.str(0)?, &p.opt_str(1)?)? }))
            }
            "get_metadatas_count" => json!(l.get_metadatas(&p.str(0)?, &p.opt_str(1)?)?.len()),
            "get_metadatas_all_version" => {
                ok(json!({ "metadatas": l.get_metadatas(&p.str(0)?, "")? }))
            }
            "get_metadatas_by_block" => {
                let (mc, version) = (p.str(1)?, p.opt_str(2)?);
                let rows: Vec<_> = l
                    .get_metadatas(&p.str(0)?, &version)?
                    .into_iter()
                    .filter(|m| m.meta_contract_id == mc)
                    .collect();
                ok(json!({ "metadatas": rows }))
            }
            "get_metadatas_by_tokenkey" => {
                let (tk, id, version) = (p.str(0)?, p.str(1)?, p.opt_str(2)?);
                let mut s = Search::default();
                for (c, q) in [("token_key", tk), ("token_id", id), ("version", version)] {
                    if !q.is_empty() {
                        s.query.push(lineage_metadata::Query {
                            column: c.into(),
                            query: q,
                            op: "=".into(),
                        });
                    }
                }
                ok(json!({ "metadatas": l.search_metadatas(&s)? }))
            }
            "search_metadatas" => ok(json!({ "metadatas": l.search_metadatas(&p.search()?)? })),
            "search_metadatas_count" => json!(l.search_metadatas(&p.search()?)?.len()),
            "get_meta_contract" => match l
                .store()
                .contract_of_collection(&p.str(0)?)
                .map_err(PublishError::from)?
            {
                Some(c) => ok(json!({ "meta": c })),
                None => not_found(
                    "meta",
                    empty::<lineage_metadata::MetaContract>(),
                    format!("no meta contract bound to {}", p.str(0)?),
                ),
            },
            "get_meta_contract_by_id" => {
                match l.store().contract(&p.str(0)?).map_err(PublishError::from)? {
                    Some(c) => ok(json!({ "meta": c })),
                    None => not_found(
                        "meta",
                        empty::<lineage_metadata::MetaContract>(),
                        format!("meta contract {} not found", p.str(0)?),
                    ),
                }
            }
            "get_registry_by_id" => {
                match l.store().registry(&p.str(0)?).map_err(PublishError::from)? {
                    Some(r) => ok(json!({ "registry": r })),
                    None => not_found(
                        "registry",
                        empty::<lineage_metadata::Registry>(),
                        format!("registry {} not found", p.str(0)?),
                    ),
                }
            }
            "get_registry_by_meta_contract_id" => {
                let rs = l
                    .store()
                    .registry_of_contract(&p.str(0)?)
                    .map_err(PublishError::from)?;
                match rs.into_iter().next() {
                    Some(r) => ok(json!({ "registry": r })),
                    None => not_found(
                        "registry",
                        empty::<lineage_metadata::Registry>(),
                        format!("no registry points at {}", p.str(0)?),
                    ),
                }
            }
            "get_node_clock" => ok(json!({ "timestamp": now_ms() })),
            "generate_data_key" => json!(data_key(&p.str(0)?, &p.str(1)?, &p.str(2)?)),
            "generate_token_key" => json!(token_key(&p.str(0)?, &p.str(1)?)),
            "ipfs_get" => {
                let cid = p.str(0)?;
                let parsed: cid::Cid = cid
                    .parse()
                    .map_err(|e| p.bad(format!("{cid:?} is not a CID: {e}")))?;
                match l.store().block(&cid).map_err(PublishError::from)? {
                    Some(bytes) if parsed.codec() == block::DAG_CBOR => {
                        let text = block::to_dag_json(&parsed, &bytes).map_err(|e| {
                            PublishError::Store(lineage_metadata::store::StoreError::with(
                                "ipfs_get", e,
                            ))
                        })?;
                        json!({"success": true, "error": "", "block": String::from_utf8_lossy(&text)})
                    }
                    Some(_) => {
                        json!({"success": false, "error": format!("{cid} is not a dag-cbor block"), "block": ""})
                    }
                    None => {
                        json!({"success": false, "error": format!("{cid} not found"), "block": ""})
                    }
                }
            }
            "put_module" => {
                use base64::Engine as _;
                let b64 = p.str(0)?;
                let wasm = base64::engine::general_purpose::STANDARD
                    .decode(b64.as_bytes())
                    .map_err(|e| p.bad(format!("module is not base64: {e}")))?;
                ok(json!({ "cid": l.put_module(&wasm)? }))
            }
            "signing_payload" => {
                let mut req: TransactionRequest = p.json(0)?;
                // The hash the ledger will compute: over the key's canonical spelling.
                req.public_key = sign::canonical_key(&req.public_key);
                let intent = sign::Intent::of(&req);
                ok(json!({
                    "typed_data": sign::typed_data(&intent),
                    "canonical_bytes": hex::encode(sign::canonical_bytes(&intent)),
                    "transaction_hash": sign::transaction_hash(&req),
                }))
            }
            other => return Err(ApiError::NoMethod(other.to_string())),
        })
    }
}

/// Positional arguments of one call.
struct Params<'a> {
    method: &'a str,
    args: &'a [Value],
}

impl Params<'_> {
    fn bad(&self, reason: String) -> ApiError {
        ApiError::Params {
            method: self.method.to_string(),
            reason,
        }
    }

    fn str(&self, i: usize) -> Result<String, ApiError> {
        match self.args.get(i) {
            Some(Value::String(s)) => Ok(s.clone()),
            Some(other) => Err(self.bad(format!("argument {i} must be a string, not {other}"))),
            None => Err(self.bad(format!("argument {i} is missing"))),
        }
    }

    fn opt_str(&self, i: usize) -> Result<String, ApiError> {
        match self.args.get(i) {
            None | Some(Value::Null) => Ok(String::new()),
            _ => self.str(i),
        }
    }

    fn opt_u64(&self, i: usize) -> Result<u64, ApiError> {
        match self.args.get(i) {
            None | Some(Value::Null) => Ok(0),
            Some(Value::Number(n)) => n
                .as_u64()
                .ok_or_else(|| self.bad(format!("argument {i} must be a non-negative integer"))),
            Some(other) => Err(self.bad(format!("argument {i} must be a number, not {other}"))),
        }
    }

    fn json<T: serde::de::DeserializeOwned>(&self, i: usize) -> Result<T, ApiError> {
        let v = self
            .args
            .get(i)
            .ok_or_else(|| self.bad(format!("argument {i} is missing")))?;
        serde_json::from_value(v.clone()).map_err(|e| self.bad(format!("argument {i}: {e}")))
    }

    fn record_key(&self) -> Result<RecordKey, ApiError> {
        Ok(RecordKey {
            data_key: self.str(0)?,
            meta_contract_id: self.str(1)?,
            public_key: self.str(2)?,
            alias: self.opt_str(3)?,
            version: self.opt_str(4)?,
        })
    }

    /// `(query, ordering, from, to)` as four arguments (Aqua) — the gateway turns its
    /// `{query, ordering, from, to}` object into these.
    fn search(&self) -> Result<Search, ApiError> {
        let get = |i: usize| self.args.get(i).cloned().unwrap_or(Value::Null);
        let list = |i: usize| -> Result<Value, ApiError> {
            match get(i) {
                Value::Null => Ok(Value::Array(Vec::new())),
                v @ Value::Array(_) => Ok(v),
                other => Err(self.bad(format!("argument {i} must be an array, not {other}"))),
            }
        };
        let num = |i: usize| -> Result<u32, ApiError> {
            match get(i) {
                Value::Null => Ok(0),
                Value::Number(n) => n
                    .as_u64()
                    .and_then(|n| u32::try_from(n).ok())
                    .ok_or_else(|| self.bad(format!("argument {i} must be a u32"))),
                other => Err(self.bad(format!("argument {i} must be a number, not {other}"))),
            }
        };
        serde_json::from_value(json!({
            "query": list(0)?, "ordering": list(1)?, "from": num(2)?, "to": num(3)?,
        }))
        .map_err(|e| self.bad(e.to_string()))
    }
}

/// JSON-RPC `params` → positional arguments: arrays as they are; for `publish` and
/// `signing_payload` an object is the request; for searches an object `{query, ordering,
/// from, to}` becomes four arguments.
pub fn positional(method: &str, params: Option<Value>) -> Result<Vec<Value>, ApiError> {
    match params {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(a)) => Ok(a),
        Some(Value::Object(o)) => match method {
            "publish" | "signing_payload" => Ok(vec![Value::Object(o)]),
            "search_metadatas" | "search_metadatas_count" | "get_transactions" => Ok(vec![
                o.get("query").cloned().unwrap_or(Value::Null),
                o.get("ordering").cloned().unwrap_or(Value::Null),
                o.get("from").cloned().unwrap_or(Value::Null),
                o.get("to").cloned().unwrap_or(Value::Null),
            ]),
            _ => Err(ApiError::Params {
                method: method.to_string(),
                reason: "params must be an array".into(),
            }),
        },
        Some(other) => Err(ApiError::Params {
            method: method.to_string(),
            reason: format!("params must be an array or object, not {other}"),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lineage_metadata::store::MemStore;
    use lineage_metadata::LedgerConfig;

    fn api() -> Api<MemStore> {
        Api::new(Arc::new(Ledger::new(
            MemStore::default(),
            LedgerConfig::default(),
        )))
    }

    #[test]
    fn only_listed_methods_exist() {
        // Lineage flaw 9: its gateway also exposed send_cron_tx, publish_batch, constructor, start.
        let a = api();
        for m in [
            "send_cron_tx",
            "publish_batch",
            "constructor",
            "start",
            "__proto__",
            "toString",
            "init",
            "",
        ] {
            assert!(matches!(a.call(m, &[]), Err(ApiError::NoMethod(_))), "{m}");
        }
        for m in METHODS {
            assert!(
                !matches!(a.call(m, &[]), Err(ApiError::NoMethod(_))),
                "{m} is listed but unknown"
            );
        }
    }

    #[test]
    fn wrong_arguments_are_typed_errors() {
        let a = api();
        assert!(matches!(
            a.call("generate_data_key", &[json!(1)]),
            Err(ApiError::Params { .. })
        ));
        assert!(matches!(
            a.call("publish", &[json!("x")]),
            Err(ApiError::Params { .. })
        ));
        assert!(matches!(
            a.call("ipfs_get", &[json!("not a cid")]),
            Err(ApiError::Params { .. })
        ));
        assert!(matches!(
            a.call("put_module", &[json!("***")]),
            Err(ApiError::Params { .. })
        ));
        let e = a
            .call(
                "search_metadatas",
                &[json!([{"column": "nope", "query": "", "op": "="}])],
            )
            .unwrap_err();
        assert_eq!(e.code(), "invalid_transaction");
        assert_eq!(
            a.call("get_transaction", &[json!("missing")]).unwrap()["success"],
            json!(false)
        );
        assert_eq!(
            a.call("get_pending_transactions", &[]).unwrap()["transactions"],
            json!([])
        );
        assert_eq!(
            a.call("get_complete_transactions", &[json!(0), json!(0)])
                .unwrap()["transactions"],
            json!([])
        );
        assert!(matches!(
            a.call("get_complete_transactions", &[json!(-1)]),
            Err(ApiError::Params { .. })
        ));
    }
}
