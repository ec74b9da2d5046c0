//! Memory bounds that only a process's resident memory shows (issue 8): a service's grown
//! memory is given back when its call hits the cap (finding 7); a particle sent on to many peers
//! is held once (finding 11). Its own test binary, its tests one at a time: they read the
//! process's resident memory, which other tests would move.

mod common;

use std::time::Duration;

use common::{air, args, connect, deploy_args, now_ms, send_raw_particle, test_config, TestNode};
use libp2p::identity::Keypair;
use lineage_particle::Particle;
use serde_json::json;

/// One test at a time: each measures the whole process.
static ALONE: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

const HOG: &[u8] = include_bytes!("../../../tests/fixtures/hog.wasm");
const MIB: u64 = 1 << 20;

/// Resident memory of this process (the node runs in it), from /proc.
fn rss() -> u64 {
    status_bytes("VmRSS:")
}

/// Peak resident memory since [`reset_peak`].
fn peak() -> u64 {
    status_bytes("VmHWM:")
}

/// Resets the peak resident memory (`VmHWM`) to the current one.
fn reset_peak() {
    std::fs::write("/proc/self/clear_refs", "5").expect("/proc/self/clear_refs");
}

fn status_bytes(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map(|kb| kb * 1024)
        .expect("VmRSS")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn services_that_trap_at_their_memory_cap_give_the_memory_back() {
    const SERVICES: usize = 4;
    const CAP: u64 = 128 * MIB;
    let _alone = ALONE.lock().await;
    let test = async {
        let mut config = test_config();
        config.particle.max_exec_ms = Some(60_000);
        config.service_memory_bytes = CAP;
        let node = TestNode::start(config).await;
        let client = connect(&node.tcp).await;
        let before = rss();
        for _ in 0..SERVICES {
            let deployed = client
                .call(air::DEPLOY_SERVICE, deploy_args(HOG, "hog"), 60_000)
                .await
                .expect("deployed");
            let sid = deployed["service_id"]
                .as_str()
                .expect("service_id")
                .to_string();
            let got = client
                .call(
                    // hog(4) allocates 4 MiB blocks until memory runs out.
                    &air::service_call_on_relay("hog", "4"),
                    args(&[("service_id", json!(sid))]),
                    60_000,
                )
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
    common::within(Duration::from_secs(240), test).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_particle_sent_on_to_many_peers_is_held_once() {
    const PEERS: usize = 300;
    const BIG: usize = 1 << 20;
    let _alone = ALONE.lock().await;
    let test = async {
        let node = TestNode::start(test_config()).await;
        let relay = node.peer_id.to_string();
        // 300 peers nobody can reach (no known address): every send waits for a dial that fails.
        let peers: Vec<String> = (0..PEERS)
            .map(|_| format!("\"{}\"", Keypair::generate_ed25519().public().to_peer_id()))
            .collect();
        let big = "x".repeat(BIG);
        // A 1 MiB script whose trace holds its 1 MiB value too, sent on to 300 peers at once.
        let script = format!(
            r#"(seq (seq (call "{relay}" ("op" "identity") ["{big}"] big) (call "{relay}" ("op" "array") [{peers}] peers)) (fold peers p (par (call p ("op" "noop") [big]) (next p))))"#,
            peers = peers.join(" ")
        );
        let key = Keypair::generate_ed25519();
        let particle = Particle::new_signed(&key, &script, now_ms(), 20_000, None).unwrap();
        reset_peak();
        let before = rss();
        send_raw_particle(&node, key, particle).await;
        common::wait_log(&["particle not delivered"], Duration::from_secs(30)).await;
        tokio::time::sleep(Duration::from_secs(1)).await;
        let grown = peak().saturating_sub(before);
        // Before: one copy of script and data per next peer, ~600 MiB here.
        assert!(
            grown < 100 * MIB,
            "peak resident memory grew by {} MiB sending one 2 MiB particle to {PEERS} peers",
            grown / MIB
        );
        let failed = common::log_lines(&["particle not delivered"]).len();
        assert!(failed >= PEERS / 2, "the sends were tried: {failed} failed");
        common::assert_node_serves(&node).await;
        node.stop().await;
    };
    common::within(Duration::from_secs(120), test).await;
}
