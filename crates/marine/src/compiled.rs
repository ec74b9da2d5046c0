//! Modules parsed and validated once, to load many services from.

use std::sync::Arc;

use wasmi::{CompilationMode, Engine, Module};

use crate::config::Limits;
use crate::error::LoadError;

/// A service's Wasm modules, parsed, validated and translated once, from which any number of
/// independent [`Service`](crate::Service)s are loaded with
/// [`Service::instantiate`](crate::Service::instantiate): each gets its own store, linear memory,
/// fuel and host state, while the translated code is shared. Cheap to clone.
///
/// What a module does is unchanged by this: loading from `CompiledModules` runs its start
/// function and answers calls exactly as [`Service::load`](crate::Service::load) does. One
/// difference is by design: `compile` translates every function up front, where `Service::load`
/// translates each on its first call and charges that call's fuel for it. So a call on a service
/// from `CompiledModules` costs the same fuel whether or not the code ran before in this process —
/// what a verifier replaying a meta contract needs to reach the node's decision at the fuel limit.
/// The engine settings (`max_recursion_depth`, `max_module_bytes`) are fixed by the limits given
/// to [`CompiledModules::compile`]; `Service::instantiate` refuses a config that asks for others.
///
/// ```
/// use lineage_marine::{CompiledModules, Limits, Service, ServiceConfig};
/// let wasm = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures/greeting.wasm"))?;
/// let compiled = CompiledModules::compile([("greeting", wasm.as_slice())], &Limits::default())?;
/// for name in ["Ada", "Grace"] {
///     let mut s = Service::instantiate(&compiled, ServiceConfig::default())?;
///     assert_eq!(s.call_json("greet", &serde_json::json!([name]))?["message"], format!("Hi, {name}"));
/// }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct CompiledModules {
    pub(crate) engine: Engine,
    pub(crate) modules: Arc<[(String, Module)]>,
    /// The limits the engine was made for (`max_recursion_depth`, `max_module_bytes` matter).
    pub(crate) limits: Limits,
}

impl std::fmt::Debug for CompiledModules {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CompiledModules")
            .field(
                "modules",
                &self.modules.iter().map(|(n, _)| n).collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

impl CompiledModules {
    /// Parses and validates `(module name, Wasm bytes)` pairs, dependencies first, facade last.
    ///
    /// # Errors
    /// [`LoadError`]: a bad or repeated module name, a module over `limits.max_module_bytes`,
    /// invalid Wasm, or no modules at all. (Linking errors surface on
    /// [`Service::instantiate`](crate::Service::instantiate).)
    pub fn compile<'a>(
        modules: impl IntoIterator<Item = (&'a str, &'a [u8])>,
        limits: &Limits,
    ) -> Result<CompiledModules, LoadError> {
        Self::compile_with(modules, limits, CompilationMode::Eager)
    }

    /// As [`compile`](Self::compile), translating functions in `mode`.
    pub(crate) fn compile_with<'a>(
        modules: impl IntoIterator<Item = (&'a str, &'a [u8])>,
        limits: &Limits,
        mode: CompilationMode,
    ) -> Result<CompiledModules, LoadError> {
        let mut config = engine_config(limits);
        config.compilation_mode(mode);
        let engine = Engine::new(&config);
        let mut out: Vec<(String, Module)> = Vec::new();
        for (name, wasm) in modules {
            validate_name(name)?;
            if out.iter().any(|(n, _)| n == name) {
                return Err(LoadError::DuplicateModule(name.to_string()));
            }
            if wasm.len() > limits.max_module_bytes {
                return Err(LoadError::ModuleTooLarge {
                    module: name.into(),
                    size: wasm.len(),
                    limit: limits.max_module_bytes,
                });
            }
            let module = Module::new(&engine, wasm).map_err(|e| LoadError::InvalidWasm {
                module: name.into(),
                reason: e.to_string(),
            })?;
            out.push((name.to_string(), module));
        }
        if out.is_empty() {
            return Err(LoadError::NoModules);
        }
        Ok(CompiledModules {
            engine,
            modules: out.into(),
            limits: limits.clone(),
        })
    }

    /// Whether a service with `limits` may be instantiated from these modules: the settings
    /// fixed at compile time must be the same.
    pub(crate) fn check_limits(&self, limits: &Limits) -> Result<(), LoadError> {
        let (have, want) = (&self.limits, limits);
        if have.max_recursion_depth != want.max_recursion_depth
            || have.max_module_bytes != want.max_module_bytes
        {
            return Err(LoadError::LimitsMismatch(format!(
                "compiled with max_recursion_depth {} and max_module_bytes {}, asked for {} and {}",
                have.max_recursion_depth,
                have.max_module_bytes,
                want.max_recursion_depth,
                want.max_module_bytes
            )));
        }
        Ok(())
    }

    /// The module names, dependencies first, facade last.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.modules.iter().map(|(n, _)| n.as_str())
    }
}

pub(crate) fn engine_config(limits: &Limits) -> wasmi::Config {
    let mut c = wasmi::Config::default();
    c.consume_fuel(true);
    c.wasm_simd(true);
    c.set_max_recursion_depth(limits.max_recursion_depth);
    c
}

fn validate_name(name: &str) -> Result<(), LoadError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if ok {
        Ok(())
    } else {
        Err(LoadError::InvalidModuleName(name.to_string()))
    }
}
