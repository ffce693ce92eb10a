//! Label files in and out: JSON (an array of records), JSONL (one record a line) and CSV (columns
//! `neuron,concept,label_source,answer`, optionally `evidence,applies,time`). Neurons are written
//! `L21N7027` or `(21, 7027)`. Import checks every record against the model and the concepts and
//! reports each rejected line with the reason; labels already in the store are not added again.
use std::io::{BufReader, Write};
use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::concepts::Concepts;
use super::error::{LabelError, Result};
use super::label::{says_yes, Label, NewLabel};
use super::lines::CappedLines;
use super::store::{LabelStore, Upsert};
use crate::engine::neuron::NeuronId;

/// Longest line (or CSV record) read; longer ones are rejected unread.
pub const MAX_LINE: usize = 1 << 20;
/// Largest JSON array file read whole; JSONL has no limit.
pub const MAX_JSON_FILE: u64 = 256 << 20;

const REQUIRED: [&str; 4] = ["neuron", "concept", "label_source", "answer"];
const OPTIONAL: [&str; 3] = ["evidence", "applies", "time"];

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Json,
    Jsonl,
    Csv,
}

impl Format {
    /// From the file's extension: .json, .jsonl or .ndjson, .csv.
    pub fn of_path(path: &Path) -> Option<Format> {
        match path.extension()?.to_str()?.to_ascii_lowercase().as_str() {
            "json" => Some(Format::Json),
            "jsonl" | "ndjson" => Some(Format::Jsonl),
            "csv" => Some(Format::Csv),
            _ => None,
        }
    }
}

/// How many layers and neurons per layer the labelled model has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shape {
    pub n_layers: usize,
    pub d_ff: usize,
}

/// A record that was not imported: where (1-based line, or item of a JSON array) and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rejection {
    pub at: usize,
    pub reason: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ImportReport {
    pub imported: usize,
    /// Labels that replaced the same source's different label of the pair.
    pub updated: usize,
    /// Records whose label was already in the store.
    pub unchanged: usize,
    pub rejected: Vec<Rejection>,
    /// Whether `at` counts items of a JSON array rather than lines.
    pub items: bool,
}

/// One record as written in JSON and JSONL.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Record {
    neuron: Value,
    concept: String,
    label_source: String,
    #[serde(default)]
    answer: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    evidence: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    applies: Option<bool>,
    /// Kept for the reader's information; the store stamps its own time on import.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    time: Option<String>,
}

/// Reads `path` and stores its labels; the file's problems are in the report, not errors.
pub fn import(
    store: &mut LabelStore,
    path: &Path,
    format: Format,
    shape: Shape,
    concepts: &Concepts,
) -> Result<ImportReport> {
    let check = Checker { shape, concepts };
    let (labels, rejected, items) = match format {
        Format::Json => read_json(path, &check).map(|(l, r)| (l, r, true))?,
        Format::Jsonl => read_lines(path, |line| parse_json_line(line, &check)).map(|(l, r)| (l, r, false))?,
        Format::Csv => read_csv(path, &check).map(|(l, r)| (l, r, false))?,
    };
    let mut report = ImportReport { rejected, items, ..Default::default() };
    for done in store.upsert_labels(&labels)? {
        match done {
            Upsert::Inserted => report.imported += 1,
            Upsert::Updated => report.updated += 1,
            Upsert::Unchanged => report.unchanged += 1,
        }
    }
    Ok(report)
}

/// Writes `labels` to `out` in `format`.
pub fn export(labels: &[Label], format: Format, out: &mut dyn Write) -> Result<()> {
    let record = |l: &Label| Record {
        neuron: Value::String(l.neuron.to_string()),
        concept: l.concept.clone(),
        label_source: l.source.clone(),
        answer: l.answer.clone(),
        evidence: Some(l.evidence.clone()),
        applies: Some(l.applies),
        time: Some(l.time.clone()),
    };
    let io = |e: std::io::Error| LabelError::Invalid(format!("writing the export: {e}"));
    match format {
        Format::Json => {
            let records: Vec<Record> = labels.iter().map(record).collect();
            serde_json::to_writer_pretty(&mut *out, &records).map_err(|e| io(e.into()))?;
            writeln!(out).map_err(io)?;
        }
        Format::Jsonl => {
            for l in labels {
                serde_json::to_writer(&mut *out, &record(l)).map_err(|e| io(e.into()))?;
                writeln!(out).map_err(io)?;
            }
        }
        Format::Csv => {
            let mut w = csv::Writer::from_writer(&mut *out);
            let header: Vec<&str> = REQUIRED.iter().chain(&OPTIONAL).copied().collect();
            w.write_record(&header).map_err(|e| io(e.into()))?;
            for l in labels {
                let evidence = serde_json::to_string(&l.evidence).expect("strings serialize");
                let neuron = l.neuron.to_string();
                let applies = l.applies.to_string();
                let row = [&neuron, &l.concept, &l.source, &l.answer, &evidence, &applies, &l.time];
                w.write_record(row).map_err(|e| io(e.into()))?;
            }
            w.flush().map_err(io)?;
        }
    }
    Ok(())
}

/// Validates a record's fields against the model and the concepts.
struct Checker<'a> {
    shape: Shape,
    concepts: &'a Concepts,
}

impl Checker<'_> {
    fn label(
        &self,
        neuron: NeuronId,
        concept: &str,
        source: &str,
        answer: String,
        evidence: Option<Vec<String>>,
        applies: Option<bool>,
    ) -> std::result::Result<NewLabel, String> {
        let Shape { n_layers, d_ff } = self.shape;
        if neuron.layer as usize >= n_layers {
            return Err(format!(
                "{neuron}: layer {} is out of range; the model has layers 0..{n_layers}",
                neuron.layer
            ));
        }
        if neuron.index as usize >= d_ff {
            return Err(format!("{neuron}: neuron {} is out of range; layers have neurons 0..{d_ff}", neuron.index));
        }
        if self.concepts.get(concept).is_none() {
            return Err(format!("unknown concept '{concept}'; known: {}", self.concepts.keys().join(", ")));
        }
        let source = source.trim();
        if source.is_empty() {
            return Err("label_source is empty".into());
        }
        // No answer is a bare claim; an answer is read as the method reads the LLM's.
        let applies = applies.unwrap_or_else(|| answer.trim().is_empty() || says_yes(&answer));
        Ok(NewLabel {
            neuron,
            concept: concept.to_string(),
            source: source.to_string(),
            applies,
            evidence: evidence.unwrap_or_default(),
            answer,
        })
    }

    fn record(&self, r: Record) -> std::result::Result<NewLabel, String> {
        let neuron = match &r.neuron {
            Value::String(s) => parse_neuron(s)?,
            Value::Array(v) => match v.as_slice() {
                [l, i] => match (
                    l.as_u64().and_then(|l| u32::try_from(l).ok()),
                    i.as_u64().and_then(|i| u32::try_from(i).ok()),
                ) {
                    (Some(layer), Some(index)) => NeuronId { layer, index },
                    _ => return Err(format!("neuron {} is not [layer, index]", r.neuron)),
                },
                _ => return Err(format!("neuron {} is not [layer, index]", r.neuron)),
            },
            other => return Err(format!("neuron {other} is not a neuron id like \"L21N7027\" or [21, 7027]")),
        };
        self.label(neuron, &r.concept, &r.label_source, r.answer, r.evidence, r.applies)
    }
}

/// `L21N7027` or `(21, 7027)`.
pub fn parse_neuron(s: &str) -> std::result::Result<NeuronId, String> {
    let t = s.trim();
    if let Some(inner) = t.strip_prefix('(').and_then(|t| t.strip_suffix(')')) {
        let bad = || format!("'{s}' is not a neuron id like L21N7027 or (21, 7027)");
        let (layer, index) = inner.split_once(',').ok_or_else(bad)?;
        return Ok(NeuronId {
            layer: layer.trim().parse().map_err(|_| bad())?,
            index: index.trim().parse().map_err(|_| bad())?,
        });
    }
    t.parse::<NeuronId>().map_err(|e| format!("{e} or (21, 7027)"))
}

fn parse_json_line(line: &str, check: &Checker) -> std::result::Result<NewLabel, String> {
    let record: Record = serde_json::from_str(line).map_err(|e| format!("not a label record: {e}"))?;
    check.record(record)
}

type Read = (Vec<NewLabel>, Vec<Rejection>);

fn open(path: &Path) -> Result<BufReader<std::fs::File>> {
    std::fs::File::open(path).map(BufReader::new).map_err(|e| LabelError::io(path, e))
}

/// Text of a line, or why it has none.
fn text_of(line: std::result::Result<Vec<u8>, usize>) -> std::result::Result<String, String> {
    let bytes = line.map_err(|len| format!("the line is {len} bytes long; lines are limited to {MAX_LINE} bytes"))?;
    String::from_utf8(bytes).map_err(|e| format!("not valid UTF-8 (at byte {})", e.utf8_error().valid_up_to()))
}

fn read_lines(path: &Path, parse: impl Fn(&str) -> std::result::Result<NewLabel, String>) -> Result<Read> {
    let mut lines = CappedLines::new(open(path)?, MAX_LINE);
    let (mut labels, mut rejected) = (Vec::new(), Vec::new());
    while let Some((at, line)) = lines.next_line().map_err(|e| LabelError::io(path, e))? {
        let parsed =
            text_of(line).and_then(|text| if text.trim().is_empty() { Ok(None) } else { parse(&text).map(Some) });
        match parsed {
            Ok(Some(label)) => labels.push(label),
            Ok(None) => {}
            Err(reason) => rejected.push(Rejection { at, reason }),
        }
    }
    Ok((labels, rejected))
}

fn read_json(path: &Path, check: &Checker) -> Result<Read> {
    let size = std::fs::metadata(path).map_err(|e| LabelError::io(path, e))?.len();
    if size > MAX_JSON_FILE {
        return Err(LabelError::Invalid(format!(
            "{}: {size} bytes is too large for a JSON array (limit {MAX_JSON_FILE}); write it as JSONL",
            path.display()
        )));
    }
    let bytes = std::fs::read(path).map_err(|e| LabelError::io(path, e))?;
    let bad = |problem: String| LabelError::Invalid(format!("{}: {problem}", path.display()));
    let text = String::from_utf8(bytes).map_err(|e| {
        let at = e.utf8_error().valid_up_to();
        let line = e.as_bytes()[..at].iter().filter(|&&b| b == b'\n').count() + 1;
        bad(format!("line {line}: not valid UTF-8"))
    })?;
    let items: Vec<Value> = serde_json::from_str(&text).map_err(|e| bad(format!("not a JSON array of labels: {e}")))?;
    let (mut labels, mut rejected) = (Vec::new(), Vec::new());
    for (i, item) in items.into_iter().enumerate() {
        let parsed = serde_json::from_value::<Record>(item).map_err(|e| format!("not a label record: {e}"));
        match parsed.and_then(|r| check.record(r)) {
            Ok(label) => labels.push(label),
            Err(reason) => rejected.push(Rejection { at: i + 1, reason }),
        }
    }
    Ok((labels, rejected))
}

/// CSV, one record per line, or over several lines where a quoted field holds line breaks.
fn read_csv(path: &Path, check: &Checker) -> Result<Read> {
    let mut lines = CappedLines::new(open(path)?, MAX_LINE);
    let bad_header = |problem: String| LabelError::BadFile { path: path.to_path_buf(), line: 1, problem };
    let header = match lines.next_line().map_err(|e| LabelError::io(path, e))? {
        Some((_, line)) => text_of(line).map_err(bad_header)?,
        None => return Ok((Vec::new(), Vec::new())),
    };
    let columns: Vec<String> = csv_fields(header.trim_start_matches('\u{feff}')).map_err(bad_header)?;
    let expected = format!("expected columns {}, optionally {}", REQUIRED.join(","), OPTIONAL.join(","));
    for c in &columns {
        if !REQUIRED.contains(&c.as_str()) && !OPTIONAL.contains(&c.as_str()) {
            return Err(bad_header(format!("unknown column '{c}'; {expected}")));
        }
    }
    let col = |name: &str| columns.iter().position(|c| c == name);
    let required: Vec<usize> = REQUIRED
        .iter()
        .map(|name| col(name).ok_or_else(|| bad_header(format!("no column '{name}'; {expected}"))))
        .collect::<Result<_>>()?;
    let (evidence_col, applies_col) = (col("evidence"), col("applies"));

    let (mut labels, mut rejected) = (Vec::new(), Vec::new());
    let mut pending: Option<(usize, String)> = None;
    while let Some((at, line)) = lines.next_line().map_err(|e| LabelError::io(path, e))? {
        let text = match text_of(line) {
            Ok(text) => text,
            Err(reason) => {
                // Whatever record was open is lost with this line; start afresh after it.
                let start = pending.take().map_or(at, |(start, _)| start);
                let reason = if start == at { reason } else { format!("line {at}: {reason}") };
                rejected.push(Rejection { at: start, reason });
                continue;
            }
        };
        let (start, record) = match pending.take() {
            Some((start, mut record)) => {
                record.push('\n');
                record.push_str(&text);
                (start, record)
            }
            None => (at, text),
        };
        if record.len() > MAX_LINE {
            rejected.push(Rejection { at: start, reason: format!("the record is longer than {MAX_LINE} bytes") });
            continue;
        }
        // An odd number of quotes: a quoted field goes on on the next line.
        if record.bytes().filter(|&b| b == b'"').count() % 2 == 1 {
            pending = Some((start, record));
            continue;
        }
        if record.trim().is_empty() {
            continue;
        }
        let parsed = csv_fields(&record).and_then(|fields| {
            if fields.len() != columns.len() {
                return Err(format!("{} fields where the header has {} columns", fields.len(), columns.len()));
            }
            let [n, c, s, a] = [0, 1, 2, 3].map(|i| fields[required[i]].as_str());
            let evidence = match evidence_col.map(|i| fields[i].trim()).filter(|e| !e.is_empty()) {
                Some(e) => Some(
                    serde_json::from_str::<Vec<String>>(e)
                        .map_err(|_| "evidence is not a JSON list of strings".to_string())?,
                ),
                None => None,
            };
            let applies = match applies_col.map(|i| fields[i].trim().to_ascii_lowercase()) {
                None => None,
                Some(a) if a.is_empty() => None,
                Some(a) if a == "true" || a == "yes" || a == "1" => Some(true),
                Some(a) if a == "false" || a == "no" || a == "0" => Some(false),
                Some(a) => return Err(format!("applies is '{a}', not true or false")),
            };
            check.label(parse_neuron(n)?, c.trim(), s, a.to_string(), evidence, applies)
        });
        match parsed {
            Ok(label) => labels.push(label),
            Err(reason) => rejected.push(Rejection { at: start, reason }),
        }
    }
    if let Some((start, _)) = pending {
        rejected
            .push(Rejection { at: start, reason: "a quoted field is not closed before the end of the file".into() });
    }
    Ok((labels, rejected))
}

/// The fields of one CSV record.
fn csv_fields(record: &str) -> std::result::Result<Vec<String>, String> {
    let mut reader = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(record.as_bytes());
    let mut row = csv::StringRecord::new();
    match reader.read_record(&mut row) {
        Ok(true) => Ok(row.iter().map(String::from).collect()),
        Ok(false) => Ok(Vec::new()),
        Err(e) => Err(format!("not a CSV record: {e}")),
    }
}
