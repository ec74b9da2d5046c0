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
}

/// Data kept per particle between its visits, freed when its TTL runs out.
struct ParticleState {
    prev_data: Vec<u8>,
    expires_at: u64,
}

/// Rounds of call → result on one peer for one particle visit; guards against scripts that
/// loop on local calls forever.
const MAX_ROUNDS: usize = 10_000;

/// A peer: identity, AquaVM state per particle, and services.
pub struct Peer {
    key: Keypair,
    peer_id: PeerId,
    seed: [u8; 32],
    particles: HashMap<(String, Vec<u8>), ParticleState>,
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
        let mut prev_data = prev;
        let mut data = particle.data.clone();
        let mut results: Vec<(u32, CallResult)> = Vec::new();
        for _ in 0..MAX_ROUNDS {
            let out = match run_air(&particle.script, &prev_data, &data, &params, &results) {
                Ok(out) => out,
                Err(source) => {
                    if let AvmError::Interpreter { data: kept, .. } = &source {
                        if !kept.is_empty() {
                            self.keep(&key, kept.clone(), expires_at);
                        }
                    }
                    return Err(Rejected::Interpreter {
                        id: particle.id.clone(),
                        source,
                    });
                }
            };
            prev_data = out.data;
            self.keep(&key, prev_data.clone(), expires_at);
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
            results = out
                .call_requests
                .into_iter()
                .map(|req| {
                    let id = req.id;
                    (id, self.call_service(req, &ctx))
                })
                .collect();
            data = Vec::new();
        }
        Err(Rejected::TooManyRounds {
            id: particle.id,
            limit: MAX_ROUNDS,
        })
    }

    fn call_service(&mut self, req: CallRequest, ctx: &CallContext) -> CallResult {
        match self.services.call(
            &req.service_id,
            &req.function_name,
            req.arguments,
            &req.tetraplets,
            ctx,
        ) {
            Ok(v) => CallResult::Ok(v),
            Err(e) => CallResult::Err(Value::String(e.to_string())),
        }
    }

    fn keep(&mut self, key: &(String, Vec<u8>), prev_data: Vec<u8>, expires_at: u64) {
        self.particles.insert(
            key.clone(),
            ParticleState {
                prev_data,
                expires_at,
            },
        );
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
