//! What differs between native and wasm32 for the peer core — the one place in this crate
//! that knows: natively, handlers and their pending answers may move between threads (`Send`);
//! in a browser, JS callbacks and Promises are bound to their thread, so no `Send` is asked.

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
