//! How a service is loaded: its modules, their WASI environment, limits and the host environment.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::host::{LogLogger, Logger};

/// Resource limits of one service. Every call gets a fresh fuel budget; memory is capped for
/// the whole service (all its modules together), as Marine's `total_memory_limit` does.
///
/// ```
/// use lineage_marine::Limits;
/// let limits = Limits { fuel_per_call: 50_000_000, ..Limits::default() };
/// assert_eq!(limits.memory_bytes, 256 * 1024 * 1024);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Limits {
    /// Fuel (≈ executed Wasm instructions) available to one call, across every module it reaches.
    pub fuel_per_call: u64,
    /// Fuel for a module's `_initialize`/`_start` at load time.
    pub init_fuel: u64,
    /// Linear memory of all modules of the service together, in bytes.
    pub memory_bytes: u64,
    /// Largest accepted module binary, in bytes.
    pub max_module_bytes: usize,
    /// Deepest Wasm call stack (frames) wasmi allows.
    pub max_recursion_depth: usize,
    /// Deepest chain of cross-module IT calls (facade → callee → …).
    pub max_call_depth: usize,
    /// Most bytes a single lifted value (string, byte array, array) may take.
    pub max_value_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            fuel_per_call: 2_000_000_000,
            init_fuel: 200_000_000,
            memory_bytes: 256 * 1024 * 1024,
            max_module_bytes: 32 * 1024 * 1024,
            max_recursion_depth: 16 * 1024,
            max_call_depth: 32,
            max_value_bytes: 64 * 1024 * 1024,
        }
    }
}

/// Per-module configuration, like a `[[module]]` table of Marine's config.
///
/// ```
/// use lineage_marine::ModuleConfig;
/// let m = ModuleConfig::new("greeting").env("LANG", "en").arg("--verbose");
/// assert_eq!(m.envs["LANG"], "en");
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ModuleConfig {
    /// The module's import name: other modules import its functions as `<name>.<fn>`.
    pub name: String,
    /// WASI environment variables.
    pub envs: BTreeMap<String, String>,
    /// WASI arguments (`argv[0]` is the module name, prepended automatically).
    pub args: Vec<String>,
    /// Whether `log_utf8_string` and stdout/stderr reach the logger (Marine's `logger_enabled`).
    pub logger_enabled: bool,
    /// WASI mapped directories (guest path → host path). Not supported by this runtime: a
    /// non-empty map makes loading fail with [`LoadError::Unsupported`](crate::LoadError::Unsupported).
    pub mapped_dirs: BTreeMap<String, String>,
}

impl ModuleConfig {
    /// A module with no environment, logging enabled.
    pub fn new(name: impl Into<String>) -> Self {
        ModuleConfig {
            name: name.into(),
            logger_enabled: true,
            ..Default::default()
        }
    }

    /// Adds a WASI environment variable.
    pub fn env(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.envs.insert(key.into(), value.into());
        self
    }

    /// Adds a WASI argument.
    pub fn arg(mut self, arg: impl Into<String>) -> Self {
        self.args.push(arg.into());
        self
    }
}

/// Where time and randomness come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Environment {
    /// The real clock and the platform's secure randomness.
    Live,
    /// A fixed clock and seeded randomness: the same calls give the same results on any host,
    /// which is what lets a browser replay a meta contract and check a node's result.
    Deterministic {
        /// Wall-clock time every clock read returns, in nanoseconds since the Unix epoch.
        clock_ns: u64,
        /// Seed of the ChaCha20 stream behind `random_get`.
        seed: [u8; 32],
    },
}

/// Everything needed to load a service besides the module bytes.
///
/// ```
/// use lineage_marine::{ServiceConfig, Environment};
/// let cfg = ServiceConfig::default().deterministic(1_700_000_000_000_000_000, [7; 32]);
/// assert!(matches!(cfg.environment, Environment::Deterministic { .. }));
/// ```
#[derive(Clone)]
pub struct ServiceConfig {
    /// Per-module settings by module name; modules without an entry get defaults.
    pub modules: BTreeMap<String, ModuleConfig>,
    pub limits: Limits,
    pub environment: Environment,
    /// Receives `log_utf8_string` records and stdout/stderr lines.
    pub logger: Arc<dyn Logger>,
}

impl Default for ServiceConfig {
    fn default() -> Self {
        ServiceConfig {
            modules: BTreeMap::new(),
            limits: Limits::default(),
            environment: Environment::Live,
            logger: Arc::new(LogLogger),
        }
    }
}

impl std::fmt::Debug for ServiceConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceConfig")
            .field("modules", &self.modules)
            .field("limits", &self.limits)
            .field("environment", &self.environment)
            .finish_non_exhaustive()
    }
}

impl ServiceConfig {
    /// Sets one module's configuration (replacing an earlier one of the same name).
    pub fn module(mut self, module: ModuleConfig) -> Self {
        self.modules.insert(module.name.clone(), module);
        self
    }

    /// Sets the limits.
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Fixes the clock and seeds randomness (see [`Environment::Deterministic`]).
    pub fn deterministic(mut self, clock_ns: u64, seed: [u8; 32]) -> Self {
        self.environment = Environment::Deterministic { clock_ns, seed };
        self
    }

    /// Sends logs to `logger` instead of the `log` crate.
    pub fn logger(mut self, logger: Arc<dyn Logger>) -> Self {
        self.logger = logger;
        self
    }

    pub(crate) fn module_config(&self, name: &str) -> ModuleConfig {
        self.modules
            .get(name)
            .cloned()
            .unwrap_or_else(|| ModuleConfig::new(name))
    }
}
