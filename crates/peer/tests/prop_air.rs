//! Property tests of the AIR entry point: no script, however malformed or deep, panics or
//! aborts the peer — it runs, or is refused with an error.

use lineage_peer::{air_depth, run_air, AvmError, AvmParams, MAX_AIR_DEPTH};
use proptest::prelude::*;

fn params() -> AvmParams {
    let key = libp2p_identity::Keypair::generate_ed25519();
    let id = key.public().to_peer_id().to_base58();
    AvmParams {
        init_peer_id: id.clone(),
        current_peer_id: id,
        timestamp: 1_700_000_000_000,
        ttl: 10_000,
        particle_id: "prop".into(),
        secret_key: [7; 32],
    }
}

/// AIR-ish text: instruction words, parens, brackets, strings, variables.
fn airish() -> impl Strategy<Value = String> {
    proptest::collection::vec(
        prop_oneof![
            Just("(".to_string()),
            Just(")".to_string()),
            Just("[".to_string()),
            Just("]".to_string()),
            Just("seq ".to_string()),
            Just("par ".to_string()),
            Just("xor ".to_string()),
            Just("null".to_string()),
            Just("fold xs i ".to_string()),
            Just("next i".to_string()),
            Just("call %init_peer_id% (\"op\" \"noop\") [] ".to_string()),
            Just("\"s\" ".to_string()),
            Just("$stream ".to_string()),
            "[a-z]{1,5} ".prop_map(|s| s),
        ],
        0..60,
    )
    .prop_map(|parts| parts.concat())
}

proptest! {
    // AquaVM runs are slower than decoding: 128 cases in `npm test`, `PROPTEST_CASES` for more.
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(128),
        ..ProptestConfig::default()
    })]

    #[test]
    fn arbitrary_text_is_run_or_refused(air in ".{0,300}") {
        let _ = run_air(&air, &[], &[], &params(), &[]);
    }

    #[test]
    fn airish_scripts_are_run_or_refused(air in airish()) {
        let _ = run_air(&air, &[], &[], &params(), &[]);
    }

    #[test]
    fn garbage_prev_data_is_an_error_not_a_crash(data in proptest::collection::vec(any::<u8>(), 0..512)) {
        // The property is that it returns (a panic or an abort fails the test).
        let _ = run_air("(null)", &data, &data, &params(), &[]);
    }

    #[test]
    fn scripts_nested_past_the_limit_are_refused_before_running(extra in 1usize..200) {
        let depth = MAX_AIR_DEPTH + extra;
        let air = format!("{}(null){}", "(seq ".repeat(depth - 1), " (null))".repeat(depth - 1));
        prop_assert_eq!(air_depth(&air), depth);
        let refused = matches!(run_air(&air, &[], &[], &params(), &[]), Err(AvmError::TooDeep { .. }));
        prop_assert!(refused);
    }
}
