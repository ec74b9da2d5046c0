//! Who may put code on a peer, and how much of it: the policy behind `dist.add_module`,
//! `dist.add_blueprint` and `srv.create`, and the per-owner quotas on what they keep.
//!
//! nox ≥ 0.23 lets only the host deploy; a Lineage edge node lets the host, its management
//! key and a configured allow-list deploy by default ([`DeployPolicy::Only`]), or anyone
//! ([`DeployPolicy::Open`]) when configured so.

use std::collections::BTreeSet;

use libp2p_identity::PeerId;

/// Who may upload modules and blueprints and create services.
///
/// The peer itself (particles it initiates) may always; [`Quotas`] apply to everyone else.
///
/// ```
/// use lineage_peer::DeployPolicy;
/// let admin = libp2p_identity::Keypair::generate_ed25519().public().to_peer_id();
/// let stranger = libp2p_identity::Keypair::generate_ed25519().public().to_peer_id();
/// let policy = DeployPolicy::only([admin]);
/// assert!(policy.allows(&admin));
/// assert!(!policy.allows(&stranger));
/// assert!(DeployPolicy::Open.allows(&stranger));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum DeployPolicy {
    /// Anyone may deploy (a library peer's default; a node's only when configured so).
    #[default]
    Open,
    /// Only these peers (and the peer itself): a node's management key and allow-list.
    Only(BTreeSet<PeerId>),
}

impl DeployPolicy {
    /// [`DeployPolicy::Only`] the given peers.
    pub fn only(peers: impl IntoIterator<Item = PeerId>) -> Self {
        DeployPolicy::Only(peers.into_iter().collect())
    }

    /// Whether `peer` may deploy (the peer itself is checked by the caller).
    pub fn allows(&self, peer: &PeerId) -> bool {
        match self {
            DeployPolicy::Open => true,
            DeployPolicy::Only(peers) => peers.contains(peer),
        }
    }

    /// A short description for errors and logs: "open" or "2 allowed peers".
    pub fn describe(&self) -> String {
        match self {
            DeployPolicy::Open => "open".to_string(),
            DeployPolicy::Only(peers) => format!(
                "the host, its management key and allow-list ({} peer{})",
                peers.len(),
                if peers.len() == 1 { "" } else { "s" }
            ),
        }
    }
}

/// Caps on what deployers keep on a peer. `per owner` counts what one peer uploaded or
/// created; the totals count everyone's. The peer itself is exempt from the per-owner caps.
///
/// ```
/// let q = lineage_peer::Quotas::default();
/// assert_eq!(q.services_per_owner, 32);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quotas {
    /// Modules one peer may upload (a module already stored by anyone does not count again).
    pub modules_per_owner: usize,
    /// Bytes of Wasm all stored modules may take together.
    pub module_bytes: usize,
    /// Blueprints one peer may add.
    pub blueprints_per_owner: usize,
    /// Services one peer may own.
    pub services_per_owner: usize,
    /// Services of all owners together.
    pub services: usize,
    /// Aliases on the services of one owner.
    pub aliases_per_owner: usize,
}

impl Default for Quotas {
    fn default() -> Self {
        Quotas {
            modules_per_owner: 64,
            module_bytes: 512 << 20,
            blueprints_per_owner: 64,
            services_per_owner: 32,
            services: 1024,
            aliases_per_owner: 64,
        }
    }
}

/// What a deploy call would go past.
#[cfg_attr(not(feature = "marine"), allow(dead_code))]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum QuotaExceeded {
    #[error("{owner} may not deploy here (deploy policy: {policy})")]
    NotAllowed { owner: PeerId, policy: String },
    #[error("{owner} already has {limit} {what} here (the per-owner quota)")]
    PerOwner {
        owner: PeerId,
        what: &'static str,
        limit: usize,
    },
    #[error("this peer already holds {limit} {what} (the total quota)")]
    Total { what: &'static str, limit: usize },
}
