//! Frames of `/fluence/particle/2.0.0`: unsigned-varint(body length) ‖ body — one whole frame
//! ([`decode_frame`]) or a stream of them as bytes arrive ([`FrameReader`]). The body itself is
//! [`decode_body`](crate::decode_body)'s.

use crate::codec::{decode_body, CodecError, DEFAULT_MAX_FRAME_SIZE};
use crate::Particle;

/// Largest length prefix in bytes (a u64 varint).
const MAX_PREFIX_LEN: usize = 10;

/// Decodes exactly one complete frame (length prefix included), rejecting bodies over
/// [`DEFAULT_MAX_FRAME_SIZE`] and any byte after the frame.
///
/// # Errors
/// Every malformation is a [`CodecError`]; see its variants.
///
/// ```
/// use lineage_particle::{decode_frame, CodecError};
///
/// // A length prefix of 2^40 bytes is refused before anything else is looked at.
/// let err = decode_frame(&[0x80, 0x80, 0x80, 0x80, 0x80, 0x20]).unwrap_err();
/// assert!(matches!(err, CodecError::FrameTooLarge { .. }));
/// ```
pub fn decode_frame(frame: &[u8]) -> Result<Particle, CodecError> {
    match split_frame(frame, DEFAULT_MAX_FRAME_SIZE)? {
        None => Err(CodecError::IncompleteFrame),
        Some((body, [])) => decode_body(body),
        Some((_, rest)) => Err(CodecError::TrailingBytes { count: rest.len() }),
    }
}

/// A frame body and the bytes after the frame.
type Split<'a> = (&'a [u8], &'a [u8]);

/// Splits `input` into (body, rest) if it holds a whole frame; `None` if more bytes are needed.
fn split_frame(input: &[u8], max: usize) -> Result<Option<Split<'_>>, CodecError> {
    let (len, rest) = match unsigned_varint::decode::u64(input) {
        Ok(v) => v,
        Err(unsigned_varint::decode::Error::Insufficient) if input.len() < MAX_PREFIX_LEN => {
            return Ok(None)
        }
        Err(e) => return Err(CodecError::InvalidLengthPrefix(e.to_string())),
    };
    let len_usize = match usize::try_from(len) {
        Ok(l) if l <= max => l,
        _ => return Err(CodecError::FrameTooLarge { len, max }),
    };
    if rest.len() < len_usize {
        return Ok(None);
    }
    Ok(Some(rest.split_at(len_usize)))
}

/// Reassembles particle frames from bytes as they arrive (e.g. from a libp2p stream).
///
/// A length prefix over the limit is refused as soon as it is readable, before the body is
/// buffered. After any error the reader is poisoned (the rest of the stream can't be trusted
/// to be framed): further pushes are ignored and the error is returned again.
///
/// ```
/// use libp2p_identity::Keypair;
/// use lineage_particle::{encode, FrameReader, Particle};
///
/// let key = Keypair::generate_ed25519();
/// let p = Particle::new_signed(&key, "(null)", 1_000, 7_000, None).unwrap();
/// let frame = encode(&p);
///
/// let mut reader = FrameReader::default();
/// for chunk in frame.chunks(3) {
///     reader.push(chunk);
///     if let Some(got) = reader.next_particle().unwrap() {
///         assert_eq!(got, p);
///     }
/// }
/// assert!(reader.finish().is_ok());
/// ```
#[derive(Debug)]
pub struct FrameReader {
    max_frame_size: usize,
    buf: Vec<u8>,
    /// Bytes of `buf` already consumed.
    start: usize,
    error: Option<CodecError>,
}

/// The incremental particle decoder under the name used by codec-style APIs.
pub type ParticleCodec = FrameReader;

impl Default for FrameReader {
    fn default() -> Self {
        FrameReader::new(DEFAULT_MAX_FRAME_SIZE)
    }
}

impl FrameReader {
    /// A reader accepting frame bodies of at most `max_frame_size` bytes.
    #[must_use]
    pub fn new(max_frame_size: usize) -> Self {
        FrameReader {
            max_frame_size,
            buf: Vec::new(),
            start: 0,
            error: None,
        }
    }

    /// The body size limit.
    #[must_use]
    pub fn max_frame_size(&self) -> usize {
        self.max_frame_size
    }

    /// Bytes received but not yet returned as particles.
    #[must_use]
    pub fn buffered(&self) -> usize {
        self.buf.len() - self.start
    }

    /// Appends received bytes. Bytes are dropped once the reader has failed, and a too large
    /// length prefix fails the reader right here, so an oversized body is never buffered.
    pub fn push(&mut self, bytes: &[u8]) {
        if self.error.is_some() {
            return;
        }
        if self.start > 0 && self.start >= self.buf.len() / 2 {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        self.buf.extend_from_slice(bytes);
        if let Err(e) = split_frame(&self.buf[self.start..], self.max_frame_size) {
            self.fail(e);
        }
    }

    fn fail(&mut self, e: CodecError) {
        self.error = Some(e);
        self.buf = Vec::new();
        self.start = 0;
    }

    /// The next complete particle, `Ok(None)` if more bytes are needed.
    ///
    /// # Errors
    /// The first [`CodecError`] met (length prefix or body); repeated on later calls.
    pub fn next_particle(&mut self) -> Result<Option<Particle>, CodecError> {
        if let Some(e) = &self.error {
            return Err(e.clone());
        }
        let result = match split_frame(&self.buf[self.start..], self.max_frame_size) {
            Ok(None) => return Ok(None),
            Ok(Some((body, rest))) => {
                let consumed = self.buf.len() - self.start - rest.len();
                decode_body(body).map(|p| (p, consumed))
            }
            Err(e) => Err(e),
        };
        match result {
            Ok((particle, consumed)) => {
                self.start += consumed;
                if self.start == self.buf.len() {
                    self.buf.clear();
                    self.start = 0;
                }
                Ok(Some(particle))
            }
            Err(e) => {
                self.fail(e.clone());
                Err(e)
            }
        }
    }

    /// Call at end of stream, after [`FrameReader::next_particle`] returned `Ok(None)`:
    /// [`CodecError::IncompleteFrame`] if a partial frame is left (or the reader's earlier
    /// error).
    ///
    /// # Errors
    /// As described.
    pub fn finish(self) -> Result<(), CodecError> {
        match self.error {
            Some(e) => Err(e),
            None if self.buffered() > 0 => Err(CodecError::IncompleteFrame),
            None => Ok(()),
        }
    }
}
