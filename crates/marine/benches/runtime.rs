//! Native figures for `benches/run.sh`: one JSON line per case on stdout.
//! Run: `cargo bench -p lineage-marine --bench runtime` (the script compares them with Chromium
//! and marine-js).

use std::time::Instant;

use lineage_marine::{Service, ServiceConfig};
use serde_json::{json, Value};

const GREETING: &[u8] = include_bytes!("../../../tests/fixtures/greeting.wasm");
const SPIN: &[u8] = include_bytes!("../../../tests/fixtures/spin.wasm");
const CALLEE: &[u8] = include_bytes!("../../../tests/fixtures/callee.wasm");
const FACADE: &[u8] = include_bytes!("../../../tests/fixtures/facade.wasm");

struct Case {
    name: &'static str,
    modules: Vec<(&'static str, &'static [u8])>,
    function: &'static str,
    args: Value,
    iters: u32,
    warmup: u32,
}

fn main() {
    let cases = [
        Case {
            name: "greet",
            modules: vec![("greeting", GREETING)],
            function: "greet",
            args: json!(["world"]),
            iters: 20_000,
            warmup: 2_000,
        },
        Case {
            name: "process",
            modules: vec![("callee", CALLEE), ("facade", FACADE)],
            function: "process",
            args: json!([["a", "bc", "déf"]]),
            iters: 5_000,
            warmup: 500,
        },
        Case {
            name: "work_1e6",
            modules: vec![("spin", SPIN)],
            function: "work",
            args: json!([1_000_000]),
            iters: 10,
            warmup: 2,
        },
    ];
    for case in &cases {
        let t = Instant::now();
        let mut svc = match Service::load(case.modules.iter().copied(), ServiceConfig::default()) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("bench {}: load failed: {e}", case.name);
                std::process::exit(1);
            }
        };
        let load_ms = t.elapsed().as_secs_f64() * 1e3;
        let mut result = Value::Null;
        for _ in 0..case.warmup {
            result = svc
                .call_json(case.function, &case.args)
                .unwrap_or_else(|e| fail(case.name, &e));
        }
        let t = Instant::now();
        for _ in 0..case.iters {
            result = svc
                .call_json(case.function, &case.args)
                .unwrap_or_else(|e| fail(case.name, &e));
        }
        let total = t.elapsed().as_secs_f64();
        println!(
            "{}",
            json!({
                "engine": "wasmi-native", "case": case.name, "fn": case.function, "load_ms": load_ms,
                "calls": case.iters, "us_per_call": total * 1e6 / f64::from(case.iters),
                "calls_per_s": f64::from(case.iters) / total, "result": result,
            })
        );
    }

    // Memory per loaded service: load N greeting services and read the RSS delta.
    let n = 50;
    let before = rss_bytes();
    let t = Instant::now();
    let services: Vec<Service> = (0..n)
        .map(|_| {
            Service::load([("greeting", GREETING)], ServiceConfig::default())
                .unwrap_or_else(|e| fail("memory", &e))
        })
        .collect();
    let load_ms = t.elapsed().as_secs_f64() * 1e3 / f64::from(n);
    let after = rss_bytes();
    let linear: u64 = services.iter().map(Service::memory_bytes).sum();
    println!(
        "{}",
        json!({
            "engine": "wasmi-native", "case": "memory", "services": n, "load_ms": load_ms,
            "rss_kb_per_service": after.saturating_sub(before) as f64 / 1024.0 / f64::from(n),
            "linear_kb_per_service": linear as f64 / 1024.0 / f64::from(n),
        })
    );
}

fn fail(case: &str, e: &dyn std::fmt::Display) -> ! {
    eprintln!("bench {case}: {e}");
    std::process::exit(1)
}

/// Resident set size from /proc (0 where unavailable).
fn rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| {
            s.split_whitespace()
                .nth(1)
                .and_then(|p| p.parse::<u64>().ok())
        })
        .map(|pages| pages * 4096)
        .unwrap_or(0)
}
