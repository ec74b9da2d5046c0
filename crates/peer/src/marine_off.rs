//! The stand-in for `marine_host.rs` in peers built without the `marine` feature (the browser
//! light peer): no Marine service is hosted here, and `dist` and `srv` answer "no service",
//! as js-client 0.9 does. Such a peer runs Marine services elsewhere (pkg/ loads a second wasm)
//! and registers them as ordinary handlers.

use libp2p_identity::PeerId;
use serde_json::Value;

use crate::builtins::{Args, R};
use crate::services::{CallContext, ServiceError, Services};

/// A Marine call: none can be made in this build.
pub(crate) enum MarineCall {}

impl MarineCall {
    pub(crate) fn run(self, _args: Vec<Value>) -> Result<Value, ServiceError> {
        match self {}
    }
}

/// Hosts no Marine service (this build has no wasmi runtime).
#[derive(Debug, Default)]
pub struct MarineHost {
    _none: (),
}

impl MarineHost {
    pub(crate) fn hosts(&self, _service_id: &str) -> bool {
        false
    }

    pub(crate) fn prepare(
        &self,
        service_id: &str,
        function: &str,
        _ctx: &CallContext,
    ) -> Result<MarineCall, ServiceError> {
        Err(ServiceError::NoService {
            service: service_id.into(),
            function: function.into(),
        })
    }

    pub(crate) fn owner_of(&self, _id: &str) -> Option<PeerId> {
        None
    }

    /// Ids of the hosted Marine services: always none here.
    pub fn service_ids(&self) -> Vec<String> {
        Vec::new()
    }
}

pub(crate) fn dist(_s: &mut Services, function: &str, _a: &Args, _ctx: &CallContext) -> Option<R> {
    Some(Err(ServiceError::NoService {
        service: "dist".into(),
        function: function.into(),
    }))
}

pub(crate) fn srv(_s: &mut Services, function: &str, _a: &Args, _ctx: &CallContext) -> Option<R> {
    Some(Err(ServiceError::NoService {
        service: "srv".into(),
        function: function.into(),
    }))
}
