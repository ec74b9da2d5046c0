//! Lineage metadata services on the node: the redb store, the Lineage methods, the HTTP
//! gateway and the Aqua service `transaction`.

pub mod api;
pub mod gateway;
pub mod store;

use std::sync::Arc;

use lineage_metadata::store::Store;
use lineage_peer::{handler, Handler};

/// The Aqua service `transaction`: Lineage's functions with positional arguments, answering
/// what the gateway answers; an error's text reaches the Aqua `catch`.
pub fn transaction_service<S: Store + 'static>(api: api::Api<S>) -> Handler {
    let api = Arc::new(api);
    handler(move |function, args, _ctx| {
        api.call(function, &args)
            .map_err(|e| format!("{} ({})", e, e.code()))
    })
}
