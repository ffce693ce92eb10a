//! Label files with problems: each bad line is rejected with its reason, the good ones imported
//! once, nothing panics, and exports read back as they were written.
use std::io::Write;
use std::path::Path;

use neuronav::science::labels::concepts::Concepts;
use neuronav::science::labels::interchange::{self, Format, ImportReport, Shape};
use neuronav::science::labels::store::{LabelFilter, LabelStore};

// Llama-2-7B's shape, where the method's L21N7027 lives.
const SHAPE: Shape = Shape { n_layers: 32, d_ff: 11008 };

fn import(store: &mut LabelStore, path: &Path, format: Format) -> ImportReport {
    interchange::import(store, path, format, SHAPE, &Concepts::built_in()).unwrap()
}

/// The rejection at `line`, which must exist.
fn reason(report: &ImportReport, line: usize) -> &str {
    let r = report.rejected.iter().find(|r| r.at == line);
    &r.unwrap_or_else(|| panic!("line {line} not rejected: {:?}", report.rejected)).reason
}

#[test]
fn bad_csv_lines_are_rejected_one_by_one_and_good_ones_imported_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("labels.csv");
    let mut f = std::fs::File::create(&path).unwrap();
    f.write_all(b"neuron,concept,label_source,answer\n").unwrap(); // 1
    f.write_all(b"L21N7027,add,gpt-4-turbo,\"Yes, these are additions.\"\n").unwrap(); // 2
    f.write_all(b"\"(7, 12)\",subtract,gpt-4-turbo,\"No, unrelated\"\n").unwrap(); // 3
    f.write_all(b"L40N1,add,gpt-4-turbo,Yes\n").unwrap(); // 4: layer out of range
    f.write_all(b"L3N99999,add,gpt-4-turbo,Yes\n").unwrap(); // 5: index out of range
    f.write_all(b"neuron7,add,gpt-4-turbo,Yes\n").unwrap(); // 6: not a neuron id
    f.write_all(b"L3N4,juggling,gpt-4-turbo,Yes\n").unwrap(); // 7: unknown concept
    f.write_all(b"L3N4,add,gpt-4-turbo\n").unwrap(); // 8: a column short
    f.write_all(b"L3N5,add,gpt\xff\xfe,Yes\n").unwrap(); // 9: invalid UTF-8
                                                         // 10: a 100 MB line, written in pieces so the test holds little of it.
    f.write_all(b"L3N6,add,big,\"").unwrap();
    let chunk = vec![b'a'; 1 << 20];
    for _ in 0..100 {
        f.write_all(&chunk).unwrap();
    }
    f.write_all(b"\"\n").unwrap();
    f.write_all(b"L3N7,formula,human,\n").unwrap(); // 11: no answer: a bare claim
    f.write_all(b"L3N8,add,,Yes\n").unwrap(); // 12: no source
    f.write_all(b"L3N9,add,gpt-4-turbo,\"Yes, over\ntwo lines\"\n").unwrap(); // 13-14
    drop(f);

    let mut store = LabelStore::open(&dir.path().join("labels.sqlite3"), "m").unwrap();
    let report = import(&mut store, &path, Format::Csv);
    assert_eq!((report.imported, report.unchanged), (4, 0), "{:?}", report.rejected);
    assert!(reason(&report, 4).contains("layer 40 is out of range"));
    assert!(reason(&report, 5).contains("neuron 99999 is out of range"));
    assert!(reason(&report, 6).contains("not a neuron id"));
    assert!(reason(&report, 7).contains("unknown concept 'juggling'"));
    assert!(reason(&report, 8).contains("3 fields where the header has 4 columns"));
    assert!(reason(&report, 9).contains("not valid UTF-8"));
    assert!(reason(&report, 10).contains("limited to 1048576 bytes"), "{}", reason(&report, 10));
    assert!(reason(&report, 12).contains("label_source is empty"));
    assert_eq!(report.rejected.len(), 8);

    let labels = store.labels(&LabelFilter::default()).unwrap();
    let got: Vec<(String, &str, bool)> =
        labels.iter().map(|l| (l.neuron.to_string(), l.concept.as_str(), l.applies)).collect();
    assert_eq!(
        got,
        [
            ("L3N7".to_string(), "formula", true),
            ("L3N9".to_string(), "add", true),
            ("L7N12".to_string(), "subtract", false),
            ("L21N7027".to_string(), "add", true),
        ]
    );
    assert_eq!(labels[1].answer, "Yes, over\ntwo lines");

    let again = import(&mut store, &path, Format::Csv);
    assert_eq!((again.imported, again.updated, again.unchanged), (0, 0, 4));
    assert_eq!(store.labels(&LabelFilter::default()).unwrap().len(), 4);
}

#[test]
fn csv_headers_must_name_the_columns() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = LabelStore::open(&dir.path().join("labels.sqlite3"), "m").unwrap();
    for (header, expected) in [
        ("neuron,concept,source,answer", "unknown column 'source'"),
        ("neuron,concept,answer", "no column 'label_source'"),
        ("neuron,concept,label_source,answer,colour", "unknown column 'colour'"),
    ] {
        let path = dir.path().join("wrong.csv");
        std::fs::write(&path, format!("{header}\nL1N1,add,x,Yes\n")).unwrap();
        let err = interchange::import(&mut store, &path, Format::Csv, SHAPE, &Concepts::built_in()).unwrap_err();
        let message = err.to_string();
        assert!(message.contains("wrong.csv:1:") && message.contains(expected), "{message}");
    }
    assert!(store.labels(&LabelFilter::default()).unwrap().is_empty());
}

#[test]
fn jsonl_and_json_accept_both_id_forms_and_reject_bad_records() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("labels.jsonl");
    let big = format!(
        "{{\"neuron\": \"L1N1\", \"concept\": \"add\", \"label_source\": \"x\", \"answer\": \"{}\"}}",
        "y".repeat(2 << 20)
    );
    let lines = [
        r#"{"neuron": "L21N7027", "concept": "add", "label_source": "gpt-4-turbo", "answer": "Yes, plus"}"#,
        r#"{"neuron": [7, 12], "concept": "division", "label_source": "gpt-4-turbo", "answer": "No, no"}"#,
        r#"{"neuron": "(8, 3)", "concept": "formula", "label_source": "mine"}"#,
        r#"{"neuron": "L99N1", "concept": "add", "label_source": "x"}"#,
        r#"{"neuron": "L1N1", "concept": "add"}"#,
        r#"{"neuron": "L1N1", "concept": "add", "label_source": "x", "colour": "red"}"#,
        "not json at all",
        "",
        &big,
    ];
    std::fs::write(&path, lines.join("\n")).unwrap();
    let mut store = LabelStore::open(&dir.path().join("labels.sqlite3"), "m").unwrap();
    let report = import(&mut store, &path, Format::Jsonl);
    assert_eq!(report.imported, 3, "{:?}", report.rejected);
    assert!(reason(&report, 4).contains("layer 99 is out of range"));
    assert!(reason(&report, 5).contains("label_source"));
    assert!(reason(&report, 6).contains("colour"));
    assert!(reason(&report, 7).contains("not a label record"));
    assert!(reason(&report, 9).contains("limited to"));
    assert_eq!(report.rejected.len(), 5);

    // A JSON array of the same: items are counted from 1.
    let json = dir.path().join("labels.json");
    std::fs::write(&json, format!("[{}, {}, {}]", lines[0], lines[3], lines[1])).unwrap();
    let report = import(&mut store, &json, Format::Json);
    assert_eq!((report.imported, report.unchanged), (0, 2));
    assert!(report.items && reason(&report, 2).contains("layer 99"));

    let broken = dir.path().join("broken.json");
    std::fs::write(&broken, "[{\"neuron\": \"L1N1\",\n").unwrap();
    let message =
        interchange::import(&mut store, &broken, Format::Json, SHAPE, &Concepts::built_in()).unwrap_err().to_string();
    assert!(message.contains("broken.json") && message.contains("line 2"), "{message}");
}

#[test]
fn exports_import_back_unchanged_in_every_format() {
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("in.jsonl");
    std::fs::write(
        &source,
        [
            r#"{"neuron": "L21N7027", "concept": "add", "label_source": "gpt-4-turbo", "answer": "Yes, \"plus\", and\nmore", "evidence": ["+", " plus", ","]}"#,
            r#"{"neuron": "L7N12", "concept": "division", "label_source": "gpt-4-turbo", "answer": "No, no"}"#,
            r#"{"neuron": "L8N3", "concept": "formula", "label_source": "lexicon", "evidence": ["formula", "equation"]}"#,
            r#"{"neuron": "L8N4", "concept": "formula", "label_source": "mine", "answer": "Yes", "applies": false}"#,
        ]
        .join("\n"),
    )
    .unwrap();
    let mut first = LabelStore::open(&dir.path().join("a.sqlite3"), "m").unwrap();
    assert_eq!(import(&mut first, &source, Format::Jsonl).imported, 4);
    let original = first.labels(&LabelFilter::default()).unwrap();
    for format in [Format::Json, Format::Jsonl, Format::Csv] {
        let file = dir.path().join(format!("out.{format:?}"));
        let mut out = std::fs::File::create(&file).unwrap();
        interchange::export(&original, format, &mut out).unwrap();
        drop(out);
        let mut second = LabelStore::open(&dir.path().join(format!("{format:?}.sqlite3")), "m").unwrap();
        let report = import(&mut second, &file, format);
        assert_eq!((report.imported, report.rejected.len()), (4, 0), "{format:?}: {:?}", report.rejected);
        let back = second.labels(&LabelFilter::default()).unwrap();
        let strip = |v: &[neuronav::science::labels::label::Label]| {
            v.iter()
                .map(|l| {
                    (l.neuron, l.concept.clone(), l.source.clone(), l.applies, l.evidence.clone(), l.answer.clone())
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(strip(&back), strip(&original), "{format:?}");
    }
}
