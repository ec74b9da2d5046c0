//! The node's HTTP server: JSON-RPC 2.0 at `POST /api/v0/json-rpc` (Lineage's methods) and a
//! trustless gateway at `GET|HEAD /ipfs/<cid>` (ipfs/specs `http-gateways/trustless-gateway`):
//! raw blocks, a CARv1 of a record's whole history, dag-json on request. CORS is open (dApps
//! in any origin call it), bodies are capped and each client IP is rate limited.

use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, DefaultBodyLimit, Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use lineage_metadata::block::{self, Block};
use lineage_metadata::store::Store;
use serde_json::{json, Value};
use tower_http::cors::{Any, CorsLayer};

use super::api::{positional, Api, ApiError};

/// Gateway settings.
#[derive(Debug, Clone)]
pub struct GatewayConfig {
    /// Largest request body.
    pub max_body_bytes: usize,
    /// Requests per second per client IP (burst = 2×).
    pub requests_per_sec: u32,
    /// Most calls in one JSON-RPC batch.
    pub max_batch: usize,
    /// Most blocks in one CAR response.
    pub max_car_blocks: usize,
}

impl Default for GatewayConfig {
    fn default() -> Self {
        GatewayConfig {
            max_body_bytes: 12 * 1024 * 1024,
            requests_per_sec: 200,
            max_batch: 32,
            max_car_blocks: 100_000,
        }
    }
}

struct Shared<S: Store> {
    api: Api<S>,
    config: GatewayConfig,
    limiter: DefaultKeyedRateLimiter<IpAddr>,
}

/// Builds the router.
pub fn router<S: Store + 'static>(api: Api<S>, config: GatewayConfig) -> Router {
    let rps = NonZeroU32::new(config.requests_per_sec.max(1)).unwrap_or(NonZeroU32::MIN);
    let burst = NonZeroU32::new(config.requests_per_sec.max(1).saturating_mul(2)).unwrap_or(rps);
    let shared = Arc::new(Shared {
        api,
        limiter: RateLimiter::keyed(Quota::per_second(rps).allow_burst(burst)),
        config: config.clone(),
    });
    Router::new()
        .route("/api/v0/json-rpc", post(json_rpc::<S>))
        .route("/ipfs/{cid}", get(ipfs::<S>))
        .layer(DefaultBodyLimit::max(config.max_body_bytes))
        .layer(
            CorsLayer::new()
                .allow_origin(Any)
                .allow_methods([Method::GET, Method::HEAD, Method::POST, Method::OPTIONS])
                .allow_headers(Any)
                .expose_headers([header::ETAG, header::CONTENT_TYPE]),
        )
        .with_state(shared)
}

/// Serves on a bound listener until `shutdown` resolves; `extra` adds routes (`/metrics`).
///
/// # Errors
/// When accepting fails fatally.
pub async fn serve<S: Store + 'static>(
    listener: tokio::net::TcpListener,
    api: Api<S>,
    config: GatewayConfig,
    extra: Router,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(
        listener,
        router(api, config)
            .merge(extra)
            .into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}

fn limited<S: Store>(s: &Shared<S>, ip: IpAddr) -> Option<Response> {
    s.limiter.check_key(&ip).err().map(|_| {
        (
            StatusCode::TOO_MANY_REQUESTS,
            [(header::RETRY_AFTER, "1")],
            "rate limit exceeded\n",
        )
            .into_response()
    })
}

fn rpc_error(id: Value, code: i64, message: String, data: Option<Value>) -> Value {
    let mut e = json!({"code": code, "message": message});
    if let Some(d) = data {
        e["data"] = d;
    }
    json!({"jsonrpc": "2.0", "id": id, "error": e})
}

fn one_call<S: Store>(s: &Shared<S>, req: Value) -> Option<Value> {
    let Value::Object(obj) = req else {
        return Some(rpc_error(
            Value::Null,
            -32600,
            "Invalid Request: not an object".into(),
            None,
        ));
    };
    let id = obj.get("id").cloned();
    let reply_id = id.clone().unwrap_or(Value::Null);
    if obj.get("jsonrpc") != Some(&Value::String("2.0".into())) {
        return Some(rpc_error(
            reply_id,
            -32600,
            "Invalid Request: jsonrpc must be \"2.0\"".into(),
            None,
        ));
    }
    let Some(Value::String(method)) = obj.get("method") else {
        return Some(rpc_error(
            reply_id,
            -32600,
            "Invalid Request: method must be a string".into(),
            None,
        ));
    };
    let result =
        positional(method, obj.get("params").cloned()).and_then(|args| s.api.call(method, &args));
    // A notification (no id) gets no answer.
    id.as_ref()?;
    Some(match result {
        Ok(v) => json!({"jsonrpc": "2.0", "id": reply_id, "result": v}),
        Err(e) => {
            let code = match &e {
                ApiError::NoMethod(_) => -32601,
                ApiError::Params { .. } => -32602,
                ApiError::Publish(lineage_metadata::PublishError::Store(_)) => -32603,
                ApiError::Publish(_) => -32000,
            };
            rpc_error(
                reply_id,
                code,
                e.to_string(),
                Some(json!({"code": e.code()})),
            )
        }
    })
}

async fn json_rpc<S: Store + 'static>(
    State(s): State<Arc<Shared<S>>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    body: Bytes,
) -> Response {
    if let Some(r) = limited(&s, peer.ip()) {
        return r;
    }
    let parsed: Result<Value, _> = serde_json::from_slice(&body);
    let s2 = Arc::clone(&s);
    // Publishing runs a meta contract: keep it off the async workers.
    let out = tokio::task::spawn_blocking(move || match parsed {
        Err(e) => Some(rpc_error(
            Value::Null,
            -32700,
            format!("Parse error: {e}"),
            None,
        )),
        Ok(Value::Array(calls)) => {
            if calls.is_empty() {
                return Some(rpc_error(
                    Value::Null,
                    -32600,
                    "Invalid Request: empty batch".into(),
                    None,
                ));
            }
            if calls.len() > s2.config.max_batch {
                return Some(rpc_error(
                    Value::Null,
                    -32600,
                    format!(
                        "Invalid Request: batch of {} calls (limit {})",
                        calls.len(),
                        s2.config.max_batch
                    ),
                    None,
                ));
            }
            let replies: Vec<Value> = calls.into_iter().filter_map(|c| one_call(&s2, c)).collect();
            if replies.is_empty() {
                None
            } else {
                Some(Value::Array(replies))
            }
        }
        Ok(call) => one_call(&s2, call),
    })
    .await;
    match out {
        Ok(Some(v)) => {
            ([(header::CONTENT_TYPE, "application/json")], v.to_string()).into_response()
        }
        Ok(None) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("internal error: {e}\n"),
        )
            .into_response(),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Raw,
    Car,
    DagJson,
}

fn wanted(
    q: &std::collections::HashMap<String, String>,
    headers: &HeaderMap,
) -> Result<Format, String> {
    if let Some(f) = q.get("format") {
        return match f.as_str() {
            "raw" => Ok(Format::Raw),
            "car" => Ok(Format::Car),
            "dag-json" => Ok(Format::DagJson),
            other => Err(format!("format {other:?} is not raw, car or dag-json")),
        };
    }
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    for part in accept.split(',') {
        let media = part.split(';').next().unwrap_or("").trim();
        match media {
            "application/vnd.ipld.raw" => return Ok(Format::Raw),
            "application/vnd.ipld.car" => return Ok(Format::Car),
            "application/vnd.ipld.dag-json" | "application/json" => return Ok(Format::DagJson),
            _ => {}
        }
    }
    // Nothing asked for: the raw block, which is what a trustless client can verify.
    Ok(Format::Raw)
}

/// The identity CID of empty bytes (`bafkqaaa`): content by definition, never stored.
fn is_identity_empty(cid: &cid::Cid) -> bool {
    cid.hash().code() == 0x00 && cid.hash().digest().is_empty()
}

/// A CARv1 with `root` and the blocks its history links to (`previous`), newest first.
fn car_of<S: Store>(s: &Shared<S>, root: &cid::Cid) -> Result<Vec<u8>, (StatusCode, String)> {
    let header_bytes = serde_ipld_dagcbor::to_vec(&json_car_header(root)).map_err(|e| {
        (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("car header: {e}\n"),
        )
    })?;
    let mut out = Vec::new();
    push_varint(&mut out, header_bytes.len() as u64);
    out.extend_from_slice(&header_bytes);
    if is_identity_empty(root) {
        return Ok(out);
    }
    let mut next = Some(*root);
    let mut n = 0usize;
    while let Some(c) = next.take() {
        if n >= s.config.max_car_blocks {
            break;
        }
        let key = c.to_string();
        let Some(bytes) = s
            .api
            .ledger()
            .store()
            .block(&key)
            .map_err(|e| (StatusCode::INTERNAL_SERVER_ERROR, format!("{e}\n")))?
        else {
            if n == 0 {
                return Err((StatusCode::NOT_FOUND, format!("{key} not found\n")));
            }
            break;
        };
        let cid_bytes = c.to_bytes();
        push_varint(&mut out, (cid_bytes.len() + bytes.len()) as u64);
        out.extend_from_slice(&cid_bytes);
        out.extend_from_slice(&bytes);
        n += 1;
        if c.codec() == block::DAG_CBOR {
            next = Block::decode_checked(&c, &bytes)
                .ok()
                .and_then(|b| b.previous);
        }
    }
    Ok(out)
}

#[derive(serde::Serialize)]
struct CarHeader {
    roots: Vec<cid::Cid>,
    version: u64,
}

fn json_car_header(root: &cid::Cid) -> CarHeader {
    CarHeader {
        roots: vec![*root],
        version: 1,
    }
}

fn push_varint(out: &mut Vec<u8>, n: u64) {
    let mut buf = unsigned_varint::encode::u64_buffer();
    out.extend_from_slice(unsigned_varint::encode::u64(n, &mut buf));
}

async fn ipfs<S: Store + 'static>(
    State(s): State<Arc<Shared<S>>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    method: Method,
    Path(cid_text): Path<String>,
    Query(q): Query<std::collections::HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    if let Some(r) = limited(&s, peer.ip()) {
        return r;
    }
    let cid: cid::Cid = match cid_text.parse() {
        Ok(c) => c,
        Err(e) => {
            return (
                StatusCode::BAD_REQUEST,
                format!("{cid_text:?} is not a CID: {e}\n"),
            )
                .into_response()
        }
    };
    let format = match wanted(&q, &headers) {
        Ok(f) => f,
        Err(e) => return (StatusCode::BAD_REQUEST, format!("{e}\n")).into_response(),
    };
    let key = cid.to_string();
    let etag = match format {
        Format::Raw => format!("\"{key}.raw\""),
        Format::Car => format!("\"{key}.car\""),
        Format::DagJson => format!("\"{key}.dag-json\""),
    };
    if headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag))
    {
        return (StatusCode::NOT_MODIFIED, [(header::ETAG, etag)]).into_response();
    }
    // The identity CID of empty bytes (`bafkqaaa`) is content by definition.
    let identity_empty = is_identity_empty(&cid);
    let body: Vec<u8> = match format {
        Format::Car => match car_of(&s, &cid) {
            Ok(b) => b,
            Err((code, msg)) => return (code, msg).into_response(),
        },
        _ => {
            let bytes = if identity_empty {
                Some(Vec::new())
            } else {
                match s.api.ledger().store().block(&key) {
                    Ok(b) => b,
                    Err(e) => {
                        return (StatusCode::INTERNAL_SERVER_ERROR, format!("{e}\n"))
                            .into_response()
                    }
                }
            };
            let Some(bytes) = bytes else {
                return (StatusCode::NOT_FOUND, format!("{key} not found\n")).into_response();
            };
            match format {
                Format::DagJson if cid.codec() == block::DAG_CBOR => {
                    match block::to_dag_json(&cid, &bytes) {
                        Ok(j) => j,
                        Err(e) => {
                            return (StatusCode::INTERNAL_SERVER_ERROR, format!("{e}\n"))
                                .into_response()
                        }
                    }
                }
                Format::DagJson if !identity_empty => {
                    return (
                        StatusCode::NOT_ACCEPTABLE,
                        format!("{key} is not dag-cbor: ask for format=raw\n"),
                    )
                        .into_response()
                }
                _ => bytes,
            }
        }
    };
    let (ctype, ext) = match format {
        Format::Raw => ("application/vnd.ipld.raw", "bin"),
        Format::Car => ("application/vnd.ipld.car; version=1", "car"),
        Format::DagJson => ("application/vnd.ipld.dag-json", "json"),
    };
    let mut resp_headers = HeaderMap::new();
    let put = |h: &mut HeaderMap, k: header::HeaderName, v: String| {
        if let Ok(v) = HeaderValue::from_str(&v) {
            h.insert(k, v);
        }
    };
    put(&mut resp_headers, header::CONTENT_TYPE, ctype.into());
    put(&mut resp_headers, header::ETAG, etag);
    put(
        &mut resp_headers,
        header::CACHE_CONTROL,
        "public, max-age=29030400, immutable".into(),
    );
    put(
        &mut resp_headers,
        header::X_CONTENT_TYPE_OPTIONS,
        "nosniff".into(),
    );
    put(
        &mut resp_headers,
        header::CONTENT_LENGTH,
        body.len().to_string(),
    );
    if format != Format::DagJson {
        put(
            &mut resp_headers,
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{key}.{ext}\""),
        );
    }
    put(
        &mut resp_headers,
        header::HeaderName::from_static("x-ipfs-path"),
        format!("/ipfs/{key}"),
    );
    if method == Method::HEAD {
        return (StatusCode::OK, resp_headers).into_response();
    }
    (StatusCode::OK, resp_headers, body).into_response()
}
