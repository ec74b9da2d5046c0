//! Transports, per target — the one place in this crate that knows where it runs.
//!
//! - native (tokio): TCP, WebSocket and WebRTC-direct listeners and dialers (Noise + yamux on
//!   TCP and WebSocket; WebRTC brings its own).
//! - wasm32 (browser): WebSocket (`websocket-websys`, pages and workers) and WebRTC-direct
//!   (`webrtc-websys`, pages) dialers.

use std::time::Duration;

use libp2p::identity::Keypair;
use libp2p::Swarm;

use crate::{Behaviour, ConnectionLimits};

/// Idle connections are closed after this (nox: 180 s); clients keep theirs alive with ping.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(180);

/// Building the swarm failed.
#[derive(Debug, thiserror::Error)]
#[error("could not build the libp2p swarm: {0}")]
pub struct BuildError(pub String);

#[cfg(not(target_arch = "wasm32"))]
mod imp {
    use super::*;
    use libp2p::core::muxing::StreamMuxerBox;
    use libp2p::core::Transport;
    use libp2p::{noise, tcp, yamux};

    /// Runs a task on the tokio runtime (the caller must be inside one).
    pub fn spawn(task: impl std::future::Future<Output = ()> + Send + 'static) {
        tokio::spawn(task);
    }

    /// A tokio swarm with TCP, WebRTC-direct (UDP) and WebSocket (over TCP) transports, with a
    /// fresh WebRTC certificate.
    ///
    /// # Errors
    /// When the Noise or transport setup fails.
    pub async fn build_swarm(
        key: Keypair,
        agent: &str,
        limits: ConnectionLimits,
        max_frame: usize,
    ) -> Result<Swarm<Behaviour>, BuildError> {
        build_swarm_with_webrtc(key, agent, limits, max_frame, None)
            .await
            .map(|(swarm, _)| swarm)
    }

    /// Like [`build_swarm`], with the WebRTC certificate from `certificate_pem` (generated when
    /// `None`); returns the PEM to keep so the `/certhash/…` of the listen address survives
    /// restarts.
    ///
    /// # Errors
    /// When the certificate PEM is invalid or the transport setup fails.
    pub async fn build_swarm_with_webrtc(
        key: Keypair,
        agent: &str,
        limits: ConnectionLimits,
        max_frame: usize,
        certificate_pem: Option<&str>,
    ) -> Result<(Swarm<Behaviour>, String), BuildError> {
        let err = |e: &dyn std::fmt::Display| BuildError(e.to_string());
        let certificate = match certificate_pem {
            Some(pem) => libp2p_webrtc::tokio::Certificate::from_pem(pem)
                .map_err(|e| BuildError(format!("invalid WebRTC certificate: {e}")))?,
            None => libp2p_webrtc::tokio::Certificate::generate(&mut rand::rng())
                .map_err(|e| err(&e))?,
        };
        let pem = certificate.serialize_pem();
        let agent = agent.to_string();
        let swarm = libp2p::SwarmBuilder::with_existing_identity(key)
            .with_tokio()
            .with_tcp(
                tcp::Config::default().nodelay(true),
                noise::Config::new,
                yamux::Config::default,
            )
            .map_err(|e| err(&e))?
            .with_other_transport(|k| {
                libp2p_webrtc::tokio::Transport::new(k.clone(), certificate)
                    .map(|(peer, conn), _| (peer, StreamMuxerBox::new(conn)))
            })
            .map_err(|e| err(&e))?
            .with_dns()
            .map_err(|e| err(&e))?
            .with_websocket(noise::Config::new, yamux::Config::default)
            .await
            .map_err(|e| err(&e))?
            .with_behaviour(|k| Behaviour::new(k, &agent, limits, max_frame))
            .map_err(|e| err(&e))?
            .with_swarm_config(|c| c.with_idle_connection_timeout(IDLE_TIMEOUT))
            .build();
        Ok((swarm, pem))
    }
}

#[cfg(target_arch = "wasm32")]
mod imp {
    use super::*;

    /// Runs a task on the page's (or worker's) event loop.
    pub fn spawn(task: impl std::future::Future<Output = ()> + 'static) {
        wasm_bindgen_futures::spawn_local(task);
    }
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
        limits: ConnectionLimits,
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

pub use imp::{build_swarm, spawn};

/// Called on every connection state change of a client (`Send` natively).
#[cfg(not(target_arch = "wasm32"))]
pub type StateListener = Box<dyn FnMut(crate::client::ConnectionState) + Send>;
/// Called on every connection state change of a client (`Send` natively).
#[cfg(target_arch = "wasm32")]
pub type StateListener = Box<dyn FnMut(crate::client::ConnectionState)>;

/// Work a client task runs on its peer (`Send` natively).
#[cfg(not(target_arch = "wasm32"))]
pub(crate) type PeerFn = Box<dyn FnOnce(&mut lineage_peer::Peer) + Send>;
#[cfg(target_arch = "wasm32")]
pub(crate) type PeerFn = Box<dyn FnOnce(&mut lineage_peer::Peer)>;
#[cfg(not(target_arch = "wasm32"))]
pub use imp::build_swarm_with_webrtc;
