//! Round trips of a client → node → client Aqua call (`concatOnRelay`, compiled by aqua-api)
//! with N concurrent Rust clients (`lineage_net::client::Client`) against a running node.
//! Usage (benches/particles.sh runs it): `particles <relay multiaddr> <air file> <N> <seconds>`.
//! Prints one JSON line: particles/s and p50/p99 round-trip latency.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use lineage_net::client::Client;
use serde_json::{json, Value};

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let [relay, air, n, secs] = args.as_slice() else {
        eprintln!("usage: particles <relay multiaddr> <air file> <clients> <seconds>");
        std::process::exit(2);
    };
    let relay: libp2p::Multiaddr = relay
        .parse()
        .unwrap_or_else(|e| fail(&format!("bad relay address: {e}")));
    let air =
        std::fs::read_to_string(air).unwrap_or_else(|e| fail(&format!("cannot read {air}: {e}")));
    let n: usize = n
        .parse()
        .unwrap_or_else(|_| fail("clients must be a number"));
    let secs: u64 = secs
        .parse()
        .unwrap_or_else(|_| fail("seconds must be a number"));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap_or_else(|e| fail(&e.to_string()));
    rt.block_on(async move {
        // Connect every client first; measure only the calls.
        let t = Instant::now();
        let mut clients = Vec::with_capacity(n);
        for _ in 0..n {
            let key = libp2p::identity::Keypair::generate_ed25519();
            let swarm = lineage_net::transport::build_swarm(
                key.clone(),
                "lineage-bench",
                lineage_net::ConnectionLimits::default(),
                1 << 26,
            )
            .await
            .unwrap_or_else(|e| fail(&e.to_string()));
            clients.push(
                Client::connect(swarm, key, relay.clone())
                    .await
                    .unwrap_or_else(|e| fail(&e.to_string())),
            );
        }
        let connect_ms = t.elapsed().as_secs_f64() * 1e3;
        let deadline = Instant::now() + Duration::from_secs(secs);
        let tasks: Vec<_> = clients
            .into_iter()
            .map(|c| {
                let air = air.clone();
                tokio::spawn(async move {
                    let mut lat = Vec::new();
                    let mut errors = 0u64;
                    let args = HashMap::from([
                        ("a".to_string(), json!("a")),
                        ("b".to_string(), json!("b")),
                    ]);
                    while Instant::now() < deadline {
                        let t = Instant::now();
                        match c.call(&air, args.clone(), 20_000).await {
                            Ok(Value::String(s)) if s == "ab" => {
                                lat.push(t.elapsed().as_secs_f64() * 1e3)
                            }
                            _ => errors += 1,
                        }
                    }
                    (lat, errors)
                })
            })
            .collect();
        let started = Instant::now();
        let mut all = Vec::new();
        let mut errors = 0;
        for t in tasks {
            if let Ok((lat, e)) = t.await {
                all.extend(lat);
                errors += e;
            }
        }
        let elapsed = started.elapsed().as_secs_f64();
        all.sort_by(|a, b| a.total_cmp(b));
        let pct = |p: f64| {
            all.get(((all.len() as f64 * p) as usize).min(all.len().saturating_sub(1)))
                .copied()
                .unwrap_or(f64::NAN)
        };
        println!(
            "{}",
            json!({
                "engine": "rust-client", "clients": n, "calls": all.len(), "errors": errors,
                "calls_per_s": all.len() as f64 / elapsed, "p50_ms": pct(0.50), "p99_ms": pct(0.99),
                "connect_ms_total": connect_ms,
            })
        );
    });
}

fn fail(msg: &str) -> ! {
    eprintln!("bench: {msg}");
    std::process::exit(1)
}
