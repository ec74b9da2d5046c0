//! Hand-assembled modules for what the fixtures cannot show: deep recursion and modules that
//! break the Marine ABI on purpose (bad pointers, bad sizes). Each must end in a typed error,
//! never a panic, and leave the service usable.

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;
#[cfg(target_arch = "wasm32")]
wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

mod common;

use common::custom_section;
use lineage_marine::{CallError, Limits, Service, ServiceConfig};
use serde_json::json;

/// The six SDK exports, with `allocate` and `get_result_size` taken from the caller.
fn api(allocate_body: &str, result_size_body: &str) -> String {
    format!(
        r#"
        (memory (export "memory") 1)
        (global $bump (mut i32) (i32.const 1024))
        (global $res_ptr (mut i32) (i32.const 0))
        (global $res_size (mut i32) (i32.const 0))
        (func (export "allocate") (param $n i32) (param $tag i32) (result i32) {allocate_body})
        (func (export "release_objects"))
        (func (export "get_result_size") (result i32) {result_size_body})
        (func (export "get_result_ptr") (result i32) global.get $res_ptr)
        (func (export "set_result_size") (param i32) local.get 0 global.set $res_size)
        (func (export "set_result_ptr") (param i32) local.get 0 global.set $res_ptr)
        "#
    )
}

const BUMP_ALLOCATE: &str =
    "global.get $bump global.get $bump local.get $n i32.add global.set $bump";

fn it_string(s: &str, out: &mut Vec<u8>) {
    out.push(s.len() as u8);
    out.extend_from_slice(s.as_bytes());
}

/// One exported IT function: name, argument types (IT codes), output types and adapter bytes.
struct ItFn {
    name: &'static str,
    args: Vec<u8>,
    outputs: Vec<u8>,
    adapter: Vec<u8>,
    adapter_len: u8,
}

/// Builds the `interface-types` payload: type 0 for the six API exports, then an
/// (adapter, export) type pair per user function.
fn it_section(fns: &[ItFn]) -> Vec<u8> {
    let mut p = vec![0x05];
    it_string("0.28.0", &mut p);
    // Types.
    p.push(0x00);
    common::uleb(u64::from(1 + 2 * fns.len() as u32), &mut p);
    p.extend_from_slice(&[0x00, 0, 0]); // type 0: fn() -> () (placeholder for the API exports)
    for f in fns {
        for _ in 0..2 {
            p.push(0x00);
            p.push(f.args.len() as u8);
            for (i, ty) in f.args.iter().enumerate() {
                it_string(&format!("a{i}"), &mut p);
                p.push(*ty);
            }
            p.push(f.outputs.len() as u8);
            p.extend_from_slice(&f.outputs);
        }
    }
    // Adapters.
    p.push(0x02);
    common::uleb(u64::from(fns.len() as u32), &mut p);
    for (i, f) in fns.iter().enumerate() {
        common::uleb(u64::from(1 + 2 * i as u32), &mut p);
        p.push(f.adapter_len);
        p.extend_from_slice(&f.adapter);
    }
    // Exports: the six API functions, then the user functions (call-core 6, 7, …).
    p.push(0x03);
    common::uleb(u64::from(6 + fns.len() as u32), &mut p);
    for api in [
        "allocate",
        "release_objects",
        "get_result_size",
        "get_result_ptr",
        "set_result_size",
        "set_result_ptr",
    ] {
        it_string(api, &mut p);
        p.push(0);
    }
    for (i, f) in fns.iter().enumerate() {
        it_string(f.name, &mut p);
        common::uleb(u64::from(2 + 2 * i as u32), &mut p);
    }
    // Implementations: export type → adapter type.
    p.push(0x04);
    common::uleb(u64::from(fns.len() as u32), &mut p);
    for i in 0..fns.len() as u32 {
        common::uleb(u64::from(2 + 2 * i), &mut p);
        common::uleb(u64::from(1 + 2 * i), &mut p);
    }
    p
}

fn module(core_wat: &str, fns: &[ItFn]) -> Vec<u8> {
    let mut wasm = wat::parse_str(format!("(module {core_wat})")).expect("test WAT is valid");
    wasm.extend(custom_section("__fluence_sdk_version", b"0.14.0"));
    wasm.extend(custom_section("interface-types", &it_section(fns)));
    wasm
}

const S32: u8 = 0x02;
const STRING: u8 = 0x0a;

/// `f(a0: s32) -> s32` calling core export #idx.
fn s32_fn(name: &'static str, core_idx: u8) -> ItFn {
    ItFn {
        name,
        args: vec![S32],
        outputs: vec![S32],
        // arg.get 0; i32.from_s32; call-core idx; s32.from_i32
        adapter: vec![0x00, 0x00, 0x0c, 0x01, core_idx, 0x06],
        adapter_len: 4,
    }
}

/// `echo(a0: string) -> string` calling core export #idx with (ptr, len).
fn echo_fn(core_idx: u8) -> ItFn {
    ItFn {
        name: "echo",
        args: vec![STRING],
        outputs: vec![STRING],
        // arg.get 0; string.size; push.i32 1; call-core 0; arg.get 0; string.lower_memory;
        // call-core idx; call-core 3; call-core 2; string.lift_memory
        adapter: vec![
            0x00, 0x00, 0x24, 0x40, 0x01, 0x01, 0x00, 0x00, 0x00, 0x23, 0x01, core_idx, 0x01, 0x03,
            0x01, 0x02, 0x22,
        ],
        adapter_len: 10,
    }
}

const ECHO_CORE: &str = r#"(func (export "echo") (param $p i32) (param $n i32)
    local.get $p global.set $res_ptr local.get $n global.set $res_size)"#;

fn load(wasm: &[u8], limits: Limits) -> Service {
    Service::load([("hand", wasm)], ServiceConfig::default().limits(limits))
        .expect("hand-made module loads")
}

#[test]
fn deep_recursion_is_a_typed_stack_error_and_the_service_survives() {
    let core = format!(
        r#"{}
        (func $rec (export "rec") (param i32) (result i32) local.get 0 i32.const 1 i32.add call $rec)
        (func (export "inc") (param i32) (result i32) local.get 0 i32.const 1 i32.add)"#,
        api(BUMP_ALLOCATE, "global.get $res_size")
    );
    let wasm = module(&core, &[s32_fn("rec", 6), s32_fn("inc", 7)]);
    let mut svc = load(
        &wasm,
        Limits {
            max_recursion_depth: 1000,
            ..Limits::default()
        },
    );
    let err = svc
        .call_json("rec", &json!([0]))
        .expect_err("unbounded recursion must fail");
    assert!(
        matches!(&err, CallError::StackOverflow { module, function, .. } if module == "hand" && function == "rec"),
        "{err:?}"
    );
    assert_eq!(
        svc.call_json("inc", &json!([41]))
            .expect("service still works"),
        json!(42)
    );
}

#[test]
fn allocate_returning_a_pointer_outside_memory_is_an_abi_error() {
    let core = format!(
        "{}{ECHO_CORE}",
        api("i32.const 0x7fff0000", "global.get $res_size")
    );
    let mut svc = load(&module(&core, &[echo_fn(6)]), Limits::default());
    let err = svc
        .call_json("echo", &json!(["hello"]))
        .expect_err("must fail");
    assert!(
        matches!(&err, CallError::Abi { module, function, reason } if module == "hand" && function == "echo" && reason.contains("outside memory")),
        "{err:?}"
    );
    // An empty string needs no write: the same service still answers.
    assert_eq!(
        svc.call_json("echo", &json!([""])).expect("still usable"),
        json!("")
    );
}

#[test]
fn a_result_size_beyond_memory_is_an_abi_error_not_an_allocation() {
    let core = format!("{}{ECHO_CORE}", api(BUMP_ALLOCATE, "i32.const 0x7fffffff"));
    let mut svc = load(&module(&core, &[echo_fn(6)]), Limits::default());
    let err = svc
        .call_json("echo", &json!(["hi"]))
        .expect_err("must fail");
    assert!(
        matches!(&err, CallError::Abi { reason, .. } if reason.contains("limit") || reason.contains("outside memory")),
        "{err:?}"
    );
}

#[test]
fn the_echo_adapter_round_trips_a_string() {
    let core = format!("{}{ECHO_CORE}", api(BUMP_ALLOCATE, "global.get $res_size"));
    let mut svc = load(&module(&core, &[echo_fn(6)]), Limits::default());
    assert_eq!(
        svc.call_json("echo", &json!(["héllo"])).expect("echo"),
        json!("héllo")
    );
}

#[test]
fn an_adapter_calling_a_missing_core_function_is_an_abi_error() {
    let core = format!(
        r#"{}(func (export "ghost") (param i32) (result i32) local.get 0)"#,
        api(BUMP_ALLOCATE, "global.get $res_size")
    );
    // call-core 9 does not exist (6 API exports + 1 user export, no imports).
    let wasm = module(&core, &[s32_fn("ghost", 9)]);
    let mut svc = load(&wasm, Limits::default());
    let err = svc.call_json("ghost", &json!([1])).expect_err("must fail");
    assert!(
        matches!(&err, CallError::Abi { function, .. } if function == "ghost"),
        "{err:?}"
    );
}

#[test]
fn an_it_export_without_a_core_function_fails_at_load() {
    let core = api(BUMP_ALLOCATE, "global.get $res_size");
    let err = Service::load(
        [("hand", module(&core, &[s32_fn("ghost", 6)]).as_slice())],
        ServiceConfig::default(),
    )
    .expect_err("must not load");
    assert!(
        matches!(&err, lineage_marine::LoadError::Incompatible { module, reason } if module == "hand" && reason.contains("ghost")),
        "{err:?}"
    );
}
