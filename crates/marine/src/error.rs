//! Typed errors of loading and calling services. Every variant names the module (and, for
//! calls, the function) it concerns.

use thiserror::Error;

/// Loading a service failed; nothing was kept.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum LoadError {
    #[error("a service needs at least one module")]
    NoModules,
    #[error("these compiled modules cannot serve this config: {0}")]
    LimitsMismatch(String),
    #[error("module name `{0}` is invalid: use 1-64 characters of [A-Za-z0-9_-]")]
    InvalidModuleName(String),
    #[error("module `{0}` is given twice")]
    DuplicateModule(String),
    #[error("module `{module}` is {size} bytes, over the limit of {limit} bytes")]
    ModuleTooLarge {
        module: String,
        size: usize,
        limit: usize,
    },
    #[error("module `{module}` is not valid Wasm: {reason}")]
    InvalidWasm { module: String, reason: String },
    #[error("module `{module}` has no `interface-types` section: build it with marine-rs-sdk and the `marine` CLI (`marine build`)")]
    NoItSection { module: String },
    #[error("module `{module}` has {count} `interface-types` sections, expected exactly one")]
    MultipleItSections { module: String, count: usize },
    #[error("module `{module}`: malformed `interface-types` section at byte {offset}: {reason}")]
    MalformedIt {
        module: String,
        offset: usize,
        reason: String,
    },
    #[error("module `{module}`: {reason}")]
    Incompatible { module: String, reason: String },
    #[error("module `{module}` imports `{namespace}.{name}`: {reason}")]
    UnresolvedImport {
        module: String,
        namespace: String,
        name: String,
        reason: String,
    },
    #[error("module `{module}`: {feature} is not supported by this runtime")]
    Unsupported { module: String, feature: String },
    #[error("module `{module}` could not be instantiated: {reason}")]
    Instantiation { module: String, reason: String },
    #[error("module `{module}` failed while initialising: {source}")]
    Init {
        module: String,
        #[source]
        source: Box<CallError>,
    },
}

/// A call failed. The service stays loaded and usable for the next call.
#[derive(Debug, Error, Clone, PartialEq)]
#[non_exhaustive]
pub enum CallError {
    #[error("service has no function `{function}`; it exports: {available}")]
    NoSuchFunction { function: String, available: String },
    #[error("function `{function}` takes {expected} argument(s), got {got}")]
    ArgumentCount {
        function: String,
        expected: usize,
        got: usize,
    },
    #[error("function `{function}`, argument `{path}`: expected {expected}, got {got}")]
    ArgumentType {
        function: String,
        path: String,
        expected: String,
        got: String,
    },
    #[error("`{module}.{function}` ran out of fuel (budget {fuel} per call)")]
    OutOfFuel {
        module: String,
        function: String,
        fuel: u64,
    },
    #[error("`{module}.{function}` exceeded the service memory limit of {limit} bytes")]
    MemoryLimit {
        module: String,
        function: String,
        limit: u64,
    },
    #[error("`{module}.{function}` exceeded the call stack limit: {reason}")]
    StackOverflow {
        module: String,
        function: String,
        reason: String,
    },
    #[error("`{module}.{function}` trapped: {trap}")]
    Trap {
        module: String,
        function: String,
        trap: String,
    },
    #[error("`{module}.{function}` exited with status {code}")]
    ProcExit {
        module: String,
        function: String,
        code: i32,
    },
    /// The module broke the Marine ABI: bad pointers, wrong stack shapes, values that don't fit.
    #[error("`{module}.{function}` broke the Marine ABI: {reason}")]
    Abi {
        module: String,
        function: String,
        reason: String,
    },
    #[error("service result does not convert to JSON: {0}")]
    Result(String),
}

impl CallError {
    /// Stable machine-readable code of the error kind (what the JS API exposes as `error.code`).
    pub fn code(&self) -> &'static str {
        match self {
            CallError::NoSuchFunction { .. } => "NO_SUCH_FUNCTION",
            CallError::ArgumentCount { .. } => "ARGUMENT_COUNT",
            CallError::ArgumentType { .. } => "ARGUMENT_TYPE",
            CallError::OutOfFuel { .. } => "OUT_OF_FUEL",
            CallError::MemoryLimit { .. } => "MEMORY_LIMIT",
            CallError::StackOverflow { .. } => "STACK_OVERFLOW",
            CallError::Trap { .. } => "TRAP",
            CallError::ProcExit { .. } => "PROC_EXIT",
            CallError::Abi { .. } => "ABI",
            CallError::Result(_) => "RESULT",
        }
    }
}

/// Carries a [`CallError`] through wasmi's host-function boundary (cross-module calls).
#[derive(Debug)]
pub(crate) struct HostCallError(pub CallError);

impl std::fmt::Display for HostCallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl wasmi::errors::HostError for HostCallError {}
