//! The node in-process, driven by Rust clients (`lineage_net::client::Client`) running the AIR
//! the Aqua compiler emits (`tests/fixtures/air/`), over tcp and WebSocket.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{air, args, call_ok, connect, deploy_args, now_ms, test_config, TestNode, TTL_MS};
use libp2p::Multiaddr;
use lineage_net::client::ClientError;
use serde_json::{json, Value};

const GREETING_WASM: &[u8] = include_bytes!("../../../tests/fixtures/greeting.wasm");
const TRAP_WASM: &[u8] = include_bytes!("../../../tests/fixtures/trap.wasm");

/// Every test ends by itself.
const TEST_TIMEOUT: Duration = Duration::from_secs(45);

/// The AquaVM message for a call whose service failed with the JSON string `text`.
fn local_service_error(text: &str) -> String {
    format!(
        "Local service error, ret_code is 1, error message is '{}'",
        serde_json::to_string(text).expect("json")
    )
}

fn is_uuid(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.iter().map(|p| p.len()).collect::<Vec<_>>() == [8, 4, 4, 4, 12]
        && parts.iter().all(|p| {
            p.chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        })
}

async fn relay_builtins(node: &TestNode, addr: &Multiaddr) {
    let mut client = connect(addr).await;
    assert_eq!(client.relay_id(), node.peer_id);

    let info = call_ok(&mut client, air::IDENTIFY_RELAY, args(&[])).await;
    assert_eq!(
        info,
        json!({
            "external_addresses": ["/dns4/edge.example.invalid/tcp/443/wss"],
            "allowed_binaries": [],
            "air_version": "0.63.0",
            "node_version": lineage_node::node::AGENT,
            "spell_version": "",
        })
    );

    let before = now_ms();
    let ts = call_ok(&mut client, air::RELAY_TIMESTAMP_MS, args(&[])).await;
    let after = now_ms();
    let ts = ts.as_u64().expect("timestamp_ms is a u64");
    assert!(
        (before..=after).contains(&ts),
        "relay time {ts} within the call [{before}, {after}]"
    );

    let s = call_ok(
        &mut client,
        air::CONCAT_ON_RELAY,
        args(&[("a", "Hi, ".into()), ("b", "Bob".into())]),
    )
    .await;
    assert_eq!(s, json!("Hi, Bob"));

    let sum = call_ok(
        &mut client,
        air::ADD_ON_RELAY,
        args(&[("x", json!(2)), ("y", json!(40))]),
    )
    .await;
    assert_eq!(sum, json!(42));
    let sum = call_ok(
        &mut client,
        air::ADD_ON_RELAY,
        args(&[("x", json!(-5_000_000_000_i64)), ("y", json!(3))]),
    )
    .await;
    assert_eq!(sum, json!(-4_999_999_997_i64));

    // Without a catch in the Aqua, a failing builtin reaches errorHandlingSrv.error.
    let err = client
        .call(
            air::ADD_ON_RELAY,
            args(&[("x", json!(i64::MAX)), ("y", json!(1))]),
            TTL_MS,
        )
        .await
        .expect_err("i64::MAX + 1 overflows");
    let ClientError::Script(error) = err else {
        panic!("expected a script error, got {err}");
    };
    assert_eq!(
        error["message"],
        json!(local_service_error("math.add: overflow")),
        "{error}"
    );
    assert_eq!(error["error_code"], json!(10000), "{error}");
    assert_eq!(error["peer_id"], json!(node.peer_id.to_base58()), "{error}");
}

async fn start_with_external_address() -> TestNode {
    let mut config = test_config();
    config.external_addresses = vec!["/dns4/edge.example.invalid/tcp/443/wss".into()];
    TestNode::start(config).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relay_builtins_over_tcp() {
    tokio::time::timeout(TEST_TIMEOUT, async {
        let node = start_with_external_address().await;
        let addr = node.tcp.clone();
        relay_builtins(&node, &addr).await;
        node.stop().await;
    })
    .await
    .expect("test finished in time");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relay_builtins_over_ws() {
    tokio::time::timeout(TEST_TIMEOUT, async {
        let node = start_with_external_address().await;
        let addr = node.ws.clone();
        relay_builtins(&node, &addr).await;
        node.stop().await;
    })
    .await
    .expect("test finished in time");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deploy_greeting_then_greet_list_and_remove() {
    tokio::time::timeout(TEST_TIMEOUT, async {
        let node = TestNode::start(test_config()).await;
        let mut client = connect(&node.ws).await;

        let deployed = call_ok(
            &mut client,
            air::DEPLOY_SERVICE,
            deploy_args(GREETING_WASM, "greeting"),
        )
        .await;
        let hash = deployed["module_hash"].as_str().expect("module_hash");
        // CIDv1, raw, sha2-256, base32.
        assert!(hash.starts_with("bafkrei") && hash.len() == 59, "{hash}");
        let blueprint = format!(r#"{{"dependencies":[{{"/":"{hash}"}}],"name":"greeting"}}"#);
        assert_eq!(deployed["blueprint"], json!(blueprint));
        let blueprint_id = deployed["blueprint_id"].as_str().expect("blueprint_id");
        assert!(blueprint_id.starts_with("bafkrei") && blueprint_id.len() == 59);
        let service_id = deployed["service_id"]
            .as_str()
            .expect("service_id")
            .to_string();
        assert!(is_uuid(&service_id), "{service_id}");

        let greet = |name: &str| args(&[("service_id", json!(service_id)), ("name", json!(name))]);
        assert_eq!(
            call_ok(&mut client, air::GREET_ON_RELAY, greet("Bob")).await,
            json!({"message": "Hi, Bob", "name_len": 3, "shouted": false})
        );
        assert_eq!(
            call_ok(&mut client, air::GREET_ON_RELAY, greet("ÅSA")).await,
            json!({"message": "Hi, ÅSA", "name_len": 4, "shouted": true})
        );

        let list = call_ok(&mut client, air::LIST_SERVICES, args(&[])).await;
        assert_eq!(
            list,
            json!([{
                "id": service_id,
                "blueprint_id": blueprint_id,
                "service_type": "service",
                "owner_id": client.peer_id().to_base58(),
                "aliases": [],
                "worker_id": node.peer_id.to_base58(),
            }])
        );

        // removeService returns nothing: its AIR never calls callbackSrv.response. js-client
        // resolves such calls once the particle is sent; `Client::call` (today) only ends when
        // the TTL runs out, so a short TTL is used here (see the ignored test below).
        let removed = client
            .call_void(
                air::REMOVE_SERVICE,
                args(&[("service_id", json!(service_id))]),
                2_000,
            )
            .await;
        assert!(matches!(removed, Ok(())), "{removed:?}");
        assert_eq!(
            call_ok(&mut client, air::LIST_SERVICES, args(&[])).await,
            json!([])
        );
        let caught = call_ok(
            &mut client,
            air::CALL_REMOVED_GREETING,
            args(&[("service_id", json!(service_id))]),
        )
        .await;
        assert_eq!(
            caught,
            json!({
                "message": local_service_error(&format!(
                    "Service with id '{service_id}' not found (function greet)"
                )),
                "error_code": 10000,
            })
        );
        node.stop().await;
    })
    .await
    .expect("test finished in time");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trapping_marine_call_is_caught_and_the_service_still_answers() {
    tokio::time::timeout(TEST_TIMEOUT, async {
        let node = TestNode::start(test_config()).await;
        let mut client = connect(&node.tcp).await;
        let deployed = call_ok(
            &mut client,
            air::DEPLOY_SERVICE,
            deploy_args(TRAP_WASM, "trap"),
        )
        .await;
        let service_id = deployed["service_id"].as_str().expect("service_id");
        let outcome = call_ok(
            &mut client,
            air::TRAP_ON_RELAY,
            args(&[("service_id", json!(service_id))]),
        )
        .await;
        assert_eq!(outcome["ping"], json!("pong"), "{outcome}");
        assert_eq!(outcome["error"]["error_code"], json!(10000), "{outcome}");
        let message = outcome["error"]["message"].as_str().expect("message");
        assert!(
            message.starts_with(r#"Local service error, ret_code is 1, error message is '""#),
            "{message}"
        );
        assert!(
            message.contains(&format!("{service_id}.trap_unreachable")),
            "the error names the failed call: {message}"
        );
        node.stop().await;
    })
    .await
    .expect("test finished in time");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_service_error_reaches_the_aqua_catch() {
    tokio::time::timeout(TEST_TIMEOUT, async {
        let node = TestNode::start(test_config()).await;
        let mut client = connect(&node.ws).await;
        let caught = call_ok(&mut client, air::CALL_MISSING_SERVICE, args(&[])).await;
        let message = caught["message"].as_str().expect("message");
        assert!(
            message.contains("Service with id 'no-such-service' not found"),
            "{message}"
        );
        assert_eq!(
            caught,
            json!({
                "message": local_service_error(
                    "Service with id 'no-such-service' not found (function no_such_fn)"
                ),
                "error_code": 10000,
            })
        );
        node.stop().await;
    })
    .await
    .expect("test finished in time");
}

/// What the `echo` service saw: function, arguments, init peer id.
type EchoCall = (String, Vec<Value>, String);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn echo_via_relay_between_two_rust_clients() {
    tokio::time::timeout(TEST_TIMEOUT, async {
        let node = TestNode::start(test_config()).await;
        let mut caller = connect(&node.tcp).await;
        let server = connect(&node.ws).await;
        let server_id = server.peer_id();
        let seen: Arc<Mutex<Vec<EchoCall>>> = Arc::default();
        let record = Arc::clone(&seen);
        server.register_service(
            "echo",
            lineage_peer::handler(move |function, args, ctx| {
                record.lock().expect("lock").push((
                    function.to_string(),
                    args.clone(),
                    ctx.init_peer_id.to_base58(),
                ));
                match args.as_slice() {
                    [Value::String(s)] => Ok(json!(format!("echo: {s}"))),
                    other => Err(format!("echo takes one string, got {other:?}")),
                }
            }),
        );
        let serving = tokio::spawn(async move {
            let result = server.serve_for(Duration::from_secs(30)).await;
            (server, result)
        });

        for s in ["hello", "ÅSA 🙂"] {
            let got = call_ok(
                &mut caller,
                air::ECHO_VIA_RELAY,
                args(&[("peer2", json!(server_id.to_base58())), ("s", json!(s))]),
            )
            .await;
            assert_eq!(got, json!(format!("echo: {s}")));
        }
        assert_eq!(
            *seen.lock().expect("lock"),
            vec![
                (
                    "echo".to_string(),
                    vec![json!("hello")],
                    caller.peer_id().to_base58()
                ),
                (
                    "echo".to_string(),
                    vec![json!("ÅSA 🙂")],
                    caller.peer_id().to_base58()
                ),
            ]
        );

        // peer.is_connected on the relay: the serving client yes, a stranger no.
        let connected = call_ok(
            &mut caller,
            air::IS_CONNECTED_ON_RELAY,
            args(&[("peer_id", json!(server_id.to_base58()))]),
        )
        .await;
        assert_eq!(connected, json!(true));
        let stranger = libp2p::identity::Keypair::generate_ed25519()
            .public()
            .to_peer_id();
        let connected = call_ok(
            &mut caller,
            air::IS_CONNECTED_ON_RELAY,
            args(&[("peer_id", json!(stranger.to_base58()))]),
        )
        .await;
        assert_eq!(connected, json!(false));

        assert!(!serving.is_finished(), "the serving client is still up");
        serving.abort();
        let _ = serving.await;
        node.stop().await;
    })
    .await
    .expect("test finished in time");
}

/// js-client's `callAquaFunction` resolves a function without a result (`fireAndForget` when the
/// return type is void) as soon as the particle has left; `Client::call_void` does the same.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_void_aqua_function_completes_once_the_particle_is_sent() {
    tokio::time::timeout(TEST_TIMEOUT, async {
        let node = TestNode::start(test_config()).await;
        let mut client = connect(&node.tcp).await;
        let deployed = call_ok(
            &mut client,
            air::DEPLOY_SERVICE,
            deploy_args(GREETING_WASM, "greeting"),
        )
        .await;
        let started = std::time::Instant::now();
        let removed = tokio::time::timeout(
            Duration::from_secs(3),
            client.call_void(
                air::REMOVE_SERVICE,
                args(&[("service_id", deployed["service_id"].clone())]),
                TTL_MS,
            ),
        )
        .await;
        assert!(
            matches!(removed, Ok(Ok(()))),
            "a void call completes within 3 s of a {TTL_MS} ms TTL, got {removed:?} after {:?}",
            started.elapsed()
        );
        node.stop().await;
    })
    .await
    .expect("test finished in time");
}

/// Browsers dial `/udp/N/webrtc-direct/certhash/<hash>`: the hash comes from the node's
/// certificate, which (like its key) survives a restart. A native client runs Aqua over it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webrtc_direct_keeps_its_certhash_across_restarts_and_serves_clients() {
    tokio::time::timeout(TEST_TIMEOUT, async {
        let config = test_config();
        let data_dir = config.data_dir.clone();
        let certhash = |a: &libp2p::Multiaddr| {
            a.iter()
                .find_map(|p| match p {
                    libp2p::multiaddr::Protocol::Certhash(h) => Some(h),
                    _ => None,
                })
                .expect("a certhash in the webrtc-direct address")
        };
        let mut first = TestNode::start(config.clone()).await;
        let (id, hash) = (first.peer_id, certhash(&first.webrtc));
        // A native WebRTC dialer needs its own UDP listener first (browsers don't).
        let key = libp2p::identity::Keypair::generate_ed25519();
        let mut swarm = common::swarm(key.clone(), "test").await;
        swarm
            .listen_on("/ip4/127.0.0.1/udp/0/webrtc-direct".parse().expect("addr"))
            .expect("listen");
        loop {
            use futures::StreamExt;
            if let libp2p::swarm::SwarmEvent::NewListenAddr { .. } = swarm.select_next_some().await
            {
                break;
            }
        }
        let mut client = lineage_net::client::Client::connect(swarm, key, first.webrtc.clone())
            .await
            .expect("connects over webrtc-direct");
        let out = call_ok(
            &mut client,
            air::CONCAT_ON_RELAY,
            args(&[("a", json!("web")), ("b", json!("rtc"))]),
        )
        .await;
        assert_eq!(out, json!("webrtc"));
        drop(client);
        first.keep_data_dir();
        first.stop().await;

        let second = TestNode::start(config).await;
        assert_eq!(second.peer_id, id, "the peer id survives a restart");
        assert_eq!(
            certhash(&second.webrtc),
            hash,
            "the certhash survives a restart"
        );
        second.stop().await;
        let _ = std::fs::remove_dir_all(data_dir);
    })
    .await
    .expect("test finished in time");
}

/// A node started with `--bootstrap` of another joins its Kademlia routing table; Aqua's
/// `Kademlia.neighborhood` on the first node then names it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bootstrapped_node_appears_in_kad_neighborhood() {
    tokio::time::timeout(TEST_TIMEOUT, async {
        let a = TestNode::start(test_config()).await;
        let mut config_b = test_config();
        config_b.bootstrap = vec![a.tcp.clone()];
        let b = TestNode::start(config_b).await;
        let mut client = connect(&a.tcp).await;
        let key = b.peer_id.to_base58();
        let mut seen = json!([]);
        // Identify, then Kademlia's routing update: well under a second on an idle machine, a
        // few seconds when the whole suite runs at once on two cores.
        for _ in 0..200 {
            seen = call_ok(
                &mut client,
                air::NEIGHBORHOOD_ON_RELAY,
                args(&[("key", json!(key))]),
            )
            .await;
            if seen.as_array().is_some_and(|p| !p.is_empty()) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(
            seen,
            json!([key]),
            "node A's routing table holds exactly node B"
        );
        b.stop().await;
        a.stop().await;
    })
    .await
    .expect("test finished in time");
}
