//! Host-side state of a service: logging, call parameters, the memory limiter, clock and
//! randomness. One `HostState` lives in each service's wasmi `Store`.

use std::collections::HashMap;

use rand_chacha::ChaCha20Rng;
use rand_core::{RngCore, SeedableRng};
use serde::{Deserialize, Serialize};
use wasmi::errors::MemoryError;
use wasmi::ResourceLimiter;

use crate::config::Environment;

/// Severity of a log record, as marine-rs-sdk's logger encodes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogLevel {
    Error,
    Warn,
    Info,
    Debug,
    Trace,
}

impl LogLevel {
    /// marine-rs-sdk sends 1 = error … 5 = trace; anything else is logged as info.
    pub(crate) fn from_sdk(level: i32) -> LogLevel {
        match level {
            1 => LogLevel::Error,
            2 => LogLevel::Warn,
            3 => LogLevel::Info,
            4 => LogLevel::Debug,
            5 => LogLevel::Trace,
            _ => LogLevel::Info,
        }
    }
}

/// Where a log line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogSource {
    /// The module's logger (`log_utf8_string`).
    Logger,
    /// WASI fd 1.
    Stdout,
    /// WASI fd 2.
    Stderr,
}

/// One line a module logged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogRecord {
    pub module: String,
    pub level: LogLevel,
    pub source: LogSource,
    /// marine-rs-sdk's target mask (0 when none).
    pub target: i32,
    pub message: String,
}

/// Receives what modules log.
///
/// ```
/// use std::sync::{Arc, Mutex};
/// use lineage_marine::{Logger, LogRecord};
/// #[derive(Default)]
/// struct Collect(Mutex<Vec<LogRecord>>);
/// impl Logger for Collect {
///     fn log(&self, record: &LogRecord) { self.0.lock().unwrap().push(record.clone()) }
/// }
/// let logger: Arc<dyn Logger> = Arc::new(Collect::default());
/// ```
pub trait Logger: Send + Sync {
    fn log(&self, record: &LogRecord);
}

/// Forwards module logs to the `log` crate with target `marine::<module>`.
#[derive(Debug, Default, Clone, Copy)]
pub struct LogLogger;

impl Logger for LogLogger {
    fn log(&self, r: &LogRecord) {
        let level = match r.level {
            LogLevel::Error => log::Level::Error,
            LogLevel::Warn => log::Level::Warn,
            LogLevel::Info => log::Level::Info,
            LogLevel::Debug => log::Level::Debug,
            LogLevel::Trace => log::Level::Trace,
        };
        log::log!(target: "marine", level, "[{}] {}", r.module, r.message);
    }
}

/// A security tetraplet: where an argument value came from.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct SecurityTetraplet {
    pub peer_pk: String,
    pub service_id: String,
    pub function_name: String,
    pub lens: String,
}

/// The particle a call belongs to.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ParticleParameters {
    pub id: String,
    pub init_peer_id: String,
    pub timestamp: u64,
    pub ttl: u32,
    pub script: String,
    pub signature: Vec<u8>,
    pub token: String,
}

/// What `marine_rs_sdk::get_call_parameters()` returns inside the module.
///
/// ```
/// use lineage_marine::CallParameters;
/// let mut cp = CallParameters::default();
/// cp.particle.id = "particle-1".into();
/// cp.service_id = "greeting".into();
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct CallParameters {
    pub particle: ParticleParameters,
    pub service_id: String,
    pub service_creator_peer_id: String,
    pub host_id: String,
    pub worker_id: String,
    /// One list per argument of the call.
    pub tetraplets: Vec<Vec<SecurityTetraplet>>,
}

/// Caps the summed linear memory of every module in the store.
#[derive(Debug)]
pub(crate) struct ServiceLimiter {
    pub limit: u64,
    pub total: u64,
    /// Set when a growth was refused; a trap that follows is reported as a memory-limit error.
    pub refused: bool,
}

impl ResourceLimiter for ServiceLimiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> Result<bool, wasmi_core::LimiterError> {
        let grow_by = desired.saturating_sub(current) as u64;
        let new_total = self.total.saturating_add(grow_by);
        if new_total > self.limit || maximum.is_some_and(|m| desired > m) {
            self.refused = true;
            return Ok(false);
        }
        self.total = new_total;
        Ok(true)
    }

    fn memory_grow_failed(&mut self, _error: &MemoryError) -> Result<(), wasmi_core::LimiterError> {
        self.refused = true;
        Ok(())
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> Result<bool, wasmi_core::LimiterError> {
        Ok(desired <= maximum.unwrap_or(1_000_000).min(1_000_000))
    }

    fn instances(&self) -> usize {
        1_000
    }

    fn tables(&self) -> usize {
        1_000
    }

    fn memories(&self) -> usize {
        1_000
    }
}

/// Clock and randomness as configured.
pub(crate) struct Entropy {
    deterministic_clock: Option<u64>,
    rng: Option<ChaCha20Rng>,
    start: web_time::Instant,
}

impl Entropy {
    pub fn new(env: Environment) -> Self {
        match env {
            Environment::Live => Entropy {
                deterministic_clock: None,
                rng: None,
                start: web_time::Instant::now(),
            },
            Environment::Deterministic { clock_ns, seed } => Entropy {
                deterministic_clock: Some(clock_ns),
                rng: Some(ChaCha20Rng::from_seed(seed)),
                start: web_time::Instant::now(),
            },
        }
    }

    /// Wall-clock nanoseconds since the Unix epoch.
    pub fn realtime_ns(&self) -> u64 {
        if let Some(t) = self.deterministic_clock {
            return t;
        }
        web_time::SystemTime::now()
            .duration_since(web_time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0)
    }

    /// Monotonic nanoseconds since the service was loaded (fixed in deterministic mode).
    pub fn monotonic_ns(&self) -> u64 {
        if self.deterministic_clock.is_some() {
            return 0;
        }
        self.start.elapsed().as_nanos() as u64
    }

    pub fn fill(&mut self, buf: &mut [u8]) -> Result<(), String> {
        match &mut self.rng {
            Some(rng) => {
                rng.fill_bytes(buf);
                Ok(())
            }
            None => getrandom::getrandom(buf).map_err(|e| e.to_string()),
        }
    }
}

/// The data of a service's store.
pub(crate) struct HostState {
    pub limiter: ServiceLimiter,
    pub logger: std::sync::Arc<dyn Logger>,
    pub call_parameters: CallParameters,
    pub entropy: Entropy,
    /// Partial stdout/stderr lines per (module, fd).
    pub out_lines: HashMap<(String, u32), Vec<u8>>,
    /// Depth of nested cross-module IT calls.
    pub call_depth: usize,
    /// Fuel each call starts with (for error messages).
    pub fuel_budget: u64,
}

impl HostState {
    /// Appends bytes written to fd 1/2 and logs every completed line.
    pub fn write_output(&mut self, module: &str, fd: u32, bytes: &[u8], enabled: bool) {
        if !enabled {
            return;
        }
        let buf = self.out_lines.entry((module.to_string(), fd)).or_default();
        buf.extend_from_slice(bytes);
        let mut lines = Vec::new();
        while let Some(pos) = buf.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = buf.drain(..=pos).collect();
            lines.push(line);
        }
        // Keep one pathological unterminated write from growing without bound.
        if buf.len() > 64 * 1024 {
            lines.push(std::mem::take(buf));
        }
        for line in lines {
            self.emit_output(module, fd, &line);
        }
    }

    /// Logs what is left of partial lines (end of a call).
    pub fn flush_output(&mut self) {
        let pending: Vec<((String, u32), Vec<u8>)> = self
            .out_lines
            .iter_mut()
            .filter(|(_, v)| !v.is_empty())
            .map(|(k, v)| (k.clone(), std::mem::take(v)))
            .collect();
        for ((module, fd), line) in pending {
            self.emit_output(&module, fd, &line);
        }
    }

    fn emit_output(&self, module: &str, fd: u32, line: &[u8]) {
        let text = String::from_utf8_lossy(line);
        let (level, source) = if fd == 2 {
            (LogLevel::Warn, LogSource::Stderr)
        } else {
            (LogLevel::Info, LogSource::Stdout)
        };
        self.logger.log(&LogRecord {
            module: module.to_string(),
            level,
            source,
            target: 0,
            message: text.trim_end_matches(['\n', '\r']).to_string(),
        });
    }
}
