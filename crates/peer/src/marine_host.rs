//! Marine services this peer hosts on the wasmi runtime of `lineage-marine`: `dist` (modules
//! and blueprints) and `srv` (services and aliases, owner checked), and services an embedder
//! loads itself. Built with the `marine` feature (on by default). Without it `marine_off.rs`
//! stands in: such a peer — the browser light peer, whose Marine services run in a second,
//! lazily loaded wasm (see `pkg/`) and reach it as ordinary handlers — answers `dist` and `srv`
//! as js-client does, with "no service".

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use libp2p_identity::PeerId;
use lineage_marine::{
    CallParameters, Limits, ModuleConfig, ParticleParameters, SecurityTetraplet, Service,
    ServiceConfig, ServiceInterface,
};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::builtins::{Args, R};
use crate::deploy::{DeployPolicy, QuotaExceeded, Quotas};
use crate::services::{CallContext, ServiceError, Services};

/// Service ids the peer answers itself (the builtins, js-client's callback services): no alias
/// may take one of these names.
pub(crate) const BUILTIN_SERVICES: &[&str] = &[
    "peer",
    "op",
    "math",
    "cmp",
    "array",
    "json",
    "debug",
    "sig",
    "kad",
    "dist",
    "srv",
    "getDataSrv",
    "callbackSrv",
    "errorHandlingSrv",
    "run-console",
    "tracing",
];

/// An uploaded Marine module.
#[derive(Clone)]
struct StoredModule {
    name: String,
    /// Shared with the recipes of the services made from it.
    wasm: Arc<[u8]>,
    config: Value,
    /// Who uploaded it first (what [`Quotas::modules_per_owner`] counts).
    uploader: PeerId,
}

/// An added blueprint.
struct StoredBlueprint {
    /// As `dist.list_blueprints` shows it: `{name, id, dependencies}`.
    value: Value,
    owner: PeerId,
}

/// What a service was loaded from, to load it afresh after a call that hit its memory cap
/// (wasm linear memory never shrinks: a fresh instance is the only way to give it back).
struct Recipe {
    modules: Vec<(String, Arc<[u8]>)>,
    config: ServiceConfig,
}

impl Recipe {
    fn load(&self) -> Result<Service, lineage_marine::LoadError> {
        Service::load(
            self.modules.iter().map(|(n, w)| (n.as_str(), &w[..])),
            self.config.clone(),
        )
    }
}

struct MarineEntry {
    /// Locked per call, outside the lock of the peer's services (see [`MarineCall`]).
    service: Arc<Mutex<Service>>,
    /// `None` for services an embedder loaded itself ([`MarineHost::add_service`]).
    recipe: Option<Arc<Recipe>>,
    /// The service's interface, readable while a call runs.
    interface: ServiceInterface,
    blueprint_id: String,
    owner: PeerId,
    aliases: Vec<String>,
}

/// What a deploy call adds, for [`MarineHost::admit`].
#[derive(Clone, Copy)]
enum Deploy {
    /// Only whether the caller may deploy at all.
    Check,
    /// A new module of this many bytes.
    Module(usize),
    Blueprint,
    Service,
    Alias,
}

/// A call of a hosted Marine service, ready to run ([`MarineHost::prepare`]).
pub(crate) struct MarineCall {
    service: Arc<Mutex<Service>>,
    recipe: Option<Arc<Recipe>>,
    params: CallParameters,
    service_id: String,
    function: String,
}

impl MarineCall {
    /// Runs the call; concurrent calls of the same service wait for each other (a service's
    /// memory is one instance's), calls of different services do not.
    ///
    /// A call that hits the service's memory cap leaves the service loaded afresh from its
    /// modules, so the memory it grew to is returned (its in-memory state starts over, as
    /// after a restart).
    pub(crate) fn run(self, args: Vec<Value>) -> Result<Value, ServiceError> {
        let mut service = self
            .service
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let particle_id = self.params.particle.id.clone();
        service.set_call_parameters(self.params);
        let result = service.call_json(&self.function, &Value::Array(args));
        if let (Err(lineage_marine::CallError::MemoryLimit { .. }), Some(recipe)) =
            (&result, &self.recipe)
        {
            match recipe.load() {
                Ok(fresh) => {
                    tracing::info!(particle = %particle_id, service = %self.service_id, grown = service.memory_bytes(), "service hit its memory cap: loaded afresh, memory returned");
                    *service = fresh;
                }
                Err(e) => {
                    tracing::warn!(particle = %particle_id, service = %self.service_id, "service hit its memory cap and could not be loaded afresh: {e}")
                }
            }
        }
        result.map_err(|e| ServiceError::Failed {
            service: self.service_id,
            function: self.function,
            message: e.to_string(),
        })
    }
}

/// The Marine side of a peer's [`Services`]: stored modules, blueprints, services, aliases.
///
/// ```
/// use lineage_peer::Services;
/// let mut services = Services::new(libp2p_identity::Keypair::generate_ed25519(), serde_json::json!({}));
/// services.marine.limits.fuel_per_call = 10_000_000;
/// assert!(services.marine.service_ids().is_empty());
/// ```
#[derive(Default)]
pub struct MarineHost {
    modules: BTreeMap<String, StoredModule>,
    blueprints: BTreeMap<String, StoredBlueprint>,
    services: HashMap<String, MarineEntry>,
    aliases: HashMap<String, String>,
    /// Limits of every Marine service created with `srv.create`.
    pub limits: Limits,
    /// Who may upload modules and blueprints and create services.
    pub policy: DeployPolicy,
    /// How much each deployer (and everyone together) may keep here.
    pub quotas: Quotas,
    /// Services created so far (part of each new service id).
    created: u64,
}

impl MarineHost {
    /// Whether `service_id` (an id or an alias) names a hosted Marine service.
    pub(crate) fn hosts(&self, service_id: &str) -> bool {
        self.services.contains_key(self.resolve_alias(service_id))
    }

    /// Prepares a call of `function` of the hosted service `service_id` (an id or an
    /// alias): checks it exists, builds its call parameters. [`MarineCall::run`] then runs
    /// it — without this host borrowed, so a long call holds only its own service.
    ///
    /// # Errors
    /// [`ServiceError::NoService`] / [`ServiceError::NoFunction`].
    pub(crate) fn prepare(
        &self,
        service_id: &str,
        function: &str,
        ctx: &CallContext,
    ) -> Result<MarineCall, ServiceError> {
        let resolved = self.resolve_alias(service_id);
        let entry = self
            .services
            .get(resolved)
            .ok_or_else(|| ServiceError::NoService {
                service: service_id.into(),
                function: function.into(),
            })?;
        if entry.interface.function(function).is_none() {
            return Err(ServiceError::NoFunction {
                service: service_id.into(),
                function: function.into(),
            });
        }
        Ok(MarineCall {
            service: Arc::clone(&entry.service),
            recipe: entry.recipe.clone(),
            params: call_parameters(resolved, entry.owner, ctx),
            service_id: service_id.to_string(),
            function: function.to_string(),
        })
    }

    /// The service id an alias names, or `id` itself (no allocation: every builtin call asks).
    pub(crate) fn resolve_alias<'a>(&'a self, id: &'a str) -> &'a str {
        self.aliases.get(id).map_or(id, String::as_str)
    }

    /// Who owns the service `id` (or the service an alias names).
    pub(crate) fn owner_of(&self, id: &str) -> Option<PeerId> {
        self.services.get(self.resolve_alias(id)).map(|e| e.owner)
    }

    /// Whether `who` may add one more of `what` under the deploy policy and quotas (`host`,
    /// the peer itself, is always allowed and exempt from per-owner quotas).
    fn admit(&self, who: PeerId, host: PeerId, what: Deploy) -> Result<(), QuotaExceeded> {
        let q = &self.quotas;
        let total = |what: &'static str, have: usize, limit: usize| {
            if have >= limit {
                Err(QuotaExceeded::Total { what, limit })
            } else {
                Ok(())
            }
        };
        if let Deploy::Module(bytes) = what {
            let stored: usize = self.modules.values().map(|m| m.wasm.len()).sum();
            if stored.saturating_add(bytes) > q.module_bytes {
                return Err(QuotaExceeded::Total {
                    what: "bytes of modules",
                    limit: q.module_bytes,
                });
            }
        }
        if let Deploy::Service = what {
            total("services", self.services.len(), q.services)?;
        }
        if who == host {
            return Ok(());
        }
        // Aliases are checked against the service's owner, who may be allowed to deploy
        // though the policy changed since; the policy governs new code only.
        if !matches!(what, Deploy::Alias) && !self.policy.allows(&who) {
            return Err(QuotaExceeded::NotAllowed {
                owner: who,
                policy: self.policy.describe(),
            });
        }
        let (what, have, limit) = match what {
            Deploy::Check => return Ok(()),
            Deploy::Module(_) => (
                "modules",
                self.modules.values().filter(|m| m.uploader == who).count(),
                q.modules_per_owner,
            ),
            Deploy::Blueprint => (
                "blueprints",
                self.blueprints.values().filter(|b| b.owner == who).count(),
                q.blueprints_per_owner,
            ),
            Deploy::Service => (
                "services",
                self.services.values().filter(|e| e.owner == who).count(),
                q.services_per_owner,
            ),
            Deploy::Alias => (
                "aliases",
                self.services
                    .values()
                    .filter(|e| e.owner == who)
                    .map(|e| e.aliases.len())
                    .sum(),
                q.aliases_per_owner,
            ),
        };
        if have >= limit {
            return Err(QuotaExceeded::PerOwner {
                owner: who,
                what,
                limit,
            });
        }
        Ok(())
    }

    /// Loads a Marine service from stored modules (dependencies first, facade last).
    fn create(
        &mut self,
        blueprint_id: &str,
        owner: PeerId,
        service_id: String,
    ) -> Result<String, String> {
        let blueprint = self
            .blueprints
            .get(blueprint_id)
            .ok_or_else(|| format!("Blueprint '{blueprint_id}' wasn't found"))?;
        let deps: Vec<String> = blueprint.value["dependencies"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|d| d.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        let mut named = Vec::with_capacity(deps.len());
        let mut config = ServiceConfig::default().limits(self.limits.clone());
        for dep in &deps {
            let hash = dep.strip_prefix("hash:").unwrap_or(dep);
            let m = self
                .modules
                .get(hash)
                .or_else(|| self.modules.values().find(|m| m.name == *dep))
                .ok_or_else(|| format!("Module '{dep}' not found"))?;
            config = config.module(module_config(&m.name, &m.config));
            named.push((m.name.clone(), Arc::clone(&m.wasm)));
        }
        let recipe = Recipe {
            modules: named,
            config,
        };
        let service = recipe.load().map_err(|e| e.to_string())?;
        self.services.insert(
            service_id.clone(),
            MarineEntry {
                interface: service.interface().clone(),
                service: Arc::new(Mutex::new(service)),
                recipe: Some(Arc::new(recipe)),
                blueprint_id: blueprint_id.to_string(),
                owner,
                aliases: Vec::new(),
            },
        );
        Ok(service_id)
    }

    /// Hosts a loaded Marine `service` as `service_id`, owned by `owner`.
    ///
    /// # Errors
    /// [`ServiceError::Exists`] when a Marine service already has that id.
    pub fn add_service(
        &mut self,
        service_id: &str,
        service: Service,
        owner: PeerId,
    ) -> Result<(), ServiceError> {
        if self.services.contains_key(service_id) {
            return Err(ServiceError::Exists {
                service: service_id.to_string(),
            });
        }
        self.services.insert(
            service_id.to_string(),
            MarineEntry {
                interface: service.interface().clone(),
                service: Arc::new(Mutex::new(service)),
                recipe: None,
                blueprint_id: String::new(),
                owner,
                aliases: Vec::new(),
            },
        );
        Ok(())
    }

    /// Removes a Marine service (and its aliases); returns whether one was there.
    pub fn remove_service(&mut self, service_id: &str) -> bool {
        let removed = self.services.remove(service_id);
        if let Some(entry) = &removed {
            for alias in &entry.aliases {
                self.aliases.remove(alias);
            }
        }
        removed.is_some()
    }

    /// Ids of the hosted Marine services, sorted.
    pub fn service_ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = self.services.keys().cloned().collect();
        ids.sort();
        ids
    }

    /// A description of a Marine service as `srv.list` shows it.
    fn info(&self, id: &str, worker: PeerId) -> Option<Value> {
        let e = self.services.get(id)?;
        Some(json!({
            "id": id,
            "blueprint_id": e.blueprint_id,
            "service_type": "service",
            "owner_id": e.owner.to_base58(),
            "aliases": e.aliases,
            "worker_id": worker.to_base58(),
        }))
    }
}

pub(crate) fn dist(s: &mut Services, function: &str, a: &Args, ctx: &CallContext) -> Option<R> {
    Some(match function {
        "add_module" => (|| {
            // Policy first: a refused peer's upload is not even decoded.
            s.marine.admit(ctx.init_peer_id, s.peer_id, Deploy::Check).map_err(|e| a.fail(e.to_string()))?;
            let b64 = a.str(0)?;
            let config = a.get(1)?.clone();
            let wasm = base64::engine::general_purpose::STANDARD
                .decode(b64)
                .map_err(|e| a.fail(format!("Error while decoding module bytes from base64: {e}")))?;
            let name = config
                .get("name")
                .and_then(Value::as_str)
                .ok_or_else(|| a.fail("module config has no name"))?
                .to_string();
            let limit = Limits::default().max_module_bytes;
            if wasm.len() > limit {
                return Err(a.fail(format!(
                    "module '{name}' is {} bytes; the limit is {limit}",
                    wasm.len()
                )));
            }
            // Only what loads as a Marine module is kept (nox reads its interface, too).
            Service::load([(name.as_str(), wasm.as_slice())], Default::default())
                .map_err(|e| a.fail(format!("module '{name}' is not a loadable Marine module: {e}")))?;
            let hash = cid_of(&wasm);
            let uploader = match s.marine.modules.get(&hash) {
                Some(known) => known.uploader,
                None => {
                    s.marine.admit(ctx.init_peer_id, s.peer_id, Deploy::Module(wasm.len())).map_err(|e| a.fail(e.to_string()))?;
                    ctx.init_peer_id
                }
            };
            s.marine.modules.insert(hash.clone(), StoredModule { name, wasm: wasm.into(), config, uploader });
            Ok(Value::String(hash))
        })(),
        "make_module_config" => a.str(0).map(|name| json!({"name": name, "logger_enabled": true, "wasi": {"envs": {}, "mapped_dirs": {}}})),
        "default_module_config" => a.str(0).map(|name| json!({"name": name, "logger_enabled": true, "wasi": {"envs": {}, "mapped_dirs": {}}})),
        "make_blueprint" => (|| {
            let name = a.str(0)?;
            let deps = a
                .array(1)?
                .iter()
                .map(|d| d.as_str().map(|c| json!({ "/": c })).ok_or_else(|| a.fail("dependencies must be module hashes (strings)")))
                .collect::<Result<Vec<_>, _>>()?;
            // DAG-JSON: keys in byte order, compact.
            Ok(Value::String(json!({"dependencies": deps, "name": name}).to_string()))
        })(),
        "add_blueprint" => a.str(0).and_then(|text| {
            let bp: Value = serde_json::from_str(text).map_err(|e| a.fail(format!("Error deserializing blueprint from IPLD: {e}")))?;
            let name = bp["name"].as_str().ok_or_else(|| a.fail("Error deserializing blueprint from IPLD: no name"))?.to_string();
            let deps: Vec<String> = bp["dependencies"]
                .as_array()
                .map(|d| d.iter().filter_map(|x| x["/"].as_str().map(str::to_string)).collect())
                .unwrap_or_default();
            if deps.is_empty() {
                return Err(a.fail(format!("Blueprint '{name}' has empty list of dependencies")));
            }
            let id = cid_of(text.as_bytes());
            if !s.marine.blueprints.contains_key(&id) {
                s.marine.admit(ctx.init_peer_id, s.peer_id, Deploy::Blueprint).map_err(|e| a.fail(e.to_string()))?;
            }
            s.marine.blueprints.insert(id.clone(), StoredBlueprint { value: json!({"name": name, "id": id, "dependencies": deps}), owner: ctx.init_peer_id });
            Ok(Value::String(id))
        }),
        "list_modules" => Ok(json!(s
            .marine
            .modules
            .iter()
            .map(|(h, m)| json!({"name": m.name, "hash": h, "config": m.config}))
            .collect::<Vec<_>>())),
        "list_blueprints" => Ok(json!(s.marine.blueprints.values().map(|b| b.value.clone()).collect::<Vec<_>>())),
        "get_module_interface" => a.str(0).and_then(|h| {
            let m = s.marine.modules.get(h).ok_or_else(|| a.fail(format!("Module '{h}' not found")))?;
            let svc = Service::load([(m.name.as_str(), &m.wasm[..])], Default::default())
                .map_err(|e| a.fail(e.to_string()))?;
            serde_json::to_value(svc.interface()).map_err(|e| a.fail(e.to_string()))
        }),
        _ => return None,
    })
}

pub(crate) fn srv(s: &mut Services, function: &str, a: &Args, ctx: &CallContext) -> Option<R> {
    Some(match function {
        "create" => a.str(0).and_then(|bp| {
            s.marine
                .admit(ctx.init_peer_id, s.peer_id, Deploy::Service)
                .map_err(|e| a.fail(e.to_string()))?;
            s.marine.created += 1;
            let id = uuid_like(&ctx.particle_id, s.marine.created);
            s.marine
                .create(bp, ctx.init_peer_id, id)
                .map(Value::String)
                .map_err(|e| a.fail(e))
        }),
        "list" => {
            let mut ids: Vec<&String> = s.marine.services.keys().collect();
            ids.sort();
            Ok(json!(ids
                .into_iter()
                .filter_map(|id| s.marine.info(id, s.peer_id))
                .collect::<Vec<_>>()))
        }
        "remove" => a.str(0).and_then(|id| {
            let id = s.marine.resolve_alias(id).to_string();
            match s.marine.services.get(&id) {
                Some(e) if e.owner != ctx.init_peer_id && ctx.init_peer_id != s.peer_id => {
                    Err(a.fail(format!("Only the creator of service '{id}' can remove it")))
                }
                Some(_) => {
                    s.marine.remove_service(&id);
                    Ok(Value::Null)
                }
                None => Err(a.fail(format!("Service with id '{id}' not found"))),
            }
        }),
        "add_alias" => (|| {
            let alias = a.str(0)?.to_string();
            let id = a.str(1)?.to_string();
            let own = s.peer_id;
            if BUILTIN_SERVICES.contains(&alias.as_str())
                || alias == own.to_base58()
                || s.has_handler(&alias)
            {
                return Err(a.fail(format!("alias '{alias}' is the name of a builtin service")));
            }
            if s.marine.services.contains_key(&alias) {
                return Err(a.fail(format!("alias '{alias}' is the id of a service")));
            }
            let owner = s
                .marine
                .services
                .get(&id)
                .map(|e| e.owner)
                .ok_or_else(|| a.fail(format!("Service with id '{id}' not found")))?;
            let allowed = |o: PeerId| ctx.init_peer_id == o || ctx.init_peer_id == own;
            if !allowed(owner) {
                return Err(a.fail(format!(
                    "Only the creator of service '{id}' can add an alias to it"
                )));
            }
            if let Some(previous) = s.marine.aliases.get(&alias).cloned() {
                if let Some(prev) = s.marine.services.get(&previous) {
                    if !allowed(prev.owner) {
                        return Err(a.fail(format!(
                            "alias '{alias}' points at a service of another peer"
                        )));
                    }
                }
                if let Some(prev) = s.marine.services.get_mut(&previous) {
                    prev.aliases.retain(|x| *x != alias);
                }
            }
            let new_alias = s.marine.aliases.get(&alias) != Some(&id);
            if new_alias {
                s.marine
                    .admit(owner, own, Deploy::Alias)
                    .map_err(|e| a.fail(e.to_string()))?;
            }
            if let Some(entry) = s.marine.services.get_mut(&id) {
                if !entry.aliases.contains(&alias) {
                    entry.aliases.push(alias.clone());
                }
            }
            s.marine.aliases.insert(alias, id);
            Ok(Value::Null)
        })(),
        "resolve_alias" => a.str(0).and_then(|alias| {
            s.marine
                .aliases
                .get(alias)
                .cloned()
                .map(Value::String)
                .ok_or_else(|| a.fail(format!("Alias '{alias}' not found")))
        }),
        "resolve_alias_opt" => a.str(0).map(|alias| {
            json!(s
                .marine
                .aliases
                .get(alias)
                .map(|id| vec![id.clone()])
                .unwrap_or_default())
        }),
        "get_interface" => a.str(0).and_then(|id| {
            let id = s.marine.resolve_alias(id);
            let e = s
                .marine
                .services
                .get(id)
                .ok_or_else(|| a.fail(format!("Service with id '{id}' not found")))?;
            serde_json::to_value(&e.interface).map_err(|e| a.fail(e.to_string()))
        }),
        "info" => a.str(0).and_then(|id| {
            s.marine
                .info(id, s.peer_id)
                .ok_or_else(|| a.fail(format!("Service with id '{id}' not found")))
        }),
        _ => return None,
    })
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

/// CIDv1, raw codec, sha2-256, base32: nox's id for module bytes and blueprints (one chunk).
fn cid_of(bytes: &[u8]) -> String {
    const RAW: u64 = 0x55;
    const SHA2_256: u64 = 0x12;
    match multihash::Multihash::<64>::wrap(SHA2_256, &Sha256::digest(bytes)) {
        Ok(mh) => cid::Cid::new_v1(RAW, mh).to_string(),
        // A 32-byte digest always fits a 64-byte multihash.
        Err(_) => hex::encode(Sha256::digest(bytes)),
    }
}

/// A service id that is unique on this peer: derived from the creating particle and a counter,
/// formatted as a UUID.
fn uuid_like(particle_id: &str, n: u64) -> String {
    let h = Sha256::digest(format!("{particle_id}/{n}").as_bytes());
    let mut b = [0u8; 16];
    b.copy_from_slice(&h[..16]);
    uuid::Uuid::from_bytes(b).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::avm::Tetraplet;
    use crate::builtins;
    use crate::services::ServiceError;
    use libp2p_identity::Keypair;

    const GREETING: &[u8] = include_bytes!("../../../tests/fixtures/greeting.wasm");

    fn ctx(init: PeerId, host: PeerId, tetraplets: Vec<Vec<Tetraplet>>) -> CallContext {
        CallContext {
            particle_id: format!("p-{}", rand_id()),
            init_peer_id: init,
            timestamp: 0,
            ttl: 10_000,
            signature: vec![],
            host_id: host,
            tetraplets,
        }
    }

    fn rand_id() -> u64 {
        use std::sync::atomic::{AtomicU64, Ordering};
        static N: AtomicU64 = AtomicU64::new(0);
        N.fetch_add(1, Ordering::Relaxed)
    }

    fn call(
        s: &mut Services,
        c: &CallContext,
        service: &str,
        f: &str,
        args: Vec<Value>,
    ) -> Result<Value, ServiceError> {
        builtins::call(s, service, f, args, c)
    }

    /// Deploys greeting.wasm as `owner`; returns the service id.
    fn deploy(s: &mut Services, owner: PeerId) -> String {
        deploy_module(s, owner, "greeting", GREETING).expect("greeting.wasm deploys")
    }

    fn services() -> (Services, PeerId, PeerId) {
        let s = Services::new(Keypair::generate_ed25519(), json!({}));
        let a = Keypair::generate_ed25519().public().to_peer_id();
        let b = Keypair::generate_ed25519().public().to_peer_id();
        (s, a, b)
    }

    const HOG: &[u8] = include_bytes!("../../../tests/fixtures/hog.wasm");

    /// Uploads `wasm` as module `name` and creates a service of it, as `owner`.
    fn deploy_module(
        s: &mut Services,
        owner: PeerId,
        name: &str,
        wasm: &[u8],
    ) -> Result<String, ServiceError> {
        let c = ctx(owner, s.peer_id, vec![]);
        let b64 = base64::engine::general_purpose::STANDARD.encode(wasm);
        let hash = call(
            s,
            &c,
            "dist",
            "add_module",
            vec![json!(b64), json!({ "name": name })],
        )?;
        let bp = call(
            s,
            &c,
            "dist",
            "make_blueprint",
            vec![json!(name), json!([hash])],
        )?;
        let bp_id = call(s, &c, "dist", "add_blueprint", vec![bp])?;
        let id = call(s, &c, "srv", "create", vec![bp_id])?;
        Ok(id.as_str().unwrap_or_default().to_string())
    }

    #[test]
    fn only_the_host_and_allowed_peers_deploy_under_a_restricted_policy() {
        let (mut s, admin, stranger) = services();
        let host = s.peer_id;
        s.marine.policy = DeployPolicy::only([admin]);
        for step in ["add_module", "add_blueprint", "create"] {
            // Each step is refused on its own, even with what an allowed peer prepared.
            let c = ctx(stranger, host, vec![]);
            let e = match step {
                "add_module" => call(
                    &mut s,
                    &c,
                    "dist",
                    "add_module",
                    vec![
                        json!(base64::engine::general_purpose::STANDARD.encode(GREETING)),
                        json!({"name": "greeting"}),
                    ],
                ),
                "add_blueprint" => call(
                    &mut s,
                    &c,
                    "dist",
                    "add_blueprint",
                    vec![json!(r#"{"dependencies":[{"/":"bafkreixyz"}],"name":"x"}"#)],
                ),
                _ => call(&mut s, &c, "srv", "create", vec![json!("whatever")]),
            }
            .unwrap_err();
            assert!(e.to_string().contains("may not deploy here"), "{step}: {e}");
        }
        assert!(
            call(
                &mut s,
                &ctx(stranger, host, vec![]),
                "dist",
                "list_modules",
                vec![]
            )
            .unwrap()
                == json!([])
        );
        // The allowed peer and the host itself may.
        let id = deploy_module(&mut s, admin, "greeting", GREETING).expect("admin deploys");
        deploy_module(&mut s, host, "greeting", GREETING).expect("the host deploys");
        // What the admin deployed, a stranger may call (the policy is about deploying).
        let got = s
            .marine
            .prepare(&id, "greet", &ctx(stranger, host, vec![]))
            .unwrap()
            .run(vec![json!("Ada")])
            .unwrap();
        assert_eq!(got["message"], "Hi, Ada");
    }

    #[test]
    fn per_owner_and_total_quotas_refuse_more_and_keep_what_is_there() {
        let (mut s, a, b) = services();
        s.marine.quotas.services_per_owner = 2;
        s.marine.quotas.services = 3;
        s.marine.quotas.aliases_per_owner = 1;
        let first = deploy_module(&mut s, a, "greeting", GREETING).unwrap();
        deploy_module(&mut s, a, "greeting", GREETING).unwrap();
        let e = deploy_module(&mut s, a, "greeting", GREETING).unwrap_err();
        assert!(e.to_string().contains("already has 2 services here"), "{e}");
        // B has its own quota, until the total is reached.
        deploy_module(&mut s, b, "greeting", GREETING).unwrap();
        let e = deploy_module(&mut s, b, "greeting", GREETING).unwrap_err();
        assert!(e.to_string().contains("already holds 3 services"), "{e}");
        assert_eq!(s.marine.service_ids().len(), 3, "nothing was lost or added");
        // Aliases count per owner.
        let c = ctx(a, s.peer_id, vec![]);
        call(
            &mut s,
            &c,
            "srv",
            "add_alias",
            vec![json!("one"), json!(first)],
        )
        .unwrap();
        call(
            &mut s,
            &c,
            "srv",
            "add_alias",
            vec![json!("one"), json!(first)],
        )
        .expect("setting the same alias again adds nothing");
        let e = call(
            &mut s,
            &c,
            "srv",
            "add_alias",
            vec![json!("two"), json!(first)],
        )
        .unwrap_err();
        assert!(e.to_string().contains("already has 1 aliases"), "{e}");
        assert_eq!(
            call(&mut s, &c, "srv", "resolve_alias", vec![json!("one")]).unwrap(),
            json!(first)
        );
        // Module bytes are capped for everyone together.
        s.marine.quotas.module_bytes = GREETING.len() + HOG.len() - 1;
        let e = deploy_module(&mut s, b, "hog", HOG).unwrap_err();
        assert!(e.to_string().contains("bytes of modules"), "{e}");
        let modules = call(&mut s, &c, "dist", "list_modules", vec![]).unwrap();
        assert_eq!(modules.as_array().map(Vec::len), Some(1), "{modules}");
    }

    #[test]
    fn a_service_that_hits_its_memory_cap_gives_the_memory_back() {
        let (mut s, a, _) = services();
        s.marine.limits.memory_bytes = 64 << 20;
        let id = deploy_module(&mut s, a, "hog", HOG).unwrap();
        let memory = |s: &Services| {
            s.marine.services[&id]
                .service
                .lock()
                .map(|svc| svc.memory_bytes())
                .unwrap_or(0)
        };
        let initial = memory(&s);
        let c = ctx(a, s.peer_id, vec![]);
        let e = s
            .marine
            .prepare(&id, "hog", &c)
            .unwrap()
            .run(vec![json!(4)])
            .unwrap_err();
        assert!(e.to_string().contains("memory limit"), "{e}");
        assert_eq!(
            memory(&s),
            initial,
            "loaded afresh: the grown memory is gone"
        );
        // And it still answers.
        let pong = s
            .marine
            .prepare(&id, "ping", &c)
            .unwrap()
            .run(vec![])
            .unwrap();
        assert_eq!(pong, json!("pong"));
    }

    #[test]
    fn aliases_are_owner_only_and_never_shadow_builtins() {
        let (mut s, a, b) = services();
        let host = s.peer_id;
        let svc_a = deploy(&mut s, a);
        let svc_b = deploy(&mut s, b);
        let as_a = ctx(a, host, vec![]);
        let as_b = ctx(b, host, vec![]);
        // Another client may not alias A's service…
        let e = call(
            &mut s,
            &as_b,
            "srv",
            "add_alias",
            vec![json!("greet"), json!(svc_a)],
        )
        .unwrap_err();
        assert!(e.to_string().contains("Only the creator"), "{e}");
        // …A may.
        call(
            &mut s,
            &as_a,
            "srv",
            "add_alias",
            vec![json!("greet"), json!(svc_a)],
        )
        .unwrap();
        // B may not repoint A's alias to its own service.
        let e = call(
            &mut s,
            &as_b,
            "srv",
            "add_alias",
            vec![json!("greet"), json!(svc_b)],
        )
        .unwrap_err();
        assert!(e.to_string().contains("another peer"), "{e}");
        assert_eq!(
            call(&mut s, &as_b, "srv", "resolve_alias", vec![json!("greet")]).unwrap(),
            json!(svc_a)
        );
        // Nobody — not even the owner — may take a builtin's name or a service id.
        for name in [
            "op",
            "peer",
            "srv",
            "sig",
            "getDataSrv",
            "callbackSrv",
            host.to_base58().as_str(),
            svc_b.as_str(),
        ] {
            let e = call(
                &mut s,
                &as_a,
                "srv",
                "add_alias",
                vec![json!(name), json!(svc_a)],
            )
            .unwrap_err();
            assert!(
                e.to_string().contains("builtin") || e.to_string().contains("id of a service"),
                "{name}: {e}"
            );
        }
        // op.identity still answers for everyone.
        assert_eq!(
            call(&mut s, &as_b, "op", "identity", vec![json!("x")]).unwrap(),
            json!("x")
        );
        // B may not remove A's service.
        let e = call(&mut s, &as_b, "srv", "remove", vec![json!(svc_a)]).unwrap_err();
        assert!(e.to_string().contains("Only the creator"), "{e}");
    }

    #[test]
    fn sig_sign_refuses_data_a_client_made_up() {
        let (mut s, a, _) = services();
        let host = s.peer_id;
        let data = json!([1, 2, 3]);
        let from = |peer: &str, service: &str, f: &str| {
            vec![vec![Tetraplet {
                peer_pk: peer.to_string(),
                service_id: service.into(),
                function_name: f.into(),
                lens: String::new(),
            }]]
        };
        // A client's literal, its own service's output, a "registry" it deployed: all refused.
        for t in [
            vec![vec![]],
            from(&a.to_base58(), "registry", "get_record_bytes"),
            from(&host.to_base58(), "op", "identity"),
            from(&host.to_base58(), "registry", "get_record_bytes"),
        ] {
            let c = ctx(a, host, t);
            let e = call(&mut s, &c, "sig", "sign", vec![data.clone()]).unwrap_err();
            assert!(!e.to_string().is_empty());
        }
        let svc = deploy(&mut s, a);
        let as_a = ctx(a, host, vec![]);
        call(
            &mut s,
            &as_a,
            "srv",
            "add_alias",
            vec![json!("registry"), json!(svc)],
        )
        .unwrap();
        let c = ctx(
            a,
            host,
            from(&host.to_base58(), "registry", "get_record_bytes"),
        );
        assert!(
            call(&mut s, &c, "sig", "sign", vec![data.clone()]).is_err(),
            "a client-owned 'registry' must not count"
        );
        // The peer's own particles may sign registry data from anywhere (js-client's rule).
        let own = ctx(
            host,
            host,
            from(&a.to_base58(), "registry", "get_record_bytes"),
        );
        let r = call(&mut s, &own, "sig", "sign", vec![data]).unwrap();
        assert_eq!(r["success"], json!(true));
    }

    #[test]
    fn add_module_accepts_only_loadable_marine_modules() {
        let (mut s, a, _) = services();
        let c = ctx(a, s.peer_id, vec![]);
        for bytes in [b"random bytes".to_vec(), b"\0asm\x01\0\0\0".to_vec()] {
            let b64 = base64::engine::general_purpose::STANDARD.encode(&bytes);
            let e = call(
                &mut s,
                &c,
                "dist",
                "add_module",
                vec![json!(b64), json!({"name": "m"})],
            )
            .unwrap_err();
            assert!(
                e.to_string().contains("not a loadable Marine module"),
                "{e}"
            );
        }
        let big = vec![0u8; lineage_marine::Limits::default().max_module_bytes + 1];
        let b64 = base64::engine::general_purpose::STANDARD.encode(&big);
        let e = call(
            &mut s,
            &c,
            "dist",
            "add_module",
            vec![json!(b64), json!({"name": "m"})],
        )
        .unwrap_err();
        assert!(e.to_string().contains("the limit is"), "{e}");
        assert_eq!(
            call(&mut s, &c, "dist", "list_modules", vec![]).unwrap(),
            json!([])
        );
    }
}
