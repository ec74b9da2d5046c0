//! # lineage-peer
//!
//! The peer core shared by the browser light peer and the edge node: the AquaVM runner
//! (`aquavm-air` 0.63.0 linked natively — the interpreter nox 0.28 and js-client 0.9
//! interoperate with), the particle host loop ([`Peer`]) and the services a peer answers
//! ([`Services`]: builtins, Marine services, embedder handlers). Transport-agnostic.

mod avm;
mod builtins;
pub mod client;
mod host;
mod platform;
mod services;
mod state_builtins;

pub use avm::{run_air, AvmError, AvmOutcome, AvmParams, CallRequest, CallResult, Tetraplet};
pub use host::{Handled, Outgoing, ParticleKey, ParticleLimits, Peer, PeerError, Rejected};
pub use platform::{BoxFuture, Handler, MaybeSend, ParticleIdHook};
pub use services::{handler, Answer, CallContext, Called, ServiceError, Services};

/// Wall-clock milliseconds since the Unix epoch (works in browsers too): the time particles use.
pub fn now_ms() -> u64 {
    web_time::SystemTime::now()
        .duration_since(web_time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}
