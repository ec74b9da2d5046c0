//! The client core shared by the native Rust client and the browser light peer: Aqua calls
//! run as js-client's `callAquaFunction` runs them — arguments served by `getDataSrv`, the
//! result delivered to `callbackSrv.response`, errors to `errorHandlingSrv.error` — many at
//! once, keyed by particle. Each call's reserved services are registered for its own particle
//! only, so no other particle can read its arguments or settle it. Transport-agnostic: the
//! embedder moves [`Outgoing`] particles to the relay and feeds back what arrives.
//!
//! ```
//! use std::collections::HashMap;
//! use lineage_peer::client::{ClientCore, Call};
//! use lineage_peer::{Peer, Services};
//! # let key = libp2p_identity::Keypair::generate_ed25519();
//! # let relay = libp2p_identity::PeerId::random();
//! let peer = Peer::new(key.clone(), Services::new(key, serde_json::json!({})))?;
//! let mut core = ClientCore::new(peer, relay);
//! let script = r#"(call %init_peer_id% ("callbackSrv" "response") ["hi"])"#;
//! let (id, step) = core.start_call(Call::new(script, 7_000), lineage_peer::now_ms())?;
//! assert_eq!(step.finished[0].particle_id, id);
//! assert_eq!(step.finished[0].result, Ok(serde_json::json!("hi")));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use libp2p_identity::PeerId;
use serde_json::Value;

use crate::host::{Handled, Outgoing, ParticleKey, Peer, PeerError, Rejected};
use crate::platform::{Handler, ParticleIdHook};
use crate::services::handler;
use lineage_particle::Particle;

/// One Aqua call to start.
pub struct Call {
    pub script: String,
    /// Served by `getDataSrv.<name>`.
    pub args: HashMap<String, Value>,
    /// Served by `callbackSrv.<name>` (arrow arguments), for this call's particle only.
    pub callbacks: HashMap<String, Handler>,
    pub ttl_ms: u32,
    /// Settle with `null` once the particle has left (js-client's `fireAndForget`, for
    /// functions that return nothing).
    pub fire_and_forget: bool,
    /// Called with the particle id once the particle is made, before it runs.
    pub on_particle: Option<ParticleIdHook>,
}

impl Call {
    /// A call of `script` with no arguments that waits for its result at most `ttl_ms`.
    pub fn new(script: impl Into<String>, ttl_ms: u32) -> Call {
        Call {
            script: script.into(),
            args: HashMap::new(),
            callbacks: HashMap::new(),
            ttl_ms,
            fire_and_forget: false,
            on_particle: None,
        }
    }

    /// Adds `getDataSrv` arguments.
    pub fn args(mut self, args: HashMap<String, Value>) -> Call {
        self.args.extend(args);
        self
    }

    /// Settles once the particle has been sent.
    pub fn fire_and_forget(mut self, yes: bool) -> Call {
        self.fire_and_forget = yes;
        self
    }
}

/// Why a call failed; the texts are js-client 0.9's.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CallFailure {
    /// The script reached `errorHandlingSrv.error` with this value (the Aqua error object).
    #[error("{}", script_error_text(.0))]
    Script(Value),
    #[error("Particle expired after ttl of {ttl_ms}ms (particle id: {particle_id})")]
    Expired { particle_id: String, ttl_ms: u32 },
    #[error("Script interpretation failed: {message}  (particle id: {particle_id})")]
    Interpreter {
        particle_id: String,
        message: String,
    },
    #[error("Could not send particle: (particle id: {particle_id}, message: {message})")]
    SendFailed {
        particle_id: String,
        message: String,
    },
    #[error("the client was stopped before particle {particle_id} settled")]
    Stopped { particle_id: String },
}

impl CallFailure {
    /// A stable code for the failure (what JS errors carry as `code`).
    pub fn code(&self) -> &'static str {
        match self {
            CallFailure::Script(_) => "SCRIPT_ERROR",
            CallFailure::Expired { .. } => "EXPIRED",
            CallFailure::Interpreter { .. } => "INTERPRETER",
            CallFailure::SendFailed { .. } => "SEND_FAILED",
            CallFailure::Stopped { .. } => "STOPPED",
        }
    }
}

fn script_error_text(v: &Value) -> String {
    match v.get("message").and_then(Value::as_str) {
        Some(m) => m.to_string(),
        None => match v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        },
    }
}

/// A call that settled.
#[derive(Debug, Clone, PartialEq)]
pub struct Finished {
    pub particle_id: String,
    pub result: Result<Value, CallFailure>,
}

/// What a step of the client produced: particles to send (all through the relay) and calls
/// that settled.
#[derive(Debug, Default)]
pub struct Step {
    pub sends: Vec<Outgoing>,
    pub finished: Vec<Finished>,
}

impl Step {
    fn absorb(&mut self, other: Step) {
        self.sends.extend(other.sends);
        self.finished.extend(other.finished);
    }
}

/// A call in flight.
struct InFlight {
    key: ParticleKey,
    ttl_ms: u32,
    deadline: u64,
    fire_and_forget: bool,
}

type Settled = Arc<Mutex<Vec<(ParticleKey, Result<Value, Value>)>>>;

/// Concurrent Aqua calls over one [`Peer`]; see the module docs.
pub struct ClientCore {
    peer: Peer,
    relay: PeerId,
    calls: HashMap<String, InFlight>,
    /// What the reserved services of each call reported, drained after every step.
    settled: Settled,
}

impl ClientCore {
    /// A client of `peer` whose relay is `relay`. Adds the services js-client peers have
    /// beside the builtins: `run-console.print` (logs) and `tracingSrv.tracingEvent`.
    pub fn new(mut peer: Peer, relay: PeerId) -> ClientCore {
        peer.services.register(
            "run-console",
            handler(|_function, args, ctx| {
                let printed = Value::Array(args);
                tracing::info!(particle = %ctx.particle_id, "run-console: {printed}");
                Ok(Value::Null)
            }),
        );
        peer.services.register(
            "tracingSrv",
            handler(|_function, args, ctx| {
                let event = Value::Array(args);
                tracing::debug!(particle = %ctx.particle_id, "tracing: {event}");
                Ok(Value::Null)
            }),
        );
        ClientCore {
            peer,
            relay,
            calls: HashMap::new(),
            settled: Arc::default(),
        }
    }

    pub fn peer(&self) -> &Peer {
        &self.peer
    }

    /// The peer, to register services (`peer_mut().services.register(…)`).
    pub fn peer_mut(&mut self) -> &mut Peer {
        &mut self.peer
    }

    pub fn relay(&self) -> PeerId {
        self.relay
    }

    /// Calls not yet settled.
    pub fn calls_in_flight(&self) -> usize {
        self.calls.len()
    }

    /// Creates and signs the call's particle, arms its reserved services and runs it.
    /// Returns the particle id and what the first step produced.
    ///
    /// # Errors
    /// [`PeerError`] when the particle can't be signed.
    pub fn start_call(&mut self, call: Call, now_ms: u64) -> Result<(String, Step), PeerError> {
        let particle = self.peer.new_particle(&call.script, now_ms, call.ttl_ms)?;
        let key: ParticleKey = (particle.id.clone(), particle.signature.clone());
        self.arm(&key, call.args, call.callbacks);
        let id = particle.id.clone();
        if let Some(hook) = call.on_particle {
            hook(&id);
        }
        self.calls.insert(
            id.clone(),
            InFlight {
                key,
                ttl_ms: call.ttl_ms,
                deadline: particle.deadline_ms(),
                fire_and_forget: call.fire_and_forget,
            },
        );
        let step = self.handle(particle, now_ms);
        Ok((id, step))
    }

    /// Handles a particle that arrived from the network.
    pub fn receive(&mut self, particle: Particle, now_ms: u64) -> Step {
        self.handle(particle, now_ms)
    }

    /// When [`ClientCore::wake`] next has work (a timer, a particle's or a call's deadline).
    pub fn next_wakeup(&self) -> Option<u64> {
        let calls = self.calls.values().map(|c| c.deadline);
        self.peer.next_wakeup().into_iter().chain(calls).min()
    }

    /// Runs due timers and settles expired calls.
    pub fn wake(&mut self, now_ms: u64) -> Step {
        let mut step = Step::default();
        for (key, r) in self.peer.wake(now_ms) {
            step.absorb(self.after(&key.0, r));
        }
        let expired: Vec<String> = self
            .calls
            .iter()
            .filter(|(_, c)| c.deadline <= now_ms)
            .map(|(id, _)| id.clone())
            .collect();
        for id in expired {
            if let Some(c) = self.calls.get(&id) {
                let failure = CallFailure::Expired {
                    particle_id: id.clone(),
                    ttl_ms: c.ttl_ms,
                };
                step.finished.extend(self.settle(&id, Err(failure)));
            }
        }
        step
    }

    /// Polls the answers handlers will give later; a resolved one resumes its particle.
    pub fn poll_answers(&mut self, cx: &mut Context<'_>, now_ms: u64) -> Poll<Step> {
        match self.peer.poll_answers(cx, now_ms) {
            Poll::Ready((key, r)) => Poll::Ready(self.after(&key.0, r)),
            Poll::Pending => Poll::Pending,
        }
    }

    /// The transport wrote particle `particle_id` to the relay: settles a fire-and-forget call.
    pub fn sent(&mut self, particle_id: &str) -> Vec<Finished> {
        match self.calls.get(particle_id) {
            Some(c) if c.fire_and_forget => self.settle(particle_id, Ok(Value::Null)),
            _ => Vec::new(),
        }
    }

    /// The transport could not deliver particle `particle_id`: settles its call.
    pub fn send_failed(&mut self, particle_id: &str, message: &str) -> Vec<Finished> {
        if !self.calls.contains_key(particle_id) {
            return Vec::new();
        }
        let failure = CallFailure::SendFailed {
            particle_id: particle_id.to_string(),
            message: message.to_string(),
        };
        self.settle(particle_id, Err(failure))
    }

    /// Whether particle `particle_id` is a call of ours still waiting to settle (to re-send
    /// it after a reconnect).
    pub fn is_waiting(&self, particle_id: &str) -> bool {
        self.calls.contains_key(particle_id)
    }

    /// Settles every call as stopped (the client is shutting down).
    pub fn stop(&mut self) -> Vec<Finished> {
        let ids: Vec<String> = self.calls.keys().cloned().collect();
        ids.into_iter()
            .flat_map(|id| {
                let failure = CallFailure::Stopped {
                    particle_id: id.clone(),
                };
                self.settle(&id, Err(failure))
            })
            .collect()
    }

    /// Registers the call's reserved services, scoped to its particle.
    fn arm(
        &mut self,
        key: &ParticleKey,
        args: HashMap<String, Value>,
        mut callbacks: HashMap<String, Handler>,
    ) {
        let relay = self.relay.to_base58();
        let services = &mut self.peer.services;
        services.register_scoped(
            key,
            "getDataSrv",
            handler(move |function, _args, _ctx| {
                if function == "-relay-" {
                    return Ok(Value::String(relay.clone()));
                }
                args.get(function)
                    .cloned()
                    .ok_or_else(|| format!("no argument named '{function}'"))
            }),
        );
        let settled = Arc::clone(&self.settled);
        let own = key.clone();
        services.register_scoped(
            key,
            "callbackSrv",
            Box::new(move |function, args, ctx| {
                if function == "response" {
                    let value = match args.len() {
                        0 => Value::Null,
                        1 => args.into_iter().next().unwrap_or(Value::Null),
                        _ => Value::Array(args),
                    };
                    if let Ok(mut s) = settled.lock() {
                        s.push((own.clone(), Ok(value)));
                    }
                    return Ok(Value::Null).into();
                }
                match callbacks.get_mut(function) {
                    Some(h) => h(function, args, ctx),
                    None => Err(format!("no callback named '{function}'")).into(),
                }
            }),
        );
        let settled = Arc::clone(&self.settled);
        let own = key.clone();
        services.register_scoped(
            key,
            "errorHandlingSrv",
            handler(move |_function, args, _ctx| {
                if let Ok(mut s) = settled.lock() {
                    s.push((
                        own.clone(),
                        Err(args.into_iter().next().unwrap_or(Value::Null)),
                    ));
                }
                Ok(Value::Null)
            }),
        );
    }

    fn handle(&mut self, particle: Particle, now_ms: u64) -> Step {
        let id = particle.id.clone();
        let r = self.peer.handle(particle, now_ms);
        self.after(&id, r)
    }

    /// Turns a peer step into a client step: sends go to the relay; settled calls are reported.
    fn after(&mut self, particle_id: &str, r: Result<Handled, Rejected>) -> Step {
        let mut step = Step::default();
        match r {
            Ok(handled) => {
                step.sends = handled
                    .sends
                    .into_iter()
                    .map(|s| Outgoing {
                        // Clients reach everyone through their relay.
                        to: self.relay,
                        particle: s.particle,
                    })
                    .collect();
            }
            Err(Rejected::Interpreter { id, source }) if self.calls.contains_key(&id) => {
                let failure = CallFailure::Interpreter {
                    particle_id: id.clone(),
                    message: source.to_string(),
                };
                step.finished.extend(self.settle(&id, Err(failure)));
            }
            Err(e) => {
                tracing::info!(particle = %particle_id, error = %e, "client dropped a particle")
            }
        }
        let settled: Vec<_> = match self.settled.lock() {
            Ok(mut s) => s.drain(..).collect(),
            Err(_) => Vec::new(),
        };
        for (key, outcome) in settled {
            let own = self.calls.get(&key.0).is_some_and(|c| c.key == key);
            if own {
                step.finished
                    .extend(self.settle(&key.0, outcome.map_err(CallFailure::Script)));
            }
        }
        // A fire-and-forget call that ran only here settles now.
        let local_only = step.sends.is_empty() && self.peer.pending_answers() == 0;
        if local_only
            && self
                .calls
                .get(particle_id)
                .is_some_and(|c| c.fire_and_forget)
        {
            step.finished
                .extend(self.settle(particle_id, Ok(Value::Null)));
        }
        step
    }

    /// Ends call `id` with `result` and frees its scoped services.
    fn settle(&mut self, id: &str, result: Result<Value, CallFailure>) -> Vec<Finished> {
        match self.calls.remove(id) {
            Some(c) => {
                self.peer.services.remove_scoped(&c.key);
                vec![Finished {
                    particle_id: id.to_string(),
                    result,
                }]
            }
            None => Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use libp2p_identity::Keypair;
    use serde_json::json;

    use super::*;
    use crate::Services;

    const NOW: u64 = 1_700_000_000_000;

    fn core() -> ClientCore {
        let key = Keypair::generate_ed25519();
        let peer = Peer::new(key.clone(), Services::new(key, json!({}))).expect("ed25519");
        ClientCore::new(peer, PeerId::random())
    }

    const ECHO_ARG: &str = r#"(xor (seq (call %init_peer_id% ("getDataSrv" "x") [] x) (call %init_peer_id% ("callbackSrv" "response") [x])) (call %init_peer_id% ("errorHandlingSrv" "error") [%last_error% 0]))"#;

    #[test]
    fn concurrent_calls_settle_with_their_own_arguments() {
        let mut core = core();
        let mut ids = Vec::new();
        for i in 0..3 {
            let call = Call::new(ECHO_ARG, 7_000).args(HashMap::from([("x".into(), json!(i))]));
            let (id, step) = core.start_call(call, NOW).expect("starts");
            assert_eq!(step.finished.len(), 1);
            assert_eq!(step.finished[0].result, Ok(json!(i)));
            ids.push(id);
        }
        assert_eq!(core.calls_in_flight(), 0);
        assert_eq!(
            core.peer().services.scoped_particles(),
            0,
            "scoped services freed"
        );
    }

    #[test]
    fn a_call_whose_result_never_comes_expires_with_js_clients_message() {
        let mut core = core();
        let relay = core.relay().to_base58();
        let script = format!(
            r#"(seq (call "{relay}" ("op" "noop") []) (call %init_peer_id% ("callbackSrv" "response") ["late"]))"#
        );
        let (id, step) = core
            .start_call(Call::new(script, 1_000), NOW)
            .expect("starts");
        assert_eq!(step.sends.len(), 1, "sent to the relay");
        assert_eq!(step.sends[0].to, core.relay());
        assert_eq!(core.next_wakeup(), Some(NOW + 1_000));
        assert!(core.wake(NOW + 999).finished.is_empty());
        let step = core.wake(NOW + 1_000);
        let failure = step.finished[0].result.clone().expect_err("expired");
        assert_eq!(
            failure.to_string(),
            format!("Particle expired after ttl of 1000ms (particle id: {id})")
        );
        assert_eq!(failure.code(), "EXPIRED");
    }

    #[test]
    fn script_errors_reach_the_caller_as_the_aqua_error_value() {
        let mut core = core();
        let script = r#"(xor (call %init_peer_id% ("nope" "f") [] r) (call %init_peer_id% ("errorHandlingSrv" "error") [%last_error% 0]))"#;
        let (_, step) = core
            .start_call(Call::new(script, 7_000), NOW)
            .expect("starts");
        match &step.finished[0].result {
            Err(CallFailure::Script(v)) => assert!(
                v["message"]
                    .as_str()
                    .unwrap_or_default()
                    .contains("'nope' not found"),
                "{v}"
            ),
            other => panic!("expected a script error, got {other:?}"),
        }
    }

    #[test]
    fn a_foreign_particle_cannot_settle_or_read_a_pending_call() {
        let mut core = core();
        let me = core.peer().peer_id().to_base58();
        let relay = core.relay().to_base58();
        // Our call waits on the relay.
        let script = format!(
            r#"(seq (seq (call "{relay}" ("op" "noop") []) (call %init_peer_id% ("getDataSrv" "secret") [] s)) (call %init_peer_id% ("callbackSrv" "response") [s]))"#
        );
        let call = Call::new(script, 7_000).args(HashMap::from([("secret".into(), json!("mine"))]));
        let (id, _) = core.start_call(call, NOW).expect("starts");
        // A hostile peer's particle, reusing our particle id, tries to read and to settle it.
        let hostile = Keypair::generate_ed25519();
        let evil = format!(
            r#"(seq (xor (call "{me}" ("getDataSrv" "secret") [] s) (null)) (seq (xor (call "{me}" ("callbackSrv" "response") ["evil"]) (null)) (xor (call "{me}" ("errorHandlingSrv" "error") ["evil"]) (null))))"#
        );
        let p = Particle::new_signed(&hostile, evil, NOW, 7_000, Some(id.clone())).expect("signs");
        let step = core.receive(p, NOW + 1);
        assert!(step.finished.is_empty(), "{:?}", step.finished);
        assert!(
            core.is_waiting(&id),
            "our call still waits for its own result"
        );
    }

    #[test]
    fn fire_and_forget_settles_when_the_particle_is_sent() {
        let mut core = core();
        let relay = core.relay().to_base58();
        let script = format!(r#"(call "{relay}" ("op" "noop") [])"#);
        let (id, step) = core
            .start_call(Call::new(script, 7_000).fire_and_forget(true), NOW)
            .expect("starts");
        assert!(step.finished.is_empty());
        let done = core.sent(&id);
        assert_eq!(done[0].result, Ok(Value::Null));
    }
}
