//! # lineage-node
//!
//! The Lineage edge node: a Fluence-compatible peer (particle protocol
//! `/fluence/particle/2.0.0`, AquaVM 0.63, nox-style builtins, Marine services on wasmi) and a
//! relay for the clients connected to it. Run it with the `lineage-node` binary, or embed it:
//!
//! ```no_run
//! use lineage_node::{config::{Flags, NodeConfig}, node};
//! use clap::Parser;
//! # async fn demo() -> anyhow::Result<()> {
//! let config = NodeConfig::load(&Flags::parse_from(["lineage-node", "--ws-port", "0"]))?;
//! node::run(config, |event| println!("{event:?}"), std::future::pending()).await?;
//! # Ok(()) }
//! ```

pub mod config;
pub mod exec;
pub mod keys;
pub mod lineage;
pub mod metrics;
pub mod node;
