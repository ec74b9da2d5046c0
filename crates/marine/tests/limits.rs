//! Fuel, memory, traps and stack depth: every limit ends the call with a typed error and the
//! service takes the next call.

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;
#[cfg(target_arch = "wasm32")]
wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

mod common;

use common::*;
use lineage_marine::{CallError, IValue, Limits, LogSource, Service, ServiceConfig};
use serde_json::{json, Value};

const WORK: [(u64, u64); 4] = [
    (0, 11_400_714_819_323_198_485),
    (1, 15_860_402_102_123_842_989),
    (10, 11_679_810_346_747_381_767),
    (1000, 13_056_735_623_349_560_198),
];

fn spin_service(fuel_per_call: u64) -> Service {
    load(
        "spin",
        SPIN,
        ServiceConfig::default().limits(Limits {
            fuel_per_call,
            ..Limits::default()
        }),
    )
}

#[test]
fn work_gives_the_documented_values() {
    let mut s = spin_service(Limits::default().fuel_per_call);
    for (n, expected) in WORK {
        assert_eq!(
            call(&mut s, "work", json!([n])),
            json!(expected),
            "work({n})"
        );
    }
    assert_eq!(
        s.call("work", vec![IValue::U64(1000)]).unwrap(),
        vec![IValue::U64(0xb532_d7df_33f0_6386)]
    );
    assert_eq!(
        call(&mut s, "work", json!([1_000_000])),
        json!(3_254_002_681_401_506_522u64)
    );
    assert_eq!(call(&mut s, "ping", Value::Null), json!("pong"));
}

#[test]
fn spin_runs_out_of_fuel_and_the_service_recovers() {
    let fuel = 5_000_000;
    let mut s = spin_service(fuel);
    assert_eq!(call(&mut s, "ping", Value::Null), json!("pong"));
    let e = call_err(&mut s, "spin", json!([1]));
    assert_eq!(
        e,
        CallError::OutOfFuel {
            module: "spin".into(),
            function: "spin".into(),
            fuel
        }
    );
    assert_eq!(e.code(), "OUT_OF_FUEL");
    assert_eq!(call(&mut s, "ping", Value::Null), json!("pong"));
    assert_eq!(
        call(&mut s, "work", json!([1000])),
        json!(13_056_735_623_349_560_198u64)
    );

    // Again, with the typed API and another argument.
    let e = s.call("spin", vec![IValue::U32(u32::MAX)]).unwrap_err();
    assert_eq!(
        e,
        CallError::OutOfFuel {
            module: "spin".into(),
            function: "spin".into(),
            fuel
        }
    );
    for (n, expected) in WORK {
        assert_eq!(
            call(&mut s, "work", json!([n])),
            json!(expected),
            "work({n}) after running out of fuel"
        );
    }
    assert_eq!(call(&mut s, "ping", Value::Null), json!("pong"));
}

#[test]
fn every_call_gets_a_fresh_fuel_budget() {
    // work(100_000) needs about 3.5 M fuel on wasmi: one call fits in 5 M, three do not.
    let fuel = 5_000_000;
    let mut s = spin_service(fuel);
    let first = call(&mut s, "work", json!([100_000]));
    for _ in 0..3 {
        assert_eq!(call(&mut s, "work", json!([100_000])), first);
    }
    // A workload ten times larger does not fit into one call's budget.
    let e = call_err(&mut s, "work", json!([1_000_000]));
    assert_eq!(
        e,
        CallError::OutOfFuel {
            module: "spin".into(),
            function: "work".into(),
            fuel
        }
    );
    assert_eq!(call(&mut s, "work", json!([100_000])), first);
}

#[test]
fn limits_are_reported() {
    let limits = Limits {
        fuel_per_call: 1234,
        memory_bytes: 64 * MIB,
        ..Limits::default()
    };
    let s = load(
        "spin",
        SPIN,
        ServiceConfig::default().limits(limits.clone()),
    );
    assert_eq!(s.limits(), &limits);
}

fn hog_service() -> (Service, std::sync::Arc<Collect>) {
    let logger = Collect::new();
    let config = with_logger(&logger).limits(Limits {
        memory_bytes: 64 * MIB,
        ..Limits::default()
    });
    (load("hog", HOG, config), logger)
}

#[test]
fn hog_hits_the_memory_limit_and_the_service_recovers() {
    let (mut s, logger) = hog_service();
    assert_eq!(s.memory_bytes(), 17 * PAGE);
    let e = call_err(&mut s, "hog", json!([4]));
    assert_eq!(
        e,
        CallError::MemoryLimit {
            module: "hog".into(),
            function: "hog".into(),
            limit: 64 * MIB
        }
    );
    assert_eq!(e.code(), "MEMORY_LIMIT");
    assert!(
        s.memory_bytes() <= 64 * MIB,
        "memory {} over the cap",
        s.memory_bytes()
    );
    // 17 initial pages + 15 blocks of 4 MiB; the 16th does not fit under 1024 pages (wasmtime
    // ends a fresh instance's `hog(4)` at 977 pages too).
    assert_eq!(s.memory_bytes(), 977 * PAGE);
    let stderr: Vec<String> = logger
        .take()
        .into_iter()
        .filter(|r| r.source == LogSource::Stderr)
        .map(|r| r.message)
        .collect();
    assert!(
        stderr
            .iter()
            .any(|m| m.contains("memory allocation of") && m.contains("bytes failed")),
        "no allocation failure on stderr: {stderr:?}"
    );
    assert_eq!(call(&mut s, "ping", Value::Null), json!("pong"));
    // Hogging again hits the same wall; memory never exceeds the cap.
    let e = call_err(&mut s, "hog", json!([1]));
    assert!(
        matches!(e, CallError::MemoryLimit { ref module, ref function, limit } if module == "hog" && function == "hog" && limit == 64 * MIB),
        "{e:?}"
    );
    assert!(s.memory_bytes() <= 64 * MIB);
    assert_eq!(call(&mut s, "ping", Value::Null), json!("pong"));
}

#[test]
fn alloc_mb_over_the_cap_fails_and_smaller_allocations_work() {
    let (mut s, logger) = hog_service();
    let e = call_err(&mut s, "alloc_mb", json!([100]));
    assert_eq!(
        e,
        CallError::MemoryLimit {
            module: "hog".into(),
            function: "alloc_mb".into(),
            limit: 64 * MIB
        }
    );
    assert!(s.memory_bytes() <= 64 * MIB);
    let records = logger.take();
    assert!(
        records.iter().any(|r| r.source == LogSource::Stderr
            && r.module == "hog"
            && r.message
                .contains("memory allocation of 104857600 bytes failed")),
        "{records:?}"
    );
    assert_eq!(call(&mut s, "ping", Value::Null), json!("pong"));
    assert_eq!(call(&mut s, "alloc_mb", json!([8])), json!(8));
    assert!(s.memory_bytes() <= 64 * MIB);
    assert_eq!(call(&mut s, "alloc_mb", json!([8])), json!(8));
    assert_eq!(call(&mut s, "ping", Value::Null), json!("pong"));
}

#[test]
fn memory_accounting_follows_the_module() {
    let (mut s, _logger) = hog_service();
    assert_eq!(s.memory_bytes(), 17 * PAGE);
    assert_eq!(call(&mut s, "alloc_mb", json!([0])), json!(0));
    assert_eq!(s.memory_bytes(), 17 * PAGE);
    assert_eq!(call(&mut s, "alloc_mb", json!([1])), json!(1));
    assert_eq!(s.memory_bytes(), 33 * PAGE);
    assert_eq!(call(&mut s, "alloc_mb", json!([16])), json!(16));
    assert_eq!(s.memory_bytes(), 273 * PAGE);
    assert_eq!(
        s.call("alloc_mb", vec![IValue::U32(16)]).unwrap(),
        vec![IValue::U32(16)]
    );
    assert_eq!(s.memory_bytes(), 273 * PAGE);
    assert_eq!(call(&mut s, "alloc_mb", json!([8])), json!(8));
    assert_eq!(s.memory_bytes(), 273 * PAGE);
}

#[test]
fn memory_cap_below_the_initial_memory_fails_loading() {
    let config = ServiceConfig::default().limits(Limits {
        memory_bytes: MIB,
        ..Limits::default()
    });
    let e = load_err([("hog", HOG)], config);
    match &e {
        lineage_marine::LoadError::Init { module, source } => {
            assert_eq!(module, "hog");
            assert!(
                matches!(**source, CallError::MemoryLimit { limit, .. } if limit == MIB),
                "{source:?}"
            );
        }
        other => panic!("expected Init(MemoryLimit), got {other:?}"),
    }
}

#[test]
fn memory_cap_covers_all_modules_together() {
    // Each of callee and facade starts with 17 pages: a cap between one and two modules' worth
    // lets callee load but not facade.
    let config = ServiceConfig::default().limits(Limits {
        memory_bytes: 20 * PAGE,
        ..Limits::default()
    });
    let e = load_err([("callee", CALLEE), ("facade", FACADE)], config);
    assert!(
        matches!(&e, lineage_marine::LoadError::Init { module, source } if module == "facade" && matches!(**source, CallError::MemoryLimit { .. })),
        "{e:?}"
    );
    let config = ServiceConfig::default().limits(Limits {
        memory_bytes: 34 * PAGE,
        ..Limits::default()
    });
    let mut s = load_facade(config);
    assert_eq!(s.memory_bytes(), 34 * PAGE);
    assert_eq!(call(&mut s, "shout", json!(["x"])), json!("X"));
}

#[test]
fn traps_name_module_and_function_and_the_service_recovers() {
    let logger = Collect::new();
    let mut s = load("trap", TRAP, with_logger(&logger));
    assert_eq!(call(&mut s, "divide", json!([7, 2])), json!(3));
    assert_eq!(call(&mut s, "divide", json!([-7, 2])), json!(-3));
    assert_eq!(
        s.call("divide", vec![IValue::S32(i32::MIN), IValue::S32(1)])
            .unwrap(),
        vec![IValue::S32(i32::MIN)]
    );
    logger.take();

    let stderr_of = |logger: &Collect| -> String {
        logger
            .take()
            .into_iter()
            .filter(|r| r.source == LogSource::Stderr && r.module == "trap")
            .map(|r| r.message)
            .collect::<Vec<_>>()
            .join("\n")
    };
    let is_trap = |e: &CallError, f: &str| matches!(e, CallError::Trap { module, function, .. } if module == "trap" && function == f);

    let e = call_err(&mut s, "trap_unreachable", Value::Null);
    assert!(is_trap(&e, "trap_unreachable"), "{e:?}");
    assert_eq!(e.code(), "TRAP");
    assert_eq!(
        stderr_of(&logger),
        "",
        "trap_unreachable writes nothing to stderr"
    );
    assert_eq!(call(&mut s, "ping", Value::Null), json!("pong"));

    let e = call_err(&mut s, "trap_panic", json!(["boom-2207"]));
    assert!(is_trap(&e, "trap_panic"), "{e:?}");
    assert!(stderr_of(&logger).contains("boom-2207"));
    assert_eq!(call(&mut s, "ping", Value::Null), json!("pong"));

    let e = call_err(&mut s, "divide", json!([7, 0]));
    assert!(is_trap(&e, "divide"), "{e:?}");
    assert!(stderr_of(&logger).contains("attempt to divide by zero"));
    assert_eq!(call(&mut s, "ping", Value::Null), json!("pong"));

    let e = s
        .call("divide", vec![IValue::S32(i32::MIN), IValue::S32(-1)])
        .unwrap_err();
    assert!(is_trap(&e, "divide"), "{e:?}");
    assert!(stderr_of(&logger).contains("attempt to divide with overflow"));
    assert_eq!(call(&mut s, "ping", Value::Null), json!("pong"));

    // Every function still works after all of that.
    assert_eq!(call(&mut s, "divide", json!([9, 3])), json!(3));
    assert!(is_trap(
        &call_err(&mut s, "trap_unreachable", json!([])),
        "trap_unreachable"
    ));
    assert_eq!(call(&mut s, "ping", json!([])), json!("pong"));
}

#[test]
fn endless_recursion_is_a_stack_overflow() {
    // Not in the fixtures: a hand-written module whose `recurse()` calls itself forever.
    let wasm = tiny_module(Tiny::default());
    let mut s = load_default("deep", &wasm);
    assert_eq!(call(&mut s, "answer", Value::Null), json!(42));
    let e = call_err(&mut s, "recurse", Value::Null);
    assert!(
        matches!(&e, CallError::StackOverflow { module, function, .. } if module == "deep" && function == "recurse"),
        "{e:?}"
    );
    assert_eq!(e.code(), "STACK_OVERFLOW");
    assert_eq!(call(&mut s, "answer", Value::Null), json!(42));
    assert_eq!(s.call("answer", vec![]).unwrap(), vec![IValue::S32(42)]);

    // A lower recursion limit ends it the same way.
    let limits = Limits {
        max_recursion_depth: 64,
        ..Limits::default()
    };
    let mut s = load("deep", &wasm, ServiceConfig::default().limits(limits));
    assert!(matches!(
        call_err(&mut s, "recurse", Value::Null),
        CallError::StackOverflow { .. }
    ));
    assert_eq!(call(&mut s, "answer", Value::Null), json!(42));
}

/// The least `fuel_per_call` with which `work(1000)` succeeds on `instance()`.
fn work_fuel(mut instance: impl FnMut(u64) -> Service) -> u64 {
    let ok = |s: &mut Service| s.call_json("work", &json!([1000])).is_ok();
    let (mut lo, mut hi) = (1u64, 50_000_000u64);
    assert!(ok(&mut instance(hi)), "work(1000) fits in 50 M fuel");
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if ok(&mut instance(mid)) {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    lo
}

fn with_fuel(fuel_per_call: u64) -> ServiceConfig {
    ServiceConfig::default().limits(Limits {
        fuel_per_call,
        ..Limits::default()
    })
}

/// Services from one `CompiledModules` cost the same fuel per call however many ran before (the
/// code is translated up front), so a verifier replaying a call on a cold cache reaches the
/// node's decision at the fuel limit; `Service::load` translates lazily and charges the first
/// call for it.
#[test]
fn compiled_modules_charge_the_same_fuel_warm_or_cold() {
    let compile = || {
        lineage_marine::CompiledModules::compile([("spin", SPIN)], &Limits::default())
            .expect("spin compiles")
    };
    let warm = compile();
    let need = work_fuel(|f| Service::instantiate(&warm, with_fuel(f)).expect("instantiates"));
    // A brand-new compilation, first call: exactly the same threshold.
    let cold_ok = |f| {
        Service::instantiate(&compile(), with_fuel(f))
            .expect("instantiates")
            .call_json("work", &json!([1000]))
            .is_ok()
    };
    assert!(
        cold_ok(need),
        "a cold service runs with the warm threshold {need}"
    );
    assert!(!cold_ok(need - 1), "and not with one unit less");
    // The engine's settings are fixed at compile time: a config asking for others is refused.
    let deeper = ServiceConfig::default().limits(Limits {
        max_recursion_depth: Limits::default().max_recursion_depth * 2,
        ..Limits::default()
    });
    assert!(matches!(
        Service::instantiate(&warm, deeper),
        Err(lineage_marine::LoadError::LimitsMismatch(_))
    ));
    // Lazy translation (Service::load) pays for translating on the first call.
    let lazy = work_fuel(|f| load("spin", SPIN, with_fuel(f)));
    assert!(lazy > need, "lazy first call {lazy} > eager {need}");
}
