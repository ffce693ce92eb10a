//! GGUF files (llama.cpp's single-file checkpoints), versions 2 and 3, little-endian.
//!
//! Layout: a header (`"GGUF"`, u32 version, u64 tensor count, u64 metadata count), the metadata
//! key/value pairs, the tensor infos (name, dims, type, offset), then the data section at the next
//! multiple of `general.alignment` (default 32). The file is memory-mapped and the whole layout is
//! checked on open: no count or length read from the file sizes an allocation before it is bounded
//! by the bytes left, so a corrupt or hostile file gives a precise error instead of a huge
//! allocation or a panic, and every tensor's bytes are known to lie inside the file before any is
//! read.
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use half::{bf16, f16};

use super::host::{HostData, HostTensor};
use super::mapped::MappedFile;
use super::quant;
use super::stored::StoredTensor;
use crate::engine::error::{EngineError, Result};

/// Alignment of the data section and of tensor offsets when `general.alignment` is absent.
const DEFAULT_ALIGNMENT: u64 = 32;
/// ggml's `GGML_MAX_DIMS`.
const MAX_DIMS: u32 = 4;
/// Deepest nesting of metadata arrays accepted; real files nest at most once, and a bound keeps a
/// crafted file from exhausting the stack.
const MAX_ARRAY_DEPTH: usize = 8;
/// Smallest encoding of a metadata pair: empty key (u64 length), u32 type, 1-byte value.
const MIN_KV_BYTES: u64 = 8 + 4 + 1;
/// Smallest encoding of a tensor info: empty name, u32 n_dims = 0, u32 type, u64 offset.
const MIN_TENSOR_INFO_BYTES: u64 = 8 + 4 + 4 + 8;

/// A metadata value. Arrays hold values of one type (possibly arrays themselves).
#[derive(Debug, Clone, PartialEq)]
pub enum MetaValue {
    U8(u8),
    I8(i8),
    U16(u16),
    I16(i16),
    U32(u32),
    I32(i32),
    F32(f32),
    Bool(bool),
    String(String),
    Array(Vec<MetaValue>),
    U64(u64),
    I64(i64),
    F64(f64),
}

impl MetaValue {
    /// Any integer type holding a non-negative value: writers disagree on the width of counts.
    pub fn as_u64(&self) -> Option<u64> {
        match *self {
            MetaValue::U8(v) => Some(v.into()),
            MetaValue::U16(v) => Some(v.into()),
            MetaValue::U32(v) => Some(v.into()),
            MetaValue::U64(v) => Some(v),
            MetaValue::I8(v) => u64::try_from(v).ok(),
            MetaValue::I16(v) => u64::try_from(v).ok(),
            MetaValue::I32(v) => u64::try_from(v).ok(),
            MetaValue::I64(v) => u64::try_from(v).ok(),
            _ => None,
        }
    }

    /// Any numeric type, widened (64-bit integers may round).
    pub fn as_f64(&self) -> Option<f64> {
        match *self {
            MetaValue::F32(v) => Some(v.into()),
            MetaValue::F64(v) => Some(v),
            MetaValue::U8(v) => Some(v.into()),
            MetaValue::I8(v) => Some(v.into()),
            MetaValue::U16(v) => Some(v.into()),
            MetaValue::I16(v) => Some(v.into()),
            MetaValue::U32(v) => Some(v.into()),
            MetaValue::I32(v) => Some(v.into()),
            MetaValue::U64(v) => Some(v as f64),
            MetaValue::I64(v) => Some(v as f64),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            MetaValue::String(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_bool(&self) -> Option<bool> {
        match *self {
            MetaValue::Bool(b) => Some(b),
            _ => None,
        }
    }

    pub fn as_array(&self) -> Option<&[MetaValue]> {
        match self {
            MetaValue::Array(v) => Some(v),
            _ => None,
        }
    }
}

/// The tensor element types this crate decodes.
#[allow(non_camel_case_types)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GgmlType {
    F32,
    F16,
    BF16,
    Q4_0,
    Q4_1,
    Q8_0,
    Q4_K,
    Q5_K,
    Q6_K,
}

/// Every type id ggml has assigned (gguf-py's `GGMLQuantizationType`), so that an unsupported
/// tensor type is reported by name.
const GGML_TYPE_NAMES: &[(u32, &str)] = &[
    (0, "F32"),
    (1, "F16"),
    (2, "Q4_0"),
    (3, "Q4_1"),
    (6, "Q5_0"),
    (7, "Q5_1"),
    (8, "Q8_0"),
    (9, "Q8_1"),
    (10, "Q2_K"),
    (11, "Q3_K"),
    (12, "Q4_K"),
    (13, "Q5_K"),
    (14, "Q6_K"),
    (15, "Q8_K"),
    (16, "IQ2_XXS"),
    (17, "IQ2_XS"),
    (18, "IQ3_XXS"),
    (19, "IQ1_S"),
    (20, "IQ4_NL"),
    (21, "IQ3_S"),
    (22, "IQ2_S"),
    (23, "IQ4_XS"),
    (24, "I8"),
    (25, "I16"),
    (26, "I32"),
    (27, "I64"),
    (28, "F64"),
    (29, "IQ1_M"),
    (30, "BF16"),
    (34, "TQ1_0"),
    (35, "TQ2_0"),
    (39, "MXFP4"),
    (40, "NVFP4"),
    (41, "Q1_0"),
];

/// The name ggml gives a type id, supported here or not.
pub fn ggml_type_name(id: u32) -> Option<&'static str> {
    GGML_TYPE_NAMES.iter().find(|(i, _)| *i == id).map(|(_, name)| *name)
}

impl GgmlType {
    pub const ALL: [GgmlType; 9] = [
        GgmlType::F32,
        GgmlType::F16,
        GgmlType::BF16,
        GgmlType::Q4_0,
        GgmlType::Q4_1,
        GgmlType::Q8_0,
        GgmlType::Q4_K,
        GgmlType::Q5_K,
        GgmlType::Q6_K,
    ];

    /// The id stored in tensor infos.
    pub fn id(self) -> u32 {
        match self {
            GgmlType::F32 => 0,
            GgmlType::F16 => 1,
            GgmlType::Q4_0 => 2,
            GgmlType::Q4_1 => 3,
            GgmlType::Q8_0 => 8,
            GgmlType::Q4_K => 12,
            GgmlType::Q5_K => 13,
            GgmlType::Q6_K => 14,
            GgmlType::BF16 => 30,
        }
    }

    pub fn from_id(id: u32) -> Option<GgmlType> {
        GgmlType::ALL.into_iter().find(|t| t.id() == id)
    }

    pub fn name(self) -> &'static str {
        match self {
            GgmlType::F32 => "F32",
            GgmlType::F16 => "F16",
            GgmlType::BF16 => "BF16",
            GgmlType::Q4_0 => "Q4_0",
            GgmlType::Q4_1 => "Q4_1",
            GgmlType::Q8_0 => "Q8_0",
            GgmlType::Q4_K => "Q4_K",
            GgmlType::Q5_K => "Q5_K",
            GgmlType::Q6_K => "Q6_K",
        }
    }
}

impl fmt::Display for GgmlType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One entry of the tensor table, validated against the file.
#[derive(Debug, Clone, PartialEq)]
pub struct GgufTensorInfo {
    pub name: String,
    /// PyTorch order (outermost first): GGUF's `ne[]` reversed.
    pub shape: Vec<usize>,
    pub ty: GgmlType,
    /// Offset of the data from the start of the data section, as stored in the file.
    pub offset: u64,
    /// Size of the data in bytes.
    pub n_bytes: usize,
}

impl GgufTensorInfo {
    pub fn n_elements(&self) -> usize {
        self.shape.iter().product()
    }
}

/// An open, validated GGUF file. Tensor data stays in the memory map, which matrices read in
/// place share (see [`GgufFile::stored`]).
pub struct GgufFile {
    pub path: PathBuf,
    pub version: u32,
    pub metadata: BTreeMap<String, MetaValue>,
    mmap: Arc<MappedFile>,
    tensors: Vec<GgufTensorInfo>,
    by_name: HashMap<String, usize>,
    /// Absolute file offset of the data section.
    data_start: usize,
}

impl GgufFile {
    /// Maps the file and validates its header, metadata and tensor table. No tensor data is read.
    pub fn open(path: &Path) -> Result<GgufFile> {
        let mmap = MappedFile::open(path)?;
        let layout = parse(&mmap).map_err(|problem| EngineError::bad_file(path, problem))?;
        let by_name = layout.tensors.iter().enumerate().map(|(i, t)| (t.name.clone(), i)).collect();
        Ok(GgufFile {
            path: path.to_path_buf(),
            version: layout.version,
            metadata: layout.metadata,
            mmap: Arc::new(mmap),
            tensors: layout.tensors,
            by_name,
            data_start: layout.data_start,
        })
    }

    /// `general.architecture`, e.g. `"llama"`.
    pub fn architecture(&self) -> Option<&str> {
        self.meta("general.architecture").and_then(MetaValue::as_str)
    }

    pub fn meta(&self, key: &str) -> Option<&MetaValue> {
        self.metadata.get(key)
    }

    /// The tensor table, in file order.
    pub fn tensors(&self) -> &[GgufTensorInfo] {
        &self.tensors
    }

    pub fn tensor_info(&self, name: &str) -> Option<&GgufTensorInfo> {
        self.by_name.get(name).map(|&i| &self.tensors[i])
    }

    /// The mapped file, which [`StoredTensor`]s share.
    pub fn mapped(&self) -> Arc<MappedFile> {
        self.mmap.clone()
    }

    /// The stored bytes of a tensor, in its GGML encoding.
    pub fn tensor_bytes(&self, name: &str) -> Result<&[u8]> {
        let info = self.require(name)?;
        // In bounds and without overflow: checked by `validate_tensor` on open.
        let start = self.data_start + info.offset as usize;
        Ok(&self.mmap[start..start + info.n_bytes])
    }

    /// A tensor as stored, for reading in place: its encoding, shape and bytes in the shared map.
    pub fn stored(&self, name: &str) -> Result<StoredTensor> {
        let info = self.require(name)?;
        let start = self.data_start + info.offset as usize;
        Ok(StoredTensor {
            format: info.ty,
            shape: info.shape.clone(),
            map: self.mmap.clone(),
            range: start..start + info.n_bytes,
        })
    }

    /// A tensor in PyTorch shape order: F16 and BF16 keep their type, everything else becomes f32.
    pub fn load(&self, name: &str) -> Result<HostTensor> {
        let info = self.require(name)?;
        let bytes = self.tensor_bytes(name)?;
        let data = match info.ty {
            GgmlType::F16 => HostData::F16(bytes.chunks_exact(2).map(|b| f16::from_le_bytes([b[0], b[1]])).collect()),
            GgmlType::BF16 => {
                HostData::BF16(bytes.chunks_exact(2).map(|b| bf16::from_le_bytes([b[0], b[1]])).collect())
            }
            _ => HostData::F32(self.dequantize(info, bytes)?),
        };
        Ok(HostTensor { shape: info.shape.clone(), data })
    }

    /// A tensor in PyTorch shape order, always as f32.
    pub fn load_f32(&self, name: &str) -> Result<HostTensor> {
        let info = self.require(name)?;
        let data = self.dequantize(info, self.tensor_bytes(name)?)?;
        Ok(HostTensor::f32(info.shape.clone(), data))
    }

    fn require(&self, name: &str) -> Result<&GgufTensorInfo> {
        self.tensor_info(name)
            .ok_or_else(|| EngineError::bad_file(&self.path, format!("no tensor named '{name}' in this file")))
    }

    fn dequantize(&self, info: &GgufTensorInfo, bytes: &[u8]) -> Result<Vec<f32>> {
        let n = info.n_elements();
        let mut out = vec![0.0f32; n];
        quant::dequantize(info.ty, bytes, n, &mut out)
            .map_err(|e| EngineError::bad_file(&self.path, format!("tensor '{}': {e}", info.name)))?;
        Ok(out)
    }
}

/// What `parse` finds in a file's bytes.
struct Layout {
    version: u32,
    metadata: BTreeMap<String, MetaValue>,
    tensors: Vec<GgufTensorInfo>,
    data_start: usize,
}

/// Why a read stopped: the bytes ran out, or a value is invalid.
enum ReadError {
    Eof,
    Bad(String),
}

type Read<T> = std::result::Result<T, ReadError>;

/// Turns a read error into the problem text of `EngineError::BadFile`, naming what was being read
/// (`what`, e.g. "tensor info 3 of 272") so a truncation points at where the file stops. `note`
/// is appended to truncations.
fn in_context<'a>(what: &'a str, file_len: usize, note: &'a str) -> impl Fn(ReadError) -> String + 'a {
    move |e| match e {
        ReadError::Eof => format!("truncated: {what} ends past the end of the file ({file_len} bytes){note}"),
        ReadError::Bad(problem) => format!("{what}: {problem}"),
    }
}

/// Entries of a section that can fit in `available` bytes: the capacity to reserve for a count
/// read from the file, which may be corrupt.
fn plausible(count: u64, min_bytes: u64, available: usize) -> usize {
    count.min(available as u64 / min_bytes) as usize
}

/// Added to a truncation inside a section whose count could never fit in the file, so that a
/// corrupt count is recognisable as such.
fn count_note(count: u64, min_bytes: u64, available: usize, what: &str) -> String {
    match count.checked_mul(min_bytes) {
        Some(n) if n <= available as u64 => String::new(),
        needed => format!("; {count} {what} need at least {} bytes, more than the file holds", byte_count(needed)),
    }
}

/// A byte count that may have overflowed u64, for messages.
fn byte_count(n: Option<u64>) -> String {
    n.map_or_else(|| "2^64".to_string(), |n| n.to_string())
}

/// A position in the file's bytes; every read is bounds-checked.
struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn remaining(&self) -> usize {
        self.bytes.len() - self.pos
    }

    fn take(&mut self, n: usize) -> Read<&'a [u8]> {
        if n > self.remaining() {
            return Err(ReadError::Eof);
        }
        let out = &self.bytes[self.pos..self.pos + n];
        self.pos += n;
        Ok(out)
    }

    fn array<const N: usize>(&mut self) -> Read<[u8; N]> {
        let mut out = [0; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    fn u32(&mut self) -> Read<u32> {
        self.array().map(u32::from_le_bytes)
    }

    fn u64(&mut self) -> Read<u64> {
        self.array().map(u64::from_le_bytes)
    }

    /// A length-prefixed UTF-8 string.
    fn string(&mut self) -> Read<String> {
        let len = self.u64()?;
        if len > self.remaining() as u64 {
            return Err(ReadError::Bad(format!(
                "string of {len} bytes runs past the end of the file ({} bytes left)",
                self.remaining()
            )));
        }
        let bytes = self.take(len as usize)?;
        String::from_utf8(bytes.to_vec()).map_err(|e| ReadError::Bad(format!("string is not valid UTF-8 ({e})")))
    }

    /// Checks that `count` items of at least `min_bytes` each can fit in the bytes left, so that
    /// a count can size an allocation.
    fn check_count(&self, count: u64, min_bytes: u64, what: &str) -> Read<usize> {
        let needed = count.checked_mul(min_bytes);
        match needed {
            Some(n) if n <= self.remaining() as u64 => Ok(count as usize),
            _ => Err(ReadError::Bad(format!(
                "{count} {what} need at least {} bytes but only {} are left in the file",
                byte_count(needed),
                self.remaining()
            ))),
        }
    }
}

/// Validates the whole layout of a GGUF file held in `bytes`.
fn parse(bytes: &[u8]) -> std::result::Result<Layout, String> {
    let file_len = bytes.len();
    let mut cur = Cursor { bytes, pos: 0 };
    let (version, tensor_count, kv_count) = header(&mut cur).map_err(in_context("the header", file_len, ""))?;
    let metadata = metadata(&mut cur, kv_count)?;
    let alignment = alignment(&metadata)?;
    let raw = tensor_table(&mut cur, tensor_count)?;
    let data_start =
        align_up(cur.pos as u64, alignment).ok_or_else(|| "the data section starts past 2^64 bytes".to_string())?;
    let mut tensors = Vec::with_capacity(raw.len());
    let mut seen = HashMap::with_capacity(raw.len());
    for (i, t) in raw.into_iter().enumerate() {
        if let Some(first) = seen.insert(t.name.clone(), i) {
            return Err(format!("tensor '{}' appears twice (tensor infos {} and {})", t.name, first + 1, i + 1));
        }
        tensors.push(validate_tensor(t, data_start, alignment, file_len)?);
    }
    Ok(Layout { version, metadata, tensors, data_start: data_start as usize })
}

/// Magic, version and the two counts.
fn header(cur: &mut Cursor) -> Read<(u32, u64, u64)> {
    let magic: [u8; 4] = cur.array()?;
    if &magic != b"GGUF" {
        return Err(ReadError::Bad(format!(
            "not a GGUF file: it starts with bytes {:02x} {:02x} {:02x} {:02x}, not 'GGUF'",
            magic[0], magic[1], magic[2], magic[3]
        )));
    }
    let version = cur.u32()?;
    if !matches!(version, 2 | 3) {
        let hint = if matches!(version.swap_bytes(), 2 | 3) { " (the file is big-endian)" } else { "" };
        return Err(ReadError::Bad(format!("GGUF version {version}{hint} is not supported (only 2 and 3)")));
    }
    Ok((version, cur.u64()?, cur.u64()?))
}

/// The metadata pairs. Duplicate keys are rejected: which one a reader used would be arbitrary.
fn metadata(cur: &mut Cursor, kv_count: u64) -> std::result::Result<BTreeMap<String, MetaValue>, String> {
    let file_len = cur.bytes.len();
    let note = count_note(kv_count, MIN_KV_BYTES, cur.remaining(), "metadata entries");
    let mut metadata = BTreeMap::new();
    for i in 0..kv_count {
        let what = format!("metadata entry {} of {kv_count}", i + 1);
        let key = cur.string().map_err(in_context(&what, file_len, &note))?;
        let what = format!("{what} ('{key}')");
        let value = (|| {
            let ty = cur.u32()?;
            meta_value(cur, ty, 0)
        })()
        .map_err(in_context(&what, file_len, &note))?;
        if metadata.insert(key, value).is_some() {
            return Err(format!("{what}: the key appears twice"));
        }
    }
    Ok(metadata)
}

/// The smallest encoding of a value of metadata type `ty`, or `None` for an unknown type.
fn min_value_bytes(ty: u32) -> Option<u64> {
    Some(match ty {
        0 | 1 | 7 => 1,
        2 | 3 => 2,
        4..=6 => 4,
        8 | 10..=12 => 8,
        9 => 4 + 8,
        _ => return None,
    })
}

/// One metadata value of type `ty`, `depth` arrays deep.
fn meta_value(cur: &mut Cursor, ty: u32, depth: usize) -> Read<MetaValue> {
    Ok(match ty {
        0 => MetaValue::U8(u8::from_le_bytes(cur.array()?)),
        1 => MetaValue::I8(i8::from_le_bytes(cur.array()?)),
        2 => MetaValue::U16(u16::from_le_bytes(cur.array()?)),
        3 => MetaValue::I16(i16::from_le_bytes(cur.array()?)),
        4 => MetaValue::U32(u32::from_le_bytes(cur.array()?)),
        5 => MetaValue::I32(i32::from_le_bytes(cur.array()?)),
        6 => MetaValue::F32(f32::from_le_bytes(cur.array()?)),
        7 => match cur.array::<1>()?[0] {
            0 => MetaValue::Bool(false),
            1 => MetaValue::Bool(true),
            b => return Err(ReadError::Bad(format!("bool value {b} is neither 0 nor 1"))),
        },
        8 => MetaValue::String(cur.string()?),
        9 => meta_array(cur, depth)?,
        10 => MetaValue::U64(cur.u64()?),
        11 => MetaValue::I64(i64::from_le_bytes(cur.array()?)),
        12 => MetaValue::F64(f64::from_le_bytes(cur.array()?)),
        _ => return Err(ReadError::Bad(format!("unknown value type {ty} (valid: 0 to 12)"))),
    })
}

/// An array: element type, count, elements. The count is checked against the bytes left before
/// the vector is allocated.
fn meta_array(cur: &mut Cursor, depth: usize) -> Read<MetaValue> {
    if depth >= MAX_ARRAY_DEPTH {
        return Err(ReadError::Bad(format!("arrays nested deeper than {MAX_ARRAY_DEPTH} levels")));
    }
    let elem_ty = cur.u32()?;
    let min = min_value_bytes(elem_ty)
        .ok_or_else(|| ReadError::Bad(format!("array of unknown value type {elem_ty} (valid: 0 to 12)")))?;
    let count = cur.u64()?;
    let count = cur.check_count(count, min, "array elements")?;
    let mut items = Vec::with_capacity(count);
    for _ in 0..count {
        items.push(meta_value(cur, elem_ty, depth + 1)?);
    }
    Ok(MetaValue::Array(items))
}

/// `general.alignment`: a power of two, 32 when absent.
fn alignment(metadata: &BTreeMap<String, MetaValue>) -> std::result::Result<u64, String> {
    match metadata.get("general.alignment") {
        None => Ok(DEFAULT_ALIGNMENT),
        Some(v) => match v.as_u64() {
            Some(a) if a.is_power_of_two() => Ok(a),
            _ => Err(format!("metadata 'general.alignment' is {v:?}, not a power of two")),
        },
    }
}

fn align_up(pos: u64, alignment: u64) -> Option<u64> {
    Some(pos.checked_add(alignment - 1)? / alignment * alignment)
}

/// A tensor info as stored, before validation against the data section.
struct RawTensorInfo {
    name: String,
    /// GGUF order: innermost first.
    ne: Vec<u64>,
    type_id: u32,
    offset: u64,
}

fn tensor_table(cur: &mut Cursor, tensor_count: u64) -> std::result::Result<Vec<RawTensorInfo>, String> {
    let file_len = cur.bytes.len();
    let note = count_note(tensor_count, MIN_TENSOR_INFO_BYTES, cur.remaining(), "tensor infos");
    let mut infos = Vec::with_capacity(plausible(tensor_count, MIN_TENSOR_INFO_BYTES, cur.remaining()));
    for i in 0..tensor_count {
        let what = format!("tensor info {} of {tensor_count}", i + 1);
        infos.push(raw_tensor_info(cur).map_err(in_context(&what, file_len, &note))?);
    }
    Ok(infos)
}

fn raw_tensor_info(cur: &mut Cursor) -> Read<RawTensorInfo> {
    let name = cur.string()?;
    let n_dims = cur.u32()?;
    if n_dims > MAX_DIMS {
        return Err(ReadError::Bad(format!("tensor '{name}' has {n_dims} dimensions (at most {MAX_DIMS})")));
    }
    let ne = (0..n_dims).map(|_| cur.u64()).collect::<Read<Vec<u64>>>()?;
    Ok(RawTensorInfo { name, ne, type_id: cur.u32()?, offset: cur.u64()? })
}

/// Checks a tensor's shape, type, alignment and bounds, and computes its byte size.
fn validate_tensor(
    raw: RawTensorInfo,
    data_start: u64,
    alignment: u64,
    file_len: usize,
) -> std::result::Result<GgufTensorInfo, String> {
    let name = raw.name;
    let shape: Vec<u64> = raw.ne.iter().rev().copied().collect();
    if raw.ne.contains(&0) {
        return Err(format!("tensor '{name}' has a zero dimension in shape {shape:?}"));
    }
    let ty = GgmlType::from_id(raw.type_id).ok_or_else(|| match ggml_type_name(raw.type_id) {
        Some(known) => format!(
            "tensor '{name}' has type {known} (id {}), which is not supported (supported: {})",
            raw.type_id,
            GgmlType::ALL.map(GgmlType::name).join(", ")
        ),
        None => format!("tensor '{name}' has unknown type id {}", raw.type_id),
    })?;
    let n_elements = raw
        .ne
        .iter()
        .try_fold(1u64, |acc, &d| acc.checked_mul(d))
        .filter(|&n| n <= i64::MAX as u64)
        .ok_or_else(|| format!("tensor '{name}' shape {shape:?} has too many elements"))?;
    let (block_elements, block_bytes) = quant::block_size(ty);
    let row = raw.ne.first().copied().unwrap_or(1);
    if !row.is_multiple_of(block_elements as u64) {
        return Err(format!(
            "tensor '{name}' has rows of {row} elements, not a multiple of the {ty} block size ({block_elements})"
        ));
    }
    let n_bytes = n_elements / block_elements as u64 * block_bytes as u64;
    if !raw.offset.is_multiple_of(alignment) {
        return Err(format!("tensor '{name}' offset {} is not a multiple of the alignment {alignment}", raw.offset));
    }
    // u128: neither sum can overflow, and the message shows the true offset.
    let start = u128::from(data_start) + u128::from(raw.offset);
    if start + u128::from(n_bytes) > file_len as u128 {
        return Err(format!(
            "tensor '{name}' data [file offset {start}, {n_bytes} bytes] lies past the end of the file ({file_len} bytes)"
        ));
    }
    Ok(GgufTensorInfo {
        name,
        shape: shape.into_iter().map(|d| d as usize).collect(),
        ty,
        offset: raw.offset,
        n_bytes: n_bytes as usize,
    })
}

#[cfg(test)]
mod tests;
