//! Round trips of a client → node → client Aqua call (`concatOnRelay`, compiled by aqua-api)
//! with N concurrent Rust clients (`lineage_net::client::Client`) against a running node.
//! Usage (benches/particles.sh runs it): `particles <relay multiaddr> <air file> <N> <seconds>`.
//! Prints one JSON line: particles/s and p50/p99 round-trip latency.
//!
//! With `<air file>` = `hostile`, it is the hostile client instead: N clients each keep 4 heavy
//! particles (a fold of 300 relay calls, ≈ 1 s of a core each in a release build) in flight for
//! `<seconds>`, and print how many they sent. With `flood`, N clients each send 20 trivial
//! particles a second (`op.noop` on the relay; issue 8's finding 15 is 50 such clients).
//! `PACE_MS=n` makes each calling client start a call at most every n ms.

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
    let hostile = air == "hostile";
    let flood = air == "flood";
    let air = if hostile || flood {
        String::new()
    } else {
        std::fs::read_to_string(air).unwrap_or_else(|e| fail(&format!("cannot read {air}: {e}")))
    };
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
            clients.push((
                key.clone(),
                Client::connect(swarm, key, relay.clone())
                    .await
                    .unwrap_or_else(|e| fail(&e.to_string())),
            ));
        }
        let connect_ms = t.elapsed().as_secs_f64() * 1e3;
        let deadline = Instant::now() + Duration::from_secs(secs);
        if flood {
            let relay_id = lineage_net::peer_id_of(&relay).unwrap_or_else(|| fail("relay has no /p2p/"));
            let script = format!(r#"(call "{relay_id}" ("op" "noop") [])"#);
            let mut sent = 0u64;
            let tick = Duration::from_millis(50);
            let mut next = tokio::time::Instant::now();
            while Instant::now() < deadline {
                for (key, c) in &clients {
                    let p = lineage_particle::Particle::new_signed(key, &script, now_ms(), 60_000, None)
                        .unwrap_or_else(|e| fail(&e.to_string()));
                    c.send_raw(p);
                    sent += 1;
                }
                next += tick;
                tokio::time::sleep_until(next).await;
            }
            println!("{}", json!({"engine": "flood", "clients": n, "particles_sent": sent, "per_s": sent as f64 / secs as f64}));
            return;
        }
        if hostile {
            let relay_id = lineage_net::peer_id_of(&relay).unwrap_or_else(|| fail("relay has no /p2p/"));
            let xs: Vec<String> = (0..300).map(|i| i.to_string()).collect();
            let script = format!(
                r#"(seq (call "{relay_id}" ("op" "array") [{xs}] xs) (fold xs i (seq (call "{relay_id}" ("op" "noop") [i]) (next i))))"#,
                xs = xs.join(" ")
            );
            let mut sent = 0u64;
            while Instant::now() < deadline {
                for (key, c) in &clients {
                    for _ in 0..4 {
                        let p = lineage_particle::Particle::new_signed(key, &script, now_ms(), 60_000, None)
                            .unwrap_or_else(|e| fail(&e.to_string()));
                        c.send_raw(p);
                        sent += 1;
                    }
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            println!("{}", json!({"engine": "hostile", "clients": n, "heavy_particles_sent": sent}));
            return;
        }
        let clients: Vec<Client> = clients.into_iter().map(|(_, c)| c).collect();
        // PACE_MS: each client starts a call at most every this many ms (default: back to back).
        let pace = std::env::var("PACE_MS")
            .ok()
            .and_then(|v| v.parse::<u64>().ok())
            .map(Duration::from_millis);
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
                            other => {
                                if errors == 0 {
                                    eprintln!("bench: a call failed after {:?}: {other:?}", t.elapsed());
                                }
                                errors += 1
                            }
                        }
                        if let Some(pace) = pace {
                            tokio::time::sleep(pace.saturating_sub(t.elapsed())).await;
                        }
                    }
                    (lat, errors)
                })
            })
            .collect();
        let started = Instant::now();
        let cpu_before = own_cpu_s();
        let mut all = Vec::new();
        let mut errors = 0;
        for t in tasks {
            if let Ok((lat, e)) = t.await {
                all.extend(lat);
                errors += e;
            }
        }
        let elapsed = started.elapsed().as_secs_f64();
        let client_cpu_s = own_cpu_s() - cpu_before;
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
                "connect_ms_total": connect_ms, "client_cpu_s": client_cpu_s,
            })
        );
    });
}

/// CPU time (user + system) of this process so far, seconds (Linux `/proc/self/stat`, 100 Hz).
fn own_cpu_s() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after_name = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
    (ticks(11) + ticks(12)) / 100.0
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

fn fail(msg: &str) -> ! {
    eprintln!("bench: {msg}");
    std::process::exit(1)
}
