//! The summary of an analysis: per condition and variant, accuracy (the method's answer parsing)
//! and reasoning-neuron activations with their average coefficient, overall and per concept;
//! written as markdown and CSV.
use std::fmt::Write as _;
use std::path::Path;

use serde::Serialize;

use super::counting::Activations;
use super::error::{AnalysisError, Result};
use super::plan::{Item, RunSpec};
use super::results::{self, write_atomically};
use super::sample::SampleResult;

/// One row: a variant under a condition.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Row {
    pub condition: String,
    pub variant: String,
    pub samples: usize,
    pub correct: usize,
    /// Samples whose activations are counted (all, or those `only_correct` answered correctly).
    pub counted: usize,
    pub activations: Activations,
}

impl Row {
    pub fn accuracy(&self) -> f64 {
        if self.samples == 0 {
            0.0
        } else {
            self.correct as f64 / self.samples as f64
        }
    }
}

/// Reads every result of `spec` under `out` and sums them in the items' order. Errors when any
/// is missing, naming how many and the first.
pub fn summarize(spec: &RunSpec, out: &Path) -> Result<Vec<Row>> {
    let items = spec.items();
    let mut loaded: Vec<(Item, SampleResult)> = Vec::with_capacity(items.len());
    let mut missing = Vec::new();
    for item in items {
        let path = spec.result_path(out, &item);
        match results::read(&path)? {
            Some(r) => loaded.push((item, r)),
            None => missing.push(path),
        }
    }
    if let Some(first) = missing.first() {
        return Err(AnalysisError::Invalid(format!(
            "{} of {} samples have no result yet (first: {}); run the missing shards first",
            missing.len(),
            missing.len() + loaded.len(),
            first.display()
        )));
    }
    // Questions the `only_correct` variant answered correctly in the baseline.
    let filter_variant = spec.only_correct.as_ref().map(|name| spec.variants.iter().position(|v| v == name));
    let kept = |item: &Item| -> bool {
        match filter_variant {
            None => true,
            Some(v) => loaded
                .iter()
                .any(|(i, r)| i.condition == 0 && Some(i.variant) == v && i.question == item.question && r.correct),
        }
    };
    let mut rows = Vec::new();
    for (c, condition) in spec.conditions.iter().enumerate() {
        for (v, variant) in spec.variants.iter().enumerate() {
            let mut row = Row {
                condition: condition.name.clone(),
                variant: variant.clone(),
                samples: 0,
                correct: 0,
                counted: 0,
                activations: Activations::default(),
            };
            for (item, result) in loaded.iter().filter(|(i, _)| i.condition == c && i.variant == v) {
                row.samples += 1;
                row.correct += result.correct as usize;
                if kept(item) {
                    row.counted += 1;
                    row.activations.add(&result.run.activations);
                }
            }
            rows.push(row);
        }
    }
    Ok(rows)
}

/// The rows as a CSV table: totals, then activations and mean s of each concept.
pub fn to_csv(rows: &[Row], concepts: &[String]) -> String {
    let mut w = csv::Writer::from_writer(Vec::new());
    let mut header: Vec<String> = [
        "condition",
        "variant",
        "samples",
        "correct",
        "accuracy",
        "counted_samples",
        "positions",
        "activations",
        "mean_s",
    ]
    .map(String::from)
    .to_vec();
    for c in concepts {
        header.push(format!("{c}_activations"));
        header.push(format!("{c}_mean_s"));
    }
    w.write_record(&header).expect("writing to memory");
    for r in rows {
        let mut rec = vec![
            r.condition.clone(),
            r.variant.clone(),
            r.samples.to_string(),
            r.correct.to_string(),
            format!("{:.4}", r.accuracy()),
            r.counted.to_string(),
            r.activations.positions.to_string(),
            r.activations.overall.hits.to_string(),
            format!("{:.4}", r.activations.overall.mean_s()),
        ];
        for c in concepts {
            let t = r.activations.concept(c);
            rec.push(t.hits.to_string());
            rec.push(format!("{:.4}", t.mean_s()));
        }
        w.write_record(&rec).expect("writing to memory");
    }
    String::from_utf8(w.into_inner().expect("flushing to memory")).expect("CSV of UTF-8 fields")
}

/// The rows as a markdown table: activations (mean s) overall and per concept.
pub fn to_markdown(rows: &[Row], concepts: &[String]) -> String {
    let mut md = String::new();
    let mut header = "| condition | variant | accuracy | counted | activations (mean s) |".to_string();
    let mut rule = "|---|---|---|---|---|".to_string();
    for c in concepts {
        write!(header, " {c} |").unwrap();
        rule.push_str("---|");
    }
    writeln!(md, "{header}\n{rule}").unwrap();
    for r in rows {
        let cell = |t: super::counting::Tally| format!("{} ({:.2})", t.hits, t.mean_s());
        write!(
            md,
            "| {} | {} | {}/{} ({:.1}%) | {} | {} |",
            r.condition,
            r.variant,
            r.correct,
            r.samples,
            100.0 * r.accuracy(),
            r.counted,
            cell(r.activations.overall)
        )
        .unwrap();
        for c in concepts {
            write!(md, " {} |", cell(r.activations.concept(c))).unwrap();
        }
        md.push('\n');
    }
    md
}

/// Summarizes `out` and writes `summary.md` and `summary.csv` there.
pub fn write_summary(out: &Path) -> Result<Vec<Row>> {
    let spec = RunSpec::load(out)?;
    let rows = summarize(&spec, out)?;
    write_atomically(&out.join("summary.csv"), to_csv(&rows, &spec.concepts).as_bytes())?;
    write_atomically(&out.join("summary.md"), to_markdown(&rows, &spec.concepts).as_bytes())?;
    Ok(rows)
}
