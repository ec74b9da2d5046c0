//! History verification cost: records of 1, 100 and 10 000 versions built with the real
//! [`Ledger`] on [`MemStore`] (meta contract `tests/fixtures/mc_open.wasm`, every version an
//! Ed25519 strong-mode transaction with `prev` = the current head), then
//! [`verify_history`] over the stored blocks, beside the anchor "just fetching + hashing":
//! walking the same chain with [`Block::decode_checked`] only (fetch, sha2-256 against the CID,
//! dag-cbor decode, follow `previous`), which is what `Ledger::history` does.
//!
//! Run: `cargo bench -p lineage-metadata --bench history --locked`. Prints a table, then one JSON
//! line per size, on stdout. `HISTORY_SIZES=1,100` picks other sizes.

use std::time::{Duration, Instant};

use cid::Cid;
use ed25519_dalek::SigningKey;
use lineage_metadata::block::{self, Block};
use lineage_metadata::store::{MemStore, RecordKey, Store};
use lineage_metadata::verify::verify_history;
use lineage_metadata::{data_key, sign, Ledger, LedgerConfig, TransactionRequest};
use serde_json::json;

const MC_OPEN: &[u8] = include_bytes!("../../../tests/fixtures/mc_open.wasm");
const CHAIN: &str = "80001";
const ADDR: &str = "0x0692f233614802D06e86CBDE6b5D090A9F5d3c10";
const T0: u64 = 1_700_000_000_000;

fn die(what: &str, e: impl std::fmt::Display) -> ! {
    eprintln!("bench history: {what}: {e}");
    std::process::exit(1);
}

struct Built {
    ledger: Ledger<MemStore>,
    head: Cid,
    build: Duration,
    block_bytes: usize,
}

/// A fresh ledger with mc_open bound as "open", then `n` versions of one record.
fn build(n: usize) -> Built {
    // The node's defaults; the clock is ours: each publish is given `now` = its own timestamp,
    // so no skew allowance has to be widened.
    let ledger = Ledger::new(MemStore::default(), LedgerConfig::default());
    let key = SigningKey::from_bytes(&[7; 32]);
    let module = ledger
        .put_module(MC_OPEN)
        .unwrap_or_else(|e| die("put_module", e));
    let mut bind = TransactionRequest {
        method: "contract".into(),
        meta_contract_id: "open".into(),
        chain_id: CHAIN.into(),
        token_address: ADDR.into(),
        data: json!({"is_registry": false, "registry_id": "", "registry_name": "", "meta_contract_id": "open", "migrate_from": "", "cid": module}).to_string(),
        timestamp: T0,
        ..Default::default()
    };
    sign::sign_ed25519(&mut bind, &key);
    let r = ledger.publish(&bind, T0).unwrap_or_else(|e| die("bind", e));
    if r.status != lineage_metadata::RECEIPT_SUCCESS {
        die("bind", r.error_text);
    }

    let t = Instant::now();
    let mut prev = String::new();
    for i in 0..n {
        let ts = T0 + 1 + i as u64;
        let mut req = TransactionRequest {
            method: "metadata".into(),
            meta_contract_id: "open".into(),
            chain_id: CHAIN.into(),
            token_address: ADDR.into(),
            token_id: "1".into(),
            version: "v1".into(),
            data: json!({"name": "token 1", "description": "a version of a record", "version": i})
                .to_string(),
            mcdata: r#"{"loose":0}"#.into(),
            prev: prev.clone(),
            timestamp: ts,
            ..Default::default()
        };
        sign::sign_ed25519(&mut req, &key);
        let r = ledger
            .publish(&req, ts)
            .unwrap_or_else(|e| die(&format!("publish version {i}"), e));
        if r.status != lineage_metadata::RECEIPT_SUCCESS {
            die(&format!("publish version {i}"), r.error_text);
        }
        let cids: serde_json::Value = serde_json::from_str(&r.data).unwrap_or_default();
        prev = cids["cids"][0].as_str().unwrap_or_default().to_string();
    }
    let build = t.elapsed();

    let head_row = ledger
        .get_metadata(&RecordKey {
            data_key: data_key(CHAIN, ADDR, "1"),
            meta_contract_id: "open".into(),
            public_key: bs58::encode(key.verifying_key().as_bytes()).into_string(),
            alias: String::new(),
            version: "v1".into(),
        })
        .unwrap_or_else(|e| die("get_metadata", e))
        .unwrap_or_else(|| die("get_metadata", "no head"));
    if head_row.cid != prev {
        die(
            "head",
            format!("{} is not the last publish's {prev}", head_row.cid),
        );
    }
    let head: Cid = prev.parse().unwrap_or_else(|e| die("head cid", e));
    let block_bytes = ledger
        .store()
        .block(&prev)
        .ok()
        .flatten()
        .map(|b| b.len())
        .unwrap_or(0);
    Built {
        ledger,
        head,
        build,
        block_bytes,
    }
}

/// Median (and min, max) seconds of one call of `f`, over `samples` samples of enough calls to
/// last ~`target` each.
fn time_it(samples: usize, target: Duration, mut f: impl FnMut()) -> (f64, f64, f64) {
    let t = Instant::now();
    f();
    let one = t.elapsed().max(Duration::from_nanos(100));
    let iters = ((target.as_secs_f64() / one.as_secs_f64()).ceil() as usize).clamp(1, 1_000_000);
    let mut per: Vec<f64> = (0..samples)
        .map(|_| {
            let t = Instant::now();
            for _ in 0..iters {
                f();
            }
            t.elapsed().as_secs_f64() / iters as f64
        })
        .collect();
    per.sort_by(|a, b| a.total_cmp(b));
    (per[per.len() / 2], per[0], per[per.len() - 1])
}

fn fmt_s(s: f64) -> String {
    if s >= 1.0 {
        format!("{s:.3} s")
    } else if s >= 1e-3 {
        format!("{:.3} ms", s * 1e3)
    } else {
        format!("{:.2} µs", s * 1e6)
    }
}

fn main() {
    let sizes: Vec<usize> = std::env::var("HISTORY_SIZES")
        .ok()
        .map(|v| v.split(',').filter_map(|x| x.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![1, 100, 10_000]);
    let mut json_lines = Vec::new();
    println!("History verification (lineage_metadata::verify::verify_history) on MemStore; meta contract mc_open, Ed25519 strong mode");
    println!(
        "{:>8}  {:>10}  {:>12}  {:>12}  {:>12}  {:>12}  {:>12}  {:>12}  {:>12}  {:>7}",
        "versions",
        "build",
        "build/ver",
        "verify",
        "verify/ver",
        "anchor",
        "anchor/ver",
        "sha256/ver",
        "ed25519/ver",
        "ratio"
    );
    for &n in &sizes {
        let b = build(n);
        let store = b.ledger.store();
        let fetch = |c: &Cid| store.block(&c.to_string()).ok().flatten();
        let samples = if n >= 10_000 { 7 } else { 11 };
        let target = Duration::from_millis(if n >= 10_000 { 1 } else { 50 });

        // Sanity first: the whole chain verifies and has n versions.
        let got = verify_history(&b.head, fetch, false, n + 1)
            .unwrap_or_else(|e| die(&format!("verify_history({n})"), e));
        if got.len() != n {
            die(
                "verify_history",
                format!("{} versions, expected {n}", got.len()),
            );
        }

        let (verify, vmin, vmax) = time_it(samples, target, || {
            let v = verify_history(&b.head, fetch, false, n + 1)
                .unwrap_or_else(|e| die("verify_history", e));
            std::hint::black_box(v);
        });
        // The anchor: fetch + sha2-256 check + dag-cbor decode + follow `previous`.
        let (anchor, amin, amax) = time_it(samples, target, || {
            let mut next = Some(b.head);
            let mut count = 0usize;
            while let Some(c) = next.take() {
                let bytes = fetch(&c).unwrap_or_else(|| die("anchor", "block missing"));
                let blk = Block::decode_checked(&c, &bytes).unwrap_or_else(|e| die("anchor", e));
                next = blk.previous;
                count += 1;
            }
            std::hint::black_box(count);
        });
        // Below the anchor: fetching and hashing alone, over the CIDs already known.
        let chain: Vec<Cid> = got.iter().map(|(c, _)| *c).collect();
        let (hash_only, _, _) = time_it(samples, target, || {
            for c in &chain {
                let bytes = fetch(c).unwrap_or_else(|| die("sha256", "block missing"));
                let ok = block::cid_of(c.codec(), &bytes).hash() == c.hash();
                std::hint::black_box(ok);
            }
        });

        // Of the verification: the Ed25519 strong-mode check alone, over the decoded blocks.
        let reqs: Vec<TransactionRequest> = got
            .iter()
            .map(|(_, b)| b.transaction.to_request())
            .collect();
        let (sig_only, _, _) = time_it(samples, target, || {
            for r in &reqs {
                sign::verify_strong(r).unwrap_or_else(|e| die("verify_strong", e));
            }
        });

        let per = |s: f64| s / n as f64;
        println!(
            "{:>8}  {:>10}  {:>12}  {:>12}  {:>12}  {:>12}  {:>12}  {:>12}  {:>12}  {:>6.1}×",
            n,
            fmt_s(b.build.as_secs_f64()),
            fmt_s(per(b.build.as_secs_f64())),
            fmt_s(verify),
            fmt_s(per(verify)),
            fmt_s(anchor),
            fmt_s(per(anchor)),
            fmt_s(per(hash_only)),
            fmt_s(per(sig_only)),
            verify / anchor
        );
        json_lines.push(json!({
            "bench": "metadata_history",
            "versions": n,
            "block_bytes": b.block_bytes,
            "build_s": b.build.as_secs_f64(),
            "build_us_per_version": per(b.build.as_secs_f64()) * 1e6,
            "verify_s_median": verify,
            "verify_s_min": vmin,
            "verify_s_max": vmax,
            "verify_us_per_version": per(verify) * 1e6,
            "anchor": "fetch + Block::decode_checked walk (sha2-256 vs CID, dag-cbor decode)",
            "anchor_s_median": anchor,
            "anchor_s_min": amin,
            "anchor_s_max": amax,
            "anchor_us_per_version": per(anchor) * 1e6,
            "sha256_only_us_per_version": per(hash_only) * 1e6,
            "ed25519_verify_strong_us_per_version": per(sig_only) * 1e6,
            "ratio_verify_to_anchor": verify / anchor,
            "samples": samples,
        }));
    }
    println!("build = Ledger::publish of every version (mc_open on wasmi, MemStore: no fsync); verify = verify_history (hash, decode, tx hash, Ed25519 verify_strict, record checks); anchor = fetch + decode_checked walk; sha256 = fetch + hash only; ed25519 = sign::verify_strong alone; ratio = verify / anchor; medians");
    // Where a publish's time goes: the meta contract run alone (a fresh wasmi instance of mc_open
    // per call, as Ledger::publish does), beside the whole publish measured above.
    let contract = lineage_metadata::MetaContract {
        meta_contract_id: "open".into(),
        ..Default::default()
    };
    let tx = lineage_metadata::Transaction {
        hash: "h".into(),
        method: "metadata".into(),
        meta_contract_id: "open".into(),
        data: json!({"name": "token 1", "description": "a version of a record", "version": 1})
            .to_string(),
        version: "v1".into(),
        timestamp: T0,
        status: 1,
        ..Default::default()
    };
    let limits = lineage_metadata::contract::default_limits();
    let (run, _, _) = time_it(11, Duration::from_millis(50), || {
        let r = lineage_metadata::contract::on_execute(MC_OPEN, &limits, &contract, &[], &tx)
            .unwrap_or_else(|e| die("on_execute", e));
        std::hint::black_box(r);
    });
    // …of which loading the module (parse, validate, compile, instantiate, Marine init).
    let (load, _, _) = time_it(11, Duration::from_millis(50), || {
        let cfg = lineage_marine::ServiceConfig::default()
            .limits(limits.clone())
            .deterministic(T0 * 1_000_000, [0; 32]);
        let svc = lineage_marine::Service::load([("meta_contract", MC_OPEN)], cfg)
            .unwrap_or_else(|e| die("Service::load", e));
        std::hint::black_box(svc);
    });
    println!(
        "of a publish: mc_open on_execute alone (load + instantiate + call on wasmi) = {}, of which Service::load = {}",
        fmt_s(run),
        fmt_s(load)
    );
    json_lines.push(json!({"bench": "metadata_history", "figure": "mc_open on_execute alone", "us_median": run * 1e6, "service_load_us_median": load * 1e6}));
    for l in json_lines {
        println!("{l}");
    }
}
