//! Files built byte by byte, valid and broken, read back through `GgufFile`.
use std::io::Write;

use super::*;

/// The encoding of a metadata value: its type id and bytes.
fn encode(v: &MetaValue) -> (u32, Vec<u8>) {
    match v {
        MetaValue::U8(x) => (0, x.to_le_bytes().to_vec()),
        MetaValue::I8(x) => (1, x.to_le_bytes().to_vec()),
        MetaValue::U16(x) => (2, x.to_le_bytes().to_vec()),
        MetaValue::I16(x) => (3, x.to_le_bytes().to_vec()),
        MetaValue::U32(x) => (4, x.to_le_bytes().to_vec()),
        MetaValue::I32(x) => (5, x.to_le_bytes().to_vec()),
        MetaValue::F32(x) => (6, x.to_le_bytes().to_vec()),
        MetaValue::Bool(x) => (7, vec![u8::from(*x)]),
        MetaValue::String(s) => (8, string(s)),
        MetaValue::Array(items) => {
            let elem_ty = items.first().map_or(4, |first| encode(first).0);
            let mut out = elem_ty.to_le_bytes().to_vec();
            out.extend((items.len() as u64).to_le_bytes());
            for item in items {
                out.extend(encode(item).1);
            }
            (9, out)
        }
        MetaValue::U64(x) => (10, x.to_le_bytes().to_vec()),
        MetaValue::I64(x) => (11, x.to_le_bytes().to_vec()),
        MetaValue::F64(x) => (12, x.to_le_bytes().to_vec()),
    }
}

fn string(s: &str) -> Vec<u8> {
    let mut out = (s.len() as u64).to_le_bytes().to_vec();
    out.extend(s.as_bytes());
    out
}

struct Tensor {
    name: &'static str,
    /// GGUF order, innermost first.
    ne: Vec<u64>,
    ty: u32,
    data: Vec<u8>,
}

/// A GGUF file and where its parts end, for cutting and patching.
struct Built {
    bytes: Vec<u8>,
    kv_ends: Vec<usize>,
    info_ends: Vec<usize>,
}

impl Built {
    /// Overwrites the u32 type id of tensor info `i`.
    fn set_type(&mut self, i: usize, id: u32) {
        let at = self.info_ends[i] - 12;
        self.bytes[at..at + 4].copy_from_slice(&id.to_le_bytes());
    }

    /// Overwrites the u64 data offset of tensor info `i`.
    fn set_offset(&mut self, i: usize, offset: u64) {
        let at = self.info_ends[i] - 8;
        self.bytes[at..at + 8].copy_from_slice(&offset.to_le_bytes());
    }
}

/// Lays out a file as gguf-py does: tensors packed in order, each padded to `alignment`, the
/// last ending at the end of the file.
fn build(version: u32, kvs: &[(&str, MetaValue)], tensors: &[Tensor], alignment: usize) -> Built {
    let mut bytes = b"GGUF".to_vec();
    bytes.extend(version.to_le_bytes());
    bytes.extend((tensors.len() as u64).to_le_bytes());
    bytes.extend((kvs.len() as u64).to_le_bytes());
    let mut kv_ends = Vec::new();
    for (key, value) in kvs {
        let (ty, encoded) = encode(value);
        bytes.extend(string(key));
        bytes.extend(ty.to_le_bytes());
        bytes.extend(encoded);
        kv_ends.push(bytes.len());
    }
    let mut info_ends = Vec::new();
    let mut offset = 0;
    for t in tensors {
        bytes.extend(string(t.name));
        bytes.extend((t.ne.len() as u32).to_le_bytes());
        for d in &t.ne {
            bytes.extend(d.to_le_bytes());
        }
        bytes.extend(t.ty.to_le_bytes());
        bytes.extend((offset as u64).to_le_bytes());
        info_ends.push(bytes.len());
        offset += t.data.len().next_multiple_of(alignment);
    }
    for (i, t) in tensors.iter().enumerate() {
        bytes.resize(bytes.len().next_multiple_of(alignment), 0);
        bytes.extend(&t.data);
        if i + 1 < tensors.len() {
            bytes.resize(bytes.len().next_multiple_of(alignment), 0);
        }
    }
    Built { bytes, kv_ends, info_ends }
}

fn sample_metadata() -> Vec<(&'static str, MetaValue)> {
    vec![
        ("general.architecture", MetaValue::String("llama".into())),
        ("llama.block_count", MetaValue::U32(2)),
        ("t.u8", MetaValue::U8(200)),
        ("t.i8", MetaValue::I8(-3)),
        ("t.u16", MetaValue::U16(60_000)),
        ("t.i16", MetaValue::I16(-30_000)),
        ("t.i32", MetaValue::I32(-7)),
        ("t.f32", MetaValue::F32(1.5e-5)),
        ("t.bool", MetaValue::Bool(true)),
        ("t.u64", MetaValue::U64(1 << 40)),
        ("t.i64", MetaValue::I64(-(1 << 40))),
        ("t.f64", MetaValue::F64(-0.25)),
        ("t.tokens", MetaValue::Array(vec![MetaValue::String("a".into()), MetaValue::String("é".into())])),
        (
            "t.nested",
            MetaValue::Array(vec![
                MetaValue::Array(vec![MetaValue::U8(1), MetaValue::U8(2)]),
                MetaValue::Array(vec![MetaValue::U8(3)]),
            ]),
        ),
        ("t.empty", MetaValue::Array(vec![])),
    ]
}

fn le_bytes<T: Copy, const N: usize>(values: &[T], to: fn(T) -> [u8; N]) -> Vec<u8> {
    values.iter().flat_map(|&v| to(v)).collect()
}

/// One tensor of each stored float type and one Q4_1: `a` F32 `[2, 3]`, `h` F16 `[4]`,
/// `b` BF16 `[2]`, `q` Q4_1 `[2, 32]` (block 0: 0.5 · q - 2, block 1: 1 · q + 0).
fn sample_tensors() -> Vec<Tensor> {
    let f16s = [1.0, -2.0, 0.5, 65504.0].map(f16::from_f32);
    let mut q = Vec::new();
    for (d, m) in [(0.5f32, -2.0f32), (1.0, 0.0)] {
        q.extend(f16::from_f32(d).to_le_bytes());
        q.extend(f16::from_f32(m).to_le_bytes());
        q.extend((0..16u8).map(|j| j | ((15 - j) << 4)));
    }
    vec![
        Tensor {
            name: "a",
            ne: vec![3, 2],
            ty: 0,
            data: le_bytes(&[0.0f32, 1.0, 2.0, 3.0, 4.0, 5.0], f32::to_le_bytes),
        },
        Tensor { name: "h", ne: vec![4], ty: 1, data: le_bytes(&f16s, f16::to_le_bytes) },
        Tensor {
            name: "b",
            ne: vec![2],
            ty: 30,
            data: le_bytes(&[1.0f32, -3.0].map(bf16::from_f32), bf16::to_le_bytes),
        },
        Tensor { name: "q", ne: vec![32, 2], ty: 3, data: q },
    ]
}

fn sample() -> Built {
    build(3, &sample_metadata(), &sample_tensors(), 32)
}

fn write_temp(bytes: &[u8]) -> tempfile::NamedTempFile {
    let mut file = tempfile::NamedTempFile::new().unwrap();
    file.write_all(bytes).unwrap();
    file
}

fn open_bytes(bytes: &[u8]) -> (tempfile::NamedTempFile, GgufFile) {
    let file = write_temp(bytes);
    let gguf = GgufFile::open(file.path()).unwrap();
    (file, gguf)
}

/// The problem `open` reports for `bytes`, after checking that the error names the file.
fn problem(bytes: &[u8]) -> String {
    let file = write_temp(bytes);
    match GgufFile::open(file.path()) {
        Err(EngineError::BadFile { path, problem }) => {
            assert_eq!(path, file.path());
            problem
        }
        Err(other) => panic!("expected BadFile, got {other}"),
        Ok(_) => panic!("expected an error"),
    }
}

fn assert_problem(bytes: &[u8], expected: &str) {
    let problem = problem(bytes);
    assert!(problem.contains(expected), "problem {problem:?} does not contain {expected:?}");
}

/// A header declaring `tensors` tensors and `kvs` metadata entries, followed by `rest`.
fn header(version: u32, tensors: u64, kvs: u64, rest: &[u8]) -> Vec<u8> {
    let mut bytes = b"GGUF".to_vec();
    bytes.extend(version.to_le_bytes());
    bytes.extend(tensors.to_le_bytes());
    bytes.extend(kvs.to_le_bytes());
    bytes.extend(rest);
    bytes
}

#[test]
fn parses_metadata_and_tensor_table() {
    let (_file, gguf) = open_bytes(&sample().bytes);
    assert_eq!(gguf.version, 3);
    assert_eq!(gguf.architecture(), Some("llama"));
    for (key, value) in sample_metadata() {
        assert_eq!(gguf.meta(key), Some(&value), "{key}");
    }
    assert_eq!(gguf.metadata.len(), sample_metadata().len());
    let table: Vec<_> =
        gguf.tensors().iter().map(|t| (t.name.as_str(), t.shape.clone(), t.ty, t.offset, t.n_bytes)).collect();
    assert_eq!(
        table,
        [
            ("a", vec![2, 3], GgmlType::F32, 0, 24),
            ("h", vec![4], GgmlType::F16, 32, 8),
            ("b", vec![2], GgmlType::BF16, 64, 4),
            ("q", vec![2, 32], GgmlType::Q4_1, 96, 40),
        ]
    );
    assert_eq!(gguf.tensor_info("q").map(GgufTensorInfo::n_elements), Some(64));
    assert!(gguf.tensor_info("nope").is_none());
    assert_eq!(gguf.tensor_bytes("b").unwrap(), &[0x80, 0x3F, 0x40, 0xC0]);
}

#[test]
fn version_2_is_read() {
    let (_file, gguf) = open_bytes(&build(2, &sample_metadata(), &sample_tensors(), 32).bytes);
    assert_eq!(gguf.version, 2);
    assert_eq!(gguf.tensors().len(), 4);
}

#[test]
fn loads_tensors_in_pytorch_order() {
    let (_file, gguf) = open_bytes(&sample().bytes);
    let a = gguf.load("a").unwrap();
    assert_eq!(a.shape, [2, 3]);
    assert_eq!(a.to_f32(), [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]);
    let h = gguf.load("h").unwrap();
    assert!(matches!(h.data, HostData::F16(_)));
    assert_eq!(h.to_f32(), [1.0, -2.0, 0.5, 65504.0]);
    let b = gguf.load("b").unwrap();
    assert!(matches!(b.data, HostData::BF16(_)));
    assert_eq!(b.to_f32(), [1.0, -3.0]);
    let h32 = gguf.load_f32("h").unwrap();
    assert!(matches!(h32.data, HostData::F32(_)));
    assert_eq!(h32.to_f32(), [1.0, -2.0, 0.5, 65504.0]);
    let q = gguf.load("q").unwrap();
    assert_eq!(q.shape, [2, 32]);
    let q = q.into_f32();
    for j in 0..16 {
        assert_eq!(q[j], j as f32 * 0.5 - 2.0);
        assert_eq!(q[j + 16], (15 - j) as f32 * 0.5 - 2.0);
        assert_eq!(q[32 + j], j as f32);
        assert_eq!(q[48 + j], (15 - j) as f32);
    }
}

#[test]
fn meta_value_accessors() {
    assert_eq!(MetaValue::U8(7).as_u64(), Some(7));
    assert_eq!(MetaValue::I32(7).as_u64(), Some(7));
    assert_eq!(MetaValue::I64(-1).as_u64(), None);
    assert_eq!(MetaValue::F32(1.0).as_u64(), None);
    assert_eq!(MetaValue::F32(1.5).as_f64(), Some(1.5));
    assert_eq!(MetaValue::I16(-2).as_f64(), Some(-2.0));
    assert_eq!(MetaValue::String("x".into()).as_f64(), None);
    assert_eq!(MetaValue::String("x".into()).as_str(), Some("x"));
    assert_eq!(MetaValue::Bool(true).as_bool(), Some(true));
    assert_eq!(MetaValue::U8(1).as_bool(), None);
    assert_eq!(MetaValue::Array(vec![MetaValue::U8(1)]).as_array(), Some(&[MetaValue::U8(1)][..]));
    assert_eq!(MetaValue::U8(1).as_array(), None);
}

#[test]
fn type_ids_round_trip_and_name_unsupported_types() {
    for ty in GgmlType::ALL {
        assert_eq!(GgmlType::from_id(ty.id()), Some(ty));
        assert_eq!(ggml_type_name(ty.id()), Some(ty.name()));
    }
    assert_eq!(GgmlType::from_id(6), None);
    assert_eq!(ggml_type_name(6), Some("Q5_0"));
    assert_eq!(ggml_type_name(4), None);
}

#[test]
fn missing_tensor_names_file_and_tensor() {
    let (file, gguf) = open_bytes(&sample().bytes);
    for result in [gguf.load("blk.0.ffn_up.weight"), gguf.load_f32("blk.0.ffn_up.weight")] {
        let err = result.unwrap_err();
        assert!(matches!(err, EngineError::BadFile { .. }));
        let text = err.to_string();
        assert!(text.contains(&file.path().display().to_string()), "{text}");
        assert!(text.contains("no tensor named 'blk.0.ffn_up.weight'"), "{text}");
    }
    assert!(gguf.tensor_bytes("x").is_err());
}

#[test]
fn missing_file_is_an_io_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("absent.gguf");
    assert!(matches!(GgufFile::open(&path), Err(EngineError::Io { path: p, .. }) if p == path));
}

/// `problem` fails the test on a panic, an `Ok` or an error other than `BadFile` naming the file.
#[test]
fn every_truncation_is_an_error() {
    let bytes = sample().bytes;
    open_bytes(&bytes);
    for len in 0..bytes.len() {
        problem(&bytes[..len]);
    }
}

#[test]
fn truncation_points_are_reported() {
    let built = sample();
    let cut = |len: usize| &built.bytes[..len];
    assert_problem(cut(0), "truncated: the header ends past the end of the file (0 bytes)");
    assert_problem(cut(10), "truncated: the header ends past the end of the file (10 bytes)");
    let mid_value = built.kv_ends[1] - 2;
    assert_problem(
        cut(mid_value),
        &format!(
            "truncated: metadata entry 2 of 15 ('llama.block_count') ends past the end of the file ({mid_value} bytes)"
        ),
    );
    let mid_key = built.kv_ends[0] + 9;
    assert_problem(
        cut(mid_key),
        "metadata entry 2 of 15: string of 17 bytes runs past the end of the file (1 bytes left)",
    );
    let mid_table = built.info_ends[2] - 4;
    assert_problem(
        cut(mid_table),
        &format!("truncated: tensor info 3 of 4 ends past the end of the file ({mid_table} bytes)"),
    );
    let mid_data = built.bytes.len() - 1;
    assert_problem(
        cut(mid_data),
        &format!(
            "tensor 'q' data [file offset {mid_data_start}, 40 bytes] lies past the end of the file ({mid_data} bytes)",
            mid_data_start = mid_data - 39
        ),
    );
}

#[test]
fn tensor_data_past_the_end() {
    let mut built = sample();
    let data_start = open_bytes(&built.bytes).1.data_start as u128;
    let len = built.bytes.len();
    built.set_offset(0, 1 << 20);
    assert_problem(
        &built.bytes,
        &format!(
            "tensor 'a' data [file offset {}, 24 bytes] lies past the end of the file ({len} bytes)",
            data_start + (1 << 20)
        ),
    );
    built.set_offset(0, u64::MAX - 31);
    let start = data_start + u128::from(u64::MAX - 31);
    assert_problem(&built.bytes, &format!("tensor 'a' data [file offset {start}, 24 bytes] lies past the end"));
}

#[test]
fn misaligned_offset() {
    let mut built = sample();
    built.set_offset(1, 36);
    assert_problem(&built.bytes, "tensor 'h' offset 36 is not a multiple of the alignment 32");
}

#[test]
fn unknown_and_unsupported_tensor_types() {
    let mut built = sample();
    built.set_type(1, 99);
    assert_problem(&built.bytes, "tensor 'h' has unknown type id 99");
    built.set_type(1, 6);
    assert_problem(&built.bytes, "tensor 'h' has type Q5_0 (id 6), which is not supported");
    built.set_type(1, 16);
    assert_problem(&built.bytes, "tensor 'h' has type IQ2_XXS (id 16), which is not supported");
}

#[test]
fn huge_metadata_lengths() {
    let huge = 1u64 << 60;
    let key_len = header(3, 0, 1, &huge.to_le_bytes());
    assert_problem(
        &key_len,
        "metadata entry 1 of 1: string of 1152921504606846976 bytes runs past the end of the file (0 bytes left)",
    );
    let mut value = string("k");
    value.extend(8u32.to_le_bytes());
    value.extend(huge.to_le_bytes());
    value.extend(b"abc");
    assert_problem(
        &header(3, 0, 1, &value),
        "metadata entry 1 of 1 ('k'): string of 1152921504606846976 bytes runs past the end of the file (3 bytes left)",
    );
    let mut array = string("k");
    array.extend(9u32.to_le_bytes());
    array.extend(4u32.to_le_bytes());
    array.extend(huge.to_le_bytes());
    array.extend([0; 16]);
    assert_problem(&header(3, 0, 1, &array), "metadata entry 1 of 1 ('k'): 1152921504606846976 array elements need at least 4611686018427387904 bytes but only 16 are left in the file");
    let mut overflow = string("k");
    overflow.extend(9u32.to_le_bytes());
    overflow.extend(12u32.to_le_bytes());
    overflow.extend(u64::MAX.to_le_bytes());
    assert_problem(&header(3, 0, 1, &overflow), "18446744073709551615 array elements need at least 2^64 bytes");
}

#[test]
fn huge_counts() {
    assert_problem(
        &header(3, 0, 1 << 60, &[]),
        "truncated: metadata entry 1 of 1152921504606846976 ends past the end of the file (24 bytes); \
         1152921504606846976 metadata entries need at least 14987979559889010688 bytes, more than the file holds",
    );
    assert_problem(
        &header(3, 1 << 60, 0, &[]),
        "truncated: tensor info 1 of 1152921504606846976 ends past the end of the file (24 bytes); \
         1152921504606846976 tensor infos need at least 2^64 bytes, more than the file holds",
    );
}

#[test]
fn bad_magic_and_versions() {
    let mut bytes = sample().bytes;
    bytes[..4].copy_from_slice(b"PK\x03\x04");
    assert_problem(&bytes, "not a GGUF file: it starts with bytes 50 4b 03 04, not 'GGUF'");
    assert_problem(&header(1, 0, 0, &[]), "GGUF version 1 is not supported (only 2 and 3)");
    assert_problem(&header(4, 0, 0, &[]), "GGUF version 4 is not supported");
    assert_problem(&header(3u32.swap_bytes(), 0, 0, &[]), "(the file is big-endian) is not supported");
}

fn one_tensor(ne: Vec<u64>, ty: u32, data_len: usize) -> Vec<u8> {
    build(3, &[], &[Tensor { name: "t", ne, ty, data: vec![0; data_len] }], 32).bytes
}

#[test]
fn bad_shapes() {
    assert_problem(&one_tensor(vec![4, 0], 0, 0), "tensor 't' has a zero dimension in shape [0, 4]");
    assert_problem(&one_tensor(vec![1; 5], 0, 4), "tensor 't' has 5 dimensions (at most 4)");
    assert_problem(
        &one_tensor(vec![16, 4], 3, 40),
        "tensor 't' has rows of 16 elements, not a multiple of the Q4_1 block size (32)",
    );
    assert_problem(
        &one_tensor(vec![1 << 32, 1 << 32], 0, 0),
        "tensor 't' shape [4294967296, 4294967296] has too many elements",
    );
    assert_problem(&one_tensor(vec![1 << 32; 3], 0, 0), "has too many elements");
}

#[test]
fn scalar_tensor_has_empty_shape() {
    let (_file, gguf) = open_bytes(&one_tensor(vec![], 0, 4));
    assert_eq!(gguf.load("t").unwrap().shape, Vec::<usize>::new());
}

#[test]
fn duplicate_names_and_keys() {
    let mut tensors = sample_tensors();
    tensors[2].name = "a";
    assert_problem(&build(3, &[], &tensors, 32).bytes, "tensor 'a' appears twice (tensor infos 1 and 3)");
    let kvs = [("k", MetaValue::U8(1)), ("k", MetaValue::U8(2))];
    assert_problem(&build(3, &kvs, &[], 32).bytes, "metadata entry 2 of 2 ('k'): the key appears twice");
}

#[test]
fn invalid_metadata_values() {
    let mut bad_utf8 = vec![2, 0, 0, 0, 0, 0, 0, 0, 0xC3, 0x28];
    bad_utf8.extend(4u32.to_le_bytes());
    bad_utf8.extend(1u32.to_le_bytes());
    assert_problem(&header(3, 0, 1, &bad_utf8), "metadata entry 1 of 1: string is not valid UTF-8");
    let mut bad_type = string("k");
    bad_type.extend(13u32.to_le_bytes());
    bad_type.extend([0; 8]);
    assert_problem(&header(3, 0, 1, &bad_type), "metadata entry 1 of 1 ('k'): unknown value type 13 (valid: 0 to 12)");
    let mut bad_bool = string("k");
    bad_bool.extend(7u32.to_le_bytes());
    bad_bool.push(2);
    assert_problem(&header(3, 0, 1, &bad_bool), "bool value 2 is neither 0 nor 1");
    let mut deep = MetaValue::U8(0);
    for _ in 0..=MAX_ARRAY_DEPTH {
        deep = MetaValue::Array(vec![deep]);
    }
    assert_problem(&build(3, &[("k", deep)], &[], 32).bytes, "arrays nested deeper than 8 levels");
}

#[test]
fn alignment_from_metadata() {
    let kvs = [("general.alignment", MetaValue::U32(64))];
    let (_file, gguf) = open_bytes(&build(3, &kvs, &sample_tensors(), 64).bytes);
    assert_eq!(gguf.data_start % 64, 0);
    assert_eq!(gguf.tensor_info("h").unwrap().offset, 64);
    assert_eq!(gguf.load("h").unwrap().to_f32(), [1.0, -2.0, 0.5, 65504.0]);
    let kvs = [("general.alignment", MetaValue::U32(24))];
    assert_problem(&build(3, &kvs, &[], 32).bytes, "metadata 'general.alignment' is U32(24), not a power of two");
}
