//! `lineage`: the Lineage edge command-line tool.
//!
//! ```text
//! lineage service call callee.wasm facade.wasm shout '["hi"]'
//! lineage service interface callee.wasm facade.wasm
//! lineage tx keygen > my.key
//! echo '{"method":"metadata", …}' | lineage tx sign --key my.key
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
    about = "Lineage edge: run and inspect Marine services, sign Lineage transactions"
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
    /// Lineage transactions: make an Ed25519 key, sign a TransactionRequest (strong mode).
    #[command(subcommand)]
    Tx(TxCommand),
}

#[derive(Subcommand)]
enum TxCommand {
    /// Print a new Ed25519 secret seed (64 hex digits) on stdout; its public key on stderr.
    Keygen,
    /// Read a TransactionRequest (JSON) on stdin, fill `timestamp` with the current time if it
    /// is 0, sign it in strong mode and print it: ready for `publish`.
    Sign {
        /// File holding the 64-hex-digit seed (as `lineage tx keygen` writes it).
        #[arg(long)]
        key: PathBuf,
    },
    /// Print the public key (base58) of a seed file.
    PublicKey {
        #[arg(long)]
        key: PathBuf,
    },
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

fn read_seed(path: &std::path::Path) -> Result<ed25519_dalek::SigningKey> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let bytes = hex::decode(text.trim())
        .with_context(|| format!("{} is not hex (expected 64 hex digits)", path.display()))?;
    let seed: [u8; 32] = bytes
        .try_into()
        .map_err(|b: Vec<u8>| anyhow!("{}: {} bytes, expected 32", path.display(), b.len()))?;
    Ok(ed25519_dalek::SigningKey::from_bytes(&seed))
}

fn public_key_of(key: &ed25519_dalek::SigningKey) -> String {
    bs58::encode(key.verifying_key().as_bytes()).into_string()
}

fn run_tx(cmd: TxCommand) -> Result<()> {
    match cmd {
        TxCommand::Keygen => {
            let mut seed = [0u8; 32];
            getrandom::getrandom(&mut seed).map_err(|e| anyhow!("no randomness: {e}"))?;
            let key = ed25519_dalek::SigningKey::from_bytes(&seed);
            println!("{}", hex::encode(seed));
            eprintln!("public key: {}", public_key_of(&key));
            Ok(())
        }
        TxCommand::PublicKey { key } => {
            println!("{}", public_key_of(&read_seed(&key)?));
            Ok(())
        }
        TxCommand::Sign { key } => {
            let key = read_seed(&key)?;
            let mut text = String::new();
            std::io::Read::read_to_string(&mut std::io::stdin(), &mut text)
                .context("cannot read stdin")?;
            let mut req: lineage_metadata::TransactionRequest = serde_json::from_str(&text)
                .context(
                "stdin is not a TransactionRequest (JSON object of strings, timestamp a number)",
            )?;
            if req.timestamp == 0 {
                req.timestamp = lineage_node::lineage::api::now_ms();
            }
            lineage_metadata::sign::sign_ed25519(&mut req, &key);
            println!("{}", serde_json::to_string(&req)?);
            Ok(())
        }
    }
}

fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Tx(cmd) => run_tx(cmd),
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
