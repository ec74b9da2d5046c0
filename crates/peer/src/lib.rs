//! # lineage-peer
//!
//! The peer core shared by the browser light peer and the edge node: the AquaVM runner
//! (`aquavm-air` 0.63.0 linked natively — the interpreter nox 0.28 and js-client 0.9
//! interoperate with), the particle host loop ([`Peer`]) and the services a peer answers
//! ([`Services`]: builtins, Marine services ([`MarineHost`], feature `marine`), embedder handlers). Transport-agnostic.

mod avm;
mod builtins;
pub mod client;
mod deploy;
mod host;
// The Marine host needs the wasmi runtime; peers built without the `marine` feature (the
// browser light peer) get a stand-in that hosts nothing.
#[cfg_attr(not(feature = "marine"), path = "marine_off.rs")]
mod marine_host;
mod platform;
mod services;
mod sig;

pub use avm::{
    air_depth, run_air, AvmError, AvmOutcome, AvmParams, CallRequest, CallResult, Tetraplet,
    MAX_AIR_DEPTH,
};
pub use deploy::{DeployPolicy, Quotas};
pub use host::{Budget, Handled, Outgoing, ParticleKey, ParticleLimits, Peer, PeerError, Rejected};
pub use marine_host::MarineHost;
pub use platform::{BoxFuture, Handler, MaybeSend, ParticleIdHook};
pub use services::{
    handler, Answer, CallContext, Called, ServiceError, ServiceHost, Services, SharedServices,
};

/// Wall-clock milliseconds since the Unix epoch (works in browsers too): the time particles use.
pub fn now_ms() -> u64 {
    web_time::SystemTime::now()
        .duration_since(web_time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}
