//! A loaded service and calling it: modules linked in order into one store (loading and linking
//! each module: `link.rs`), the last one (the facade) its interface.

use std::collections::HashMap;
use std::sync::Arc;

use wasmi::Store;

use crate::adapter::{self, ModuleRuntime};
use crate::compiled::CompiledModules;
use crate::config::{Limits, ServiceConfig};
use crate::error::{CallError, LoadError};
use crate::host::{CallParameters, Entropy, HostState, ServiceLimiter};
use crate::json;
use crate::link::load_module;
use crate::types::{IType, IValue, ServiceInterface};

/// A Marine service running on wasmi: one or more modules, the last of which is the facade
/// whose exported functions form the service interface.
///
/// Each call gets a fresh fuel budget ([`Limits::fuel_per_call`]); memory of all modules together
/// is capped ([`Limits::memory_bytes`]). A call that fails leaves the service usable.
///
/// ```no_run
/// use lineage_marine::{Service, ServiceConfig};
/// let wasm = std::fs::read("tests/fixtures/greeting.wasm")?;
/// let mut service = Service::load([("greeting", wasm.as_slice())], ServiceConfig::default())?;
/// let greeting = service.call_json("greet", &serde_json::json!(["Ada"]))?;
/// assert_eq!(greeting["message"], "Hi, Ada");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Service {
    store: Store<HostState>,
    facade: Arc<ModuleRuntime>,
    modules: Vec<Arc<ModuleRuntime>>,
    interface: ServiceInterface,
    limits: Limits,
}

impl std::fmt::Debug for Service {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Service")
            .field("modules", &self.module_names())
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

impl Service {
    /// Loads a service from `(module name, Wasm bytes)` pairs, dependencies first, facade last.
    ///
    /// # Errors
    /// A [`LoadError`] naming the module: invalid Wasm, a missing or malformed `interface-types`
    /// section, an incompatible SDK, an import nothing provides, a trap while initialising.
    pub fn load<'a>(
        modules: impl IntoIterator<Item = (&'a str, &'a [u8])>,
        config: ServiceConfig,
    ) -> Result<Service, LoadError> {
        // One service from these bytes: translate each function when first called.
        let compiled = CompiledModules::compile_with(
            modules,
            &config.limits,
            wasmi::CompilationMode::LazyTranslation,
        )?;
        Service::instantiate(&compiled, config)
    }

    /// Loads a service from modules compiled once with [`CompiledModules::compile`]: a fresh
    /// store, memory and host state, sharing the compiled code (see [`CompiledModules`]).
    ///
    /// # Errors
    /// As [`Service::load`], but for the parsing already done: an incompatible SDK, an import
    /// nothing provides, a trap while initialising; [`LoadError::LimitsMismatch`] when
    /// `config.limits` asks for another recursion depth or module size than the modules were
    /// compiled for.
    pub fn instantiate(
        compiled: &CompiledModules,
        config: ServiceConfig,
    ) -> Result<Service, LoadError> {
        compiled.check_limits(&config.limits)?;
        let limits = config.limits.clone();
        let engine = &compiled.engine;
        let state = HostState {
            limiter: ServiceLimiter {
                limit: limits.memory_bytes,
                total: 0,
                refused: false,
            },
            logger: Arc::clone(&config.logger),
            call_parameters: CallParameters::default(),
            entropy: Entropy::new(config.environment),
            out_lines: HashMap::new(),
            call_depth: 0,
            fuel_budget: limits.init_fuel,
        };
        let mut store = Store::new(engine, state);
        store.limiter(|s| &mut s.limiter);

        let mut loaded: Vec<Arc<ModuleRuntime>> = Vec::new();
        for (name, module) in compiled.modules.iter() {
            let m = load_module(&mut store, engine, name, module, &config, &loaded)?;
            loaded.push(m);
        }
        let facade = loaded.last().cloned().ok_or(LoadError::NoModules)?;
        let interface = ServiceInterface {
            functions: facade.functions.iter().map(|(f, _)| f.clone()).collect(),
            records: facade.records.clone(),
        };
        Ok(Service {
            store,
            facade,
            modules: loaded,
            interface,
            limits,
        })
    }

    /// Loads a service from files; module names are the file stems (`callee.wasm` → `callee`).
    ///
    /// # Errors
    /// [`LoadError::InvalidWasm`] when a file can't be read, else as [`Service::load`].
    pub fn load_files<P: AsRef<std::path::Path>>(
        paths: &[P],
        config: ServiceConfig,
    ) -> Result<Service, LoadError> {
        let mut named = Vec::new();
        for p in paths {
            let p = p.as_ref();
            let name = p
                .file_stem()
                .and_then(|s| s.to_str())
                .unwrap_or_default()
                .to_string();
            let bytes = std::fs::read(p).map_err(|e| LoadError::InvalidWasm {
                module: p.display().to_string(),
                reason: format!("cannot read file: {e}"),
            })?;
            named.push((name, bytes));
        }
        Service::load(
            named.iter().map(|(n, b)| (n.as_str(), b.as_slice())),
            config,
        )
    }

    /// The facade's functions and record types.
    pub fn interface(&self) -> &ServiceInterface {
        &self.interface
    }

    /// Names of the loaded modules, in load order.
    pub fn module_names(&self) -> Vec<&str> {
        self.modules.iter().map(|m| m.name.as_str()).collect()
    }

    /// Limits this service runs under.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Linear memory of all modules together, in bytes.
    pub fn memory_bytes(&self) -> u64 {
        self.store.data().limiter.total
    }

    /// Sets what `get_call_parameters()` returns inside the modules for the following calls.
    pub fn set_call_parameters(&mut self, params: CallParameters) {
        self.store.data_mut().call_parameters = params;
    }

    /// Calls `function` with JSON arguments (an array, an object by argument name, `null`, or a
    /// bare value for a one-argument function) and returns its JSON result, like Marine's
    /// `call_with_json`.
    ///
    /// # Errors
    /// [`CallError::NoSuchFunction`], [`CallError::ArgumentCount`], [`CallError::ArgumentType`]
    /// before anything runs; fuel, memory, trap and ABI errors naming module and function.
    pub fn call_json(
        &mut self,
        function: &str,
        args: &serde_json::Value,
    ) -> Result<serde_json::Value, CallError> {
        let sig = self.signature(function)?.clone();
        let values = json::args_from_json(&self.interface, &sig, args)?;
        let out = self.call_checked(&sig.name, values)?;
        json::result_to_json(&self.interface, &sig.outputs, &out)
    }

    /// Calls `function` with typed values.
    ///
    /// # Errors
    /// As [`Service::call_json`]; argument values must match the declared types exactly.
    pub fn call(&mut self, function: &str, args: Vec<IValue>) -> Result<Vec<IValue>, CallError> {
        let sig = self.signature(function)?.clone();
        if args.len() != sig.arguments.len() {
            return Err(CallError::ArgumentCount {
                function: sig.name,
                expected: sig.arguments.len(),
                got: args.len(),
            });
        }
        for (a, v) in sig.arguments.iter().zip(&args) {
            if !value_matches(&self.interface, &a.ty, v, 0) {
                return Err(CallError::ArgumentType {
                    function: sig.name.clone(),
                    path: a.name.clone(),
                    expected: self.interface.type_name(&a.ty),
                    got: v.kind().to_string(),
                });
            }
        }
        self.call_checked(&sig.name, args)
    }

    fn signature(&self, function: &str) -> Result<&crate::types::FunctionSignature, CallError> {
        self.interface
            .function(function)
            .ok_or_else(|| CallError::NoSuchFunction {
                function: function.to_string(),
                available: self
                    .interface
                    .functions
                    .iter()
                    .map(|f| f.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            })
    }

    fn call_checked(
        &mut self,
        function: &str,
        args: Vec<IValue>,
    ) -> Result<Vec<IValue>, CallError> {
        let fuel = self.limits.fuel_per_call;
        {
            let s = self.store.data_mut();
            s.limiter.refused = false;
            s.call_depth = 0;
            s.fuel_budget = fuel;
        }
        self.store.set_fuel(fuel).map_err(|e| CallError::Trap {
            module: self.facade.name.clone(),
            function: function.into(),
            trap: e.to_string(),
        })?;
        let facade = Arc::clone(&self.facade);
        let result = adapter::call_export(&mut self.store, &facade, function, args);
        self.store.data_mut().flush_output();
        result
    }
}

/// Whether `v` is a value of type `ty` (records checked field by field).
fn value_matches(iface: &ServiceInterface, ty: &IType, v: &IValue, depth: usize) -> bool {
    if depth > crate::lilo::MAX_VALUE_DEPTH {
        return false;
    }
    match (ty, v) {
        (IType::Boolean, IValue::Boolean(_))
        | (IType::S8, IValue::S8(_))
        | (IType::S16, IValue::S16(_))
        | (IType::S32, IValue::S32(_))
        | (IType::S64, IValue::S64(_))
        | (IType::U8, IValue::U8(_))
        | (IType::U16, IValue::U16(_))
        | (IType::U32, IValue::U32(_))
        | (IType::U64, IValue::U64(_))
        | (IType::F32, IValue::F32(_))
        | (IType::F64, IValue::F64(_))
        | (IType::String, IValue::String(_))
        | (IType::ByteArray, IValue::ByteArray(_))
        | (IType::I32, IValue::I32(_))
        | (IType::I64, IValue::I64(_)) => true,
        (IType::ByteArray, IValue::Array(items)) => {
            items.iter().all(|i| matches!(i, IValue::U8(_)))
        }
        (IType::Array(inner), IValue::Array(items)) => items
            .iter()
            .all(|i| value_matches(iface, inner, i, depth + 1)),
        (IType::Array(inner), IValue::ByteArray(_)) => **inner == IType::U8,
        (IType::Record(idx), IValue::Record(fields)) => match iface.record(*idx) {
            Some(rt) => {
                rt.fields.len() == fields.len()
                    && rt
                        .fields
                        .iter()
                        .zip(fields)
                        .all(|(f, v)| value_matches(iface, &f.ty, v, depth + 1))
            }
            None => false,
        },
        _ => false,
    }
}
