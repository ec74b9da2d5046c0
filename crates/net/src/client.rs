//! A client peer: connects to a relay, runs Aqua (AIR) scripts like js-client's
//! `callAquaFunction` — arguments served by `getDataSrv`, the result delivered to
//! `callbackSrv.response`, errors to `errorHandlingSrv.error` — and answers calls to services
//! registered on it. Runtime-agnostic (futures only), so the browser peer reuses it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use futures::{FutureExt, StreamExt};
use libp2p::swarm::SwarmEvent;
use libp2p::{Multiaddr, PeerId, Swarm};
use lineage_particle::Particle;
use lineage_peer::{now_ms, Handler, Peer, Services};
use serde_json::{json, Value};

use crate::{Behaviour, BehaviourEvent, ParticleEvent};

/// A failed client operation.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("relay address {0} has no /p2p/<peer id>")]
    NoPeerId(Multiaddr),
    #[error("could not dial the relay: {0}")]
    Dial(String),
    #[error("the connection to the relay closed: {0}")]
    Disconnected(String),
    #[error("particle {particle_id} expired after {ttl_ms} ms without a response")]
    Expired { particle_id: String, ttl_ms: u32 },
    #[error("the script failed: {0}")]
    Script(Value),
    #[error("{0}")]
    Peer(String),
}

/// What the reserved services of one call see and produce.
#[derive(Default)]
struct CallSlot {
    args: HashMap<String, Value>,
    outcome: Option<Result<Value, Value>>,
}

/// A connected client peer.
pub struct Client {
    swarm: Swarm<Behaviour>,
    peer: Peer,
    relay: PeerId,
    slot: Arc<Mutex<CallSlot>>,
    /// Deferred call results (e.g. `peer.timeout`) with the time they are due.
    deferred: Vec<(u64, lineage_peer::Deferred)>,
}

impl Client {
    /// Dials `relay` (a multiaddr ending in `/p2p/<id>`) with `swarm` and waits for the
    /// connection. `swarm` comes from [`crate::transport::build_swarm`] with the same key.
    ///
    /// # Errors
    /// [`ClientError`] when the address has no peer id or the dial fails.
    pub async fn connect(
        mut swarm: Swarm<Behaviour>,
        key: libp2p::identity::Keypair,
        relay: Multiaddr,
    ) -> Result<Client, ClientError> {
        let relay_id =
            crate::peer_id_of(&relay).ok_or_else(|| ClientError::NoPeerId(relay.clone()))?;
        swarm
            .dial(relay.clone())
            .map_err(|e| ClientError::Dial(e.to_string()))?;
        loop {
            match swarm.select_next_some().await {
                SwarmEvent::ConnectionEstablished { peer_id, .. } if peer_id == relay_id => break,
                SwarmEvent::OutgoingConnectionError { error, .. } => {
                    return Err(ClientError::Dial(error.to_string()))
                }
                _ => {}
            }
        }
        let slot = Arc::new(Mutex::new(CallSlot::default()));
        let mut services = Services::new(key.clone(), json!({}));
        let relay_str = relay_id.to_base58();
        let s = Arc::clone(&slot);
        services.register(
            "getDataSrv",
            Box::new(move |function, _args, _ctx| {
                if function == "-relay-" {
                    return Ok(Value::String(relay_str.clone()));
                }
                let slot = s.lock().map_err(|_| "call state poisoned".to_string())?;
                slot.args
                    .get(function)
                    .cloned()
                    .ok_or_else(|| format!("no argument named '{function}'"))
            }),
        );
        let s = Arc::clone(&slot);
        services.register(
            "callbackSrv",
            Box::new(move |function, args, _ctx| {
                if function == "response" {
                    let value = match args.len() {
                        0 => Value::Null,
                        1 => args.into_iter().next().unwrap_or(Value::Null),
                        _ => Value::Array(args),
                    };
                    if let Ok(mut slot) = s.lock() {
                        slot.outcome = Some(Ok(value));
                    }
                }
                Ok(Value::Null)
            }),
        );
        let s = Arc::clone(&slot);
        services.register(
            "errorHandlingSrv",
            Box::new(move |_function, args, _ctx| {
                if let Ok(mut slot) = s.lock() {
                    slot.outcome = Some(Err(args.into_iter().next().unwrap_or(Value::Null)));
                }
                Ok(Value::Null)
            }),
        );
        let peer = Peer::new(key, services).map_err(ClientError::Peer)?;
        Ok(Client {
            swarm,
            peer,
            relay: relay_id,
            slot,
            deferred: Vec::new(),
        })
    }

    /// This client's peer id.
    pub fn peer_id(&self) -> PeerId {
        self.peer.peer_id()
    }

    /// The relay's peer id.
    pub fn relay_id(&self) -> PeerId {
        self.relay
    }

    /// Registers a service others can call on this client (like js-client's `registerService`).
    pub fn register_service(&mut self, service_id: &str, handler: Handler) {
        self.peer.services.register(service_id, handler);
    }

    /// Runs `script` (AIR as the Aqua compiler emits it) with `args` served by `getDataSrv`, and
    /// waits for `callbackSrv.response` (or `errorHandlingSrv.error`) at most `ttl_ms`.
    ///
    /// # Errors
    /// [`ClientError::Script`] with the Aqua error object, [`ClientError::Expired`], or transport errors.
    pub async fn call(
        &mut self,
        script: &str,
        args: HashMap<String, Value>,
        ttl_ms: u32,
    ) -> Result<Value, ClientError> {
        let (id, deadline) = self.start_call(script, args, ttl_ms)?;
        let mut timer =
            futures_timer::Delay::new(std::time::Duration::from_millis(u64::from(ttl_ms))).fuse();
        loop {
            if let Some(outcome) = self.slot.lock().ok().and_then(|mut s| s.outcome.take()) {
                return outcome.map_err(ClientError::Script);
            }
            if now_ms() >= deadline {
                return Err(ClientError::Expired {
                    particle_id: id,
                    ttl_ms,
                });
            }
            let mut due = self.next_due();
            futures::select! {
                event = self.swarm.select_next_some() => self.on_event(event)?,
                () = due => self.run_due(),
                () = timer => return Err(ClientError::Expired { particle_id: id, ttl_ms }),
            }
        }
    }

    /// Runs a script whose Aqua function returns nothing (js-client's fire-and-forget): returns
    /// once the particle has left for the relay, or fails if it could not be sent.
    ///
    /// # Errors
    /// [`ClientError::Disconnected`] or [`ClientError::Expired`] when the particle can't be sent.
    pub async fn call_void(
        &mut self,
        script: &str,
        args: HashMap<String, Value>,
        ttl_ms: u32,
    ) -> Result<(), ClientError> {
        let (id, _) = self.start_call(script, args, ttl_ms)?;
        let mut timer =
            futures_timer::Delay::new(std::time::Duration::from_millis(u64::from(ttl_ms))).fuse();
        loop {
            let mut due = self.next_due();
            futures::select! {
                event = self.swarm.select_next_some() => match event {
                    SwarmEvent::Behaviour(BehaviourEvent::Particles(ParticleEvent::Sent { particle_id, .. })) if particle_id == id => return Ok(()),
                    SwarmEvent::Behaviour(BehaviourEvent::Particles(ParticleEvent::SendFailed { reason, .. })) => {
                        return Err(ClientError::Disconnected(reason));
                    }
                    other => self.on_event(other)?,
                },
                () = due => self.run_due(),
                () = timer => return Err(ClientError::Expired { particle_id: id, ttl_ms }),
            }
        }
    }

    /// Serves calls to this client's services for `duration` (e.g. a peer that only answers).
    ///
    /// # Errors
    /// When the relay connection is lost.
    pub async fn serve_for(&mut self, duration: std::time::Duration) -> Result<(), ClientError> {
        let mut timer = futures_timer::Delay::new(duration).fuse();
        loop {
            let mut due = self.next_due();
            futures::select! {
                event = self.swarm.select_next_some() => self.on_event(event)?,
                () = due => self.run_due(),
                () = timer => return Ok(()),
            }
        }
    }

    fn on_event(&mut self, event: SwarmEvent<BehaviourEvent>) -> Result<(), ClientError> {
        match event {
            SwarmEvent::Behaviour(BehaviourEvent::Particles(ParticleEvent::Received {
                particle,
                ..
            })) => self.handle(particle),
            SwarmEvent::ConnectionClosed {
                peer_id,
                cause,
                num_established: 0,
                ..
            } if peer_id == self.relay => Err(ClientError::Disconnected(
                cause
                    .map(|c| c.to_string())
                    .unwrap_or_else(|| "closed".into()),
            )),
            _ => Ok(()),
        }
    }

    /// Arms the reserved services with `args`, then creates, signs and handles the particle;
    /// returns its id and deadline.
    fn start_call(
        &mut self,
        script: &str,
        args: HashMap<String, Value>,
        ttl_ms: u32,
    ) -> Result<(String, u64), ClientError> {
        if let Ok(mut slot) = self.slot.lock() {
            *slot = CallSlot {
                args,
                outcome: None,
            };
        }
        let particle = self
            .peer
            .new_particle(script, now_ms(), ttl_ms)
            .map_err(ClientError::Peer)?;
        let started = (particle.id.clone(), particle.deadline_ms());
        self.handle(particle)?;
        Ok(started)
    }

    /// A timer for the earliest deferred result (never, when there is none).
    fn next_due(&self) -> futures::future::Fuse<futures::future::BoxFuture<'static, ()>> {
        match self.deferred.iter().map(|(t, _)| *t).min() {
            Some(t) => {
                let wait = std::time::Duration::from_millis(t.saturating_sub(now_ms()));
                futures_timer::Delay::new(wait).boxed().fuse()
            }
            None => futures::future::pending().boxed().fuse(),
        }
    }

    /// Feeds the deferred results that are due back into their particles.
    fn run_due(&mut self) {
        let now = now_ms();
        let (due, later): (Vec<_>, Vec<_>) = std::mem::take(&mut self.deferred)
            .into_iter()
            .partition(|(t, _)| *t <= now);
        self.deferred = later;
        for (_, d) in due {
            match self
                .peer
                .resume(&d.particle, vec![(d.call_id, d.result)], now)
            {
                Ok(handled) => self.dispatch(handled),
                Err(e) => tracing::info!(error = %e, "deferred result not delivered"),
            }
        }
    }

    fn dispatch(&mut self, handled: lineage_peer::Handled) {
        let now = now_ms();
        self.deferred
            .extend(handled.deferred.into_iter().map(|d| (now + d.delay_ms, d)));
        for send in handled.sends {
            // Clients reach everyone through their relay.
            let to = if self.swarm.behaviour().particles.is_connected(&send.to) {
                send.to
            } else {
                self.relay
            };
            self.swarm.behaviour_mut().particles.send(to, send.particle);
        }
    }

    fn handle(&mut self, particle: Particle) -> Result<(), ClientError> {
        match self.peer.handle(particle, now_ms()) {
            Ok(handled) => {
                self.dispatch(handled);
                Ok(())
            }
            Err(e) => {
                tracing::warn!(error = %e, "client dropped a particle");
                Ok(())
            }
        }
    }

    /// Sends a particle as is (for tests of how peers treat bad particles).
    pub fn send_raw(&mut self, particle: Particle) {
        self.swarm
            .behaviour_mut()
            .particles
            .send(self.relay, particle);
    }
}
