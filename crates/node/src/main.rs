//! `lineage`: the Lineage edge command-line tool.
//!
//! ```text
//! lineage service call callee.wasm facade.wasm shout '["hi"]'
//! lineage service interface callee.wasm facade.wasm
//! ```

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{anyhow, bail, Context, Result};
use clap::{Args, Parser, Subcommand};
use lineage_marine::{CallParameters, Environment, Limits, ModuleConfig, Service, ServiceConfig};

#[derive(Parser)]
#[command(
    name = "lineage",
    version,
    about = "Lineage edge: run and inspect Marine services"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Marine services: call a function, show the interface.
    #[command(subcommand)]
    Service(ServiceCommand),
}

#[derive(Subcommand)]
enum ServiceCommand {
    /// Load modules (dependencies first, facade last) and call a facade function with JSON
    /// arguments: `lineage service call callee.wasm facade.wasm shout '["hi"]'`.
    Call {
        /// Module files followed by the function name and, optionally, JSON arguments.
        #[arg(required = true, num_args = 2..)]
        items: Vec<String>,
        #[command(flatten)]
        opts: ServiceOpts,
        /// Call parameters as JSON (particle id, init peer, service id, tetraplets …).
        #[arg(long, value_name = "JSON")]
        call_params: Option<String>,
        /// Print the result as compact JSON on one line.
        #[arg(long)]
        compact: bool,
    },
    /// Print the service interface (functions and record types), like `mrepl`'s `interface`.
    Interface {
        #[arg(required = true)]
        modules: Vec<PathBuf>,
        #[command(flatten)]
        opts: ServiceOpts,
        /// Print JSON instead of Aqua-like text.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Args)]
struct ServiceOpts {
    /// Fuel per call (≈ Wasm instructions).
    #[arg(long, default_value_t = Limits::default().fuel_per_call)]
    fuel: u64,
    /// Memory cap for all modules together, in MiB.
    #[arg(long, default_value_t = Limits::default().memory_bytes / (1024 * 1024))]
    memory_mib: u64,
    /// WASI environment variable for every module, `KEY=VALUE` (repeatable).
    #[arg(long = "env", value_name = "KEY=VALUE")]
    envs: Vec<String>,
    /// Fixed clock (ns since the epoch) and seed, for reproducible runs: `--deterministic 0`.
    #[arg(long, value_name = "CLOCK_NS")]
    deterministic: Option<u64>,
    /// Print timing of load and call to stderr.
    #[arg(long)]
    timing: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Service(ServiceCommand::Call {
            items,
            opts,
            call_params,
            compact,
        }) => {
            let split = items
                .iter()
                .position(|i| !i.ends_with(".wasm"))
                .ok_or_else(|| {
                    anyhow!("expected module files (*.wasm) followed by a function name")
                })?;
            if split == 0 {
                bail!("give at least one module file (*.wasm) before the function name");
            }
            let modules: Vec<PathBuf> = items[..split].iter().map(PathBuf::from).collect();
            let function = &items[split];
            let args_text = match &items[split + 1..] {
                [] => "[]",
                [one] => one.as_str(),
                more => bail!(
                    "unexpected arguments after the JSON arguments: {:?}",
                    &more[1..]
                ),
            };
            let args: serde_json::Value = serde_json::from_str(args_text)
                .with_context(|| format!("arguments are not valid JSON: {args_text}"))?;
            let mut service = load(&modules, &opts)?;
            if let Some(cp) = call_params {
                let cp: CallParameters = serde_json::from_str(&cp)
                    .context("--call-params is not valid CallParameters JSON")?;
                service.set_call_parameters(cp);
            }
            let t = Instant::now();
            let result = service.call_json(function, &args)?;
            if opts.timing {
                eprintln!("call: {:.3} ms", t.elapsed().as_secs_f64() * 1e3);
            }
            let text = if compact {
                serde_json::to_string(&result)?
            } else {
                serde_json::to_string_pretty(&result)?
            };
            println!("{text}");
            Ok(())
        }
        Command::Service(ServiceCommand::Interface {
            modules,
            opts,
            json,
        }) => {
            let service = load(&modules, &opts)?;
            if json {
                println!("{}", serde_json::to_string_pretty(service.interface())?);
            } else {
                print!("{}", service.interface());
            }
            Ok(())
        }
    }
}

fn load(modules: &[PathBuf], opts: &ServiceOpts) -> Result<Service> {
    let mut config = ServiceConfig::default().limits(Limits {
        fuel_per_call: opts.fuel,
        memory_bytes: opts.memory_mib.saturating_mul(1024 * 1024),
        ..Limits::default()
    });
    for path in modules {
        let name = path
            .file_stem()
            .and_then(|s| s.to_str())
            .ok_or_else(|| anyhow!("module path {} has no usable file name", path.display()))?;
        let mut m = ModuleConfig::new(name);
        for kv in &opts.envs {
            let (k, v) = kv
                .split_once('=')
                .ok_or_else(|| anyhow!("--env expects KEY=VALUE, got `{kv}`"))?;
            m = m.env(k, v);
        }
        config = config.module(m);
    }
    if let Some(clock_ns) = opts.deterministic {
        config.environment = Environment::Deterministic {
            clock_ns,
            seed: [0; 32],
        };
    }
    config = config.logger(std::sync::Arc::new(StderrLogger));
    let t = Instant::now();
    let service = Service::load_files(modules, config)?;
    if opts.timing {
        eprintln!("load: {:.3} ms", t.elapsed().as_secs_f64() * 1e3);
    }
    Ok(service)
}

/// Module logs go to stderr so stdout stays the JSON result.
struct StderrLogger;

impl lineage_marine::Logger for StderrLogger {
    fn log(&self, r: &lineage_marine::LogRecord) {
        eprintln!("[{}] {:?} {}", r.module, r.level, r.message);
    }
}
