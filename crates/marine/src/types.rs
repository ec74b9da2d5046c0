//! Interface-type values and signatures: what a Marine service speaks at its boundary.

use std::fmt;

use serde::{Deserialize, Serialize};

/// An interface type (IT), as declared in a module's `interface-types` section.
///
/// Record types are referred to by their index in the declaring module's type list; the
/// [`RecordType`] behind an index is found in [`ServiceInterface::records`].
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IType {
    Boolean,
    S8,
    S16,
    S32,
    S64,
    U8,
    U16,
    U32,
    U64,
    F32,
    F64,
    String,
    /// `Vec<u8>`: bytes, packed.
    ByteArray,
    /// `Vec<T>` of any other element type.
    Array(Box<IType>),
    /// Core Wasm `i32` (only inside adapters, never in a service signature).
    I32,
    /// Core Wasm `i64` (only inside adapters, never in a service signature).
    I64,
    /// A record, by type index in its module.
    Record(u32),
}

/// A value of an interface type.
#[derive(Debug, Clone, PartialEq)]
pub enum IValue {
    Boolean(bool),
    S8(i8),
    S16(i16),
    S32(i32),
    S64(i64),
    U8(u8),
    U16(u16),
    U32(u32),
    U64(u64),
    F32(f32),
    F64(f64),
    String(String),
    ByteArray(Vec<u8>),
    Array(Vec<IValue>),
    I32(i32),
    I64(i64),
    /// Record fields in declaration order.
    Record(Vec<IValue>),
}

/// A named record type: `data Name: field: type, …` in Aqua terms.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordType {
    pub name: String,
    pub fields: Vec<NamedType>,
}

/// A named argument or record field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NamedType {
    pub name: String,
    pub ty: IType,
}

/// The signature of a function a service exports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FunctionSignature {
    pub name: String,
    pub arguments: Vec<NamedType>,
    pub outputs: Vec<IType>,
}

/// What a service offers: its exported functions and the record types they use,
/// like Marine's `interface`.
///
/// ```
/// # use lineage_marine::{ServiceInterface, FunctionSignature, NamedType, IType};
/// let iface = ServiceInterface {
///     functions: vec![FunctionSignature {
///         name: "greet".into(),
///         arguments: vec![NamedType { name: "name".into(), ty: IType::String }],
///         outputs: vec![IType::String],
///     }],
///     records: vec![],
/// };
/// assert!(iface.to_string().contains("greet(name: string) -> string"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceInterface {
    pub functions: Vec<FunctionSignature>,
    /// Record types by index (the index an [`IType::Record`] carries); `None` at indices that are
    /// function types.
    pub records: Vec<Option<RecordType>>,
}

impl ServiceInterface {
    /// Finds an exported function by name.
    pub fn function(&self, name: &str) -> Option<&FunctionSignature> {
        self.functions.iter().find(|f| f.name == name)
    }

    /// The record type at a type index, if that index is a record.
    pub fn record(&self, idx: u32) -> Option<&RecordType> {
        self.records.get(idx as usize).and_then(Option::as_ref)
    }

    /// Record types reachable from the exported functions' signatures, by type index, in
    /// index order (what Marine's interface listing shows).
    pub fn used_records(&self) -> Vec<(u32, &RecordType)> {
        let mut seen = vec![false; self.records.len()];
        let mut todo: Vec<&IType> = self
            .functions
            .iter()
            .flat_map(|f| f.arguments.iter().map(|a| &a.ty).chain(f.outputs.iter()))
            .collect();
        while let Some(ty) = todo.pop() {
            match ty {
                IType::Array(inner) => todo.push(inner),
                IType::Record(idx) => {
                    let i = *idx as usize;
                    if let (Some(false), Some(r)) = (seen.get(i).copied(), self.record(*idx)) {
                        seen[i] = true;
                        todo.extend(r.fields.iter().map(|f| &f.ty));
                    }
                }
                _ => {}
            }
        }
        seen.iter()
            .enumerate()
            .filter(|(_, s)| **s)
            .filter_map(|(i, _)| self.record(i as u32).map(|r| (i as u32, r)))
            .collect()
    }

    /// Renders a type with record names resolved, in Marine's notation (`[]u8`, `Greeting`).
    pub fn type_name(&self, ty: &IType) -> String {
        match ty {
            IType::Array(inner) => format!("[]{}", self.type_name(inner)),
            IType::Record(idx) => match self.record(*idx) {
                Some(r) => r.name.clone(),
                None => format!("record#{idx}"),
            },
            other => other.to_string(),
        }
    }
}

impl fmt::Display for ServiceInterface {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let records = self.used_records();
        if records.is_empty() {
            writeln!(f, "<no exported data types>")?;
        } else {
            writeln!(f, "exported data types (combined from all modules):")?;
            for (_, r) in records {
                writeln!(f, "data {}:", r.name)?;
                for field in &r.fields {
                    writeln!(f, "  {}: {}", field.name, self.type_name(&field.ty))?;
                }
            }
        }
        writeln!(f)?;
        writeln!(f, "exported functions:")?;
        for func in &self.functions {
            let args: Vec<String> = func
                .arguments
                .iter()
                .map(|a| format!("{}: {}", a.name, self.type_name(&a.ty)))
                .collect();
            write!(f, "{}({})", func.name, args.join(", "))?;
            match func.outputs.as_slice() {
                [] => writeln!(f)?,
                [one] => writeln!(f, " -> {}", self.type_name(one))?,
                many => {
                    let outs: Vec<String> = many.iter().map(|t| self.type_name(t)).collect();
                    writeln!(f, " -> ({})", outs.join(", "))?
                }
            }
        }
        Ok(())
    }
}

impl fmt::Display for IType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = match self {
            IType::Boolean => "bool",
            IType::S8 => "i8",
            IType::S16 => "i16",
            IType::S32 => "i32",
            IType::S64 => "i64",
            IType::U8 => "u8",
            IType::U16 => "u16",
            IType::U32 => "u32",
            IType::U64 => "u64",
            IType::F32 => "f32",
            IType::F64 => "f64",
            IType::String => "string",
            IType::ByteArray => "[]u8",
            IType::I32 => "core.i32",
            IType::I64 => "core.i64",
            IType::Array(inner) => return write!(f, "[]{inner}"),
            IType::Record(idx) => return write!(f, "record#{idx}"),
        };
        f.write_str(s)
    }
}

impl IValue {
    /// A short name of the value's kind, for error messages.
    pub fn kind(&self) -> &'static str {
        match self {
            IValue::Boolean(_) => "bool",
            IValue::S8(_) => "s8",
            IValue::S16(_) => "s16",
            IValue::S32(_) => "s32",
            IValue::S64(_) => "s64",
            IValue::U8(_) => "u8",
            IValue::U16(_) => "u16",
            IValue::U32(_) => "u32",
            IValue::U64(_) => "u64",
            IValue::F32(_) => "f32",
            IValue::F64(_) => "f64",
            IValue::String(_) => "string",
            IValue::ByteArray(_) => "byte_array",
            IValue::Array(_) => "array",
            IValue::I32(_) => "i32",
            IValue::I64(_) => "i64",
            IValue::Record(_) => "record",
        }
    }
}
