//! What is on screen, as a file: JSON (`.json`) or CSV (anything else ending in `.csv`), always
//! with the model, prompt and settings that produced the numbers.
use std::fmt::Write as _;
use std::path::Path;

use serde::Serialize;

use super::app::App;
use super::command::ExportScope;
use super::labels::LabelView;
use super::snapshot::{ModelInfo, TokenView};
use crate::engine::neuron::NeuronId;

#[derive(Serialize)]
struct Header<'a> {
    model: &'a ModelInfo,
    prompt: &'a str,
    settings: Settings,
}

#[derive(Serialize)]
struct Settings {
    top_k: usize,
    sampling: crate::engine::sampling::Sampling,
    stop_at_eos: bool,
}

#[derive(Serialize)]
struct NeuronRow {
    id: String,
    layer: usize,
    rank: usize,
    m: f32,
    s: f32,
    labels: Vec<LabelView>,
    promotes: Vec<String>,
}

#[derive(Serialize)]
struct PositionDoc<'a> {
    position: usize,
    token: &'a TokenView,
    generated: bool,
    neurons: Vec<NeuronRow>,
}

#[derive(Serialize)]
struct SessionDoc<'a> {
    #[serde(flatten)]
    header: Header<'a>,
    prompt_tokens: usize,
    tokens: &'a [TokenView],
    positions: Vec<PositionDoc<'a>>,
}

#[derive(Serialize)]
struct PositionExport<'a> {
    #[serde(flatten)]
    header: Header<'a>,
    #[serde(flatten)]
    position: PositionDoc<'a>,
}

#[derive(Serialize)]
struct NeuronExport<'a> {
    #[serde(flatten)]
    header: Header<'a>,
    neuron: String,
    value_norm: f32,
    labels: &'a [LabelView],
    promotes: Vec<(&'a str, f32)>,
    suppresses: Vec<(&'a str, f32)>,
    positions: Vec<NeuronAt<'a>>,
}

#[derive(Serialize)]
struct NeuronAt<'a> {
    position: usize,
    token: &'a TokenView,
    m: f32,
    rank: u32,
}

/// The file contents for `scope`, in the format `path`'s extension names.
pub fn render(app: &App, scope: ExportScope, path: &Path) -> Result<String, String> {
    let csv = match path.extension().and_then(|e| e.to_str()) {
        Some("json") => false,
        Some("csv") => true,
        _ => return Err(format!("{}: export to a .json or a .csv file", path.display())),
    };
    let model = app.model.as_deref().ok_or("nothing to export: no model is loaded")?;
    let snapshot = app.snapshot.as_deref().ok_or("nothing to export: run a prompt first")?;
    let header = Header {
        model,
        prompt: &app.last_prompt,
        settings: Settings {
            top_k: snapshot.settings.top_k,
            sampling: snapshot.settings.sampling,
            stop_at_eos: app.settings.stop_at_eos,
        },
    };
    let position_doc = |p: usize| PositionDoc {
        position: p,
        token: &snapshot.tokens[p],
        generated: p >= snapshot.prompt_len,
        neurons: snapshot.top[p]
            .iter()
            .enumerate()
            .flat_map(|(l, hits)| {
                hits.iter().enumerate().map(move |(rank, h)| {
                    let id = NeuronId { layer: l as u32, index: h.index };
                    NeuronRow {
                        id: id.to_string(),
                        layer: l,
                        rank: rank + 1,
                        m: h.m,
                        s: h.s,
                        labels: app.labels.of(id).to_vec(),
                        promotes: app
                            .projections
                            .get(&id)
                            .map(|p| p.top.iter().take(5).map(|t| t.token.text.clone()).collect())
                            .unwrap_or_default(),
                    }
                })
            })
            .collect(),
    };
    match scope {
        ExportScope::Position => {
            let p = app.position().min(snapshot.len().saturating_sub(1));
            let doc = position_doc(p);
            if csv {
                Ok(neuron_rows_csv(std::slice::from_ref(&doc)))
            } else {
                json(&PositionExport { header, position: doc })
            }
        }
        ExportScope::Session => {
            let positions: Vec<PositionDoc> = (0..snapshot.len()).map(position_doc).collect();
            if csv {
                Ok(neuron_rows_csv(&positions))
            } else {
                json(&SessionDoc { header, prompt_tokens: snapshot.prompt_len, tokens: &snapshot.tokens, positions })
            }
        }
        ExportScope::Neuron => {
            let d = app.detail.as_deref().ok_or("no neuron detail is open (Enter on a neuron, or :goto L21N7027)")?;
            let positions: Vec<NeuronAt> =
                d.m.iter()
                    .zip(&d.rank)
                    .enumerate()
                    .filter_map(|(p, (&m, &rank))| {
                        snapshot.tokens.get(p).map(|token| NeuronAt { position: p, token, m, rank })
                    })
                    .collect();
            if csv {
                let mut out = String::from("neuron,position,token_id,token,m,rank\n");
                for r in &positions {
                    let _ = writeln!(
                        out,
                        "{},{},{},{},{},{}",
                        d.neuron,
                        r.position,
                        r.token.id,
                        field(&r.token.text),
                        r.m,
                        r.rank
                    );
                }
                Ok(out)
            } else {
                let pairs = |v: &'_ [super::snapshot::TokenLogitView]| -> Vec<(String, f32)> {
                    v.iter().map(|t| (t.token.text.clone(), t.logit)).collect()
                };
                let (top, bottom) = (pairs(&d.projection.top), pairs(&d.projection.bottom));
                json(&NeuronExport {
                    header,
                    neuron: d.neuron.to_string(),
                    value_norm: d.value_norm,
                    labels: app.labels.of(d.neuron),
                    promotes: top.iter().map(|(t, l)| (t.as_str(), *l)).collect(),
                    suppresses: bottom.iter().map(|(t, l)| (t.as_str(), *l)).collect(),
                    positions,
                })
            }
        }
    }
}

fn neuron_rows_csv(positions: &[PositionDoc]) -> String {
    let mut out = String::from("position,token_id,token,generated,layer,rank,neuron,m,s,labels,promotes\n");
    for p in positions {
        for n in &p.neurons {
            let labels: Vec<String> = n.labels.iter().map(|l| format!("{}:{}", l.concept, l.source)).collect();
            let _ = writeln!(
                out,
                "{},{},{},{},{},{},{},{},{},{},{}",
                p.position,
                p.token.id,
                field(&p.token.text),
                p.generated,
                n.layer,
                n.rank,
                n.id,
                n.m,
                n.s,
                field(&labels.join(";")),
                field(&n.promotes.join(" "))
            );
        }
    }
    out
}

/// A CSV field, quoted when it holds a comma, quote or line break (RFC 4180).
fn field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

fn json<T: Serialize>(doc: &T) -> Result<String, String> {
    serde_json::to_string_pretty(doc).map(|s| s + "\n").map_err(|e| e.to_string())
}

/// Writes `contents` to `path` atomically: a temporary file beside it, then a rename.
pub fn write_atomically(path: &Path, contents: &str) -> Result<(), String> {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let fail = |e: &dyn std::fmt::Display| format!("{}: {e}", path.display());
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(|e| fail(&e))?;
    std::io::Write::write_all(&mut tmp, contents.as_bytes()).map_err(|e| fail(&e))?;
    tmp.persist(path).map_err(|e| fail(&e.error))?;
    Ok(())
}
