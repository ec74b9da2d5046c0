//! Loading a module into a service's store: its interface-types and SDK version sections read
//! and checked, its imports linked — to earlier modules' exports (through the IT adapters), to
//! Marine's host API and to WASI — and the instance started.

use std::sync::{Arc, OnceLock};

use wasmi::{Caller, Engine, Extern, ExternType, FuncType, Linker, Module, Store, Val};

use crate::adapter::{self, from_val, ImportTarget, ModuleRuntime};
use crate::config::ServiceConfig;
use crate::error::{CallError, HostCallError, LoadError};
use crate::host::{CallParameters, HostState, LogLevel, LogRecord, LogSource};
use crate::it::{self, ItSection};
use crate::types::IValue;
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

/// A version as Marine reads it (`semver`: a pre-release sorts before its release).
fn parse_semver(s: &str) -> Option<semver::Version> {
    semver::Version::parse(s.trim()).ok()
}

pub(crate) fn load_module(
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
