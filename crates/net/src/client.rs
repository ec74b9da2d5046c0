//! A client peer over libp2p: one task owns the swarm and the [`ClientCore`] and always polls
//! both — particles for services registered here are served between calls too — while
//! [`Client`] handles send it commands over a channel. Many calls run at once. The relay is
//! re-dialed with backoff when the connection drops, and particles of calls still within
//! their TTL are sent again once it is back. Runtime-agnostic (futures only; the task is
//! spawned by [`crate::transport::spawn`]), so the browser peer runs the same code.
//!
//! ```no_run
//! # async fn demo(swarm: libp2p::Swarm<lineage_net::Behaviour>, key: libp2p::identity::Keypair, relay: libp2p::Multiaddr) -> Result<(), lineage_net::client::ClientError> {
//! use lineage_net::client::Client;
//! let client = Client::connect(swarm, key, relay).await?;
//! let air = r#"(call %init_peer_id% ("callbackSrv" "response") ["hi"])"#;
//! assert_eq!(client.call(air, Default::default(), 7_000).await?, serde_json::json!("hi"));
//! # Ok(()) }
//! ```

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::task::Poll;
use std::time::Duration;

use futures::channel::{mpsc, oneshot};
use futures::{FutureExt, StreamExt};
use libp2p::swarm::SwarmEvent;
use libp2p::{Multiaddr, PeerId, Swarm};
use lineage_particle::Particle;
use lineage_peer::client::{Call, CallFailure, ClientCore, Finished, Step};
use lineage_peer::{now_ms, Handler, MaybeSend, Peer, PeerError, Services};
use serde_json::{json, Value};

use crate::{Behaviour, BehaviourEvent, ParticleEvent};

/// A failed client operation.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("relay address {0} has no /p2p/<peer id>")]
    NoPeerId(Multiaddr),
    #[error("could not dial the relay: {0}")]
    Dial(String),
    #[error("could not connect to the relay within {ms} ms")]
    DialTimeout { ms: u64 },
    #[error("the connection to the relay closed: {0}")]
    Disconnected(String),
    #[error("Particle expired after ttl of {ttl_ms}ms (particle id: {particle_id})")]
    Expired { particle_id: String, ttl_ms: u32 },
    /// The script reached `errorHandlingSrv.error` with this Aqua error value.
    #[error("the script failed: {0}")]
    Script(Value),
    #[error(transparent)]
    Call(CallFailure),
    #[error(transparent)]
    Peer(#[from] PeerError),
    #[error("the client is stopped")]
    Stopped,
}

impl ClientError {
    /// A stable code (what JS errors carry as `code`).
    pub fn code(&self) -> &'static str {
        match self {
            ClientError::NoPeerId(_) => "BAD_RELAY",
            ClientError::Dial(_) => "DIAL_FAILED",
            ClientError::DialTimeout { .. } => "DIAL_TIMEOUT",
            ClientError::Disconnected(_) => "DISCONNECTED",
            ClientError::Expired { .. } => "EXPIRED",
            ClientError::Script(_) => "SCRIPT_ERROR",
            ClientError::Call(f) => f.code(),
            ClientError::Peer(_) => "PEER",
            ClientError::Stopped => "STOPPED",
        }
    }
}

impl From<CallFailure> for ClientError {
    fn from(f: CallFailure) -> Self {
        match f {
            CallFailure::Script(v) => ClientError::Script(v),
            CallFailure::Expired {
                particle_id,
                ttl_ms,
            } => ClientError::Expired {
                particle_id,
                ttl_ms,
            },
            other => ClientError::Call(other),
        }
    }
}

/// The relay connection as js-client names its states.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectionState {
    Disconnected,
    Connecting,
    Connected,
    Disconnecting,
}

impl ConnectionState {
    /// js-client's name of the state.
    pub fn as_str(self) -> &'static str {
        match self {
            ConnectionState::Disconnected => "disconnected",
            ConnectionState::Connecting => "connecting",
            ConnectionState::Connected => "connected",
            ConnectionState::Disconnecting => "disconnecting",
        }
    }
}

pub use crate::transport::StateListener;

/// How the client connects.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// How long one dial of the relay may take.
    pub dial_timeout: Duration,
    /// Re-dial the relay when the connection drops.
    pub reconnect: bool,
    /// First and longest pause between re-dials (doubling in between).
    pub backoff_min: Duration,
    pub backoff_max: Duration,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            dial_timeout: Duration::from_secs(10),
            reconnect: true,
            backoff_min: Duration::from_millis(250),
            backoff_max: Duration::from_secs(10),
        }
    }
}

use crate::transport::PeerFn;

enum Command {
    Call(Call, oneshot::Sender<Result<Value, ClientError>>),
    WithPeer(PeerFn),
    SendRaw(Particle),
    Stop(oneshot::Sender<()>),
}

/// A handle on a connected client peer; clones share the same peer.
#[derive(Clone)]
pub struct Client {
    commands: mpsc::UnboundedSender<Command>,
    peer_id: PeerId,
    relay: PeerId,
    state: Arc<Mutex<ConnectionState>>,
}

impl Client {
    /// Dials `relay` (a multiaddr ending in `/p2p/<id>`) with `swarm` and waits for the
    /// connection (default [`ClientConfig`]). `swarm` comes from
    /// [`crate::transport::build_swarm`] with the same key.
    ///
    /// # Errors
    /// [`ClientError`] when the address has no peer id or the dial fails or times out.
    pub async fn connect(
        swarm: Swarm<Behaviour>,
        key: libp2p::identity::Keypair,
        relay: Multiaddr,
    ) -> Result<Client, ClientError> {
        Client::connect_with(swarm, key, relay, ClientConfig::default(), None).await
    }

    /// [`Client::connect`] with a config and a listener for connection state changes.
    ///
    /// # Errors
    /// As [`Client::connect`].
    pub async fn connect_with(
        mut swarm: Swarm<Behaviour>,
        key: libp2p::identity::Keypair,
        relay: Multiaddr,
        config: ClientConfig,
        on_state: Option<StateListener>,
    ) -> Result<Client, ClientError> {
        let relay_id =
            crate::peer_id_of(&relay).ok_or_else(|| ClientError::NoPeerId(relay.clone()))?;
        let state = Arc::new(Mutex::new(ConnectionState::Disconnected));
        let mut driver = Driver {
            core: ClientCore::new(
                Peer::new(key.clone(), Services::new(key, json!({})))?,
                relay_id,
            ),
            relay_addr: relay,
            relay: relay_id,
            config,
            state: Arc::clone(&state),
            on_state,
            replies: HashMap::new(),
            unsent: Vec::new(),
            latest: HashMap::new(),
            redial_at: None,
            dialing_since: None,
            backoff: Duration::ZERO,
            stop: None,
        };
        driver.set_state(ConnectionState::Connecting);
        swarm
            .dial(driver.relay_addr.clone())
            .map_err(|e| ClientError::Dial(e.to_string()))?;
        let timeout = driver.config.dial_timeout;
        let mut timer = futures_timer::Delay::new(timeout).fuse();
        loop {
            futures::select! {
                event = swarm.select_next_some() => match event {
                    SwarmEvent::ConnectionEstablished { peer_id, .. } if peer_id == relay_id => break,
                    SwarmEvent::OutgoingConnectionError { error, peer_id, .. } if peer_id.is_none() || peer_id == Some(relay_id) => {
                        driver.set_state(ConnectionState::Disconnected);
                        return Err(ClientError::Dial(error.to_string()));
                    }
                    _ => {}
                },
                () = timer => {
                    driver.set_state(ConnectionState::Disconnected);
                    return Err(ClientError::DialTimeout { ms: timeout.as_millis() as u64 });
                }
            }
        }
        driver.set_state(ConnectionState::Connected);
        let (tx, rx) = mpsc::unbounded();
        let peer_id = driver.core.peer().peer_id();
        crate::transport::spawn(driver.run(swarm, rx));
        Ok(Client {
            commands: tx,
            peer_id,
            relay: relay_id,
            state,
        })
    }

    /// This client's peer id.
    pub fn peer_id(&self) -> PeerId {
        self.peer_id
    }

    /// The relay's peer id.
    pub fn relay_id(&self) -> PeerId {
        self.relay
    }

    /// The relay connection's state now.
    pub fn state(&self) -> ConnectionState {
        self.state
            .lock()
            .map(|s| *s)
            .unwrap_or(ConnectionState::Disconnected)
    }

    /// Registers a service others can call on this client (like js-client's `registerService`).
    pub fn register_service(&self, service_id: &str, handler: Handler) {
        let id = service_id.to_string();
        self.with_peer(move |peer| peer.services.register(&id, handler));
    }

    /// Runs `f` on the peer inside the client's task (to register or remove services).
    pub fn with_peer(&self, f: impl FnOnce(&mut Peer) + MaybeSend + 'static) {
        let _ = self.commands.unbounded_send(Command::WithPeer(Box::new(f)));
    }

    /// Runs `f` on the peer inside the client's task and returns what it gives.
    ///
    /// # Errors
    /// [`ClientError::Stopped`] when the client task has ended.
    pub async fn ask_peer<T: MaybeSend + 'static>(
        &self,
        f: impl FnOnce(&mut Peer) -> T + MaybeSend + 'static,
    ) -> Result<T, ClientError> {
        let (tx, rx) = oneshot::channel();
        self.with_peer(move |peer| {
            let _ = tx.send(f(peer));
        });
        rx.await.map_err(|_| ClientError::Stopped)
    }

    /// Runs `script` (AIR as the Aqua compiler emits it) with `args` served by `getDataSrv`, and
    /// waits for `callbackSrv.response` (or `errorHandlingSrv.error`) at most `ttl_ms`.
    ///
    /// # Errors
    /// [`ClientError::Script`] with the Aqua error object, [`ClientError::Expired`], or transport errors.
    pub async fn call(
        &self,
        script: &str,
        args: HashMap<String, Value>,
        ttl_ms: u32,
    ) -> Result<Value, ClientError> {
        self.run(Call::new(script, ttl_ms).args(args)).await
    }

    /// Runs a script whose Aqua function returns nothing (js-client's fire-and-forget): returns
    /// once the particle has left for the relay, or fails if it could not be sent.
    ///
    /// # Errors
    /// As [`Client::call`].
    pub async fn call_void(
        &self,
        script: &str,
        args: HashMap<String, Value>,
        ttl_ms: u32,
    ) -> Result<(), ClientError> {
        let call = Call::new(script, ttl_ms).args(args).fire_and_forget(true);
        self.run(call).await.map(|_| ())
    }

    /// Runs a [`Call`] (arguments, callbacks, fire-and-forget) and waits for it to settle.
    ///
    /// # Errors
    /// As [`Client::call`].
    pub async fn run(&self, call: Call) -> Result<Value, ClientError> {
        let (tx, rx) = oneshot::channel();
        self.commands
            .unbounded_send(Command::Call(call, tx))
            .map_err(|_| ClientError::Stopped)?;
        rx.await.map_err(|_| ClientError::Stopped)?
    }

    /// Waits `duration` while the client serves its services (it always does); fails if the
    /// relay connection is down at the end.
    ///
    /// # Errors
    /// [`ClientError::Disconnected`] when not connected then, [`ClientError::Stopped`] when
    /// the client task ended.
    pub async fn serve_for(&self, duration: Duration) -> Result<(), ClientError> {
        futures_timer::Delay::new(duration).await;
        if self.commands.is_closed() {
            return Err(ClientError::Stopped);
        }
        match self.state() {
            ConnectionState::Connected => Ok(()),
            other => Err(ClientError::Disconnected(other.as_str().into())),
        }
    }

    /// Sends a particle as is (for tests of how peers treat bad particles).
    pub fn send_raw(&self, particle: Particle) {
        let _ = self.commands.unbounded_send(Command::SendRaw(particle));
    }

    /// Closes the relay connection and stops the client task; pending calls fail with
    /// [`ClientError::Stopped`].
    pub async fn disconnect(&self) {
        let (tx, rx) = oneshot::channel();
        if self.commands.unbounded_send(Command::Stop(tx)).is_ok() {
            let _ = rx.await;
        }
    }
}

/// The client task's state.
struct Driver {
    core: ClientCore,
    relay_addr: Multiaddr,
    relay: PeerId,
    config: ClientConfig,
    state: Arc<Mutex<ConnectionState>>,
    on_state: Option<StateListener>,
    replies: HashMap<String, oneshot::Sender<Result<Value, ClientError>>>,
    /// Particles that could not be written while the relay was away, re-sent on reconnect.
    unsent: Vec<Arc<Particle>>,
    /// The latest particle of each call still waiting, re-sent on reconnect (the relay may
    /// have lost it with the connection; AquaVM merges a duplicate without re-running calls).
    latest: HashMap<String, Arc<Particle>>,
    redial_at: Option<u64>,
    dialing_since: Option<u64>,
    backoff: Duration,
    stop: Option<oneshot::Sender<()>>,
}

/// What woke the client task.
enum Wake {
    Command(Option<Command>),
    Swarm(Box<SwarmEvent<BehaviourEvent>>),
    Answer(Step),
    Timer,
}

impl Driver {
    async fn run(
        mut self,
        mut swarm: Swarm<Behaviour>,
        mut commands: mpsc::UnboundedReceiver<Command>,
    ) {
        let mut timer: Option<(u64, futures_timer::Delay)> = None;
        loop {
            let due = [
                self.core.next_wakeup(),
                self.redial_at,
                self.dial_deadline(),
            ]
            .into_iter()
            .flatten()
            .min();
            match (due, &timer) {
                (Some(t), Some((at, _))) if *at == t => {}
                (Some(t), _) => {
                    let wait = Duration::from_millis(t.saturating_sub(now_ms()));
                    timer = Some((t, futures_timer::Delay::new(wait)));
                }
                (None, _) => timer = None,
            }
            let wake = futures::future::poll_fn(|cx| {
                if let Poll::Ready(c) = commands.poll_next_unpin(cx) {
                    return Poll::Ready(Wake::Command(c));
                }
                if let Poll::Ready(step) = self.core.poll_answers(cx, now_ms()) {
                    return Poll::Ready(Wake::Answer(step));
                }
                if let Some((_, t)) = timer.as_mut() {
                    if t.poll_unpin(cx).is_ready() {
                        return Poll::Ready(Wake::Timer);
                    }
                }
                match swarm.poll_next_unpin(cx) {
                    Poll::Ready(Some(e)) => Poll::Ready(Wake::Swarm(Box::new(e))),
                    _ => Poll::Pending,
                }
            })
            .await;
            match wake {
                Wake::Command(None) => break,
                Wake::Command(Some(Command::Stop(done))) => {
                    self.stop = Some(done);
                    break;
                }
                Wake::Command(Some(c)) => self.command(&mut swarm, c),
                Wake::Answer(step) => self.apply(&mut swarm, step),
                Wake::Timer => {
                    timer = None;
                    let now = now_ms();
                    let step = self.core.wake(now);
                    self.apply(&mut swarm, step);
                    self.maybe_redial(&mut swarm, now);
                }
                Wake::Swarm(e) => self.swarm_event(&mut swarm, *e),
            }
        }
        self.set_state(ConnectionState::Disconnecting);
        for f in self.core.stop() {
            self.finish(f);
        }
        let _ = swarm.disconnect_peer_id(self.relay);
        drop(swarm);
        self.set_state(ConnectionState::Disconnected);
        if let Some(done) = self.stop.take() {
            let _ = done.send(());
        }
    }

    fn command(&mut self, swarm: &mut Swarm<Behaviour>, c: Command) {
        match c {
            Command::Call(call, reply) => match self.core.start_call(call, now_ms()) {
                Ok((id, step)) => {
                    self.replies.insert(id, reply);
                    self.apply(swarm, step);
                }
                Err(e) => {
                    let _ = reply.send(Err(e.into()));
                }
            },
            Command::WithPeer(f) => f(self.core.peer_mut()),
            Command::SendRaw(p) => self.send(swarm, p),
            Command::Stop(_) => {}
        }
    }

    fn apply(&mut self, swarm: &mut Swarm<Behaviour>, step: Step) {
        for s in step.sends {
            self.send(swarm, s.particle);
        }
        for f in step.finished {
            self.finish(f);
        }
    }

    fn send(&mut self, swarm: &mut Swarm<Behaviour>, particle: impl Into<Arc<Particle>>) {
        let particle = particle.into();
        if self.core.is_waiting(&particle.id) {
            self.latest
                .insert(particle.id.clone(), Arc::clone(&particle));
        }
        if self.is_connected() {
            swarm.behaviour_mut().particles.send(self.relay, particle);
        } else {
            self.unsent.push(particle);
        }
    }

    fn finish(&mut self, f: Finished) {
        self.latest.remove(&f.particle_id);
        if let Some(reply) = self.replies.remove(&f.particle_id) {
            let _ = reply.send(f.result.map_err(ClientError::from));
        }
    }

    fn swarm_event(&mut self, swarm: &mut Swarm<Behaviour>, event: SwarmEvent<BehaviourEvent>) {
        match event {
            SwarmEvent::Behaviour(BehaviourEvent::Particles(e)) => match e {
                ParticleEvent::Received { particle, .. } => {
                    let step = self.core.receive(particle, now_ms());
                    self.apply(swarm, step);
                }
                ParticleEvent::Sent { particle_id, .. } => {
                    for f in self.core.sent(&particle_id) {
                        self.finish(f);
                    }
                }
                ParticleEvent::SendFailed {
                    particle_id,
                    reason,
                    ..
                } => {
                    tracing::info!(particle = %particle_id, %reason, "particle not delivered");
                    if !self.config.reconnect {
                        for f in self.core.send_failed(&particle_id, &reason) {
                            self.finish(f);
                        }
                    }
                }
                ParticleEvent::Malformed { from, error } => {
                    tracing::warn!(peer = %from, %error, "dropped a malformed particle stream");
                }
            },
            SwarmEvent::ConnectionEstablished { peer_id, .. } if peer_id == self.relay => {
                self.dialing_since = None;
                self.redial_at = None;
                self.backoff = Duration::ZERO;
                self.set_state(ConnectionState::Connected);
                let now = now_ms();
                let unsent = std::mem::take(&mut self.unsent);
                let again: Vec<Arc<Particle>> = self
                    .latest
                    .values()
                    .filter(|p| !unsent.iter().any(|u| u.id == p.id))
                    .cloned()
                    .collect();
                for p in unsent.into_iter().chain(again) {
                    if p.deadline_ms() > now {
                        swarm.behaviour_mut().particles.send(self.relay, p);
                    }
                }
            }
            SwarmEvent::ConnectionClosed {
                peer_id,
                num_established: 0,
                cause,
                ..
            } if peer_id == self.relay => {
                tracing::info!(cause = ?cause, "relay connection closed");
                self.lost(now_ms());
            }
            SwarmEvent::OutgoingConnectionError { peer_id, error, .. }
                if peer_id.is_none() || peer_id == Some(self.relay) =>
            {
                tracing::info!(%error, "relay dial failed");
                self.dialing_since = None;
                self.lost(now_ms());
            }
            _ => {}
        }
    }

    /// The relay is gone: schedule a re-dial (with backoff) or stay disconnected.
    fn lost(&mut self, now: u64) {
        self.set_state(ConnectionState::Disconnected);
        if self.config.reconnect && self.dialing_since.is_none() {
            self.backoff = if self.backoff.is_zero() {
                self.config.backoff_min
            } else {
                (self.backoff * 2).min(self.config.backoff_max)
            };
            self.redial_at = Some(now + self.backoff.as_millis() as u64);
        }
    }

    fn dial_deadline(&self) -> Option<u64> {
        self.dialing_since
            .map(|t| t + self.config.dial_timeout.as_millis() as u64)
    }

    fn maybe_redial(&mut self, swarm: &mut Swarm<Behaviour>, now: u64) {
        if self.dial_deadline().is_some_and(|d| d <= now) {
            // This dial took too long: count it as failed and try again later.
            self.dialing_since = None;
            self.lost(now);
            return;
        }
        if self.redial_at.is_some_and(|t| t <= now) && !self.is_connected() {
            self.redial_at = None;
            self.set_state(ConnectionState::Connecting);
            match swarm.dial(self.relay_addr.clone()) {
                Ok(()) => self.dialing_since = Some(now),
                Err(e) => {
                    tracing::info!(error = %e, "cannot dial the relay");
                    self.lost(now);
                }
            }
        }
    }

    fn is_connected(&self) -> bool {
        self.state
            .lock()
            .map(|s| *s == ConnectionState::Connected)
            .unwrap_or(false)
    }

    fn set_state(&mut self, s: ConnectionState) {
        let changed = match self.state.lock() {
            Ok(mut cur) if *cur != s => {
                *cur = s;
                true
            }
            _ => false,
        };
        if changed {
            if let Some(f) = self.on_state.as_mut() {
                f(s);
            }
        }
    }
}
