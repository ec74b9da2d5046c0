//! Decoder of the `interface-types` custom section (the wasmer-it binary format Marine uses).
//!
//! The section is a sequence of `kind: u8` + payload; kinds: 0 types, 1 imports, 2 adapters,
//! 3 exports, 4 implementations, 5 version. Strings carry a one-byte length; counts are ULEB128.

use crate::types::{FunctionSignature, IType, NamedType, RecordType};

/// One entry of the type list.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum ItType {
    Function {
        arguments: Vec<NamedType>,
        outputs: Vec<IType>,
    },
    Record(RecordType),
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ItImport {
    pub namespace: String,
    pub name: String,
    pub function_type: u32,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ItAdapter {
    pub function_type: u32,
    pub instructions: Vec<Instruction>,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ItExport {
    pub name: String,
    pub function_type: u32,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct ItImplementation {
    pub core_function_type: u32,
    pub adapter_function_type: u32,
}

/// A decoded `interface-types` section.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct ItSection {
    pub version: Option<String>,
    pub types: Vec<ItType>,
    pub imports: Vec<ItImport>,
    pub adapters: Vec<ItAdapter>,
    pub exports: Vec<ItExport>,
    pub implementations: Vec<ItImplementation>,
}

/// Numeric conversions between core Wasm integers and interface integers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Conversion {
    /// Core value to interface value: `s8.from_i32` etc.
    Lift { to: IType, from_i64: bool },
    /// Interface value to core value: `i32.from_s8` etc.
    Lower { from: IType, to_i64: bool },
}

/// An adapter instruction.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Instruction {
    ArgumentGet(u32),
    CallCore(u32),
    Convert(ConversionOp),
    StringLiftMemory,
    StringLowerMemory,
    StringSize,
    ByteArrayLiftMemory,
    ByteArrayLowerMemory,
    ByteArraySize,
    ArrayLiftMemory(IType),
    ArrayLowerMemory(IType),
    RecordLiftMemory(u32),
    RecordLowerMemory(u32),
    Dup,
    Swap2,
    BoolFromI32,
    I32FromBool,
    PushI32(i32),
    PushI64(i64),
}

/// A conversion opcode (`0x02..=0x21`), decoded once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ConversionOp(pub u8);

impl ConversionOp {
    /// The conversion the opcode stands for. Opcodes run in blocks of eight (s8…s64 lifted from
    /// i32/i64, then lowered to i32, then to i64; the same again for unsigned).
    pub fn conversion(self) -> Conversion {
        let n = self.0 - 0x02;
        let unsigned = n >= 0x10;
        let n = n % 0x10;
        let width = |i: u8| match (unsigned, i) {
            (false, 0) => IType::S8,
            (false, 1) => IType::S16,
            (false, 2) => IType::S32,
            (false, _) => IType::S64,
            (true, 0) => IType::U8,
            (true, 1) => IType::U16,
            (true, 2) => IType::U32,
            (true, _) => IType::U64,
        };
        if n < 8 {
            Conversion::Lift {
                to: width(n / 2),
                from_i64: n % 2 == 1,
            }
        } else {
            let n = n - 8;
            Conversion::Lower {
                from: width(n % 4),
                to_i64: n >= 4,
            }
        }
    }
}

impl ItSection {
    /// The function type at `idx`.
    pub fn function_type(&self, idx: u32) -> Option<(&[NamedType], &[IType])> {
        match self.types.get(idx as usize)? {
            ItType::Function { arguments, outputs } => Some((arguments, outputs)),
            ItType::Record(_) => None,
        }
    }

    /// The adapter implementing the core function type `core_type` (an export's or an import's).
    pub fn adapter_for(&self, core_type: u32) -> Option<&ItAdapter> {
        let imp = self
            .implementations
            .iter()
            .find(|i| i.core_function_type == core_type)?;
        self.adapters
            .iter()
            .find(|a| a.function_type == imp.adapter_function_type)
    }

    /// Exported functions that have an adapter (the service interface), in export order.
    pub fn exported_functions(&self) -> Vec<(FunctionSignature, &ItAdapter)> {
        self.exports
            .iter()
            .filter_map(|e| {
                let adapter = self.adapter_for(e.function_type)?;
                let (args, outs) = self.function_type(adapter.function_type)?;
                Some((
                    FunctionSignature {
                        name: e.name.clone(),
                        arguments: args.to_vec(),
                        outputs: outs.to_vec(),
                    },
                    adapter,
                ))
            })
            .collect()
    }

    /// Record types by type index.
    pub fn records(&self) -> Vec<Option<RecordType>> {
        self.types
            .iter()
            .map(|t| match t {
                ItType::Record(r) => Some(r.clone()),
                ItType::Function { .. } => None,
            })
            .collect()
    }
}

/// Where and why decoding failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DecodeError {
    pub offset: usize,
    pub reason: String,
}

/// Decodes a whole section.
pub(crate) fn decode(bytes: &[u8]) -> Result<ItSection, DecodeError> {
    let mut r = Reader { bytes, pos: 0 };
    let mut s = ItSection::default();
    while !r.at_end() {
        let kind_at = r.pos;
        match r.byte()? {
            0x00 => {
                let n = r.count()?;
                for _ in 0..n {
                    let t = match r.byte()? {
                        0x00 => {
                            let arguments = r.list(Reader::named_type)?;
                            let outputs = r.list(|r| r.ty(0))?;
                            ItType::Function { arguments, outputs }
                        }
                        0x01 => {
                            let name = r.string()?;
                            let fields = r.list(Reader::named_type)?;
                            if fields.is_empty() {
                                return Err(r.error(format!("record `{name}` has no fields")));
                            }
                            ItType::Record(RecordType { name, fields })
                        }
                        k => return Err(r.error(format!("unknown type kind {k:#04x}"))),
                    };
                    s.types.push(t);
                }
            }
            0x01 => {
                let n = r.count()?;
                for _ in 0..n {
                    let namespace = r.string()?;
                    let name = r.string()?;
                    let function_type = r.index()?;
                    s.imports.push(ItImport {
                        namespace,
                        name,
                        function_type,
                    });
                }
            }
            0x02 => {
                let n = r.count()?;
                for _ in 0..n {
                    let function_type = r.index()?;
                    let instructions = r.list(Reader::instruction)?;
                    s.adapters.push(ItAdapter {
                        function_type,
                        instructions,
                    });
                }
            }
            0x03 => {
                let n = r.count()?;
                for _ in 0..n {
                    let name = r.string()?;
                    let function_type = r.index()?;
                    s.exports.push(ItExport {
                        name,
                        function_type,
                    });
                }
            }
            0x04 => {
                let n = r.count()?;
                for _ in 0..n {
                    let core_function_type = r.index()?;
                    let adapter_function_type = r.index()?;
                    s.implementations.push(ItImplementation {
                        core_function_type,
                        adapter_function_type,
                    });
                }
            }
            0x05 => s.version = Some(r.string()?),
            k => {
                return Err(DecodeError {
                    offset: kind_at,
                    reason: format!("unknown section kind {k:#04x}"),
                })
            }
        }
    }
    Ok(s)
}

/// Deepest nesting of `array` types accepted (guards the recursive decoder).
const MAX_TYPE_DEPTH: usize = 64;

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    fn at_end(&self) -> bool {
        self.pos >= self.bytes.len()
    }

    fn error(&self, reason: impl Into<String>) -> DecodeError {
        DecodeError {
            offset: self.pos,
            reason: reason.into(),
        }
    }

    fn byte(&mut self) -> Result<u8, DecodeError> {
        let b = *self
            .bytes
            .get(self.pos)
            .ok_or_else(|| self.error("unexpected end of section"))?;
        self.pos += 1;
        Ok(b)
    }

    /// An unsigned LEB128 number (padding allowed, as in Wasm; bits beyond 64 are an error).
    fn uleb(&mut self) -> Result<u64, DecodeError> {
        let rest = self.bytes.get(self.pos..).unwrap_or_default();
        let mut reader = wasmparser::BinaryReader::new(rest, 0);
        let v = reader
            .read_var_u64()
            .map_err(|e| self.error(format!("LEB128 number: {}", e.message())))?;
        self.pos += reader.original_position();
        Ok(v)
    }

    fn index(&mut self) -> Result<u32, DecodeError> {
        let v = self.uleb()?;
        u32::try_from(v).map_err(|_| self.error(format!("index {v} out of range")))
    }

    /// A count of items that follow; each takes at least one byte, which bounds allocations.
    fn count(&mut self) -> Result<usize, DecodeError> {
        let n = self.uleb()?;
        let left = (self.bytes.len() - self.pos.min(self.bytes.len())) as u64;
        if n > left {
            return Err(self.error(format!("count {n} exceeds the {left} bytes left")));
        }
        Ok(n as usize)
    }

    fn list<T>(
        &mut self,
        mut item: impl FnMut(&mut Self) -> Result<T, DecodeError>,
    ) -> Result<Vec<T>, DecodeError> {
        let n = self.count()?;
        let mut items = Vec::with_capacity(n);
        for _ in 0..n {
            items.push(item(self)?);
        }
        Ok(items)
    }

    fn string(&mut self) -> Result<String, DecodeError> {
        let len = self.byte()? as usize;
        let start = self.pos;
        let raw = self
            .bytes
            .get(start..start + len)
            .ok_or_else(|| self.error("string runs past the end of the section"))?;
        self.pos += len;
        String::from_utf8(raw.to_vec()).map_err(|_| DecodeError {
            offset: start,
            reason: "string is not UTF-8".into(),
        })
    }

    fn named_type(&mut self) -> Result<NamedType, DecodeError> {
        let name = self.string()?;
        let ty = self.ty(0)?;
        Ok(NamedType { name, ty })
    }

    fn ty(&mut self, depth: usize) -> Result<IType, DecodeError> {
        if depth > MAX_TYPE_DEPTH {
            return Err(self.error("type nested too deeply"));
        }
        Ok(match self.byte()? {
            0x00 => IType::S8,
            0x01 => IType::S16,
            0x02 => IType::S32,
            0x03 => IType::S64,
            0x04 => IType::U8,
            0x05 => IType::U16,
            0x06 => IType::U32,
            0x07 => IType::U64,
            0x08 => IType::F32,
            0x09 => IType::F64,
            0x0a => IType::String,
            0x0b => IType::Boolean,
            0x0c => IType::I32,
            0x0d => IType::I64,
            0x0e => IType::Record(self.index()?),
            0x36 => IType::Array(Box::new(self.ty(depth + 1)?)),
            0x3c => IType::ByteArray,
            b => return Err(self.error(format!("unknown type code {b:#04x}"))),
        })
    }

    fn instruction(&mut self) -> Result<Instruction, DecodeError> {
        Ok(match self.byte()? {
            0x00 => Instruction::ArgumentGet(self.index()?),
            0x01 => Instruction::CallCore(self.index()?),
            op @ 0x02..=0x21 => Instruction::Convert(ConversionOp(op)),
            0x22 => Instruction::StringLiftMemory,
            0x23 => Instruction::StringLowerMemory,
            0x24 => Instruction::StringSize,
            0x34 => Instruction::Dup,
            0x35 => Instruction::Swap2,
            0x37 => Instruction::ArrayLiftMemory(self.ty(0)?),
            0x38 => Instruction::ArrayLowerMemory(self.ty(0)?),
            0x3a => Instruction::RecordLiftMemory(self.index()?),
            0x3b => Instruction::RecordLowerMemory(self.index()?),
            0x3e => Instruction::BoolFromI32,
            0x3f => Instruction::I32FromBool,
            // Immediates are written as unsigned LEB128 of the value's bits.
            0x40 => Instruction::PushI32(self.uleb()? as i32),
            0x41 => Instruction::PushI64(self.uleb()? as i64),
            0x43 => Instruction::ByteArrayLiftMemory,
            0x44 => Instruction::ByteArrayLowerMemory,
            0x45 => Instruction::ByteArraySize,
            b => return Err(self.error(format!("unknown instruction {b:#04x}"))),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uleb(bytes: &[u8]) -> Result<(u64, usize), DecodeError> {
        let mut r = Reader { bytes, pos: 0 };
        r.uleb().map(|v| (v, r.pos))
    }

    #[test]
    fn leb128_reads_padding_and_refuses_overflow() {
        assert_eq!(uleb(&[0x05, 0xff]).unwrap(), (5, 1));
        assert_eq!(uleb(&[0xe5, 0x8e, 0x26]).unwrap(), (624_485, 3));
        // Padded (valid in Wasm): 5 in three bytes.
        assert_eq!(uleb(&[0x85, 0x80, 0x00]).unwrap(), (5, 3));
        // u64::MAX takes ten bytes, the last holding one bit.
        let max = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01];
        assert_eq!(uleb(&max).unwrap(), (u64::MAX, 10));
        // Bits beyond 64 in the tenth byte were silently dropped by the hand-written reader.
        let over = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f];
        assert!(uleb(&over).unwrap_err().reason.contains("too large"));
        let long = [0x80; 11];
        assert!(uleb(&long).is_err());
        assert!(uleb(&[0x80, 0x80]).is_err(), "cut short");
    }

    #[test]
    fn conversion_opcodes_map_to_their_types() {
        assert_eq!(
            ConversionOp(0x02).conversion(),
            Conversion::Lift {
                to: IType::S8,
                from_i64: false
            }
        );
        assert_eq!(
            ConversionOp(0x09).conversion(),
            Conversion::Lift {
                to: IType::S64,
                from_i64: true
            }
        );
        assert_eq!(
            ConversionOp(0x0a).conversion(),
            Conversion::Lower {
                from: IType::S8,
                to_i64: false
            }
        );
        assert_eq!(
            ConversionOp(0x0d).conversion(),
            Conversion::Lower {
                from: IType::S64,
                to_i64: false
            }
        );
        assert_eq!(
            ConversionOp(0x0e).conversion(),
            Conversion::Lower {
                from: IType::S8,
                to_i64: true
            }
        );
        assert_eq!(
            ConversionOp(0x11).conversion(),
            Conversion::Lower {
                from: IType::S64,
                to_i64: true
            }
        );
        assert_eq!(
            ConversionOp(0x12).conversion(),
            Conversion::Lift {
                to: IType::U8,
                from_i64: false
            }
        );
        assert_eq!(
            ConversionOp(0x19).conversion(),
            Conversion::Lift {
                to: IType::U64,
                from_i64: true
            }
        );
        assert_eq!(
            ConversionOp(0x1a).conversion(),
            Conversion::Lower {
                from: IType::U8,
                to_i64: false
            }
        );
        assert_eq!(
            ConversionOp(0x21).conversion(),
            Conversion::Lower {
                from: IType::U64,
                to_i64: true
            }
        );
    }

    #[test]
    fn truncated_and_unknown_input_is_an_error_not_a_panic() {
        assert!(decode(&[0x00]).is_err());
        assert!(decode(&[0x00, 0x01, 0x07]).is_err());
        assert!(decode(&[0x09]).is_err());
        assert!(decode(&[0x05, 0x10, b'a']).is_err());
        assert!(decode(&[0x00, 0xff, 0xff, 0xff, 0xff, 0x0f]).is_err());
        // A type nested beyond the limit.
        let mut deep = vec![0x00, 0x01, 0x00, 0x00, 0x01];
        deep.extend(std::iter::repeat_n(0x36, 100));
        deep.push(0x0a);
        assert!(decode(&deep).is_err());
    }

    #[test]
    fn decodes_a_small_section() {
        // version "0.28.0"; types: fn(name: string) -> string, record P { x: u8 }; export "f" type 0.
        let mut b = vec![0x05, 6];
        b.extend_from_slice(b"0.28.0");
        b.extend_from_slice(&[0x00, 2, 0x00, 1, 4, b'n', b'a', b'm', b'e', 0x0a, 1, 0x0a]);
        b.extend_from_slice(&[0x01, 1, b'P', 1, 1, b'x', 0x04]);
        b.extend_from_slice(&[0x03, 1, 1, b'f', 0]);
        b.extend_from_slice(&[0x02, 1, 0, 3, 0x00, 0, 0x01, 7, 0x40, 0xff, 0x01]);
        b.extend_from_slice(&[0x04, 1, 0, 0]);
        let s = decode(&b).expect("decodes");
        assert_eq!(s.version.as_deref(), Some("0.28.0"));
        assert_eq!(s.types.len(), 2);
        assert_eq!(
            s.adapters[0].instructions,
            vec![
                Instruction::ArgumentGet(0),
                Instruction::CallCore(7),
                Instruction::PushI32(255)
            ]
        );
        let funcs = s.exported_functions();
        assert_eq!(funcs.len(), 1);
        assert_eq!(funcs[0].0.name, "f");
        assert_eq!(s.records()[1].as_ref().map(|r| r.name.as_str()), Some("P"));
    }
}

/// No byte string makes the IT section decoder panic (or allocate by a count it was told).
/// Native only: see the proptest entry in Cargo.toml.
#[cfg(all(test, not(target_arch = "wasm32")))]
mod prop {
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn arbitrary_sections_are_decoded_or_refused(bytes in proptest::collection::vec(any::<u8>(), 0..1024)) {
            let _ = super::decode(&bytes);
        }

        #[test]
        fn sections_of_plausible_opcodes_are_decoded_or_refused(
            bytes in proptest::collection::vec(prop_oneof![Just(0u8), Just(1), Just(2), Just(3), Just(0x7f), Just(0xff), any::<u8>()], 0..512)
        ) {
            let _ = super::decode(&bytes);
        }
    }
}
