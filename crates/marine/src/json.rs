//! JSON ⇄ interface values, with Marine's `call_with_json` conventions: arguments as an array
//! (positional), an object (by name), `null` (no arguments) or a bare value (one argument);
//! records as objects (or positional arrays); byte arrays as arrays of numbers.

use serde_json::{Map, Number, Value};

use crate::error::CallError;
use crate::types::{FunctionSignature, IType, IValue, ServiceInterface};

/// Converts JSON arguments to the values `func` takes.
pub(crate) fn args_from_json(
    iface: &ServiceInterface,
    func: &FunctionSignature,
    args: &Value,
) -> Result<Vec<IValue>, CallError> {
    let params = &func.arguments;
    let count_error = |got: usize| CallError::ArgumentCount {
        function: func.name.clone(),
        expected: params.len(),
        got,
    };
    let conv = JsonConv {
        iface,
        function: &func.name,
    };
    match args {
        Value::Array(items) => {
            if items.len() != params.len() {
                return Err(count_error(items.len()));
            }
            params
                .iter()
                .zip(items)
                .map(|(p, v)| conv.to_ivalue(v, &p.ty, &p.name))
                .collect()
        }
        Value::Object(map) => {
            if let Some(extra) = map.keys().find(|k| !params.iter().any(|p| &p.name == *k)) {
                return Err(conv.type_error(
                    extra,
                    "no argument of this name",
                    "an extra argument",
                ));
            }
            params
                .iter()
                .map(|p| match map.get(&p.name) {
                    Some(v) => conv.to_ivalue(v, &p.ty, &p.name),
                    None => Err(conv.type_error(&p.name, &iface.type_name(&p.ty), "nothing")),
                })
                .collect()
        }
        Value::Null if params.is_empty() => Ok(Vec::new()),
        Value::Null => Err(count_error(0)),
        single if params.len() == 1 => Ok(vec![conv.to_ivalue(
            single,
            &params[0].ty,
            &params[0].name,
        )?]),
        _ => Err(count_error(1)),
    }
}

/// Converts a call's results to JSON: `null` for none, the value for one, an array for many.
pub(crate) fn result_to_json(
    iface: &ServiceInterface,
    outputs: &[IType],
    values: &[IValue],
) -> Result<Value, CallError> {
    match values {
        [] => Ok(Value::Null),
        [one] => to_json(iface, one, outputs.first()),
        many => many
            .iter()
            .enumerate()
            .map(|(i, v)| to_json(iface, v, outputs.get(i)))
            .collect::<Result<Vec<_>, _>>()
            .map(Value::Array),
    }
}

/// Converts one value to JSON, naming record fields from `ty` where it is known.
pub fn to_json(
    iface: &ServiceInterface,
    value: &IValue,
    ty: Option<&IType>,
) -> Result<Value, CallError> {
    Ok(match value {
        IValue::Boolean(b) => Value::Bool(*b),
        IValue::S8(v) => Value::from(*v),
        IValue::S16(v) => Value::from(*v),
        IValue::S32(v) | IValue::I32(v) => Value::from(*v),
        IValue::S64(v) | IValue::I64(v) => Value::from(*v),
        IValue::U8(v) => Value::from(*v),
        IValue::U16(v) => Value::from(*v),
        IValue::U32(v) => Value::from(*v),
        IValue::U64(v) => Value::from(*v),
        IValue::F32(v) => float(*v as f64)?,
        IValue::F64(v) => float(*v)?,
        IValue::String(s) => Value::String(s.clone()),
        IValue::ByteArray(b) => Value::Array(b.iter().map(|x| Value::from(*x)).collect()),
        IValue::Array(items) => {
            let inner = match ty {
                Some(IType::Array(t)) => Some(t.as_ref()),
                _ => None,
            };
            Value::Array(
                items
                    .iter()
                    .map(|v| to_json(iface, v, inner))
                    .collect::<Result<_, _>>()?,
            )
        }
        IValue::Record(fields) => {
            let record = match ty {
                Some(IType::Record(idx)) => iface.record(*idx),
                _ => None,
            };
            match record {
                Some(rt) if rt.fields.len() == fields.len() => {
                    let mut map = Map::new();
                    for (f, v) in rt.fields.iter().zip(fields) {
                        map.insert(f.name.clone(), to_json(iface, v, Some(&f.ty))?);
                    }
                    Value::Object(map)
                }
                _ => Value::Array(
                    fields
                        .iter()
                        .map(|v| to_json(iface, v, None))
                        .collect::<Result<_, _>>()?,
                ),
            }
        }
    })
}

fn float(v: f64) -> Result<Value, CallError> {
    Number::from_f64(v)
        .map(Value::Number)
        .ok_or_else(|| CallError::Result(format!("{v} has no JSON representation")))
}

struct JsonConv<'a> {
    iface: &'a ServiceInterface,
    function: &'a str,
}

impl JsonConv<'_> {
    fn type_error(&self, path: &str, expected: &str, got: &str) -> CallError {
        CallError::ArgumentType {
            function: self.function.to_string(),
            path: path.to_string(),
            expected: expected.to_string(),
            got: got.to_string(),
        }
    }

    fn mismatch(&self, path: &str, ty: &IType, v: &Value) -> CallError {
        let got = match v {
            Value::Null => "null".to_string(),
            Value::Bool(b) => format!("bool {b}"),
            Value::Number(n) => format!("number {n}"),
            Value::String(_) => "a string".to_string(),
            Value::Array(a) => format!("an array of {} item(s)", a.len()),
            Value::Object(_) => "an object".to_string(),
        };
        self.type_error(path, &self.iface.type_name(ty), &got)
    }

    fn to_ivalue(&self, v: &Value, ty: &IType, path: &str) -> Result<IValue, CallError> {
        let bad = || self.mismatch(path, ty, v);
        let int = |v: &Value| -> Option<i128> {
            match v {
                Value::Number(n) => n
                    .as_i64()
                    .map(i128::from)
                    .or_else(|| n.as_u64().map(i128::from)),
                _ => None,
            }
        };
        Ok(match ty {
            IType::Boolean => IValue::Boolean(v.as_bool().ok_or_else(bad)?),
            IType::S8 => IValue::S8(int(v).and_then(|n| i8::try_from(n).ok()).ok_or_else(bad)?),
            IType::S16 => IValue::S16(int(v).and_then(|n| i16::try_from(n).ok()).ok_or_else(bad)?),
            IType::S32 => IValue::S32(int(v).and_then(|n| i32::try_from(n).ok()).ok_or_else(bad)?),
            IType::S64 => IValue::S64(int(v).and_then(|n| i64::try_from(n).ok()).ok_or_else(bad)?),
            IType::U8 => IValue::U8(int(v).and_then(|n| u8::try_from(n).ok()).ok_or_else(bad)?),
            IType::U16 => IValue::U16(int(v).and_then(|n| u16::try_from(n).ok()).ok_or_else(bad)?),
            IType::U32 => IValue::U32(int(v).and_then(|n| u32::try_from(n).ok()).ok_or_else(bad)?),
            IType::U64 => IValue::U64(int(v).and_then(|n| u64::try_from(n).ok()).ok_or_else(bad)?),
            IType::I32 => IValue::I32(int(v).and_then(|n| i32::try_from(n).ok()).ok_or_else(bad)?),
            IType::I64 => IValue::I64(int(v).and_then(|n| i64::try_from(n).ok()).ok_or_else(bad)?),
            IType::F32 => IValue::F32(v.as_f64().ok_or_else(bad)? as f32),
            IType::F64 => IValue::F64(v.as_f64().ok_or_else(bad)?),
            IType::String => IValue::String(v.as_str().ok_or_else(bad)?.to_string()),
            IType::ByteArray => {
                let items = v.as_array().ok_or_else(bad)?;
                let mut bytes = Vec::with_capacity(items.len());
                for (i, item) in items.iter().enumerate() {
                    let b = int(item).and_then(|n| u8::try_from(n).ok());
                    bytes.push(
                        b.ok_or_else(|| self.mismatch(&format!("{path}[{i}]"), &IType::U8, item))?,
                    );
                }
                IValue::ByteArray(bytes)
            }
            IType::Array(inner) => {
                let items = v.as_array().ok_or_else(bad)?;
                IValue::Array(
                    items
                        .iter()
                        .enumerate()
                        .map(|(i, item)| self.to_ivalue(item, inner, &format!("{path}[{i}]")))
                        .collect::<Result<_, _>>()?,
                )
            }
            IType::Record(idx) => {
                let rt = self.iface.record(*idx).ok_or_else(|| {
                    self.type_error(path, &format!("record#{idx}"), "an undeclared record type")
                })?;
                let fields = match v {
                    Value::Object(map) => {
                        if let Some(extra) = map
                            .keys()
                            .find(|k| !rt.fields.iter().any(|f| &f.name == *k))
                        {
                            return Err(self.type_error(
                                &format!("{path}.{extra}"),
                                &format!("no field of this name in {}", rt.name),
                                "an extra field",
                            ));
                        }
                        rt.fields
                            .iter()
                            .map(|f| {
                                let fp = format!("{path}.{}", f.name);
                                match map.get(&f.name) {
                                    Some(fv) => self.to_ivalue(fv, &f.ty, &fp),
                                    None => Err(self.type_error(
                                        &fp,
                                        &self.iface.type_name(&f.ty),
                                        "nothing",
                                    )),
                                }
                            })
                            .collect::<Result<Vec<_>, _>>()?
                    }
                    Value::Array(items) if items.len() == rt.fields.len() => rt
                        .fields
                        .iter()
                        .zip(items)
                        .map(|(f, fv)| self.to_ivalue(fv, &f.ty, &format!("{path}.{}", f.name)))
                        .collect::<Result<Vec<_>, _>>()?,
                    _ => return Err(bad()),
                };
                IValue::Record(fields)
            }
        })
    }
}
