//! # lineage-net
//!
//! libp2p for Lineage Edge peers: the particle protocol `/fluence/particle/2.0.0` (one particle
//! per substream: open, write one frame, close — as nox and js-client do; see [`protocol`]),
//! identify (with the Fluence protocol version), ping and connection limits. Transports live in
//! [`transport`]: tcp + WebSocket listeners natively, WebSocket and WebRTC-direct dialers in the
//! browser.
//!
//! ```no_run
//! # fn demo(swarm: &mut libp2p::Swarm<lineage_net::Behaviour>, peer: libp2p::PeerId, p: lineage_particle::Particle) {
//! swarm.behaviour_mut().particles.send(peer, p);
//! # }
//! ```

pub mod client;
mod pending;
pub mod protocol;
pub mod transport;

use std::time::Duration;

use libp2p::identity::Keypair;
use libp2p::swarm::NetworkBehaviour;
use libp2p::{connection_limits, identify, kad, ping, PeerId, StreamProtocol};

pub use pending::{PendingPerIp, TooManyPending};
pub use protocol::{ParticleBehaviour, ParticleEvent};

/// The particle protocol id.
pub const PARTICLE_PROTOCOL: StreamProtocol = StreamProtocol::new("/fluence/particle/2.0.0");
/// Identify's protocol version, as nox announces it.
pub const PROTOCOL_VERSION: &str = "/fluence/particle/2.0.0";
/// How long writing or reading one particle stream may take (nox: 10 s).
pub const SEND_TIMEOUT: Duration = Duration::from_secs(10);

/// Behaviours every Lineage peer runs.
#[derive(NetworkBehaviour)]
pub struct Behaviour {
    pub identify: identify::Behaviour,
    pub ping: ping::Behaviour,
    /// Kademlia on the default `/ipfs/kad/1.0.0` protocol (server mode on nodes, client in
    /// browsers); its routing table answers `kad.neighborhood`.
    pub kad: kad::Behaviour<kad::store::MemoryStore>,
    pub particles: ParticleBehaviour,
    /// Before `limits`: a host past its share is refused before it takes a global pending slot.
    pub pending_per_ip: PendingPerIp,
    pub limits: connection_limits::Behaviour,
}

/// Connection limits of a peer (what `marine::Limits` is to a service, this is to the swarm).
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    pub max_established: u32,
    pub max_established_per_peer: u32,
    pub max_pending_incoming: u32,
    /// Inbound connections still handshaking from one IP address (one host must not take all
    /// of `max_pending_incoming`).
    pub max_pending_incoming_per_ip: u32,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        // nox allows 5 connections per peer.
        ConnectionLimits {
            max_established: 10_000,
            max_established_per_peer: 5,
            max_pending_incoming: 256,
            max_pending_incoming_per_ip: 16,
        }
    }
}

impl Behaviour {
    /// The behaviours for `key`, announcing `agent` (e.g. `lineage-node/0.1.0`).
    pub fn new(key: &Keypair, agent: &str, limits: ConnectionLimits, max_frame: usize) -> Self {
        let identify = identify::Behaviour::new(
            identify::Config::new(PROTOCOL_VERSION.to_string(), key.public())
                .with_agent_version(agent.to_string())
                // No cache of the addresses peers announce: identify would hand them to every
                // dial of that peer, so a peer could make a node dial a host of its choosing.
                // Nodes keep only announced addresses at the peer's own IP, in Kademlia.
                .with_cache_size(0),
        );
        let connection_limits = connection_limits::ConnectionLimits::default()
            .with_max_established(Some(limits.max_established))
            .with_max_established_per_peer(Some(limits.max_established_per_peer))
            .with_max_pending_incoming(Some(limits.max_pending_incoming));
        let local = key.public().to_peer_id();
        let kad = kad::Behaviour::with_config(
            local,
            kad::store::MemoryStore::new(local),
            kad::Config::new(kad::PROTOCOL_NAME),
        );
        Behaviour {
            identify,
            ping: ping::Behaviour::new(ping::Config::new()),
            kad,
            particles: ParticleBehaviour::new(max_frame),
            pending_per_ip: PendingPerIp::new(limits.max_pending_incoming_per_ip),
            limits: connection_limits::Behaviour::new(connection_limits),
        }
    }
}

/// The peer id of a multiaddr's trailing `/p2p/…`, if any.
pub fn peer_id_of(addr: &libp2p::Multiaddr) -> Option<PeerId> {
    addr.iter().find_map(|p| match p {
        libp2p::multiaddr::Protocol::P2p(id) => Some(id),
        _ => None,
    })
}
