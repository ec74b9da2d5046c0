//! What differs between native and wasm32 for the peer core — the one place in this crate
//! that knows: natively, handlers and their pending answers may move between threads (`Send`);
//! in a browser, JS callbacks and Promises are bound to their thread, so no `Send` is asked.
//! And the stack AquaVM runs on.

use std::future::Future;
use std::pin::Pin;

use serde_json::Value;

use crate::services::{Answer, CallContext};

/// `Send` natively; nothing on wasm32 (JS values cannot cross threads anyway).
#[cfg(not(target_arch = "wasm32"))]
pub trait MaybeSend: Send {}
#[cfg(not(target_arch = "wasm32"))]
impl<T: Send + ?Sized> MaybeSend for T {}

/// `Send` natively; nothing on wasm32 (JS values cannot cross threads anyway).
#[cfg(target_arch = "wasm32")]
pub trait MaybeSend {}
#[cfg(target_arch = "wasm32")]
impl<T: ?Sized> MaybeSend for T {}

/// A boxed future that is `Send` natively: a service answer that arrives later (a JS
/// Promise, a network reply).
#[cfg(not(target_arch = "wasm32"))]
pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;
/// A boxed future that is `Send` natively: a service answer that arrives later (a JS
/// Promise, a network reply).
#[cfg(target_arch = "wasm32")]
pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + 'static>>;

/// A handler the embedder registers for one service id (e.g. a JS service): called with the
/// function name, the arguments and the particle's context. `Send` natively.
#[cfg(not(target_arch = "wasm32"))]
pub type Handler = Box<dyn FnMut(&str, Vec<Value>, &CallContext) -> Answer + Send>;
/// A handler the embedder registers for one service id (e.g. a JS service): called with the
/// function name, the arguments and the particle's context. `Send` natively.
#[cfg(target_arch = "wasm32")]
pub type Handler = Box<dyn FnMut(&str, Vec<Value>, &CallContext) -> Answer>;

/// Told the particle id of a call as soon as its particle exists (js-client's
/// `debug.printParticleId`). `Send` natively.
#[cfg(not(target_arch = "wasm32"))]
pub type ParticleIdHook = Box<dyn FnOnce(&str) + Send>;
/// Told the particle id of a call as soon as its particle exists (js-client's
/// `debug.printParticleId`). `Send` natively.
#[cfg(target_arch = "wasm32")]
pub type ParticleIdHook = Box<dyn FnOnce(&str)>;

/// The stack one AquaVM run gets natively: reserved per run, committed only as far as it is
/// used (an ordinary call touches a few hundred KiB). AquaVM recurses per `fold` element and per
/// nested instruction; the 8 MiB of a main thread overflow on a `for` over ~400 items.
#[cfg(not(target_arch = "wasm32"))]
pub(crate) const AVM_STACK_BYTES: usize = 1 << 30;

/// Runs `f` (an AquaVM step) on a stack of [`AVM_STACK_BYTES`], whatever thread calls it.
#[cfg(not(target_arch = "wasm32"))]
pub(crate) fn on_avm_stack<R>(f: impl FnOnce() -> R) -> R {
    stacker::grow(AVM_STACK_BYTES, f)
}

/// On wasm32 AquaVM runs on the module's own stack, sized at link time (crates/web/build.rs).
#[cfg(target_arch = "wasm32")]
pub(crate) fn on_avm_stack<R>(f: impl FnOnce() -> R) -> R {
    f()
}
