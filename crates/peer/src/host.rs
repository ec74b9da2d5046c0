//! The particle host loop: verify, run AquaVM, make the service calls it asks for, feed the
//! results back, and say where the particle goes next. Transport-agnostic: particles in,
//! [`Send`]s out; the caller moves bytes.

use std::collections::HashMap;

use libp2p_identity::{Keypair, PeerId};
use lineage_particle::Particle;
use serde_json::Value;

use crate::avm::{run_air, AvmError, AvmParams, CallRequest, CallResult};
use crate::services::{CallContext, Services};

/// A particle to deliver to `to`.
#[derive(Debug, Clone, PartialEq)]
pub struct Send {
    pub to: PeerId,
    pub particle: Particle,
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
}

/// What handling one particle produced.
#[derive(Debug, Default)]
pub struct Handled {
    pub sends: Vec<Send>,
    /// Service calls made, for logs and metrics.
    pub calls: usize,
    /// Results to feed back later with [`Peer::resume`] (e.g. `peer.timeout`).
    pub deferred: Vec<Deferred>,
}

/// A call result due after a delay.
#[derive(Debug, Clone, PartialEq)]
pub struct Deferred {
    pub particle: ParticleKey,
    pub call_id: u32,
    pub delay_ms: u64,
    pub result: CallResult,
}

/// Identifies a particle's state on this peer: its id and signature.
pub type ParticleKey = (String, Vec<u8>);

/// Data kept per particle between its visits, freed when its TTL runs out.
struct ParticleState {
    prev_data: Vec<u8>,
    expires_at: u64,
    /// The particle without its data, to resume it when deferred results arrive.
    particle: Particle,
}

/// A call's result: now, or after a delay.
enum Outcome {
    Now(CallResult),
    Later { delay_ms: u64, result: CallResult },
}

/// Rounds of call → result on one peer for one particle visit; guards against scripts that
/// loop on local calls forever.
const MAX_ROUNDS: usize = 10_000;

/// A peer: identity, AquaVM state per particle, and services.
pub struct Peer {
    key: Keypair,
    peer_id: PeerId,
    seed: [u8; 32],
    particles: HashMap<ParticleKey, ParticleState>,
    pub services: Services,
}

impl Peer {
    /// A peer with the Ed25519 `key` (its 32-byte seed is what AquaVM signs with).
    ///
    /// # Errors
    /// When `key` is not an Ed25519 key.
    pub fn new(key: Keypair, services: Services) -> Result<Peer, String> {
        let ed = key
            .clone()
            .try_into_ed25519()
            .map_err(|_| "the peer key must be Ed25519".to_string())?;
        let mut seed = [0u8; 32];
        seed.copy_from_slice(&ed.secret().as_ref()[..32]);
        let peer_id = key.public().to_peer_id();
        // AquaVM derives the peer id it signs as from the seed: it must be ours.
        let derived = Keypair::ed25519_from_bytes(seed).map(|k| k.public().to_peer_id());
        if derived.as_ref().ok() != Some(&peer_id) {
            return Err(format!("the key's seed derives {derived:?}, not {peer_id}"));
        }
        Ok(Peer {
            key,
            peer_id,
            seed,
            particles: HashMap::new(),
            services,
        })
    }

    pub fn peer_id(&self) -> PeerId {
        self.peer_id
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
        particle.verify().map_err(|e| Rejected::BadSignature {
            id: particle.id.clone(),
            reason: e.to_string(),
        })?;

        let key = (particle.id.clone(), particle.signature.clone());
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
        )
    }

    /// Feeds results that were deferred (see [`Handled::deferred`]) back into the particle.
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
        let (particle, prev, expires_at) = (
            state.particle.clone(),
            state.prev_data.clone(),
            state.expires_at,
        );
        self.run(particle, prev, Vec::new(), results, expires_at)
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
        let ctx = CallContext {
            particle_id: particle.id.clone(),
            init_peer_id: particle.init_peer_id,
            timestamp: particle.timestamp,
            ttl: particle.ttl,
            host_id: self.peer_id,
        };
        let mut handled = Handled::default();
        for _ in 0..MAX_ROUNDS {
            let out = match run_air(&particle.script, &prev_data, &data, &params, &results) {
                Ok(out) => out,
                Err(source) => {
                    if let AvmError::Interpreter { data: kept, .. } = &source {
                        if !kept.is_empty() {
                            self.keep(&key, kept.clone(), expires_at, &particle);
                        }
                    }
                    return Err(Rejected::Interpreter {
                        id: particle.id.clone(),
                        source,
                    });
                }
            };
            prev_data = out.data;
            self.keep(&key, prev_data.clone(), expires_at, &particle);
            for pk in &out.next_peer_pks {
                match pk.parse::<PeerId>() {
                    Ok(to) => handled.sends.push(Send {
                        to,
                        particle: Particle {
                            data: prev_data.clone(),
                            ..particle.clone()
                        },
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
            results = Vec::with_capacity(out.call_requests.len());
            for req in out.call_requests {
                let id = req.id;
                match self.call_service(req, &ctx) {
                    Outcome::Now(r) => results.push((id, r)),
                    Outcome::Later { delay_ms, result } => handled.deferred.push(Deferred {
                        particle: key.clone(),
                        call_id: id,
                        delay_ms,
                        result,
                    }),
                }
            }
            if results.is_empty() {
                // Everything asked for is deferred: the particle waits for `resume`.
                return Ok(handled);
            }
            data = Vec::new();
        }
        Err(Rejected::TooManyRounds {
            id: particle.id,
            limit: MAX_ROUNDS,
        })
    }

    fn call_service(&mut self, req: CallRequest, ctx: &CallContext) -> Outcome {
        // `peer.timeout(ms, message?)` answers after `ms`: the host loop owns time.
        if req.service_id == "peer" && req.function_name == "timeout" {
            return match req.arguments.first().and_then(Value::as_u64) {
                Some(ms) => Outcome::Later {
                    delay_ms: ms,
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
        Outcome::Now(
            match self.services.call(
                &req.service_id,
                &req.function_name,
                req.arguments,
                &req.tetraplets,
                ctx,
            ) {
                Ok(v) => CallResult::Ok(v),
                Err(e) => CallResult::Err(Value::String(e.to_string())),
            },
        )
    }

    /// Stores the particle's new data; the particle itself is copied only on its first visit
    /// (this runs after every AquaVM round).
    fn keep(
        &mut self,
        key: &ParticleKey,
        prev_data: Vec<u8>,
        expires_at: u64,
        particle: &Particle,
    ) {
        match self.particles.get_mut(key) {
            Some(state) => state.prev_data = prev_data,
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
                    },
                );
            }
        }
    }

    /// Frees the data of particles whose TTL has run out; returns how many.
    pub fn expire(&mut self, now_ms: u64) -> usize {
        let before = self.particles.len();
        self.particles.retain(|_, s| s.expires_at > now_ms);
        before - self.particles.len()
    }

    /// Creates and signs a particle from this peer.
    ///
    /// # Errors
    /// When signing fails.
    pub fn new_particle(&self, script: &str, now_ms: u64, ttl_ms: u32) -> Result<Particle, String> {
        Particle::new_signed(&self.key, script, now_ms, ttl_ms, None).map_err(|e| e.to_string())
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
            Box::new(move |_f, args, _ctx| {
                s.lock().map_err(|e| e.to_string())?.extend(args);
                Ok(Value::Null)
            }),
        );
        (Peer::new(key, services).expect("ed25519"), seen)
    }

    const NOW: u64 = 1_700_000_000_000;

    #[test]
    fn peer_timeout_defers_its_result_and_resume_delivers_it() {
        let (mut peer, seen) = peer_with_recorder();
        let script = r#"(seq (call %init_peer_id% ("peer" "timeout") [50 "done"] r) (call %init_peer_id% ("cb" "got") [r]))"#;
        let particle = peer.new_particle(script, NOW, 10_000).expect("signs");
        let handled = peer.handle(particle, NOW).expect("runs");
        assert_eq!(handled.deferred.len(), 1);
        assert_eq!(handled.deferred[0].delay_ms, 50);
        assert!(
            seen.lock().expect("lock").is_empty(),
            "nothing runs before the timeout"
        );
        let d = handled.deferred[0].clone();
        peer.resume(&d.particle, vec![(d.call_id, d.result)], NOW + 50)
            .expect("resumes");
        assert_eq!(*seen.lock().expect("lock"), vec![json!("done")]);
        // After the TTL the state is gone and a late result is refused.
        assert_eq!(peer.expire(NOW + 10_000), 1);
        assert!(matches!(
            peer.resume(&d.particle, vec![], NOW + 10_001),
            Err(Rejected::Expired { .. })
        ));
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
