//! The builtin services, with the names and result shapes aqua-lib's `builtin.aqua` declares
//! and nox answers with. The pure ones live here; `sig` is in `sig.rs`, `dist` and `srv` (which
//! need the Marine host) in `marine_host.rs`.

use std::collections::HashSet;

use libp2p_identity::PeerId;
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use crate::now_ms;
use crate::services::{CallContext, ServiceError, Services};
use crate::{marine_host, sig};

pub(crate) type R = Result<Value, ServiceError>;

pub(crate) fn call(
    s: &mut Services,
    service: &str,
    function: &str,
    args: Vec<Value>,
    ctx: &CallContext,
) -> R {
    let fail = |message: String| ServiceError::Failed {
        service: service.to_string(),
        function: function.to_string(),
        message,
    };
    let no_function = || ServiceError::NoFunction {
        service: service.into(),
        function: function.into(),
    };
    let a = Args {
        args: &args,
        fail: &fail,
    };
    // js-client peers answer `sig` under their own peer id too.
    let own_id = s.peer_id.to_base58();
    let service = if service == own_id { "sig" } else { service };
    match service {
        "peer" => match function {
            "identify" => Ok(s.identify.clone()),
            "timestamp_ms" => Ok(json!(now_ms())),
            "timestamp_sec" => Ok(json!(now_ms() / 1000)),
            "is_connected" => {
                let peer = a.peer(0)?;
                Ok(json!(peer == s.peer_id || s.connected.contains(&peer)))
            }
            _ => Err(no_function()),
        },
        "op" => bounded(&a, op(function, &a).unwrap_or_else(|| Err(no_function()))),
        "math" => math(function, &a).unwrap_or_else(|| Err(no_function())),
        "cmp" => cmp(function, &a).unwrap_or_else(|| Err(no_function())),
        "array" => bounded(
            &a,
            array(function, &a).unwrap_or_else(|| Err(no_function())),
        ),
        "json" => bounded(
            &a,
            json_service(function, &a).unwrap_or_else(|| Err(no_function())),
        ),
        "debug" => match function {
            "stringify" => Ok(Value::String(match args.as_slice() {
                [] => "\"<empty argument list>\"".to_string(),
                [one] => one.to_string(),
                many => Value::Array(many.to_vec()).to_string(),
            })),
            _ => Err(no_function()),
        },
        "sig" => sig::sig(s, function, &a, ctx).unwrap_or_else(|| Err(no_function())),
        "kad" => kad(s, function, &a).unwrap_or_else(|| Err(no_function())),
        "dist" => marine_host::dist(s, function, &a, ctx).unwrap_or_else(|| Err(no_function())),
        "srv" => marine_host::srv(s, function, &a, ctx).unwrap_or_else(|| Err(no_function())),
        _ => Err(ServiceError::NoService {
            service: service.into(),
            function: function.into(),
        }),
    }
}

/// The most a builtin may build in one call (`op.concat*`, `array.*`, `json.*`): a script
/// cannot double a value until the peer runs out of memory.
pub const MAX_BUILT_BYTES: usize = 4 * 1024 * 1024;

/// Roughly the JSON size of `v`, counting no further than `limit` (so the count itself stays
/// cheap on a huge value).
fn built_size(v: &Value, limit: usize) -> usize {
    let mut size = 0usize;
    let mut stack = vec![v];
    while let Some(v) = stack.pop() {
        size += match v {
            Value::String(s) => s.len() + 2,
            Value::Array(items) => {
                stack.extend(items);
                items.len() + 2
            }
            Value::Object(m) => {
                for (k, v) in m {
                    size += k.len() + 4;
                    stack.push(v);
                }
                2
            }
            _ => 8,
        };
        if size > limit {
            break;
        }
    }
    size
}

/// `result`, unless it is bigger than [`MAX_BUILT_BYTES`].
fn bounded(a: &Args, result: R) -> R {
    let v = result?;
    if built_size(&v, MAX_BUILT_BYTES) > MAX_BUILT_BYTES {
        return Err(a.fail(format!(
            "the result is larger than the {MAX_BUILT_BYTES} bytes a builtin may build"
        )));
    }
    Ok(v)
}

/// Fails before building a value of more than [`MAX_BUILT_BYTES`] out of `parts`.
fn within_build_limit<'v>(
    a: &Args,
    parts: impl Iterator<Item = &'v Value>,
) -> Result<(), ServiceError> {
    let mut total = 0usize;
    for p in parts {
        total = total.saturating_add(built_size(p, MAX_BUILT_BYTES));
        if total > MAX_BUILT_BYTES {
            return Err(a.fail(format!(
                "the result would be larger than the {MAX_BUILT_BYTES} bytes a builtin may build"
            )));
        }
    }
    Ok(())
}

/// Positional argument access with typed errors.
pub(crate) struct Args<'a> {
    pub(crate) args: &'a [Value],
    pub(crate) fail: &'a dyn Fn(String) -> ServiceError,
}

impl Args<'_> {
    pub(crate) fn get(&self, i: usize) -> Result<&Value, ServiceError> {
        self.args.get(i).ok_or_else(|| {
            (self.fail)(format!(
                "expected at least {} argument(s), got {}",
                i + 1,
                self.args.len()
            ))
        })
    }
    pub(crate) fn str(&self, i: usize) -> Result<&str, ServiceError> {
        let v = self.get(i)?;
        v.as_str()
            .ok_or_else(|| (self.fail)(format!("argument {i} must be a string, got {v}")))
    }
    pub(crate) fn f64(&self, i: usize) -> Result<f64, ServiceError> {
        let v = self.get(i)?;
        v.as_f64()
            .ok_or_else(|| (self.fail)(format!("argument {i} must be a number, got {v}")))
    }
    pub(crate) fn i64(&self, i: usize) -> Result<i64, ServiceError> {
        let v = self.get(i)?;
        v.as_i64()
            .ok_or_else(|| (self.fail)(format!("argument {i} must be an integer, got {v}")))
    }
    pub(crate) fn array(&self, i: usize) -> Result<&Vec<Value>, ServiceError> {
        let v = self.get(i)?;
        v.as_array()
            .ok_or_else(|| (self.fail)(format!("argument {i} must be an array, got {v}")))
    }
    pub(crate) fn bytes(&self, i: usize) -> Result<Vec<u8>, ServiceError> {
        self.array(i)?
            .iter()
            .map(|b| {
                b.as_u64()
                    .and_then(|b| u8::try_from(b).ok())
                    .ok_or_else(|| (self.fail)(format!("argument {i} must be an array of bytes")))
            })
            .collect()
    }
    pub(crate) fn peer(&self, i: usize) -> Result<PeerId, ServiceError> {
        let s = self.str(i)?;
        s.parse()
            .map_err(|e| (self.fail)(format!("invalid peer id '{s}': {e}")))
    }
    pub(crate) fn fail(&self, m: impl Into<String>) -> ServiceError {
        (self.fail)(m.into())
    }
}

fn op(function: &str, a: &Args) -> Option<R> {
    let bs58 = |b: &[u8]| bs58::encode(b).into_string();
    Some(match function {
        "noop" => Ok(Value::Null),
        "array" => Ok(Value::Array(a.args.to_vec())),
        "identity" => match a.args {
            [] => Ok(Value::Null),
            [one] => Ok(one.clone()),
            _ => Err(a.fail(format!(
                "identity accepts up to 1 arguments, received {} arguments",
                a.args.len()
            ))),
        },
        "array_length" => a.array(0).map(|v| json!(v.len())),
        "concat" => {
            if let Err(e) = within_build_limit(a, a.args.iter()) {
                return Some(Err(e));
            }
            let mut out = Vec::new();
            for (i, v) in a.args.iter().enumerate() {
                match v.as_array() {
                    Some(items) => out.extend(items.iter().cloned()),
                    None => {
                        return Some(Err(a.fail(format!(
                            "all arguments of 'concat' must be arrays: argument #{i} is not"
                        ))))
                    }
                }
            }
            Ok(Value::Array(out))
        }
        "concat_strings" => {
            if let Err(e) = within_build_limit(a, a.args.iter()) {
                return Some(Err(e));
            }
            let mut out = String::new();
            for (i, v) in a.args.iter().enumerate() {
                match v.as_str() {
                    Some(s) => out.push_str(s),
                    None => {
                        return Some(Err(a.fail(format!(
                        "all arguments of 'concat_strings' must be strings: argument #{i} is not"
                    ))))
                    }
                }
            }
            Ok(Value::String(out))
        }
        "string_to_b58" => a.str(0).map(|s| Value::String(bs58(s.as_bytes()))),
        "string_from_b58" => a.str(0).and_then(|s| {
            let b = bs58::decode(s)
                .into_vec()
                .map_err(|e| a.fail(format!("invalid base58: {e}")))?;
            String::from_utf8(b)
                .map(Value::String)
                .map_err(|e| a.fail(format!("not UTF-8: {e}")))
        }),
        "bytes_to_b58" => a.bytes(0).map(|b| Value::String(bs58(&b))),
        "bytes_from_b58" => a.str(0).and_then(|s| {
            bs58::decode(s)
                .into_vec()
                .map(|b| json!(b))
                .map_err(|e| a.fail(format!("invalid base58: {e}")))
        }),
        "sha256_string" => a.str(0).map(|s| {
            // A sha2-256 multihash, base58: what nox answers.
            let mut mh = vec![0x12, 0x20];
            mh.extend_from_slice(&Sha256::digest(s.as_bytes()));
            Value::String(bs58(&mh))
        }),
        _ => return None,
    })
}

fn math(function: &str, a: &Args) -> Option<R> {
    let ints = || -> Result<(i64, i64), ServiceError> { Ok((a.i64(0)?, a.i64(1)?)) };
    let overflow = || a.fail("overflow");
    Some(match function {
        "add" => ints().and_then(|(x, y)| x.checked_add(y).map(Value::from).ok_or_else(overflow)),
        "sub" => ints().and_then(|(x, y)| x.checked_sub(y).map(Value::from).ok_or_else(overflow)),
        "mul" => ints().and_then(|(x, y)| x.checked_mul(y).map(Value::from).ok_or_else(overflow)),
        "fmul" => (|| Ok(json!((a.f64(0)? * a.f64(1)?).floor() as i64)))(),
        "div" => ints().and_then(|(x, y)| {
            x.checked_div(y)
                .map(Value::from)
                .ok_or_else(|| a.fail("division by zero"))
        }),
        "rem" => ints().and_then(|(x, y)| {
            x.checked_rem(y)
                .map(Value::from)
                .ok_or_else(|| a.fail("division by zero"))
        }),
        "pow" => ints().and_then(|(x, y)| {
            u32::try_from(y)
                .ok()
                .and_then(|y| x.checked_pow(y))
                .map(Value::from)
                .ok_or_else(overflow)
        }),
        "log" => ints().and_then(|(x, y)| {
            if x <= 0 || y <= 1 {
                return Err(a.fail("log needs a positive number and a base above 1"));
            }
            Ok(json!(x.ilog(y)))
        }),
        _ => return None,
    })
}

fn cmp(function: &str, a: &Args) -> Option<R> {
    let pair = || -> Result<(f64, f64), ServiceError> { Ok((a.f64(0)?, a.f64(1)?)) };
    Some(match function {
        "gt" => pair().map(|(x, y)| json!(x > y)),
        "gte" => pair().map(|(x, y)| json!(x >= y)),
        "lt" => pair().map(|(x, y)| json!(x < y)),
        "lte" => pair().map(|(x, y)| json!(x <= y)),
        "cmp" => pair().map(|(x, y)| json!(x.partial_cmp(&y).map_or(0, |o| o as i8))),
        _ => return None,
    })
}

fn array(function: &str, a: &Args) -> Option<R> {
    let strings = |i: usize| -> Result<Vec<String>, ServiceError> {
        a.array(i)?
            .iter()
            .map(|v| {
                v.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| a.fail(format!("argument {i} must be an array of strings")))
            })
            .collect()
    };
    let dedup = |v: Vec<String>| {
        let mut seen = std::collections::HashSet::new();
        v.into_iter()
            .filter(|x| seen.insert(x.clone()))
            .collect::<Vec<_>>()
    };
    Some(match function {
        "length" => a.array(0).map(|v| json!(v.len())),
        "sum" => a.array(0).and_then(|v| {
            v.iter()
                .try_fold(0i64, |acc, x| x.as_i64().and_then(|x| acc.checked_add(x)))
                .map(Value::from)
                .ok_or_else(|| a.fail("sum needs integers that do not overflow"))
        }),
        "dedup" => strings(0).map(|v| json!(dedup(v))),
        // Set lookups: linear in the inputs (a list scan per element made 2¹⁵ × 2¹⁵ take 19 s).
        "intersect" => (|| {
            let (x, y) = (strings(0)?, strings(1)?);
            let y: HashSet<&String> = y.iter().collect();
            Ok(json!(dedup(
                x.iter().filter(|e| y.contains(e)).cloned().collect()
            )))
        })(),
        "diff" => (|| {
            let (x, y) = (strings(0)?, strings(1)?);
            let y: HashSet<&String> = y.iter().collect();
            Ok(json!(dedup(
                x.iter().filter(|e| !y.contains(e)).cloned().collect()
            )))
        })(),
        "sdiff" => (|| {
            let (x, y) = (strings(0)?, strings(1)?);
            let (xs, ys): (HashSet<&String>, HashSet<&String>) =
                (x.iter().collect(), y.iter().collect());
            let mut out: Vec<String> = x.iter().filter(|e| !ys.contains(e)).cloned().collect();
            out.extend(y.iter().filter(|e| !xs.contains(e)).cloned());
            Ok(json!(dedup(out)))
        })(),
        "slice" => (|| {
            let v = a.array(0)?;
            let (from, to) = (a.i64(1)?, a.i64(2)?);
            let (from, to) = (
                usize::try_from(from).unwrap_or(usize::MAX),
                usize::try_from(to).unwrap_or(usize::MAX),
            );
            v.get(from..to)
                .map(|s| Value::Array(s.to_vec()))
                .ok_or_else(|| {
                    a.fail(format!(
                        "slice {from}..{to} is out of bounds of an array of {}",
                        v.len()
                    ))
                })
        })(),
        _ => return None,
    })
}

fn json_service(function: &str, a: &Args) -> Option<R> {
    let obj = |v: &Value| -> Result<Map<String, Value>, ServiceError> {
        v.as_object()
            .cloned()
            .ok_or_else(|| a.fail(format!("expected an object, got {v}")))
    };
    let pairs_into = |mut m: Map<String, Value>, kv: &[Value]| -> Result<Value, ServiceError> {
        if kv.len() % 2 != 0 {
            return Err(a.fail("expected key/value pairs"));
        }
        for p in kv.chunks(2) {
            let k = p[0]
                .as_str()
                .ok_or_else(|| a.fail("keys must be strings"))?;
            m.insert(k.to_string(), p[1].clone());
        }
        Ok(Value::Object(m))
    };
    Some(match function {
        "obj" => pairs_into(Map::new(), a.args),
        "put" | "puts" => a
            .get(0)
            .and_then(obj)
            .and_then(|m| pairs_into(m, &a.args[1..])),
        "stringify" => a.get(0).map(|v| Value::String(v.to_string())),
        "parse" => a.str(0).and_then(|s| {
            serde_json::from_str(s).map_err(|e| a.fail(format!("invalid JSON: {e}")))
        }),
        _ => return None,
    })
}

/// Kademlia's XOR metric: sha256 of each side's bytes (what libp2p's `kbucket::Key` hashes).
fn kad_distance(target: &[u8], peer: &PeerId) -> [u8; 32] {
    let t = Sha256::digest(target);
    let p = Sha256::digest(peer.to_bytes());
    let mut d = [0u8; 32];
    for (i, b) in d.iter_mut().enumerate() {
        *b = t[i] ^ p[i];
    }
    d
}

/// Aqua's optional argument: `[]` or `[value]`.
fn optional<'v>(a: &'v Args, i: usize) -> Option<&'v Value> {
    a.args.get(i).and_then(|v| match v {
        Value::Array(items) => items.first(),
        Value::Null => None,
        other => Some(other),
    })
}

fn kad(s: &Services, function: &str, a: &Args) -> Option<R> {
    const K: u64 = 20;
    let closest = |target: &[u8], peers: Vec<PeerId>, count: u64| -> Value {
        let mut peers = peers;
        peers.sort_by_key(|p| kad_distance(target, p));
        peers.dedup();
        json!(peers
            .into_iter()
            .take(count as usize)
            .map(|p| p.to_base58())
            .collect::<Vec<_>>())
    };
    Some(match function {
        "neighborhood" => (|| {
            let key = a.str(0)?;
            let bytes = bs58::decode(key)
                .into_vec()
                .map_err(|e| a.fail(format!("Invalid multihash: {e}")))?;
            let already_hashed = optional(a, 1).and_then(Value::as_bool).unwrap_or(false);
            let count = optional(a, 2).and_then(Value::as_u64).unwrap_or(K);
            let target = if already_hashed {
                bytes
            } else {
                let mut mh = vec![0x12, 0x20];
                mh.extend_from_slice(&Sha256::digest(&bytes));
                mh
            };
            Ok(closest(
                &target,
                s.kad_peers.iter().copied().collect(),
                count,
            ))
        })(),
        "merge" => (|| {
            let target = bs58::decode(a.str(0)?)
                .into_vec()
                .map_err(|e| a.fail(format!("Invalid target: {e}")))?;
            let mut peers = Vec::new();
            for i in [1, 2] {
                for v in a.array(i)? {
                    let id = v
                        .as_str()
                        .and_then(|p| p.parse::<PeerId>().ok())
                        .ok_or_else(|| a.fail(format!("invalid peer id {v}")))?;
                    peers.push(id);
                }
            }
            let count = optional(a, 3).and_then(Value::as_u64).unwrap_or(K);
            Ok(closest(&target, peers, count))
        })(),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::services::Called;

    fn call(s: &mut Services, service: &str, function: &str, args: Vec<Value>) -> R {
        let ctx = CallContext {
            particle_id: "p".into(),
            init_peer_id: s.peer_id,
            timestamp: 0,
            ttl: 10_000,
            signature: vec![],
            host_id: s.peer_id,
            tetraplets: vec![],
        };
        match s.call(service, function, args, &ctx)? {
            Called::Value(v) => Ok(v),
            Called::Later(_) => panic!("builtins answer at once"),
        }
    }

    fn services() -> Services {
        Services::new(libp2p_identity::Keypair::generate_ed25519(), json!({}))
    }

    #[test]
    fn set_builtins_are_linear_in_their_inputs() {
        let mut s = services();
        let xs: Vec<Value> = (0..1 << 15).map(|i| json!(format!("x{i}"))).collect();
        let ys: Vec<Value> = (0..1 << 15).map(|i| json!(format!("x{}", i + 1))).collect();
        let started = std::time::Instant::now();
        let diff = call(&mut s, "array", "diff", vec![json!(xs), json!(ys)]).expect("diff");
        assert_eq!(diff, json!(["x0"]));
        let sdiff = call(&mut s, "array", "sdiff", vec![json!(xs), json!(ys)]).expect("sdiff");
        assert_eq!(sdiff, json!(["x0", "x32768"]));
        let both = call(
            &mut s,
            "array",
            "intersect",
            vec![json!(["a", "b", "a"]), json!(["a"])],
        );
        assert_eq!(both.expect("intersect"), json!(["a"]));
        // A list scan per element took 19 s here; sets take milliseconds (debug: well under 5 s).
        assert!(
            started.elapsed() < std::time::Duration::from_secs(5),
            "{:?}",
            started.elapsed()
        );
    }

    #[test]
    fn builtins_refuse_to_build_values_past_the_limit() {
        let mut s = services();
        // Doubling an array, as a script can in a loop: stops at the limit with a clear error.
        let mut v = json!(vec!["0123456789abcdef"; 1024]);
        let mut doublings = 0;
        let err = loop {
            match call(&mut s, "op", "concat", vec![v.clone(), v.clone()]) {
                Ok(next) => {
                    v = next;
                    doublings += 1;
                    assert!(doublings < 24, "never stopped");
                }
                Err(e) => break e,
            }
        };
        assert!(
            err.to_string().contains("bytes a builtin may build"),
            "{err}"
        );
        assert!(built_size(&v, usize::MAX) <= MAX_BUILT_BYTES);
        let big = json!("x".repeat(MAX_BUILT_BYTES / 2 + 1));
        let err = call(
            &mut s,
            "op",
            "concat_strings",
            vec![big.clone(), big.clone()],
        )
        .expect_err("too big");
        assert!(
            err.to_string().contains("bytes a builtin may build"),
            "{err}"
        );
        let err = call(&mut s, "op", "array", vec![big.clone(), big]).expect_err("too big");
        assert!(
            err.to_string().contains("bytes a builtin may build"),
            "{err}"
        );
        // Small values are untouched.
        assert_eq!(
            call(&mut s, "op", "concat_strings", vec![json!("a"), json!("b")]).expect("ab"),
            json!("ab")
        );
    }
}
