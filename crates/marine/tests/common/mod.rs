//! Helpers shared by the integration tests: fixture bytes, loaders, a collecting logger and a
//! tiny Wasm binary builder (no filesystem access, so the same tests run natively and on wasm32).
#![allow(dead_code)]

use std::sync::{Arc, Mutex};

use lineage_marine::{
    CallError, LoadError, LogLevel, LogRecord, LogSource, Logger, ModuleConfig, Service,
    ServiceConfig,
};

pub const GREETING: &[u8] = include_bytes!("../../../../tests/fixtures/greeting.wasm");
pub const CALLEE: &[u8] = include_bytes!("../../../../tests/fixtures/callee.wasm");
pub const FACADE: &[u8] = include_bytes!("../../../../tests/fixtures/facade.wasm");
pub const TYPES: &[u8] = include_bytes!("../../../../tests/fixtures/types.wasm");
pub const SPIN: &[u8] = include_bytes!("../../../../tests/fixtures/spin.wasm");
pub const HOG: &[u8] = include_bytes!("../../../../tests/fixtures/hog.wasm");
pub const TRAP: &[u8] = include_bytes!("../../../../tests/fixtures/trap.wasm");

/// One Wasm page.
pub const PAGE: u64 = 64 * 1024;
pub const MIB: u64 = 1024 * 1024;

/// Loads a single-module service, panicking with the error on failure.
pub fn load(name: &str, wasm: &[u8], config: ServiceConfig) -> Service {
    Service::load([(name, wasm)], config).unwrap_or_else(|e| panic!("loading `{name}` failed: {e}"))
}

/// Loads a single-module service with the default configuration.
pub fn load_default(name: &str, wasm: &[u8]) -> Service {
    load(name, wasm, ServiceConfig::default())
}

/// The service [callee, facade].
pub fn load_facade(config: ServiceConfig) -> Service {
    Service::load([("callee", CALLEE), ("facade", FACADE)], config)
        .unwrap_or_else(|e| panic!("loading [callee, facade] failed: {e}"))
}

/// Loading that must fail; returns the error.
pub fn load_err<'a>(
    modules: impl IntoIterator<Item = (&'a str, &'a [u8])>,
    config: ServiceConfig,
) -> LoadError {
    match Service::load(modules, config) {
        Ok(s) => panic!("loading succeeded unexpectedly: {s:?}"),
        Err(e) => e,
    }
}

/// A call that must succeed.
pub fn call(service: &mut Service, function: &str, args: serde_json::Value) -> serde_json::Value {
    service
        .call_json(function, &args)
        .unwrap_or_else(|e| panic!("{function}({args}) failed: {e}"))
}

/// A call that must fail; returns the error.
pub fn call_err(service: &mut Service, function: &str, args: serde_json::Value) -> CallError {
    match service.call_json(function, &args) {
        Ok(v) => panic!("{function}({args}) succeeded unexpectedly with {v}"),
        Err(e) => e,
    }
}

/// A logger that keeps every record.
#[derive(Default)]
pub struct Collect(Mutex<Vec<LogRecord>>);

impl Collect {
    pub fn new() -> Arc<Collect> {
        Arc::new(Collect::default())
    }

    /// Takes the records logged so far.
    pub fn take(&self) -> Vec<LogRecord> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }

    /// Records of one source, as (level, target, message).
    pub fn of(records: &[LogRecord], source: LogSource) -> Vec<(LogLevel, i32, String)> {
        records
            .iter()
            .filter(|r| r.source == source)
            .map(|r| (r.level, r.target, r.message.clone()))
            .collect()
    }
}

impl Logger for Collect {
    fn log(&self, record: &LogRecord) {
        self.0.lock().unwrap().push(record.clone());
    }
}

/// A config whose logger is `logger`.
pub fn with_logger(logger: &Arc<Collect>) -> ServiceConfig {
    let l: Arc<dyn Logger> = logger.clone();
    ServiceConfig::default().logger(l)
}

/// A module configuration of `name` with logging enabled.
pub fn module(name: &str) -> ModuleConfig {
    ModuleConfig::new(name)
}

// ---------------------------------------------------------------------------------------------
// Wasm binary building.

pub fn uleb(mut n: u64, out: &mut Vec<u8>) {
    loop {
        let b = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(b);
            return;
        }
        out.push(b | 0x80);
    }
}

/// A section: id, ULEB128 size, payload.
pub fn section(id: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = vec![id];
    uleb(payload.len() as u64, &mut out);
    out.extend_from_slice(payload);
    out
}

/// A custom section (id 0): name length, name, payload.
pub fn custom_section(name: &str, payload: &[u8]) -> Vec<u8> {
    let mut body = Vec::new();
    uleb(name.len() as u64, &mut body);
    body.extend_from_slice(name.as_bytes());
    body.extend_from_slice(payload);
    section(0, &body)
}

/// `wasm` with a custom section appended at the end.
pub fn append_custom_section(wasm: &[u8], name: &str, payload: &[u8]) -> Vec<u8> {
    let mut out = wasm.to_vec();
    out.extend(custom_section(name, payload));
    out
}

fn read_uleb(bytes: &[u8], pos: &mut usize) -> u64 {
    let mut result = 0u64;
    let mut shift = 0;
    loop {
        let b = bytes[*pos];
        *pos += 1;
        result |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return result;
        }
        shift += 7;
    }
}

/// The top-level sections of a module: (id, custom section name if id 0, whole section bytes).
pub fn sections(wasm: &[u8]) -> Vec<(u8, Option<String>, Vec<u8>)> {
    assert_eq!(&wasm[..8], b"\0asm\x01\0\0\0", "not a Wasm 1 module");
    let mut pos = 8;
    let mut out = Vec::new();
    while pos < wasm.len() {
        let start = pos;
        let id = wasm[pos];
        pos += 1;
        let size = read_uleb(wasm, &mut pos) as usize;
        let payload_start = pos;
        pos += size;
        let name = (id == 0).then(|| {
            let mut p = payload_start;
            let len = read_uleb(wasm, &mut p) as usize;
            String::from_utf8(wasm[p..p + len].to_vec()).unwrap()
        });
        out.push((id, name, wasm[start..pos].to_vec()));
    }
    out
}

/// The payload of the custom section `name` (the first one).
pub fn custom_payload(wasm: &[u8], name: &str) -> Option<Vec<u8>> {
    sections(wasm)
        .into_iter()
        .find(|(_, n, _)| n.as_deref() == Some(name))
        .map(|(_, _, bytes)| {
            let mut p = 1;
            let _size = read_uleb(&bytes, &mut p);
            let len = read_uleb(&bytes, &mut p) as usize;
            bytes[p + len..].to_vec()
        })
}

/// `wasm` with every custom section `name` replaced by one with `payload` (in place of the
/// first), or removed when `payload` is `None`.
pub fn replace_custom_section(wasm: &[u8], name: &str, payload: Option<&[u8]>) -> Vec<u8> {
    let mut out = wasm[..8].to_vec();
    let mut replaced = false;
    for (_, n, bytes) in sections(wasm) {
        if n.as_deref() == Some(name) {
            if let (Some(p), false) = (payload, replaced) {
                out.extend(custom_section(name, p));
                replaced = true;
            }
        } else {
            out.extend(bytes);
        }
    }
    out
}

fn vec_of(items: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::new();
    uleb(items.len() as u64, &mut out);
    for i in items {
        out.extend_from_slice(i);
    }
    out
}

fn name(s: &str) -> Vec<u8> {
    let mut out = Vec::new();
    uleb(s.len() as u64, &mut out);
    out.extend_from_slice(s.as_bytes());
    out
}

/// The `interface-types` section of the tiny module (see [`tiny_module`]): version `it_version`;
/// types 0 `() -> ()`, 1 `() -> core i32`, 2 `() -> s32`; exports `recurse` (type 0) and
/// `answer` (type 1); adapters `recurse: call-core 0`, `answer: call-core 1, s32.from_i32`.
pub fn tiny_it_section(it_version: &str) -> Vec<u8> {
    let mut b = vec![0x05];
    b.extend(name(it_version));
    // types
    b.extend_from_slice(&[0x00, 3, 0x00, 0, 0, 0x00, 0, 1, 0x0c, 0x00, 0, 1, 0x02]);
    // exports
    b.extend_from_slice(&[0x03, 2]);
    b.extend(name("recurse"));
    b.push(0);
    b.extend(name("answer"));
    b.push(1);
    // adapters
    b.extend_from_slice(&[0x02, 2, 0, 1, 0x01, 0x00, 2, 2, 0x01, 0x01, 0x06]);
    // implementations
    b.extend_from_slice(&[0x04, 2, 0, 0, 1, 2]);
    b
}

/// What goes into the tiny module.
pub struct Tiny {
    pub export_memory: bool,
    /// `interface-types` section payload, if any.
    pub it: Option<Vec<u8>>,
    /// `__fluence_sdk_version` payload, if any.
    pub sdk_version: Option<&'static str>,
}

impl Default for Tiny {
    fn default() -> Self {
        Tiny {
            export_memory: true,
            it: Some(tiny_it_section("0.28.0")),
            sdk_version: Some("0.14.0"),
        }
    }
}

/// A hand-written module: `recurse()` calls itself forever, `answer()` returns 42, one memory
/// of one page; custom sections as `t` says.
pub fn tiny_module(t: Tiny) -> Vec<u8> {
    let mut m = b"\0asm\x01\0\0\0".to_vec();
    m.extend(section(
        1,
        &vec_of(&[vec![0x60, 0, 0], vec![0x60, 0, 1, 0x7f]]),
    ));
    m.extend(section(3, &vec_of(&[vec![0], vec![1]])));
    m.extend(section(5, &vec_of(&[vec![0x00, 1]])));
    let mut exports = vec![];
    if t.export_memory {
        exports.push([name("memory"), vec![0x02, 0]].concat());
    }
    exports.push([name("recurse"), vec![0x00, 0]].concat());
    exports.push([name("answer"), vec![0x00, 1]].concat());
    m.extend(section(7, &vec_of(&exports)));
    // bodies: (call 0) and (i32.const 42)
    let body0 = vec![0, 0x10, 0x00, 0x0b];
    let body1 = vec![0, 0x41, 42, 0x0b];
    let with_size = |b: Vec<u8>| {
        let mut out = Vec::new();
        uleb(b.len() as u64, &mut out);
        out.extend(b);
        out
    };
    m.extend(section(10, &vec_of(&[with_size(body0), with_size(body1)])));
    if let Some(v) = t.sdk_version {
        m.extend(custom_section("__fluence_sdk_version", v.as_bytes()));
    }
    if let Some(it) = t.it {
        m.extend(custom_section("interface-types", &it));
    }
    m
}

/// The smallest valid module: the header plus a `__fluence_sdk_version` section.
pub fn empty_module_with_sdk_version() -> Vec<u8> {
    let mut m = b"\0asm\x01\0\0\0".to_vec();
    m.extend(custom_section("__fluence_sdk_version", b"0.14.0"));
    m
}
