//! Every bad input gives a typed error and leaves the service usable; the interface is reported
//! as declared.

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;
#[cfg(target_arch = "wasm32")]
wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

mod common;

use common::*;
use lineage_marine::{
    CallError, IType, IValue, Limits, LoadError, ModuleConfig, NamedType, Service, ServiceConfig,
};
use serde_json::{json, Value};

// ---------------------------------------------------------------------------------------------
// Loading

#[test]
fn the_hand_written_module_loads() {
    // The control for the tests below, which each change one thing about it.
    let mut s = load_default("tiny", &tiny_module(Tiny::default()));
    assert_eq!(s.module_names(), vec!["tiny"]);
    assert_eq!(call(&mut s, "answer", Value::Null), json!(42));
    assert_eq!(s.memory_bytes(), PAGE);
}

#[test]
fn malformed_wasm_is_invalid_wasm() {
    for bytes in [
        &b"not wasm at all"[..],
        &[][..],
        &b"\0asm"[..],
        &b"\0asm\x02\0\0\0"[..],
        &GREETING[..GREETING.len() / 2],
    ] {
        let e = load_err([("junk", bytes)], ServiceConfig::default());
        assert!(
            matches!(&e, LoadError::InvalidWasm { module, .. } if module == "junk"),
            "{e:?}"
        );
        assert!(e.to_string().contains("junk"), "{e}");
    }
    // A section whose size runs past the end.
    let mut bad = b"\0asm\x01\0\0\0".to_vec();
    bad.extend_from_slice(&[0x01, 0x7f, 0x01]);
    assert!(matches!(
        load_err([("junk", &bad[..])], ServiceConfig::default()),
        LoadError::InvalidWasm { .. }
    ));
}

#[test]
fn a_module_without_interface_types_is_rejected() {
    let bare = empty_module_with_sdk_version();
    let e = load_err([("bare", &bare[..])], ServiceConfig::default());
    assert!(
        matches!(&e, LoadError::NoItSection { module } if module == "bare"),
        "{e:?}"
    );

    let tiny = tiny_module(Tiny {
        it: None,
        ..Tiny::default()
    });
    let e = load_err([("tiny", &tiny[..])], ServiceConfig::default());
    assert!(
        matches!(&e, LoadError::NoItSection { module } if module == "tiny"),
        "{e:?}"
    );

    // A real module with its IT section stripped.
    let stripped = replace_custom_section(GREETING, "interface-types", None);
    assert!(stripped.len() < GREETING.len());
    let e = load_err([("greeting", &stripped[..])], ServiceConfig::default());
    assert!(
        matches!(&e, LoadError::NoItSection { module } if module == "greeting"),
        "{e:?}"
    );
}

#[test]
fn two_interface_types_sections_are_rejected() {
    let it = custom_payload(GREETING, "interface-types").expect("greeting has an IT section");
    let twice = append_custom_section(GREETING, "interface-types", &it);
    let e = load_err([("greeting", &twice[..])], ServiceConfig::default());
    assert!(
        matches!(&e, LoadError::MultipleItSections { module, count: 2 } if module == "greeting"),
        "{e:?}"
    );

    let thrice = append_custom_section(&twice, "interface-types", b"\x09garbage");
    let e = load_err([("greeting", &thrice[..])], ServiceConfig::default());
    assert!(
        matches!(&e, LoadError::MultipleItSections { module, count: 3 } if module == "greeting"),
        "{e:?}"
    );
}

#[test]
fn a_malformed_interface_types_section_is_rejected() {
    // An unknown section kind at the very start.
    let garbage = replace_custom_section(GREETING, "interface-types", Some(&[0x09, 1, 2, 3]));
    let e = load_err([("greeting", &garbage[..])], ServiceConfig::default());
    match &e {
        LoadError::MalformedIt {
            module,
            offset,
            reason,
        } => {
            assert_eq!(module, "greeting");
            assert_eq!(*offset, 0);
            assert!(reason.contains("unknown section kind"), "{reason}");
        }
        other => panic!("expected MalformedIt, got {other:?}"),
    }

    // The real section cut short.
    let it = custom_payload(GREETING, "interface-types").unwrap();
    for cut in [1, it.len() / 3, it.len() / 2, it.len() - 1] {
        let truncated = replace_custom_section(GREETING, "interface-types", Some(&it[..cut]));
        let e = load_err([("greeting", &truncated[..])], ServiceConfig::default());
        assert!(
            matches!(&e, LoadError::MalformedIt { module, offset, .. } if module == "greeting" && *offset <= cut),
            "cut at {cut}: {e:?}"
        );
    }

    // A garbage section added to a module that had none: a type list claiming more entries than bytes.
    let tiny = tiny_module(Tiny {
        it: Some(vec![0x00, 0x7f, 0x00]),
        ..Tiny::default()
    });
    let e = load_err([("tiny", &tiny[..])], ServiceConfig::default());
    assert!(
        matches!(&e, LoadError::MalformedIt { module, .. } if module == "tiny"),
        "{e:?}"
    );
    // An unknown type code.
    let tiny = tiny_module(Tiny {
        it: Some(vec![0x00, 0x01, 0x00, 0x01, 0x01, b'a', 0x77, 0x00]),
        ..Tiny::default()
    });
    let e = load_err([("tiny", &tiny[..])], ServiceConfig::default());
    assert!(
        // The offset points at the bad byte (6) or just past it.
        matches!(&e, LoadError::MalformedIt { module, offset: 6..=7, reason } if module == "tiny" && reason.contains("unknown type code")),
        "{e:?}"
    );
}

#[test]
fn incompatible_sdk_or_it_versions_are_rejected() {
    let incompatible = |wasm: &[u8], name: &str| {
        let e = load_err([(name, wasm)], ServiceConfig::default());
        match e {
            LoadError::Incompatible { module, reason } => {
                assert_eq!(module, name);
                reason
            }
            other => panic!("expected Incompatible, got {other:?}"),
        }
    };

    let no_sdk = replace_custom_section(GREETING, "__fluence_sdk_version", None);
    let reason = incompatible(&no_sdk, "greeting");
    assert!(reason.contains("__fluence_sdk_version"), "{reason}");
    let no_sdk = tiny_module(Tiny {
        sdk_version: None,
        ..Tiny::default()
    });
    incompatible(&no_sdk, "tiny");

    // A pre-release of 0.6.0 sorts before it (semver, as Marine compares).
    for old in ["0.5.0", "0.5.99", "0.6.0-rc.1", "garbage", ""] {
        let wasm = replace_custom_section(GREETING, "__fluence_sdk_version", Some(old.as_bytes()));
        let reason = incompatible(&wasm, "greeting");
        assert!(reason.contains("0.6.0"), "{reason}");
    }
    let two = append_custom_section(GREETING, "__fluence_sdk_version", b"0.14.0");
    incompatible(&two, "greeting");

    // Accepted SDK versions (as old as 0.6.0).
    for ok in ["0.6.0", "0.14.0", "1.2.3-beta"] {
        let wasm = tiny_module(Tiny {
            sdk_version: Some(ok),
            ..Tiny::default()
        });
        load_default("tiny", &wasm);
    }

    let old_it = tiny_module(Tiny {
        it: Some(tiny_it_section("0.19.9")),
        ..Tiny::default()
    });
    let reason = incompatible(&old_it, "tiny");
    assert!(reason.contains("0.19.9"), "{reason}");
    let mut no_version = tiny_it_section("0.28.0");
    no_version.drain(..8); // kind 5, length 6, "0.28.0"
    let no_version = tiny_module(Tiny {
        it: Some(no_version),
        ..Tiny::default()
    });
    incompatible(&no_version, "tiny");

    let no_memory = tiny_module(Tiny {
        export_memory: false,
        ..Tiny::default()
    });
    let reason = incompatible(&no_memory, "tiny");
    assert!(reason.contains("memory"), "{reason}");
}

#[test]
fn too_large_modules_are_rejected() {
    let limits = Limits {
        max_module_bytes: 1000,
        ..Limits::default()
    };
    let e = load_err(
        [("greeting", GREETING)],
        ServiceConfig::default().limits(limits),
    );
    match e {
        LoadError::ModuleTooLarge {
            module,
            size,
            limit,
        } => {
            assert_eq!(module, "greeting");
            assert_eq!(size, GREETING.len());
            assert_eq!(limit, 1000);
        }
        other => panic!("expected ModuleTooLarge, got {other:?}"),
    }
    // Exactly at the limit is fine.
    let limits = Limits {
        max_module_bytes: GREETING.len(),
        ..Limits::default()
    };
    let mut s = load(
        "greeting",
        GREETING,
        ServiceConfig::default().limits(limits),
    );
    assert_eq!(
        call(&mut s, "greet", json!(["x"]))["message"],
        json!("Hi, x")
    );
    // The limit applies to every module of a service.
    let limits = Limits {
        max_module_bytes: CALLEE.len() - 1,
        ..Limits::default()
    };
    let e = load_err(
        [("callee", CALLEE), ("facade", FACADE)],
        ServiceConfig::default().limits(limits),
    );
    assert!(
        matches!(&e, LoadError::ModuleTooLarge { module, .. } if module == "callee"),
        "{e:?}"
    );
}

#[test]
fn facade_without_callee_has_unresolved_imports() {
    let callee_fns = ["make_pairs", "upper", "sum_lens", "fail"];
    let check = |e: LoadError| match e {
        LoadError::UnresolvedImport {
            module,
            namespace,
            name,
            ..
        } => {
            assert_eq!(module, "facade");
            assert_eq!(namespace, "callee");
            assert!(callee_fns.contains(&name.as_str()), "{name}");
        }
        other => panic!("expected UnresolvedImport, got {other:?}"),
    };
    check(load_err([("facade", FACADE)], ServiceConfig::default()));
    // Dependencies must come first.
    check(load_err(
        [("facade", FACADE), ("callee", CALLEE)],
        ServiceConfig::default(),
    ));
    // A dependency under another name does not count.
    check(load_err(
        [("other", CALLEE), ("facade", FACADE)],
        ServiceConfig::default(),
    ));
    // A module of the right name that lacks the functions.
    let e = load_err(
        [("callee", GREETING), ("facade", FACADE)],
        ServiceConfig::default(),
    );
    assert!(
        matches!(&e, LoadError::UnresolvedImport { module, namespace, .. } if module == "facade" && namespace == "callee"),
        "{e:?}"
    );
}

#[test]
fn module_names_are_checked() {
    let e = load_err(
        [("callee", CALLEE), ("callee", CALLEE)],
        ServiceConfig::default(),
    );
    assert!(
        matches!(&e, LoadError::DuplicateModule(n) if n == "callee"),
        "{e:?}"
    );
    let e = load_err(
        [("callee", CALLEE), ("x", GREETING), ("callee", FACADE)],
        ServiceConfig::default(),
    );
    assert!(
        matches!(&e, LoadError::DuplicateModule(n) if n == "callee"),
        "{e:?}"
    );

    let long = "a".repeat(65);
    for bad in ["", "has space", "a.b", "ü", "a/b", long.as_str()] {
        let e = load_err([(bad, GREETING)], ServiceConfig::default());
        assert!(
            matches!(&e, LoadError::InvalidModuleName(n) if n == bad),
            "{bad:?}: {e:?}"
        );
    }
    let ok = "A-z_09".to_string() + &"x".repeat(58);
    assert_eq!(ok.len(), 64);
    let mut s = load_default(&ok, GREETING);
    assert_eq!(call(&mut s, "args", Value::Null), json!([ok]));
}

#[test]
fn no_modules_is_an_error() {
    let e = load_err(
        std::iter::empty::<(&str, &[u8])>(),
        ServiceConfig::default(),
    );
    assert!(matches!(e, LoadError::NoModules), "{e:?}");
}

#[test]
fn mapped_dirs_are_unsupported() {
    let mut m = ModuleConfig::new("greeting");
    m.mapped_dirs.insert("/data".into(), "/tmp".into());
    let e = load_err([("greeting", GREETING)], ServiceConfig::default().module(m));
    assert!(
        matches!(&e, LoadError::Unsupported { module, .. } if module == "greeting"),
        "{e:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// Calling

fn types() -> Service {
    load_default("types", TYPES)
}

/// The service still answers a good call.
fn still_works(s: &mut Service) {
    assert_eq!(call(s, "echo_u8", json!([7])), json!(7));
    assert_eq!(
        call(s, "make_outer", json!(["ab", 1, ["k"]]))["inner"]["payload"],
        json!([98, 97])
    );
}

#[test]
fn unknown_functions() {
    let mut s = types();
    let e = call_err(&mut s, "nope", json!([]));
    match &e {
        CallError::NoSuchFunction {
            function,
            available,
        } => {
            assert_eq!(function, "nope");
            for f in ["echo_u8", "make_outer", "unit", "count_args"] {
                assert!(available.split(", ").any(|a| a == f), "{available}");
            }
        }
        other => panic!("expected NoSuchFunction, got {other:?}"),
    }
    assert_eq!(e.code(), "NO_SUCH_FUNCTION");
    // Names are exact; SDK exports are no service functions.
    for f in ["", "Echo_u8", "echo_u8 ", "allocate", "_start", "memory"] {
        assert!(
            matches!(call_err(&mut s, f, json!([])), CallError::NoSuchFunction { function, .. } if function == f),
            "{f:?}"
        );
    }
    let e = s.call("missing", vec![]).unwrap_err();
    assert!(
        matches!(&e, CallError::NoSuchFunction { function, .. } if function == "missing"),
        "{e:?}"
    );

    let mut spin = load_default("spin", SPIN);
    assert_eq!(
        call_err(&mut spin, "spin_", Value::Null),
        CallError::NoSuchFunction {
            function: "spin_".into(),
            available: "ping, spin, work".into()
        }
    );
    still_works(&mut s);
}

#[test]
fn wrong_argument_counts() {
    let mut s = types();
    let count = |function: &str, expected: usize, got: usize| CallError::ArgumentCount {
        function: function.into(),
        expected,
        got,
    };
    assert_eq!(
        call_err(&mut s, "echo_u8", json!([])),
        count("echo_u8", 1, 0)
    );
    assert_eq!(
        call_err(&mut s, "echo_u8", json!([1, 2])),
        count("echo_u8", 1, 2)
    );
    assert_eq!(
        call_err(&mut s, "echo_u8", Value::Null),
        count("echo_u8", 1, 0)
    );
    assert_eq!(call_err(&mut s, "unit", json!([1])), count("unit", 0, 1));
    assert_eq!(call_err(&mut s, "unit", json!(5)), count("unit", 0, 1));
    assert_eq!(
        call_err(&mut s, "make_outer", json!("abc")),
        count("make_outer", 3, 1)
    );
    assert_eq!(
        call_err(&mut s, "make_outer", json!(["abc", 7])),
        count("make_outer", 3, 2)
    );
    assert_eq!(
        call_err(
            &mut s,
            "count_args",
            json!([1, -2, 3, -4, 1.5, "x", [1, 2], true, 9])
        ),
        count("count_args", 8, 9)
    );
    assert_eq!(
        call_err(&mut s, "echo_u8", json!([])).code(),
        "ARGUMENT_COUNT"
    );
    // Typed.
    assert_eq!(
        s.call("echo_u8", vec![]).unwrap_err(),
        count("echo_u8", 1, 0)
    );
    assert_eq!(
        s.call("unit", vec![IValue::U8(1)]).unwrap_err(),
        count("unit", 0, 1)
    );
    assert_eq!(
        s.call(
            "make_outer",
            vec![IValue::String("a".into()), IValue::U32(1)]
        )
        .unwrap_err(),
        count("make_outer", 3, 2)
    );
    still_works(&mut s);
}

/// The argument-type error's (function, path, expected).
fn arg_type(e: CallError) -> (String, String, String, String) {
    match e {
        CallError::ArgumentType {
            function,
            path,
            expected,
            got,
        } => (function, path, expected, got),
        other => panic!("expected ArgumentType, got {other:?}"),
    }
}

fn assert_arg_type(s: &mut Service, function: &str, args: Value, path: &str, expected: &str) {
    let e = call_err(s, function, args.clone());
    assert_eq!(e.code(), "ARGUMENT_TYPE");
    let (f, p, x, _) = arg_type(e);
    assert_eq!(
        (f.as_str(), p.as_str(), x.as_str()),
        (function, path, expected),
        "{function}({args})"
    );
    still_works(s);
}

#[test]
fn wrong_scalar_types_in_json() {
    let mut s = types();
    let e = call_err(&mut s, "echo_u8", json!(["1"]));
    assert_eq!(
        e,
        CallError::ArgumentType {
            function: "echo_u8".into(),
            path: "v".into(),
            expected: "u8".into(),
            got: "a string".into()
        }
    );
    assert_eq!(
        call_err(&mut s, "echo_u8", json!([256])),
        CallError::ArgumentType {
            function: "echo_u8".into(),
            path: "v".into(),
            expected: "u8".into(),
            got: "number 256".into()
        }
    );
    still_works(&mut s);
    assert_arg_type(&mut s, "echo_u8", json!([-1]), "v", "u8");
    assert_arg_type(&mut s, "echo_u8", json!([1.0]), "v", "u8");
    assert_arg_type(&mut s, "echo_u32", json!([-1]), "v", "u32");
    assert_arg_type(&mut s, "echo_u32", json!([4_294_967_296u64]), "v", "u32");
    assert_arg_type(&mut s, "echo_u64", json!([-1]), "v", "u64");
    assert_arg_type(
        &mut s,
        "echo_u64",
        json!([1.8446744073709552e19]),
        "v",
        "u64",
    );
    assert_arg_type(&mut s, "echo_s8", json!([-129]), "v", "i8");
    assert_arg_type(&mut s, "echo_s8", json!([128]), "v", "i8");
    assert_arg_type(&mut s, "echo_s16", json!([32768]), "v", "i16");
    assert_arg_type(&mut s, "echo_s32", json!([1.5]), "v", "i32");
    assert_arg_type(&mut s, "echo_s32", json!([2_147_483_648u64]), "v", "i32");
    assert_arg_type(&mut s, "echo_s64", json!([u64::MAX]), "v", "i64");
    assert_arg_type(&mut s, "echo_s64", json!(["5"]), "v", "i64");
    assert_arg_type(&mut s, "echo_f64", json!(["1.5"]), "v", "f64");
    assert_arg_type(&mut s, "echo_f32", json!([true]), "v", "f32");
    assert_arg_type(&mut s, "echo_bool", json!([1]), "v", "bool");
    assert_arg_type(&mut s, "echo_bool", json!(["true"]), "v", "bool");
    assert_arg_type(&mut s, "echo_string", json!([null]), "v", "string");
    assert_arg_type(&mut s, "echo_string", json!([["a"]]), "v", "string");
    assert_arg_type(&mut s, "echo_bytes", json!(["abc"]), "v", "[]u8");
    // By name, and for a later argument.
    assert_arg_type(
        &mut s,
        "make_outer",
        json!({"name": "a", "id": -7, "keys": []}),
        "id",
        "u32",
    );
    assert_arg_type(
        &mut s,
        "count_args",
        json!([1, -2, 3, -4, 1.5, "x", [1, 2], "yes"]),
        "h",
        "bool",
    );
}

#[test]
fn wrong_nested_types_in_json_name_the_path() {
    let mut s = types();
    assert_arg_type(&mut s, "echo_bytes", json!([[1, 256]]), "v[1]", "u8");
    assert_arg_type(&mut s, "echo_bytes", json!([[0, -1]]), "v[1]", "u8");
    assert_arg_type(&mut s, "echo_s32_array", json!([[1, "x"]]), "v[1]", "i32");
    assert_arg_type(&mut s, "echo_u64_array", json!([[1, 2, -3]]), "v[2]", "u64");
    assert_arg_type(
        &mut s,
        "echo_bool_array",
        json!([[true, null]]),
        "v[1]",
        "bool",
    );
    assert_arg_type(
        &mut s,
        "echo_string_matrix",
        json!([[["a"], ["b", 3]]]),
        "v[1][1]",
        "string",
    );
    assert_arg_type(
        &mut s,
        "echo_s16_cube",
        json!([[[[1, 40000]]]]),
        "v[0][0][1]",
        "i16",
    );
    assert_arg_type(
        &mut s,
        "echo_bytes_array",
        json!([[[1], [2, 300]]]),
        "v[1][1]",
        "u8",
    );
    assert_arg_type(
        &mut s,
        "echo_leaves",
        json!([[{"key": "a", "value": 1}, {"key": 2, "value": 1}]]),
        "v[1].key",
        "string",
    );
    assert_arg_type(
        &mut s,
        "echo_leaves",
        json!([[{"key": "a", "value": 1.5}]]),
        "v[0].value",
        "i64",
    );
    // A missing record field.
    let e = call_err(&mut s, "echo_leaves", json!([[{"key": "a"}]]));
    assert_eq!(
        e,
        CallError::ArgumentType {
            function: "echo_leaves".into(),
            path: "v[0].value".into(),
            expected: "i64".into(),
            got: "nothing".into()
        }
    );
    still_works(&mut s);
    // Not a record at all.
    assert_arg_type(&mut s, "echo_leaves", json!([["a", 1, 2]]), "v[0]", "Leaf");
    assert_arg_type(&mut s, "echo_leaves", json!([[5]]), "v[0]", "Leaf");
    // Three levels down.
    let mut outer = json!({
        "name": "abc",
        "inner": {"id": 7, "leaves": [{"key": "x", "value": 0}, {"key": "y", "value": "ten"}], "payload": [1]},
        "tags": [],
        "flag": false,
    });
    assert_arg_type(
        &mut s,
        "echo_outer",
        json!([outer.clone()]),
        "v.inner.leaves[1].value",
        "i64",
    );
    assert_arg_type(
        &mut s,
        "sum_leaves",
        json!([outer.clone()]),
        "v.inner.leaves[1].value",
        "i64",
    );
    outer["inner"]["leaves"][1]["value"] = json!(10);
    outer["inner"]["payload"] = json!([1, 2, 999]);
    assert_arg_type(
        &mut s,
        "echo_outer",
        json!([outer.clone()]),
        "v.inner.payload[2]",
        "u8",
    );
    outer["inner"]["payload"] = json!([]);
    outer["inner"].as_object_mut().unwrap().remove("id");
    assert_arg_type(
        &mut s,
        "echo_outer",
        json!([outer.clone()]),
        "v.inner.id",
        "u32",
    );
    outer["inner"]["id"] = json!(1);
    assert_eq!(call(&mut s, "sum_leaves", json!([outer])), json!(10));
    // A missing field of the big record.
    let mut all = call(
        &mut s,
        "make_all",
        json!([true, 1, 2, 3, 4, 5, 6, 7, 8, 1.5, 2.5, "s", [1]]),
    );
    all.as_object_mut().unwrap().remove("f_u64");
    assert_arg_type(&mut s, "echo_all", json!([all.clone()]), "v.f_u64", "u64");
    assert_arg_type(
        &mut s,
        "echo_all_array",
        json!([[all]]),
        "v[0].f_u64",
        "u64",
    );
}

#[test]
fn missing_and_extra_named_arguments() {
    let mut s = types();
    let e = call_err(&mut s, "make_outer", json!({"name": "a", "id": 1}));
    assert_eq!(
        e,
        CallError::ArgumentType {
            function: "make_outer".into(),
            path: "keys".into(),
            expected: "[]string".into(),
            got: "nothing".into()
        }
    );
    still_works(&mut s);
    let (f, path, _, _) = arg_type(call_err(
        &mut s,
        "make_outer",
        json!({"name": "a", "id": 1, "keys": [], "extra": 1}),
    ));
    assert_eq!((f.as_str(), path.as_str()), ("make_outer", "extra"));
    still_works(&mut s);
    let (_, path, _, _) = arg_type(call_err(&mut s, "echo_u8", json!({"w": 1})));
    assert_eq!(path, "w");
    let (_, path, _, _) = arg_type(call_err(&mut s, "echo_u8", json!({"v": 1, "w": 1})));
    assert_eq!(path, "w");
    let (_, path, _, _) = arg_type(call_err(&mut s, "unit", json!({"x": null})));
    assert_eq!(path, "x");
    assert_eq!(call(&mut s, "unit", json!({})), Value::Null);
    still_works(&mut s);
}

#[test]
fn extra_record_fields_are_rejected() {
    // Like Marine's `call_with_json` (a record object is converted like an argument object: keys
    // that are no field are an error), the path names the unknown key.
    let mut s = types();
    let e = call_err(
        &mut s,
        "echo_leaves",
        json!([[{"key": "a", "value": 1}, {"key": "b", "value": 2, "bogus": 0}]]),
    );
    let (f, path, _, _) = arg_type(e);
    assert_eq!((f.as_str(), path.as_str()), ("echo_leaves", "v[1].bogus"));
    still_works(&mut s);
    let mut outer = call(&mut s, "make_outer", json!(["abc", 7, ["x"]]));
    outer["inner"]["extra"] = json!(true);
    let (_, path, _, _) = arg_type(call_err(&mut s, "echo_outer", json!([outer])));
    assert_eq!(path, "v.inner.extra");
    still_works(&mut s);
}

#[test]
fn wrong_typed_values() {
    let mut s = types();
    assert_eq!(
        s.call("echo_u8", vec![IValue::S32(1)]).unwrap_err(),
        CallError::ArgumentType {
            function: "echo_u8".into(),
            path: "v".into(),
            expected: "u8".into(),
            got: "s32".into()
        }
    );
    still_works(&mut s);
    let bad: Vec<(&str, Vec<IValue>, &str)> = vec![
        ("echo_u32", vec![IValue::S32(-1)], "v"),
        ("echo_u32", vec![IValue::I32(1)], "v"),
        ("echo_s64", vec![IValue::U64(1)], "v"),
        ("echo_f32", vec![IValue::F64(1.0)], "v"),
        ("echo_string", vec![IValue::ByteArray(b"x".to_vec())], "v"),
        ("echo_bytes", vec![IValue::String("x".into())], "v"),
        (
            "echo_bytes",
            vec![IValue::Array(vec![IValue::U8(1), IValue::S8(1)])],
            "v",
        ),
        (
            "echo_s32_array",
            vec![IValue::Array(vec![IValue::S32(1), IValue::U32(2)])],
            "v",
        ),
        (
            "echo_leaves",
            vec![IValue::Array(vec![IValue::Record(vec![
                IValue::String("a".into()),
                IValue::S32(1),
            ])])],
            "v",
        ),
        (
            "echo_leaves",
            vec![IValue::Array(vec![IValue::Record(vec![IValue::String(
                "a".into(),
            )])])],
            "v",
        ),
        (
            "echo_leaves",
            vec![IValue::Record(vec![
                IValue::String("a".into()),
                IValue::S64(1),
            ])],
            "v",
        ),
        (
            "echo_all",
            vec![IValue::Record(vec![IValue::Boolean(true)])],
            "v",
        ),
        (
            "make_outer",
            vec![
                IValue::String("a".into()),
                IValue::U32(1),
                IValue::Array(vec![IValue::Boolean(true)]),
            ],
            "keys",
        ),
        (
            "count_args",
            vec![
                IValue::U8(1),
                IValue::S16(-2),
                IValue::U32(3),
                IValue::S64(-4),
                IValue::F32(1.5),
                IValue::String("x".into()),
                IValue::ByteArray(vec![]),
                IValue::U8(1),
            ],
            "h",
        ),
    ];
    for (function, args, path) in bad {
        let e = s.call(function, args.clone()).unwrap_err();
        assert!(
            matches!(&e, CallError::ArgumentType { function: f, path: p, .. } if f == function && p == path),
            "{function}({args:?}): {e:?}"
        );
        still_works(&mut s);
    }
}

#[test]
fn results_without_a_json_form_are_a_result_error() {
    let mut s = types();
    // f_f32_array = [f32, f64 as f32]: 1e300 as f32 is +inf, which JSON cannot hold.
    let args = json!([true, 1, 2, 3, 4, 5, 6, 7, 8, 1.5, 1e300, "s", [1]]);
    let e = call_err(&mut s, "make_all", args);
    assert!(
        matches!(&e, CallError::Result(msg) if msg.contains("inf")),
        "{e:?}"
    );
    assert_eq!(e.code(), "RESULT");
    // The typed API returns the value.
    let out = s
        .call(
            "make_all",
            vec![
                IValue::Boolean(true),
                IValue::S8(1),
                IValue::S16(2),
                IValue::S32(3),
                IValue::S64(4),
                IValue::U8(5),
                IValue::U16(6),
                IValue::U32(7),
                IValue::U64(8),
                IValue::F32(1.5),
                IValue::F64(1e300),
                IValue::String("s".into()),
                IValue::ByteArray(vec![1]),
            ],
        )
        .unwrap();
    match out.as_slice() {
        [IValue::Record(fields)] => {
            assert_eq!(
                fields[16],
                IValue::Array(vec![IValue::F32(1.5), IValue::F32(f32::INFINITY)])
            )
        }
        other => panic!("{other:?}"),
    }
    still_works(&mut s);
}

#[test]
fn errors_do_not_disturb_a_multi_module_service() {
    let mut s = load_facade(ServiceConfig::default());
    assert!(
        matches!(call_err(&mut s, "shout", json!([1])), CallError::ArgumentType { path, .. } if path == "s")
    );
    assert!(
        matches!(call_err(&mut s, "pairs", json!([["a"], "2"])), CallError::ArgumentType { path, .. } if path == "n")
    );
    assert!(
        matches!(call_err(&mut s, "total", json!([["a", 1]])), CallError::ArgumentType { path, .. } if path == "v[1]")
    );
    assert!(matches!(
        call_err(&mut s, "process", json!([])),
        CallError::ArgumentCount {
            expected: 1,
            got: 0,
            ..
        }
    ));
    assert!(matches!(
        call_err(&mut s, "sum_lens", json!([[]])),
        CallError::NoSuchFunction { .. }
    ));
    assert!(matches!(
        call_err(&mut s, "call_fail", json!(["x"])),
        CallError::Trap { .. }
    ));
    assert_eq!(
        call(&mut s, "process", json!([["ab", "c"]]))["total"],
        json!(3)
    );
}

// ---------------------------------------------------------------------------------------------
// The interface

#[test]
fn greeting_interface() {
    let s = load_default("greeting", GREETING);
    let iface = s.interface();
    let mut names: Vec<&str> = iface.functions.iter().map(|f| f.name.as_str()).collect();
    names.sort_unstable();
    assert_eq!(
        names,
        [
            "args",
            "call_info",
            "env_var",
            "greet",
            "log_and_echo",
            "now_ms",
            "random_u64"
        ]
    );

    let greet = iface.function("greet").unwrap();
    assert_eq!(
        greet.arguments,
        vec![NamedType {
            name: "name".into(),
            ty: IType::String
        }]
    );
    let [IType::Record(idx)] = greet.outputs.as_slice() else {
        panic!("greet returns {:?}", greet.outputs)
    };
    let record = iface.record(*idx).unwrap();
    assert_eq!(record.name, "Greeting");
    assert_eq!(
        record.fields,
        vec![
            NamedType {
                name: "message".into(),
                ty: IType::String
            },
            NamedType {
                name: "name_len".into(),
                ty: IType::U32
            },
            NamedType {
                name: "shouted".into(),
                ty: IType::Boolean
            },
        ]
    );
    assert_eq!(iface.type_name(&greet.outputs[0]), "Greeting");

    let args = iface.function("args").unwrap();
    assert!(args.arguments.is_empty());
    assert_eq!(args.outputs, vec![IType::Array(Box::new(IType::String))]);
    assert_eq!(iface.function("now_ms").unwrap().outputs, vec![IType::U64]);
    assert_eq!(
        iface.function("env_var").unwrap().arguments,
        vec![NamedType {
            name: "name".into(),
            ty: IType::String
        }]
    );
    let call_info = iface.function("call_info").unwrap();
    let [IType::Record(ci)] = call_info.outputs.as_slice() else {
        panic!()
    };
    let ci = iface.record(*ci).unwrap();
    assert_eq!(ci.name, "CallInfo");
    assert_eq!(ci.fields.len(), 14);
    assert_eq!(
        ci.fields[9],
        NamedType {
            name: "signature".into(),
            ty: IType::ByteArray
        }
    );
    assert!(iface.function("nope").is_none());

    let text = iface.to_string();
    assert!(text.contains("greet(name: string) -> Greeting\n"), "{text}");
    assert!(
        text.contains("data Greeting:\n  message: string\n  name_len: u32\n  shouted: bool\n"),
        "{text}"
    );
    assert!(text.contains("args() -> []string\n"), "{text}");
    assert!(text.contains("env_var(name: string) -> string\n"), "{text}");
    assert!(text.contains("call_info() -> CallInfo\n"), "{text}");
    assert!(text.contains("  signature: []u8\n"), "{text}");
}

#[test]
fn facade_interface() {
    let s = load_facade(ServiceConfig::default());
    let iface = s.interface();
    let mut names: Vec<&str> = iface.functions.iter().map(|f| f.name.as_str()).collect();
    names.sort_unstable();
    assert_eq!(names, ["call_fail", "pairs", "process", "shout", "total"]);

    let pairs = iface.function("pairs").unwrap();
    assert_eq!(
        pairs.arguments,
        vec![
            NamedType {
                name: "keys".into(),
                ty: IType::Array(Box::new(IType::String))
            },
            NamedType {
                name: "n".into(),
                ty: IType::S32
            },
        ]
    );
    let [IType::Array(inner)] = pairs.outputs.as_slice() else {
        panic!("{:?}", pairs.outputs)
    };
    let IType::Record(pair_idx) = **inner else {
        panic!("{inner:?}")
    };
    let pair = iface.record(pair_idx).unwrap();
    assert_eq!(pair.name, "Pair");
    assert_eq!(
        pair.fields,
        vec![
            NamedType {
                name: "key".into(),
                ty: IType::String
            },
            NamedType {
                name: "value".into(),
                ty: IType::ByteArray
            },
            NamedType {
                name: "weight".into(),
                ty: IType::F64
            },
        ]
    );
    let process = iface.function("process").unwrap();
    assert_eq!(
        process.arguments,
        vec![NamedType {
            name: "v".into(),
            ty: IType::Array(Box::new(IType::String))
        }]
    );
    let [IType::Record(report_idx)] = process.outputs.as_slice() else {
        panic!()
    };
    let report = iface.record(*report_idx).unwrap();
    assert_eq!(report.name, "Report");
    assert_eq!(
        report.fields[2],
        NamedType {
            name: "pairs".into(),
            ty: IType::Array(Box::new(IType::Record(pair_idx)))
        }
    );
    assert_eq!(iface.function("total").unwrap().outputs, vec![IType::U64]);
    assert_eq!(
        iface.function("shout").unwrap().arguments,
        vec![NamedType {
            name: "s".into(),
            ty: IType::String
        }]
    );
    // The callee's functions are not part of the service interface.
    assert!(iface.function("upper").is_none());

    let text = iface.to_string();
    for line in [
        "pairs(keys: []string, n: i32) -> []Pair\n",
        "shout(s: string) -> string\n",
        "total(v: []string) -> u64\n",
        "process(v: []string) -> Report\n",
        "call_fail(msg: string) -> string\n",
        "data Report:\n  shout: []string\n  total: u64\n  pairs: []Pair\n",
    ] {
        assert!(text.contains(line), "{line:?} missing from\n{text}");
    }
}

#[test]
fn types_interface_renders_every_type() {
    let s = types();
    let text = s.interface().to_string();
    for line in [
        "unit()\n",
        "echo_s16_cube(v: [][][]i16) -> [][][]i16\n",
        "echo_bytes_array(v: [][]u8) -> [][]u8\n",
        "echo_all_array(v: []AllTypes) -> []AllTypes\n",
        "make_outer(name: string, id: u32, keys: []string) -> Outer\n",
        "count_args(a: u8, b: i16, c: u32, d: i64, e: f32, f: string, g: []u8, h: bool) -> string\n",
        "data Inner:\n  id: u32\n  leaves: []Leaf\n  payload: []u8\n",
    ] {
        assert!(text.contains(line), "{line:?} missing from\n{text}");
    }
    let mut names: Vec<&str> = s
        .interface()
        .functions
        .iter()
        .map(|f| f.name.as_str())
        .collect();
    names.sort_unstable();
    let mut expected = vec![
        "count_args",
        "make_all",
        "make_outer",
        "max_s64",
        "negate",
        "reverse_strings",
        "sum_leaves",
        "sum_u8",
        "unit",
        "echo_s8",
        "echo_s16",
        "echo_s32",
        "echo_s64",
        "echo_u8",
        "echo_u16",
        "echo_u32",
        "echo_u64",
        "echo_f32",
        "echo_f64",
        "echo_bool",
        "echo_string",
        "echo_bytes",
        "echo_s32_array",
        "echo_u64_array",
        "echo_f64_array",
        "echo_bool_array",
        "echo_string_array",
        "echo_bytes_array",
        "echo_string_matrix",
        "echo_s16_cube",
        "echo_leaves",
        "echo_all",
        "echo_all_array",
        "echo_outer",
    ];
    expected.sort_unstable();
    assert_eq!(names, expected);
}
