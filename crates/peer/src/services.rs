//! Services a peer answers calls for: the builtins every Fluence peer has (`peer`, `op`,
//! `math`, `cmp`, `array`, `json`, `debug`, `sig`), Marine services managed with `dist` and
//! `srv`, and handlers the embedder registers (callbacks, JS services).

use std::collections::{HashMap, HashSet};

use libp2p_identity::{Keypair, PeerId};
use serde_json::Value;

use crate::avm::Tetraplet;
use crate::builtins;
use crate::marine_host::{MarineCall, MarineHost};
use crate::platform::{BoxFuture, Handler, MaybeSend};
use crate::ParticleKey;

/// What a service call knows about its particle (js-client's `ParticleContext`).
#[derive(Debug, Clone)]
pub struct CallContext {
    pub particle_id: String,
    pub init_peer_id: PeerId,
    pub timestamp: u64,
    pub ttl: u32,
    /// The particle's signature: with `particle_id`, what tells one particle from another.
    pub signature: Vec<u8>,
    pub host_id: PeerId,
    /// Where each argument of this call came from.
    pub tetraplets: Vec<Vec<Tetraplet>>,
}

impl CallContext {
    /// The key of this call's particle (what particle-scoped handlers are registered under).
    pub fn particle_key(&self) -> ParticleKey {
        (self.particle_id.clone(), self.signature.clone())
    }
}

/// A failed service call; its text reaches the Aqua `catch` as the error message.
#[derive(Debug, thiserror::Error, Clone, PartialEq)]
pub enum ServiceError {
    #[error("Service with id '{service}' not found (function {function})")]
    NoService { service: String, function: String },
    #[error("Service '{service}' has no function '{function}'")]
    NoFunction { service: String, function: String },
    #[error("Service with id '{service}' already exists")]
    Exists { service: String },
    #[error("{service}.{function}: {message}")]
    Failed {
        service: String,
        function: String,
        message: String,
    },
}

/// What a [`Handler`] answers: a value (or error text) now, or a future that yields it later
/// (a JS Promise, a network reply); the host loop resumes the particle when it resolves.
pub enum Answer {
    Now(Result<Value, String>),
    Later(BoxFuture<Result<Value, String>>),
}

impl From<Result<Value, String>> for Answer {
    fn from(r: Result<Value, String>) -> Self {
        Answer::Now(r)
    }
}

/// A [`Handler`] from a closure that answers at once.
///
/// ```
/// use lineage_peer::handler;
/// let echo = handler(|_function, args, _ctx| Ok(serde_json::Value::Array(args)));
/// # drop(echo);
/// ```
pub fn handler(
    mut f: impl FnMut(&str, Vec<Value>, &CallContext) -> Result<Value, String> + MaybeSend + 'static,
) -> Handler {
    Box::new(move |function, args, ctx| Answer::Now(f(function, args, ctx)))
}

/// What [`Services::call`] produced: a value, or a future still to be awaited.
pub enum Called {
    Value(Value),
    Later(BoxFuture<Result<Value, String>>),
}

/// Where [`Services::route`] sent a call.
enum Routed {
    Done(Result<Called, ServiceError>),
    Marine(Box<MarineCall>, Vec<Value>),
}

impl Routed {
    /// The call's answer: as routed, or by running the Marine call.
    fn finish(self) -> Result<Called, ServiceError> {
        match self {
            Routed::Done(r) => r,
            Routed::Marine(call, args) => call.run(args).map(Called::Value),
        }
    }
}

/// Every service of a peer.
pub struct Services {
    pub(crate) key: Keypair,
    pub(crate) peer_id: PeerId,
    /// What `peer.identify` reports.
    pub identify: Value,
    /// Peers currently connected (for `peer.is_connected`), maintained by the embedder.
    pub connected: HashSet<PeerId>,
    /// Peers in the Kademlia routing table (for `kad.neighborhood`), maintained by the embedder.
    pub kad_peers: HashSet<PeerId>,
    /// Marine services hosted on this peer (none without the `marine` feature).
    pub marine: MarineHost,
    handlers: HashMap<String, Handler>,
    /// Handlers that answer one particle only (js-client's `regHandler.forParticle`).
    scoped: HashMap<ParticleKey, HashMap<String, Handler>>,
}

impl Services {
    /// The builtins for a peer with `key`; `identify` is what `peer.identify` returns.
    pub fn new(key: Keypair, identify: Value) -> Services {
        let peer_id = key.public().to_peer_id();
        Services {
            key,
            peer_id,
            identify,
            connected: HashSet::new(),
            kad_peers: HashSet::new(),
            marine: MarineHost::default(),
            handlers: HashMap::new(),
            scoped: HashMap::new(),
        }
    }

    /// Registers a handler for every function of `service_id` (replacing an earlier one).
    pub fn register(&mut self, service_id: &str, handler: Handler) {
        self.handlers.insert(service_id.to_string(), handler);
    }

    /// Removes a registered handler; returns whether one was there.
    pub fn unregister(&mut self, service_id: &str) -> bool {
        self.handlers.remove(service_id).is_some()
    }

    /// Registers `handler` for `service_id` in the particle `key` only: calls from any other
    /// particle (another id, or the same id with another signature) never reach it.
    pub fn register_scoped(&mut self, key: &ParticleKey, service_id: &str, handler: Handler) {
        self.scoped
            .entry(key.clone())
            .or_default()
            .insert(service_id.to_string(), handler);
    }

    /// Removes every handler scoped to the particle `key`.
    pub fn remove_scoped(&mut self, key: &ParticleKey) {
        self.scoped.remove(key);
    }

    /// Particles with scoped handlers.
    pub fn scoped_particles(&self) -> usize {
        self.scoped.len()
    }

    /// Calls `service_id.function`: a handler scoped to the caller's particle first, then a
    /// registered handler, then a Marine service (by id or alias), then the builtins.
    ///
    /// # Errors
    /// [`ServiceError`] with the message the caller's `catch` will see.
    pub fn call(
        &mut self,
        service_id: &str,
        function: &str,
        args: Vec<Value>,
        ctx: &CallContext,
    ) -> Result<Called, ServiceError> {
        self.route(service_id, function, args, ctx).finish()
    }

    /// Answers a call, except a Marine service's: that is handed back to run without these
    /// services borrowed.
    fn route(
        &mut self,
        service_id: &str,
        function: &str,
        args: Vec<Value>,
        ctx: &CallContext,
    ) -> Routed {
        let failed = |message: String| ServiceError::Failed {
            service: service_id.to_string(),
            function: function.to_string(),
            message,
        };
        let answered = |answer: Answer| match answer {
            Answer::Now(r) => r.map(Called::Value).map_err(failed),
            Answer::Later(f) => Ok(Called::Later(f)),
        };
        let key = ctx.particle_key();
        if let Some(h) = self
            .scoped
            .get_mut(&key)
            .and_then(|m| m.get_mut(service_id))
        {
            return Routed::Done(answered(h(function, args, ctx)));
        }
        if let Some(h) = self.handlers.get_mut(service_id) {
            return Routed::Done(answered(h(function, args, ctx)));
        }
        if self.marine.hosts(service_id) {
            return match self.marine.prepare(service_id, function, ctx) {
                Ok(call) => Routed::Marine(Box::new(call), args),
                Err(e) => Routed::Done(Err(e)),
            };
        }
        Routed::Done(builtins::call(self, service_id, function, args, ctx).map(Called::Value))
    }

    /// Whether a handler is registered for `service_id`.
    pub fn has_handler(&self, service_id: &str) -> bool {
        self.handlers.contains_key(service_id)
    }
}

/// Where a [`crate::Peer`] sends its service calls.
pub trait ServiceHost {
    /// Calls `service_id.function` as [`Services::call`] does.
    ///
    /// # Errors
    /// [`ServiceError`] with the message the caller's `catch` will see.
    fn call(
        &mut self,
        service_id: &str,
        function: &str,
        args: Vec<Value>,
        ctx: &CallContext,
    ) -> Result<Called, ServiceError>;
}

impl ServiceHost for Services {
    fn call(
        &mut self,
        service_id: &str,
        function: &str,
        args: Vec<Value>,
        ctx: &CallContext,
    ) -> Result<Called, ServiceError> {
        Services::call(self, service_id, function, args, ctx)
    }
}

/// [`Services`] shared by several [`crate::Peer`]s (one per particle, on worker threads):
/// each call holds the lock only for itself, so AquaVM rounds of different particles run in
/// parallel.
///
/// ```
/// use lineage_peer::{Services, SharedServices};
/// let key = libp2p_identity::Keypair::generate_ed25519();
/// let shared = SharedServices::new(Services::new(key, serde_json::json!({})));
/// shared.lock().connected.clear();
/// ```
#[derive(Clone)]
pub struct SharedServices(std::sync::Arc<std::sync::Mutex<Services>>);

impl SharedServices {
    // On wasm32 handlers are not `Send` (JS callbacks), so neither is this; there is one thread
    // there, and the type is the same on every target.
    #[allow(clippy::arc_with_non_send_sync)]
    pub fn new(services: Services) -> SharedServices {
        SharedServices(std::sync::Arc::new(std::sync::Mutex::new(services)))
    }

    /// The services, locked. A handler that panicked while holding the lock does not make
    /// the services unusable: the panic is the handler's, the registry is intact.
    pub fn lock(&self) -> std::sync::MutexGuard<'_, Services> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl ServiceHost for SharedServices {
    fn call(
        &mut self,
        service_id: &str,
        function: &str,
        args: Vec<Value>,
        ctx: &CallContext,
    ) -> Result<Called, ServiceError> {
        // The lock is held to answer builtins and handlers, not while a Marine service runs.
        let routed = self.lock().route(service_id, function, args, ctx);
        routed.finish()
    }
}
