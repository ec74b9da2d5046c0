//! Transports, per target — the one place in this crate that knows where it runs.
//!
//! - native (tokio): TCP and WebSocket listeners and dialers, Noise + yamux.
//! - wasm32 (browser): WebSocket (`websocket-websys`, pages and workers) and WebRTC-direct
//!   (`webrtc-websys`, pages) dialers.

use std::time::Duration;

use libp2p::identity::Keypair;
use libp2p::Swarm;

use crate::{Behaviour, Limits};

/// Idle connections are closed after this (nox: 180 s); clients keep theirs alive with ping.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(180);

/// Building the swarm failed.
#[derive(Debug, thiserror::Error)]
#[error("could not build the libp2p swarm: {0}")]
pub struct BuildError(pub String);

#[cfg(not(target_arch = "wasm32"))]
mod imp {
    use super::*;
    use libp2p::{noise, tcp, yamux};

    /// A tokio swarm with TCP and WebSocket (over TCP) transports.
    ///
    /// # Errors
    /// When the Noise or transport setup fails.
    pub async fn build_swarm(
        key: Keypair,
        agent: &str,
        limits: Limits,
        max_frame: usize,
    ) -> Result<Swarm<Behaviour>, BuildError> {
        let err = |e: &dyn std::fmt::Display| BuildError(e.to_string());
        let agent = agent.to_string();
        let swarm = libp2p::SwarmBuilder::with_existing_identity(key)
            .with_tokio()
            .with_tcp(
                tcp::Config::default().nodelay(true),
                noise::Config::new,
                yamux::Config::default,
            )
            .map_err(|e| err(&e))?
            .with_websocket(noise::Config::new, yamux::Config::default)
            .await
            .map_err(|e| err(&e))?
            .with_behaviour(|k| Behaviour::new(k, &agent, limits, max_frame))
            .map_err(|e| err(&e))?
            .with_swarm_config(|c| c.with_idle_connection_timeout(IDLE_TIMEOUT))
            .build();
        Ok(swarm)
    }
}

#[cfg(target_arch = "wasm32")]
mod imp {
    use super::*;
    use libp2p::core::upgrade::Version;
    use libp2p::core::Transport;
    use libp2p::{noise, webrtc_websys, websocket_websys, yamux};

    /// A browser swarm dialing WebSocket and WebRTC-direct addresses.
    ///
    /// # Errors
    /// When the Noise or transport setup fails.
    pub async fn build_swarm(
        key: Keypair,
        agent: &str,
        limits: Limits,
        max_frame: usize,
    ) -> Result<Swarm<Behaviour>, BuildError> {
        let err = |e: &dyn std::fmt::Display| BuildError(e.to_string());
        let agent = agent.to_string();
        let swarm = libp2p::SwarmBuilder::with_existing_identity(key)
            .with_wasm_bindgen()
            .with_other_transport(|k| {
                Ok(websocket_websys::Transport::default()
                    .upgrade(Version::V1Lazy)
                    .authenticate(noise::Config::new(k)?)
                    .multiplex(yamux::Config::default()))
            })
            .map_err(|e| err(&e))?
            .with_other_transport(|k| webrtc_websys::Transport::new(webrtc_websys::Config::new(k)))
            .map_err(|e| err(&e))?
            .with_behaviour(|k| Behaviour::new(k, &agent, limits, max_frame))
            .map_err(|e| err(&e))?
            .with_swarm_config(|c| c.with_idle_connection_timeout(IDLE_TIMEOUT))
            .build();
        Ok(swarm)
    }
}

pub use imp::build_swarm;
