//! The running node: a libp2p swarm, the particle host loop and the relay between clients.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use futures::StreamExt;
use libp2p::multiaddr::Protocol;
use libp2p::swarm::SwarmEvent;
use libp2p::{identify, kad, Multiaddr, PeerId};
use lineage_net::{BehaviourEvent, ParticleEvent};
use lineage_peer::{now_ms, Peer, Rejected, Services, SharedServices};
use serde_json::json;

use std::sync::Arc;

use lineage_metadata::{Ledger, LedgerConfig};

use crate::config::NodeConfig;
use crate::exec::{Executor, Outcome};
use crate::keys;
use crate::lineage::{self, api::Api, gateway, gateway::GatewayConfig, store::RedbStore};
use crate::metrics::Metrics;

/// Agent string announced by identify and `peer.identify`.
pub const AGENT: &str = concat!("lineage-node/", env!("CARGO_PKG_VERSION"));

/// What the node reports while starting; printed by the binary, awaited by tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Started {
    PeerId(PeerId),
    /// A full multiaddr ending in `/p2p/<peer id>`.
    Listening(Multiaddr),
    /// The HTTP gateway (JSON-RPC, `/ipfs/<cid>`) is bound here.
    Http(std::net::SocketAddr),
    /// Every listener has an address.
    Ready,
}

/// Running the node failed.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    #[error(transparent)]
    Key(#[from] keys::KeyError),
    #[error(transparent)]
    Build(#[from] lineage_net::transport::BuildError),
    #[error("cannot listen on {addr}: {reason}")]
    Listen { addr: Multiaddr, reason: String },
    #[error("metadata store: {0}")]
    Store(#[from] lineage_metadata::store::StoreError),
    #[error("cannot listen on http://{addr}: {source}")]
    Http {
        addr: std::net::SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}")]
    Other(String),
}

/// Runs the node until `shutdown` resolves; `on_start` sees the peer id, listen addresses and
/// readiness as they happen.
///
/// # Errors
/// [`NodeError`] when the key, transports or listeners can't be set up.
pub async fn run(
    config: NodeConfig,
    mut on_start: impl FnMut(Started),
    shutdown: impl std::future::Future<Output = ()>,
) -> Result<(), NodeError> {
    let (key, created) = keys::load_or_create(&config.data_dir)?;
    let local_id = key.public().to_peer_id();
    tracing::info!(peer_id = %local_id, data_dir = %config.data_dir.display(), key_created = created, "node key");
    on_start(Started::PeerId(local_id));

    let pem_path = config.data_dir.join("webrtc.pem");
    let pem = match std::fs::read_to_string(&pem_path) {
        Ok(p) => Some(p),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => {
            return Err(NodeError::Other(format!(
                "cannot read {}: {e}",
                pem_path.display()
            )))
        }
    };
    let (mut swarm, pem_now) = lineage_net::transport::build_swarm_with_webrtc(
        key.clone(),
        AGENT,
        lineage_net::ConnectionLimits::default(),
        config.max_frame_bytes,
        pem.as_deref(),
    )
    .await?;
    if pem.is_none() {
        // Keep the certificate: its hash is part of the address browsers dial.
        keys::write_private(&pem_path, pem_now.as_bytes())
            .map_err(|e| NodeError::Other(format!("cannot write {}: {e}", pem_path.display())))?;
    }
    let ip = match config.host {
        std::net::IpAddr::V4(v4) => Protocol::Ip4(v4),
        std::net::IpAddr::V6(v6) => Protocol::Ip6(v6),
    };
    let listens = [
        Multiaddr::empty()
            .with(ip.clone())
            .with(Protocol::Tcp(config.ws_port))
            .with(Protocol::Ws("/".into())),
        Multiaddr::empty()
            .with(ip.clone())
            .with(Protocol::Tcp(config.tcp_port)),
        Multiaddr::empty()
            .with(ip)
            .with(Protocol::Udp(config.webrtc_port))
            .with(Protocol::WebRTCDirect),
    ];
    swarm.behaviour_mut().kad.set_mode(Some(kad::Mode::Server));
    for addr in &config.bootstrap {
        match lineage_net::peer_id_of(addr) {
            Some(peer) => {
                swarm.behaviour_mut().kad.add_address(&peer, addr.clone());
                if let Err(e) = swarm.dial(addr.clone()) {
                    tracing::warn!(%addr, error = %e, "cannot dial bootstrap node");
                }
            }
            None => tracing::warn!(%addr, "bootstrap address has no /p2p/<peer id>; ignored"),
        }
    }
    if !config.bootstrap.is_empty() {
        let _ = swarm.behaviour_mut().kad.bootstrap();
    }
    let mut pending_listeners = HashSet::new();
    for addr in listens {
        let id = swarm
            .listen_on(addr.clone())
            .map_err(|e| NodeError::Listen {
                addr: addr.clone(),
                // Some transport errors display as nothing; the debug form names the cause.
                reason: format!("{e} ({e:?})"),
            })?;
        pending_listeners.insert(id);
    }

    let identify = json!({
        "external_addresses": config.external_addresses,
        "allowed_binaries": [],
        "air_version": "0.63.0",
        "node_version": AGENT,
        "spell_version": "",
    });
    let mut services = Services::new(key.clone(), identify);
    services.marine.limits.fuel_per_call = config.fuel_per_call;
    services.marine.limits.memory_bytes = config.service_memory_bytes;
    services.marine.policy = config.deploy.clone();
    services.marine.quotas = config.quotas.clone();
    tracing::info!(policy = %config.deploy.describe(), "who may deploy Marine services");

    // Lineage metadata: the store, the Aqua service `transaction`, the HTTP gateway.
    let store = RedbStore::open(&config.metadata_dir.join("lineage.redb"))?;
    let ledger = Arc::new(Ledger::new(
        store,
        LedgerConfig {
            allow_legacy: config.legacy_signatures,
            ..LedgerConfig::default()
        },
    ));
    let api = Api::new(ledger);
    services.register("transaction", lineage::transaction_service(api.clone()));
    let http_addr = std::net::SocketAddr::new(config.host, config.http_port);
    let http_listener = tokio::net::TcpListener::bind(http_addr)
        .await
        .map_err(|source| NodeError::Http {
            addr: http_addr,
            source,
        })?;
    let http_bound = http_listener
        .local_addr()
        .map_err(|source| NodeError::Http {
            addr: http_addr,
            source,
        })?;
    tracing::debug!(addr = %http_bound, "http gateway");
    on_start(Started::Http(http_bound));
    let metrics = Arc::new(Metrics::new());
    let (http_stop, http_stopped) = tokio::sync::oneshot::channel::<()>();
    let http_task = tokio::spawn(gateway::serve(
        http_listener,
        api,
        GatewayConfig {
            requests_per_sec: config.http_requests_per_sec,
            ..GatewayConfig::default()
        },
        metrics.routes(),
        async move {
            let _ = http_stopped.await;
        },
    ));
    let services = SharedServices::new(services);
    let mut template =
        Peer::new(key, services.clone()).map_err(|e| NodeError::Other(e.to_string()))?;
    template.limits = config.particle;
    let mut exec = Executor::new(template, config.exec);
    tracing::debug!(workers = exec.stats().workers, "particle workers");

    let mut limiter = RateLimiter::new(config.particles_per_sec);
    let mut remote_ips: HashMap<libp2p::swarm::ConnectionId, std::net::IpAddr> = HashMap::new();
    tokio::pin!(shutdown);

    loop {
        // The peer's one scheduler: timer results (peer.timeout) and particle expiry.
        let wakeup = exec.next_wakeup().map(|t| {
            tokio::time::Instant::now() + Duration::from_millis(t.saturating_sub(now_ms()))
        });
        let sleep = async move {
            match wakeup {
                Some(at) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            () = &mut shutdown => {
                tracing::info!("shutting down");
                break;
            }
            event = swarm.select_next_some() => {
                record(&metrics, &event);
                match event {
                SwarmEvent::NewListenAddr { listener_id, address } => {
                    let full = address.with(Protocol::P2p(local_id));
                    tracing::debug!(address = %full, "listening");
                    on_start(Started::Listening(full));
                    if pending_listeners.remove(&listener_id) && pending_listeners.is_empty() {
                        metrics.set_ready();
                        on_start(Started::Ready);
                    }
                }
                SwarmEvent::ConnectionEstablished { peer_id, endpoint, connection_id, .. } => {
                    if let Some(ip) = ip_of(endpoint.get_remote_address()) {
                        remote_ips.insert(connection_id, ip);
                    }
                    services.lock().connected.insert(peer_id);
                    metrics.connections.inc();
                    tracing::info!(peer = %peer_id, remote = %endpoint.get_remote_address(), "connected");
                }
                SwarmEvent::ConnectionClosed { peer_id, cause, num_established, connection_id, .. } => {
                    remote_ips.remove(&connection_id);
                    metrics.connections.dec();
                    if num_established == 0 {
                        services.lock().connected.remove(&peer_id);
                        limiter.prune(now_ms());
                    }
                    tracing::info!(peer = %peer_id, cause = ?cause, "disconnected");
                }
                SwarmEvent::IncomingConnectionError { error, send_back_addr, .. } => {
                    tracing::debug!(remote = %send_back_addr, %error, "incoming connection failed");
                }
                SwarmEvent::ListenerError { error, .. } => tracing::warn!(%error, "listener error"),
                // Nodes (peers serving Kademlia) join the routing table with their listen
                // addresses — only those at the IP their connection comes from: a peer cannot
                // make this node dial somewhere else (another host, a private range) by
                // announcing it.
                SwarmEvent::Behaviour(BehaviourEvent::Identify(identify::Event::Received { peer_id, info, connection_id }))
                    if info.protocols.contains(&kad::PROTOCOL_NAME) =>
                {
                    let from = remote_ips.get(&connection_id).copied();
                    for addr in own_addresses(from, info.listen_addrs, &peer_id, config.dial_private_addresses) {
                        swarm.behaviour_mut().kad.add_address(&peer_id, addr);
                    }
                }
                SwarmEvent::Behaviour(BehaviourEvent::Kad(kad::Event::RoutingUpdated { peer: routed, old_peer, .. })) => {
                    let mut s = services.lock();
                    s.kad_peers.insert(routed);
                    if let Some(old) = old_peer {
                        s.kad_peers.remove(&old);
                    }
                    tracing::debug!(peer = %routed, "routing table updated");
                }
                SwarmEvent::Behaviour(BehaviourEvent::Particles(event)) => match event {
                    ParticleEvent::Received { from, particle } => {
                        metrics.particles_received.inc();
                        if !limiter.allow(from, now_ms()) {
                            metrics.rejected("rate_limit");
                            tracing::warn!(peer = %from, particle = %particle.id, "rate limit: particle dropped");
                            continue;
                        }
                        let id = particle.id.clone();
                        if let Err(e) = exec.submit(from, particle) {
                            metrics.rejected(e.reason());
                            tracing::warn!(peer = %from, particle = %id, reason = %e, "particle refused");
                        }
                        metrics.exec(exec.stats());
                    }
                    ParticleEvent::Malformed { from, error } => {
                        metrics.rejected("malformed");
                        tracing::warn!(peer = %from, %error, "dropped a malformed particle stream");
                    }
                    ParticleEvent::Sent { to, particle_id } => {
                        metrics.particles_sent.inc();
                        tracing::debug!(particle = %particle_id, %to, "particle sent");
                    }
                    ParticleEvent::SendFailed { to, particle_id, reason } => {
                        metrics.particles_send_failed.inc();
                        tracing::warn!(particle = %particle_id, %to, %reason, "particle not delivered");
                    }
                },
                _ => {}
            }},
            Some(done) = exec.next_done() => {
                for outcome in exec.finish(done) {
                    if let Some(handled) = report(outcome, &metrics) {
                        dispatch(&mut swarm, handled);
                    }
                }
                metrics.exec(exec.stats());
            }
            () = sleep => exec.wake(now_ms()),
        }
    }
    let _ = http_stop.send(());
    match tokio::time::timeout(Duration::from_secs(5), http_task).await {
        Ok(Ok(Err(e))) => tracing::warn!(error = %e, "http gateway stopped with an error"),
        Err(_) => tracing::warn!("http gateway did not stop within 5 s"),
        _ => {}
    }
    Ok(())
}

/// Feeds a swarm event to the libp2p metrics (its own, and identify's and Kademlia's).
fn record(metrics: &Metrics, event: &SwarmEvent<BehaviourEvent>) {
    use libp2p_metrics::Recorder as _;
    metrics.swarm.record(event);
    match event {
        SwarmEvent::Behaviour(BehaviourEvent::Identify(e)) => metrics.swarm.record(e),
        SwarmEvent::Behaviour(BehaviourEvent::Kad(e)) => metrics.swarm.record(e),
        _ => {}
    }
}

/// Logs what a visit or timer produced; returns what to send.
fn report(outcome: Outcome, metrics: &Metrics) -> Option<lineage_peer::Handled> {
    let Outcome {
        particle_id: id,
        from,
        result,
        queued,
        busy,
    } = outcome;
    if from.is_some() {
        metrics.queue_seconds.observe(queued.as_secs_f64());
    }
    metrics.exec_seconds.observe(busy.as_secs_f64());
    if let Err(e) = &result {
        metrics.rejected(match e {
            Rejected::Expired { .. } => "expired",
            Rejected::BadSignature { .. } => "bad_signature",
            Rejected::Interpreter { .. } => "interpreter",
            Rejected::TooManyRounds { .. } => "too_many_rounds",
            Rejected::FromTheFuture { .. } => "from_the_future",
            Rejected::TtlTooLong { .. } => "ttl_too_long",
            Rejected::OverBudget { .. } => "over_budget",
        });
    }
    let from = from.map_or_else(|| "timer".to_string(), |p| p.to_string());
    match result {
        Ok(handled) => {
            tracing::debug!(particle = %id, %from, calls = handled.calls, sends = handled.sends.len(),
                queued_ms = queued.as_secs_f64() * 1e3, busy_ms = busy.as_secs_f64() * 1e3, "particle handled");
            Some(handled)
        }
        Err(e @ Rejected::Expired { .. }) => {
            tracing::info!(particle = %id, %from, reason = %e, "particle dropped");
            None
        }
        Err(e) => {
            tracing::warn!(particle = %id, %from, reason = %e, "particle rejected");
            None
        }
    }
}

/// The IP address a multiaddr starts with (`/ip4/…`, `/ip6/…`; `None` for DNS names).
fn ip_of(addr: &Multiaddr) -> Option<std::net::IpAddr> {
    match addr.iter().next()? {
        Protocol::Ip4(ip) => Some(ip.into()),
        Protocol::Ip6(ip) => Some(ip.into()),
        _ => None,
    }
}

/// Loopback, private (RFC 1918, IPv6 unique local), link-local or unspecified.
fn is_local(ip: std::net::IpAddr) -> bool {
    match ip {
        std::net::IpAddr::V4(v4) => {
            v4.is_loopback() || v4.is_private() || v4.is_link_local() || v4.is_unspecified()
        }
        std::net::IpAddr::V6(v6) => {
            let first = v6.segments()[0];
            v6.is_loopback()
                || v6.is_unspecified()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80
        }
    }
}

/// The announced addresses of `peer` at `from`, the IP its connection comes from — and, unless
/// `local_ok`, none in loopback or private ranges.
fn own_addresses(
    from: Option<std::net::IpAddr>,
    announced: Vec<Multiaddr>,
    peer: &PeerId,
    local_ok: bool,
) -> Vec<Multiaddr> {
    announced
        .into_iter()
        .filter(|addr| {
            let ip = ip_of(addr);
            let kept = from.is_some() && ip == from && (local_ok || !ip.is_some_and(is_local));
            if !kept {
                tracing::debug!(%peer, %addr, "announced address not at the peer's own IP; not kept");
            }
            kept
        })
        .collect()
}

/// Sends what a particle produced.
fn dispatch(swarm: &mut libp2p::Swarm<lineage_net::Behaviour>, handled: lineage_peer::Handled) {
    for send in handled.sends {
        swarm.behaviour_mut().particles.send(send.to, send.particle);
    }
}

/// A token bucket per peer: `rate` particles per second, bursts of twice that.
struct RateLimiter {
    rate: f64,
    buckets: HashMap<PeerId, (f64, u64)>,
}

impl RateLimiter {
    fn new(rate: u32) -> Self {
        RateLimiter {
            rate: f64::from(rate.max(1)),
            buckets: HashMap::new(),
        }
    }

    fn allow(&mut self, peer: PeerId, now_ms: u64) -> bool {
        let cap = self.rate * 2.0;
        let (tokens, last) = self.buckets.entry(peer).or_insert((cap, now_ms));
        let elapsed = now_ms.saturating_sub(*last) as f64 / 1000.0;
        *tokens = (*tokens + elapsed * self.rate).min(cap);
        *last = now_ms;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// Forgets peers whose bucket has refilled (idle long enough that remembering them
    /// changes nothing): a peer that reconnects does not get a fresh burst before that.
    fn prune(&mut self, now_ms: u64) {
        // An empty bucket (burst = 2 s of rate) is full again after 2 s, whatever the rate.
        const REFILL_MS: u64 = 2_000;
        self.buckets
            .retain(|_, (_, last)| now_ms.saturating_sub(*last) <= REFILL_MS);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rate_limiter_allows_bursts_then_refills() {
        let peer = PeerId::random();
        let mut l = RateLimiter::new(10);
        let allowed = (0..100).filter(|_| l.allow(peer, 1_000)).count();
        assert_eq!(allowed, 20);
        assert!(!l.allow(peer, 1_000));
        assert!(l.allow(peer, 1_200), "two tokens refilled after 200 ms");
        let other = PeerId::random();
        assert!(l.allow(other, 1_000), "buckets are per peer");
    }

    #[test]
    fn only_addresses_at_the_connections_own_ip_are_kept() {
        let peer = PeerId::random();
        let addrs: Vec<Multiaddr> = [
            "/ip4/203.0.113.7/tcp/7777",
            "/ip4/203.0.113.7/tcp/9999/ws",
            "/ip4/10.0.0.1/tcp/7777",
            "/ip4/127.0.0.1/tcp/22",
            "/dns4/example.com/tcp/7777",
        ]
        .iter()
        .map(|a| a.parse().unwrap())
        .collect();
        let from = Some("203.0.113.7".parse().unwrap());
        let kept = own_addresses(from, addrs.clone(), &peer, false);
        assert_eq!(kept, addrs[..2].to_vec());
        assert!(own_addresses(None, addrs.clone(), &peer, true).is_empty());
        let loopback = Some("127.0.0.1".parse().unwrap());
        let local = own_addresses(loopback, addrs.clone(), &peer, true);
        assert_eq!(local.len(), 1, "loopback only from loopback");
        assert!(
            own_addresses(loopback, addrs, &peer, false).is_empty(),
            "and only when local addresses may be dialed"
        );
        for ip in [
            "10.1.2.3",
            "192.168.0.1",
            "169.254.1.1",
            "::1",
            "fd00::1",
            "fe80::1",
        ] {
            assert!(is_local(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["203.0.113.7", "8.8.8.8", "2001:db8::1"] {
            assert!(!is_local(ip.parse().unwrap()), "{ip}");
        }
    }

    #[test]
    fn the_rate_limiter_remembers_a_peer_that_reconnects_until_its_bucket_refills() {
        let peer = PeerId::random();
        let mut l = RateLimiter::new(10);
        while l.allow(peer, 1_000) {}
        // The peer disconnects and reconnects at once: no fresh burst.
        l.prune(1_050);
        assert!(!l.allow(peer, 1_050), "still empty after a reconnect");
        l.prune(3_100);
        assert!(l.buckets.is_empty(), "idle past a full refill: forgotten");
        assert!(l.allow(peer, 3_100));
    }
}
