//! Shared by the node's integration tests: an in-process node on 127.0.0.1 with free ports and a
//! temporary data dir, Rust clients connected to it, the compiled AIR fixtures, and the node's
//! log captured in memory so tests can assert what it reported.
//!
//! `LINEAGE_TEST_LOG=1` also echoes the captured log to stderr.

#![allow(dead_code)]

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, Once};
use std::time::{Duration, Instant};

use libp2p::identity::Keypair;
use libp2p::multiaddr::Protocol;
use libp2p::{Multiaddr, PeerId};
use lineage_net::client::Client;
use lineage_node::config::NodeConfig;
use lineage_node::node::{self, Started};
use lineage_particle::Particle;
use serde_json::Value;

/// Particle TTL of test calls.
pub const TTL_MS: u32 = 20_000;

/// The AIR the Aqua compiler emits (`tests/fixtures/air/`).
pub mod air {
    macro_rules! fixture {
        ($name:ident, $file:literal) => {
            pub const $name: &str =
                include_str!(concat!("../../../../tests/fixtures/air/", $file, ".air"));
        };
    }
    fixture!(IDENTIFY_RELAY, "relay.identifyRelay");
    fixture!(RELAY_TIMESTAMP_MS, "relay.relayTimestampMs");
    fixture!(CONCAT_ON_RELAY, "relay.concatOnRelay");
    fixture!(ADD_ON_RELAY, "relay.addOnRelay");
    fixture!(NEIGHBORHOOD_ON_RELAY, "relay.neighborhoodOnRelay");
    fixture!(DEPLOY_SERVICE, "services.deployService");
    fixture!(GREET_ON_RELAY, "services.greetOnRelay");
    fixture!(LIST_SERVICES, "services.listServices");
    fixture!(REMOVE_SERVICE, "services.removeService");
    fixture!(CALL_REMOVED_GREETING, "services.callRemovedGreeting");
    fixture!(CALL_MISSING_SERVICE, "services.callMissingService");
    fixture!(TRAP_ON_RELAY, "services.trapOnRelay");
    fixture!(ECHO_VIA_RELAY, "echo.echoViaRelay");
    fixture!(IS_CONNECTED_ON_RELAY, "echo.isConnectedOnRelay");

    /// Calls `function(arg)` of the service named by the `service_id` argument on the relay;
    /// its result — or, when it fails, its error message — comes back as the call's result.
    pub fn service_call_on_relay(function: &str, arg: &str) -> String {
        format!(
            r#"
(xor
 (seq
  (seq
   (call %init_peer_id% ("getDataSrv" "-relay-") [] -relay-)
   (call %init_peer_id% ("getDataSrv" "service_id") [] sid))
  (xor
   (seq (call -relay- (sid "{function}") [{arg}] r) (call %init_peer_id% ("callbackSrv" "response") [r]))
   (call %init_peer_id% ("callbackSrv" "response") [:error:.$.message])))
 (call %init_peer_id% ("errorHandlingSrv" "error") [:error: 0]))
"#
        )
    }
}

/// Fails the test if `test` takes longer than `limit`.
pub async fn within(limit: Duration, test: impl std::future::Future<Output = ()>) {
    tokio::time::timeout(limit, test)
        .await
        .expect("test finished in time");
}

/// `air::DEPLOY_SERVICE` arguments: `wasm` as module `name`.
pub fn deploy_args(wasm: &[u8], name: &str) -> HashMap<String, Value> {
    use base64::Engine as _;
    args(&[
        (
            "wasm_b64",
            base64::engine::general_purpose::STANDARD
                .encode(wasm)
                .into(),
        ),
        ("module_name", name.into()),
    ])
}

/// One `concatOnRelay(i, "!")`, checked; returns its round trip.
pub async fn trivial_call(client: &Client, i: usize) -> Duration {
    let started = Instant::now();
    let got = client
        .call(
            air::CONCAT_ON_RELAY,
            args(&[("a", i.to_string().into()), ("b", "!".into())]),
            TTL_MS,
        )
        .await
        .expect("a trivial call is answered");
    assert_eq!(got, Value::String(format!("{i}!")));
    started.elapsed()
}

/// The value of the first `/metrics` line starting with `name` (labels included in `name`).
pub fn metric(metrics: &str, name: &str) -> Option<f64> {
    metrics
        .lines()
        .find(|l| l.starts_with(name))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

/// `getDataSrv` arguments of a call.
pub fn args(pairs: &[(&str, Value)]) -> HashMap<String, Value> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_string(), v.clone()))
        .collect()
}

pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_millis() as u64
}

// ---------------------------------------------------------------------------------------------
// Captured log

static LOG: Mutex<Vec<u8>> = Mutex::new(Vec::new());

struct Capture;

impl std::io::Write for Capture {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        LOG.lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend_from_slice(bytes);
        if std::env::var_os("LINEAGE_TEST_LOG").is_some() {
            let _ = std::io::stderr().write_all(bytes);
        }
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Installs the capturing subscriber (once per test binary): the node at debug, the rest at warn.
pub fn init_log() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new(
                "warn,lineage_node=debug,lineage_net=info",
            ))
            .with_ansi(false)
            .with_writer(|| Capture)
            .init();
    });
}

/// Captured log lines containing every one of `needles`.
pub fn log_lines(needles: &[&str]) -> Vec<String> {
    let log = LOG.lock().unwrap_or_else(|e| e.into_inner());
    String::from_utf8_lossy(&log)
        .lines()
        .filter(|l| needles.iter().all(|n| l.contains(n)))
        .map(str::to_string)
        .collect()
}

/// Waits (at most `within`) for a log line containing every one of `needles`.
pub async fn wait_log(needles: &[&str], within: Duration) -> String {
    let started = Instant::now();
    loop {
        if let Some(line) = log_lines(needles).into_iter().next() {
            return line;
        }
        assert!(
            started.elapsed() < within,
            "no log line with {needles:?} within {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

// ---------------------------------------------------------------------------------------------
// The node

/// A node running on its own thread (with its own current-thread runtime).
pub struct TestNode {
    pub peer_id: PeerId,
    pub tcp: Multiaddr,
    pub ws: Multiaddr,
    /// `/ip4/127.0.0.1/udp/N/webrtc-direct/certhash/…/p2p/…`
    pub webrtc: Multiaddr,
    /// The HTTP gateway (`/api/v0/json-rpc`, `/ipfs`, `/metrics`, `/health`).
    pub http: std::net::SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    done: Option<tokio::sync::oneshot::Receiver<Result<(), String>>>,
    data_dir: PathBuf,
}

/// A node config for tests: 127.0.0.1, free ports, a fresh data dir.
pub fn test_config() -> NodeConfig {
    static N: AtomicU32 = AtomicU32::new(0);
    let data_dir = std::env::temp_dir().join(format!(
        "lineage-node-it-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&data_dir);
    NodeConfig {
        http_port: 0,
        http_requests_per_sec: 200,
        metadata_dir: data_dir.join("metadata"),
        legacy_signatures: false,
        data_dir,
        host: IpAddr::from([127, 0, 0, 1]),
        ws_port: 0,
        tcp_port: 0,
        webrtc_port: 0,
        external_addresses: Vec::new(),
        bootstrap: Vec::new(),
        particles_per_sec: 500,
        max_frame_bytes: lineage_particle::DEFAULT_MAX_FRAME_SIZE,
        exec: lineage_node::exec::ExecLimits::default(),
        particle: lineage_node::config::node_particle_limits(),
        fuel_per_call: lineage_node::config::NODE_FUEL_PER_CALL,
        service_memory_bytes: 256 << 20,
        // Most tests deploy from an arbitrary client; the restricted default has its own tests.
        deploy: lineage_peer::DeployPolicy::Open,
        quotas: lineage_peer::Quotas::default(),
        dial_private_addresses: true,
    }
}

impl TestNode {
    /// Starts `node::run(config, …)` and waits for `Started::Ready`.
    pub async fn start(config: NodeConfig) -> TestNode {
        init_log();
        let data_dir = config.data_dir.clone();
        let (events_tx, mut events) = tokio::sync::mpsc::unbounded_channel();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let (done_tx, done_rx) = tokio::sync::oneshot::channel();
        std::thread::Builder::new()
            .name("lineage-node".into())
            .spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("node runtime");
                let result = rt.block_on(node::run(
                    config,
                    move |event| {
                        let _ = events_tx.send(event);
                    },
                    async {
                        // Stops on request, and when the test drops its handle (e.g. panics).
                        let _ = stop_rx.await;
                    },
                ));
                let _ = done_tx.send(result.map_err(|e| e.to_string()));
            })
            .expect("node thread");

        let mut peer_id = None;
        let mut listening = Vec::new();
        let mut http = None;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            match tokio::time::timeout_at(deadline, events.recv()).await {
                Ok(Some(Started::PeerId(id))) => peer_id = Some(id),
                Ok(Some(Started::Listening(addr))) => listening.push(addr),
                Ok(Some(Started::Ready)) => break,
                Ok(Some(Started::Http(addr))) => http = Some(addr),
                Ok(None) => panic!("the node stopped while starting: {:?}", done_rx.await),
                Err(_) => panic!("the node was not ready within 10 s"),
            }
        }
        let peer_id = peer_id.expect("Started::PeerId before Ready");
        let transport = |a: &Multiaddr| {
            a.iter()
                .filter_map(|p| match p {
                    Protocol::Tcp(_) => Some("tcp"),
                    Protocol::Ws(_) => Some("ws"),
                    Protocol::Udp(_) => Some("udp"),
                    _ => None,
                })
                .collect::<Vec<_>>()
        };
        let find = |kind: &[&str]| {
            let mut found = listening.iter().filter(|a| transport(a) == kind);
            let addr = found.next().cloned();
            assert!(
                found.next().is_none(),
                "one {kind:?} listener: {listening:?}"
            );
            addr.unwrap_or_else(|| panic!("a {kind:?} listener: {listening:?}"))
        };
        let ws = find(&["tcp", "ws"]);
        let tcp = find(&["tcp"]);
        let webrtc = find(&["udp"]);
        for addr in [&ws, &tcp] {
            assert_eq!(
                lineage_net::peer_id_of(addr),
                Some(peer_id),
                "{addr} ends in /p2p/<node>"
            );
            assert!(
                addr.to_string().starts_with("/ip4/127.0.0.1/tcp/"),
                "{addr} is on 127.0.0.1"
            );
        }
        TestNode {
            http: http.expect("Started::Http before Ready"),
            peer_id,
            tcp,
            ws,
            webrtc,
            stop: Some(stop_tx),
            done: Some(done_rx),
            data_dir,
        }
    }

    /// Leaves the data dir in place when this node is dropped (to restart on it).
    pub fn keep_data_dir(&mut self) {
        self.data_dir = PathBuf::new();
    }

    /// Resolves the shutdown future and checks that `node::run` returns `Ok` within 5 s.
    pub async fn stop(mut self) {
        let started = Instant::now();
        if let Some(stop) = self.stop.take() {
            stop.send(()).expect("the node is still running");
        }
        let done = self.done.take().expect("not stopped yet");
        let result = tokio::time::timeout(Duration::from_secs(5), done)
            .await
            .expect("the node stops within 5 s of shutdown")
            .expect("the node thread reports its result");
        assert_eq!(result, Ok(()), "node::run ends without error");
        assert!(started.elapsed() < Duration::from_secs(5));
    }
}

impl Drop for TestNode {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = std::fs::remove_dir_all(&self.data_dir);
    }
}

// ---------------------------------------------------------------------------------------------
// Clients

/// A Rust client with a fresh key, connected to `relay` (at most 10 s).
pub async fn connect(relay: &Multiaddr) -> Client {
    connect_with(Keypair::generate_ed25519(), relay).await
}

/// A Rust client with `key`, connected to `relay` (at most 10 s).
pub async fn connect_with(key: Keypair, relay: &Multiaddr) -> Client {
    let swarm = swarm(key.clone(), "lineage-node-tests").await;
    tokio::time::timeout(
        Duration::from_secs(10),
        Client::connect(swarm, key, relay.clone()),
    )
    .await
    .expect("connected within 10 s")
    .expect("connected")
}

/// A client swarm with default limits and frame size (not connected).
pub async fn swarm(key: Keypair, agent: &str) -> libp2p::Swarm<lineage_net::Behaviour> {
    lineage_net::transport::build_swarm(
        key,
        agent,
        lineage_net::ConnectionLimits::default(),
        lineage_particle::DEFAULT_MAX_FRAME_SIZE,
    )
    .await
    .expect("client swarm")
}

/// Sends `particle` as is through a connected client and drives its swarm until it is written.
pub async fn send_raw_particle(node: &TestNode, key: Keypair, particle: Particle) {
    let client = connect_with(key, &node.tcp).await;
    client.send_raw(particle);
    client
        .serve_for(Duration::from_millis(500))
        .await
        .expect("still connected");
}

/// `GET path` on the node's HTTP gateway: (status, body).
pub async fn http_get(node: &TestNode, path: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(node.http)
        .await
        .expect("http connect");
    let request = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
    stream
        .write_all(request.as_bytes())
        .await
        .expect("http write");
    let mut response = String::new();
    stream
        .read_to_string(&mut response)
        .await
        .expect("http read");
    let status = response
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = response
        .split_once("\r\n\r\n")
        .map_or("", |(_, b)| b)
        .to_string();
    (status, body)
}

/// Runs `script` with `args` and returns the result (panics on errors; at most TTL_MS + 5 s).
pub async fn call_ok(client: &mut Client, script: &str, args: HashMap<String, Value>) -> Value {
    match tokio::time::timeout(
        Duration::from_millis(u64::from(TTL_MS) + 5_000),
        client.call(script, args, TTL_MS),
    )
    .await
    {
        Ok(Ok(v)) => v,
        Ok(Err(e)) => panic!("call failed: {e}"),
        Err(_) => panic!("call did not return within its TTL"),
    }
}

/// `concatOnRelay("ab", "cd")` from a fresh client over tcp: the node still serves.
pub async fn assert_node_serves(node: &TestNode) {
    let started = Instant::now();
    let mut client = connect(&node.tcp).await;
    let got = call_ok(
        &mut client,
        air::CONCAT_ON_RELAY,
        args(&[("a", "ab".into()), ("b", "cd".into())]),
    )
    .await;
    assert_eq!(got, Value::String("abcd".into()));
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "a fresh client was served within 5 s (took {:?})",
        started.elapsed()
    );
}
