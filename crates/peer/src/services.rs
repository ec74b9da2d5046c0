//! Services a peer answers calls for: the builtins every Fluence peer has (`peer`, `op`,
//! `math`, `cmp`, `array`, `json`, `debug`, `sig`), Marine services managed with `dist` and
//! `srv`, and handlers the embedder registers (callbacks, JS services).

use std::collections::{BTreeMap, HashMap, HashSet};

use libp2p_identity::{Keypair, PeerId};
use lineage_marine::{
    CallParameters, Limits, ModuleConfig, ParticleParameters, SecurityTetraplet, Service,
    ServiceConfig,
};
use serde_json::{json, Value};

use crate::avm::Tetraplet;
use crate::builtins;
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

/// An uploaded Marine module.
#[derive(Clone)]
pub(crate) struct StoredModule {
    pub name: String,
    pub wasm: Vec<u8>,
    pub config: Value,
}

pub(crate) struct MarineEntry {
    pub service: Service,
    pub blueprint_id: String,
    pub owner: PeerId,
    pub aliases: Vec<String>,
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
    pub(crate) modules: BTreeMap<String, StoredModule>,
    pub(crate) blueprints: BTreeMap<String, Value>,
    pub(crate) marine: HashMap<String, MarineEntry>,
    pub(crate) aliases: HashMap<String, String>,
    handlers: HashMap<String, Handler>,
    /// Handlers that answer one particle only (js-client's `regHandler.forParticle`).
    scoped: HashMap<ParticleKey, HashMap<String, Handler>>,
    /// Limits of every Marine service created with `srv.create`.
    pub marine_limits: Limits,
    /// Services created so far (part of each new service id).
    pub(crate) created: u64,
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
            modules: BTreeMap::new(),
            blueprints: BTreeMap::new(),
            marine: HashMap::new(),
            aliases: HashMap::new(),
            handlers: HashMap::new(),
            scoped: HashMap::new(),
            marine_limits: Limits::default(),
            created: 0,
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
            return answered(h(function, args, ctx));
        }
        if let Some(h) = self.handlers.get_mut(service_id) {
            return answered(h(function, args, ctx));
        }
        let resolved = self.resolve_alias(service_id);
        if let Some(entry) = self.marine.get_mut(&resolved) {
            if entry.service.interface().function(function).is_none() {
                return Err(ServiceError::NoFunction {
                    service: service_id.into(),
                    function: function.into(),
                });
            }
            entry
                .service
                .set_call_parameters(call_parameters(&resolved, entry.owner, ctx));
            return entry
                .service
                .call_json(function, &Value::Array(args))
                .map(Called::Value)
                .map_err(|e| failed(e.to_string()));
        }
        builtins::call(self, service_id, function, args, ctx).map(Called::Value)
    }

    /// The service id an alias names, or `id` itself.
    pub(crate) fn resolve_alias(&self, id: &str) -> String {
        self.aliases
            .get(id)
            .cloned()
            .unwrap_or_else(|| id.to_string())
    }

    /// Loads a Marine service from stored modules (dependencies first, facade last).
    pub(crate) fn create_marine(
        &mut self,
        blueprint_id: &str,
        owner: PeerId,
        service_id: String,
    ) -> Result<String, String> {
        let blueprint = self
            .blueprints
            .get(blueprint_id)
            .ok_or_else(|| format!("Blueprint '{blueprint_id}' wasn't found"))?;
        let deps: Vec<String> = blueprint["dependencies"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|d| d.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        let mut named = Vec::with_capacity(deps.len());
        let mut config = ServiceConfig::default().limits(self.marine_limits.clone());
        for dep in &deps {
            let hash = dep.strip_prefix("hash:").unwrap_or(dep);
            let m = self
                .modules
                .get(hash)
                .or_else(|| self.modules.values().find(|m| m.name == *dep))
                .ok_or_else(|| format!("Module '{dep}' not found"))?;
            config = config.module(module_config(&m.name, &m.config));
            named.push((m.name.clone(), m.wasm.clone()));
        }
        let service = Service::load(
            named.iter().map(|(n, w)| (n.as_str(), w.as_slice())),
            config,
        )
        .map_err(|e| e.to_string())?;
        self.marine.insert(
            service_id.clone(),
            MarineEntry {
                service,
                blueprint_id: blueprint_id.to_string(),
                owner,
                aliases: Vec::new(),
            },
        );
        Ok(service_id)
    }

    /// Hosts a loaded Marine `service` as `service_id`, owned by this peer (js-client's
    /// `registerMarineService`).
    ///
    /// # Errors
    /// [`ServiceError::Exists`] when a Marine service or handler already has that id.
    pub fn add_marine_service(
        &mut self,
        service_id: &str,
        service: Service,
    ) -> Result<(), ServiceError> {
        if self.marine.contains_key(service_id) || self.handlers.contains_key(service_id) {
            return Err(ServiceError::Exists {
                service: service_id.to_string(),
            });
        }
        self.marine.insert(
            service_id.to_string(),
            MarineEntry {
                service,
                blueprint_id: String::new(),
                owner: self.peer_id,
                aliases: Vec::new(),
            },
        );
        Ok(())
    }

    /// Removes a Marine service added with [`Services::add_marine_service`] (or `srv.create`);
    /// returns whether one was there.
    pub fn remove_marine_service(&mut self, service_id: &str) -> bool {
        let removed = self.marine.remove(service_id);
        if let Some(entry) = &removed {
            for alias in &entry.aliases {
                self.aliases.remove(alias);
            }
        }
        removed.is_some()
    }

    /// Whether a handler is registered for `service_id`.
    pub fn has_handler(&self, service_id: &str) -> bool {
        self.handlers.contains_key(service_id)
    }

    /// Ids of the Marine services.
    pub fn marine_service_ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = self.marine.keys().cloned().collect();
        ids.sort();
        ids
    }

    /// A description of a Marine service as `srv.list` shows it.
    pub(crate) fn service_info(&self, id: &str) -> Option<Value> {
        let e = self.marine.get(id)?;
        Some(json!({
            "id": id,
            "blueprint_id": e.blueprint_id,
            "service_type": "service",
            "owner_id": e.owner.to_base58(),
            "aliases": e.aliases,
            "worker_id": self.peer_id.to_base58(),
        }))
    }
}

/// `ModuleConfig` of Marine from `dist.make_module_config`'s JSON.
fn module_config(name: &str, cfg: &Value) -> ModuleConfig {
    let mut m = ModuleConfig::new(name);
    if let Some(false) = cfg.get("logger_enabled").and_then(Value::as_bool) {
        m.logger_enabled = false;
    }
    if let Some(envs) = cfg
        .get("wasi")
        .and_then(|w| w.get("envs"))
        .and_then(Value::as_object)
    {
        for (k, v) in envs {
            if let Some(v) = v.as_str() {
                m = m.env(k.clone(), v);
            }
        }
    }
    m
}

fn call_parameters(service_id: &str, owner: PeerId, ctx: &CallContext) -> CallParameters {
    CallParameters {
        particle: ParticleParameters {
            id: ctx.particle_id.clone(),
            init_peer_id: ctx.init_peer_id.to_base58(),
            timestamp: ctx.timestamp,
            ttl: ctx.ttl,
            ..ParticleParameters::default()
        },
        service_id: service_id.to_string(),
        service_creator_peer_id: owner.to_base58(),
        host_id: ctx.host_id.to_base58(),
        worker_id: ctx.host_id.to_base58(),
        tetraplets: ctx
            .tetraplets
            .iter()
            .map(|arg| {
                arg.iter()
                    .map(|t| SecurityTetraplet {
                        peer_pk: t.peer_pk.clone(),
                        service_id: t.service_id.clone(),
                        function_name: t.function_name.clone(),
                        lens: t.lens.clone(),
                    })
                    .collect()
            })
            .collect(),
    }
}
