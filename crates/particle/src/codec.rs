//! The wire codec of `/fluence/particle/2.0.0`: the body (frames and the stream reader: `frame.rs`).
//!
//! frame = unsigned-varint(body length) ‖ body, body = `0x81 0x04` (multicodec 0x0201,
//! MessagePack) ‖ MessagePack map `{action: "Particle", id, init_peer_id, timestamp, ttl,
//! script, signature, data}`.
//!
//! Encoding writes `signature` and `data` as msgpack `bin`, as nox does; decoding also
//! accepts arrays of integers, which js-client writes. Decoding never panics and reports
//! every malformation as a [`CodecError`]; unknown map keys are skipped (nox and js-client
//! ignore them too).

use std::cell::Cell;
use std::fmt;
use std::str::FromStr;

use libp2p_identity::PeerId;
use serde::de::{self, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserializer as _, Serialize, Serializer};

use crate::Particle;

/// Largest accepted frame body, in bytes: 64 MiB, nox's particle size limit
/// (`MAX_PARTICLE_SIZE`).
pub const DEFAULT_MAX_FRAME_SIZE: usize = 64 * 1024 * 1024;

/// The multicodec code of MessagePack (`0x0201`).
pub const MSGPACK_MULTICODEC: u64 = 0x0201;

/// [`MSGPACK_MULTICODEC`] as the unsigned varint that starts every body.
pub const MSGPACK_MULTICODEC_PREFIX: [u8; 2] = [0x81, 0x04];

/// The value of the `action` key of a particle.
pub const PARTICLE_ACTION: &str = "Particle";

/// Deepest msgpack nesting accepted (the particle map is one level; unknown values may nest a
/// little). Keeps skipping of hostile unknown values well away from the stack limit.
const MAX_DEPTH: usize = 16;

/// A particle frame could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CodecError {
    /// The length prefix announces more bytes than the configured maximum.
    #[error("particle frame of {len} bytes exceeds the limit of {max} bytes")]
    FrameTooLarge {
        /// The announced body length.
        len: u64,
        /// The maximum frame size in force.
        max: usize,
    },
    /// The length prefix is not a valid minimal unsigned varint.
    #[error("invalid frame length prefix: {0}")]
    InvalidLengthPrefix(String),
    /// The input ends before the frame does.
    #[error("incomplete frame: the input ends before the announced length")]
    IncompleteFrame,
    /// Bytes follow the frame.
    #[error("{count} unexpected bytes after the frame")]
    TrailingBytes {
        /// How many bytes follow.
        count: usize,
    },
    /// The body does not start with a valid multicodec varint.
    #[error("the frame body does not start with a multicodec prefix: {0}")]
    InvalidCodecPrefix(String),
    /// The body is not MessagePack (e.g. `0x0200`, the JSON of js-client < 0.8).
    #[error("unsupported multicodec {0:#x} (only MessagePack 0x0201 is accepted)")]
    UnsupportedCodec(u64),
    /// The MessagePack value is not a map.
    #[error("the particle is not a MessagePack map")]
    NotAMap,
    /// The MessagePack data ends in the middle of a value.
    #[error("the MessagePack body is truncated")]
    TruncatedBody,
    /// Bytes follow the MessagePack map inside the body.
    #[error("{count} unexpected bytes after the MessagePack map")]
    TrailingBodyBytes {
        /// How many bytes follow the map.
        count: usize,
    },
    /// A map key is not a string.
    #[error("invalid map key: {0}")]
    InvalidKey(String),
    /// A field appears twice.
    #[error("duplicate field `{0}`")]
    DuplicateField(&'static str),
    /// A required field is absent (or nil).
    #[error("missing field `{0}`")]
    MissingField(&'static str),
    /// A field has the wrong type or an out-of-range value.
    #[error("invalid field `{field}`: {reason}")]
    InvalidField {
        /// The field name.
        field: &'static str,
        /// What was wrong.
        reason: String,
    },
    /// `action` is not `"Particle"`.
    #[error("unknown action {0:?}")]
    UnknownAction(String),
    /// `init_peer_id` is not a base58 peer id.
    #[error("invalid init_peer_id {value:?}: {reason}")]
    InvalidPeerId {
        /// The string received.
        value: String,
        /// The parser's complaint.
        reason: String,
    },
    /// Any other MessagePack error (e.g. nesting too deep).
    #[error("malformed MessagePack: {0}")]
    Malformed(String),
}

// ---------------------------------------------------------------------------------------------
// Encoding

/// `signature`/`data` as msgpack `bin`.
struct Bin<'a>(&'a [u8]);

impl Serialize for Bin<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_bytes(self.0)
    }
}

/// The map as written on the wire (field order as js-client writes it).
#[derive(Serialize)]
struct WireOut<'a> {
    action: &'static str,
    id: &'a str,
    init_peer_id: String,
    timestamp: u64,
    ttl: u32,
    script: &'a str,
    signature: Bin<'a>,
    data: Bin<'a>,
}

/// The frame body: `0x81 0x04` ‖ MessagePack map (no length prefix).
///
/// # Panics
/// If `id`, `script`, `signature` or `data` is longer than `u32::MAX` bytes (MessagePack's
/// own limit); such a particle is far beyond any frame size limit anyway.
#[must_use]
pub fn encode_body(particle: &Particle) -> Vec<u8> {
    let wire = WireOut {
        action: PARTICLE_ACTION,
        id: &particle.id,
        init_peer_id: particle.init_peer_id.to_base58(),
        timestamp: particle.timestamp,
        ttl: particle.ttl,
        script: &particle.script,
        signature: Bin(&particle.signature),
        data: Bin(&particle.data),
    };
    let mut body = Vec::with_capacity(
        96 + particle.id.len()
            + particle.script.len()
            + particle.signature.len()
            + particle.data.len(),
    );
    body.extend_from_slice(&MSGPACK_MULTICODEC_PREFIX);
    rmp_serde::encode::write_named(&mut body, &wire)
        .expect("MessagePack encoding into a Vec fails only for values longer than u32::MAX bytes");
    body
}

/// A whole frame: unsigned-varint length ‖ `0x81 0x04` ‖ MessagePack map.
///
/// ```
/// use libp2p_identity::Keypair;
/// use lineage_particle::{decode_frame, encode, Particle};
///
/// let key = Keypair::generate_ed25519();
/// let p = Particle::new_signed(&key, "(null)", 1_000, 7_000, None).unwrap().with_data(vec![7]);
/// let frame = encode(&p);
/// assert_eq!(decode_frame(&frame).unwrap(), p);
/// ```
///
/// # Panics
/// See [`encode_body`].
#[must_use]
pub fn encode(particle: &Particle) -> Vec<u8> {
    let body = encode_body(particle);
    let mut prefix = unsigned_varint::encode::u64_buffer();
    let prefix = unsigned_varint::encode::u64(body.len() as u64, &mut prefix);
    let mut frame = Vec::with_capacity(prefix.len() + body.len());
    frame.extend_from_slice(prefix);
    frame.extend_from_slice(&body);
    frame
}

// ---------------------------------------------------------------------------------------------
// Decoding

/// Decodes a frame body (`0x81 0x04` ‖ MessagePack map, without the length prefix).
///
/// # Errors
/// Every malformation is a [`CodecError`]; see its variants.
pub fn decode_body(body: &[u8]) -> Result<Particle, CodecError> {
    let (codec, msgpack) = unsigned_varint::decode::u64(body)
        .map_err(|e| CodecError::InvalidCodecPrefix(e.to_string()))?;
    if codec != MSGPACK_MULTICODEC {
        return Err(CodecError::UnsupportedCodec(codec));
    }
    // fixmap 0x80..=0x8f, map16 0xde, map32 0xdf.
    match msgpack.first() {
        None => return Err(CodecError::TruncatedBody),
        Some(0x80..=0x8f | 0xde | 0xdf) => {}
        Some(_) => return Err(CodecError::NotAMap),
    }

    let mut rest = msgpack;
    let context = Cell::new(Context::Key);
    let raw = {
        let mut de = rmp_serde::Deserializer::new(&mut rest);
        de.set_max_depth(MAX_DEPTH);
        de.deserialize_map(RawVisitor { context: &context })
            .map_err(|e| classify(e, context.get()))?
    };
    if !rest.is_empty() {
        return Err(CodecError::TrailingBodyBytes { count: rest.len() });
    }
    raw.into_particle()
}

/// What the deserializer was reading when an error came up.
#[derive(Clone, Copy)]
enum Context {
    Key,
    Value(&'static str),
    /// The value of a key this codec does not know (skipped).
    Unknown,
}

fn classify(err: rmp_serde::decode::Error, context: Context) -> CodecError {
    use rmp_serde::decode::Error as E;
    match err {
        E::InvalidMarkerRead(ref io) | E::InvalidDataRead(ref io)
            if io.kind() == std::io::ErrorKind::UnexpectedEof =>
        {
            CodecError::TruncatedBody
        }
        E::DepthLimitExceeded => CodecError::Malformed(err.to_string()),
        _ => match context {
            Context::Key => CodecError::InvalidKey(err.to_string()),
            Context::Value(field) => CodecError::InvalidField {
                field,
                reason: err.to_string(),
            },
            Context::Unknown => CodecError::Malformed(err.to_string()),
        },
    }
}

/// The fields as found in the map; semantic checks happen in [`Raw::into_particle`].
#[derive(Default)]
struct Raw {
    action: Option<Str>,
    id: Option<Str>,
    init_peer_id: Option<Str>,
    timestamp: Option<u64>,
    ttl: Option<u32>,
    script: Option<Str>,
    signature: Option<Bytes>,
    data: Option<Bytes>,
    duplicate: Option<&'static str>,
}

impl Raw {
    fn into_particle(self) -> Result<Particle, CodecError> {
        if let Some(field) = self.duplicate {
            return Err(CodecError::DuplicateField(field));
        }
        let Str(action) = self.action.ok_or(CodecError::MissingField("action"))?;
        if action != PARTICLE_ACTION {
            return Err(CodecError::UnknownAction(action));
        }
        let Str(id) = self.id.ok_or(CodecError::MissingField("id"))?;
        let Str(init_peer_id) = self
            .init_peer_id
            .ok_or(CodecError::MissingField("init_peer_id"))?;
        let timestamp = self
            .timestamp
            .ok_or(CodecError::MissingField("timestamp"))?;
        let ttl = self.ttl.ok_or(CodecError::MissingField("ttl"))?;
        let Str(script) = self.script.ok_or(CodecError::MissingField("script"))?;
        let Bytes(signature) = self
            .signature
            .ok_or(CodecError::MissingField("signature"))?;
        let Bytes(data) = self.data.ok_or(CodecError::MissingField("data"))?;
        let init_peer_id =
            PeerId::from_str(&init_peer_id).map_err(|e| CodecError::InvalidPeerId {
                reason: e.to_string(),
                value: init_peer_id,
            })?;
        Ok(Particle {
            id,
            init_peer_id,
            timestamp,
            ttl,
            script,
            signature,
            data,
        })
    }
}

/// The known keys.
#[derive(Clone, Copy)]
enum Key {
    Action,
    Id,
    InitPeerId,
    Timestamp,
    Ttl,
    Script,
    Signature,
    Data,
    Unknown,
}

impl<'de> de::Deserialize<'de> for Key {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl Visitor<'_> for KeyVisitor {
            type Value = Key;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string key")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Key, E> {
                Ok(match v {
                    "action" => Key::Action,
                    "id" => Key::Id,
                    "init_peer_id" => Key::InitPeerId,
                    "timestamp" => Key::Timestamp,
                    "ttl" => Key::Ttl,
                    "script" => Key::Script,
                    "signature" => Key::Signature,
                    "data" => Key::Data,
                    _ => Key::Unknown,
                })
            }
        }
        deserializer.deserialize_str(KeyVisitor)
    }
}

struct RawVisitor<'c> {
    context: &'c Cell<Context>,
}

impl RawVisitor<'_> {
    /// Reads the value of `field` into `slot` (recording a duplicate instead of overwriting).
    fn field<'de, A, T>(
        &self,
        map: &mut A,
        field: &'static str,
        slot: &mut Option<T>,
        seen: &mut Vec<&'static str>,
        duplicate: &mut Option<&'static str>,
    ) -> Result<(), A::Error>
    where
        A: MapAccess<'de>,
        T: de::Deserialize<'de>,
    {
        self.context.set(Context::Value(field));
        // nil counts as absent (reported as a missing field).
        let value: Option<T> = map.next_value()?;
        if seen.contains(&field) {
            duplicate.get_or_insert(field);
        } else {
            seen.push(field);
            *slot = value;
        }
        self.context.set(Context::Key);
        Ok(())
    }
}

impl<'de> Visitor<'de> for RawVisitor<'_> {
    type Value = Raw;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a particle map")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Raw, A::Error> {
        let mut raw = Raw::default();
        let mut dup = None;
        let mut seen = Vec::with_capacity(8);
        loop {
            self.context.set(Context::Key);
            let Some(key) = map.next_key::<Key>()? else {
                break;
            };
            match key {
                Key::Action => {
                    self.field(&mut map, "action", &mut raw.action, &mut seen, &mut dup)?
                }
                Key::Id => self.field(&mut map, "id", &mut raw.id, &mut seen, &mut dup)?,
                Key::InitPeerId => self.field(
                    &mut map,
                    "init_peer_id",
                    &mut raw.init_peer_id,
                    &mut seen,
                    &mut dup,
                )?,
                Key::Timestamp => self.field(
                    &mut map,
                    "timestamp",
                    &mut raw.timestamp,
                    &mut seen,
                    &mut dup,
                )?,
                Key::Ttl => self.field(&mut map, "ttl", &mut raw.ttl, &mut seen, &mut dup)?,
                Key::Script => {
                    self.field(&mut map, "script", &mut raw.script, &mut seen, &mut dup)?
                }
                Key::Signature => self.field(
                    &mut map,
                    "signature",
                    &mut raw.signature,
                    &mut seen,
                    &mut dup,
                )?,
                Key::Data => self.field(&mut map, "data", &mut raw.data, &mut seen, &mut dup)?,
                Key::Unknown => {
                    self.context.set(Context::Unknown);
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        raw.duplicate = dup;
        Ok(raw)
    }
}

/// A msgpack `str` (UTF-8); unlike `String`, `bin` is refused.
struct Str(String);

impl<'de> de::Deserialize<'de> for Str {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct StrVisitor;
        impl Visitor<'_> for StrVisitor {
            type Value = Str;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Str, E> {
                Ok(Str(v.to_owned()))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Str, E> {
                Ok(Str(v))
            }
        }
        deserializer.deserialize_any(StrVisitor)
    }
}

/// Bytes from msgpack `bin` or from an array of integers 0..=255.
struct Bytes(Vec<u8>);

impl<'de> de::Deserialize<'de> for Bytes {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(BytesVisitor)
    }
}

struct BytesVisitor;

impl<'de> Visitor<'de> for BytesVisitor {
    type Value = Bytes;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("bin or an array of bytes")
    }

    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Bytes, E> {
        Ok(Bytes(v.to_vec()))
    }

    fn visit_byte_buf<E: de::Error>(self, v: Vec<u8>) -> Result<Bytes, E> {
        Ok(Bytes(v))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Bytes, A::Error> {
        // The announced length is untrusted: never reserve more than a little up front.
        let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
        while let Some(byte) = seq.next_element::<u8>()? {
            out.push(byte);
        }
        Ok(Bytes(out))
    }
}
