//! # lineage-net
//!
//! libp2p for Lineage Edge peers: the particle protocol `/fluence/particle/2.0.0` (one particle
//! per substream: open, write one frame, close — as nox and js-client do), identify (with the
//! Fluence protocol version), ping and connection limits. Transports live in [`transport`]:
//! tcp + WebSocket listeners natively, WebSocket and WebRTC-direct dialers in the browser.
//!
//! ```no_run
//! # async fn demo(mut control: lineage_net::Control, peer: libp2p::PeerId, p: lineage_particle::Particle) {
//! lineage_net::send_particle(&mut control, peer, &p).await.expect("sent");
//! # }
//! ```

pub mod transport;

use std::time::Duration;

use futures::{AsyncReadExt, AsyncWriteExt, Stream, StreamExt};
use libp2p::identity::Keypair;
use libp2p::swarm::NetworkBehaviour;
use libp2p::{connection_limits, identify, ping, PeerId, StreamProtocol};
use lineage_particle::Particle;

pub use libp2p_stream::{Control, IncomingStreams};

/// The particle protocol id.
pub const PARTICLE_PROTOCOL: StreamProtocol = StreamProtocol::new("/fluence/particle/2.0.0");
/// Identify's protocol version, as nox announces it.
pub const PROTOCOL_VERSION: &str = "/fluence/particle/2.0.0";
/// How long writing one particle may take (nox: 10 s outbound substream timeout).
pub const SEND_TIMEOUT: Duration = Duration::from_secs(10);

/// Behaviours every Lineage peer runs.
#[derive(NetworkBehaviour)]
pub struct Behaviour {
    pub identify: identify::Behaviour,
    pub ping: ping::Behaviour,
    pub streams: libp2p_stream::Behaviour,
    pub limits: connection_limits::Behaviour,
}

/// Connection limits of a peer.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_established: u32,
    pub max_established_per_peer: u32,
    pub max_pending_incoming: u32,
}

impl Default for Limits {
    fn default() -> Self {
        // nox allows 5 connections per peer.
        Limits {
            max_established: 10_000,
            max_established_per_peer: 5,
            max_pending_incoming: 256,
        }
    }
}

impl Behaviour {
    /// The behaviours for `key`, announcing `agent` (e.g. `lineage-node/0.1.0`).
    pub fn new(key: &Keypair, agent: &str, limits: Limits) -> Self {
        let identify = identify::Behaviour::new(
            identify::Config::new(PROTOCOL_VERSION.to_string(), key.public())
                .with_agent_version(agent.to_string()),
        );
        let limits = connection_limits::ConnectionLimits::default()
            .with_max_established(Some(limits.max_established))
            .with_max_established_per_peer(Some(limits.max_established_per_peer))
            .with_max_pending_incoming(Some(limits.max_pending_incoming));
        Behaviour {
            identify,
            ping: ping::Behaviour::new(ping::Config::new()),
            streams: libp2p_stream::Behaviour::new(),
            limits: connection_limits::Behaviour::new(limits),
        }
    }
}

/// Sending a particle failed.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    #[error("could not open a particle stream to {peer}: {reason}")]
    Open { peer: PeerId, reason: String },
    #[error("could not write the particle to {peer}: {source}")]
    Write {
        peer: PeerId,
        #[source]
        source: std::io::Error,
    },
}

/// Opens a stream to `peer`, writes `particle` as one frame and closes the stream.
///
/// # Errors
/// [`SendError`] when the peer can't be reached or the write fails.
pub async fn send_particle(
    control: &mut Control,
    peer: PeerId,
    particle: &Particle,
) -> Result<(), SendError> {
    let mut stream = control
        .open_stream(peer, PARTICLE_PROTOCOL)
        .await
        .map_err(|e| SendError::Open {
            peer,
            reason: e.to_string(),
        })?;
    let frame = lineage_particle::encode(particle);
    let write = async {
        stream.write_all(&frame).await?;
        stream.flush().await?;
        stream.close().await
    };
    write
        .await
        .map_err(|source| SendError::Write { peer, source })
}

/// Reading particles from an inbound stream failed.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("reading the particle stream failed: {0}")]
    Io(#[from] std::io::Error),
    #[error("malformed particle frame: {0}")]
    Codec(#[from] lineage_particle::CodecError),
}

/// Every particle frame on an inbound stream, until the remote closes it. A malformed frame
/// ends the stream with an error (the rest of the stream can't be trusted to be framed).
pub fn read_particles(
    mut stream: libp2p::Stream,
    max_frame: usize,
) -> impl Stream<Item = Result<Particle, ReadError>> {
    async_stream_like(move |tx| async move {
        let mut reader = lineage_particle::FrameReader::new(max_frame);
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = match stream.read(&mut buf).await {
                Ok(0) => return,
                Ok(n) => n,
                Err(e) => {
                    let _ = tx.unbounded_send(Err(ReadError::Io(e)));
                    return;
                }
            };
            reader.push(&buf[..n]);
            loop {
                match reader.next_particle() {
                    Ok(Some(p)) => {
                        if tx.unbounded_send(Ok(p)).is_err() {
                            return;
                        }
                    }
                    Ok(None) => break,
                    Err(e) => {
                        let _ = tx.unbounded_send(Err(ReadError::Codec(e)));
                        return;
                    }
                }
            }
        }
    })
}

/// A tiny generator: runs `body` concurrently with the consumer, forwarding what it sends.
fn async_stream_like<T, F, Fut>(body: F) -> impl Stream<Item = T>
where
    F: FnOnce(futures::channel::mpsc::UnboundedSender<T>) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let (tx, rx) = futures::channel::mpsc::unbounded();
    let producer = futures::stream::once(body(tx)).filter_map(|()| async { None });
    futures::stream::select(producer, rx)
}

/// Accepts inbound particle streams (call once per swarm).
///
/// # Errors
/// When particle streams are already being accepted on this control.
pub fn accept_particles(
    control: &mut Control,
) -> Result<IncomingStreams, libp2p_stream::AlreadyRegistered> {
    control.accept(PARTICLE_PROTOCOL)
}

/// The peer id of a multiaddr's trailing `/p2p/…`, if any.
pub fn peer_id_of(addr: &libp2p::Multiaddr) -> Option<PeerId> {
    addr.iter().find_map(|p| match p {
        libp2p::multiaddr::Protocol::P2p(id) => Some(id),
        _ => None,
    })
}
