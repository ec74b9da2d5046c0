//! Lifting values out of a module's linear memory and lowering them into it, in the layout
//! marine-rs-sdk uses: strings and byte arrays as (ptr, len); arrays as packed elements (a
//! string/array element is 8 bytes of (ptr, len), a record element a 4-byte pointer); records
//! packed little-endian without padding. Every read is bounds-checked and the total lifted size
//! is budgeted, so a hostile module cannot make the host allocate without limit.

use crate::types::{IType, IValue, RecordType};

/// Deepest nesting of arrays/records lifted or lowered.
pub(crate) const MAX_VALUE_DEPTH: usize = 64;

/// Bytes an element or field of this type takes inside an array or record.
pub(crate) fn ser_type_size(ty: &IType) -> u32 {
    match ty {
        IType::Boolean | IType::S8 | IType::U8 => 1,
        IType::S16 | IType::U16 => 2,
        IType::S32 | IType::U32 | IType::I32 | IType::F32 | IType::Record(_) => 4,
        IType::S64 | IType::U64 | IType::I64 | IType::F64 => 8,
        IType::String | IType::ByteArray | IType::Array(_) => 8,
    }
}

fn ser_value_size(v: &IValue) -> u32 {
    match v {
        IValue::Boolean(_) | IValue::S8(_) | IValue::U8(_) => 1,
        IValue::S16(_) | IValue::U16(_) => 2,
        IValue::S32(_) | IValue::U32(_) | IValue::I32(_) | IValue::F32(_) | IValue::Record(_) => 4,
        IValue::S64(_) | IValue::U64(_) | IValue::I64(_) | IValue::F64(_) => 8,
        IValue::String(_) | IValue::ByteArray(_) | IValue::Array(_) => 8,
    }
}

/// The `allocate(size, type_tag)` tag marine-rs-sdk expects for an element of this value.
fn type_tag(v: &IValue) -> i32 {
    match v {
        IValue::Boolean(_) => 0,
        IValue::U8(_) => 1,
        IValue::U16(_) => 2,
        IValue::U32(_) => 3,
        IValue::U64(_) => 4,
        IValue::S8(_) => 5,
        IValue::S16(_) => 6,
        IValue::S32(_) | IValue::I32(_) => 7,
        IValue::S64(_) | IValue::I64(_) => 8,
        IValue::F32(_) => 9,
        IValue::F64(_) => 10,
        IValue::String(_) | IValue::ByteArray(_) | IValue::Array(_) | IValue::Record(_) => 3,
    }
}

/// Tag for raw bytes (strings, byte arrays, serialised records).
pub(crate) const BYTES_TAG: i32 = 1;

/// Reads values out of one module's memory.
pub(crate) struct Lifter<'a> {
    pub mem: &'a [u8],
    pub records: &'a [Option<RecordType>],
    /// Bytes the lift may still produce.
    pub budget: u64,
}

impl Lifter<'_> {
    fn slice(&mut self, ptr: u32, len: u64) -> Result<&[u8], String> {
        if len > self.budget {
            return Err(format!(
                "value of {len} bytes exceeds the lifted-value limit"
            ));
        }
        self.budget -= len;
        let start = ptr as usize;
        let end = start
            .checked_add(len as usize)
            .filter(|end| *end <= self.mem.len())
            .ok_or_else(|| {
                format!(
                    "read of {len} bytes at {ptr:#x} is outside memory of {} bytes",
                    self.mem.len()
                )
            })?;
        Ok(&self.mem[start..end])
    }

    pub fn bytes(&mut self, ptr: u32, len: u32) -> Result<Vec<u8>, String> {
        if len == 0 {
            return Ok(Vec::new());
        }
        Ok(self.slice(ptr, u64::from(len))?.to_vec())
    }

    pub fn string(&mut self, ptr: u32, len: u32) -> Result<String, String> {
        String::from_utf8(self.bytes(ptr, len)?).map_err(|e| format!("string is not UTF-8: {e}"))
    }

    pub fn array(
        &mut self,
        elem: &IType,
        ptr: u32,
        count: u32,
        depth: usize,
    ) -> Result<IValue, String> {
        if count == 0 {
            return Ok(IValue::Array(Vec::new()));
        }
        if depth > MAX_VALUE_DEPTH {
            return Err("value nested too deeply".into());
        }
        let size = u64::from(ser_type_size(elem)) * u64::from(count);
        let raw = self.slice(ptr, size)?.to_vec();
        let mut out = Vec::with_capacity(count as usize);
        let step = ser_type_size(elem) as usize;
        for chunk in raw.chunks_exact(step) {
            out.push(self.element(elem, chunk, depth)?);
        }
        Ok(IValue::Array(out))
    }

    pub fn record(&mut self, type_id: u32, ptr: u32, depth: usize) -> Result<IValue, String> {
        if depth > MAX_VALUE_DEPTH {
            return Err("value nested too deeply".into());
        }
        let rt = self
            .records
            .get(type_id as usize)
            .and_then(Option::as_ref)
            .ok_or_else(|| format!("type {type_id} is not a record"))?
            .clone();
        let size: u64 = rt
            .fields
            .iter()
            .map(|f| u64::from(ser_type_size(&f.ty)))
            .sum();
        let raw = self.slice(ptr, size)?.to_vec();
        let mut fields = Vec::with_capacity(rt.fields.len());
        let mut at = 0usize;
        for f in &rt.fields {
            let n = ser_type_size(&f.ty) as usize;
            fields.push(self.element(&f.ty, &raw[at..at + n], depth)?);
            at += n;
        }
        Ok(IValue::Record(fields))
    }

    /// Decodes one packed element/field (`raw` has exactly `ser_type_size(ty)` bytes).
    fn element(&mut self, ty: &IType, raw: &[u8], depth: usize) -> Result<IValue, String> {
        let u32_at = |i: usize| u32::from_le_bytes([raw[i], raw[i + 1], raw[i + 2], raw[i + 3]]);
        let u64_le = || {
            let mut b = [0u8; 8];
            b.copy_from_slice(&raw[..8]);
            u64::from_le_bytes(b)
        };
        Ok(match ty {
            IType::Boolean => IValue::Boolean(raw[0] != 0),
            IType::S8 => IValue::S8(raw[0] as i8),
            IType::U8 => IValue::U8(raw[0]),
            IType::S16 => IValue::S16(i16::from_le_bytes([raw[0], raw[1]])),
            IType::U16 => IValue::U16(u16::from_le_bytes([raw[0], raw[1]])),
            IType::S32 => IValue::S32(u32_at(0) as i32),
            IType::I32 => IValue::I32(u32_at(0) as i32),
            IType::U32 => IValue::U32(u32_at(0)),
            IType::F32 => IValue::F32(f32::from_bits(u32_at(0))),
            IType::S64 => IValue::S64(u64_le() as i64),
            IType::I64 => IValue::I64(u64_le() as i64),
            IType::U64 => IValue::U64(u64_le()),
            IType::F64 => IValue::F64(f64::from_bits(u64_le())),
            IType::String => IValue::String(self.string(u32_at(0), u32_at(4))?),
            IType::ByteArray => IValue::ByteArray(self.bytes(u32_at(0), u32_at(4))?),
            IType::Array(inner) => self.array(inner, u32_at(0), u32_at(4), depth + 1)?,
            IType::Record(id) => self.record(*id, u32_at(0), depth + 1)?,
        })
    }
}

/// What lowering needs from the module it writes into.
pub(crate) trait LowerTarget {
    /// Calls the module's `allocate(size, tag)`.
    fn allocate(&mut self, size: u32, tag: i32) -> Result<u32, String>;
    /// Writes bytes at `ptr` (bounds-checked).
    fn write(&mut self, ptr: u32, bytes: &[u8]) -> Result<(), String>;
}

/// Allocates and writes raw bytes; returns the pointer (0 for no bytes, as the SDK does).
pub(crate) fn lower_bytes(t: &mut dyn LowerTarget, bytes: &[u8]) -> Result<u32, String> {
    let len = u32::try_from(bytes.len()).map_err(|_| "value larger than 4 GiB".to_string())?;
    let ptr = t.allocate(len, BYTES_TAG)?;
    if len > 0 {
        t.write(ptr, bytes)?;
    }
    Ok(ptr)
}

/// Lowers an array; returns (ptr, element count).
pub(crate) fn lower_array(
    t: &mut dyn LowerTarget,
    values: &[IValue],
    depth: usize,
) -> Result<(u32, u32), String> {
    let Some(first) = values.first() else {
        return Ok((0, 0));
    };
    if depth > MAX_VALUE_DEPTH {
        return Err("value nested too deeply".into());
    }
    let count = u32::try_from(values.len()).map_err(|_| "array too long".to_string())?;
    let size = u64::from(ser_value_size(first)) * u64::from(count);
    let size = u32::try_from(size).map_err(|_| "array larger than 4 GiB".to_string())?;
    let ptr = t.allocate(size, type_tag(first))?;
    let mut buf = Vec::with_capacity(size as usize);
    for v in values {
        if std::mem::discriminant(v) != std::mem::discriminant(first) {
            return Err(format!(
                "array mixes {} and {} elements",
                first.kind(),
                v.kind()
            ));
        }
        encode_packed(t, v, &mut buf, depth)?;
    }
    t.write(ptr, &buf)?;
    Ok((ptr, count))
}

/// Lowers a record; returns its pointer.
pub(crate) fn lower_record(
    t: &mut dyn LowerTarget,
    fields: &[IValue],
    depth: usize,
) -> Result<u32, String> {
    if depth > MAX_VALUE_DEPTH {
        return Err("value nested too deeply".into());
    }
    let mut buf = Vec::with_capacity(fields.len() * 4);
    for v in fields {
        encode_packed(t, v, &mut buf, depth)?;
    }
    lower_bytes(t, &buf)
}

/// Appends the packed form of `v` to `buf`, lowering what it points to first.
fn encode_packed(
    t: &mut dyn LowerTarget,
    v: &IValue,
    buf: &mut Vec<u8>,
    depth: usize,
) -> Result<(), String> {
    match v {
        IValue::Boolean(b) => buf.push(u8::from(*b)),
        IValue::S8(x) => buf.push(*x as u8),
        IValue::U8(x) => buf.push(*x),
        IValue::S16(x) => buf.extend_from_slice(&x.to_le_bytes()),
        IValue::U16(x) => buf.extend_from_slice(&x.to_le_bytes()),
        IValue::S32(x) | IValue::I32(x) => buf.extend_from_slice(&x.to_le_bytes()),
        IValue::U32(x) => buf.extend_from_slice(&x.to_le_bytes()),
        IValue::S64(x) | IValue::I64(x) => buf.extend_from_slice(&x.to_le_bytes()),
        IValue::U64(x) => buf.extend_from_slice(&x.to_le_bytes()),
        IValue::F32(x) => buf.extend_from_slice(&x.to_le_bytes()),
        IValue::F64(x) => buf.extend_from_slice(&x.to_le_bytes()),
        IValue::String(s) => {
            let ptr = lower_bytes(t, s.as_bytes())?;
            buf.extend_from_slice(&ptr.to_le_bytes());
            buf.extend_from_slice(&(s.len() as u32).to_le_bytes());
        }
        IValue::ByteArray(b) => {
            let ptr = lower_bytes(t, b)?;
            buf.extend_from_slice(&ptr.to_le_bytes());
            buf.extend_from_slice(&(b.len() as u32).to_le_bytes());
        }
        IValue::Array(items) => {
            let (ptr, n) = lower_array(t, items, depth + 1)?;
            buf.extend_from_slice(&ptr.to_le_bytes());
            buf.extend_from_slice(&n.to_le_bytes());
        }
        IValue::Record(fields) => {
            let ptr = lower_record(t, fields, depth + 1)?;
            buf.extend_from_slice(&ptr.to_le_bytes());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::NamedType;

    /// A bump allocator over a Vec, standing in for a module's memory.
    struct VecTarget {
        mem: Vec<u8>,
        next: u32,
        calls: Vec<(u32, i32)>,
    }

    impl LowerTarget for VecTarget {
        fn allocate(&mut self, size: u32, tag: i32) -> Result<u32, String> {
            self.calls.push((size, tag));
            if size == 0 {
                return Ok(0);
            }
            let p = self.next;
            self.next += size;
            Ok(p)
        }
        fn write(&mut self, ptr: u32, bytes: &[u8]) -> Result<(), String> {
            let end = ptr as usize + bytes.len();
            self.mem
                .get_mut(ptr as usize..end)
                .ok_or("oob")?
                .copy_from_slice(bytes);
            Ok(())
        }
    }

    #[test]
    fn nested_values_round_trip_through_memory() {
        let records = vec![
            Some(RecordType {
                name: "Inner".into(),
                fields: vec![NamedType {
                    name: "tags".into(),
                    ty: IType::Array(Box::new(IType::String)),
                }],
            }),
            Some(RecordType {
                name: "Outer".into(),
                fields: vec![
                    NamedType {
                        name: "flag".into(),
                        ty: IType::Boolean,
                    },
                    NamedType {
                        name: "n".into(),
                        ty: IType::S16,
                    },
                    NamedType {
                        name: "inner".into(),
                        ty: IType::Record(0),
                    },
                    NamedType {
                        name: "grid".into(),
                        ty: IType::Array(Box::new(IType::Array(Box::new(IType::U64)))),
                    },
                    NamedType {
                        name: "raw".into(),
                        ty: IType::ByteArray,
                    },
                ],
            }),
        ];
        let value = IValue::Record(vec![
            IValue::Boolean(true),
            IValue::S16(-2),
            IValue::Record(vec![IValue::Array(vec![
                IValue::String("a".into()),
                IValue::String(String::new()),
            ])]),
            IValue::Array(vec![
                IValue::Array(vec![IValue::U64(u64::MAX), IValue::U64(1)]),
                IValue::Array(vec![]),
            ]),
            IValue::ByteArray(vec![1, 2, 3]),
        ]);
        let mut t = VecTarget {
            mem: vec![0; 4096],
            next: 8,
            calls: vec![],
        };
        let IValue::Record(fields) = &value else {
            unreachable!()
        };
        let ptr = lower_record(&mut t, fields, 0).expect("lowers");
        let mut lifter = Lifter {
            mem: &t.mem,
            records: &records,
            budget: 1 << 20,
        };
        assert_eq!(lifter.record(1, ptr, 0).expect("lifts"), value);
    }

    #[test]
    fn hostile_pointers_and_sizes_are_errors() {
        let mem = vec![0u8; 64];
        let records = vec![];
        let mut l = Lifter {
            mem: &mem,
            records: &records,
            budget: 1 << 20,
        };
        assert!(l.string(60, 10).is_err());
        assert!(l.bytes(u32::MAX, 2).is_err());
        assert!(l.array(&IType::U64, 0, u32::MAX, 0).is_err());
        assert!(l.record(3, 0, 0).is_err());
        // Budget: 64 elements each pointing at the same 64 bytes exceed a 1 KiB budget.
        let mut mem = vec![0u8; 1024];
        for i in 0..64 {
            mem[i * 8..i * 8 + 4].copy_from_slice(&0u32.to_le_bytes());
            mem[i * 8 + 4..i * 8 + 8].copy_from_slice(&64u32.to_le_bytes());
        }
        let mut l = Lifter {
            mem: &mem,
            records: &records,
            budget: 1024,
        };
        assert!(l.array(&IType::ByteArray, 0, 64, 0).is_err());
    }
}
