//! Lineage Edge's stand-in for [`libsecp256k1` 0.7.2](https://crates.io/crates/libsecp256k1),
//! implemented over RustCrypto's [`k256`].
//!
//! # Why this crate exists
//!
//! AquaVM (`aquavm-air` 0.63) depends on `fluence-keypair` 0.10.4, which depends on
//! `libsecp256k1` with its default features. Those include `static-context`: a build script
//! generates the ECMULT / ECMULT_GEN precomputed tables and compiles them into the binary as
//! statics, which costs ~1.2 MB (gzipped) in our wasm32 bundle, although our particles are only
//! ever signed with Ed25519. The root `Cargo.toml` replaces `libsecp256k1` with this crate via
//! `[patch.crates-io]`; it keeps the crate name and version so the patch resolves.
//!
//! # What it provides
//!
//! Exactly the part of the libsecp256k1 0.7.2 API that `fluence-keypair` uses, with identical
//! signatures and semantics, plus a few trivial neighbours (compact signatures, recovery ids):
//!
//! * [`SecretKey`] — [`parse`](SecretKey::parse), [`parse_slice`](SecretKey::parse_slice),
//!   [`serialize`](SecretKey::serialize);
//! * [`PublicKey`] — [`from_secret_key`](PublicKey::from_secret_key),
//!   [`parse`](PublicKey::parse), [`parse_compressed`](PublicKey::parse_compressed),
//!   [`parse_slice`](PublicKey::parse_slice) with a [`PublicKeyFormat`],
//!   [`serialize`](PublicKey::serialize), [`serialize_compressed`](PublicKey::serialize_compressed);
//! * [`Message`] — [`parse`](Message::parse), [`parse_slice`](Message::parse_slice),
//!   [`serialize`](Message::serialize);
//! * [`Signature`] — [`parse_der`](Signature::parse_der) (the same strict-DER/lenient-value rules),
//!   [`serialize_der`](Signature::serialize_der), [`parse_standard`](Signature::parse_standard),
//!   [`parse_standard_slice`](Signature::parse_standard_slice),
//!   [`parse_overflowing`](Signature::parse_overflowing),
//!   [`parse_overflowing_slice`](Signature::parse_overflowing_slice),
//!   [`serialize`](Signature::serialize), [`normalize_s`](Signature::normalize_s);
//! * [`RecoveryId`], [`sign`], [`verify`], [`Error`] (same variants and messages) and the
//!   [`util`] constants and [`util::SignatureArray`].
//!
//! Signatures are byte-identical to libsecp256k1's: both derive the nonce with RFC 6979
//! (HMAC-DRBG over SHA-256, seeded with the 32-byte secret key and the message reduced modulo
//! the group order, no extra data), retry with the next DRBG output if a nonce or a signature
//! is unusable, and normalize `s` to the lower half of the order. [`verify`] accepts high-`s`
//! signatures, as libsecp256k1's does. The crate's tests pin this against vectors produced by
//! the real libsecp256k1 0.7.2.
//!
//! Not provided (fluence-keypair does not use them): the explicit-context `*_with_context`
//! functions and the `ECMULT_*` statics, tweaks, ECDH (`SharedSecret`), public key recovery,
//! `PublicKey::combine`, `SecretKey::random`/`inv`/`clear`, lax DER, serde support, and the
//! re-exported `libsecp256k1-core` internals (`curve`, `util::Decoder`, ...). The fields of
//! [`Message`] and [`Signature`] are private here (they are libsecp256k1-core scalars there).

#![cfg_attr(not(feature = "std"), no_std)]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

use core::fmt;

use k256::ecdsa::hazmat::SignPrimitive;
use k256::ecdsa::signature::hazmat::PrehashVerifier;
use k256::ecdsa::VerifyingKey;
use k256::elliptic_curve::ops::Reduce;
use k256::elliptic_curve::scalar::IsHigh;
use k256::elliptic_curve::sec1::ToEncodedPoint;
use k256::elliptic_curve::subtle::ConstantTimeEq;
use k256::elliptic_curve::zeroize::Zeroize;
use k256::elliptic_curve::PrimeField;
use k256::sha2::Sha256;
use k256::{FieldBytes, NonZeroScalar, Scalar, U256};

/// Constants of the secp256k1 encodings, and the DER signature buffer.
pub mod util {
    /// SEC1 tag of a compressed public key with an even `y`.
    pub const TAG_PUBKEY_EVEN: u8 = 0x02;
    /// SEC1 tag of a compressed public key with an odd `y`.
    pub const TAG_PUBKEY_ODD: u8 = 0x03;
    /// SEC1 tag of an uncompressed public key.
    pub const TAG_PUBKEY_FULL: u8 = 0x04;
    /// Tag of a "hybrid" uncompressed public key with an even `y` (accepted by `parse`).
    pub const TAG_PUBKEY_HYBRID_EVEN: u8 = 0x06;
    /// Tag of a "hybrid" uncompressed public key with an odd `y` (accepted by `parse`).
    pub const TAG_PUBKEY_HYBRID_ODD: u8 = 0x07;

    /// Size of a message (a 256-bit hash).
    pub const MESSAGE_SIZE: usize = 32;
    /// Size of a serialized secret key.
    pub const SECRET_KEY_SIZE: usize = 32;
    /// Size of a raw public key (`x || y`, no tag).
    pub const RAW_PUBLIC_KEY_SIZE: usize = 64;
    /// Size of an uncompressed public key (`0x04 || x || y`).
    pub const FULL_PUBLIC_KEY_SIZE: usize = 65;
    /// Size of a compressed public key (`0x02|0x03 || x`).
    pub const COMPRESSED_PUBLIC_KEY_SIZE: usize = 33;
    /// Size of a compact signature (`r || s`).
    pub const SIGNATURE_SIZE: usize = 64;
    /// Maximum size of a DER signature produced by `Signature::serialize_der`.
    pub const DER_MAX_SIGNATURE_SIZE: usize = 72;

    /// A DER-encoded signature in a fixed buffer; read it with `as_ref()`.
    pub struct SignatureArray([u8; 6 + 33 + 33], usize);

    impl SignatureArray {
        /// A zeroed array of `size` bytes (at most [`DER_MAX_SIGNATURE_SIZE`]; larger sizes are
        /// clamped, where libsecp256k1 would panic on access).
        pub fn new(size: usize) -> Self {
            SignatureArray([0u8; 6 + 33 + 33], size.min(DER_MAX_SIGNATURE_SIZE))
        }

        /// The number of bytes in use.
        pub fn len(&self) -> usize {
            self.1
        }

        /// Whether no byte is in use.
        pub fn is_empty(&self) -> bool {
            self.len() == 0
        }
    }

    impl AsRef<[u8]> for SignatureArray {
        fn as_ref(&self) -> &[u8] {
            &self.0[..self.1]
        }
    }

    impl AsMut<[u8]> for SignatureArray {
        fn as_mut(&mut self) -> &mut [u8] {
            &mut self.0[..self.1]
        }
    }
}

/// The errors of this crate: libsecp256k1-core's `Error`, with the same variants and messages.
#[derive(Debug, Clone, Copy, Eq, PartialEq)]
pub enum Error {
    /// A signature that cannot be parsed.
    InvalidSignature,
    /// A public key that cannot be parsed or is not on the curve.
    InvalidPublicKey,
    /// A secret key that is zero or not below the group order.
    InvalidSecretKey,
    /// A recovery id out of range.
    InvalidRecoveryId,
    /// An invalid message.
    InvalidMessage,
    /// An input of the wrong length.
    InvalidInputLength,
    /// A tweak out of range (never produced here: tweaks are not implemented).
    TweakOutOfRange,
    /// An invalid affine point (never produced here).
    InvalidAffine,
}

#[cfg(feature = "std")]
impl std::error::Error for Error {}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Error::InvalidSignature => "Invalid signature",
            Error::InvalidPublicKey => "Invalid public key",
            Error::InvalidSecretKey => "Invalid secret key",
            Error::InvalidRecoveryId => "Invalid recovery ID",
            Error::InvalidMessage => "Invalid message",
            Error::InvalidInputLength => "Invalid input length",
            Error::TweakOutOfRange => "Tweak out of range",
            Error::InvalidAffine => "Invalid Affine",
        })
    }
}

/// Format for public key parsing.
pub enum PublicKeyFormat {
    /// Compressed public key, 33 bytes.
    Compressed,
    /// Full length public key, 65 bytes.
    Full,
    /// Raw public key, 64 bytes.
    Raw,
}

/// Public key on the secp256k1 curve (never the point at infinity).
#[derive(Debug, Clone, Copy, Eq, PartialEq)]
pub struct PublicKey(k256::PublicKey);

/// Secret key (a non-zero scalar below the group order).
#[derive(Clone, Copy)]
pub struct SecretKey(NonZeroScalar);

/// An ECDSA signature `(r, s)`. Either may be zero after [`Signature::parse_der`] of an
/// out-of-range integer (as in libsecp256k1); such a signature never verifies.
#[derive(Debug, Clone, Copy, Eq, PartialEq)]
pub struct Signature {
    r: Scalar,
    s: Scalar,
}

/// Tag used for public key recovery from signatures (0..=3).
#[derive(Debug, Clone, Copy, Eq, PartialEq)]
pub struct RecoveryId(u8);

/// Hashed message input to an ECDSA signature, reduced modulo the group order.
#[derive(Debug, Clone, Copy, Eq, PartialEq)]
pub struct Message(Scalar);

/// Copies `src` into a fixed array. The callers pass encodings whose length is fixed by
/// construction; the `debug_assert` documents it, and no input can make this panic.
fn to_array<const N: usize>(src: &[u8]) -> [u8; N] {
    debug_assert_eq!(src.len(), N);
    let mut out = [0u8; N];
    for (o, b) in out.iter_mut().zip(src) {
        *o = *b;
    }
    out
}

/// A scalar from 32 big-endian bytes, or `None` if they encode a value `>=` the group order.
fn scalar_from_bytes(b: &[u8; 32]) -> Option<Scalar> {
    Option::from(Scalar::from_repr(FieldBytes::from(*b)))
}

/// A scalar from 32 big-endian bytes reduced modulo the group order.
fn scalar_reduced(b: &[u8; 32]) -> Scalar {
    <Scalar as Reduce<U256>>::reduce_bytes(&FieldBytes::from(*b))
}

impl PublicKey {
    /// The public key of `seckey`.
    pub fn from_secret_key(seckey: &SecretKey) -> PublicKey {
        PublicKey(k256::PublicKey::from_secret_scalar(&seckey.0))
    }

    /// Parses a public key of `p.len()` bytes: 65 (full), 33 (compressed) or 64 (raw `x || y`).
    /// With `Some(format)` the length must be that format's, else
    /// [`Error::InvalidInputLength`].
    pub fn parse_slice(p: &[u8], format: Option<PublicKeyFormat>) -> Result<PublicKey, Error> {
        let format = match (p.len(), format) {
            (util::FULL_PUBLIC_KEY_SIZE, None | Some(PublicKeyFormat::Full)) => {
                PublicKeyFormat::Full
            }
            (util::COMPRESSED_PUBLIC_KEY_SIZE, None | Some(PublicKeyFormat::Compressed)) => {
                PublicKeyFormat::Compressed
            }
            (util::RAW_PUBLIC_KEY_SIZE, None | Some(PublicKeyFormat::Raw)) => PublicKeyFormat::Raw,
            _ => return Err(Error::InvalidInputLength),
        };
        match format {
            PublicKeyFormat::Full => Self::parse(&to_array(p)),
            PublicKeyFormat::Raw => {
                let mut a = [0u8; util::FULL_PUBLIC_KEY_SIZE];
                a[0] = util::TAG_PUBKEY_FULL;
                a[1..].copy_from_slice(p);
                Self::parse(&a)
            }
            PublicKeyFormat::Compressed => Self::parse_compressed(&to_array(p)),
        }
    }

    /// Parses an uncompressed public key: tag `0x04`, or a "hybrid" tag `0x06`/`0x07` whose low
    /// bit must match the parity of `y`; `x` and `y` below the field prime and on the curve.
    pub fn parse(p: &[u8; util::FULL_PUBLIC_KEY_SIZE]) -> Result<PublicKey, Error> {
        let tag = p[0];
        match tag {
            util::TAG_PUBKEY_FULL => {}
            util::TAG_PUBKEY_HYBRID_EVEN | util::TAG_PUBKEY_HYBRID_ODD => {
                let y_is_odd = p[64] & 1 == 1;
                if y_is_odd != (tag == util::TAG_PUBKEY_HYBRID_ODD) {
                    return Err(Error::InvalidPublicKey);
                }
            }
            _ => return Err(Error::InvalidPublicKey),
        }
        let mut sec1 = *p;
        sec1[0] = util::TAG_PUBKEY_FULL;
        k256::PublicKey::from_sec1_bytes(&sec1)
            .map(PublicKey)
            .map_err(|_| Error::InvalidPublicKey)
    }

    /// Parses a compressed public key: tag `0x02`/`0x03`, `x` below the field prime and the
    /// abscissa of a curve point.
    pub fn parse_compressed(
        p: &[u8; util::COMPRESSED_PUBLIC_KEY_SIZE],
    ) -> Result<PublicKey, Error> {
        if p[0] != util::TAG_PUBKEY_EVEN && p[0] != util::TAG_PUBKEY_ODD {
            return Err(Error::InvalidPublicKey);
        }
        k256::PublicKey::from_sec1_bytes(p)
            .map(PublicKey)
            .map_err(|_| Error::InvalidPublicKey)
    }

    /// The uncompressed encoding `0x04 || x || y`.
    pub fn serialize(&self) -> [u8; util::FULL_PUBLIC_KEY_SIZE] {
        to_array(self.0.to_encoded_point(false).as_bytes())
    }

    /// The compressed encoding `0x02|0x03 || x`.
    pub fn serialize_compressed(&self) -> [u8; util::COMPRESSED_PUBLIC_KEY_SIZE] {
        to_array(self.0.to_encoded_point(true).as_bytes())
    }
}

impl SecretKey {
    /// Parses a secret key from 32 big-endian bytes: [`Error::InvalidSecretKey`] if it is zero
    /// or not below the group order.
    pub fn parse(p: &[u8; util::SECRET_KEY_SIZE]) -> Result<SecretKey, Error> {
        Option::from(NonZeroScalar::from_repr(FieldBytes::from(*p)))
            .map(SecretKey)
            .ok_or(Error::InvalidSecretKey)
    }

    /// As [`SecretKey::parse`], for a slice: [`Error::InvalidInputLength`] unless 32 bytes.
    pub fn parse_slice(p: &[u8]) -> Result<SecretKey, Error> {
        if p.len() != util::SECRET_KEY_SIZE {
            return Err(Error::InvalidInputLength);
        }
        Self::parse(&to_array(p))
    }

    /// The 32 big-endian bytes of the key.
    pub fn serialize(&self) -> [u8; util::SECRET_KEY_SIZE] {
        self.0.to_repr().into()
    }
}

/// Does not print the key (libsecp256k1's derived `Debug` does).
impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretKey(..)")
    }
}

/// Constant-time comparison.
impl PartialEq for SecretKey {
    fn eq(&self, other: &Self) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}

impl Eq for SecretKey {}

impl Message {
    /// A message from a 32-byte hash, reduced modulo the group order (never fails).
    pub fn parse(p: &[u8; util::MESSAGE_SIZE]) -> Message {
        Message(scalar_reduced(p))
    }

    /// As [`Message::parse`], for a slice: [`Error::InvalidInputLength`] unless 32 bytes.
    pub fn parse_slice(p: &[u8]) -> Result<Message, Error> {
        if p.len() != util::MESSAGE_SIZE {
            return Err(Error::InvalidInputLength);
        }
        Ok(Self::parse(&to_array(p)))
    }

    /// The 32 big-endian bytes of the (reduced) message.
    pub fn serialize(&self) -> [u8; util::MESSAGE_SIZE] {
        self.0.to_bytes().into()
    }
}

impl Signature {
    /// Parses a compact `r || s` signature, reducing either value modulo the group order if it
    /// overflows (non-standard; prefer [`Signature::parse_standard`]).
    pub fn parse_overflowing(p: &[u8; util::SIGNATURE_SIZE]) -> Signature {
        Signature {
            r: scalar_reduced(&to_array(&p[..32])),
            s: scalar_reduced(&to_array(&p[32..])),
        }
    }

    /// Parses a compact `r || s` signature: [`Error::InvalidSignature`] if either value is not
    /// below the group order.
    pub fn parse_standard(p: &[u8; util::SIGNATURE_SIZE]) -> Result<Signature, Error> {
        let r = scalar_from_bytes(&to_array(&p[..32]));
        let s = scalar_from_bytes(&to_array(&p[32..]));
        match (r, s) {
            (Some(r), Some(s)) => Ok(Signature { r, s }),
            _ => Err(Error::InvalidSignature),
        }
    }

    /// As [`Signature::parse_overflowing`], for a slice of 64 bytes.
    pub fn parse_overflowing_slice(p: &[u8]) -> Result<Signature, Error> {
        if p.len() != util::SIGNATURE_SIZE {
            return Err(Error::InvalidInputLength);
        }
        Ok(Self::parse_overflowing(&to_array(p)))
    }

    /// As [`Signature::parse_standard`], for a slice of 64 bytes.
    pub fn parse_standard_slice(p: &[u8]) -> Result<Signature, Error> {
        if p.len() != util::SIGNATURE_SIZE {
            return Err(Error::InvalidInputLength);
        }
        Self::parse_standard(&to_array(p))
    }

    /// Parses a DER `SEQUENCE { INTEGER r, INTEGER s }` with libsecp256k1's rules: the encoding
    /// must be strict (minimal lengths and integers, no trailing bytes), but an integer that is
    /// not below the group order parses as zero (so the signature will not verify) rather than
    /// failing. Errors are [`Error::InvalidSignature`].
    pub fn parse_der(p: &[u8]) -> Result<Signature, Error> {
        let mut decoder = Decoder::new(p);
        decoder.read_constructed_sequence()?;
        let len = decoder.read_len()?;
        if len != decoder.remaining_len() {
            return Err(Error::InvalidSignature);
        }
        let r = decoder.read_integer()?;
        let s = decoder.read_integer()?;
        if decoder.remaining_len() != 0 {
            return Err(Error::InvalidSignature);
        }
        Ok(Signature { r, s })
    }

    /// Replaces `s` by `-s` if it is in the upper half of the order ([`sign`] always returns
    /// low-`s` signatures).
    pub fn normalize_s(&mut self) {
        if bool::from(self.s.is_high()) {
            self.s = -self.s;
        }
    }

    /// The compact encoding `r || s` (the reverse of [`Signature::parse_standard`]).
    pub fn serialize(&self) -> [u8; util::SIGNATURE_SIZE] {
        let mut ret = [0u8; util::SIGNATURE_SIZE];
        ret[..32].copy_from_slice(&self.r.to_bytes());
        ret[32..].copy_from_slice(&self.s.to_bytes());
        ret
    }

    /// The DER encoding (the reverse of [`Signature::parse_der`]).
    pub fn serialize_der(&self) -> util::SignatureArray {
        // Big-endian with one leading zero byte, then trimmed to the minimal DER INTEGER.
        fn with_leading_zero(scalar: &Scalar) -> [u8; 33] {
            let mut ret = [0u8; 33];
            ret[1..].copy_from_slice(&scalar.to_bytes());
            ret
        }
        fn integer_slice(full: &[u8; 33]) -> &[u8] {
            let mut start = 0;
            while start < 32 && full[start] == 0 && full[start + 1] < 0x80 {
                start += 1;
            }
            &full[start..]
        }
        let r_full = with_leading_zero(&self.r);
        let s_full = with_leading_zero(&self.s);
        let r = integer_slice(&r_full);
        let s = integer_slice(&s_full);

        // At most 6 + 33 + 33 = 72 bytes, so every length fits a short-form byte.
        let mut ret = util::SignatureArray::new(6 + r.len() + s.len());
        let l = ret.as_mut();
        l[0] = 0x30;
        l[1] = (4 + r.len() + s.len()) as u8;
        l[2] = 0x02;
        l[3] = r.len() as u8;
        l[4..4 + r.len()].copy_from_slice(r);
        l[4 + r.len()] = 0x02;
        l[5 + r.len()] = s.len() as u8;
        l[6 + r.len()..].copy_from_slice(s);
        ret
    }
}

impl RecoveryId {
    /// Parses a recovery id in `0..=3`.
    pub fn parse(p: u8) -> Result<RecoveryId, Error> {
        if p < 4 {
            Ok(RecoveryId(p))
        } else {
            Err(Error::InvalidRecoveryId)
        }
    }

    /// Parses a recovery id in Ethereum RPC format (`27..=30`).
    pub fn parse_rpc(p: u8) -> Result<RecoveryId, Error> {
        if (27..27 + 4).contains(&p) {
            RecoveryId::parse(p - 27)
        } else {
            Err(Error::InvalidRecoveryId)
        }
    }

    /// The recovery id in `0..=3`.
    pub fn serialize(&self) -> u8 {
        self.0
    }
}

impl From<RecoveryId> for u8 {
    fn from(id: RecoveryId) -> u8 {
        id.0
    }
}

impl From<RecoveryId> for i32 {
    fn from(id: RecoveryId) -> i32 {
        i32::from(id.0)
    }
}

/// Signs `message` with `seckey`: RFC 6979 deterministic nonce (HMAC-DRBG/SHA-256 seeded with
/// the secret key and the reduced message), low-`s` normalized; byte-identical to
/// libsecp256k1's `sign`. The recovery id is `2 * (x(R) >= n) + parity(y(R))`, adjusted for the
/// normalization.
pub fn sign(message: &Message, seckey: &SecretKey) -> (Signature, RecoveryId) {
    let mut x: FieldBytes = seckey.0.to_repr();
    let z: FieldBytes = message.0.to_bytes();
    let mut drbg = rfc6979::HmacDrbg::<Sha256>::new(&x, &z, &[]);
    x.as_mut_slice().zeroize();
    let d: &Scalar = &seckey.0;
    // As in libsecp256k1, draw DRBG outputs until one is a valid nonce that yields a valid
    // signature. The first draw succeeds but with probability ~2^-128.
    loop {
        let mut k = FieldBytes::default();
        drbg.fill_bytes(&mut k);
        let nonce: Option<NonZeroScalar> = NonZeroScalar::from_repr(k).into();
        k.as_mut_slice().zeroize();
        let Some(nonce) = nonce else { continue };
        let mut nonce: Scalar = *nonce;
        // k256's `SignPrimitive` computes (r, s), normalizes s to low-s and fixes up the
        // recovery id accordingly.
        let signed = d.try_sign_prehashed(nonce, &z);
        nonce.zeroize();
        if let Ok((sig, Some(recid))) = signed {
            let (r, s) = sig.split_scalars();
            return (Signature { r: *r, s: *s }, RecoveryId(recid.to_byte()));
        }
    }
}

/// Checks that `signature` is a valid signature of `message` by `pubkey`. Like libsecp256k1,
/// accepts high-`s` signatures and rejects zero `r` or `s`.
pub fn verify(message: &Message, signature: &Signature, pubkey: &PublicKey) -> bool {
    // k256 rejects high-s; (r, s) verifies iff (r, -s) does, so normalize first.
    let mut low = *signature;
    low.normalize_s();
    let Ok(sig) = k256::ecdsa::Signature::from_scalars(low.r.to_bytes(), low.s.to_bytes()) else {
        return false; // r or s is zero
    };
    VerifyingKey::from(&pubkey.0)
        .verify_prehash(&message.0.to_bytes(), &sig)
        .is_ok()
}

/// The strict DER reader of libsecp256k1-core 0.3 (`util::Decoder`), over k256 scalars.
struct Decoder<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Decoder<'a> {
    fn new(data: &'a [u8]) -> Self {
        Decoder { data, pos: 0 }
    }

    fn remaining_len(&self) -> usize {
        self.data.len() - self.pos
    }

    fn read(&mut self) -> Result<u8, Error> {
        let v = *self.data.get(self.pos).ok_or(Error::InvalidSignature)?;
        self.pos += 1;
        Ok(v)
    }

    fn peek(&self, forward: usize) -> Result<u8, Error> {
        self.data
            .get(self.pos + forward)
            .copied()
            .ok_or(Error::InvalidSignature)
    }

    fn read_constructed_sequence(&mut self) -> Result<(), Error> {
        if self.read()? == 0x30 {
            Ok(())
        } else {
            Err(Error::InvalidSignature)
        }
    }

    /// A DER length: short form, or minimal long form of a value >= 128 that fits the input.
    fn read_len(&mut self) -> Result<usize, Error> {
        let b1 = self.read()?;
        if b1 == 0xff {
            return Err(Error::InvalidSignature);
        }
        if b1 & 0x80 == 0 {
            return Ok(usize::from(b1));
        }
        if b1 == 0x80 {
            return Err(Error::InvalidSignature); // indefinite length
        }
        let mut lenleft = usize::from(b1 & 0x7f);
        if lenleft > self.remaining_len() {
            return Err(Error::InvalidSignature);
        }
        if self.peek(0)? == 0 {
            return Err(Error::InvalidSignature); // not minimal
        }
        if lenleft > core::mem::size_of::<usize>() {
            return Err(Error::InvalidSignature);
        }
        let mut ret: usize = 0;
        while lenleft > 0 {
            ret = (ret << 8) | usize::from(self.read()?);
            if ret.saturating_add(lenleft) > self.remaining_len() {
                return Err(Error::InvalidSignature);
            }
            lenleft -= 1;
        }
        if ret < 128 {
            return Err(Error::InvalidSignature); // not minimal
        }
        Ok(ret)
    }

    /// A minimal DER INTEGER. A negative value or one not below the group order yields zero;
    /// as in libsecp256k1, the bytes of a negative or over-long (> 32 bytes after leading zeros)
    /// integer are then left unread, which in practice makes the enclosing parse fail.
    fn read_integer(&mut self) -> Result<Scalar, Error> {
        if self.read()? != 0x02 {
            return Err(Error::InvalidSignature);
        }
        let mut len = self.read_len()?;
        if len == 0 || len > self.remaining_len() {
            return Err(Error::InvalidSignature);
        }
        if len > 1 && self.peek(0)? == 0x00 && self.peek(1)? & 0x80 == 0 {
            return Err(Error::InvalidSignature); // superfluous leading 0x00
        }
        // libsecp256k1-core checks the second byte's top bit against 0 here (libsecp256k1 in C
        // checks it against 1); kept as is, since any negative integer is rejected below anyway.
        if len > 1 && self.peek(0)? == 0xff && self.peek(1)? & 0x80 == 0 {
            return Err(Error::InvalidSignature);
        }
        let mut overflow = self.peek(0)? & 0x80 == 0x80; // negative
        while len > 0 && self.peek(0)? == 0 {
            len -= 1;
            self.read()?;
        }
        if len > 32 {
            overflow = true;
        }
        if overflow {
            return Ok(Scalar::ZERO);
        }
        // libsecp256k1-core refuses an empty read at the end of the input, so an all-zero
        // INTEGER as the last element (`s = 0`) is an error while `r = 0` parses.
        if len == 0 && self.pos >= self.data.len() {
            return Err(Error::InvalidSignature);
        }
        let bytes = self
            .data
            .get(self.pos..self.pos + len)
            .ok_or(Error::InvalidSignature)?;
        let mut b32 = [0u8; 32];
        b32[32 - len..].copy_from_slice(bytes);
        self.pos += len;
        Ok(scalar_from_bytes(&b32).unwrap_or(Scalar::ZERO))
    }
}
