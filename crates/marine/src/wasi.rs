//! A WASI preview1 subset in pure Rust, so services run the same in a browser and on a node:
//! args, environ, clocks, random, stdout/stderr to the logger, proc_exit. There is no file
//! system: no directory is pre-opened, so file access fails inside the module with WASI's
//! `EBADF`/`ENOTCAPABLE`, and every other WASI function answers `ENOSYS`.

use std::sync::Arc;

use wasmi::{Caller, Extern, FuncType, Linker, Memory, Module, Val, ValType};

use crate::error::LoadError;
use crate::host::HostState;

pub(crate) const NAMESPACE: &str = "wasi_snapshot_preview1";

const ESUCCESS: i32 = 0;
const EBADF: i32 = 8;
const EFAULT: i32 = 21;
const EINVAL: i32 = 28;
const EIO: i32 = 29;
const ENOSYS: i32 = 52;
const ESPIPE: i32 = 70;

/// The WASI view of one module: what `args_get` and `environ_get` return.
#[derive(Debug)]
pub(crate) struct ModuleWasi {
    pub module: String,
    pub args: Vec<String>,
    pub envs: Vec<String>,
    pub logger_enabled: bool,
}

/// Defines, in `linker`, every `wasi_snapshot_preview1` function `module` imports.
pub(crate) fn define_imports(
    linker: &mut Linker<HostState>,
    module: &Module,
    wasi: &Arc<ModuleWasi>,
) -> Result<(), LoadError> {
    let imports: Vec<(String, wasmi::ExternType)> = module
        .imports()
        .filter(|i| i.module() == NAMESPACE)
        .map(|i| (i.name().to_string(), i.ty().clone()))
        .collect();
    for (name, ty) in imports {
        let wasmi::ExternType::Func(func_ty) = ty else {
            return Err(unresolved(
                &wasi.module,
                &name,
                "only functions can be imported from WASI",
            ));
        };
        define_one(linker, &name, func_ty, wasi)
            .map_err(|reason| unresolved(&wasi.module, &name, &reason))?;
    }
    Ok(())
}

fn unresolved(module: &str, name: &str, reason: &str) -> LoadError {
    LoadError::UnresolvedImport {
        module: module.to_string(),
        namespace: NAMESPACE.to_string(),
        name: name.to_string(),
        reason: reason.to_string(),
    }
}

fn define_one(
    linker: &mut Linker<HostState>,
    name: &str,
    func_ty: FuncType,
    wasi: &Arc<ModuleWasi>,
) -> Result<(), String> {
    let w = Arc::clone(wasi);
    let defined = match name {
        "args_sizes_get" => linker.func_wrap(
            NAMESPACE,
            name,
            move |c: Caller<'_, HostState>, argc: i32, size: i32| sizes_get(c, &w.args, argc, size),
        ),
        "args_get" => linker.func_wrap(
            NAMESPACE,
            name,
            move |c: Caller<'_, HostState>, ptrs: i32, buf: i32| strings_get(c, &w.args, ptrs, buf),
        ),
        "environ_sizes_get" => linker.func_wrap(
            NAMESPACE,
            name,
            move |c: Caller<'_, HostState>, n: i32, size: i32| sizes_get(c, &w.envs, n, size),
        ),
        "environ_get" => linker.func_wrap(
            NAMESPACE,
            name,
            move |c: Caller<'_, HostState>, ptrs: i32, buf: i32| strings_get(c, &w.envs, ptrs, buf),
        ),
        "clock_time_get" => linker.func_wrap(
            NAMESPACE,
            name,
            |mut c: Caller<'_, HostState>, id: i32, _precision: i64, out: i32| {
                let now = match id {
                    0 => c.data().entropy.realtime_ns(),
                    1..=3 => c.data().entropy.monotonic_ns(),
                    _ => return EINVAL,
                };
                errno(write_bytes(&mut c, out, &now.to_le_bytes()))
            },
        ),
        "clock_res_get" => linker.func_wrap(
            NAMESPACE,
            name,
            |mut c: Caller<'_, HostState>, id: i32, out: i32| {
                if !(0..=3).contains(&id) {
                    return EINVAL;
                }
                errno(write_bytes(&mut c, out, &1_000u64.to_le_bytes()))
            },
        ),
        "random_get" => linker.func_wrap(
            NAMESPACE,
            name,
            |mut c: Caller<'_, HostState>, buf: i32, len: i32| random_get(&mut c, buf, len),
        ),
        "fd_write" => linker.func_wrap(
            NAMESPACE,
            name,
            move |c: Caller<'_, HostState>, fd: i32, iovs: i32, n: i32, written: i32| {
                fd_write(c, &w, fd, iovs, n, written)
            },
        ),
        "fd_read" => linker.func_wrap(
            NAMESPACE,
            name,
            |mut c: Caller<'_, HostState>, fd: i32, _iovs: i32, _n: i32, read: i32| {
                // stdin is always at end of file; nothing else is open.
                if fd != 0 {
                    return EBADF;
                }
                errno(write_bytes(&mut c, read, &0u32.to_le_bytes()))
            },
        ),
        "fd_fdstat_get" => linker.func_wrap(
            NAMESPACE,
            name,
            |mut c: Caller<'_, HostState>, fd: i32, out: i32| {
                if !(0..=2).contains(&fd) {
                    return EBADF;
                }
                // filetype character_device (2), no flags, all rights.
                let mut stat = [0u8; 24];
                stat[0] = 2;
                stat[8..16].copy_from_slice(&u64::MAX.to_le_bytes());
                stat[16..24].copy_from_slice(&u64::MAX.to_le_bytes());
                errno(write_bytes(&mut c, out, &stat))
            },
        ),
        "fd_seek" => linker.func_wrap(
            NAMESPACE,
            name,
            |_c: Caller<'_, HostState>, fd: i32, _off: i64, _whence: i32, _out: i32| {
                if (0..=2).contains(&fd) {
                    ESPIPE
                } else {
                    EBADF
                }
            },
        ),
        "fd_close" | "fd_sync" | "fd_datasync" => {
            linker.func_wrap(NAMESPACE, name, |_c: Caller<'_, HostState>, fd: i32| {
                if (0..=2).contains(&fd) {
                    ESUCCESS
                } else {
                    EBADF
                }
            })
        }
        // No pre-opened directories: libc stops looking at the first EBADF.
        "fd_prestat_get" => linker.func_wrap(
            NAMESPACE,
            name,
            |_c: Caller<'_, HostState>, _fd: i32, _out: i32| EBADF,
        ),
        "fd_prestat_dir_name" => linker.func_wrap(
            NAMESPACE,
            name,
            |_c: Caller<'_, HostState>, _fd: i32, _p: i32, _l: i32| EBADF,
        ),
        "sched_yield" => linker.func_wrap(NAMESPACE, name, |_c: Caller<'_, HostState>| ESUCCESS),
        "proc_exit" => linker.func_wrap(
            NAMESPACE,
            name,
            |_c: Caller<'_, HostState>, code: i32| -> Result<(), wasmi::Error> {
                Err(wasmi::Error::i32_exit(code))
            },
        ),
        _ => {
            // Everything else (files, sockets, polling) is unavailable: answer ENOSYS.
            if func_ty.results() != [ValType::I32] {
                return Err(format!("`{name}` is not supported by this runtime"));
            }
            linker.func_new(
                NAMESPACE,
                name,
                func_ty,
                |_c, _args: &[Val], out: &mut [Val]| {
                    if let Some(slot) = out.first_mut() {
                        *slot = Val::I32(ENOSYS);
                    }
                    Ok(())
                },
            )
        }
    };
    defined.map(|_| ()).map_err(|e| e.to_string())
}

fn errno(r: Result<(), i32>) -> i32 {
    match r {
        Ok(()) => ESUCCESS,
        Err(e) => e,
    }
}

fn memory(c: &Caller<'_, HostState>) -> Result<Memory, i32> {
    c.get_export("memory")
        .and_then(Extern::into_memory)
        .ok_or(EFAULT)
}

fn write_bytes(c: &mut Caller<'_, HostState>, ptr: i32, bytes: &[u8]) -> Result<(), i32> {
    let mem = memory(c)?;
    let data = mem.data_mut(&mut *c);
    let start = ptr as u32 as usize;
    let end = start.checked_add(bytes.len()).ok_or(EFAULT)?;
    data.get_mut(start..end)
        .ok_or(EFAULT)?
        .copy_from_slice(bytes);
    Ok(())
}

fn sizes_get(mut c: Caller<'_, HostState>, list: &[String], count_ptr: i32, size_ptr: i32) -> i32 {
    let size: usize = list.iter().map(|s| s.len() + 1).sum();
    errno(
        write_bytes(&mut c, count_ptr, &(list.len() as u32).to_le_bytes())
            .and_then(|()| write_bytes(&mut c, size_ptr, &(size as u32).to_le_bytes())),
    )
}

fn strings_get(mut c: Caller<'_, HostState>, list: &[String], ptrs: i32, buf: i32) -> i32 {
    let mut offset = buf as u32;
    for (i, s) in list.iter().enumerate() {
        let mut z = Vec::with_capacity(s.len() + 1);
        z.extend_from_slice(s.as_bytes());
        z.push(0);
        let slot = (ptrs as u32).wrapping_add(4 * i as u32) as i32;
        if let Err(e) = write_bytes(&mut c, slot, &offset.to_le_bytes())
            .and_then(|()| write_bytes(&mut c, offset as i32, &z))
        {
            return e;
        }
        offset = offset.wrapping_add(z.len() as u32);
    }
    ESUCCESS
}

fn random_get(c: &mut Caller<'_, HostState>, buf: i32, len: i32) -> i32 {
    let len = len as u32 as usize;
    if len > 64 * 1024 * 1024 {
        return EINVAL;
    }
    let mut bytes = vec![0u8; len];
    if c.data_mut().entropy.fill(&mut bytes).is_err() {
        return EIO;
    }
    errno(write_bytes(c, buf, &bytes))
}

fn fd_write(
    mut c: Caller<'_, HostState>,
    w: &ModuleWasi,
    fd: i32,
    iovs: i32,
    n: i32,
    written: i32,
) -> i32 {
    if fd != 1 && fd != 2 {
        return EBADF;
    }
    let Ok(mem) = memory(&c) else { return EFAULT };
    let mut out = Vec::new();
    {
        let data = mem.data(&c);
        for i in 0..(n as u32) {
            let at = (iovs as u32 as usize).saturating_add(8 * i as usize);
            let Some(iov) = data.get(at..at + 8) else {
                return EFAULT;
            };
            let ptr = u32::from_le_bytes([iov[0], iov[1], iov[2], iov[3]]) as usize;
            let len = u32::from_le_bytes([iov[4], iov[5], iov[6], iov[7]]) as usize;
            let Some(bytes) = ptr.checked_add(len).and_then(|end| data.get(ptr..end)) else {
                return EFAULT;
            };
            out.extend_from_slice(bytes);
        }
    }
    let total = out.len() as u32;
    c.data_mut()
        .write_output(&w.module, fd as u32, &out, w.logger_enabled);
    errno(write_bytes(&mut c, written, &total.to_le_bytes()))
}
