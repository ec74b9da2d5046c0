//! One AquaVM step: script + previous data + received data + call results → new data, peers to
//! forward to, and service calls to make.

use std::collections::HashMap;

use air_interpreter_interface::{
    CallRequestsRepr, CallResultsRepr, CallServiceResult, RunParameters, TetrapletsRepr,
};
use air_interpreter_sede::{FromSerialized, ToSerialized};
use serde_json::Value;

/// nox's limits (`run_args_memory_limits.rs`): AIR 16 MiB, particle 64 MiB, call result 32 MiB.
const AIR_SIZE_LIMIT: u64 = 16 * 1024 * 1024;
const PARTICLE_SIZE_LIMIT: u64 = 64 * 1024 * 1024;
const CALL_RESULT_SIZE_LIMIT: u64 = 32 * 1024 * 1024;

/// Who runs the script, for which particle.
#[derive(Debug, Clone)]
pub struct AvmParams {
    pub init_peer_id: String,
    pub current_peer_id: String,
    /// Particle timestamp, ms since the Unix epoch.
    pub timestamp: u64,
    /// Particle TTL, ms.
    pub ttl: u32,
    pub particle_id: String,
    /// The current peer's Ed25519 seed: AquaVM signs the data it produces with it.
    pub secret_key: [u8; 32],
}

/// Where an argument value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tetraplet {
    pub peer_pk: String,
    pub service_id: String,
    pub function_name: String,
    pub lens: String,
}

/// A service call the script asks the current peer to make.
#[derive(Debug, Clone, PartialEq)]
pub struct CallRequest {
    /// Feed the result back under this id.
    pub id: u32,
    pub service_id: String,
    pub function_name: String,
    pub arguments: Vec<Value>,
    pub tetraplets: Vec<Vec<Tetraplet>>,
}

/// The result of a [`CallRequest`]: `Ok` values and `Err` values (the Aqua `catch` sees these).
#[derive(Debug, Clone, PartialEq)]
pub enum CallResult {
    Ok(Value),
    Err(Value),
}

/// What one AquaVM step produced.
#[derive(Debug, Clone, PartialEq)]
pub struct AvmOutcome {
    /// New particle data: keep it as the next `prev_data` and send it on.
    pub data: Vec<u8>,
    pub next_peer_pks: Vec<String>,
    pub call_requests: Vec<CallRequest>,
}

#[derive(Debug, thiserror::Error, Clone, PartialEq)]
pub enum AvmError {
    /// AquaVM rejected the script or data; `data` is what it returned nonetheless.
    #[error("AquaVM failed with code {code}: {message}")]
    Interpreter {
        code: i64,
        message: String,
        data: Vec<u8>,
    },
    #[error("could not encode call results: {0}")]
    CallResults(String),
    #[error("could not decode AquaVM call requests: {0}")]
    CallRequests(String),
    /// The script nests instructions deeper than a run may (AquaVM recurses per level).
    #[error("the script nests instructions {depth} deep; at most {max} levels are run")]
    TooDeep { depth: usize, max: usize },
}

/// How deep a script may nest instructions (`(seq (seq …))`): AquaVM's parser and interpreter
/// recurse per level. Compiled Aqua stays far below (tens of levels).
pub const MAX_AIR_DEPTH: usize = 500;

/// The deepest parenthesis nesting of `air`, outside string literals.
///
/// ```
/// assert_eq!(lineage_peer::air_depth(r#"(seq (null) (call "a" ("s" "f") [")(("]))"#), 3);
/// ```
pub fn air_depth(air: &str) -> usize {
    let (mut depth, mut max, mut in_string, mut escaped) = (0usize, 0usize, false, false);
    for c in air.chars() {
        if in_string {
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match c {
            '"' => in_string = true,
            '(' | '[' => {
                depth += 1;
                max = max.max(depth);
            }
            ')' | ']' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    max
}

/// Runs one AquaVM step.
///
/// ```
/// use lineage_peer::{run_air, AvmParams};
/// let params = AvmParams {
///     init_peer_id: "12D3KooWANqfCDrV79MZdMnMqTvDdqSAPSxdgFY1L6DCq2DVGB4D".into(),
///     current_peer_id: "12D3KooWANqfCDrV79MZdMnMqTvDdqSAPSxdgFY1L6DCq2DVGB4D".into(),
///     timestamp: 1_696_934_545_662, ttl: 7000, particle_id: "p1".into(), secret_key: [7; 32],
/// };
/// let out = run_air("(null)", &[], &[], &params, &[]).unwrap();
/// assert!(out.call_requests.is_empty() && out.next_peer_pks.is_empty());
/// ```
///
/// # Errors
/// [`AvmError::Interpreter`] when AquaVM fails (bad AIR, bad data, a failed `(fail …)`);
/// [`AvmError::TooDeep`] for a script nested deeper than [`MAX_AIR_DEPTH`] (AquaVM is not run).
pub fn run_air(
    air: &str,
    prev_data: &[u8],
    data: &[u8],
    params: &AvmParams,
    call_results: &[(u32, CallResult)],
) -> Result<AvmOutcome, AvmError> {
    let depth = air_depth(air);
    if depth > MAX_AIR_DEPTH {
        return Err(AvmError::TooDeep {
            depth,
            max: MAX_AIR_DEPTH,
        });
    }
    let results: HashMap<String, CallServiceResult> = call_results
        .iter()
        .map(|(id, r)| {
            let v = match r {
                CallResult::Ok(v) => CallServiceResult::ok(v),
                CallResult::Err(v) => CallServiceResult::err(1, v),
            };
            (id.to_string(), v)
        })
        .collect();
    let serialized = CallResultsRepr
        .serialize(&results)
        .map_err(|e| AvmError::CallResults(e.to_string()))?;
    let run = RunParameters {
        init_peer_id: params.init_peer_id.clone(),
        current_peer_id: params.current_peer_id.clone(),
        timestamp: params.timestamp,
        ttl: params.ttl,
        key_format: 0,
        secret_key_bytes: params.secret_key.to_vec(),
        particle_id: params.particle_id.clone(),
        air_size_limit: AIR_SIZE_LIMIT,
        particle_size_limit: PARTICLE_SIZE_LIMIT,
        call_result_size_limit: CALL_RESULT_SIZE_LIMIT,
        hard_limit_enabled: false,
    };
    let out = crate::platform::on_avm_stack(|| {
        air::execute_air(
            air.to_string(),
            prev_data.to_vec(),
            data.to_vec(),
            run,
            serialized,
        )
    });
    if out.ret_code != air::INTERPRETER_SUCCESS {
        return Err(AvmError::Interpreter {
            code: out.ret_code,
            message: out.error_message,
            data: out.data,
        });
    }
    let call_requests = decode_call_requests(&out.call_requests)?;
    Ok(AvmOutcome {
        data: out.data,
        next_peer_pks: out.next_peer_pks,
        call_requests,
    })
}

fn decode_call_requests(raw: &[u8]) -> Result<Vec<CallRequest>, AvmError> {
    if raw.is_empty() {
        return Ok(Vec::new());
    }
    let err = |e: &dyn std::fmt::Display| AvmError::CallRequests(e.to_string());
    let map = CallRequestsRepr.deserialize(raw).map_err(|e| err(&e))?;
    let mut out = Vec::with_capacity(map.len());
    for (id, p) in map {
        let arguments: Vec<Value> = air_interpreter_interface::CallArgumentsRepr
            .deserialize(&p.arguments)
            .map_err(|e| err(&e))?;
        let tetraplets: Vec<Vec<air::SecurityTetraplet>> = TetrapletsRepr
            .deserialize(&p.tetraplets)
            .map_err(|e| err(&e))?;
        out.push(CallRequest {
            id,
            service_id: p.service_id,
            function_name: p.function_name,
            arguments,
            tetraplets: tetraplets
                .into_iter()
                .map(|arg| {
                    arg.into_iter()
                        .map(|t| Tetraplet {
                            peer_pk: t.peer_pk,
                            service_id: t.service_id,
                            function_name: t.function_name,
                            lens: t.lens,
                        })
                        .collect()
                })
                .collect(),
        });
    }
    out.sort_by_key(|r| r.id);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const PEER: &str = "12D3KooWANqfCDrV79MZdMnMqTvDdqSAPSxdgFY1L6DCq2DVGB4D";

    fn params() -> AvmParams {
        AvmParams {
            init_peer_id: PEER.into(),
            current_peer_id: PEER.into(),
            timestamp: 1_696_934_545_662,
            ttl: 7000,
            particle_id: "2883f959-e9e7-4843-8c37-205d393ca372".into(),
            secret_key: [7; 32],
        }
    }

    /// A `fold` recurses per element: this one needs far more than the 2 MiB a test thread
    /// (or the 8 MiB a main thread) has, so it passes only on the run's own stack.
    #[test]
    fn a_fold_over_thousands_of_items_runs_on_its_own_stack() {
        let n = 3_000;
        let air = r#"(seq (call %init_peer_id% ("op" "items") [] xs) (seq (fold xs i (seq (ap i last) (next i))) (call %init_peer_id% ("op" "done") [xs])))"#;
        let first = run_air(air, &[], &[], &params(), &[]).expect("runs");
        let id = first.call_requests[0].id;
        let items: Vec<Value> = (0..n).map(|i| json!(i)).collect();
        let second = run_air(
            air,
            &first.data,
            &[],
            &params(),
            &[(id, CallResult::Ok(Value::Array(items)))],
        )
        .expect("the fold runs");
        assert_eq!(second.call_requests[0].function_name, "done");
        assert_eq!(
            second.call_requests[0].arguments[0]
                .as_array()
                .map(Vec::len),
            Some(n)
        );
    }

    #[test]
    fn a_script_nested_past_the_limit_is_refused_before_aquavm_runs() {
        let nested = |depth: usize| {
            format!(
                "{}(null){}",
                "(seq (null) ".repeat(depth - 1),
                ")".repeat(depth - 1)
            )
        };
        assert_eq!(air_depth(&nested(MAX_AIR_DEPTH)), MAX_AIR_DEPTH);
        run_air(&nested(MAX_AIR_DEPTH), &[], &[], &params(), &[])
            .expect("the deepest allowed script runs");
        let too_deep = nested(MAX_AIR_DEPTH + 1);
        assert_eq!(
            run_air(&too_deep, &[], &[], &params(), &[]).err(),
            Some(AvmError::TooDeep {
                depth: MAX_AIR_DEPTH + 1,
                max: MAX_AIR_DEPTH
            })
        );
        // Parentheses inside string literals do not count.
        assert_eq!(
            air_depth(r#"(seq (null) (call "a" ("s" "f") ["((((\"(("]))"#),
            3
        );
    }

    #[test]
    fn a_local_call_round_trips_through_the_interpreter() {
        let air = format!(
            r#"(seq (call "{PEER}" ("op" "concat_strings") ["a" "b"] r) (call "{PEER}" ("cb" "done") [r]))"#
        );
        let first = run_air(&air, &[], &[], &params(), &[]).expect("runs");
        assert_eq!(first.call_requests.len(), 1);
        let req = &first.call_requests[0];
        assert_eq!(
            (req.service_id.as_str(), req.function_name.as_str()),
            ("op", "concat_strings")
        );
        assert_eq!(req.arguments, vec![json!("a"), json!("b")]);

        let second = run_air(
            &air,
            &first.data,
            &[],
            &params(),
            &[(req.id, CallResult::Ok(json!("ab")))],
        )
        .expect("runs");
        assert_eq!(second.call_requests.len(), 1);
        assert_eq!(second.call_requests[0].function_name, "done");
        assert_eq!(second.call_requests[0].arguments, vec![json!("ab")]);
        assert_eq!(
            second.call_requests[0].tetraplets[0][0].function_name,
            "concat_strings"
        );
    }

    #[test]
    fn remote_calls_name_the_next_peer_and_bad_air_is_an_error() {
        let other = "12D3KooWSD5PToNiLQwKDXsu8JSysCwUt8BVUJEqCHcDe7P5h45e";
        let out = run_air(
            &format!(r#"(call "{other}" ("op" "noop") [])"#),
            &[],
            &[],
            &params(),
            &[],
        )
        .expect("runs");
        assert_eq!(out.next_peer_pks, vec![other.to_string()]);
        assert!(matches!(
            run_air("(seq (null)", &[], &[], &params(), &[]),
            Err(AvmError::Interpreter { .. })
        ));
    }
}

#[cfg(test)]
mod signing_tests {
    use super::*;
    use libp2p_identity::Keypair;
    use serde_json::json;

    fn seed_of(k: &Keypair) -> [u8; 32] {
        let ed = k.clone().try_into_ed25519().expect("ed25519");
        let mut s = [0u8; 32];
        s.copy_from_slice(&ed.secret().as_ref()[..32]);
        s
    }

    #[test]
    fn data_produced_on_one_peer_verifies_on_another() {
        let a = Keypair::generate_ed25519();
        let b = Keypair::generate_ed25519();
        let (ida, idb) = (
            a.public().to_peer_id().to_base58(),
            b.public().to_peer_id().to_base58(),
        );
        let air = format!(
            r#"(seq (seq (call "{ida}" ("get" "relay") [] r) (call "{idb}" ("op" "noop") [r] x)) (call "{ida}" ("op" "noop") [x]))"#
        );
        let pa = |key: &Keypair, me: &str| AvmParams {
            init_peer_id: ida.clone(),
            current_peer_id: me.to_string(),
            timestamp: 1_700_000_000_000,
            ttl: 100_000,
            particle_id: "p".into(),
            secret_key: seed_of(key),
        };
        let out_a0 = run_air(&air, &[], &[], &pa(&a, &ida), &[]).expect("a runs");
        let r0 = out_a0.call_requests[0].id;
        let out_a = run_air(
            &air,
            &out_a0.data,
            &[],
            &pa(&a, &ida),
            &[(r0, CallResult::Ok(json!("relay")))],
        )
        .expect("a runs");
        assert_eq!(out_a.next_peer_pks, vec![idb.clone()]);
        let out_b = run_air(&air, &[], &out_a.data, &pa(&b, &idb), &[]).expect("b runs");
        let req = &out_b.call_requests[0];
        let out_b2 = run_air(
            &air,
            &out_b.data,
            &[],
            &pa(&b, &idb),
            &[(req.id, CallResult::Ok(json!("v")))],
        )
        .expect("b result");
        assert_eq!(out_b2.next_peer_pks, vec![ida.clone()]);
        run_air(&air, &out_a.data, &out_b2.data, &pa(&a, &ida), &[]).expect("a verifies b's data");
    }
}
