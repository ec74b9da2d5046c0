//! Property tests of the particle codec: no input makes the decoder panic, and every particle
//! survives encode → decode. `PROPTEST_CASES` sets the case count (256 in `npm test`;
//! `benches/fuzz.sh` runs many more).

use lineage_particle::{decode_body, decode_frame, encode, encode_body, Keypair, Particle};
use proptest::prelude::*;

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic_the_decoder(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let _ = decode_frame(&bytes);
        let _ = decode_body(&bytes);
    }

    #[test]
    fn a_valid_frame_cut_or_flipped_is_an_error_or_another_particle(
        script in ".{0,200}",
        data in proptest::collection::vec(any::<u8>(), 0..512),
        cut in any::<prop::sample::Index>(),
        flip in any::<prop::sample::Index>(),
    ) {
        let key = Keypair::generate_ed25519();
        let mut p = Particle::new_signed(&key, script, 1_700_000_000_000, 10_000, None).unwrap();
        p.data = data;
        let frame = encode(&p);
        let _ = decode_frame(&frame[..cut.index(frame.len())]);
        let mut flipped = frame.clone();
        let i = flip.index(flipped.len());
        flipped[i] ^= 0x5a;
        if let Ok(q) = decode_frame(&flipped) {
            // A flipped byte that still decodes must not pass as the signed original.
            prop_assert!(q != p || flipped == frame);
        }
    }

    #[test]
    fn every_particle_round_trips(
        script in ".{0,300}",
        data in proptest::collection::vec(any::<u8>(), 0..1024),
        timestamp in any::<u64>(),
        ttl in any::<u32>(),
    ) {
        let key = Keypair::generate_ed25519();
        let mut p = Particle::new_signed(&key, script, timestamp, ttl, None).unwrap();
        p.data = data;
        prop_assert_eq!(decode_frame(&encode(&p)).unwrap(), p.clone());
        prop_assert_eq!(decode_body(&encode_body(&p)).unwrap(), p);
    }
}
