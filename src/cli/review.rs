//! `neuronav review stats|queue|verdict|batch`: checking labels by hand and how far they hold.
use std::collections::BTreeSet;
use std::io::BufRead;

use clap::Subcommand;
use color_eyre::eyre::{bail, Result};

use super::exit::usage;
use super::label::{concepts, StoreArgs};
use super::output::{print_csv, print_json, write_stdout, Format, TableJson, TableJsonCsv};
use super::ModelArgs;
use crate::engine::neuron::NeuronId;
use crate::paths::Paths;
use crate::science::labels::agreement::{
    human_agreement, score_agreement, source_agreement, Agreement, Contingency, ScoreGroup, ScoreSeparation,
};
use crate::science::labels::concepts::Concepts;
use crate::science::labels::interchange::Shape;
use crate::science::labels::label::{NewVerdict, Verdict, VerdictKind};
use crate::science::labels::store::{latest_verdicts, Answers, LabelFilter, LabelStore};

#[derive(Debug, Subcommand)]
pub enum ReviewCommand {
    /// Labels per source and concept, agreement with the verdicts, kappa between sources
    Stats {
        /// Agreement of this source's labels only
        #[arg(long)]
        source: Option<String>,
        #[command(flatten)]
        output: TableJson,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// The labels to check, unchecked first
    Queue {
        #[arg(long)]
        source: Option<String>,
        #[arg(long)]
        concept: Option<String>,
        /// Labels the source said yes to, no to, or both
        #[arg(long, value_enum, default_value_t = Answers::Yes)]
        answers: Answers,
        #[arg(long, default_value_t = 20)]
        limit: usize,
        #[command(flatten)]
        output: TableJsonCsv,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Record a verdict on "NEURON carries CONCEPT" (e.g. `review verdict L21N7027 add agree`)
    Verdict {
        neuron: NeuronId,
        concept: String,
        #[arg(value_enum)]
        verdict: VerdictKind,
        #[arg(long)]
        note: Option<String>,
        /// The concept the neuron carries instead
        #[arg(long)]
        corrected: Option<String>,
        #[command(flatten)]
        output: TableJson,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Record verdicts read from standard input, one a line: NEURON CONCEPT VERDICT [NOTE...];
    /// prints one line per verdict once it is committed (with --format json, one JSON object a
    /// line)
    Batch {
        #[command(flatten)]
        output: TableJson,
        #[command(flatten)]
        store: StoreArgs,
    },
}

pub fn run(model_args: &ModelArgs, paths: &Paths, command: ReviewCommand) -> Result<()> {
    match command {
        ReviewCommand::Stats { source, output, store } => {
            let (fp, _) = store.model(model_args, paths)?;
            stats(&store.open(&fp, paths)?, source, output.json())
        }
        ReviewCommand::Queue { source, concept, answers, limit, output, store } => {
            let (fp, _) = store.model(model_args, paths)?;
            let queue = store.open(&fp, paths)?.review_queue(source.as_deref(), concept.as_deref(), answers)?;
            let unchecked = queue.iter().filter(|q| q.verdict.is_none()).count();
            let shown = &queue[..limit.min(queue.len())];
            match output.format() {
                Format::Json => {
                    return print_json(&serde_json::json!({
                        "labels": queue.len(),
                        "unchecked": unchecked,
                        "items": shown,
                    }))
                }
                Format::Csv => {
                    let rows = shown.iter().map(|item| {
                        let l = &item.label;
                        [
                            l.neuron.to_string(),
                            l.concept.clone(),
                            l.source.clone(),
                            said(l.applies).to_string(),
                            item.verdict.as_ref().map_or(String::new(), |v| v.verdict.to_string()),
                            l.evidence.join(" "),
                        ]
                    });
                    return print_csv(&["neuron", "concept", "source", "said", "verdict", "evidence"], rows);
                }
                Format::Table => {}
            }
            println!("{} labels, {unchecked} unchecked", queue.len());
            for item in shown {
                let l = &item.label;
                let verdict = item.verdict.as_ref().map_or("-".to_string(), |v| v.verdict.to_string());
                println!(
                    "{:<10} {:<12} {:<14} {:<3} {:<8} {}",
                    l.neuron.to_string(),
                    l.concept,
                    l.source,
                    said(l.applies),
                    verdict,
                    l.evidence.join(" ")
                );
            }
            Ok(())
        }
        ReviewCommand::Verdict { neuron, concept, verdict, note, corrected, output, store } => {
            let (fp, shape) = store.model(model_args, paths)?;
            let new = NewVerdict { neuron, concept, verdict, note, corrected };
            check(&new, &concepts(paths)?, shape).map_err(usage)?;
            let saved = store.open(&fp, paths)?.record_verdict(&new)?;
            print_saved(&saved, output.json())
        }
        ReviewCommand::Batch { output, store } => {
            let (fp, shape) = store.model(model_args, paths)?;
            let concepts = concepts(paths)?;
            let mut db = store.open(&fp, paths)?;
            let mut bad = 0;
            for (i, line) in std::io::stdin().lock().lines().enumerate() {
                let line = line?;
                if line.trim().is_empty() {
                    continue;
                }
                match parse_line(&line).and_then(|v| check(&v, &concepts, shape).map(|()| v)) {
                    Ok(v) => {
                        let saved = db.record_verdict(&v)?;
                        // Printed only after the commit: what a reader sees here is on disk.
                        print_saved(&saved, output.json())?;
                    }
                    Err(why) => {
                        bad += 1;
                        eprintln!("stdin line {}: {why}", i + 1);
                    }
                }
            }
            if bad > 0 {
                bail!("{bad} lines were not recorded");
            }
            Ok(())
        }
    }
}

/// A source's answer as the tables write it.
fn said(applies: bool) -> &'static str {
    if applies {
        "yes"
    } else {
        "no"
    }
}

/// A committed verdict: a tab-separated `saved` line, or one line of JSON.
fn print_saved(v: &Verdict, json: bool) -> Result<()> {
    let line = if json {
        serde_json::to_string(v)?
    } else {
        format!(
            "saved\t{}\t{}\t{}\t{}\t{}\t{}",
            v.id,
            v.neuron,
            v.concept,
            v.verdict,
            v.time,
            v.note.as_deref().unwrap_or("")
        )
    };
    write_stdout(format!("{line}\n").as_bytes())
}

/// `NEURON CONCEPT VERDICT [NOTE...]`.
fn parse_line(line: &str) -> Result<NewVerdict, String> {
    let mut parts = line.trim().splitn(4, char::is_whitespace);
    let (Some(neuron), Some(concept), Some(verdict)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(format!("'{line}' is not NEURON CONCEPT VERDICT [NOTE]"));
    };
    let note = parts.next().map(str::trim).filter(|n| !n.is_empty()).map(String::from);
    Ok(NewVerdict {
        neuron: neuron.parse()?,
        concept: concept.into(),
        verdict: verdict.parse()?,
        note,
        corrected: None,
    })
}

fn check(v: &NewVerdict, concepts: &Concepts, shape: Option<Shape>) -> Result<(), String> {
    concepts.require(&v.concept).map_err(|e| e.to_string())?;
    if let Some(c) = &v.corrected {
        concepts.require(c).map_err(|e| e.to_string())?;
    }
    if let Some(Shape { n_layers, d_ff }) = shape {
        if v.neuron.layer as usize >= n_layers || v.neuron.index as usize >= d_ff {
            return Err(format!("{} is outside this model: layers 0..{n_layers}, neurons 0..{d_ff}", v.neuron));
        }
    }
    Ok(())
}

/// The agreement rate of a group, or why it has none.
fn rate(a: &Agreement) -> String {
    match a.rate() {
        Some(r) => format!("{:.0}%", r * 100.0),
        None if a.labels == 0 => "no labels".into(),
        None if a.checked == 0 => "no verdicts yet".into(),
        None => "only unsure verdicts".into(),
    }
}

/// `agreed 2 (mean 0.85) · disagreed 1 (mean 0.10) · AUC 1.00 · 0 failed`.
fn separation(s: &ScoreSeparation) -> String {
    let group = |g: &ScoreGroup| match g.mean {
        Some(m) => format!("{} (mean {m:.2})", g.count),
        None => "0 (no scores)".into(),
    };
    let auc = s.auc.map_or("undefined (needs scores on both sides)".into(), |a| format!("{a:.2}"));
    format!("agreed {} · disagreed {} · AUC {auc} · {} failed", group(&s.agreed), group(&s.disagreed), s.failed)
}

fn stats(store: &LabelStore, source: Option<String>, json: bool) -> Result<()> {
    let counts = store.stats()?;
    let all = store.labels(&LabelFilter::default())?;
    let current = latest_verdicts(store.verdicts()?);
    let judged: Vec<_> = all.iter().filter(|l| source.as_ref().is_none_or(|s| &l.source == s)).cloned().collect();
    let human = human_agreement(&judged, &current);
    let scored = score_agreement(&judged, &store.scores()?, &current);
    let sources: BTreeSet<&str> = all.iter().map(|l| l.source.as_str()).collect();
    let sources: Vec<&str> = sources.into_iter().collect();
    let pairs: Vec<_> = (0..sources.len())
        .flat_map(|i| (i + 1..sources.len()).map(move |j| (i, j)))
        .map(|(i, j)| source_agreement(&all, sources[i], sources[j]))
        .filter(|k| k.overall.total() > 0)
        .collect();
    if json {
        return print_json(
            &serde_json::json!({ "counts": counts, "human": human, "sources": pairs, "scores": scored }),
        );
    }
    println!("labels (yes answers) by source and concept; {} verdicts", counts.verdicts);
    for (source, per) in &counts.labels {
        let declined = counts.declined.get(source).copied().unwrap_or(0);
        let list: Vec<String> = per.iter().map(|(c, n)| format!("{c} {n}")).collect();
        println!("  {source:<14} {}  (said no: {declined})", list.join(", "));
    }
    println!("agreement with verdicts{}", source.as_ref().map_or(String::new(), |s| format!(" ({s})")));
    println!(
        "  {:<12} {:>7} {:>7} {:>7} {:>7} {:>6} {:>6}",
        "concept", "labels", "checked", "agreed", "against", "unsure", "rate"
    );
    let groups = [("all", &human.overall), ("said yes", &human.said_yes), ("said no", &human.said_no)];
    let groups = groups.into_iter().map(|(name, a)| (name.to_string(), a));
    for (concept, a) in human.per_concept.iter().map(|(c, a)| (c.clone(), a)).chain(groups) {
        println!(
            "  {concept:<12} {:>7} {:>7} {:>7} {:>7} {:>6} {:>6}",
            a.labels,
            a.checked,
            a.agreed,
            a.disagreed,
            a.unsure,
            rate(a)
        );
    }
    if !scored.is_empty() {
        println!("scores of labels the verdict agreed with against the others");
        for (scorer, a) in &scored {
            for (group, s) in [("all", &a.overall), ("said yes", &a.said_yes), ("said no", &a.said_no)] {
                println!("  {scorer:<11} {group:<9} {}", separation(s));
            }
        }
    }
    for k in &pairs {
        println!("kappa {} vs {}", k.first, k.second);
        let show = |c: &Contingency| c.kappa().map_or("-".to_string(), |k| format!("{k:.3}"));
        for (concept, c) in k.per_concept.iter().chain([(&"all".to_string(), &k.overall)]) {
            println!(
                "  {concept:<12} {:>5} pairs  yes/yes {} yes/no {} no/yes {} no/no {}  kappa {}",
                c.total(),
                c.both_yes,
                c.first_only,
                c.second_only,
                c.both_no,
                show(c)
            );
        }
    }
    if !human.disagreements.is_empty() {
        println!("disagreements");
        for d in &human.disagreements {
            let said = if d.label.applies { "yes" } else { "no" };
            let note = d.verdict.note.as_deref().unwrap_or("");
            let corrected = d.verdict.corrected.as_deref().map_or(String::new(), |c| format!(" (is {c})"));
            println!(
                "  {:<10} {:<12} {} said {said}, verdict {}{corrected} {note}",
                d.label.neuron.to_string(),
                d.label.concept,
                d.label.source,
                d.verdict.verdict
            );
        }
    }
    Ok(())
}
