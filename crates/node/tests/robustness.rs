//! Bad input must not hurt the node: each case is dropped (and logged) and afterwards a fresh
//! client still gets `concatOnRelay` answered.

mod common;

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use std::{io, iter};

use common::{
    air, args, assert_node_serves, call_ok, connect, connect_with, log_lines, now_ms,
    send_raw_particle, test_config, wait_log, TestNode,
};
use futures::future::{self, Ready};
use futures::{AsyncReadExt, AsyncWriteExt, StreamExt};
use libp2p::core::transport::PortUse;
use libp2p::core::upgrade::{DeniedUpgrade, OutboundUpgrade, UpgradeInfo};
use libp2p::core::Endpoint;
use libp2p::identity::Keypair;
use libp2p::swarm::handler::{OneShotHandler, OneShotHandlerConfig};
use libp2p::swarm::{
    ConnectionDenied, ConnectionId, FromSwarm, NetworkBehaviour, NotifyHandler, StreamUpgradeError,
    SubstreamProtocol, SwarmEvent, THandler, THandlerInEvent, THandlerOutEvent, ToSwarm,
};
use libp2p::{noise, tcp, yamux, Multiaddr, PeerId, Stream, StreamProtocol, Swarm};
use lineage_net::PARTICLE_PROTOCOL;
use lineage_particle::{encode, encode_body, Particle, DEFAULT_MAX_FRAME_SIZE};
use serde_json::{json, Value};

const TEST_TIMEOUT: Duration = Duration::from_secs(45);
/// How soon the node must give up a stream it can't use (its own read timeout is 10 s).
const PROMPTLY: Duration = Duration::from_secs(3);

async fn within_timeout(test: impl std::future::Future<Output = ()>) {
    common::within(TEST_TIMEOUT, test).await;
}

// ---------------------------------------------------------------------------------------------
// Particles that decode but must not run

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_particle_with_a_bad_signature_is_rejected() {
    within_timeout(async {
        let node = TestNode::start(test_config()).await;
        let key = Keypair::generate_ed25519();
        let mut particle = Particle::new_signed(&key, "(null)", now_ms(), 30_000, None).unwrap();
        // Tampered after signing.
        particle.script = format!(r#"(call "{}" ("op" "noop") [])"#, node.peer_id.to_base58());
        assert!(particle.verify().is_err());
        let id = particle.id.clone();
        send_raw_particle(&node, key, particle).await;
        let line = wait_log(&["particle rejected", &id], PROMPTLY).await;
        assert!(
            line.contains(&format!(
                "reason=particle {id} has a bad signature: bad signature on particle {id}"
            )),
            "{line}"
        );
        assert_eq!(log_lines(&["particle handled", &id]), Vec::<String>::new());
        assert_node_serves(&node).await;
        node.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_particle_is_dropped() {
    within_timeout(async {
        let node = TestNode::start(test_config()).await;
        let key = Keypair::generate_ed25519();
        let timestamp = now_ms() - 3_600_000;
        let script = format!(r#"(call "{}" ("op" "noop") [])"#, node.peer_id.to_base58());
        let particle = Particle::new_signed(&key, script, timestamp, 1_000, None).unwrap();
        assert!(particle.verify().is_ok(), "well signed, only expired");
        let id = particle.id.clone();
        send_raw_particle(&node, key, particle).await;
        let line = wait_log(&["particle dropped", &id], PROMPTLY).await;
        assert!(
            line.contains(&format!(
                "reason=particle {id} is expired (timestamp {timestamp} + ttl 1000 ≤ now "
            )),
            "{line}"
        );
        assert_eq!(log_lines(&["particle handled", &id]), Vec::<String>::new());
        assert_node_serves(&node).await;
        node.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn particles_dated_a_year_ahead_or_with_a_huge_ttl_are_rejected() {
    // Issue 8 row 9: such particles were accepted and their data kept until they "expired".
    within_timeout(async {
        let node = TestNode::start(test_config()).await;
        let script = format!(r#"(call "{}" ("op" "noop") [])"#, node.peer_id.to_base58());
        let key = Keypair::generate_ed25519();
        let year = 365 * 24 * 3_600_000;
        let ahead =
            Particle::new_signed(&key, script.clone(), now_ms() + year, 30_000, None).unwrap();
        let ahead_id = ahead.id.clone();
        send_raw_particle(&node, key.clone(), ahead).await;
        let line = wait_log(&["particle", &ahead_id], PROMPTLY).await;
        assert!(line.contains("ahead of this peer's clock"), "{line}");
        let long = Particle::new_signed(&key, script, now_ms(), u32::MAX, None).unwrap();
        let long_id = long.id.clone();
        send_raw_particle(&node, key, long).await;
        let line = wait_log(&["particle", &long_id], PROMPTLY).await;
        assert!(line.contains("asks for a ttl of"), "{line}");
        assert_eq!(
            log_lines(&["particle handled", &ahead_id]),
            Vec::<String>::new()
        );
        assert_node_serves(&node).await;
        node.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn air_that_does_not_parse_is_rejected() {
    within_timeout(async {
        let node = TestNode::start(test_config()).await;
        let key = Keypair::generate_ed25519();
        let particle = Particle::new_signed(&key, "(seq (null)", now_ms(), 30_000, None).unwrap();
        let id = particle.id.clone();
        send_raw_particle(&node, key, particle).await;
        let line = wait_log(&["particle rejected", &id], PROMPTLY).await;
        assert!(
            line.contains(&format!(
                "reason=particle {id}: AquaVM failed with code 1: "
            )),
            "{line}"
        );
        assert_node_serves(&node).await;
        node.stop().await;
    })
    .await;
}

/// AquaVM recurses per nested instruction: a script past the limit is refused before it runs
/// (a 1000-deep `seq` used to overflow the node's stack and abort the process).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn air_nested_too_deep_is_refused_not_run() {
    within_timeout(async {
        let node = TestNode::start(test_config()).await;
        let key = Keypair::generate_ed25519();
        let script = format!("{}(null){}", "(seq (null) ".repeat(999), ")".repeat(999));
        let particle = Particle::new_signed(&key, &script, now_ms(), 30_000, None).unwrap();
        let id = particle.id.clone();
        send_raw_particle(&node, key, particle).await;
        let line = wait_log(&["particle rejected", &id], PROMPTLY).await;
        assert!(
            line.contains("the script nests instructions 1000 deep; at most 500 levels are run"),
            "{line}"
        );
        assert_node_serves(&node).await;
        node.stop().await;
    })
    .await;
}

/// AquaVM recurses per `fold` element: a fold over 2 000 items on the node (a `for` in Aqua)
/// needs far more stack than a runtime worker thread has; it runs on its own stack.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fold_over_thousands_of_items_does_not_take_the_node_down() {
    within_timeout(async {
        let node = TestNode::start(test_config()).await;
        let key = Keypair::generate_ed25519();
        let items: Vec<String> = (0..2_000).map(|i| i.to_string()).collect();
        let script = format!(
            r#"(seq (call "{relay}" ("op" "array") [{items}] xs) (seq (fold xs i (seq (null) (next i))) (call "{relay}" ("op" "noop") [])))"#,
            relay = node.peer_id,
            items = items.join(" ")
        );
        let particle = Particle::new_signed(&key, &script, now_ms(), 30_000, None).unwrap();
        send_raw_particle(&node, key, particle).await;
        assert_node_serves(&node).await;
        node.stop().await;
    })
    .await;
}

// ---------------------------------------------------------------------------------------------
// Raw bytes on /fluence/particle/2.0.0 streams

/// Opens particle streams and hands them over as they are, to write anything on them.
#[derive(Default)]
struct RawStreams {
    events: VecDeque<ToSwarm<Result<Stream, String>, OpenRaw>>,
}

#[derive(Debug)]
struct OpenRaw;

impl UpgradeInfo for OpenRaw {
    type Info = StreamProtocol;
    type InfoIter = iter::Once<StreamProtocol>;
    fn protocol_info(&self) -> Self::InfoIter {
        iter::once(PARTICLE_PROTOCOL)
    }
}

impl OutboundUpgrade<Stream> for OpenRaw {
    type Output = Stream;
    type Error = io::Error;
    type Future = Ready<Result<Stream, io::Error>>;
    fn upgrade_outbound(self, stream: Stream, _: StreamProtocol) -> Self::Future {
        future::ready(Ok(stream))
    }
}

#[derive(Debug)]
struct Opened(Stream);

impl From<Stream> for Opened {
    fn from(s: Stream) -> Self {
        Opened(s)
    }
}

impl From<Infallible> for Opened {
    fn from(never: Infallible) -> Self {
        match never {}
    }
}

type RawHandler = OneShotHandler<DeniedUpgrade, OpenRaw, Opened>;

fn raw_handler() -> RawHandler {
    OneShotHandler::new(
        SubstreamProtocol::new(DeniedUpgrade, ()),
        OneShotHandlerConfig::default(),
    )
}

impl NetworkBehaviour for RawStreams {
    type ConnectionHandler = RawHandler;
    type ToSwarm = Result<Stream, String>;

    fn handle_established_inbound_connection(
        &mut self,
        _: ConnectionId,
        _: PeerId,
        _: &Multiaddr,
        _: &Multiaddr,
    ) -> Result<THandler<Self>, ConnectionDenied> {
        Ok(raw_handler())
    }

    fn handle_established_outbound_connection(
        &mut self,
        _: ConnectionId,
        _: PeerId,
        _: &Multiaddr,
        _: Endpoint,
        _: PortUse,
    ) -> Result<THandler<Self>, ConnectionDenied> {
        Ok(raw_handler())
    }

    fn on_swarm_event(&mut self, _: FromSwarm) {}

    fn on_connection_handler_event(
        &mut self,
        _: PeerId,
        _: ConnectionId,
        event: THandlerOutEvent<Self>,
    ) {
        let event = match event {
            Ok(Opened(stream)) => Ok(stream),
            Err(StreamUpgradeError::NegotiationFailed) => Err("negotiation failed".to_string()),
            Err(e) => Err(format!("{e:?}")),
        };
        self.events.push_back(ToSwarm::GenerateEvent(event));
    }

    fn poll(&mut self, _: &mut Context<'_>) -> Poll<ToSwarm<Self::ToSwarm, THandlerInEvent<Self>>> {
        match self.events.pop_front() {
            Some(e) => Poll::Ready(e),
            None => Poll::Pending,
        }
    }
}

type StreamReply = tokio::sync::oneshot::Sender<Result<Stream, String>>;

/// A peer that writes raw bytes on particle streams to the node; its swarm runs on a task.
struct RawPeer {
    peer_id: PeerId,
    requests: tokio::sync::mpsc::UnboundedSender<StreamReply>,
    task: tokio::task::JoinHandle<()>,
}

impl RawPeer {
    async fn connect(node: &TestNode) -> RawPeer {
        let key = Keypair::generate_ed25519();
        let peer_id = key.public().to_peer_id();
        let mut swarm: Swarm<RawStreams> = libp2p::SwarmBuilder::with_existing_identity(key)
            .with_tokio()
            .with_tcp(
                tcp::Config::default().nodelay(true),
                noise::Config::new,
                yamux::Config::default,
            )
            .expect("tcp")
            .with_behaviour(|_| RawStreams::default())
            .expect("behaviour")
            .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(60)))
            .build();
        swarm.dial(node.tcp.clone()).expect("dial");
        tokio::time::timeout(Duration::from_secs(10), async {
            loop {
                match swarm.select_next_some().await {
                    SwarmEvent::ConnectionEstablished { peer_id, .. }
                        if peer_id == node.peer_id =>
                    {
                        break
                    }
                    SwarmEvent::OutgoingConnectionError { error, .. } => panic!("dial: {error}"),
                    _ => {}
                }
            }
        })
        .await
        .expect("raw peer connected within 10 s");

        let node_id = node.peer_id;
        let (requests, mut pending) = tokio::sync::mpsc::unbounded_channel::<StreamReply>();
        let task = tokio::spawn(async move {
            let mut waiting = VecDeque::new();
            loop {
                tokio::select! {
                    request = pending.recv() => match request {
                        Some(reply) => {
                            waiting.push_back(reply);
                            swarm.behaviour_mut().events.push_back(ToSwarm::NotifyHandler {
                                peer_id: node_id,
                                handler: NotifyHandler::Any,
                                event: OpenRaw,
                            });
                        }
                        None => break,
                    },
                    event = swarm.select_next_some() => {
                        if let SwarmEvent::Behaviour(opened) = event {
                            if let Some(reply) = waiting.pop_front() {
                                let _ = reply.send(opened);
                            }
                        }
                    }
                }
            }
        });
        RawPeer {
            peer_id,
            requests,
            task,
        }
    }

    /// A new `/fluence/particle/2.0.0` stream to the node.
    async fn open(&self) -> Stream {
        let (reply, stream) = tokio::sync::oneshot::channel();
        self.requests.send(reply).expect("raw peer task running");
        tokio::time::timeout(Duration::from_secs(5), stream)
            .await
            .expect("stream opened within 5 s")
            .expect("raw peer task answers")
            .expect("the node accepts /fluence/particle/2.0.0")
    }

    fn stop(self) {
        drop(self.requests);
        self.task.abort();
    }
}

/// How the node ended a stream we wrote to.
#[derive(Debug, PartialEq)]
enum Ended {
    /// Closed (cleanly, or reset) within [`PROMPTLY`].
    Closed,
    /// Still open after [`PROMPTLY`]: the node is waiting for more bytes.
    Open,
}

/// Waits (at most [`PROMPTLY`]) for the node to end `stream`; it must not write anything.
async fn ended_by_node(stream: &mut Stream) -> Ended {
    let mut buf = [0u8; 256];
    match tokio::time::timeout(PROMPTLY, stream.read(&mut buf)).await {
        Ok(Ok(0) | Err(_)) => Ended::Closed,
        Ok(Ok(n)) => panic!("the node wrote {n} bytes back on a particle stream"),
        Err(_) => Ended::Open,
    }
}

/// The unsigned varint of `n`.
fn uvarint(mut n: u64) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let byte = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(byte);
            return out;
        }
        out.push(byte | 0x80);
    }
}

/// Writes `bytes` on a new stream, closing our side if `close`; returns how the node ended it.
async fn write_raw(peer: &RawPeer, bytes: &[u8], close: bool) -> Ended {
    let mut stream = peer.open().await;
    stream.write_all(bytes).await.expect("write");
    stream.flush().await.expect("flush");
    if close {
        stream.close().await.expect("close");
    }
    ended_by_node(&mut stream).await
}

fn malformed_lines(peer: &RawPeer, error: &str) -> Vec<String> {
    log_lines(&[
        "dropped a malformed particle stream",
        &format!("peer={}", peer.peer_id),
        error,
    ])
}

/// Control for the raw-stream tests: a well-formed frame written the same way is handled.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_valid_frame_on_a_raw_stream_is_handled() {
    within_timeout(async {
        let node = TestNode::start(test_config()).await;
        let peer = RawPeer::connect(&node).await;
        let key = Keypair::generate_ed25519();
        let particle = Particle::new_signed(&key, "(null)", now_ms(), 30_000, None).unwrap();
        assert_eq!(
            write_raw(&peer, &encode(&particle), true).await,
            Ended::Closed
        );
        wait_log(&["particle handled", &particle.id], PROMPTLY).await;
        assert_eq!(malformed_lines(&peer, ""), Vec::<String>::new());
        peer.stop();
        node.stop().await;
    })
    .await;
}

/// One particle per stream: a second frame on the same stream fails it at once (the node does
/// not buffer frames until the stream closes), and neither particle runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_frame_on_one_stream_fails_the_stream() {
    within_timeout(async {
        let node = TestNode::start(test_config()).await;
        let peer = RawPeer::connect(&node).await;
        let key = Keypair::generate_ed25519();
        let first = Particle::new_signed(&key, "(null)", now_ms(), 30_000, None).unwrap();
        let second = Particle::new_signed(&key, "(null)", now_ms(), 30_000, None).unwrap();
        let mut bytes = encode(&first);
        bytes.extend(encode(&second));
        // Not closed by us: the node ends the stream as soon as the second frame starts.
        assert_eq!(write_raw(&peer, &bytes, false).await, Ended::Closed);
        wait_log(
            &[
                "dropped a malformed particle stream",
                &format!("peer={}", peer.peer_id),
                "unexpected bytes after the frame",
            ],
            PROMPTLY,
        )
        .await;
        assert!(log_lines(&["particle handled", &first.id]).is_empty());
        assert!(log_lines(&["particle handled", &second.id]).is_empty());
        peer.stop();
        node.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversize_frame_is_refused_from_its_length_prefix() {
    within_timeout(async {
        let node = TestNode::start(test_config()).await;
        let peer = RawPeer::connect(&node).await;
        let len = DEFAULT_MAX_FRAME_SIZE as u64 + 1;
        let mut bytes = uvarint(len);
        bytes.extend_from_slice(&[0x81, 0x04, 0x88]);
        bytes.extend(std::iter::repeat_n(0u8, 4096));
        // Our side stays open: the node must not wait for the 64 MiB.
        let started = Instant::now();
        let ended = write_raw(&peer, &bytes, false).await;
        assert_eq!(ended, Ended::Closed);
        assert!(started.elapsed() < PROMPTLY);
        let line = wait_log(
            &[
                "dropped a malformed particle stream",
                &format!("peer={}", peer.peer_id),
            ],
            PROMPTLY,
        )
        .await;
        assert!(
            line.ends_with(&format!(
                "error=particle frame of {len} bytes exceeds the limit of {DEFAULT_MAX_FRAME_SIZE} bytes"
            )),
            "{line}"
        );
        peer.stop();
        assert_node_serves(&node).await;
        node.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_on_a_particle_stream_is_dropped() {
    within_timeout(async {
        let node = TestNode::start(test_config()).await;
        let peer = RawPeer::connect(&node).await;

        // A length prefix that never ends (varint overflow): refused as soon as it is read.
        let ended = write_raw(&peer, &[0xff; 16], false).await;
        assert_eq!(ended, Ended::Closed);
        wait_log(
            &[
                "dropped a malformed particle stream",
                &format!("peer={}", peer.peer_id),
                "error=invalid frame length prefix",
            ],
            PROMPTLY,
        )
        .await;

        // A complete frame whose body is not multicodec-prefixed MessagePack.
        let ended = write_raw(&peer, &[0x04, 0xde, 0xad, 0xbe, 0xef], false).await;
        assert_eq!(ended, Ended::Closed);
        wait_log(
            &[
                "dropped a malformed particle stream",
                &format!("peer={}", peer.peer_id),
                "error=the frame body does not start with a multicodec prefix",
            ],
            PROMPTLY,
        )
        .await;

        // Text that ends before the length its first byte announces ('G' = 71).
        let ended = write_raw(&peer, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", true).await;
        assert_eq!(ended, Ended::Closed);
        wait_log(
            &[
                "dropped a malformed particle stream",
                &format!("peer={}", peer.peer_id),
                "error=incomplete frame",
            ],
            PROMPTLY,
        )
        .await;

        // The JSON particle codec of js-client < 0.8 (multicodec 0x0200).
        let mut body = vec![0x80, 0x04];
        body.extend_from_slice(br#"{"action":"Particle"}"#);
        let mut frame = uvarint(body.len() as u64);
        frame.extend_from_slice(&body);
        let ended = write_raw(&peer, &frame, false).await;
        assert_eq!(ended, Ended::Closed);
        wait_log(
            &[
                "dropped a malformed particle stream",
                &format!("peer={}", peer.peer_id),
                "error=unsupported multicodec 0x200",
            ],
            PROMPTLY,
        )
        .await;

        assert_eq!(malformed_lines(&peer, "").len(), 4);
        peer.stop();
        assert_node_serves(&node).await;
        node.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frame_with_an_unknown_action_is_dropped() {
    within_timeout(async {
        let node = TestNode::start(test_config()).await;
        let peer = RawPeer::connect(&node).await;
        let key = Keypair::generate_ed25519();
        let script = format!(r#"(call "{}" ("op" "noop") [])"#, node.peer_id.to_base58());
        let particle = Particle::new_signed(&key, script, now_ms(), 30_000, None).unwrap();
        // `action: "Particle"` (fixstr of 8) becomes `action: "Unknown"` (fixstr of 7).
        let body = encode_body(&particle);
        let at = body
            .windows(9)
            .position(|w| w == b"\xa8Particle")
            .expect("the action value");
        let mut patched = body[..at].to_vec();
        patched.extend_from_slice(b"\xa7Unknown");
        patched.extend_from_slice(&body[at + 9..]);
        let mut frame = uvarint(patched.len() as u64);
        frame.extend_from_slice(&patched);

        let ended = write_raw(&peer, &frame, false).await;
        assert_eq!(ended, Ended::Closed);
        let line = wait_log(
            &[
                "dropped a malformed particle stream",
                &format!("peer={}", peer.peer_id),
            ],
            PROMPTLY,
        )
        .await;
        assert!(
            line.ends_with(r#"error=unknown action "Unknown""#),
            "{line}"
        );
        assert_eq!(log_lines(&[&particle.id]), Vec::<String>::new());
        peer.stop();
        assert_node_serves(&node).await;
        node.stop().await;
    })
    .await;
}

// ---------------------------------------------------------------------------------------------
// Floods

const STORM: usize = 3000;
const RATE: u32 = 10;

/// Particles of `peer` the node dropped for its rate limit.
fn rate_limited(peer: &PeerId) -> usize {
    log_lines(&["rate limit: particle dropped", &format!("peer={peer}")]).len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_particle_storm_is_rate_limited_and_others_are_still_served() {
    within_timeout(async {
        let mut config = test_config();
        config.particles_per_sec = RATE;
        let node = TestNode::start(config).await;

        // The storm particles visit the relay and come back to call `storm.hit`: hits are
        // the particles the node let through.
        let key = Keypair::generate_ed25519();
        let storm_id = key.public().to_peer_id();
        let storm = connect_with(key.clone(), &node.tcp).await;
        let hits = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&hits);
        storm.register_service(
            "storm",
            lineage_peer::handler(move |_, _, _| {
                counter.fetch_add(1, Ordering::SeqCst);
                Ok(Value::Null)
            }),
        );
        let script = format!(
            r#"(seq (call "{}" ("op" "noop") []) (call %init_peer_id% ("storm" "hit") []))"#,
            node.peer_id.to_base58()
        );
        let mut good = connect(&node.ws).await;

        let started = Instant::now();
        for _ in 0..STORM {
            let p = Particle::new_signed(&key, script.as_str(), now_ms(), 60_000, None).unwrap();
            storm.send_raw(p);
        }
        let storm_task = tokio::spawn(async move {
            let deadline = Instant::now() + Duration::from_secs(25);
            while Instant::now() < deadline {
                storm
                    .serve_for(Duration::from_millis(100))
                    .await
                    .expect("the storm client stays connected");
                if hits.load(Ordering::SeqCst) + rate_limited(&storm_id) >= STORM {
                    break;
                }
            }
            // Let any late particle show up (there must be none).
            storm
                .serve_for(Duration::from_millis(300))
                .await
                .expect("connected");
            hits.load(Ordering::SeqCst)
        });

        // Meanwhile another client is served promptly.
        tokio::time::sleep(Duration::from_millis(100)).await;
        let t = Instant::now();
        let got = call_ok(
            &mut good,
            air::CONCAT_ON_RELAY,
            args(&[("a", json!("still ")), ("b", json!("here"))]),
        )
        .await;
        assert_eq!(got, json!("still here"));
        let latency = t.elapsed();
        assert!(latency < Duration::from_secs(3), "answered in {latency:?}");

        let hits = storm_task.await.expect("storm task");
        let window = started.elapsed().as_secs_f64();
        let dropped = rate_limited(&storm_id);
        assert_eq!(
            hits + dropped,
            STORM,
            "every storm particle was either handled or dropped by the rate limit"
        );
        let burst = 2 * RATE as usize;
        assert!(hits >= burst, "the burst of {burst} passes: {hits}");
        let max = burst + (f64::from(RATE) * window).ceil() as usize;
        assert!(
            hits <= max,
            "at most {max} particles pass in {window:.1} s at {RATE}/s, got {hits}"
        );
        assert!(dropped >= STORM - max);
        assert_node_serves(&node).await;
        node.stop().await;
    })
    .await;
}

#[derive(Debug, Default)]
struct DialCounts {
    established: usize,
    closed: usize,
    failed: usize,
}

impl DialCounts {
    fn count(&mut self, event: &SwarmEvent<lineage_net::BehaviourEvent>) {
        match event {
            SwarmEvent::ConnectionEstablished { .. } => self.established += 1,
            SwarmEvent::ConnectionClosed { .. } => self.closed += 1,
            SwarmEvent::OutgoingConnectionError { .. } => self.failed += 1,
            _ => {}
        }
    }
}

/// One host holding 256 sockets open without ever handshaking used to fill the node's pending
/// limit, so nobody else could connect. Now it gets its per-IP share (16) and other hosts still
/// connect and are served. (127.0.0.2 is the holding host; clients come from 127.0.0.1.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sockets_that_never_handshake_do_not_lock_out_other_hosts() {
    within_timeout(async {
        let node = TestNode::start(test_config()).await;
        let port = node
            .tcp
            .iter()
            .find_map(|p| match p {
                libp2p::multiaddr::Protocol::Tcp(port) => Some(port),
                _ => None,
            })
            .expect("tcp port");
        let target: std::net::SocketAddr = ([127, 0, 0, 1], port).into();
        let mut held = Vec::new();
        for _ in 0..256 {
            let socket = tokio::net::TcpSocket::new_v4().expect("socket");
            socket
                .bind(([127, 0, 0, 2], 0).into())
                .expect("bind 127.0.0.2");
            if let Ok(stream) = socket.connect(target).await {
                held.push(stream);
            }
        }
        assert!(held.len() >= 200, "only {} sockets opened", held.len());
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_node_serves(&node).await;
        drop(held);
        node.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn more_than_five_connections_from_one_peer_are_denied() {
    within_timeout(async {
        let node = TestNode::start(test_config()).await;
        let key = Keypair::generate_ed25519();
        // Our side allows more, so only the node's limit applies.
        let limits = lineage_net::ConnectionLimits {
            max_established_per_peer: 100,
            ..lineage_net::ConnectionLimits::default()
        };
        let mut swarm = lineage_net::transport::build_swarm(key, "limits-test", limits, 1024)
            .await
            .expect("swarm");
        const DIALS: usize = 7;
        for _ in 0..DIALS {
            swarm.dial(node.tcp.clone()).expect("dial");
        }
        let mut counts = DialCounts::default();
        let deadline = Instant::now() + Duration::from_secs(10);
        // Every dial resolved, and the denied ones are gone.
        while counts.established + counts.failed < DIALS
            || swarm.network_info().connection_counters().num_established() > 5
        {
            assert!(
                Instant::now() < deadline,
                "dials settled within 10 s: {counts:?}"
            );
            if let Ok(event) =
                tokio::time::timeout(Duration::from_millis(200), swarm.select_next_some()).await
            {
                counts.count(&event);
            }
        }
        // Nothing else changes afterwards.
        let quiet = tokio::time::Instant::now() + Duration::from_millis(700);
        while let Ok(event) = tokio::time::timeout_at(quiet, swarm.select_next_some()).await {
            counts.count(&event);
        }
        let open = swarm.network_info().connection_counters().num_established();
        assert_eq!(open, 5, "the node keeps 5 connections of one peer");
        assert_eq!(counts.closed + counts.failed, DIALS - 5, "{counts:?}");
        assert_node_serves(&node).await;
        drop(swarm);
        node.stop().await;
    })
    .await;
}

/// After every kind of bad input on one node, a client that was connected all along still works.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connected_client_survives_bad_input_from_others() {
    within_timeout(async {
        let node = TestNode::start(test_config()).await;
        let mut steady = connect(&node.ws).await;
        let peer = RawPeer::connect(&node).await;
        assert_eq!(
            write_raw(&peer, &uvarint(1 << 40), false).await,
            Ended::Closed
        );
        assert_eq!(write_raw(&peer, &[0xff; 16], false).await, Ended::Closed);
        let key = Keypair::generate_ed25519();
        send_raw_particle(
            &node,
            key.clone(),
            Particle::new_signed(&key, "(seq (null)", now_ms(), 30_000, None).unwrap(),
        )
        .await;
        assert_eq!(malformed_lines(&peer, "").len(), 2);
        let got = call_ok(
            &mut steady,
            air::ADD_ON_RELAY,
            args(&[("x", json!(20)), ("y", json!(22))]),
        )
        .await;
        assert_eq!(got, json!(42));
        peer.stop();
        node.stop().await;
    })
    .await;
}
