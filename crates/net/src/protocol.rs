//! The particle protocol as a libp2p behaviour: one substream per particle — open, write one
//! frame, close — on whichever connection to the peer exists (a relay reaches its clients on
//! the connections they dialed). Every inbound particle becomes a swarm event; nothing is
//! dropped for lack of a reader.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::{io, iter};

use futures::future::BoxFuture;
use futures::{AsyncReadExt, AsyncWriteExt, FutureExt};
use libp2p::core::transport::PortUse;
use libp2p::core::upgrade::{InboundUpgrade, OutboundUpgrade, UpgradeInfo};
use libp2p::core::Endpoint;
use libp2p::swarm::handler::{OneShotHandler, OneShotHandlerConfig};
use libp2p::swarm::{
    dial_opts::DialOpts, ConnectionDenied, ConnectionId, FromSwarm, NetworkBehaviour,
    NotifyHandler, StreamUpgradeError, SubstreamProtocol, THandler, THandlerInEvent,
    THandlerOutEvent, ToSwarm,
};
use libp2p::{Multiaddr, PeerId, Stream, StreamProtocol};
use lineage_particle::{CodecError, FrameReader, Particle};

use crate::{PARTICLE_PROTOCOL, SEND_TIMEOUT};

/// What the particle behaviour reports.
#[derive(Debug)]
pub enum ParticleEvent {
    /// A particle arrived from `from` (not yet verified: check signature and TTL).
    Received { from: PeerId, particle: Particle },
    /// `from` sent bytes that are not particle frames; the stream was dropped.
    Malformed { from: PeerId, error: CodecError },
    /// A particle was written to `to`.
    Sent { to: PeerId, particle_id: String },
    /// A particle could not be delivered to `to`.
    SendFailed {
        to: PeerId,
        particle_id: String,
        reason: String,
    },
}

/// Sends and receives particles.
pub struct ParticleBehaviour {
    max_frame: usize,
    /// Peers with at least one open connection.
    connected: HashSet<PeerId>,
    /// Particles waiting for a connection we are dialing.
    pending: HashMap<PeerId, Vec<Arc<Particle>>>,
    events: VecDeque<ToSwarm<ParticleEvent, Outbound>>,
}

impl ParticleBehaviour {
    /// Accepts frames up to `max_frame` bytes.
    pub fn new(max_frame: usize) -> Self {
        ParticleBehaviour {
            max_frame,
            connected: HashSet::new(),
            pending: HashMap::new(),
            events: VecDeque::new(),
        }
    }

    /// Queues `particle` for `to`, dialing it if not connected (known addresses only).
    ///
    /// Takes an `Arc` so a particle sent to many peers is held once, however many of them
    /// are still being dialed; each stream encodes it when it writes.
    pub fn send(&mut self, to: PeerId, particle: impl Into<Arc<Particle>>) {
        let particle = particle.into();
        if self.connected.contains(&to) {
            self.events.push_back(ToSwarm::NotifyHandler {
                peer_id: to,
                handler: NotifyHandler::Any,
                event: Outbound(particle),
            });
        } else {
            let first = !self.pending.contains_key(&to);
            self.pending.entry(to).or_default().push(particle);
            if first {
                self.events.push_back(ToSwarm::Dial {
                    opts: DialOpts::peer_id(to).build(),
                });
            }
        }
    }

    /// Whether a connection to `peer` is open.
    pub fn is_connected(&self, peer: &PeerId) -> bool {
        self.connected.contains(peer)
    }

    fn handler(&self) -> Handler {
        OneShotHandler::new(
            SubstreamProtocol::new(
                Inbound {
                    max_frame: self.max_frame,
                },
                (),
            )
            .with_timeout(SEND_TIMEOUT),
            OneShotHandlerConfig {
                outbound_substream_timeout: SEND_TIMEOUT,
                ..Default::default()
            },
        )
    }
}

type Handler = OneShotHandler<Inbound, Outbound, HandlerEvent>;

impl NetworkBehaviour for ParticleBehaviour {
    type ConnectionHandler = Handler;
    type ToSwarm = ParticleEvent;

    fn handle_established_inbound_connection(
        &mut self,
        _: ConnectionId,
        _: PeerId,
        _: &Multiaddr,
        _: &Multiaddr,
    ) -> Result<THandler<Self>, ConnectionDenied> {
        Ok(self.handler())
    }

    fn handle_established_outbound_connection(
        &mut self,
        _: ConnectionId,
        _: PeerId,
        _: &Multiaddr,
        _: Endpoint,
        _: PortUse,
    ) -> Result<THandler<Self>, ConnectionDenied> {
        Ok(self.handler())
    }

    fn on_swarm_event(&mut self, event: FromSwarm) {
        match event {
            FromSwarm::ConnectionEstablished(e) => {
                self.connected.insert(e.peer_id);
                for particle in self.pending.remove(&e.peer_id).unwrap_or_default() {
                    self.events.push_back(ToSwarm::NotifyHandler {
                        peer_id: e.peer_id,
                        handler: NotifyHandler::One(e.connection_id),
                        event: Outbound(particle),
                    });
                }
            }
            FromSwarm::ConnectionClosed(e) if e.remaining_established == 0 => {
                self.connected.remove(&e.peer_id);
            }
            FromSwarm::DialFailure(e) => {
                if let Some(peer) = e.peer_id {
                    if !self.connected.contains(&peer) {
                        for p in self.pending.remove(&peer).unwrap_or_default() {
                            self.events.push_back(ToSwarm::GenerateEvent(
                                ParticleEvent::SendFailed {
                                    to: peer,
                                    particle_id: p.id.clone(),
                                    reason: format!(
                                        "peer is not connected and could not be dialed: {}",
                                        e.error
                                    ),
                                },
                            ));
                        }
                    }
                }
            }
            _ => {}
        }
    }

    fn on_connection_handler_event(
        &mut self,
        peer: PeerId,
        _: ConnectionId,
        event: THandlerOutEvent<Self>,
    ) {
        let event = match event {
            // A stream closed before any frame carries nothing to report.
            Ok(HandlerEvent::Received(Ok(None))) => return,
            Ok(HandlerEvent::Received(Ok(Some(particle)))) => ParticleEvent::Received {
                from: peer,
                particle,
            },
            Ok(HandlerEvent::Received(Err(error))) => {
                ParticleEvent::Malformed { from: peer, error }
            }
            Ok(HandlerEvent::Sent(particle_id)) => ParticleEvent::Sent {
                to: peer,
                particle_id,
            },
            Err(e) => ParticleEvent::SendFailed {
                to: peer,
                particle_id: String::new(),
                reason: upgrade_error(&e),
            },
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

fn upgrade_error(e: &StreamUpgradeError<io::Error>) -> String {
    match e {
        StreamUpgradeError::Timeout => "timed out writing the particle".into(),
        StreamUpgradeError::NegotiationFailed => {
            format!("the peer does not speak {PARTICLE_PROTOCOL}")
        }
        StreamUpgradeError::Apply(e) => format!("write failed: {e}"),
        StreamUpgradeError::Io(e) => format!("stream failed: {e}"),
    }
}

/// What a connection handler reports.
#[derive(Debug)]
pub enum HandlerEvent {
    Received(Result<Option<Particle>, CodecError>),
    Sent(String),
}

impl From<Result<Option<Particle>, CodecError>> for HandlerEvent {
    fn from(r: Result<Option<Particle>, CodecError>) -> Self {
        HandlerEvent::Received(r)
    }
}

impl From<String> for HandlerEvent {
    fn from(id: String) -> Self {
        HandlerEvent::Sent(id)
    }
}

/// Inbound: read the stream's one frame (the protocol sends one particle per stream), then wait
/// for the remote to close its side. Bytes after the first frame fail the stream
/// ([`CodecError::TrailingBytes`]) at once, so a stream never holds more than one frame.
#[derive(Debug, Clone, Copy)]
pub struct Inbound {
    max_frame: usize,
}

impl UpgradeInfo for Inbound {
    type Info = StreamProtocol;
    type InfoIter = iter::Once<StreamProtocol>;
    fn protocol_info(&self) -> Self::InfoIter {
        iter::once(PARTICLE_PROTOCOL)
    }
}

impl InboundUpgrade<Stream> for Inbound {
    type Output = Result<Option<Particle>, CodecError>;
    type Error = io::Error;
    type Future = BoxFuture<'static, Result<Self::Output, io::Error>>;

    fn upgrade_inbound(self, mut stream: Stream, _: StreamProtocol) -> Self::Future {
        async move {
            let mut reader = FrameReader::new(self.max_frame);
            let mut particle = None;
            let mut buf = vec![0u8; 16 * 1024];
            loop {
                let n = stream.read(&mut buf).await?;
                if n == 0 {
                    break;
                }
                if particle.is_some() {
                    return Ok(Err(CodecError::TrailingBytes { count: n }));
                }
                reader.push(&buf[..n]);
                match reader.next_particle() {
                    Ok(Some(p)) => {
                        let extra = reader.buffered();
                        if extra > 0 {
                            return Ok(Err(CodecError::TrailingBytes { count: extra }));
                        }
                        particle = Some(p);
                    }
                    Ok(None) => {}
                    Err(e) => return Ok(Err(e)),
                }
            }
            Ok(reader.finish().map(|()| particle))
        }
        .boxed()
    }
}

/// Outbound: one particle, one frame, then close.
#[derive(Debug)]
pub struct Outbound(pub Arc<Particle>);

impl UpgradeInfo for Outbound {
    type Info = StreamProtocol;
    type InfoIter = iter::Once<StreamProtocol>;
    fn protocol_info(&self) -> Self::InfoIter {
        iter::once(PARTICLE_PROTOCOL)
    }
}

impl OutboundUpgrade<Stream> for Outbound {
    type Output = String;
    type Error = io::Error;
    type Future = BoxFuture<'static, Result<String, io::Error>>;

    fn upgrade_outbound(self, mut stream: Stream, _: StreamProtocol) -> Self::Future {
        async move {
            let frame = lineage_particle::encode(&self.0);
            stream.write_all(&frame).await?;
            stream.flush().await?;
            stream.close().await?;
            Ok(self.0.id.clone())
        }
        .boxed()
    }
}
