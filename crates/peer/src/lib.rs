//! # lineage-peer
//!
//! The peer core shared by the browser light peer and the edge node. Today: the AquaVM runner
//! (`aquavm-air` 0.63.0 linked natively, the interpreter nox 0.28 and js-client 0.9 interoperate
//! with). The particle host loop and service registry build on it.

mod avm;

pub use avm::{run_air, AvmError, AvmOutcome, AvmParams, CallRequest, CallResult, Tetraplet};
