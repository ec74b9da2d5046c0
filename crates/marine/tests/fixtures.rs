//! Every fixture function returns exactly what tests/fixtures/README.md documents.

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;
#[cfg(target_arch = "wasm32")]
wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

mod common;

use common::*;
use lineage_marine::{
    CallError, CallParameters, IValue, LogLevel, LogRecord, LogSource, ModuleConfig,
    ParticleParameters, SecurityTetraplet, ServiceConfig,
};
use serde_json::{json, Value};

// ---------------------------------------------------------------------------------------------
// greeting

#[test]
fn greet_returns_the_documented_greetings() {
    let mut s = load_default("greeting", GREETING);
    let cases = [
        ("Bob", "Hi, Bob", 3, false),
        ("BOB", "Hi, BOB", 3, true),
        ("", "Hi, ", 0, false),
        ("BOB!", "Hi, BOB!", 4, false),
        ("Zoë", "Hi, Zoë", 4, false),
        ("ÅSA", "Hi, ÅSA", 4, true),
    ];
    for (name, message, name_len, shouted) in cases {
        assert_eq!(
            call(&mut s, "greet", json!([name])),
            json!({"message": message, "name_len": name_len, "shouted": shouted}),
            "greet({name:?})"
        );
    }
    // Arguments by name and as a bare value give the same result.
    assert_eq!(
        call(&mut s, "greet", json!({"name": "Bob"})),
        json!({"message": "Hi, Bob", "name_len": 3, "shouted": false})
    );
    assert_eq!(
        call(&mut s, "greet", json!("BOB")),
        json!({"message": "Hi, BOB", "name_len": 3, "shouted": true})
    );
}

#[test]
fn greet_with_typed_values() {
    let mut s = load_default("greeting", GREETING);
    assert_eq!(
        s.call("greet", vec![IValue::String("Bob".into())]).unwrap(),
        vec![IValue::Record(vec![
            IValue::String("Hi, Bob".into()),
            IValue::U32(3),
            IValue::Boolean(false)
        ])]
    );
    assert_eq!(
        s.call("greet", vec![IValue::String("ÅSA".into())]).unwrap(),
        vec![IValue::Record(vec![
            IValue::String("Hi, ÅSA".into()),
            IValue::U32(4),
            IValue::Boolean(true)
        ])]
    );
}

fn example_call_parameters() -> CallParameters {
    let tetraplet = |pk: &str, s: &str, f: &str, lens: &str| SecurityTetraplet {
        peer_pk: pk.into(),
        service_id: s.into(),
        function_name: f.into(),
        lens: lens.into(),
    };
    CallParameters {
        particle: ParticleParameters {
            id: "p-1".into(),
            init_peer_id: "12D3KooInit".into(),
            timestamp: 1_696_934_545_662,
            ttl: 7000,
            script: "(null)".into(),
            signature: vec![1, 2, 3],
            token: "tok".into(),
        },
        service_id: "svc".into(),
        service_creator_peer_id: "creator".into(),
        host_id: "host".into(),
        worker_id: "worker".into(),
        tetraplets: vec![
            vec![
                tetraplet("pk", "s", "f", ".$.a"),
                tetraplet("pk2", "", "", ""),
            ],
            vec![],
            vec![tetraplet("x", "y", "z", "")],
        ],
    }
}

#[test]
fn call_info_copies_the_call_parameters() {
    let mut s = load_default("greeting", GREETING);
    s.set_call_parameters(example_call_parameters());
    let expected = json!({
        "particle_id": "p-1",
        "init_peer_id": "12D3KooInit",
        "service_id": "svc",
        "host_id": "host",
        "worker_id": "worker",
        "service_creator_peer_id": "creator",
        "timestamp": 1_696_934_545_662u64,
        "ttl": 7000,
        "script": "(null)",
        "signature": [1, 2, 3],
        "token": "tok",
        "tetraplet_count": 3,
        "tetraplet_args": 3,
        "first_tetraplet": "pk|s|f|.$.a",
    });
    assert_eq!(call(&mut s, "call_info", Value::Null), expected);
    // The parameters stay set for following calls.
    assert_eq!(call(&mut s, "call_info", json!([])), expected);

    // Typed: CallInfo's fields in declaration order.
    let typed = s.call("call_info", vec![]).unwrap();
    assert_eq!(
        typed,
        vec![IValue::Record(vec![
            IValue::String("p-1".into()),
            IValue::String("12D3KooInit".into()),
            IValue::String("svc".into()),
            IValue::String("host".into()),
            IValue::String("worker".into()),
            IValue::String("creator".into()),
            IValue::U64(1_696_934_545_662),
            IValue::U32(7000),
            IValue::String("(null)".into()),
            IValue::ByteArray(vec![1, 2, 3]),
            IValue::String("tok".into()),
            IValue::U32(3),
            IValue::U32(3),
            IValue::String("pk|s|f|.$.a".into()),
        ])]
    );

    // Without tetraplets.
    let mut cp = example_call_parameters();
    cp.tetraplets = vec![];
    s.set_call_parameters(cp);
    let info = call(&mut s, "call_info", Value::Null);
    assert_eq!(info["tetraplet_count"], json!(0));
    assert_eq!(info["tetraplet_args"], json!(0));
    assert_eq!(info["first_tetraplet"], json!(""));
    assert_eq!(info["particle_id"], json!("p-1"));
}

#[test]
fn call_info_defaults_to_empty_parameters() {
    let mut s = load_default("greeting", GREETING);
    assert_eq!(
        call(&mut s, "call_info", Value::Null),
        json!({
            "particle_id": "", "init_peer_id": "", "service_id": "", "host_id": "", "worker_id": "",
            "service_creator_peer_id": "", "timestamp": 0, "ttl": 0, "script": "", "signature": [],
            "token": "", "tetraplet_count": 0, "tetraplet_args": 0, "first_tetraplet": "",
        })
    );
}

fn rec(level: LogLevel, source: LogSource, target: i32, message: &str) -> LogRecord {
    LogRecord {
        module: "greeting".into(),
        level,
        source,
        target,
        message: message.into(),
    }
}

fn log_and_echo_records(wasm_log: Option<&str>, msg: &str) -> Vec<LogRecord> {
    let logger = Collect::new();
    let mut m = ModuleConfig::new("greeting");
    if let Some(level) = wasm_log {
        m = m.env("WASM_LOG", level);
    }
    let mut s = load("greeting", GREETING, with_logger(&logger).module(m));
    logger.take();
    assert_eq!(call(&mut s, "log_and_echo", json!([msg])), json!(msg));
    logger.take()
}

#[test]
fn log_and_echo_logs_at_the_default_level() {
    use LogLevel::*;
    use LogSource::*;
    assert_eq!(
        log_and_echo_records(None, "hello"),
        vec![
            rec(Info, Logger, 0, "info: hello"),
            rec(Warn, Logger, 1, "warn: hello"),
            rec(Info, Stdout, 0, "stdout: hello"),
            rec(Warn, Stderr, 0, "stderr: hello"),
        ]
    );
}

#[test]
fn log_and_echo_follows_wasm_log() {
    use LogLevel::*;
    use LogSource::*;
    assert_eq!(
        log_and_echo_records(Some("debug"), "dbg"),
        vec![
            rec(Debug, Logger, 0, "debug: dbg"),
            rec(Info, Logger, 0, "info: dbg"),
            rec(Warn, Logger, 1, "warn: dbg"),
            rec(Info, Stdout, 0, "stdout: dbg"),
            rec(Warn, Stderr, 0, "stderr: dbg"),
        ]
    );
    assert_eq!(
        log_and_echo_records(Some("trace"), "t"),
        vec![
            rec(Debug, Logger, 0, "debug: t"),
            rec(Info, Logger, 0, "info: t"),
            rec(Warn, Logger, 1, "warn: t"),
            rec(Info, Stdout, 0, "stdout: t"),
            rec(Warn, Stderr, 0, "stderr: t"),
        ]
    );
    assert_eq!(
        log_and_echo_records(Some("warn"), "w"),
        vec![
            rec(Warn, Logger, 1, "warn: w"),
            rec(Info, Stdout, 0, "stdout: w"),
            rec(Warn, Stderr, 0, "stderr: w"),
        ]
    );
    assert_eq!(
        log_and_echo_records(Some("error"), "e"),
        vec![
            rec(Info, Stdout, 0, "stdout: e"),
            rec(Warn, Stderr, 0, "stderr: e")
        ]
    );
    assert_eq!(
        log_and_echo_records(Some("off"), "o"),
        vec![
            rec(Info, Stdout, 0, "stdout: o"),
            rec(Warn, Stderr, 0, "stderr: o")
        ]
    );
}

#[test]
fn log_and_echo_keeps_unicode_messages_intact() {
    let records = log_and_echo_records(None, "héllo wörld 🦀");
    assert_eq!(
        Collect::of(&records, LogSource::Stdout),
        vec![(LogLevel::Info, 0, "stdout: héllo wörld 🦀".to_string())]
    );
    assert_eq!(
        Collect::of(&records, LogSource::Logger),
        vec![
            (LogLevel::Info, 0, "info: héllo wörld 🦀".to_string()),
            (LogLevel::Warn, 1, "warn: héllo wörld 🦀".to_string())
        ]
    );
}

#[test]
fn disabled_logger_logs_nothing() {
    let logger = Collect::new();
    let m = ModuleConfig {
        logger_enabled: false,
        ..ModuleConfig::new("greeting")
    };
    let mut s = load("greeting", GREETING, with_logger(&logger).module(m));
    assert_eq!(
        call(&mut s, "log_and_echo", json!(["quiet"])),
        json!("quiet")
    );
    assert_eq!(logger.take(), vec![]);
}

#[test]
fn env_var_reads_the_module_environment() {
    let m = ModuleConfig::new("greeting")
        .env("FOO", "bar")
        .env("UNICODE", "žluť 🦀")
        .env("EMPTY", "");
    let mut s = load("greeting", GREETING, ServiceConfig::default().module(m));
    assert_eq!(call(&mut s, "env_var", json!(["FOO"])), json!("bar"));
    assert_eq!(
        call(&mut s, "env_var", json!(["UNICODE"])),
        json!("žluť 🦀")
    );
    assert_eq!(call(&mut s, "env_var", json!(["EMPTY"])), json!(""));
    assert_eq!(call(&mut s, "env_var", json!(["MISSING"])), json!(""));
    assert_eq!(call(&mut s, "env_var", json!(["foo"])), json!(""));

    // Configuration of another module name does not apply.
    let other = ModuleConfig::new("other").env("FOO", "bar");
    let mut s = load("greeting", GREETING, ServiceConfig::default().module(other));
    assert_eq!(call(&mut s, "env_var", json!(["FOO"])), json!(""));
}

#[test]
fn args_start_with_the_module_name() {
    let mut s = load_default("greeting", GREETING);
    assert_eq!(call(&mut s, "args", Value::Null), json!(["greeting"]));

    let m = ModuleConfig::new("greeting")
        .arg("--flag")
        .arg("x y")
        .arg("ü");
    let mut s = load("greeting", GREETING, ServiceConfig::default().module(m));
    assert_eq!(
        call(&mut s, "args", Value::Null),
        json!(["greeting", "--flag", "x y", "ü"])
    );
    assert_eq!(
        s.call("args", vec![]).unwrap(),
        vec![IValue::Array(vec![
            IValue::String("greeting".into()),
            IValue::String("--flag".into()),
            IValue::String("x y".into()),
            IValue::String("ü".into()),
        ])]
    );

    // argv[0] is the name the module is loaded under.
    let m = ModuleConfig::new("hello").arg("a");
    let mut s = load("hello", GREETING, ServiceConfig::default().module(m));
    assert_eq!(call(&mut s, "args", Value::Null), json!(["hello", "a"]));
}

fn now_unix_ms() -> u64 {
    web_time::SystemTime::now()
        .duration_since(web_time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

#[test]
fn live_clock_and_randomness() {
    let mut s = load_default("greeting", GREETING);
    let before = now_unix_ms();
    let now = call(&mut s, "now_ms", Value::Null)
        .as_u64()
        .expect("now_ms is a u64");
    let after = now_unix_ms();
    assert!(
        before <= now + 5 && now <= after + 5,
        "now_ms {now} not within [{before}, {after}]"
    );

    let a = call(&mut s, "random_u64", Value::Null).as_u64().unwrap();
    let b = call(&mut s, "random_u64", Value::Null).as_u64().unwrap();
    assert_ne!(a, b, "two live random draws were equal");
}

const CLOCK_NS: u64 = 1_700_000_000_123_456_789;

fn deterministic(seed: [u8; 32]) -> lineage_marine::Service {
    load(
        "greeting",
        GREETING,
        ServiceConfig::default().deterministic(CLOCK_NS, seed),
    )
}

fn randoms(s: &mut lineage_marine::Service, n: usize) -> Vec<u64> {
    (0..n)
        .map(|_| {
            call(s, "random_u64", Value::Null)
                .as_u64()
                .expect("random_u64 is a u64")
        })
        .collect()
}

#[test]
fn deterministic_clock_is_fixed() {
    let mut s = deterministic([7; 32]);
    assert_eq!(
        call(&mut s, "now_ms", Value::Null),
        json!(CLOCK_NS / 1_000_000)
    );
    assert_eq!(
        call(&mut s, "now_ms", Value::Null),
        json!(1_700_000_000_123u64)
    );
    assert_eq!(
        s.call("now_ms", vec![]).unwrap(),
        vec![IValue::U64(1_700_000_000_123)]
    );

    let mut s = load(
        "greeting",
        GREETING,
        ServiceConfig::default().deterministic(0, [0; 32]),
    );
    assert_eq!(call(&mut s, "now_ms", Value::Null), json!(0));
}

#[test]
fn deterministic_randomness_depends_only_on_the_seed() {
    let seq1 = randoms(&mut deterministic([7; 32]), 4);
    let seq2 = randoms(&mut deterministic([7; 32]), 4);
    assert_eq!(seq1, seq2, "same seed, different sequences");
    // The stream advances.
    assert_ne!(seq1[0], seq1[1]);
    assert_ne!(seq1[1], seq1[2]);

    let mut other_seed = [7; 32];
    other_seed[31] = 8;
    let seq3 = randoms(&mut deterministic(other_seed), 4);
    assert_ne!(seq1, seq3, "different seeds, same sequence");
    assert!(seq1.iter().zip(&seq3).all(|(a, b)| a != b));

    // Other calls in between do not disturb the stream (they draw no randomness).
    let mut s = deterministic([7; 32]);
    call(&mut s, "greet", json!(["x"]));
    call(&mut s, "now_ms", Value::Null);
    assert_eq!(randoms(&mut s, 4), seq1);
}

#[test]
fn deterministic_randomness_is_the_chacha20_stream() {
    use rand_core::{RngCore, SeedableRng};
    let seed = [42u8; 32];
    let mut rng = rand_chacha::ChaCha20Rng::from_seed(seed);
    let mut stream = [0u8; 128];
    rng.fill_bytes(&mut stream);
    let chunk = |k: usize| u64::from_le_bytes(stream[8 * k..8 * k + 8].try_into().unwrap());
    let got = randoms(&mut deterministic(seed), 3);
    // The module's start-up (Rust std's hash-map keys) may draw whole 8-byte words from
    // `random_get` before the first call; after that, calls read consecutive words of the stream.
    let offset = (0..13)
        .find(|&k| (0..3).all(|i| chunk(k + i) == got[i]))
        .unwrap_or_else(|| {
            panic!("{got:?} is not a run of consecutive words of the ChaCha20 stream")
        });
    // greeting.wasm draws 16 bytes (two u64 keys of std's RandomState) while starting.
    assert_eq!(offset, 2);
}

// ---------------------------------------------------------------------------------------------
// callee and facade

#[test]
fn callee_alone() {
    let mut s = load_default("callee", CALLEE);
    assert_eq!(call(&mut s, "upper", json!(["hello"])), json!("HELLO"));
    assert_eq!(call(&mut s, "upper", json!(["straße"])), json!("STRASSE"));
    assert_eq!(call(&mut s, "upper", json!([""])), json!(""));
    assert_eq!(
        call(&mut s, "sum_lens", json!([["a", "bc", "déf"]])),
        json!(7)
    );
    assert_eq!(call(&mut s, "sum_lens", json!([[]])), json!(0));
    assert_eq!(
        call(&mut s, "make_pairs", json!([["a", "bc"], 2])),
        json!([{"key": "a", "value": [97, 97], "weight": 3.0}, {"key": "bc", "value": [98, 99, 98, 99], "weight": 4.0}])
    );
    assert_eq!(
        call(&mut s, "make_pairs", json!([["x"], 0])),
        json!([{"key": "x", "value": [], "weight": 0.0}])
    );
    assert_eq!(
        call(&mut s, "make_pairs", json!([["x", "y"], -1])),
        json!([{"key": "x", "value": [], "weight": -1.5}, {"key": "y", "value": [], "weight": -0.5}])
    );
    assert_eq!(call(&mut s, "make_pairs", json!([[], 5])), json!([]));
    let e = call_err(&mut s, "fail", json!(["oops"]));
    assert!(
        matches!(&e, CallError::Trap { module, function, .. } if module == "callee" && function == "fail"),
        "{e:?}"
    );
    assert_eq!(call(&mut s, "upper", json!(["again"])), json!("AGAIN"));
}

#[test]
fn facade_calls_into_callee() {
    let mut s = load_facade(ServiceConfig::default());
    assert_eq!(s.module_names(), vec!["callee", "facade"]);
    assert_eq!(s.memory_bytes(), 2 * 17 * PAGE);
    assert_eq!(call(&mut s, "shout", json!(["hello"])), json!("HELLO"));
    assert_eq!(call(&mut s, "shout", json!(["straße"])), json!("STRASSE"));
    assert_eq!(call(&mut s, "total", json!([["a", "bc", "déf"]])), json!(7));
    assert_eq!(call(&mut s, "total", json!([[]])), json!(0));
    assert_eq!(
        call(&mut s, "pairs", json!([["a", "bc"], 2])),
        json!([{"key": "a", "value": [97, 97], "weight": 3.0}, {"key": "bc", "value": [98, 99, 98, 99], "weight": 4.0}])
    );
    assert_eq!(
        call(&mut s, "pairs", json!([["x"], 0])),
        json!([{"key": "x", "value": [], "weight": 0.0}])
    );
    assert_eq!(
        call(&mut s, "pairs", json!([["x", "y"], -1])),
        json!([{"key": "x", "value": [], "weight": -1.5}, {"key": "y", "value": [], "weight": -0.5}])
    );
    assert_eq!(call(&mut s, "pairs", json!([[], 5])), json!([]));
    // Only the facade's functions form the interface.
    assert!(
        matches!(call_err(&mut s, "upper", json!(["x"])), CallError::NoSuchFunction { function, .. } if function == "upper")
    );
}

#[test]
fn facade_process_makes_a_report() {
    let mut s = load_facade(ServiceConfig::default());
    assert_eq!(
        call(&mut s, "process", json!([["ab", "c"]])),
        json!({
            "shout": ["AB", "C"],
            "total": 3,
            "pairs": [{"key": "ab", "value": [97, 98], "weight": 1.5}, {"key": "c", "value": [99], "weight": 2.5}],
        })
    );
    assert_eq!(
        call(&mut s, "process", json!([[]])),
        json!({"shout": [], "total": 0, "pairs": []})
    );
    assert_eq!(
        s.call(
            "process",
            vec![IValue::Array(vec![
                IValue::String("ab".into()),
                IValue::String("c".into())
            ])]
        )
        .unwrap(),
        vec![IValue::Record(vec![
            IValue::Array(vec![
                IValue::String("AB".into()),
                IValue::String("C".into())
            ]),
            IValue::U64(3),
            IValue::Array(vec![
                IValue::Record(vec![
                    IValue::String("ab".into()),
                    IValue::ByteArray(vec![97, 98]),
                    IValue::F64(1.5)
                ]),
                IValue::Record(vec![
                    IValue::String("c".into()),
                    IValue::ByteArray(vec![99]),
                    IValue::F64(2.5)
                ]),
            ]),
        ])]
    );
}

#[test]
fn facade_call_fail_traps_inside_callee_and_both_recover() {
    let logger = Collect::new();
    let mut s = load_facade(with_logger(&logger));
    logger.take();
    let e = call_err(&mut s, "call_fail", json!(["boom-7431"]));
    match &e {
        CallError::Trap {
            module, function, ..
        } => {
            assert_eq!(module, "callee");
            assert_eq!(function, "fail");
        }
        other => panic!("expected a trap in callee.fail, got {other:?}"),
    }
    let records = logger.take();
    let stderr: String = records
        .iter()
        .filter(|r| r.source == LogSource::Stderr && r.module == "callee")
        .map(|r| r.message.as_str())
        .collect::<Vec<_>>()
        .join("\n");
    assert!(
        stderr.contains("boom-7431"),
        "callee's stderr lacks the panic message: {records:?}"
    );

    assert_eq!(call(&mut s, "shout", json!(["still"])), json!("STILL"));
    assert_eq!(call(&mut s, "total", json!([["ab"]])), json!(2));
    assert_eq!(
        call(&mut s, "process", json!([["z"]])),
        json!({"shout": ["Z"], "total": 1, "pairs": [{"key": "z", "value": [122], "weight": 1.5}]})
    );
    // And again: a second failure is just as clean.
    assert!(
        matches!(call_err(&mut s, "call_fail", json!(["again"])), CallError::Trap { module, .. } if module == "callee")
    );
    assert_eq!(call(&mut s, "shout", json!(["ok"])), json!("OK"));
}

// ---------------------------------------------------------------------------------------------
// types

fn echo(s: &mut lineage_marine::Service, function: &str, v: Value) {
    assert_eq!(call(s, function, json!([v.clone()])), v, "{function}({v})");
}

fn echo_typed(s: &mut lineage_marine::Service, function: &str, v: IValue) {
    assert_eq!(
        s.call(function, vec![v.clone()]).unwrap(),
        vec![v.clone()],
        "{function}({v:?})"
    );
}

#[test]
fn echo_integers_json_including_extremes() {
    let mut s = load_default("types", TYPES);
    for v in [json!(i8::MIN), json!(i8::MAX), json!(0), json!(-1)] {
        echo(&mut s, "echo_s8", v);
    }
    for v in [json!(i16::MIN), json!(i16::MAX), json!(-1)] {
        echo(&mut s, "echo_s16", v);
    }
    for v in [json!(i32::MIN), json!(i32::MAX), json!(-1)] {
        echo(&mut s, "echo_s32", v);
    }
    for v in [json!(i64::MIN), json!(i64::MAX), json!(-1)] {
        echo(&mut s, "echo_s64", v);
    }
    for v in [json!(0), json!(128), json!(u8::MAX)] {
        echo(&mut s, "echo_u8", v);
    }
    for v in [json!(0), json!(32768), json!(u16::MAX)] {
        echo(&mut s, "echo_u16", v);
    }
    for v in [
        json!(0),
        json!(1u32 << 31),
        json!(4_000_000_000u32),
        json!(u32::MAX),
    ] {
        echo(&mut s, "echo_u32", v);
    }
    for v in [json!(0), json!(1u64 << 63), json!(u64::MAX)] {
        echo(&mut s, "echo_u64", v);
    }
}

#[test]
fn echo_integers_typed_including_extremes() {
    let mut s = load_default("types", TYPES);
    for v in [i8::MIN, -1, 0, i8::MAX] {
        echo_typed(&mut s, "echo_s8", IValue::S8(v));
    }
    for v in [i16::MIN, i16::MAX] {
        echo_typed(&mut s, "echo_s16", IValue::S16(v));
    }
    for v in [i32::MIN, i32::MAX] {
        echo_typed(&mut s, "echo_s32", IValue::S32(v));
    }
    for v in [i64::MIN, i64::MAX] {
        echo_typed(&mut s, "echo_s64", IValue::S64(v));
    }
    for v in [0, 128, u8::MAX] {
        echo_typed(&mut s, "echo_u8", IValue::U8(v));
    }
    for v in [32768, u16::MAX] {
        echo_typed(&mut s, "echo_u16", IValue::U16(v));
    }
    for v in [1 << 31, 3_000_000_000, u32::MAX] {
        echo_typed(&mut s, "echo_u32", IValue::U32(v));
    }
    for v in [1 << 63, u64::MAX] {
        echo_typed(&mut s, "echo_u64", IValue::U64(v));
    }
    echo_typed(&mut s, "echo_bool", IValue::Boolean(true));
    echo_typed(&mut s, "echo_bool", IValue::Boolean(false));
}

#[test]
fn echo_floats() {
    let mut s = load_default("types", TYPES);
    for v in [
        1.5,
        -2.25,
        0.0,
        f64::from(f32::MAX),
        f64::from(f32::MIN_POSITIVE),
    ] {
        echo(&mut s, "echo_f32", json!(v));
    }
    // 0.1 is not an f32: it comes back as the nearest f32.
    assert_eq!(
        call(&mut s, "echo_f32", json!([0.1])),
        json!(f64::from(0.1f32))
    );
    for v in [1.5, -2.25, 1e300, f64::MAX, f64::MIN_POSITIVE, 5e-324] {
        echo(&mut s, "echo_f64", json!(v));
    }
    let neg_zero = call(&mut s, "echo_f64", json!([-0.0])).as_f64().unwrap();
    assert!(
        neg_zero == 0.0 && neg_zero.is_sign_negative(),
        "-0.0 came back as {neg_zero}"
    );

    // Typed: infinities, NaN and -0.0 (which JSON cannot carry).
    for v in [f32::INFINITY, f32::NEG_INFINITY, f32::MAX, -0.0, 1.5] {
        let out = s.call("echo_f32", vec![IValue::F32(v)]).unwrap();
        match out.as_slice() {
            [IValue::F32(x)] => assert_eq!(x.to_bits(), v.to_bits(), "echo_f32({v})"),
            other => panic!("echo_f32({v}) gave {other:?}"),
        }
    }
    for v in [f64::INFINITY, f64::NEG_INFINITY, f64::MIN, -0.0] {
        let out = s.call("echo_f64", vec![IValue::F64(v)]).unwrap();
        match out.as_slice() {
            [IValue::F64(x)] => assert_eq!(x.to_bits(), v.to_bits(), "echo_f64({v})"),
            other => panic!("echo_f64({v}) gave {other:?}"),
        }
    }
    match s
        .call("echo_f64", vec![IValue::F64(f64::NAN)])
        .unwrap()
        .as_slice()
    {
        [IValue::F64(x)] => assert!(x.is_nan()),
        other => panic!("echo_f64(NaN) gave {other:?}"),
    }
    match s
        .call("echo_f32", vec![IValue::F32(f32::NAN)])
        .unwrap()
        .as_slice()
    {
        [IValue::F32(x)] => assert!(x.is_nan()),
        other => panic!("echo_f32(NaN) gave {other:?}"),
    }
    assert_eq!(call(&mut s, "echo_f64", json!([2.5])), json!(2.5));
}

#[test]
fn echo_strings_and_bytes() {
    let mut s = load_default("types", TYPES);
    let long: String = "abcdefghij".repeat(30);
    assert_eq!(long.len(), 300);
    for v in [
        "",
        "héllo wörld",
        long.as_str(),
        "🦀 ∑ 日本語",
        "nul\u{0}inside",
        "\"quoted\"\n\ttabs",
    ] {
        echo(&mut s, "echo_string", json!(v));
        echo_typed(&mut s, "echo_string", IValue::String(v.to_string()));
    }
    let big: Vec<u8> = (0..=255u8).cycle().take(5000).collect();
    for v in [vec![], vec![0u8], vec![0, 1, 127, 128, 255], big] {
        echo(&mut s, "echo_bytes", json!(v));
        echo_typed(&mut s, "echo_bytes", IValue::ByteArray(v));
    }
    // An array of u8 values is accepted for []u8 and comes back as bytes.
    assert_eq!(
        s.call(
            "echo_bytes",
            vec![IValue::Array(vec![IValue::U8(1), IValue::U8(255)])]
        )
        .unwrap(),
        vec![IValue::ByteArray(vec![1, 255])]
    );
}

#[test]
fn echo_arrays() {
    let mut s = load_default("types", TYPES);
    echo(&mut s, "echo_s32_array", json!([]));
    echo(
        &mut s,
        "echo_s32_array",
        json!([i32::MIN, -1, 0, 1, i32::MAX]),
    );
    echo(&mut s, "echo_u64_array", json!([]));
    echo(&mut s, "echo_u64_array", json!([0, 1u64 << 63, u64::MAX]));
    echo(&mut s, "echo_f64_array", json!([]));
    echo(
        &mut s,
        "echo_f64_array",
        json!([1.5, -2.25, 1e300, f64::MIN_POSITIVE]),
    );
    echo(&mut s, "echo_bool_array", json!([]));
    echo(&mut s, "echo_bool_array", json!([true, false, false, true]));
    echo(&mut s, "echo_string_array", json!([]));
    echo(
        &mut s,
        "echo_string_array",
        json!(["", "a", "héllo wörld", "🦀"]),
    );
    echo(&mut s, "echo_bytes_array", json!([]));
    echo(&mut s, "echo_bytes_array", json!([[], [1, 2], [255], []]));
    echo(&mut s, "echo_string_matrix", json!([]));
    echo(&mut s, "echo_string_matrix", json!([["a", "b"], [], ["c"]]));
    echo(
        &mut s,
        "echo_string_matrix",
        json!([[""], ["héllo", "wörld"]]),
    );
    echo(&mut s, "echo_s16_cube", json!([]));
    echo(
        &mut s,
        "echo_s16_cube",
        json!([[[1, -2], []], [], [[-32768, 32767, 0]]]),
    );
    echo(&mut s, "echo_leaves", json!([]));
    echo(
        &mut s,
        "echo_leaves",
        json!([{"key": "a", "value": i64::MIN}, {"key": "", "value": 0}, {"key": "ž", "value": i64::MAX}]),
    );

    // Typed.
    echo_typed(
        &mut s,
        "echo_s32_array",
        IValue::Array(vec![
            IValue::S32(i32::MIN),
            IValue::S32(0),
            IValue::S32(i32::MAX),
        ]),
    );
    echo_typed(
        &mut s,
        "echo_u64_array",
        IValue::Array(vec![IValue::U64(u64::MAX), IValue::U64(1 << 63)]),
    );
    echo_typed(
        &mut s,
        "echo_bool_array",
        IValue::Array(vec![IValue::Boolean(true), IValue::Boolean(false)]),
    );
    echo_typed(&mut s, "echo_string_array", IValue::Array(vec![]));
    echo_typed(
        &mut s,
        "echo_bytes_array",
        IValue::Array(vec![
            IValue::ByteArray(vec![]),
            IValue::ByteArray(vec![1, 2, 3]),
        ]),
    );
    echo_typed(
        &mut s,
        "echo_s16_cube",
        IValue::Array(vec![
            IValue::Array(vec![
                IValue::Array(vec![IValue::S16(1), IValue::S16(-2)]),
                IValue::Array(vec![]),
            ]),
            IValue::Array(vec![]),
            IValue::Array(vec![IValue::Array(vec![
                IValue::S16(i16::MIN),
                IValue::S16(i16::MAX),
                IValue::S16(0),
            ])]),
        ]),
    );
    echo_typed(
        &mut s,
        "echo_leaves",
        IValue::Array(vec![
            IValue::Record(vec![IValue::String("a".into()), IValue::S64(i64::MIN)]),
            IValue::Record(vec![IValue::String("b".into()), IValue::S64(-1)]),
        ]),
    );
}

fn make_all_expected() -> Value {
    json!({
        "f_bool": true, "f_s8": -5, "f_s16": -300, "f_s32": -70000, "f_s64": -5_000_000_000i64,
        "f_u8": 200, "f_u16": 60000, "f_u32": 4_000_000_000u32, "f_u64": 10_000_000_000_000_000_000u64,
        "f_f32": 1.5, "f_f64": -2.25, "f_string": "héllo", "f_bytes": [1, 2, 3],
        "f_s8_array": [-5, 5], "f_u16_array": [200, 60000], "f_s32_array": [-5, -300, -70000],
        "f_f32_array": [1.5, -2.25], "f_string_array": ["héllo", "HÉLLO"],
    })
}

fn make_all_args() -> Value {
    json!([
        true,
        -5,
        -300,
        -70000,
        -5_000_000_000i64,
        200,
        60000,
        4_000_000_000u32,
        10_000_000_000_000_000_000u64,
        1.5,
        -2.25,
        "héllo",
        [1, 2, 3]
    ])
}

#[test]
fn make_all_packs_every_type() {
    let mut s = load_default("types", TYPES);
    assert_eq!(
        call(&mut s, "make_all", make_all_args()),
        make_all_expected()
    );

    let typed = s
        .call(
            "make_all",
            vec![
                IValue::Boolean(true),
                IValue::S8(-5),
                IValue::S16(-300),
                IValue::S32(-70000),
                IValue::S64(-5_000_000_000),
                IValue::U8(200),
                IValue::U16(60000),
                IValue::U32(4_000_000_000),
                IValue::U64(10_000_000_000_000_000_000),
                IValue::F32(1.5),
                IValue::F64(-2.25),
                IValue::String("héllo".into()),
                IValue::ByteArray(vec![1, 2, 3]),
            ],
        )
        .unwrap();
    assert_eq!(
        typed,
        vec![IValue::Record(vec![
            IValue::Boolean(true),
            IValue::S8(-5),
            IValue::S16(-300),
            IValue::S32(-70000),
            IValue::S64(-5_000_000_000),
            IValue::U8(200),
            IValue::U16(60000),
            IValue::U32(4_000_000_000),
            IValue::U64(10_000_000_000_000_000_000),
            IValue::F32(1.5),
            IValue::F64(-2.25),
            IValue::String("héllo".into()),
            IValue::ByteArray(vec![1, 2, 3]),
            IValue::Array(vec![IValue::S8(-5), IValue::S8(5)]),
            IValue::Array(vec![IValue::U16(200), IValue::U16(60000)]),
            IValue::Array(vec![
                IValue::S32(-5),
                IValue::S32(-300),
                IValue::S32(-70000)
            ]),
            IValue::Array(vec![IValue::F32(1.5), IValue::F32(-2.25)]),
            IValue::Array(vec![
                IValue::String("héllo".into()),
                IValue::String("HÉLLO".into())
            ]),
        ])]
    );

    // Extremes: s8 = -128 negates to itself; f64 as f32 rounds.
    assert_eq!(
        call(
            &mut s,
            "make_all",
            json!([
                false,
                -128,
                i16::MIN,
                i32::MIN,
                i64::MIN,
                255,
                u16::MAX,
                u32::MAX,
                u64::MAX,
                -0.5,
                -1e30,
                "",
                []
            ]),
        ),
        json!({
            "f_bool": false, "f_s8": -128, "f_s16": i16::MIN, "f_s32": i32::MIN, "f_s64": i64::MIN,
            "f_u8": 255, "f_u16": u16::MAX, "f_u32": u32::MAX, "f_u64": u64::MAX,
            "f_f32": -0.5, "f_f64": -1e30, "f_string": "", "f_bytes": [],
            "f_s8_array": [-128, -128], "f_u16_array": [255, u16::MAX], "f_s32_array": [-128, i16::MIN, i32::MIN],
            "f_f32_array": [-0.5, f64::from(-1e30f32)], "f_string_array": ["", ""],
        })
    );
}

#[test]
fn echo_all_round_trips() {
    let mut s = load_default("types", TYPES);
    let all = make_all_expected();
    echo(&mut s, "echo_all", all.clone());
    let mut extreme = all.clone();
    extreme["f_s8"] = json!(i8::MIN);
    extreme["f_u32"] = json!(u32::MAX);
    extreme["f_u64"] = json!(u64::MAX);
    extreme["f_s64"] = json!(i64::MIN);
    extreme["f_string"] = json!("");
    extreme["f_bytes"] = json!([]);
    extreme["f_s8_array"] = json!([]);
    extreme["f_u16_array"] = json!([0, 65535]);
    extreme["f_string_array"] = json!([]);
    echo(&mut s, "echo_all", extreme.clone());
    echo(&mut s, "echo_all_array", json!([]));
    echo(&mut s, "echo_all_array", json!([all, extreme]));

    // A record can also be given positionally.
    let positional: Vec<Value> = [
        "f_bool",
        "f_s8",
        "f_s16",
        "f_s32",
        "f_s64",
        "f_u8",
        "f_u16",
        "f_u32",
        "f_u64",
        "f_f32",
        "f_f64",
        "f_string",
        "f_bytes",
        "f_s8_array",
        "f_u16_array",
        "f_s32_array",
        "f_f32_array",
        "f_string_array",
    ]
    .iter()
    .map(|k| make_all_expected()[*k].clone())
    .collect();
    assert_eq!(
        call(&mut s, "echo_all", json!([positional])),
        make_all_expected()
    );
}

fn outer_abc() -> Value {
    json!({
        "name": "abc",
        "inner": {"id": 7, "leaves": [{"key": "x", "value": 0}, {"key": "y", "value": 10}, {"key": "z", "value": 20}], "payload": [99, 98, 97]},
        "tags": ["z", "y", "x"],
        "flag": false,
    })
}

#[test]
fn make_outer_and_sum_leaves() {
    let mut s = load_default("types", TYPES);
    assert_eq!(
        call(&mut s, "make_outer", json!(["abc", 7, ["x", "y", "z"]])),
        outer_abc()
    );
    assert_eq!(
        call(
            &mut s,
            "make_outer",
            json!({"keys": ["x", "y", "z"], "id": 7, "name": "abc"})
        ),
        outer_abc()
    );
    assert_eq!(
        call(&mut s, "make_outer", json!(["", 0, []])),
        json!({"name": "", "inner": {"id": 0, "leaves": [], "payload": []}, "tags": [], "flag": true})
    );
    assert_eq!(call(&mut s, "sum_leaves", json!([outer_abc()])), json!(30));
    echo(&mut s, "echo_outer", outer_abc());
    let mut big = outer_abc();
    big["inner"]["id"] = json!(u32::MAX);
    big["inner"]["leaves"] = json!([{"key": "m", "value": i64::MAX}, {"key": "n", "value": -5}]);
    echo(&mut s, "echo_outer", big.clone());
    assert_eq!(
        call(&mut s, "sum_leaves", json!([big])),
        json!(i64::MAX - 5)
    );

    // Typed: the three-level record.
    let out = s
        .call(
            "make_outer",
            vec![
                IValue::String("abc".into()),
                IValue::U32(7),
                IValue::Array(vec![
                    IValue::String("x".into()),
                    IValue::String("y".into()),
                    IValue::String("z".into()),
                ]),
            ],
        )
        .unwrap();
    let leaf = |k: &str, v: i64| IValue::Record(vec![IValue::String(k.into()), IValue::S64(v)]);
    let expected = IValue::Record(vec![
        IValue::String("abc".into()),
        IValue::Record(vec![
            IValue::U32(7),
            IValue::Array(vec![leaf("x", 0), leaf("y", 10), leaf("z", 20)]),
            IValue::ByteArray(vec![99, 98, 97]),
        ]),
        IValue::Array(vec![
            IValue::String("z".into()),
            IValue::String("y".into()),
            IValue::String("x".into()),
        ]),
        IValue::Boolean(false),
    ]);
    assert_eq!(out, vec![expected.clone()]);
    assert_eq!(
        s.call("sum_leaves", vec![expected.clone()]).unwrap(),
        vec![IValue::S64(30)]
    );
    echo_typed(&mut s, "echo_outer", expected);
}

#[test]
fn small_pure_functions() {
    let mut s = load_default("types", TYPES);
    assert_eq!(call(&mut s, "sum_u8", json!([[255, 255, 1]])), json!(511));
    assert_eq!(call(&mut s, "sum_u8", json!([[]])), json!(0));
    assert_eq!(call(&mut s, "max_s64", json!([[-3, 7, -9]])), json!(7));
    assert_eq!(call(&mut s, "max_s64", json!([[]])), json!(i64::MIN));
    assert_eq!(call(&mut s, "negate", json!([true])), json!(false));
    assert_eq!(call(&mut s, "negate", json!([false])), json!(true));
    assert_eq!(
        call(&mut s, "reverse_strings", json!([["ab", "cde", ""]])),
        json!(["", "edc", "ba"])
    );
    assert_eq!(
        call(&mut s, "reverse_strings", json!([["héllo"]])),
        json!(["olléh"])
    );
    assert_eq!(call(&mut s, "unit", Value::Null), Value::Null);
    assert_eq!(call(&mut s, "unit", json!([])), Value::Null);
    assert_eq!(s.call("unit", vec![]).unwrap(), vec![]);
    assert_eq!(
        s.call("negate", vec![IValue::Boolean(true)]).unwrap(),
        vec![IValue::Boolean(false)]
    );
    assert_eq!(
        s.call("sum_u8", vec![IValue::ByteArray(vec![255, 255, 1])])
            .unwrap(),
        vec![IValue::U64(511)]
    );
    assert_eq!(
        s.call("max_s64", vec![IValue::Array(vec![])]).unwrap(),
        vec![IValue::S64(i64::MIN)]
    );
}

#[test]
fn count_args_formats_eight_arguments() {
    let mut s = load_default("types", TYPES);
    assert_eq!(
        call(
            &mut s,
            "count_args",
            json!([1, -2, 3, -4, 1.5, "x", [1, 2], true])
        ),
        json!("a=1 b=-2 c=3 d=-4 e=1.5 f=x g=[1, 2] h=true")
    );
    assert_eq!(
        call(
            &mut s,
            "count_args",
            json!([
                255,
                -32768,
                4_294_967_295u32,
                i64::MIN,
                0.1,
                "héllo wörld",
                [],
                false
            ])
        ),
        json!(
            "a=255 b=-32768 c=4294967295 d=-9223372036854775808 e=0.1 f=héllo wörld g=[] h=false"
        )
    );
    assert_eq!(
        s.call(
            "count_args",
            vec![
                IValue::U8(255),
                IValue::S16(-32768),
                IValue::U32(u32::MAX),
                IValue::S64(i64::MIN),
                IValue::F32(0.1),
                IValue::String("héllo wörld".into()),
                IValue::ByteArray(vec![]),
                IValue::Boolean(false),
            ]
        )
        .unwrap(),
        vec![IValue::String(
            "a=255 b=-32768 c=4294967295 d=-9223372036854775808 e=0.1 f=héllo wörld g=[] h=false"
                .into()
        )]
    );
}
