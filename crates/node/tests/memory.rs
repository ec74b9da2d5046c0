//! Memory a service grows to is given back when its call hits the cap (issue 8, finding 7).
//! Its own test binary: it reads the process's resident memory, which other tests would move.

mod common;

use std::time::Duration;

use base64::Engine as _;
use common::{air, args, connect, test_config, TestNode};
use serde_json::json;

const HOG: &[u8] = include_bytes!("../../../tests/fixtures/hog.wasm");
const MIB: u64 = 1 << 20;

/// `hog(4)` (allocates 4 MiB blocks until memory runs out) on the relay; the error comes back.
const HOG_ON_RELAY: &str = r#"
(xor
 (seq
  (seq
   (call %init_peer_id% ("getDataSrv" "-relay-") [] -relay-)
   (call %init_peer_id% ("getDataSrv" "service_id") [] sid))
  (xor
   (seq (call -relay- (sid "hog") [4] r) (call %init_peer_id% ("callbackSrv" "response") [r]))
   (call %init_peer_id% ("callbackSrv" "response") [:error:.$.message])))
 (call %init_peer_id% ("errorHandlingSrv" "error") [:error: 0]))
"#;

/// Resident memory of this process (the node runs in it), from /proc.
fn rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map(|kb| kb * 1024)
        .expect("VmRSS")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn services_that_trap_at_their_memory_cap_give_the_memory_back() {
    const SERVICES: usize = 4;
    const CAP: u64 = 128 * MIB;
    let test = async {
        let mut config = test_config();
        config.particle.max_exec_ms = Some(60_000);
        config.service_memory_bytes = CAP;
        let node = TestNode::start(config).await;
        let client = connect(&node.tcp).await;
        let wasm_b64 = base64::engine::general_purpose::STANDARD.encode(HOG);
        let before = rss();
        for _ in 0..SERVICES {
            let deployed = client
                .call(
                    air::DEPLOY_SERVICE,
                    args(&[("wasm_b64", json!(wasm_b64)), ("module_name", json!("hog"))]),
                    60_000,
                )
                .await
                .expect("deployed");
            let sid = deployed["service_id"]
                .as_str()
                .expect("service_id")
                .to_string();
            let got = client
                .call(HOG_ON_RELAY, args(&[("service_id", json!(sid))]), 60_000)
                .await
                .expect("the trap's message comes back");
            assert!(
                got.as_str().unwrap_or_default().contains("memory limit"),
                "{got}"
            );
        }
        let after = rss();
        // Before: each trapped service kept its grown memory (4 × the cap here).
        assert!(
            after < before + CAP,
            "resident memory grew by {} MiB over {SERVICES} services trapped at {} MiB",
            (after.saturating_sub(before)) / MIB,
            CAP / MIB
        );
        common::assert_node_serves(&node).await;
        node.stop().await;
    };
    tokio::time::timeout(Duration::from_secs(240), test)
        .await
        .expect("test finished in time");
}
