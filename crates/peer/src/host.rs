//! The particle host loop: verify, run AquaVM, make the service calls it asks for, feed the
//! results back, and say where the particle goes next. Transport-agnostic: particles in,
//! [`Send`]s out; the caller moves bytes.

use std::collections::HashMap;
use std::sync::Arc;
use std::task::{Context, Poll};

use libp2p_identity::{Keypair, PeerId};
use lineage_particle::Particle;
use serde_json::Value;

use crate::avm::{run_air, AvmError, AvmParams, CallRequest, CallResult};
use crate::platform::BoxFuture;
use crate::services::{CallContext, Called, ServiceHost, Services};

/// A particle to deliver to `to`. The particle is shared: one round's sends to many peers
/// hold one copy of its data.
#[derive(Debug, Clone, PartialEq)]
pub struct Outgoing {
    pub to: PeerId,
    pub particle: Arc<Particle>,
}

/// Why a particle was dropped.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum Rejected {
    #[error("particle {id} is expired (timestamp {timestamp} + ttl {ttl} ≤ now {now})")]
    Expired {
        id: String,
        timestamp: u64,
        ttl: u32,
        now: u64,
    },
    #[error("particle {id} has a bad signature: {reason}")]
    BadSignature { id: String, reason: String },
    #[error("particle {id}: {source}")]
    Interpreter {
        id: String,
        #[source]
        source: AvmError,
    },
    #[error("particle {id} needed more than {limit} AquaVM rounds on this peer")]
    TooManyRounds { id: String, limit: usize },
    #[error(
        "particle {id} is dated {ahead_ms} ms ahead of this peer's clock (accepted: {skew_ms} ms)"
    )]
    FromTheFuture {
        id: String,
        ahead_ms: u64,
        skew_ms: u64,
    },
    #[error(
        "particle {id} asks for a ttl of {ttl} ms; this peer keeps particles at most {max_ms} ms"
    )]
    TtlTooLong { id: String, ttl: u32, max_ms: u32 },
    /// The particle used up its budget on this peer ([`ParticleLimits`]); its state is freed
    /// and later visits are refused until it expires.
    #[error("particle {id} went over its budget on this peer: {budget}")]
    OverBudget { id: String, budget: Budget },
}

/// Which part of a particle's budget ran out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Budget {
    #[error("more than {0} ms of execution (AquaVM and service calls, all visits)")]
    Time(u64),
    #[error("more than {0} service calls (all visits)")]
    Calls(u64),
    #[error("particle data of more than {0} bytes")]
    DataBytes(usize),
}

/// What a particle may cost a peer: how long it is kept (bounding the state its sender can
/// make the peer hold by the choice of timestamp and TTL) and, optionally, a budget across
/// all its visits — execution time, service calls, data size. A particle over budget is
/// dropped ([`Rejected::OverBudget`]).
///
/// ```
/// use lineage_peer::ParticleLimits;
/// let node = ParticleLimits { max_exec_ms: Some(2_000), max_calls: Some(10_000), ..ParticleLimits::default() };
/// assert_eq!(node.max_ttl_ms, 600_000);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParticleLimits {
    /// How far a particle's timestamp may be ahead of this peer's clock.
    pub max_clock_skew_ms: u64,
    /// The longest TTL accepted.
    pub max_ttl_ms: u32,
    /// Wall time a particle may spend on this peer (AquaVM rounds and service calls),
    /// summed over its visits; checked between rounds.
    pub max_exec_ms: Option<u64>,
    /// Service calls a particle may make on this peer, summed over its visits.
    pub max_calls: Option<u64>,
    /// The largest particle data (AquaVM's trace) kept for a particle.
    pub max_data_bytes: Option<usize>,
}

impl Default for ParticleLimits {
    /// 5 minutes of clock skew (browsers' clocks drift), 10 minutes of TTL, no budget (a
    /// light peer runs its own particles; the node sets one).
    fn default() -> Self {
        ParticleLimits {
            max_clock_skew_ms: 5 * 60 * 1000,
            max_ttl_ms: 10 * 60 * 1000,
            max_exec_ms: None,
            max_calls: None,
            max_data_bytes: None,
        }
    }
}

/// A peer could not be set up, or could not make a particle.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PeerError {
    #[error("the peer key must be Ed25519")]
    NotEd25519,
    #[error("the key's seed derives {derived}, not {peer_id}")]
    SeedMismatch { derived: String, peer_id: String },
    #[error("could not sign the particle: {0}")]
    Sign(String),
}

/// What handling one particle produced.
#[derive(Debug, Default)]
pub struct Handled {
    pub sends: Vec<Outgoing>,
    /// Service calls made, for logs and metrics.
    pub calls: usize,
}

/// Identifies a particle's state on this peer: its id and signature.
pub type ParticleKey = (String, Vec<u8>);

/// Data kept per particle between its visits, freed when its TTL runs out.
struct ParticleState {
    prev_data: Vec<u8>,
    expires_at: u64,
    /// The particle without its data, to resume it when deferred results arrive.
    particle: Particle,
    /// Spent so far on this peer, all visits: execution time (µs) and service calls.
    spent_us: u64,
    calls: u64,
    /// Went over budget: data freed, visits refused until `expires_at`.
    exhausted: Option<Budget>,
}

/// A call result due at a time (`peer.timeout`), kept by the peer's one scheduler.
struct Timer {
    due: u64,
    particle: ParticleKey,
    call_id: u32,
    result: CallResult,
}

/// A call result a handler will give later (a JS Promise, …).
struct PendingAnswer {
    particle: ParticleKey,
    call_id: u32,
    future: BoxFuture<Result<Value, String>>,
}

/// A call's result: now, at a time, or when a future resolves.
enum Outcome {
    Now(CallResult),
    At { due: u64, result: CallResult },
    Later(BoxFuture<Result<Value, String>>),
}

/// Rounds of call → result on one peer for one particle visit; guards against scripts that
/// loop on local calls forever.
const MAX_ROUNDS: usize = 10_000;

/// A peer: identity, AquaVM state per particle, services, and the results still to come
/// (timers and pending answers), which every embedder — node, native client, browser —
/// drives the same way: sleep until [`Peer::next_wakeup`] then call [`Peer::wake`], and poll
/// [`Peer::poll_answers`].
///
/// `S` is where service calls go: the peer's own [`Services`], or services shared by
/// several `Peer`s ([`crate::SharedServices`]) — the node keeps one `Peer` per particle so
/// that different particles run on different threads (see [`Peer::sibling`]).
pub struct Peer<S: ServiceHost = Services> {
    key: Keypair,
    peer_id: PeerId,
    seed: [u8; 32],
    particles: HashMap<ParticleKey, ParticleState>,
    timers: Vec<Timer>,
    pending: Vec<PendingAnswer>,
    pub services: S,
    /// Bounds on accepted particles.
    pub limits: ParticleLimits,
}

impl<S: ServiceHost> Peer<S> {
    /// A peer with the Ed25519 `key` (its 32-byte seed is what AquaVM signs with).
    ///
    /// # Errors
    /// [`PeerError::NotEd25519`] when `key` is not an Ed25519 key.
    pub fn new(key: Keypair, services: S) -> Result<Peer<S>, PeerError> {
        let ed = key
            .clone()
            .try_into_ed25519()
            .map_err(|_| PeerError::NotEd25519)?;
        let mut seed = [0u8; 32];
        seed.copy_from_slice(&ed.secret().as_ref()[..32]);
        let peer_id = key.public().to_peer_id();
        // AquaVM derives the peer id it signs as from the seed: it must be ours.
        let derived = Keypair::ed25519_from_bytes(seed).map(|k| k.public().to_peer_id());
        if derived.as_ref().ok() != Some(&peer_id) {
            return Err(PeerError::SeedMismatch {
                derived: format!("{derived:?}"),
                peer_id: peer_id.to_base58(),
            });
        }
        Ok(Peer {
            key,
            peer_id,
            seed,
            particles: HashMap::new(),
            timers: Vec::new(),
            pending: Vec::new(),
            services,
            limits: ParticleLimits::default(),
        })
    }

    /// A peer with the same identity and limits, no particles, and `services`: one more
    /// worker's view of this peer (no key derivation).
    ///
    /// ```
    /// use lineage_peer::{Peer, Services, SharedServices};
    /// let key = libp2p_identity::Keypair::generate_ed25519();
    /// let shared = SharedServices::new(Services::new(key.clone(), serde_json::json!({})));
    /// let peer = Peer::new(key, shared.clone()).unwrap();
    /// let other = peer.sibling(shared);
    /// assert_eq!(other.peer_id(), peer.peer_id());
    /// ```
    pub fn sibling<T: ServiceHost>(&self, services: T) -> Peer<T> {
        Peer {
            key: self.key.clone(),
            peer_id: self.peer_id,
            seed: self.seed,
            particles: HashMap::new(),
            timers: Vec::new(),
            pending: Vec::new(),
            services,
            limits: self.limits,
        }
    }

    pub fn peer_id(&self) -> PeerId {
        self.peer_id
    }

    /// Bytes of particle data and scripts this peer keeps.
    pub fn bytes_held(&self) -> usize {
        self.particles
            .values()
            .map(|s| s.prev_data.len() + s.particle.script.len())
            .sum()
    }

    pub fn keypair(&self) -> &Keypair {
        &self.key
    }

    /// Number of particles whose data is kept.
    pub fn particles_in_flight(&self) -> usize {
        self.particles.len()
    }

    /// Handles a particle that arrived (or was created here): checks it, runs AquaVM until it
    /// asks for no more local calls, and returns where to send it.
    ///
    /// # Errors
    /// [`Rejected`] when the particle is expired, badly signed, or AquaVM fails on it.
    pub fn handle(&mut self, particle: Particle, now_ms: u64) -> Result<Handled, Rejected> {
        let expires_at = particle.timestamp.saturating_add(u64::from(particle.ttl));
        if expires_at <= now_ms {
            return Err(Rejected::Expired {
                id: particle.id.clone(),
                timestamp: particle.timestamp,
                ttl: particle.ttl,
                now: now_ms,
            });
        }
        let ahead = particle.timestamp.saturating_sub(now_ms);
        if ahead > self.limits.max_clock_skew_ms {
            return Err(Rejected::FromTheFuture {
                id: particle.id.clone(),
                ahead_ms: ahead,
                skew_ms: self.limits.max_clock_skew_ms,
            });
        }
        if particle.ttl > self.limits.max_ttl_ms {
            return Err(Rejected::TtlTooLong {
                id: particle.id.clone(),
                ttl: particle.ttl,
                max_ms: self.limits.max_ttl_ms,
            });
        }
        particle.verify().map_err(|e| Rejected::BadSignature {
            id: particle.id.clone(),
            reason: e.to_string(),
        })?;

        let key = (particle.id.clone(), particle.signature.clone());
        if let Some(budget) = self.particles.get(&key).and_then(|s| s.exhausted) {
            return Err(Rejected::OverBudget {
                id: particle.id.clone(),
                budget,
            });
        }
        if let Some(max) = self.limits.max_data_bytes {
            if particle.data.len() > max {
                return Err(Rejected::OverBudget {
                    id: particle.id.clone(),
                    budget: Budget::DataBytes(max),
                });
            }
        }
        let prev = self
            .particles
            .get(&key)
            .map(|s| s.prev_data.clone())
            .unwrap_or_default();
        let data = particle.data.clone();
        self.run(
            Particle {
                data: Vec::new(),
                ..particle
            },
            prev,
            data,
            Vec::new(),
            expires_at,
            now_ms,
        )
    }

    /// Feeds call results back into the particle `key` (results that came later).
    ///
    /// # Errors
    /// [`Rejected::Expired`] when the particle's state is gone (its TTL ran out), or as
    /// [`Peer::handle`].
    pub fn resume(
        &mut self,
        key: &ParticleKey,
        results: Vec<(u32, CallResult)>,
        now_ms: u64,
    ) -> Result<Handled, Rejected> {
        let Some(state) = self.particles.get(key).filter(|s| s.expires_at > now_ms) else {
            return Err(Rejected::Expired {
                id: key.0.clone(),
                timestamp: 0,
                ttl: 0,
                now: now_ms,
            });
        };
        if let Some(budget) = state.exhausted {
            return Err(Rejected::OverBudget {
                id: key.0.clone(),
                budget,
            });
        }
        let (particle, prev, expires_at) = (
            state.particle.clone(),
            state.prev_data.clone(),
            state.expires_at,
        );
        self.run(particle, prev, Vec::new(), results, expires_at, now_ms)
    }

    /// When [`Peer::wake`] next has work: the earliest timer or particle expiry.
    pub fn next_wakeup(&self) -> Option<u64> {
        let timers = self.timers.iter().map(|t| t.due);
        let expiries = self.particles.values().map(|s| s.expires_at);
        timers.chain(expiries).min()
    }

    /// Feeds the timer results that are due back into their particles and frees the state of
    /// expired particles (with their timers and pending answers).
    pub fn wake(&mut self, now_ms: u64) -> Vec<(ParticleKey, Result<Handled, Rejected>)> {
        let (due, later): (Vec<Timer>, Vec<Timer>) = std::mem::take(&mut self.timers)
            .into_iter()
            .partition(|t| t.due <= now_ms);
        self.timers = later;
        let mut by_particle: Vec<(ParticleKey, Vec<(u32, CallResult)>)> = Vec::new();
        for t in due {
            match by_particle.iter_mut().find(|(k, _)| *k == t.particle) {
                Some((_, results)) => results.push((t.call_id, t.result)),
                None => by_particle.push((t.particle, vec![(t.call_id, t.result)])),
            }
        }
        let out = by_particle
            .into_iter()
            .map(|(key, results)| {
                let r = self.resume(&key, results, now_ms);
                (key, r)
            })
            .collect();
        self.expire(now_ms);
        out
    }

    /// Polls the pending answers; when one resolves, feeds it back into its particle.
    pub fn poll_answers(
        &mut self,
        cx: &mut Context<'_>,
        now_ms: u64,
    ) -> Poll<(ParticleKey, Result<Handled, Rejected>)> {
        let ready = self.pending.iter_mut().enumerate().find_map(|(i, p)| {
            match p.future.as_mut().poll(cx) {
                Poll::Ready(r) => Some((i, r)),
                Poll::Pending => None,
            }
        });
        let Some((i, answer)) = ready else {
            return Poll::Pending;
        };
        let p = self.pending.swap_remove(i);
        let result = match answer {
            Ok(v) => CallResult::Ok(v),
            Err(e) => CallResult::Err(Value::String(e)),
        };
        let r = self.resume(&p.particle, vec![(p.call_id, result)], now_ms);
        Poll::Ready((p.particle, r))
    }

    /// Answers still awaited.
    pub fn pending_answers(&self) -> usize {
        self.pending.len()
    }

    /// AquaVM rounds: run, forward, make the local calls, feed their results back, until no
    /// local calls are left.
    fn run(
        &mut self,
        particle: Particle,
        mut prev_data: Vec<u8>,
        mut data: Vec<u8>,
        mut results: Vec<(u32, CallResult)>,
        expires_at: u64,
        now_ms: u64,
    ) -> Result<Handled, Rejected> {
        let key = (particle.id.clone(), particle.signature.clone());
        let params = AvmParams {
            init_peer_id: particle.init_peer_id.to_base58(),
            current_peer_id: self.peer_id.to_base58(),
            timestamp: particle.timestamp,
            ttl: particle.ttl,
            particle_id: particle.id.clone(),
            secret_key: self.seed,
        };
        let mut ctx = CallContext {
            particle_id: particle.id.clone(),
            init_peer_id: particle.init_peer_id,
            timestamp: particle.timestamp,
            ttl: particle.ttl,
            signature: particle.signature.clone(),
            host_id: self.peer_id,
            tetraplets: Vec::new(),
        };
        let mut handled = Handled::default();
        let (spent_before, calls_before) = self
            .particles
            .get(&key)
            .map_or((0, 0), |s| (s.spent_us, s.calls));
        let started = self.limits.max_exec_ms.map(|_| web_time::Instant::now());
        let spent = |calls: usize| {
            let us = started.map_or(0, |t| t.elapsed().as_micros() as u64);
            (spent_before.saturating_add(us), calls_before + calls as u64)
        };
        for _ in 0..MAX_ROUNDS {
            let (us, calls) = spent(handled.calls);
            if let Some(budget) = self.over_budget(us, calls) {
                self.exhaust(&key, budget, expires_at, &particle);
                return Err(Rejected::OverBudget {
                    id: particle.id.clone(),
                    budget,
                });
            }
            let out = match run_air(&particle.script, &prev_data, &data, &params, &results) {
                Ok(out) => out,
                Err(source) => {
                    if let AvmError::Interpreter { data: kept, .. } = &source {
                        if !kept.is_empty() {
                            self.keep(
                                &key,
                                kept.clone(),
                                expires_at,
                                &particle,
                                spent(handled.calls),
                            );
                        }
                    }
                    return Err(Rejected::Interpreter {
                        id: particle.id.clone(),
                        source,
                    });
                }
            };
            prev_data = out.data;
            if let Some(max) = self.limits.max_data_bytes.filter(|m| prev_data.len() > *m) {
                let budget = Budget::DataBytes(max);
                self.exhaust(&key, budget, expires_at, &particle);
                return Err(Rejected::OverBudget {
                    id: particle.id.clone(),
                    budget,
                });
            }
            self.keep(
                &key,
                prev_data.clone(),
                expires_at,
                &particle,
                spent(handled.calls),
            );
            let mut forwarded: Option<Arc<Particle>> = None;
            for pk in &out.next_peer_pks {
                match pk.parse::<PeerId>() {
                    Ok(to) => handled.sends.push(Outgoing {
                        to,
                        particle: Arc::clone(forwarded.get_or_insert_with(|| {
                            Arc::new(Particle {
                                data: prev_data.clone(),
                                ..particle.clone()
                            })
                        })),
                    }),
                    Err(e) => {
                        tracing::warn!(particle = %particle.id, peer = %pk, "AquaVM named an invalid next peer: {e}")
                    }
                }
            }
            if out.call_requests.is_empty() {
                return Ok(handled);
            }
            handled.calls += out.call_requests.len();
            let (us, calls) = spent(handled.calls);
            if let Some(budget) = self.over_budget(us, calls) {
                self.exhaust(&key, budget, expires_at, &particle);
                // What was already forwarded stays sent; nothing more runs here.
                return Err(Rejected::OverBudget {
                    id: particle.id.clone(),
                    budget,
                });
            }
            results = Vec::with_capacity(out.call_requests.len());
            for req in out.call_requests {
                let call_id = req.id;
                match self.call_service(req, &mut ctx, now_ms) {
                    Outcome::Now(r) => results.push((call_id, r)),
                    // Nothing waits past the particle's deadline.
                    Outcome::At { due, result } => self.timers.push(Timer {
                        due: due.min(expires_at),
                        particle: key.clone(),
                        call_id,
                        result,
                    }),
                    Outcome::Later(future) => self.pending.push(PendingAnswer {
                        particle: key.clone(),
                        call_id,
                        future,
                    }),
                }
            }
            if results.is_empty() {
                // Everything asked for comes later: the particle waits for `wake`/`poll_answers`.
                let spent_now = spent(handled.calls);
                if let Some(state) = self.particles.get_mut(&key) {
                    (state.spent_us, state.calls) = spent_now;
                }
                return Ok(handled);
            }
            data = Vec::new();
        }
        Err(Rejected::TooManyRounds {
            id: particle.id,
            limit: MAX_ROUNDS,
        })
    }

    fn call_service(&mut self, req: CallRequest, ctx: &mut CallContext, now_ms: u64) -> Outcome {
        // `peer.timeout(ms, message?)` answers after `ms`: the host loop owns time.
        if req.service_id == "peer" && req.function_name == "timeout" {
            return match req.arguments.first().and_then(Value::as_u64) {
                Some(ms) => Outcome::At {
                    due: now_ms.saturating_add(ms),
                    result: CallResult::Ok(
                        req.arguments
                            .get(1)
                            .cloned()
                            .unwrap_or_else(|| Value::String(String::new())),
                    ),
                },
                None => Outcome::Now(CallResult::Err(Value::String(
                    "peer.timeout: the first argument must be a duration in milliseconds".into(),
                ))),
            };
        }
        ctx.tetraplets = req.tetraplets;
        match self
            .services
            .call(&req.service_id, &req.function_name, req.arguments, ctx)
        {
            Ok(Called::Value(v)) => Outcome::Now(CallResult::Ok(v)),
            Ok(Called::Later(future)) => {
                let (service, function) = (req.service_id, req.function_name);
                Outcome::Later(Box::pin(async move {
                    future
                        .await
                        .map_err(|message| format!("{service}.{function}: {message}"))
                }))
            }
            Err(e) => Outcome::Now(CallResult::Err(Value::String(e.to_string()))),
        }
    }

    /// Stores the particle's new data; the particle itself is copied only on its first visit
    /// (this runs after every AquaVM round).
    fn keep(
        &mut self,
        key: &ParticleKey,
        prev_data: Vec<u8>,
        expires_at: u64,
        particle: &Particle,
        (spent_us, calls): (u64, u64),
    ) {
        match self.particles.get_mut(key) {
            Some(state) => {
                state.prev_data = prev_data;
                state.spent_us = spent_us;
                state.calls = calls;
            }
            None => {
                let particle = Particle {
                    data: Vec::new(),
                    ..particle.clone()
                };
                self.particles.insert(
                    key.clone(),
                    ParticleState {
                        prev_data,
                        expires_at,
                        particle,
                        spent_us,
                        calls,
                        exhausted: None,
                    },
                );
            }
        }
    }

    /// Which budget `spent_us` of execution and `calls` service calls exceed, if any.
    fn over_budget(&self, spent_us: u64, calls: u64) -> Option<Budget> {
        if let Some(ms) = self.limits.max_exec_ms {
            if spent_us > ms.saturating_mul(1000) {
                return Some(Budget::Time(ms));
            }
        }
        match self.limits.max_calls {
            Some(max) if calls > max => Some(Budget::Calls(max)),
            _ => None,
        }
    }

    /// Frees a particle's data, timers and pending answers, and remembers (until it
    /// expires) that it went over `budget`, so its later visits are refused at once.
    fn exhaust(&mut self, key: &ParticleKey, budget: Budget, expires_at: u64, particle: &Particle) {
        self.timers.retain(|t| t.particle != *key);
        self.pending.retain(|p| p.particle != *key);
        self.particles.insert(
            key.clone(),
            ParticleState {
                prev_data: Vec::new(),
                expires_at,
                particle: Particle {
                    data: Vec::new(),
                    script: String::new(),
                    ..particle.clone()
                },
                spent_us: 0,
                calls: 0,
                exhausted: Some(budget),
            },
        );
    }

    /// Frees the data, timers and pending answers of particles whose TTL has run out; returns
    /// how many particles.
    pub fn expire(&mut self, now_ms: u64) -> usize {
        let before = self.particles.len();
        self.particles.retain(|_, s| s.expires_at > now_ms);
        let live = &self.particles;
        self.timers.retain(|t| live.contains_key(&t.particle));
        self.pending.retain(|p| live.contains_key(&p.particle));
        before - self.particles.len()
    }

    /// Creates and signs a particle from this peer.
    ///
    /// # Errors
    /// [`PeerError::Sign`] when signing fails.
    pub fn new_particle(
        &self,
        script: &str,
        now_ms: u64,
        ttl_ms: u32,
    ) -> Result<Particle, PeerError> {
        Particle::new_signed(&self.key, script, now_ms, ttl_ms, None)
            .map_err(|e| PeerError::Sign(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use serde_json::json;

    use super::*;

    fn peer_with_recorder() -> (Peer, Arc<Mutex<Vec<Value>>>) {
        let key = Keypair::generate_ed25519();
        let mut services = Services::new(key.clone(), json!({}));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let s = Arc::clone(&seen);
        services.register(
            "cb",
            crate::handler(move |_f, args, _ctx| {
                s.lock().map_err(|e| e.to_string())?.extend(args);
                Ok(Value::Null)
            }),
        );
        (Peer::new(key, services).expect("ed25519"), seen)
    }

    const NOW: u64 = 1_700_000_000_000;

    /// A script that calls `cb.got` once per item of a 50-item array, one call per round.
    const FIFTY_CALLS: &str = r#"
        (seq
          (call %init_peer_id% ("op" "array") [0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31 32 33 34 35 36 37 38 39 40 41 42 43 44 45 46 47 48 49] items)
          (fold items i
            (seq (call %init_peer_id% ("cb" "got") [i]) (next i))))"#;

    #[test]
    fn a_particle_over_its_call_budget_is_dropped_and_its_later_visits_refused() {
        let (mut peer, seen) = peer_with_recorder();
        peer.limits.max_calls = Some(10);
        let particle = peer.new_particle(FIFTY_CALLS, NOW, 10_000).expect("signs");
        let err = peer.handle(particle.clone(), NOW).expect_err("over budget");
        assert!(
            matches!(
                &err,
                Rejected::OverBudget {
                    budget: Budget::Calls(10),
                    ..
                }
            ),
            "{err}"
        );
        let calls = seen.lock().expect("lock").len();
        assert!(calls <= 10, "stopped at the budget: {calls} calls made");
        assert_eq!(peer.bytes_held(), 0, "its data is freed");
        let again = peer.handle(particle, NOW + 1).expect_err("refused");
        assert!(matches!(again, Rejected::OverBudget { .. }), "{again}");
        assert_eq!(seen.lock().expect("lock").len(), calls, "nothing more ran");
        // The same script in a new particle has its own budget; with room it completes.
        peer.limits.max_calls = Some(100);
        let fresh = peer.new_particle(FIFTY_CALLS, NOW, 10_000).expect("signs");
        peer.handle(fresh, NOW).expect("within budget");
        assert_eq!(seen.lock().expect("lock").len(), calls + 50);
        // Freed with the particle's TTL like any other.
        assert_eq!(peer.expire(NOW + 10_000), 2);
    }

    #[test]
    fn a_particle_over_its_time_or_data_budget_is_dropped() {
        let (mut peer, seen) = peer_with_recorder();
        peer.limits.max_exec_ms = Some(0);
        let particle = peer.new_particle(FIFTY_CALLS, NOW, 10_000).expect("signs");
        let err = peer.handle(particle, NOW).expect_err("over budget");
        assert!(
            matches!(
                &err,
                Rejected::OverBudget {
                    budget: Budget::Time(0),
                    ..
                }
            ),
            "{err}"
        );
        assert!(seen.lock().expect("lock").len() < 50);

        let (mut peer, _) = peer_with_recorder();
        peer.limits.max_data_bytes = Some(64);
        let particle = peer.new_particle(FIFTY_CALLS, NOW, 10_000).expect("signs");
        let err = peer.handle(particle, NOW).expect_err("trace too big");
        assert!(
            matches!(
                &err,
                Rejected::OverBudget {
                    budget: Budget::DataBytes(64),
                    ..
                }
            ),
            "{err}"
        );
        assert_eq!(peer.bytes_held(), 0);
    }

    #[test]
    fn peer_timeout_waits_on_the_scheduler_and_wake_delivers_it() {
        let (mut peer, seen) = peer_with_recorder();
        let script = r#"(seq (call %init_peer_id% ("peer" "timeout") [50 "done"] r) (call %init_peer_id% ("cb" "got") [r]))"#;
        let particle = peer.new_particle(script, NOW, 10_000).expect("signs");
        peer.handle(particle, NOW).expect("runs");
        assert_eq!(peer.next_wakeup(), Some(NOW + 50));
        assert!(peer.wake(NOW + 49).is_empty(), "not due yet");
        assert!(
            seen.lock().expect("lock").is_empty(),
            "nothing runs before the timeout"
        );
        let woken = peer.wake(NOW + 50);
        assert_eq!(woken.len(), 1);
        assert!(woken[0].1.is_ok(), "{:?}", woken[0].1);
        assert_eq!(*seen.lock().expect("lock"), vec![json!("done")]);
        // After the TTL the state is gone and a late result is refused.
        let key = woken[0].0.clone();
        assert_eq!(peer.expire(NOW + 10_000), 1);
        assert!(matches!(
            peer.resume(&key, vec![], NOW + 10_001),
            Err(Rejected::Expired { .. })
        ));
    }

    #[test]
    fn particles_dated_ahead_or_with_a_huge_ttl_are_refused_and_keep_nothing() {
        let (mut peer, _) = peer_with_recorder();
        let script = r#"(call %init_peer_id% ("op" "noop") [])"#;
        let year = 365 * 24 * 3600 * 1000;
        let ahead = peer
            .new_particle(script, NOW + year, 10_000)
            .expect("signs");
        assert!(matches!(
            peer.handle(ahead, NOW),
            Err(Rejected::FromTheFuture { .. })
        ));
        let long = peer.new_particle(script, NOW, u32::MAX).expect("signs");
        assert!(matches!(
            peer.handle(long, NOW),
            Err(Rejected::TtlTooLong { .. })
        ));
        assert_eq!(peer.particles_in_flight(), 0);
        // Within the bounds: accepted (a little clock skew is normal).
        let fine = peer
            .new_particle(script, NOW + 60_000, 600_000)
            .expect("signs");
        assert!(peer.handle(fine, NOW).is_ok());
    }

    #[test]
    fn a_timeout_past_the_deadline_is_freed_with_its_particle() {
        let (mut peer, seen) = peer_with_recorder();
        let script = r#"(seq (call %init_peer_id% ("peer" "timeout") [600000 "late"] r) (call %init_peer_id% ("cb" "got") [r]))"#;
        let particle = peer.new_particle(script, NOW, 1_000).expect("signs");
        peer.handle(particle, NOW).expect("runs");
        assert_eq!(
            peer.next_wakeup(),
            Some(NOW + 1_000),
            "capped at the deadline"
        );
        let woken = peer.wake(NOW + 1_000);
        assert!(matches!(woken[0].1, Err(Rejected::Expired { .. })));
        assert_eq!(peer.particles_in_flight(), 0);
        assert_eq!(peer.next_wakeup(), None, "nothing left to wake for");
        assert!(seen.lock().expect("lock").is_empty());
    }

    #[test]
    fn a_pending_answer_resumes_the_particle_when_it_resolves() {
        let (mut peer, seen) = peer_with_recorder();
        let (tx, rx) = futures::channel::oneshot::channel::<Value>();
        let mut rx = Some(rx);
        peer.services.register(
            "later",
            Box::new(move |_f, _args, _ctx| match rx.take() {
                Some(rx) => crate::Answer::Later(Box::pin(async move {
                    rx.await.map_err(|_| "dropped".to_string())
                })),
                None => crate::Answer::Now(Err("called twice".into())),
            }),
        );
        let script = r#"(seq (call %init_peer_id% ("later" "get") [] r) (call %init_peer_id% ("cb" "got") [r]))"#;
        let particle = peer.new_particle(script, NOW, 10_000).expect("signs");
        peer.handle(particle, NOW).expect("runs");
        assert_eq!(peer.pending_answers(), 1);
        let waker = futures::task::noop_waker();
        let mut cx = Context::from_waker(&waker);
        assert!(peer.poll_answers(&mut cx, NOW).is_pending());
        tx.send(json!("resolved")).expect("receiver alive");
        match peer.poll_answers(&mut cx, NOW + 1) {
            Poll::Ready((_, r)) => assert!(r.is_ok(), "{r:?}"),
            Poll::Pending => panic!("the answer resolved"),
        }
        assert_eq!(*seen.lock().expect("lock"), vec![json!("resolved")]);
        assert_eq!(peer.pending_answers(), 0);
    }

    #[test]
    fn particle_scoped_handlers_answer_only_their_particle() {
        let (mut peer, seen) = peer_with_recorder();
        let me = peer.peer_id().to_base58();
        let script = format!(
            r#"(xor (seq (call "{me}" ("scoped" "f") [] r) (call "{me}" ("cb" "got") [r])) (call "{me}" ("cb" "err") [%last_error%.$.message]))"#
        );
        let script = script.as_str();
        let own = peer.new_particle(script, NOW, 10_000).expect("signs");
        let key = (own.id.clone(), own.signature.clone());
        peer.services
            .register_scoped(&key, "scoped", crate::handler(|_, _, _| Ok(json!("mine"))));
        // Another particle, even with the same id, reaches no scoped handler.
        let other_key = Keypair::generate_ed25519();
        let other = Particle::new_signed(&other_key, script, NOW, 10_000, Some(own.id.clone()))
            .expect("signs");
        peer.handle(other, NOW).expect("runs");
        peer.handle(own, NOW).expect("runs");
        let seen = seen.lock().expect("lock");
        assert_eq!(seen.len(), 2);
        assert!(
            seen[0]
                .as_str()
                .unwrap_or_default()
                .contains("'scoped' not found"),
            "{seen:?}"
        );
        assert_eq!(seen[1], json!("mine"));
        drop(seen);
        peer.services.remove_scoped(&key);
        assert_eq!(peer.services.scoped_particles(), 0);
    }

    #[test]
    fn expired_badly_signed_and_unparsable_particles_are_rejected() {
        let (mut peer, seen) = peer_with_recorder();
        let script = r#"(call %init_peer_id% ("cb" "got") ["x"])"#;
        let old = peer
            .new_particle(script, NOW - 20_000, 10_000)
            .expect("signs");
        assert!(matches!(
            peer.handle(old, NOW),
            Err(Rejected::Expired { .. })
        ));
        let mut forged = peer.new_particle(script, NOW, 10_000).expect("signs");
        forged.script = r#"(call %init_peer_id% ("cb" "got") ["forged"])"#.into();
        assert!(matches!(
            peer.handle(forged, NOW),
            Err(Rejected::BadSignature { .. })
        ));
        let broken = peer
            .new_particle("(seq (null)", NOW, 10_000)
            .expect("signs");
        assert!(matches!(
            peer.handle(broken, NOW),
            Err(Rejected::Interpreter { .. })
        ));
        assert!(seen.lock().expect("lock").is_empty());
        // A good particle still runs.
        let good = peer.new_particle(script, NOW, 10_000).expect("signs");
        peer.handle(good, NOW).expect("runs");
        assert_eq!(*seen.lock().expect("lock"), vec![json!("x")]);
    }

    #[test]
    fn unknown_services_reach_the_script_as_catchable_errors() {
        let (mut peer, seen) = peer_with_recorder();
        let script = r#"(xor (call %init_peer_id% ("nope" "f") [] r) (call %init_peer_id% ("cb" "err") [%last_error%.$.message]))"#;
        let p = peer.new_particle(script, NOW, 10_000).expect("signs");
        peer.handle(p, NOW).expect("runs");
        let seen = seen.lock().expect("lock");
        let msg = seen[0].as_str().unwrap_or_default();
        assert!(
            msg.contains("Service with id 'nope' not found (function f)"),
            "{msg}"
        );
    }
}
