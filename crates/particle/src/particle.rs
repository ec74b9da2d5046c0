//! The particle model, its Ed25519 signature and its time to live.

use libp2p_identity::{Keypair, PeerId, PublicKey};

/// Multihash code of the identity "hash": the digest is the protobuf-encoded public key itself.
const MULTIHASH_IDENTITY: u64 = 0x00;

/// A particle: an AIR script travelling between peers together with the data its execution
/// has produced so far.
///
/// `id`, `timestamp`, `ttl` and `script` are fixed by the initiator and covered by
/// [`signature`](Particle::signature); `data` changes at every hop and is not signed.
///
/// ```
/// use libp2p_identity::Keypair;
/// use lineage_particle::Particle;
///
/// let key = Keypair::generate_ed25519();
/// let now_ms = 1_700_000_000_000;
/// let particle = Particle::new_signed(&key, "(null)", now_ms, 7_000, None).unwrap();
/// assert_eq!(particle.init_peer_id, key.public().to_peer_id());
/// assert!(particle.verify().is_ok());
/// assert_eq!(particle.time_left(now_ms + 2_000), 5_000);
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Particle {
    /// Particle id, unique per initiation (js-client and this crate use a UUID v4).
    pub id: String,
    /// The peer that created and signed the particle; its Ed25519 public key is embedded in
    /// the peer id and verifies [`signature`](Particle::signature).
    pub init_peer_id: PeerId,
    /// Creation time, Unix milliseconds.
    pub timestamp: u64,
    /// Time to live in milliseconds, counted from `timestamp`.
    pub ttl: u32,
    /// The AIR script.
    pub script: String,
    /// Ed25519 signature (64 bytes) of [`Particle::signed_bytes`] by the initiator.
    pub signature: Vec<u8>,
    /// AquaVM data (opaque here); not covered by the signature.
    pub data: Vec<u8>,
}

impl std::fmt::Debug for Particle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // `data` can be megabytes: show its size only.
        f.debug_struct("Particle")
            .field("id", &self.id)
            .field("init_peer_id", &self.init_peer_id)
            .field("timestamp", &self.timestamp)
            .field("ttl", &self.ttl)
            .field("script", &self.script)
            .field("signature", &self.signature)
            .field("data_len", &self.data.len())
            .finish()
    }
}

/// A particle failed a signature or lifetime check, or could not be signed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParticleError {
    /// The signing key pair is not an Ed25519 key pair (the protocol only knows Ed25519).
    #[error("particles can only be signed with Ed25519 keys, got a {key_type} key")]
    SigningKeyNotEd25519 {
        /// The key type that was offered.
        key_type: String,
    },
    /// Signing failed inside the key implementation.
    #[error("signing the particle failed: {0}")]
    Signing(String),
    /// `init_peer_id` does not embed a decodable public key (for example a SHA-256 peer id).
    #[error("cannot recover a public key from init_peer_id {peer_id}: {reason}")]
    UnrecoverableKey {
        /// The particle's `init_peer_id`.
        peer_id: PeerId,
        /// Why the key could not be recovered.
        reason: String,
    },
    /// `init_peer_id` embeds a public key that is not Ed25519.
    #[error(
        "init_peer_id {peer_id} holds a {key_type} key; particles must be signed with Ed25519"
    )]
    KeyNotEd25519 {
        /// The particle's `init_peer_id`.
        peer_id: PeerId,
        /// The embedded key's type.
        key_type: String,
    },
    /// The signature does not match `id ‖ timestamp ‖ ttl ‖ script` under the initiator's key.
    #[error("bad signature on particle {particle_id}")]
    BadSignature {
        /// The particle's id.
        particle_id: String,
    },
    /// The particle's deadline (`timestamp + ttl`) has passed.
    #[error("particle {particle_id} expired at {deadline_ms} ms (now {now_ms} ms)")]
    Expired {
        /// The particle's id.
        particle_id: String,
        /// `timestamp + ttl`, Unix milliseconds.
        deadline_ms: u64,
        /// The time of the check, Unix milliseconds.
        now_ms: u64,
    },
}

/// The bytes an initiator signs: `utf8(id) ‖ u64_le(timestamp) ‖ u32_le(ttl) ‖ utf8(script)`.
///
/// ```
/// let bytes = lineage_particle::signed_bytes("id", 1, 2, "s");
/// assert_eq!(bytes, b"id\x01\0\0\0\0\0\0\0\x02\0\0\0s");
/// ```
#[must_use]
pub fn signed_bytes(id: &str, timestamp: u64, ttl: u32, script: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(id.len() + 8 + 4 + script.len());
    out.extend_from_slice(id.as_bytes());
    out.extend_from_slice(&timestamp.to_le_bytes());
    out.extend_from_slice(&ttl.to_le_bytes());
    out.extend_from_slice(script.as_bytes());
    out
}

/// The Ed25519 public key embedded in a peer id (identity-multihash peer ids only).
///
/// # Errors
/// [`ParticleError::UnrecoverableKey`] for hashed or undecodable peer ids,
/// [`ParticleError::KeyNotEd25519`] when the embedded key is of another type.
///
/// ```
/// use libp2p_identity::Keypair;
///
/// let key = Keypair::generate_ed25519();
/// let public = lineage_particle::public_key_of(&key.public().to_peer_id()).unwrap();
/// assert_eq!(public, key.public());
/// ```
pub fn public_key_of(peer_id: &PeerId) -> Result<PublicKey, ParticleError> {
    let multihash = peer_id.as_ref();
    if multihash.code() != MULTIHASH_IDENTITY {
        return Err(ParticleError::UnrecoverableKey {
            peer_id: *peer_id,
            reason: format!(
                "the peer id is a hash (multihash code {:#x}), it does not embed the key",
                multihash.code()
            ),
        });
    }
    let encoded = multihash.digest();
    match PublicKey::try_decode_protobuf(encoded) {
        Ok(key) if key.key_type() == libp2p_identity::KeyType::Ed25519 => Ok(key),
        Ok(key) => Err(ParticleError::KeyNotEd25519 {
            peer_id: *peer_id,
            key_type: key.key_type().to_string(),
        }),
        Err(e) => match protobuf_key_type(encoded) {
            // A well-formed key of a type this build can't decode (only Ed25519 is compiled in).
            Some(key_type) if key_type != "Ed25519" => Err(ParticleError::KeyNotEd25519 {
                peer_id: *peer_id,
                key_type: key_type.to_string(),
            }),
            _ => Err(ParticleError::UnrecoverableKey {
                peer_id: *peer_id,
                reason: e.to_string(),
            }),
        },
    }
}

/// The key type named by a libp2p protobuf `PublicKey` (field 1, varint enum) when it starts
/// the encoding, as every libp2p implementation writes it.
fn protobuf_key_type(encoded: &[u8]) -> Option<&'static str> {
    match encoded {
        [0x08, 0, ..] => Some("RSA"),
        [0x08, 1, ..] => Some("Ed25519"),
        [0x08, 2, ..] => Some("Secp256k1"),
        [0x08, 3, ..] => Some("ECDSA"),
        _ => None,
    }
}

impl Particle {
    /// Creates a particle with empty data, signed by `keypair` (which becomes
    /// `init_peer_id`). `id` defaults to a random UUID v4.
    ///
    /// # Errors
    /// [`ParticleError::SigningKeyNotEd25519`] if `keypair` is not Ed25519.
    ///
    /// ```
    /// use libp2p_identity::Keypair;
    /// use lineage_particle::Particle;
    ///
    /// let key = Keypair::generate_ed25519();
    /// let p = Particle::new_signed(&key, "(null)", 1_000, 7_000, Some("my-id".into())).unwrap();
    /// assert_eq!(p.id, "my-id");
    /// assert_eq!(p.signature.len(), 64);
    /// assert!(p.data.is_empty());
    /// ```
    pub fn new_signed(
        keypair: &Keypair,
        script: impl Into<String>,
        timestamp_ms: u64,
        ttl_ms: u32,
        id: Option<String>,
    ) -> Result<Particle, ParticleError> {
        let mut particle = Particle {
            id: id.unwrap_or_else(|| uuid::Uuid::new_v4().to_string()),
            init_peer_id: keypair.public().to_peer_id(),
            timestamp: timestamp_ms,
            ttl: ttl_ms,
            script: script.into(),
            signature: Vec::new(),
            data: Vec::new(),
        };
        particle.sign(keypair)?;
        Ok(particle)
    }

    /// Replaces the data (builder style); the signature stays valid since data is not signed.
    ///
    /// ```
    /// # use libp2p_identity::Keypair;
    /// # use lineage_particle::Particle;
    /// # let key = Keypair::generate_ed25519();
    /// let p = Particle::new_signed(&key, "(null)", 1, 2, None).unwrap().with_data(vec![1, 2, 3]);
    /// assert_eq!(p.data, [1, 2, 3]);
    /// assert!(p.verify().is_ok());
    /// ```
    #[must_use]
    pub fn with_data(mut self, data: Vec<u8>) -> Particle {
        self.data = data;
        self
    }

    /// (Re-)signs the particle with `keypair` and sets `init_peer_id` to its peer id.
    ///
    /// # Errors
    /// [`ParticleError::SigningKeyNotEd25519`] if `keypair` is not Ed25519,
    /// [`ParticleError::Signing`] if the key implementation fails.
    pub fn sign(&mut self, keypair: &Keypair) -> Result<(), ParticleError> {
        if keypair.key_type() != libp2p_identity::KeyType::Ed25519 {
            return Err(ParticleError::SigningKeyNotEd25519 {
                key_type: keypair.key_type().to_string(),
            });
        }
        self.init_peer_id = keypair.public().to_peer_id();
        self.signature = keypair
            .sign(&self.signed_bytes())
            .map_err(|e| ParticleError::Signing(e.to_string()))?;
        Ok(())
    }

    /// The bytes covered by the signature (see the free function [`signed_bytes`]).
    #[must_use]
    pub fn signed_bytes(&self) -> Vec<u8> {
        signed_bytes(&self.id, self.timestamp, self.ttl, &self.script)
    }

    /// Checks the signature against the Ed25519 key embedded in `init_peer_id`.
    ///
    /// # Errors
    /// [`ParticleError::UnrecoverableKey`] / [`ParticleError::KeyNotEd25519`] when no Ed25519
    /// key can be taken from `init_peer_id`, [`ParticleError::BadSignature`] otherwise.
    ///
    /// ```
    /// # use libp2p_identity::Keypair;
    /// # use lineage_particle::{Particle, ParticleError};
    /// # let key = Keypair::generate_ed25519();
    /// let mut p = Particle::new_signed(&key, "(null)", 1, 2, None).unwrap();
    /// p.script.push(' ');
    /// assert!(matches!(p.verify(), Err(ParticleError::BadSignature { .. })));
    /// ```
    pub fn verify(&self) -> Result<(), ParticleError> {
        let key = public_key_of(&self.init_peer_id)?;
        if key.verify(&self.signed_bytes(), &self.signature) {
            Ok(())
        } else {
            Err(ParticleError::BadSignature {
                particle_id: self.id.clone(),
            })
        }
    }

    /// `timestamp + ttl` in Unix milliseconds (saturating).
    #[must_use]
    pub fn deadline_ms(&self) -> u64 {
        self.timestamp.saturating_add(u64::from(self.ttl))
    }

    /// Milliseconds left before the deadline at `now_ms`; 0 once expired.
    #[must_use]
    pub fn time_left(&self, now_ms: u64) -> u64 {
        self.deadline_ms().saturating_sub(now_ms)
    }

    /// Whether the particle has expired at `now_ms`: `timestamp + ttl <= now_ms`
    /// (js-client: actual ttl `<= 0`).
    ///
    /// ```
    /// # use libp2p_identity::Keypair;
    /// # use lineage_particle::Particle;
    /// # let key = Keypair::generate_ed25519();
    /// let p = Particle::new_signed(&key, "(null)", 1_000, 500, None).unwrap();
    /// assert!(!p.is_expired(1_499));
    /// assert!(p.is_expired(1_500));
    /// ```
    #[must_use]
    pub fn is_expired(&self, now_ms: u64) -> bool {
        self.time_left(now_ms) == 0
    }

    /// [`ParticleError::Expired`] if the particle has expired at `now_ms`.
    ///
    /// # Errors
    /// [`ParticleError::Expired`].
    pub fn check_expiry(&self, now_ms: u64) -> Result<(), ParticleError> {
        if self.is_expired(now_ms) {
            Err(ParticleError::Expired {
                particle_id: self.id.clone(),
                deadline_ms: self.deadline_ms(),
                now_ms,
            })
        } else {
            Ok(())
        }
    }

    /// What a receiver checks before executing a particle: not expired at `now_ms`
    /// (cheap, checked first), then the signature.
    ///
    /// # Errors
    /// [`ParticleError::Expired`] or any error of [`Particle::verify`].
    pub fn validate(&self, now_ms: u64) -> Result<(), ParticleError> {
        self.check_expiry(now_ms)?;
        self.verify()
    }
}
