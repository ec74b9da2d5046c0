//! Runs IT adapters: the small stack programs in each module that turn interface values into
//! core Wasm calls (exports) and core calls back into interface values (imports from other
//! modules, host API).

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use wasmi::{AsContext, AsContextMut, Func, Instance, Memory, TrapCode, Val};

use crate::error::{CallError, HostCallError};
use crate::host::HostState;
use crate::it::{Conversion, Instruction, ItAdapter, ItSection};
use crate::lilo::{self, LowerTarget};
use crate::types::{FunctionSignature, IType, IValue, RecordType};

/// The adapter stack never needs to be deep; a bound keeps a hostile adapter from looping `dup`.
const MAX_STACK: usize = 4096;

/// An IT import resolved at load time.
pub(crate) struct ImportTarget {
    pub module: Arc<ModuleRuntime>,
    pub function: String,
    /// Number of interface values the callee takes.
    pub arity: usize,
}

/// One loaded module: its IT section, instance and the modules its IT imports resolve to.
pub(crate) struct ModuleRuntime {
    pub name: String,
    pub it: ItSection,
    pub records: Vec<Option<RecordType>>,
    /// Exported IT functions: signature and index of their adapter in `it.adapters`.
    pub functions: Vec<(FunctionSignature, usize)>,
    pub by_name: HashMap<String, usize>,
    /// What `call-core E+j` calls: the j-th IT import that has an implementation, resolved to
    /// an earlier module's exported IT function.
    pub import_targets: Vec<ImportTarget>,
    pub instance: OnceLock<Instance>,
    pub memory: OnceLock<Memory>,
    /// Core functions of the IT exports, by IT export index.
    pub core_exports: OnceLock<Vec<Func>>,
    pub max_value_bytes: u64,
    pub max_call_depth: usize,
}

impl ModuleRuntime {
    pub fn adapter(&self, idx: usize) -> Option<&ItAdapter> {
        self.it.adapters.get(idx)
    }

    fn abi(&self, function: &str, reason: impl Into<String>) -> CallError {
        CallError::Abi {
            module: self.name.clone(),
            function: function.to_string(),
            reason: reason.into(),
        }
    }

    fn memory(&self, function: &str) -> Result<Memory, CallError> {
        self.memory
            .get()
            .copied()
            .ok_or_else(|| self.abi(function, "module exports no memory"))
    }

    fn core_export(&self, idx: usize, function: &str) -> Result<Func, CallError> {
        self.core_exports
            .get()
            .and_then(|v| v.get(idx).copied())
            .ok_or_else(|| self.abi(function, format!("IT export #{idx} has no core function")))
    }

    /// The core function of an SDK export by name (`allocate`, `set_result_ptr`, …).
    fn sdk_export(&self, name: &str, function: &str) -> Result<Func, CallError> {
        let idx = self
            .it
            .exports
            .iter()
            .position(|e| e.name == name)
            .ok_or_else(|| self.abi(function, format!("module does not export `{name}`")))?;
        self.core_export(idx, function)
    }
}

/// Calls an exported IT function of `m` with interface values (already type-checked).
pub(crate) fn call_export(
    ctx: &mut impl AsContextMut<Data = HostState>,
    m: &ModuleRuntime,
    function: &str,
    args: Vec<IValue>,
) -> Result<Vec<IValue>, CallError> {
    let &(_, adapter_idx) = m
        .by_name
        .get(function)
        .and_then(|i| m.functions.get(*i))
        .ok_or_else(|| CallError::NoSuchFunction {
            function: format!("{}.{function}", m.name),
            available: m
                .functions
                .iter()
                .map(|(f, _)| f.name.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        })?;
    let adapter = m
        .adapter(adapter_idx)
        .ok_or_else(|| m.abi(function, "adapter missing"))?;
    let depth = ctx.as_context().data().call_depth;
    if depth >= m.max_call_depth {
        return Err(CallError::StackOverflow {
            module: m.name.clone(),
            function: function.to_string(),
            reason: format!("more than {} nested cross-module calls", m.max_call_depth),
        });
    }
    ctx.as_context_mut().data_mut().call_depth = depth + 1;
    let result = run(ctx, m, function, &adapter.instructions, &args);
    ctx.as_context_mut().data_mut().call_depth = depth;
    result
}

/// Runs an adapter's instructions with `args` as its invocation inputs; returns the stack.
pub(crate) fn run(
    ctx: &mut impl AsContextMut<Data = HostState>,
    m: &ModuleRuntime,
    function: &str,
    instrs: &[Instruction],
    args: &[IValue],
) -> Result<Vec<IValue>, CallError> {
    let mut stack: Vec<IValue> = Vec::new();
    let abi = |reason: String| m.abi(function, reason);
    for ins in instrs {
        if stack.len() >= MAX_STACK {
            return Err(abi("adapter stack overflow".into()));
        }
        match ins {
            Instruction::ArgumentGet(i) => {
                let v = args
                    .get(*i as usize)
                    .ok_or_else(|| abi(format!("arg.get {i}: no such argument")))?;
                stack.push(v.clone());
            }
            Instruction::CallCore(idx) => call_core(ctx, m, function, *idx as usize, &mut stack)?,
            Instruction::Convert(op) => {
                let v = pop(&mut stack, m, function)?;
                stack.push(convert(op.conversion(), v).map_err(abi)?);
            }
            Instruction::StringSize | Instruction::ByteArraySize => {
                let len = match pop(&mut stack, m, function)? {
                    IValue::String(s) => s.len(),
                    IValue::ByteArray(b) => b.len(),
                    IValue::Array(a) => a.len(),
                    other => return Err(abi(format!("size of a {} value", other.kind()))),
                };
                stack.push(IValue::I32(len as i32));
            }
            Instruction::StringLiftMemory | Instruction::ByteArrayLiftMemory => {
                let len = pop_u32(&mut stack, m, function)?;
                let ptr = pop_u32(&mut stack, m, function)?;
                let v = if matches!(ins, Instruction::StringLiftMemory) {
                    lift(ctx, m, function, |l| l.string(ptr, len).map(IValue::String))?
                } else {
                    lift(ctx, m, function, |l| {
                        l.bytes(ptr, len).map(IValue::ByteArray)
                    })?
                };
                stack.push(v);
            }
            Instruction::StringLowerMemory | Instruction::ByteArrayLowerMemory => {
                let v = pop(&mut stack, m, function)?;
                let ptr = pop_u32(&mut stack, m, function)?;
                let bytes: Vec<u8> = match v {
                    IValue::String(s) => s.into_bytes(),
                    IValue::ByteArray(b) => b,
                    IValue::Array(a) => a
                        .into_iter()
                        .map(|x| match x {
                            IValue::U8(b) => Ok(b),
                            other => Err(abi(format!("byte array holds a {} value", other.kind()))),
                        })
                        .collect::<Result<_, _>>()?,
                    other => {
                        return Err(abi(format!("lowering a {} value as bytes", other.kind())))
                    }
                };
                Target {
                    ctx: &mut *ctx,
                    m,
                    function,
                }
                .write(ptr, &bytes)
                .map_err(abi)?;
                stack.push(IValue::I32(ptr as i32));
                stack.push(IValue::I32(bytes.len() as i32));
            }
            Instruction::ArrayLiftMemory(ty) => {
                let count = pop_u32(&mut stack, m, function)?;
                let ptr = pop_u32(&mut stack, m, function)?;
                stack.push(lift(ctx, m, function, |l| l.array(ty, ptr, count, 0))?);
            }
            Instruction::ArrayLowerMemory(_) => {
                let items = match pop(&mut stack, m, function)? {
                    IValue::Array(a) => a,
                    IValue::ByteArray(b) => b.into_iter().map(IValue::U8).collect(),
                    other => {
                        return Err(abi(format!(
                            "array.lower_memory of a {} value",
                            other.kind()
                        )))
                    }
                };
                let (ptr, n) = lilo::lower_array(
                    &mut Target {
                        ctx: &mut *ctx,
                        m,
                        function,
                    },
                    &items,
                    0,
                )
                .map_err(abi)?;
                stack.push(IValue::I32(ptr as i32));
                stack.push(IValue::I32(n as i32));
            }
            Instruction::RecordLiftMemory(id) => {
                let ptr = pop_u32(&mut stack, m, function)?;
                stack.push(lift(ctx, m, function, |l| l.record(*id, ptr, 0))?);
            }
            Instruction::RecordLowerMemory(_) => {
                let fields = match pop(&mut stack, m, function)? {
                    IValue::Record(f) => f,
                    other => {
                        return Err(abi(format!(
                            "record.lower_memory of a {} value",
                            other.kind()
                        )))
                    }
                };
                let ptr = lilo::lower_record(
                    &mut Target {
                        ctx: &mut *ctx,
                        m,
                        function,
                    },
                    &fields,
                    0,
                )
                .map_err(abi)?;
                stack.push(IValue::I32(ptr as i32));
            }
            Instruction::Dup => {
                let top = stack
                    .last()
                    .cloned()
                    .ok_or_else(|| abi("dup on an empty stack".into()))?;
                stack.push(top);
            }
            Instruction::Swap2 => {
                let n = stack.len();
                if n < 2 {
                    return Err(abi("swap2 needs two values".into()));
                }
                stack.swap(n - 1, n - 2);
            }
            Instruction::BoolFromI32 => match pop(&mut stack, m, function)? {
                IValue::I32(v) => stack.push(IValue::Boolean(v != 0)),
                other => return Err(abi(format!("bool.from_i32 of a {} value", other.kind()))),
            },
            Instruction::I32FromBool => match pop(&mut stack, m, function)? {
                IValue::Boolean(b) => stack.push(IValue::I32(i32::from(b))),
                other => return Err(abi(format!("i32.from_bool of a {} value", other.kind()))),
            },
            Instruction::PushI32(v) => stack.push(IValue::I32(*v)),
            Instruction::PushI64(v) => stack.push(IValue::I64(*v)),
        }
    }
    Ok(stack)
}

/// Lifts a value out of `m`'s memory with the module's value budget.
fn lift<T>(
    ctx: &impl AsContext<Data = HostState>,
    m: &ModuleRuntime,
    function: &str,
    read: impl FnOnce(&mut lilo::Lifter<'_>) -> Result<T, String>,
) -> Result<T, CallError> {
    let mem = m.memory(function)?;
    let mut lifter = lilo::Lifter {
        mem: mem.data(ctx),
        records: &m.records,
        budget: m.max_value_bytes,
    };
    read(&mut lifter).map_err(|e| m.abi(function, e))
}

fn pop(stack: &mut Vec<IValue>, m: &ModuleRuntime, function: &str) -> Result<IValue, CallError> {
    stack
        .pop()
        .ok_or_else(|| m.abi(function, "adapter stack underflow"))
}

fn pop_u32(stack: &mut Vec<IValue>, m: &ModuleRuntime, function: &str) -> Result<u32, CallError> {
    match pop(stack, m, function)? {
        IValue::I32(v) | IValue::S32(v) => Ok(v as u32),
        IValue::U32(v) => Ok(v),
        other => Err(m.abi(
            function,
            format!("expected an i32 pointer or length, found {}", other.kind()),
        )),
    }
}

/// Core integer ⇄ interface integer. Same-width conversions reinterpret the bits (a `u32` result
/// travels as a negative `i32`); narrowing keeps the low bits, as the core ABI does.
fn convert(c: Conversion, v: IValue) -> Result<IValue, String> {
    let core: i64 = match (&c, &v) {
        (
            Conversion::Lift {
                from_i64: false, ..
            },
            IValue::I32(x),
        ) => i64::from(*x),
        (Conversion::Lift { from_i64: true, .. }, IValue::I64(x)) => *x,
        (Conversion::Lift { .. }, other) => {
            return Err(format!(
                "conversion expected a core integer, found {}",
                other.kind()
            ))
        }
        (Conversion::Lower { .. }, _) => 0,
    };
    Ok(match c {
        Conversion::Lift { to, .. } => match to {
            IType::S8 => IValue::S8(core as i8),
            IType::S16 => IValue::S16(core as i16),
            IType::S32 => IValue::S32(core as i32),
            IType::S64 => IValue::S64(core),
            IType::U8 => IValue::U8(core as u8),
            IType::U16 => IValue::U16(core as u16),
            IType::U32 => IValue::U32(core as u32),
            // A u64 from an i32 is the i32's unsigned value.
            IType::U64 if matches!(v, IValue::I32(x) if x < 0) => {
                IValue::U64(u64::from(core as u32))
            }
            IType::U64 => IValue::U64(core as u64),
            other => return Err(format!("no conversion to {other}")),
        },
        Conversion::Lower { from, to_i64 } => {
            let n: i64 = match (&from, &v) {
                (IType::S8, IValue::S8(x)) => i64::from(*x),
                (IType::S16, IValue::S16(x)) => i64::from(*x),
                (IType::S32, IValue::S32(x)) => i64::from(*x),
                (IType::S64, IValue::S64(x)) => *x,
                (IType::U8, IValue::U8(x)) => i64::from(*x),
                (IType::U16, IValue::U16(x)) => i64::from(*x),
                (IType::U32, IValue::U32(x)) => i64::from(*x),
                (IType::U64, IValue::U64(x)) => *x as i64,
                (_, other) => {
                    return Err(format!(
                        "conversion from {from} found a {} value",
                        other.kind()
                    ))
                }
            };
            if to_i64 {
                IValue::I64(n)
            } else {
                IValue::I32(n as i32)
            }
        }
    })
}

/// `call-core n`: IT exports first (the module's own core functions), then IT imports (other
/// modules' IT functions).
fn call_core(
    ctx: &mut impl AsContextMut<Data = HostState>,
    m: &ModuleRuntime,
    function: &str,
    idx: usize,
    stack: &mut Vec<IValue>,
) -> Result<(), CallError> {
    let n_exports = m.it.exports.len();
    if idx < n_exports {
        let func = m.core_export(idx, function)?;
        let ty = func.ty(&*ctx);
        let n = ty.params().len();
        if stack.len() < n {
            return Err(m.abi(
                function,
                format!(
                    "call-core {idx} needs {n} values, stack has {}",
                    stack.len()
                ),
            ));
        }
        let inputs: Vec<Val> = stack
            .drain(stack.len() - n..)
            .map(|v| to_val(v).map_err(|e| m.abi(function, e)))
            .collect::<Result<_, _>>()?;
        let mut outputs: Vec<Val> = ty
            .results()
            .iter()
            .map(|t| Val::default_for_ty(*t))
            .collect();
        func.call(&mut *ctx, &inputs, &mut outputs)
            .map_err(|e| wasm_error(&*ctx, e, &m.name, function))?;
        for v in outputs {
            stack.push(from_val(v).map_err(|e| m.abi(function, e))?);
        }
        Ok(())
    } else {
        let target = m.import_targets.get(idx - n_exports).ok_or_else(|| {
            m.abi(
                function,
                format!("call-core {idx}: no such export or import"),
            )
        })?;
        let n = target.arity;
        if stack.len() < n {
            return Err(m.abi(
                function,
                format!(
                    "call of `{}.{}` needs {n} values",
                    target.module.name, target.function
                ),
            ));
        }
        let inputs: Vec<IValue> = stack.drain(stack.len() - n..).collect();
        let outputs = call_export(ctx, &target.module, &target.function, inputs)?;
        stack.extend(outputs);
        Ok(())
    }
}

pub(crate) fn to_val(v: IValue) -> Result<Val, String> {
    Ok(match v {
        IValue::I32(x) | IValue::S32(x) => Val::I32(x),
        IValue::U32(x) => Val::I32(x as i32),
        IValue::I64(x) | IValue::S64(x) => Val::I64(x),
        IValue::U64(x) => Val::I64(x as i64),
        IValue::F32(x) => Val::F32(wasmi::F32::from_float(x)),
        IValue::F64(x) => Val::F64(wasmi::F64::from_float(x)),
        other => {
            return Err(format!(
                "a {} value cannot be passed to a core function",
                other.kind()
            ))
        }
    })
}

pub(crate) fn from_val(v: Val) -> Result<IValue, String> {
    Ok(match v {
        Val::I32(x) => IValue::I32(x),
        Val::I64(x) => IValue::I64(x),
        Val::F32(x) => IValue::F32(x.to_float()),
        Val::F64(x) => IValue::F64(x.to_float()),
        other => {
            return Err(format!(
                "core function returned an unsupported value {other:?}"
            ))
        }
    })
}

/// Turns a wasmi error from running `module.function` into a typed call error.
pub(crate) fn wasm_error(
    ctx: &impl AsContext<Data = HostState>,
    e: wasmi::Error,
    module: &str,
    function: &str,
) -> CallError {
    if let Some(inner) = e.downcast_ref::<HostCallError>() {
        return inner.0.clone();
    }
    let (module, function) = (module.to_string(), function.to_string());
    if let Some(code) = e.i32_exit_status() {
        return CallError::ProcExit {
            module,
            function,
            code,
        };
    }
    let state = ctx.as_context();
    let state = state.data();
    match e.as_trap_code() {
        Some(TrapCode::OutOfFuel) => CallError::OutOfFuel {
            module,
            function,
            fuel: state.fuel_budget,
        },
        Some(TrapCode::StackOverflow) => CallError::StackOverflow {
            module,
            function,
            reason: e.to_string(),
        },
        _ if state.limiter.refused => CallError::MemoryLimit {
            module,
            function,
            limit: state.limiter.limit,
        },
        _ => CallError::Trap {
            module,
            function,
            trap: e.to_string(),
        },
    }
}

/// Lowering into the module an adapter runs in, through its `allocate` export.
struct Target<'c, 'm, C: AsContextMut<Data = HostState>> {
    ctx: &'c mut C,
    m: &'m ModuleRuntime,
    function: &'m str,
}

impl<C: AsContextMut<Data = HostState>> LowerTarget for Target<'_, '_, C> {
    fn allocate(&mut self, size: u32, tag: i32) -> Result<u32, String> {
        let alloc = self
            .m
            .sdk_export("allocate", self.function)
            .map_err(|e| e.to_string())?;
        let mut out = [Val::I32(0)];
        alloc
            .call(
                &mut *self.ctx,
                &[Val::I32(size as i32), Val::I32(tag)],
                &mut out,
            )
            .map_err(|e| wasm_error(&*self.ctx, e, &self.m.name, "allocate").to_string())?;
        match out[0] {
            Val::I32(p) => Ok(p as u32),
            _ => Err("allocate returned a non-i32".into()),
        }
    }

    fn write(&mut self, ptr: u32, bytes: &[u8]) -> Result<(), String> {
        if bytes.is_empty() {
            return Ok(());
        }
        let mem = self.m.memory(self.function).map_err(|e| e.to_string())?;
        let data = mem.data_mut(&mut *self.ctx);
        let start = ptr as usize;
        let len = data.len();
        start
            .checked_add(bytes.len())
            .and_then(|end| data.get_mut(start..end))
            .ok_or_else(|| {
                format!(
                    "write of {} bytes at {ptr:#x} is outside memory of {len} bytes",
                    bytes.len()
                )
            })?
            .copy_from_slice(bytes);
        Ok(())
    }
}

/// Lowers a value into `m` and stores its pointer with `set_result_ptr` (how host imports such
/// as `get_call_parameters` return records).
pub(crate) fn return_record(
    ctx: &mut impl AsContextMut<Data = HostState>,
    m: &ModuleRuntime,
    function: &str,
    fields: &[IValue],
) -> Result<(), CallError> {
    let ptr = lilo::lower_record(
        &mut Target {
            ctx: &mut *ctx,
            m,
            function,
        },
        fields,
        0,
    )
    .map_err(|e| m.abi(function, e))?;
    let set = m.sdk_export("set_result_ptr", function)?;
    set.call(&mut *ctx, &[Val::I32(ptr as i32)], &mut [])
        .map_err(|e| wasm_error(&*ctx, e, &m.name, function))
}
