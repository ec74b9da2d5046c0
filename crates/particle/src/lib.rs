//! # lineage-particle
//!
//! Particles of the Fluence particle protocol `/fluence/particle/2.0.0`, compatible with nox
//! and js-client 0.9:
//!
//! - [`Particle`]: the model; Ed25519 signing ([`Particle::new_signed`]) and verification
//!   ([`Particle::verify`]) over `utf8(id) ‖ u64_le(timestamp) ‖ u32_le(ttl) ‖ utf8(script)`
//!   with the key embedded in `init_peer_id`; expiry from `timestamp + ttl`.
//! - The wire codec: [`encode`] / [`decode_frame`] for whole frames
//!   (`uvarint(len) ‖ 0x81 0x04 ‖ MessagePack map`) and [`FrameReader`] for bytes arriving in
//!   pieces.
//!
//! No clocks, no async runtime: times are parameters (Unix milliseconds), so the crate builds
//! for `wasm32-unknown-unknown` as well.
//!
//! ```
//! use libp2p_identity::Keypair;
//! use lineage_particle::{decode_frame, encode, Particle};
//!
//! let key = Keypair::generate_ed25519();
//! let now_ms = 1_700_000_000_000;
//! let particle = Particle::new_signed(&key, "(null)", now_ms, 7_000, None).unwrap();
//! let received = decode_frame(&encode(&particle)).unwrap();
//! assert!(received.validate(now_ms + 1_000).is_ok());
//! assert!(received.validate(now_ms + 7_000).is_err());
//! ```

mod codec;
mod frame;
mod particle;

pub use codec::{
    decode_body, encode, encode_body, CodecError, DEFAULT_MAX_FRAME_SIZE, MSGPACK_MULTICODEC,
    MSGPACK_MULTICODEC_PREFIX, PARTICLE_ACTION,
};
pub use frame::{decode_frame, FrameReader, ParticleCodec};
pub use libp2p_identity::{Keypair, PeerId};
pub use particle::{public_key_of, signed_bytes, Particle, ParticleError};

/// The particle protocol id (nox `PROTOCOL_NAME`, js-client `PROTOCOL_NAME`).
pub const PROTOCOL_NAME: &str = "/fluence/particle/2.0.0";

#[cfg(test)]
mod tests;
