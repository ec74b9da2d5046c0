//! A loaded service: modules linked in order into one store, the last one (the facade) its
//! interface.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use wasmi::{Caller, Engine, Extern, ExternType, FuncType, Linker, Module, Store, Val};

use crate::adapter::{self, from_val, ImportTarget, ModuleRuntime};
use crate::compiled::CompiledModules;
use crate::config::{Limits, ServiceConfig};
use crate::error::{CallError, HostCallError, LoadError};
use crate::host::{
    CallParameters, Entropy, HostState, LogLevel, LogRecord, LogSource, ServiceLimiter,
};
use crate::it::{self, ItSection};
use crate::json;
use crate::types::{IType, IValue, ServiceInterface};
use crate::wasi::{self, ModuleWasi};

const IT_SECTION: &str = "interface-types";
const SDK_VERSION_SECTION: &str = "__fluence_sdk_version";
const MIN_IT_VERSION: semver::Version = semver::Version::new(0, 20, 0);
const MIN_SDK_VERSION: semver::Version = semver::Version::new(0, 6, 0);
/// Namespaces of Marine's host API, oldest first.
const HOST_API_NAMESPACES: [&str; 4] = [
    "host",
    "__marine_host_api_v1",
    "__marine_host_api_v2",
    "__marine_host_api_v3",
];

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
    /// nothing provides, a trap while initialising.
    pub fn instantiate(
        compiled: &CompiledModules,
        config: ServiceConfig,
    ) -> Result<Service, LoadError> {
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

/// A version as Marine reads it (`semver`: a pre-release sorts before its release).
fn parse_semver(s: &str) -> Option<semver::Version> {
    semver::Version::parse(s.trim()).ok()
}

fn load_module(
    store: &mut Store<HostState>,
    engine: &Engine,
    name: &str,
    module: &Module,
    config: &ServiceConfig,
    loaded: &[Arc<ModuleRuntime>],
) -> Result<Arc<ModuleRuntime>, LoadError> {
    let limits = &config.limits;
    let it = read_sections(name, module)?;
    let mcfg = config.module_config(name);
    if !mcfg.mapped_dirs.is_empty() {
        return Err(LoadError::Unsupported {
            module: name.into(),
            feature: "WASI mapped_dirs (file system access)".into(),
        });
    }

    // IT imports resolve to IT exports of modules loaded earlier. Each imported function has two
    // import entries; the one with an implementation (the raw signature) is what `call-core`
    // counts, and its interface signature is the type two before its own.
    let mut import_targets = Vec::new();
    for imp in &it.imports {
        let target = loaded
            .iter()
            .find(|m| m.name == imp.namespace)
            .ok_or_else(|| LoadError::UnresolvedImport {
                module: name.into(),
                namespace: imp.namespace.clone(),
                name: imp.name.clone(),
                reason: format!("no module `{}` was loaded before `{name}`", imp.namespace),
            })?;
        let Some(&fidx) = target.by_name.get(&imp.name) else {
            return Err(LoadError::UnresolvedImport {
                module: name.into(),
                namespace: imp.namespace.clone(),
                name: imp.name.clone(),
                reason: format!("module `{}` exports no such function", imp.namespace),
            });
        };
        if it.adapter_for(imp.function_type).is_none() {
            continue;
        }
        import_targets.push(ImportTarget {
            module: Arc::clone(target),
            function: imp.name.clone(),
            arity: target.functions[fidx].0.arguments.len(),
        });
    }

    let functions: Vec<_> = it
        .exported_functions()
        .into_iter()
        .filter_map(|(sig, adapter)| {
            let idx = it.adapters.iter().position(|a| std::ptr::eq(a, adapter))?;
            Some((sig, idx))
        })
        .collect();
    let by_name = functions
        .iter()
        .enumerate()
        .map(|(i, (f, _))| (f.name.clone(), i))
        .collect();
    let rt = Arc::new(ModuleRuntime {
        name: name.to_string(),
        records: it.records(),
        it,
        functions,
        by_name,
        import_targets,
        instance: OnceLock::new(),
        memory: OnceLock::new(),
        core_exports: OnceLock::new(),
        max_value_bytes: limits.max_value_bytes,
        max_call_depth: limits.max_call_depth,
    });

    let mut linker: Linker<HostState> = Linker::new(engine);
    let wasi = Arc::new(ModuleWasi {
        module: name.to_string(),
        args: std::iter::once(name.to_string())
            .chain(mcfg.args.iter().cloned())
            .collect(),
        envs: mcfg.envs.iter().map(|(k, v)| format!("{k}={v}")).collect(),
        logger_enabled: mcfg.logger_enabled,
    });
    wasi::define_imports(&mut linker, module, &wasi)?;
    let imports: Vec<(String, String, ExternType)> = module
        .imports()
        .map(|i| (i.module().to_string(), i.name().to_string(), i.ty().clone()))
        .collect();
    for (ns, fname, ty) in imports {
        if ns == wasi::NAMESPACE {
            continue;
        }
        let unresolved = |reason: String| LoadError::UnresolvedImport {
            module: name.into(),
            namespace: ns.clone(),
            name: fname.clone(),
            reason,
        };
        let ExternType::Func(fty) = ty else {
            return Err(unresolved("only functions can be imported".into()));
        };
        if HOST_API_NAMESPACES.contains(&ns.as_str()) {
            define_host_api(&mut linker, &rt, &ns, &fname, fty, mcfg.logger_enabled)
                .map_err(unresolved)?;
        } else if rt
            .it
            .imports
            .iter()
            .any(|i| i.namespace == ns && i.name == fname)
        {
            define_module_import(&mut linker, &rt, &ns, &fname, fty).map_err(unresolved)?;
        } else if loaded.iter().any(|m| m.name == ns) {
            return Err(unresolved(
                "the interface-types section has no adapter for this import".into(),
            ));
        } else {
            return Err(unresolved(format!(
                "nothing provides it (no host API, WASI or earlier module `{ns}`)"
            )));
        }
    }

    store.data_mut().fuel_budget = limits.init_fuel;
    let _ = store.set_fuel(limits.init_fuel);
    let instance = linker
        .instantiate_and_start(&mut *store, module)
        .map_err(|e| {
            let err = adapter::wasm_error(&*store, e, name, "start");
            match err {
                CallError::Trap { trap, .. } => LoadError::Instantiation {
                    module: name.into(),
                    reason: trap,
                },
                other => LoadError::Init {
                    module: name.into(),
                    source: Box::new(other),
                },
            }
        })?;
    let memory = instance.get_memory(&*store, "memory");
    let mut core_exports = Vec::with_capacity(rt.it.exports.len());
    for e in &rt.it.exports {
        let f = instance
            .get_func(&*store, &e.name)
            .ok_or_else(|| LoadError::Incompatible {
                module: name.into(),
                reason: format!(
                    "interface-types exports `{}`, but the module has no such function",
                    e.name
                ),
            })?;
        core_exports.push(f);
    }
    let _ = rt.instance.set(instance);
    if let Some(m) = memory {
        let _ = rt.memory.set(m);
    }
    let _ = rt.core_exports.set(core_exports);
    if rt.memory.get().is_none() {
        return Err(LoadError::Incompatible {
            module: name.into(),
            reason: "module exports no `memory`".into(),
        });
    }

    for init in ["_initialize", "_start"] {
        let Some(f) = instance.get_func(&*store, init) else {
            continue;
        };
        let mut out: Vec<Val> = f
            .ty(&*store)
            .results()
            .iter()
            .map(|t| Val::default_for_ty(*t))
            .collect();
        if let Err(e) = f.call(&mut *store, &[], &mut out) {
            if e.i32_exit_status() == Some(0) {
                continue;
            }
            let source = adapter::wasm_error(&*store, e, name, init);
            return Err(LoadError::Init {
                module: name.into(),
                source: Box::new(source),
            });
        }
    }
    store.data_mut().flush_output();
    Ok(rt)
}

/// Finds and decodes the `interface-types` section and checks the SDK and IT versions.
fn read_sections(name: &str, module: &Module) -> Result<ItSection, LoadError> {
    let mut it_sections = Vec::new();
    let mut sdk_versions = Vec::new();
    for s in module.custom_sections() {
        match s.name() {
            IT_SECTION => it_sections.push(s.data()),
            SDK_VERSION_SECTION => sdk_versions.push(s.data()),
            _ => {}
        }
    }
    let incompatible = |reason: String| LoadError::Incompatible {
        module: name.into(),
        reason,
    };
    let raw = match it_sections.as_slice() {
        [] => {
            return Err(LoadError::NoItSection {
                module: name.into(),
            })
        }
        [one] => *one,
        many => {
            return Err(LoadError::MultipleItSections {
                module: name.into(),
                count: many.len(),
            })
        }
    };
    let sdk = match sdk_versions.as_slice() {
        [one] => String::from_utf8_lossy(one).to_string(),
        [] => {
            return Err(incompatible(format!(
                "no `{SDK_VERSION_SECTION}` section: build it with marine-rs-sdk ≥ 0.6.0"
            )))
        }
        _ => {
            return Err(incompatible(format!(
                "more than one `{SDK_VERSION_SECTION}` section"
            )))
        }
    };
    match parse_semver(&sdk) {
        Some(v) if v >= MIN_SDK_VERSION => {}
        _ => {
            return Err(incompatible(format!(
                "marine-rs-sdk version `{sdk}` is older than 0.6.0 or unreadable"
            )))
        }
    }
    let it = it::decode(raw).map_err(|e| LoadError::MalformedIt {
        module: name.into(),
        offset: e.offset,
        reason: e.reason,
    })?;
    match it.version.as_deref().map(parse_semver) {
        Some(Some(v)) if v >= MIN_IT_VERSION => {}
        Some(_) => {
            return Err(incompatible(format!(
                "interface-types version `{}` is older than 0.20.0 or unreadable",
                it.version.as_deref().unwrap_or_default()
            )))
        }
        None => {
            return Err(incompatible(
                "interface-types section carries no version".into(),
            ))
        }
    }
    Ok(it)
}

/// Binds a core import `<module>.<fn>` to the importing module's IT import adapter.
fn define_module_import(
    linker: &mut Linker<HostState>,
    rt: &Arc<ModuleRuntime>,
    ns: &str,
    fname: &str,
    fty: FuncType,
) -> Result<(), String> {
    let adapter_idx = rt
        .it
        .imports
        .iter()
        .filter(|i| i.namespace == ns && i.name == fname)
        .find_map(|i| rt.it.adapter_for(i.function_type))
        .and_then(|a| rt.it.adapters.iter().position(|b| std::ptr::eq(a, b)))
        .ok_or("the interface-types section has no adapter for this import")?;
    let caller_rt = Arc::clone(rt);
    let label = format!("{ns}.{fname}");
    linker
        .func_new(
            ns,
            fname,
            fty,
            move |mut caller: Caller<'_, HostState>, params: &[Val], results: &mut [Val]| {
                let args: Vec<IValue> = params
                    .iter()
                    .cloned()
                    .map(from_val)
                    .collect::<Result<_, _>>()
                    .map_err(wasmi::Error::new)?;
                let adapter = caller_rt
                    .adapter(adapter_idx)
                    .ok_or_else(|| wasmi::Error::new("adapter missing"))?;
                let out = adapter::run(
                    &mut caller,
                    &caller_rt,
                    &label,
                    &adapter.instructions,
                    &args,
                )
                .map_err(|e| wasmi::Error::host(HostCallError(e)))?;
                if out.len() != results.len() {
                    return Err(wasmi::Error::host(HostCallError(CallError::Abi {
                        module: caller_rt.name.clone(),
                        function: label.clone(),
                        reason: format!(
                            "import adapter left {} values, the core import returns {}",
                            out.len(),
                            results.len()
                        ),
                    })));
                }
                for (slot, v) in results.iter_mut().zip(out) {
                    *slot = adapter::to_val(v).map_err(wasmi::Error::new)?;
                }
                Ok(())
            },
        )
        .map(|_| ())
        .map_err(|e| e.to_string())
}

/// `log_utf8_string` and `get_call_parameters` of Marine's host API.
fn define_host_api(
    linker: &mut Linker<HostState>,
    rt: &Arc<ModuleRuntime>,
    ns: &str,
    fname: &str,
    fty: FuncType,
    logger_enabled: bool,
) -> Result<(), String> {
    match fname {
        "log_utf8_string" => {
            let module = rt.name.clone();
            linker
                .func_wrap(
                    ns,
                    fname,
                    move |caller: Caller<'_, HostState>,
                          level: i32,
                          target: i32,
                          ptr: i32,
                          len: i32| {
                        if !logger_enabled {
                            return;
                        }
                        let Some(mem) = caller.get_export("memory").and_then(Extern::into_memory)
                        else {
                            return;
                        };
                        let data = mem.data(&caller);
                        let (start, len) = (ptr as u32 as usize, len as u32 as usize);
                        let Some(bytes) =
                            start.checked_add(len).and_then(|end| data.get(start..end))
                        else {
                            return;
                        };
                        let record = LogRecord {
                            module: module.clone(),
                            level: LogLevel::from_sdk(level),
                            source: LogSource::Logger,
                            target,
                            message: String::from_utf8_lossy(bytes).into_owned(),
                        };
                        caller.data().logger.log(&record);
                    },
                )
                .map_err(|e| e.to_string())?;
            Ok(())
        }
        "get_call_parameters" => {
            if !fty.params().is_empty() || !fty.results().is_empty() {
                return Err("expected signature () -> ()".into());
            }
            let callee = Arc::clone(rt);
            let legacy = match ns {
                "host" => Some(false),
                "__marine_host_api_v1" => Some(true),
                _ => None,
            };
            linker
                .func_wrap(
                    ns,
                    fname,
                    move |mut caller: Caller<'_, HostState>| -> Result<(), wasmi::Error> {
                        let fields = call_parameters_record(&caller.data().call_parameters, legacy);
                        adapter::return_record(&mut caller, &callee, "get_call_parameters", &fields)
                            .map_err(|e| wasmi::Error::host(HostCallError(e)))
                    },
                )
                .map_err(|e| e.to_string())?;
            Ok(())
        }
        other => Err(format!(
            "host function `{other}` (mounted binaries) is not supported by this runtime"
        )),
    }
}

/// `CallParameters` as the module's SDK lays it out: host API v2/v3 (marine-rs-sdk 0.13+) nest a
/// `ParticleParameters` record; `legacy = Some(with_worker_id)` gives the flat v0 (`host`) and
/// v1 forms of older SDKs.
fn call_parameters_record(cp: &CallParameters, legacy: Option<bool>) -> Vec<IValue> {
    let p = &cp.particle;
    let s = |v: &str| IValue::String(v.to_string());
    let particle = IValue::Record(vec![
        IValue::String(p.id.clone()),
        IValue::String(p.init_peer_id.clone()),
        IValue::U64(p.timestamp),
        IValue::U32(p.ttl),
        IValue::String(p.script.clone()),
        IValue::ByteArray(p.signature.clone()),
        IValue::String(p.token.clone()),
    ]);
    let tetraplets = IValue::Array(
        cp.tetraplets
            .iter()
            .map(|arg| {
                IValue::Array(
                    arg.iter()
                        .map(|t| {
                            IValue::Record(vec![
                                IValue::String(t.peer_pk.clone()),
                                IValue::String(t.service_id.clone()),
                                IValue::String(t.function_name.clone()),
                                IValue::String(t.lens.clone()),
                            ])
                        })
                        .collect(),
                )
            })
            .collect(),
    );
    if let Some(with_worker_id) = legacy {
        let mut fields = vec![
            s(&p.init_peer_id),
            s(&cp.service_id),
            s(&cp.service_creator_peer_id),
            s(&cp.host_id),
        ];
        if with_worker_id {
            fields.push(s(&cp.worker_id));
        }
        fields.push(s(&p.id));
        fields.push(tetraplets);
        return fields;
    }
    vec![
        particle,
        IValue::String(cp.service_id.clone()),
        IValue::String(cp.service_creator_peer_id.clone()),
        IValue::String(cp.host_id.clone()),
        IValue::String(cp.worker_id.clone()),
        tetraplets,
    ]
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
