//! Particle execution off the swarm loop.
//!
//! The swarm loop only moves frames; AquaVM rounds and service calls run here, on a pool of
//! worker threads. Each particle (id + signature) has its own [`Peer`] — its state, timers and
//! budget — sharing the node's [`SharedServices`]: a particle's visits run strictly in order
//! (one worker at a time holds its `Peer`), different particles in parallel. A free worker goes
//! to the waiting sender that has used the least worker time lately (decaying with a
//! [`USAGE_HALF_LIFE`]), and one sender never holds more than [`ExecLimits::workers_per_peer`]
//! of them: a sender of slow or many particles delays mostly its own, and a client making the
//! odd trivial call goes ahead of one that keeps the workers busy.
//!
//! ```no_run
//! # async fn demo(peer: lineage_peer::Peer<lineage_peer::SharedServices>, p: lineage_particle::Particle, from: libp2p::PeerId) {
//! use lineage_node::exec::{ExecLimits, Executor};
//! let mut exec = Executor::new(peer, ExecLimits::default());
//! exec.submit(from, p).expect("accepted");
//! let done = exec.next_done().await.expect("a worker finished");
//! for result in exec.finish(done) { /* send result.handled's particles on */ }
//! # }
//! ```

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::panic::AssertUnwindSafe;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use libp2p::PeerId;
use lineage_particle::Particle;
use lineage_peer::{now_ms, Handled, ParticleKey, Peer, Rejected, SharedServices};
use tokio::sync::mpsc as tmpsc;

/// How much of the node particles and their senders may use.
///
/// ```
/// let limits = lineage_node::exec::ExecLimits { workers: 4, ..Default::default() };
/// assert_eq!(limits.effective_workers_per_peer(), 3);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExecLimits {
    /// Worker threads running particles (0 = one per CPU core).
    pub workers: usize,
    /// Workers one sender may hold at once (0 = all but one, so another sender always
    /// finds a worker).
    pub workers_per_peer: usize,
    /// Particles whose state the node keeps at once, all senders.
    pub particles_in_flight: usize,
    /// Particles in flight first sent by one peer.
    pub particles_per_peer: usize,
    /// Visits waiting for a worker, per sender.
    pub queued_per_peer: usize,
    /// Bytes of particle data and scripts kept, all particles.
    pub bytes_held: usize,
}

impl Default for ExecLimits {
    fn default() -> Self {
        ExecLimits {
            workers: 0,
            workers_per_peer: 0,
            // A particle's state stays until its TTL runs out, so these count recent particles,
            // not running ones: one client at the 500/s rate limit with 20 s TTLs keeps 10 000.
            particles_in_flight: 100_000,
            particles_per_peer: 10_000,
            queued_per_peer: 256,
            bytes_held: 1024 * 1024 * 1024,
        }
    }
}

impl ExecLimits {
    /// Worker threads, with 0 resolved to the number of cores.
    pub fn effective_workers(&self) -> usize {
        if self.workers > 0 {
            self.workers
        } else {
            std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get)
        }
    }

    /// Workers one sender may hold, with 0 resolved to all but one.
    pub fn effective_workers_per_peer(&self) -> usize {
        let workers = self.effective_workers();
        match self.workers_per_peer {
            0 => workers.saturating_sub(1).max(1),
            n => n.min(workers),
        }
    }
}

/// Why a particle was not accepted for execution (it is dropped; the sender's TTL runs out).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    #[error("{queued} visits from this peer already wait for a worker (limit {limit})")]
    QueueFull { queued: usize, limit: usize },
    #[error("the node keeps {limit} particles already")]
    TooManyParticles { limit: usize },
    #[error("this peer has {limit} particles in flight already")]
    TooManyFromPeer { limit: usize },
    #[error("the node holds {held} bytes of particle data (limit {limit})")]
    BytesFull { held: usize, limit: usize },
}

impl Refused {
    /// A short label, for metrics.
    pub fn reason(&self) -> &'static str {
        match self {
            Refused::QueueFull { .. } => "queue_full",
            Refused::TooManyParticles { .. } => "too_many_particles",
            Refused::TooManyFromPeer { .. } => "too_many_from_peer",
            Refused::BytesFull { .. } => "bytes_full",
        }
    }
}

enum Job {
    Visit {
        from: PeerId,
        particle: Box<Particle>,
        queued_at: Instant,
    },
    Wake,
}

/// What one visit or timer produced.
pub struct Outcome {
    pub particle_id: String,
    /// Who sent the visit (`None` for timers).
    pub from: Option<PeerId>,
    pub result: Result<Handled, Rejected>,
    /// Time the visit waited for a worker.
    pub queued: Duration,
    /// Time the worker spent on it.
    pub busy: Duration,
}

/// A worker finished a batch of one particle's jobs.
pub struct Done {
    key: ParticleKey,
    worker: usize,
    /// `None` when the worker panicked on it: the particle is dropped.
    peer: Option<Peer<SharedServices>>,
    outcomes: Vec<Outcome>,
}

struct Work {
    key: ParticleKey,
    peer: Peer<SharedServices>,
    jobs: Vec<Job>,
}

struct Slot {
    /// `None` while a worker has it.
    peer: Option<Peer<SharedServices>>,
    /// The sender of its first visit: whose share of workers and quota it uses.
    owner: PeerId,
    queue: VecDeque<Job>,
    /// In its owner's ready queue.
    ready: bool,
    wakeup: Option<u64>,
    bytes: usize,
}

/// Counts the executor keeps (for `/metrics`).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ExecStats {
    pub particles: usize,
    pub queued: usize,
    pub busy_workers: usize,
    pub workers: usize,
    pub bytes_held: usize,
}

/// The worker pool and the particles it runs; owned by the swarm loop.
pub struct Executor {
    template: Peer<SharedServices>,
    limits: ExecLimits,
    per_peer_workers: usize,
    slots: HashMap<ParticleKey, Slot>,
    wakeups: BTreeSet<(u64, ParticleKey)>,
    ready: HashMap<PeerId, VecDeque<ParticleKey>>,
    /// Worker time each sender used lately.
    usage: HashMap<PeerId, Usage>,
    running: HashMap<PeerId, usize>,
    queued: HashMap<PeerId, usize>,
    owned: HashMap<PeerId, usize>,
    bytes_held: usize,
    workers: Vec<mpsc::Sender<Work>>,
    idle: Vec<usize>,
    done_tx: tmpsc::UnboundedSender<Done>,
    done_rx: tmpsc::UnboundedReceiver<Done>,
}

/// How fast a sender's worker time is forgiven: it counts half after this long.
pub const USAGE_HALF_LIFE: Duration = Duration::from_secs(2);

/// Worker seconds a sender used, decaying with [`USAGE_HALF_LIFE`].
#[derive(Debug, Clone, Copy)]
struct Usage {
    seconds: f64,
    at: Instant,
}

impl Usage {
    fn now(&self, now: Instant) -> f64 {
        let age = now.saturating_duration_since(self.at).as_secs_f64();
        self.seconds * 0.5f64.powf(age / USAGE_HALF_LIFE.as_secs_f64())
    }
}

/// Adds `seconds` of worker time to `owner`'s usage, and forgets long-idle senders once the map
/// holds many more than the `senders` with particles.
fn charge(usage: &mut HashMap<PeerId, Usage>, senders: usize, owner: PeerId, seconds: f64) {
    let now = Instant::now();
    let u = usage.entry(owner).or_insert(Usage {
        seconds: 0.0,
        at: now,
    });
    *u = Usage {
        seconds: u.now(now) + seconds,
        at: now,
    };
    if usage.len() > 2 * senders + 1024 {
        usage.retain(|_, u| u.now(now) > 1e-6);
    }
}

/// Stack of a worker thread: Marine calls and serde run here (AquaVM has its own, see
/// `lineage_peer`'s platform module).
const WORKER_STACK: usize = 16 * 1024 * 1024;

impl Executor {
    /// Starts the workers; `template` gives the node's identity, limits and services to every
    /// particle's `Peer`.
    pub fn new(template: Peer<SharedServices>, limits: ExecLimits) -> Executor {
        let (done_tx, done_rx) = tmpsc::unbounded_channel();
        let n = limits.effective_workers();
        let mut workers = Vec::with_capacity(n);
        for i in 0..n {
            let (tx, rx) = mpsc::channel::<Work>();
            let done = done_tx.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("particle-worker-{i}"))
                .stack_size(WORKER_STACK)
                .spawn(move || work(i, &rx, &done));
            match spawned {
                Ok(_) => workers.push(tx),
                Err(e) => tracing::error!(error = %e, "cannot start a particle worker"),
            }
        }
        let idle = (0..workers.len()).rev().collect();
        Executor {
            template,
            per_peer_workers: limits.effective_workers_per_peer(),
            limits,
            slots: HashMap::new(),
            wakeups: BTreeSet::new(),
            ready: HashMap::new(),
            usage: HashMap::new(),
            running: HashMap::new(),
            queued: HashMap::new(),
            owned: HashMap::new(),
            bytes_held: 0,
            workers,
            idle,
            done_tx,
            done_rx,
        }
    }

    /// Queues a particle that arrived from `from`, and hands work to idle workers.
    ///
    /// # Errors
    /// [`Refused`] when a cap is reached; nothing is kept then.
    pub fn submit(&mut self, from: PeerId, particle: Particle) -> Result<(), Refused> {
        let key = (particle.id.clone(), particle.signature.clone());
        let queued = self.queued.get(&from).copied().unwrap_or(0);
        if queued >= self.limits.queued_per_peer {
            return Err(Refused::QueueFull {
                queued,
                limit: self.limits.queued_per_peer,
            });
        }
        let size = particle.data.len() + particle.script.len();
        if self.bytes_held.saturating_add(size) > self.limits.bytes_held {
            return Err(Refused::BytesFull {
                held: self.bytes_held,
                limit: self.limits.bytes_held,
            });
        }
        if !self.slots.contains_key(&key) {
            if self.slots.len() >= self.limits.particles_in_flight {
                return Err(Refused::TooManyParticles {
                    limit: self.limits.particles_in_flight,
                });
            }
            if self.owned.get(&from).copied().unwrap_or(0) >= self.limits.particles_per_peer {
                return Err(Refused::TooManyFromPeer {
                    limit: self.limits.particles_per_peer,
                });
            }
            let peer = self.template.sibling(self.template.services.clone());
            self.slots.insert(
                key.clone(),
                Slot {
                    peer: Some(peer),
                    owner: from,
                    queue: VecDeque::new(),
                    ready: false,
                    wakeup: None,
                    bytes: 0,
                },
            );
            *self.owned.entry(from).or_default() += 1;
        }
        self.push(
            &key,
            Job::Visit {
                from,
                particle: Box::new(particle),
                queued_at: Instant::now(),
            },
        );
        self.pump();
        Ok(())
    }

    /// When timers or expiries are next due (ms since the epoch).
    pub fn next_wakeup(&self) -> Option<u64> {
        self.wakeups.first().map(|(t, _)| *t)
    }

    /// Queues the particles whose timers or expiry are due by `now`.
    pub fn wake(&mut self, now: u64) {
        while let Some((t, key)) = self.wakeups.first().cloned() {
            if t > now {
                break;
            }
            self.wakeups.remove(&(t, key.clone()));
            if let Some(slot) = self.slots.get_mut(&key) {
                slot.wakeup = None;
            }
            self.push(&key, Job::Wake);
        }
        self.pump();
    }

    /// The next batch a worker finished; `None` only if every worker is gone.
    pub async fn next_done(&mut self) -> Option<Done> {
        self.done_rx.recv().await
    }

    /// Takes a finished batch back: keeps the particle's state (or frees it), queues what
    /// waited meanwhile, hands out more work; returns what the batch produced.
    pub fn finish(&mut self, done: Done) -> Vec<Outcome> {
        self.idle.push(done.worker);
        let key = done.key;
        let Some(slot) = self.slots.get_mut(&key) else {
            self.pump();
            return done.outcomes;
        };
        let owner = slot.owner;
        if let Some(n) = self.running.get_mut(&owner) {
            *n = n.saturating_sub(1);
        }
        let busy: f64 = done.outcomes.iter().map(|o| o.busy.as_secs_f64()).sum();
        charge(&mut self.usage, self.owned.len(), owner, busy);
        match done.peer {
            Some(peer) => {
                let bytes = peer.bytes_held();
                self.bytes_held = self.bytes_held - slot.bytes + bytes;
                slot.bytes = bytes;
                slot.wakeup = peer.next_wakeup();
                let finished = peer.particles_in_flight() == 0 && slot.queue.is_empty();
                slot.peer = Some(peer);
                if finished {
                    self.remove(&key);
                } else {
                    if let Some(t) = self.slots.get(&key).and_then(|s| s.wakeup) {
                        self.wakeups.insert((t, key.clone()));
                    }
                    self.make_ready(&key);
                }
            }
            None => {
                tracing::error!(particle = %key.0, "a worker panicked on this particle; dropped");
                self.remove(&key);
            }
        }
        self.pump();
        done.outcomes
    }

    /// Current counts.
    pub fn stats(&self) -> ExecStats {
        ExecStats {
            particles: self.slots.len(),
            queued: self.queued.values().sum(),
            busy_workers: self.workers.len() - self.idle.len(),
            workers: self.workers.len(),
            bytes_held: self.bytes_held,
        }
    }

    fn push(&mut self, key: &ParticleKey, job: Job) {
        let Some(slot) = self.slots.get_mut(key) else {
            return;
        };
        slot.queue.push_back(job);
        *self.queued.entry(slot.owner).or_default() += 1;
        self.make_ready(key);
    }

    /// Puts an idle slot with queued jobs in its owner's ready queue.
    fn make_ready(&mut self, key: &ParticleKey) {
        let Some(slot) = self.slots.get_mut(key) else {
            return;
        };
        if slot.ready || slot.peer.is_none() || slot.queue.is_empty() {
            return;
        }
        slot.ready = true;
        self.ready
            .entry(slot.owner)
            .or_default()
            .push_back(key.clone());
    }

    fn remove(&mut self, key: &ParticleKey) {
        let Some(slot) = self.slots.remove(key) else {
            return;
        };
        if let Some(t) = slot.wakeup {
            self.wakeups.remove(&(t, key.clone()));
        }
        self.bytes_held -= slot.bytes;
        if let Some(q) = self.queued.get_mut(&slot.owner) {
            *q = q.saturating_sub(slot.queue.len());
        }
        if let Some(n) = self.owned.get_mut(&slot.owner) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                self.owned.remove(&slot.owner);
                if self.queued.get(&slot.owner) == Some(&0) {
                    self.queued.remove(&slot.owner);
                }
                if self.running.get(&slot.owner) == Some(&0) {
                    self.running.remove(&slot.owner);
                }
            }
        }
    }

    /// Hands ready particles to idle workers: each to the waiting sender below its worker
    /// share that used the least worker time lately (a scan of the waiting senders: cheap next
    /// to a particle's run).
    fn pump(&mut self) {
        let now = Instant::now();
        while !self.idle.is_empty() {
            let next = self
                .ready
                .keys()
                .filter(|o| self.running.get(o).copied().unwrap_or(0) < self.per_peer_workers)
                .map(|o| (self.usage.get(o).map_or(0.0, |u| u.now(now)), *o))
                .min_by(|a, b| a.0.total_cmp(&b.0));
            let Some((_, owner)) = next else {
                break;
            };
            let Some(queue) = self.ready.get_mut(&owner) else {
                break;
            };
            let key = queue.pop_front();
            if queue.is_empty() {
                self.ready.remove(&owner);
            }
            if let Some(key) = key {
                self.dispatch(key);
            }
        }
    }

    fn dispatch(&mut self, key: ParticleKey) {
        let Some(slot) = self.slots.get_mut(&key) else {
            return;
        };
        slot.ready = false;
        // Take neither unless both are there: a peer or a worker taken alone would be lost.
        if slot.peer.is_none() || self.idle.is_empty() {
            return;
        }
        let (Some(peer), Some(worker)) = (slot.peer.take(), self.idle.pop()) else {
            return;
        };
        let jobs: Vec<Job> = slot.queue.drain(..).collect();
        if let Some(q) = self.queued.get_mut(&slot.owner) {
            *q = q.saturating_sub(jobs.len());
        }
        *self.running.entry(slot.owner).or_default() += 1;
        if let Some(t) = slot.wakeup.take() {
            self.wakeups.remove(&(t, key.clone()));
        }
        let sent = self.workers[worker].send(Work {
            key: key.clone(),
            peer,
            jobs,
        });
        if let Err(mpsc::SendError(work)) = sent {
            // The worker is gone (it cannot be: workers live as long as their channel).
            tracing::error!(worker, particle = %key.0, "particle worker gone; particle dropped");
            drop(work);
            let _ = self.done_tx.send(Done {
                key,
                worker,
                peer: None,
                outcomes: Vec::new(),
            });
        }
    }
}

/// A worker: runs each batch it is given, reports it done.
fn work(worker: usize, rx: &mpsc::Receiver<Work>, done: &tmpsc::UnboundedSender<Done>) {
    while let Ok(Work { key, peer, jobs }) = rx.recv() {
        let mut outcomes = Vec::with_capacity(jobs.len());
        let run = std::panic::catch_unwind(AssertUnwindSafe(|| {
            let mut peer = peer;
            for job in jobs {
                let started = Instant::now();
                match job {
                    Job::Visit {
                        from,
                        particle,
                        queued_at,
                    } => {
                        let particle_id = particle.id.clone();
                        // Every line logged while it runs (AquaVM, builtins, Marine services'
                        // own logs) carries the particle's id.
                        let _span = tracing::info_span!("particle", id = %particle_id).entered();
                        let result = peer.handle(*particle, now_ms());
                        outcomes.push(Outcome {
                            particle_id,
                            from: Some(from),
                            result,
                            queued: started.duration_since(queued_at),
                            busy: started.elapsed(),
                        });
                    }
                    Job::Wake => {
                        let _span = tracing::info_span!("particle", id = %key.0).entered();
                        for (k, result) in peer.wake(now_ms()) {
                            outcomes.push(Outcome {
                                particle_id: k.0,
                                from: None,
                                result,
                                queued: Duration::ZERO,
                                busy: started.elapsed(),
                            });
                        }
                    }
                }
            }
            peer
        }));
        let peer = run.ok();
        if done
            .send(Done {
                key,
                worker,
                peer,
                outcomes,
            })
            .is_err()
        {
            return;
        }
    }
}
