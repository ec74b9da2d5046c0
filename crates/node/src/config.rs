//! Node configuration: built-in defaults, then a TOML file, then environment variables and
//! flags (the later wins). With no arguments the node listens on 127.0.0.1 only.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use clap::Parser;
use lineage_peer::{DeployPolicy, ParticleLimits, Quotas};
use serde::Deserialize;

use crate::exec::ExecLimits;

/// Command line of `lineage-node` (every flag also reads a `LINEAGE_NODE_*` variable).
#[derive(Debug, Parser)]
#[command(
    name = "lineage-node",
    version,
    about = "Lineage edge node: a Fluence-compatible peer and relay"
)]
pub struct Flags {
    /// TOML config file (keys as the flags, with underscores: `ws_port = 9999`).
    #[arg(long, env = "LINEAGE_NODE_CONFIG")]
    pub config: Option<PathBuf>,
    /// Where the node keeps its key and data [default: the user's data dir/lineage-node].
    #[arg(long, env = "LINEAGE_NODE_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Address to listen on [default: 127.0.0.1]; `0.0.0.0` exposes the node beyond this machine.
    #[arg(long, env = "LINEAGE_NODE_HOST")]
    pub host: Option<IpAddr>,
    /// WebSocket port (`/tcp/N/ws`) [default: 9999; 0 = any free port].
    #[arg(long, env = "LINEAGE_NODE_WS_PORT")]
    pub ws_port: Option<u16>,
    /// TCP port [default: 7777; 0 = any free port].
    #[arg(long, env = "LINEAGE_NODE_TCP_PORT")]
    pub tcp_port: Option<u16>,
    /// WebRTC-direct UDP port browsers dial (`/udp/N/webrtc-direct/certhash/…`) [default: 9998;
    /// 0 = any free port].
    #[arg(long, env = "LINEAGE_NODE_WEBRTC_PORT")]
    pub webrtc_port: Option<u16>,
    /// Addresses peers can reach this node at, announced by `peer.identify` (repeatable).
    #[arg(
        long = "external-address",
        env = "LINEAGE_NODE_EXTERNAL_ADDRESSES",
        value_delimiter = ','
    )]
    pub external_addresses: Vec<String>,
    /// Other nodes to join at start (full multiaddrs with /p2p/; repeatable): they enter the
    /// Kademlia routing table and particles can be forwarded to them.
    #[arg(
        long = "bootstrap",
        env = "LINEAGE_NODE_BOOTSTRAP",
        value_delimiter = ','
    )]
    pub bootstrap: Vec<libp2p::Multiaddr>,
    /// Particles per second accepted from one peer (bursts up to twice that).
    #[arg(long, env = "LINEAGE_NODE_PARTICLES_PER_SEC")]
    pub particles_per_sec: Option<u32>,
    /// HTTP port of the JSON-RPC gateway and `/ipfs/<cid>` [default: 3030, Lineage's; 0 = any
    /// free port].
    #[arg(long, env = "LINEAGE_NODE_HTTP_PORT")]
    pub http_port: Option<u16>,
    /// HTTP requests per second accepted from one client IP (bursts up to twice that)
    /// [default: 200].
    #[arg(long, env = "LINEAGE_NODE_HTTP_REQUESTS_PER_SEC")]
    pub http_requests_per_sec: Option<u32>,
    /// Where the metadata store lives [default: <data dir>/metadata].
    #[arg(long, env = "LINEAGE_NODE_METADATA_DIR")]
    pub metadata_dir: Option<PathBuf>,
    /// Also accept Lineage's legacy signatures (over `data` only; replayable, marked so in
    /// receipts). Off by default.
    #[arg(long, env = "LINEAGE_NODE_LEGACY_SIGNATURES")]
    pub legacy_signatures: bool,
    /// Worker threads running particles [default: one per CPU core].
    #[arg(long, env = "LINEAGE_NODE_WORKERS")]
    pub workers: Option<usize>,
    /// Keep (and so dial) loopback and private-range addresses that nodes announce via
    /// identify/Kademlia [default: only when the node itself listens on such an address].
    #[arg(long, env = "LINEAGE_NODE_DIAL_PRIVATE_ADDRESSES")]
    pub dial_private_addresses: Option<bool>,
    /// Who may deploy Marine modules and services (`dist.add_module`, `srv.create`):
    /// `restricted` (the node itself, `--management-peer-id` and `--allow-deploy`) or `open`
    /// (anyone) [default: restricted].
    #[arg(long, env = "LINEAGE_NODE_DEPLOY_POLICY")]
    pub deploy_policy: Option<DeployMode>,
    /// The node's management key (a peer id): may deploy under the restricted policy.
    #[arg(long, env = "LINEAGE_NODE_MANAGEMENT_PEER_ID")]
    pub management_peer_id: Option<libp2p::PeerId>,
    /// Further peers that may deploy under the restricted policy (repeatable).
    #[arg(
        long = "allow-deploy",
        env = "LINEAGE_NODE_ALLOW_DEPLOY",
        value_delimiter = ','
    )]
    pub allow_deploy: Vec<libp2p::PeerId>,
    /// Log filter (`info`, `debug`, `lineage_node=debug,libp2p=info`, …).
    #[arg(long, env = "LINEAGE_NODE_LOG", default_value = "info")]
    pub log: String,
}

/// The TOML file's shape (all optional).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    data_dir: Option<PathBuf>,
    host: Option<IpAddr>,
    ws_port: Option<u16>,
    tcp_port: Option<u16>,
    webrtc_port: Option<u16>,
    external_addresses: Option<Vec<String>>,
    bootstrap: Option<Vec<libp2p::Multiaddr>>,
    particles_per_sec: Option<u32>,
    max_frame_bytes: Option<usize>,
    http_port: Option<u16>,
    http_requests_per_sec: Option<u32>,
    metadata_dir: Option<PathBuf>,
    legacy_signatures: Option<bool>,
    dial_private_addresses: Option<bool>,
    #[serde(default)]
    limits: LimitsFile,
    #[serde(default)]
    deploy: DeployFile,
}

/// `--deploy-policy` / `[deploy] policy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum DeployMode {
    /// The node itself, its management key and the allow-list.
    Restricted,
    /// Anyone.
    Open,
}

/// The `[deploy]` table: who may deploy Marine code and how much each may keep.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct DeployFile {
    policy: Option<DeployMode>,
    management_peer_id: Option<String>,
    allow: Option<Vec<String>>,
    modules_per_owner: Option<usize>,
    module_bytes: Option<usize>,
    blueprints_per_owner: Option<usize>,
    services_per_owner: Option<usize>,
    services: Option<usize>,
    aliases_per_owner: Option<usize>,
}

/// The `[limits]` table: what particles and their senders may cost the node.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct LimitsFile {
    workers: Option<usize>,
    workers_per_peer: Option<usize>,
    particles_in_flight: Option<usize>,
    particles_per_peer: Option<usize>,
    queued_per_peer: Option<usize>,
    bytes_held: Option<usize>,
    particle_exec_ms: Option<u64>,
    particle_calls: Option<u64>,
    particle_data_bytes: Option<usize>,
    max_clock_skew_ms: Option<u64>,
    max_ttl_ms: Option<u32>,
    fuel_per_call: Option<u64>,
    service_memory_bytes: Option<u64>,
}

/// Marine fuel per service call on the node: ≈ 45 ms of a release build's interpreter on the
/// 2-core CI machine (`lineage service call tests/fixtures/spin.wasm spin '[1]' --fuel
/// 200000000`), where the Marine library's default (2·10⁹) is ten times that — and a debug
/// build is ~800× slower still.
pub const NODE_FUEL_PER_CALL: u64 = 200_000_000;

/// The node's particle budget: 2 s of execution, 10 000 service calls and 16 MiB of data per
/// particle, nox's TTL and skew bounds.
pub fn node_particle_limits() -> ParticleLimits {
    ParticleLimits {
        max_exec_ms: Some(2_000),
        max_calls: Some(10_000),
        max_data_bytes: Some(16 * 1024 * 1024),
        ..ParticleLimits::default()
    }
}

/// The node's effective configuration.
#[derive(Debug, Clone)]
pub struct NodeConfig {
    pub data_dir: PathBuf,
    pub host: IpAddr,
    pub ws_port: u16,
    pub tcp_port: u16,
    pub webrtc_port: u16,
    pub external_addresses: Vec<String>,
    /// Nodes to join at start.
    pub bootstrap: Vec<libp2p::Multiaddr>,
    pub particles_per_sec: u32,
    /// Largest particle frame accepted (nox: 64 MiB particles).
    pub max_frame_bytes: usize,
    /// HTTP gateway port (0 = any free port).
    pub http_port: u16,
    /// Gateway requests per second per client IP.
    pub http_requests_per_sec: u32,
    /// Directory of the metadata store (`lineage.redb`).
    pub metadata_dir: PathBuf,
    /// Accept legacy (data-only) signatures.
    pub legacy_signatures: bool,
    /// Workers and caps on particles in flight (`[limits]`).
    pub exec: ExecLimits,
    /// Each particle's budget and time bounds (`[limits]`).
    pub particle: ParticleLimits,
    /// Marine fuel per service call (`[limits] fuel_per_call`).
    pub fuel_per_call: u64,
    /// Linear memory one Marine service may grow to (`[limits] service_memory_bytes`); a call
    /// that hits it leaves the service loaded afresh, its memory returned.
    pub service_memory_bytes: u64,
    /// Who may deploy Marine code (`--deploy-policy`, `[deploy]`): by default only the node
    /// itself, its management key and the allow-list.
    pub deploy: DeployPolicy,
    /// What each deployer may keep (`[deploy]`).
    pub quotas: Quotas,
    /// Keep loopback/private addresses peers announce (`--dial-private-addresses`).
    pub dial_private_addresses: bool,
}

/// Reading the configuration failed.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("config file {path} is invalid: {reason}")]
    Parse { path: PathBuf, reason: String },
    #[error("no data directory: set --data-dir or LINEAGE_NODE_DATA_DIR")]
    NoDataDir,
}

impl NodeConfig {
    /// Defaults, overridden by the file named in `flags`, overridden by `flags`.
    ///
    /// # Errors
    /// [`ConfigError`] for an unreadable or invalid file.
    pub fn load(flags: &Flags) -> Result<NodeConfig, ConfigError> {
        let file = match &flags.config {
            Some(path) => read_file(path)?,
            None => FileConfig::default(),
        };
        let data_dir = flags
            .data_dir
            .clone()
            .or(file.data_dir)
            .or_else(|| dirs::data_dir().map(|d| d.join("lineage-node")))
            .ok_or(ConfigError::NoDataDir)?;
        let external = if flags.external_addresses.is_empty() {
            file.external_addresses.unwrap_or_default()
        } else {
            flags.external_addresses.clone()
        };
        let metadata_dir = flags
            .metadata_dir
            .clone()
            .or(file.metadata_dir)
            .unwrap_or_else(|| data_dir.join("metadata"));
        let l = &file.limits;
        let defaults = ExecLimits::default();
        let exec = ExecLimits {
            workers: flags.workers.or(l.workers).unwrap_or(defaults.workers),
            workers_per_peer: l.workers_per_peer.unwrap_or(defaults.workers_per_peer),
            particles_in_flight: l
                .particles_in_flight
                .unwrap_or(defaults.particles_in_flight),
            particles_per_peer: l.particles_per_peer.unwrap_or(defaults.particles_per_peer),
            queued_per_peer: l.queued_per_peer.unwrap_or(defaults.queued_per_peer),
            bytes_held: l.bytes_held.unwrap_or(defaults.bytes_held),
        };
        let pd = node_particle_limits();
        let particle = ParticleLimits {
            max_clock_skew_ms: l.max_clock_skew_ms.unwrap_or(pd.max_clock_skew_ms),
            max_ttl_ms: l.max_ttl_ms.unwrap_or(pd.max_ttl_ms),
            max_exec_ms: l.particle_exec_ms.or(pd.max_exec_ms),
            max_calls: l.particle_calls.or(pd.max_calls),
            max_data_bytes: l.particle_data_bytes.or(pd.max_data_bytes),
        };
        let fuel_per_call = l.fuel_per_call.unwrap_or(NODE_FUEL_PER_CALL);
        let (deploy, quotas) =
            deploy_config(flags, &file.deploy).map_err(|reason| ConfigError::Parse {
                path: flags.config.clone().unwrap_or_default(),
                reason,
            })?;
        let host = flags
            .host
            .or(file.host)
            .unwrap_or(IpAddr::from([127, 0, 0, 1]));
        let host_is_local = match host {
            IpAddr::V4(v4) => v4.is_loopback() || v4.is_private(),
            IpAddr::V6(v6) => v6.is_loopback() || (v6.segments()[0] & 0xfe00) == 0xfc00,
        };
        Ok(NodeConfig {
            dial_private_addresses: flags
                .dial_private_addresses
                .or(file.dial_private_addresses)
                .unwrap_or(host_is_local),
            service_memory_bytes: l
                .service_memory_bytes
                .unwrap_or(lineage_marine::Limits::default().memory_bytes),
            deploy,
            quotas,
            exec,
            particle,
            fuel_per_call,
            http_port: flags.http_port.or(file.http_port).unwrap_or(3030),
            http_requests_per_sec: flags
                .http_requests_per_sec
                .or(file.http_requests_per_sec)
                .unwrap_or(200),
            metadata_dir,
            legacy_signatures: flags.legacy_signatures || file.legacy_signatures.unwrap_or(false),
            data_dir,
            host,
            ws_port: flags.ws_port.or(file.ws_port).unwrap_or(9999),
            tcp_port: flags.tcp_port.or(file.tcp_port).unwrap_or(7777),
            webrtc_port: flags.webrtc_port.or(file.webrtc_port).unwrap_or(9998),
            external_addresses: external,
            bootstrap: if flags.bootstrap.is_empty() {
                file.bootstrap.unwrap_or_default()
            } else {
                flags.bootstrap.clone()
            },
            particles_per_sec: flags
                .particles_per_sec
                .or(file.particles_per_sec)
                .unwrap_or(500),
            max_frame_bytes: file
                .max_frame_bytes
                .unwrap_or(lineage_particle::DEFAULT_MAX_FRAME_SIZE),
        })
    }
}

/// The deploy policy and quotas from flags over the `[deploy]` table.
fn deploy_config(flags: &Flags, d: &DeployFile) -> Result<(DeployPolicy, Quotas), String> {
    let parse = |s: &str, key: &str| {
        s.parse::<libp2p::PeerId>()
            .map_err(|e| format!("[deploy] {key}: '{s}' is not a peer id: {e}"))
    };
    let mode = flags
        .deploy_policy
        .or(d.policy)
        .unwrap_or(DeployMode::Restricted);
    let policy = match mode {
        DeployMode::Open => DeployPolicy::Open,
        DeployMode::Restricted => {
            let mut peers: Vec<libp2p::PeerId> = flags.allow_deploy.clone();
            if flags.allow_deploy.is_empty() {
                for s in d.allow.iter().flatten() {
                    peers.push(parse(s, "allow")?);
                }
            }
            match (flags.management_peer_id, &d.management_peer_id) {
                (Some(id), _) => peers.push(id),
                (None, Some(s)) => peers.push(parse(s, "management_peer_id")?),
                (None, None) => {}
            }
            DeployPolicy::only(peers)
        }
    };
    let q = Quotas::default();
    let quotas = Quotas {
        modules_per_owner: d.modules_per_owner.unwrap_or(q.modules_per_owner),
        module_bytes: d.module_bytes.unwrap_or(q.module_bytes),
        blueprints_per_owner: d.blueprints_per_owner.unwrap_or(q.blueprints_per_owner),
        services_per_owner: d.services_per_owner.unwrap_or(q.services_per_owner),
        services: d.services.unwrap_or(q.services),
        aliases_per_owner: d.aliases_per_owner.unwrap_or(q.aliases_per_owner),
    };
    Ok((policy, quotas))
}

fn read_file(path: &Path) -> Result<FileConfig, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.into(),
        source,
    })?;
    toml::from_str(&text).map_err(|e| ConfigError::Parse {
        path: path.into(),
        reason: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(args: &[&str]) -> Result<NodeConfig, ConfigError> {
        let mut argv = vec!["lineage-node", "--data-dir", "/tmp/lineage-config-test"];
        argv.extend_from_slice(args);
        NodeConfig::load(&Flags::parse_from(argv))
    }

    fn peer() -> libp2p::PeerId {
        libp2p::identity::Keypair::generate_ed25519()
            .public()
            .to_peer_id()
    }

    #[test]
    fn by_default_only_the_node_itself_may_deploy() {
        let config = load(&[]).unwrap();
        assert_eq!(config.deploy, DeployPolicy::only([]));
        assert!(!config.deploy.allows(&peer()));
        assert_eq!(config.quotas, Quotas::default());
    }

    #[test]
    fn private_addresses_are_dialed_only_by_a_node_on_a_private_address_or_when_told() {
        assert!(
            load(&[]).unwrap().dial_private_addresses,
            "127.0.0.1: a dev node"
        );
        assert!(!load(&["--host", "0.0.0.0"]).unwrap().dial_private_addresses);
        let told = load(&["--host", "0.0.0.0", "--dial-private-addresses", "true"]).unwrap();
        assert!(told.dial_private_addresses);
    }

    #[test]
    fn the_management_key_and_allow_list_may_deploy_or_anyone_when_open() {
        let (admin, friend) = (peer(), peer());
        let config = load(&[
            "--management-peer-id",
            &admin.to_string(),
            "--allow-deploy",
            &friend.to_string(),
        ])
        .unwrap();
        assert_eq!(config.deploy, DeployPolicy::only([admin, friend]));
        let open = load(&["--deploy-policy", "open"]).unwrap();
        assert_eq!(open.deploy, DeployPolicy::Open);
    }

    #[test]
    fn the_deploy_table_sets_policy_and_quotas_and_a_bad_peer_id_is_a_clear_error() {
        let dir = std::env::temp_dir().join(format!("lineage-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let admin = peer();
        let good = dir.join("good.toml");
        std::fs::write(
            &good,
            format!("[deploy]\nmanagement_peer_id = \"{admin}\"\nservices_per_owner = 3\n"),
        )
        .unwrap();
        let config = load(&["--config", good.to_str().unwrap()]).unwrap();
        assert_eq!(config.deploy, DeployPolicy::only([admin]));
        assert_eq!(config.quotas.services_per_owner, 3);
        let bad = dir.join("bad.toml");
        std::fs::write(&bad, "[deploy]\nallow = [\"not-a-peer\"]\n").unwrap();
        let e = load(&["--config", bad.to_str().unwrap()]).unwrap_err();
        assert!(
            e.to_string()
                .contains("[deploy] allow: 'not-a-peer' is not a peer id"),
            "{e}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
