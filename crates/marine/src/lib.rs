//! # lineage-marine
//!
//! A Marine-compatible Wasm service runtime on the pure-Rust [`wasmi`] interpreter. It runs
//! unmodified services built with `marine-rs-sdk` and the `marine` CLI — one module or several
//! linked by name, the last one the facade — in a browser tab (wasm32) and on a native node
//! alike, bounded so untrusted code cannot hang or exhaust its host:
//!
//! - fuel per call ([`Limits::fuel_per_call`]): an endless loop ends in [`CallError::OutOfFuel`]
//!   and the service takes the next call;
//! - one memory cap for all modules of a service ([`Limits::memory_bytes`]);
//! - bounded module size, Wasm call depth, cross-module call depth and lifted value sizes.
//!
//! Services are called with JSON ([`Service::call_json`], like Marine's `call_with_json`) or
//! typed [`IValue`]s ([`Service::call`]); [`Service::interface`] lists functions and records.
//! Modules see Marine's host API (`log_utf8_string`, `get_call_parameters`) and a WASI preview1
//! subset implemented in pure Rust, with an optional deterministic clock and random stream.
//!
//! ```no_run
//! use lineage_marine::{Limits, Service, ServiceConfig};
//! let callee = std::fs::read("tests/fixtures/callee.wasm")?;
//! let facade = std::fs::read("tests/fixtures/facade.wasm")?;
//! let config = ServiceConfig::default().limits(Limits { fuel_per_call: 100_000_000, ..Limits::default() });
//! let mut service = Service::load([("callee", &callee[..]), ("facade", &facade[..])], config)?;
//! println!("{}", service.interface());
//! let shout = service.call_json("shout", &serde_json::json!(["hi"]))?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod adapter;
mod compiled;
mod config;
mod error;
mod host;
mod it;
mod json;
mod lilo;
mod link;
mod service;
mod types;
mod wasi;

pub use compiled::CompiledModules;
pub use config::{Environment, Limits, ModuleConfig, ServiceConfig};
pub use error::{CallError, LoadError};
pub use host::{
    CallParameters, LogLevel, LogLogger, LogRecord, LogSource, Logger, ParticleParameters,
    SecurityTetraplet,
};
pub use json::to_json;
pub use service::Service;
pub use types::{FunctionSignature, IType, IValue, NamedType, RecordType, ServiceInterface};
