use std::path::Path;

use super::*;
use crate::engine::weights::gguf::GgufFile;
use crate::engine::weights::quantize::quantize_to_vec;

fn string(s: &str) -> MetaValue {
    MetaValue::String(s.into())
}

/// One value of every type, arrays of strings, floats and ints, a nested and an empty array.
fn metadata() -> Vec<(String, MetaValue)> {
    let kvs = [
        ("general.architecture", string("llama")),
        ("t.u8", MetaValue::U8(200)),
        ("t.i8", MetaValue::I8(-3)),
        ("t.u16", MetaValue::U16(60_000)),
        ("t.i16", MetaValue::I16(-30_000)),
        ("t.u32", MetaValue::U32(4_000_000_000)),
        ("t.i32", MetaValue::I32(-7)),
        ("t.f32", MetaValue::F32(1.5e-5)),
        ("t.bool", MetaValue::Bool(true)),
        ("t.u64", MetaValue::U64(1 << 40)),
        ("t.i64", MetaValue::I64(-(1 << 40))),
        ("t.f64", MetaValue::F64(-0.25)),
        ("t.tokens", MetaValue::Array(vec![string("▁a"), string("<0x0A>"), string("")])),
        ("t.scores", MetaValue::Array(vec![MetaValue::F32(0.0), MetaValue::F32(-1.5)])),
        ("t.types", MetaValue::Array(vec![MetaValue::I32(1), MetaValue::I32(6)])),
        (
            "t.nested",
            MetaValue::Array(vec![
                MetaValue::Array(vec![MetaValue::U8(1), MetaValue::U8(2)]),
                MetaValue::Array(vec![MetaValue::I64(3)]),
            ]),
        ),
        ("t.empty", MetaValue::Array(vec![])),
    ];
    kvs.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
}

/// Tensors of several types and sizes (none a multiple of the alignment, so padding shows), with
/// their data.
fn tensors() -> Vec<(TensorEntry, Vec<u8>)> {
    let values = |n: usize| (0..n).map(|i| ((i * 37 % 101) as f32 - 50.0) / 17.0).collect::<Vec<f32>>();
    [
        TensorEntry::new("norm", vec![3], GgmlType::F32),
        TensorEntry::new("w.q4_0", vec![3, 64], GgmlType::Q4_0),
        TensorEntry::new("w.f16", vec![2, 3, 5], GgmlType::F16),
        TensorEntry::new("w.q6_k", vec![2, 256], GgmlType::Q6_K),
        TensorEntry::new("w.q4_k", vec![1, 1, 1, 256], GgmlType::Q4_K),
        TensorEntry::new("w.bf16", vec![7], GgmlType::BF16),
    ]
    .into_iter()
    .map(|t| {
        let n = t.shape.iter().product();
        let data = quantize_to_vec(t.ty, &values(n)).unwrap();
        (t, data)
    })
    .collect()
}

fn write(path: &Path, metadata: &[(String, MetaValue)], tensors: &[(TensorEntry, Vec<u8>)], piece: usize) {
    let table: Vec<TensorEntry> = tensors.iter().map(|(t, _)| t.clone()).collect();
    let mut writer = GgufWriter::create(path, metadata, &table).unwrap();
    for (_, data) in tensors {
        for chunk in data.chunks(piece) {
            writer.write_data(chunk).unwrap();
        }
    }
    assert_eq!(writer.finish().unwrap(), path);
}

/// The file reads back through the validating reader: every key and value, every tensor's
/// name, shape, type, aligned offset and bytes.
#[test]
fn round_trips_through_the_reader() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sub/dir/model.gguf");
    let tensors = tensors();
    write(&path, &metadata(), &tensors, usize::MAX);
    let gguf = GgufFile::open(&path).unwrap();
    assert_eq!(gguf.version, 3);
    for (key, value) in metadata() {
        assert_eq!(gguf.meta(&key), Some(&value), "{key}");
    }
    assert_eq!(gguf.metadata.len(), metadata().len());
    assert_eq!(gguf.tensors().len(), tensors.len());
    for (info, (entry, data)) in gguf.tensors().iter().zip(&tensors) {
        assert_eq!((&info.name, &info.shape, info.ty), (&entry.name, &entry.shape, entry.ty));
        assert_eq!(info.offset % 32, 0, "{}", info.name);
        assert_eq!(gguf.tensor_bytes(&entry.name).unwrap(), data.as_slice(), "{}", info.name);
    }
    let names: Vec<_> = std::fs::read_dir(path.parent().unwrap()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(names, ["model.gguf"], "no temporary file is left");
}

/// Data fed in pieces of any size gives the same file as whole tensors.
#[test]
fn pieces_of_any_size() {
    let dir = tempfile::tempdir().unwrap();
    let tensors = tensors();
    let whole = dir.path().join("whole.gguf");
    write(&whole, &metadata(), &tensors, usize::MAX);
    for piece in [1, 7, 32, 1000] {
        let path = dir.path().join(format!("piece-{piece}.gguf"));
        write(&path, &metadata(), &tensors, piece);
        assert_eq!(std::fs::read(&path).unwrap(), std::fs::read(&whole).unwrap(), "pieces of {piece}");
    }
}

/// Rewriting the files gguf-py wrote for the fixtures, from what the reader finds in them, gives
/// them back byte for byte: the layout is gguf-py's.
#[test]
fn reproduces_gguf_py_files() {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/quant");
    let dir = tempfile::tempdir().unwrap();
    for name in ["quant-types.gguf", "quantize-ref.gguf"] {
        let original = GgufFile::open(&fixtures.join(name)).unwrap();
        let metadata: Vec<_> = original.metadata.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        let tensors: Vec<_> = original
            .tensors()
            .iter()
            .map(|t| {
                let data = original.tensor_bytes(&t.name).unwrap().to_vec();
                (TensorEntry::new(t.name.clone(), t.shape.clone(), t.ty), data)
            })
            .collect();
        let path = dir.path().join(name);
        write(&path, &metadata, &tensors, 4096);
        assert!(std::fs::read(&path).unwrap() == std::fs::read(fixtures.join(name)).unwrap(), "{name} differs");
    }
}

#[test]
fn alignment_from_metadata() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.gguf");
    let mut metadata = metadata();
    metadata.push(("general.alignment".into(), MetaValue::U32(256)));
    write(&path, &metadata, &tensors(), usize::MAX);
    let gguf = GgufFile::open(&path).unwrap();
    assert!(gguf.tensors().iter().skip(1).all(|t| t.offset % 256 == 0 && t.offset > 0));
    assert_eq!(gguf.tensor_bytes("w.bf16").unwrap(), tensors()[5].1.as_slice());
    metadata.pop();
    metadata.push(("general.alignment".into(), MetaValue::U64(64)));
    let err = GgufWriter::create(&path, &metadata, &[]).err().unwrap().to_string();
    assert!(err.contains("general.alignment is U64(64), not a power of two as a u32"), "{err}");
}

fn create_error(metadata: &[(String, MetaValue)], tensors: &[TensorEntry]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.gguf");
    let err = GgufWriter::create(&path, metadata, tensors).err().expect("an error").to_string();
    assert!(err.contains(&path.display().to_string()), "{err}");
    err
}

#[test]
fn invalid_tables_are_refused() {
    let t = |name: &str, shape: Vec<usize>, ty| TensorEntry::new(name, shape, ty);
    let cases = [
        (vec![t("a", vec![32], GgmlType::F32), t("a", vec![32], GgmlType::F32)], "tensor 'a' appears twice"),
        (vec![t(&"x".repeat(64), vec![1], GgmlType::F32)], "is 64 bytes long (at most 63)"),
        (vec![t("a", vec![], GgmlType::F32)], "tensor 'a' has shape []: 1 to 4 non-zero dimensions"),
        (vec![t("a", vec![2, 0], GgmlType::F32)], "has shape [2, 0]"),
        (vec![t("a", vec![1; 5], GgmlType::F32)], "has shape [1, 1, 1, 1, 1]"),
        (
            vec![t("a", vec![256, 32], GgmlType::Q4_K)],
            "rows of 32 elements, not a multiple of the Q4_K block size (256)",
        ),
        (vec![t("a", vec![usize::MAX, 32], GgmlType::F32)], "has too many elements"),
    ];
    for (tensors, expected) in cases {
        let err = create_error(&[], &tensors);
        assert!(err.contains(expected), "{err:?} lacks {expected:?}");
    }
    let twice = [("k".to_string(), MetaValue::U8(1)), ("k".to_string(), MetaValue::U8(2))];
    assert!(create_error(&twice, &[]).contains("metadata key 'k' appears twice"));
    let mixed = [("k".to_string(), MetaValue::Array(vec![MetaValue::I32(1), MetaValue::F32(2.0)]))];
    assert!(create_error(&mixed, &[]).contains("metadata 'k': array element 1 is of type 6, element 0 of type 5"));
}

/// Too much data, data after the last tensor, and finishing early are errors, and an abandoned
/// or failed file never appears under its name.
#[test]
fn misuse_leaves_no_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.gguf");
    let table = [TensorEntry::new("a", vec![4], GgmlType::F32), TensorEntry::new("b", vec![2], GgmlType::F16)];
    let mut writer = GgufWriter::create(&path, &[], &table).unwrap();
    let err = writer.write_data(&[0; 17]).unwrap_err().to_string();
    assert!(err.contains("17 bytes for tensor 'a', which has only 16 bytes left of 16"), "{err}");
    writer.write_data(&[0; 10]).unwrap();
    let err = writer.finish().unwrap_err().to_string();
    assert!(err.contains("finished with tensor 'a' incomplete (10 of 16 bytes written)"), "{err}");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);

    let mut writer = GgufWriter::create(&path, &[], &table).unwrap();
    writer.write_data(&[0; 16]).unwrap();
    writer.write_data(&[0; 4]).unwrap();
    let err = writer.write_data(&[0]).unwrap_err().to_string();
    assert!(err.contains("1 bytes of data after the last tensor"), "{err}");
    drop(writer);
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}
