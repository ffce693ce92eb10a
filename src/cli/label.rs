//! `neuronav label lexical|llm|import|export`: making concept labels and moving them in and out.
use std::path::{Path, PathBuf};
use std::time::Instant;

use clap::{Args, Subcommand};
use color_eyre::eyre::{bail, Result, WrapErr};
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;

use super::exit::usage;
use super::output::{self, print_csv, print_json, write_stdout, TableJson, TableJsonCsv};
use super::ModelArgs;
use crate::engine::fingerprint::fingerprint;
use crate::engine::loader;
use crate::engine::neuron::NeuronId;
use crate::engine::session::Control;
use crate::paths::Paths;
use crate::science::labels::concepts::Concepts;
use crate::science::labels::endpoint::{Endpoint, LlmConfig, ENV_API_KEY};
use crate::science::labels::interchange::{self, Format, ImportReport, Shape};
use crate::science::labels::label::LEXICON;
use crate::science::labels::lexical::{self, LexicalSettings};
use crate::science::labels::llm::{self, Candidate};
use crate::science::labels::store::{LabelFilter, LabelStore};
use crate::science::projection::ProjectionSettings;
use crate::science::vocab_index::VocabIndex;

/// Which label store to use, and for which model.
#[derive(Debug, Args, Clone)]
pub struct StoreArgs {
    /// The label database [default: labels.sqlite3 in the data directory]
    #[arg(long, value_name = "PATH")]
    pub db: Option<PathBuf>,
    /// The model's fingerprint, to use the store without the model's files (neuron ids are then
    /// not checked against the model's size)
    #[arg(long, value_name = "HEX")]
    pub fingerprint: Option<String>,
}

impl StoreArgs {
    pub fn path(&self, paths: &Paths) -> Result<PathBuf> {
        match &self.db {
            Some(p) => Ok(p.clone()),
            None => Ok(LabelStore::default_path(&paths.data)),
        }
    }

    /// The fingerprint given, or the model's; and the model's shape when its files were read.
    pub fn model(&self, model_args: &ModelArgs, paths: &Paths) -> Result<(String, Option<Shape>)> {
        if let Some(fp) = &self.fingerprint {
            return Ok((fp.clone(), None));
        }
        let path = model_args.resolve_path(paths)?;
        let (_, config, _) = loader::open(&path).wrap_err_with(|| format!("opening {}", path.display()))?;
        let shape = Shape { n_layers: config.num_layers, d_ff: config.intermediate_size };
        Ok((fingerprint(&path)?, Some(shape)))
    }

    pub fn open(&self, fingerprint: &str, paths: &Paths) -> Result<LabelStore> {
        Ok(LabelStore::open(&self.path(paths)?, fingerprint)?)
    }
}

/// The built-in concepts with the user's from the config directory.
pub fn concepts(paths: &Paths) -> Result<Concepts> {
    Ok(Concepts::load(&paths.config.join("concepts.toml"))?)
}

#[derive(Debug, Subcommand)]
pub enum LabelCommand {
    /// Label every neuron whose promoted tokens include at least two seed words of a concept
    /// (the method's pre-filter; source "lexicon")
    Lexical {
        /// Skip layers below this one
        #[arg(long, default_value_t = 6)]
        min_layer: usize,
        /// Promoted tokens (of 20) that must equal a seed word
        #[arg(long, default_value_t = 2)]
        min_matches: usize,
        #[command(flatten)]
        store: StoreArgs,
        #[command(flatten)]
        output: TableJsonCsv,
    },
    /// Ask an LLM each concept's question about the lexicon's candidates (resumable: pairs
    /// already answered by the same LLM model are skipped). The API key is read from
    /// NEURONAV_LLM_API_KEY or OPENAI_API_KEY
    Llm(LlmArgs),
    /// Score labels against the neuron's corpus exemplars: `seeds` (offline: how well the
    /// concept's seed words predict activation), `detection` or `simulation` (asking an LLM)
    Score(super::label_score::ScoreArgs),
    /// Import labels from a JSON, JSONL or CSV file (columns neuron,concept,label_source,answer)
    Import {
        file: PathBuf,
        /// The file's format [default: from the extension]
        #[arg(long, value_enum)]
        format: Option<Format>,
        #[command(flatten)]
        store: StoreArgs,
        /// Print the report as JSON (--format names the file's format here)
        #[arg(long)]
        json: bool,
    },
    /// Export labels as JSON, JSONL or CSV
    Export {
        /// Where to write ("-": standard output)
        file: PathBuf,
        #[arg(long, value_enum)]
        format: Option<Format>,
        /// Only labels from this source
        #[arg(long)]
        source: Option<String>,
        /// Only labels of this concept
        #[arg(long)]
        concept: Option<String>,
        #[command(flatten)]
        store: StoreArgs,
    },
}

#[derive(Debug, Args)]
pub struct LlmArgs {
    /// Only candidates of this concept
    #[arg(long)]
    concept: Option<String>,
    /// Ask about at most this many candidates
    #[arg(long)]
    limit: Option<usize>,
    #[command(flatten)]
    endpoint: EndpointArgs,
    #[command(flatten)]
    store: StoreArgs,
    #[command(flatten)]
    output: TableJson,
}

/// The chat endpoint's settings, over the config file's and the environment's.
#[derive(Debug, Args)]
pub struct EndpointArgs {
    /// Chat endpoint up to the API version [env NEURONAV_LLM_BASE_URL; config [llm] base_url]
    #[arg(long)]
    base_url: Option<String>,
    /// LLM asked, and the source its labels are stored under [env NEURONAV_LLM_MODEL; default gpt-4-turbo]
    #[arg(long)]
    llm_model: Option<String>,
    /// Requests in flight at once [default: 4]
    #[arg(long)]
    concurrency: Option<usize>,
    /// Seconds one request may take [default: 60]
    #[arg(long)]
    timeout: Option<f64>,
    /// Retries of a failed request [default: 4]
    #[arg(long)]
    retries: Option<u32>,
}

impl EndpointArgs {
    /// The endpoint these flags, the config file and the environment name.
    pub fn resolve(self, paths: &Paths) -> Result<Endpoint> {
        let config = LlmConfig::load(&paths.config.join("config.toml"))?;
        let flags = LlmConfig {
            base_url: self.base_url,
            model: self.llm_model,
            concurrency: self.concurrency,
            timeout_secs: self.timeout,
            retries: self.retries,
        };
        let endpoint = Endpoint::resolve(flags, config)?;
        if !endpoint.has_key() {
            eprintln!("no API key in {ENV_API_KEY} or OPENAI_API_KEY; sending requests without one");
        }
        Ok(endpoint)
    }
}

/// What `label lexical` prints as JSON (docs/cli-json.md).
#[derive(Serialize)]
struct LexicalReport {
    db: PathBuf,
    index_built: bool,
    min_layer: usize,
    concepts: Vec<ConceptCount>,
    /// Neurons with at least one label.
    neurons: usize,
    labels: usize,
}

#[derive(Serialize)]
struct ConceptCount {
    concept: String,
    neurons: usize,
}

/// What `label import` prints as JSON.
#[derive(Serialize)]
struct ImportSummary<'a> {
    file: &'a Path,
    #[serde(flatten)]
    report: &'a ImportReport,
}

/// What `label llm` prints as JSON.
#[derive(Serialize)]
struct LlmSummary {
    llm_model: String,
    answered: usize,
    labelled: usize,
    skipped: usize,
    requests: usize,
    failed: Vec<FailedPair>,
}

#[derive(Serialize)]
struct FailedPair {
    neuron: NeuronId,
    concept: String,
    error: String,
}

pub fn run(model_args: &ModelArgs, paths: &Paths, command: LabelCommand) -> Result<()> {
    match command {
        LabelCommand::Lexical { min_layer, min_matches, store, output } => {
            run_lexical(model_args, paths, LexicalSettings { min_layer, min_matches }, &store, output.format())
        }
        LabelCommand::Llm(args) => run_llm(model_args, paths, args),
        LabelCommand::Score(args) => super::label_score::run(model_args, paths, args),
        LabelCommand::Import { file, format, store, json } => {
            let format = format_of(&file, format)?;
            let (fp, shape) = store.model(model_args, paths)?;
            let Some(shape) = shape else {
                return Err(usage("import checks neuron ids against the model: give --model, not --fingerprint"));
            };
            let mut db = store.open(&fp, paths)?;
            let report = interchange::import(&mut db, &file, format, shape, &concepts(paths)?)?;
            let unit = if report.items { "item" } else { "line" };
            for r in &report.rejected {
                eprintln!("{}: {unit} {}: {}", file.display(), r.at, r.reason);
            }
            if json {
                return print_json(&ImportSummary { file: &file, report: &report });
            }
            println!(
                "{}: {} imported, {} updated, {} already in the store, {} rejected",
                file.display(),
                report.imported,
                report.updated,
                report.unchanged,
                report.rejected.len()
            );
            Ok(())
        }
        LabelCommand::Export { file, format, source, concept, store } => {
            let stdout = file == Path::new("-");
            let format = if stdout { format.unwrap_or(Format::Jsonl) } else { format_of(&file, format)? };
            let (fp, _) = store.model(model_args, paths)?;
            let labels = store.open(&fp, paths)?.labels(&LabelFilter { source, concept, applying: false })?;
            if stdout {
                let mut text = Vec::new();
                interchange::export(&labels, format, &mut text)?;
                write_stdout(&text)?;
            } else {
                // Written beside the target and renamed: an interrupted export leaves no half file.
                let dir = file.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
                let mut tmp =
                    tempfile::NamedTempFile::new_in(dir).wrap_err_with(|| format!("writing {}", file.display()))?;
                interchange::export(&labels, format, &mut std::io::BufWriter::new(tmp.as_file_mut()))?;
                tmp.persist(&file).wrap_err_with(|| format!("writing {}", file.display()))?;
                eprintln!("{} labels written to {}", labels.len(), file.display());
            }
            Ok(())
        }
    }
}

fn format_of(file: &Path, format: Option<Format>) -> Result<Format> {
    format.or_else(|| Format::of_path(file)).ok_or_else(|| {
        usage(format!("{}: cannot tell the format from the extension; give --format json|jsonl|csv", file.display()))
    })
}

fn run_lexical(
    model_args: &ModelArgs,
    paths: &Paths,
    settings: LexicalSettings,
    store: &StoreArgs,
    format: output::Format,
) -> Result<()> {
    let concepts = concepts(paths)?;
    let loaded = model_args.load(paths)?;
    let started = Instant::now();
    let (index, built) = VocabIndex::load_or_build(
        loaded.model.as_ref(),
        &paths.cache,
        &loaded.fingerprint,
        ProjectionSettings::default(),
        Control::default(),
    )?;
    let index_time = started.elapsed();
    let started = Instant::now();
    let texts = lexical::token_texts(&loaded.tokenizer, loaded.config.vocab_size);
    let labels = lexical::prefilter(&index, &texts, &concepts, settings);
    let filter_time = started.elapsed();
    let mut db = store.open(&loaded.fingerprint, paths)?;
    db.upsert_labels(&labels)?;
    eprintln!(
        "index {} in {:.2} s; {} neurons of layers >= {} filtered in {:.2} s",
        if built { "built" } else { "loaded" },
        index_time.as_secs_f64(),
        index.d_ff * index.n_layers.saturating_sub(settings.min_layer),
        settings.min_layer,
        filter_time.as_secs_f64()
    );
    let counts = concepts
        .iter()
        .map(|c| ConceptCount { concept: c.key.clone(), neurons: labels.iter().filter(|l| l.concept == c.key).count() })
        .collect();
    let distinct: std::collections::HashSet<_> = labels.iter().map(|l| l.neuron).collect();
    let report = LexicalReport {
        db: db.path().to_path_buf(),
        index_built: built,
        min_layer: settings.min_layer,
        concepts: counts,
        neurons: distinct.len(),
        labels: labels.len(),
    };
    match format {
        output::Format::Json => print_json(&report),
        output::Format::Csv => {
            let rows = report.concepts.iter().map(|c| [c.concept.clone(), c.neurons.to_string()]);
            let any = [["any".to_string(), report.neurons.to_string()]];
            print_csv(&["concept", "neurons"], rows.chain(any))
        }
        output::Format::Table => {
            for c in &report.concepts {
                println!("{:<12} {:>6} neurons", c.concept, c.neurons);
            }
            println!(
                "{:<12} {:>6} neurons ({} labels) -> {}",
                "any",
                report.neurons,
                report.labels,
                report.db.display()
            );
            Ok(())
        }
    }
}

fn run_llm(model_args: &ModelArgs, paths: &Paths, args: LlmArgs) -> Result<()> {
    let concepts = concepts(paths)?;
    if let Some(c) = &args.concept {
        concepts.require(c)?;
    }
    let endpoint = args.endpoint.resolve(paths)?;
    let (fp, _) = args.store.model(model_args, paths)?;
    let mut store = args.store.open(&fp, paths)?;
    let filter = LabelFilter { source: Some(LEXICON.into()), concept: args.concept, applying: true };
    let mut candidates: Vec<Candidate> = store
        .labels(&filter)?
        .into_iter()
        .map(|l| Candidate { neuron: l.neuron, concept: l.concept, evidence: l.evidence })
        .collect();
    if candidates.is_empty() {
        bail!("no lexicon labels to ask about; run `neuronav label lexical` first");
    }
    if let Some(limit) = args.limit {
        candidates.truncate(limit);
    }
    let bar = ProgressBar::new(0)
        .with_style(ProgressStyle::with_template("{msg} {bar:40} {pos}/{len}, {eta} left").expect("valid template"));
    let progress = |p: llm::Progress| {
        bar.set_length(p.total as u64);
        bar.set_position(p.done as u64);
        bar.set_message(format!("{} yes, {} failed", p.labelled, p.failed));
    };
    let report = llm::label(&mut store, &endpoint, &concepts, &candidates, &progress)?;
    bar.finish_and_clear();
    for (c, why) in &report.failed {
        eprintln!("{} {}: {why}", c.neuron, c.concept);
    }
    if args.output.json() {
        print_json(&LlmSummary {
            llm_model: endpoint.model.clone(),
            answered: report.answered,
            labelled: report.labelled,
            skipped: report.skipped,
            requests: report.requests,
            failed: report
                .failed
                .iter()
                .map(|(c, why)| FailedPair { neuron: c.neuron, concept: c.concept.clone(), error: why.clone() })
                .collect(),
        })?;
    } else {
        println!(
            "{}: {} answered ({} yes), {} already answered, {} without an answer, {} requests",
            endpoint.model,
            report.answered,
            report.labelled,
            report.skipped,
            report.failed.len(),
            report.requests
        );
    }
    if !report.failed.is_empty() {
        bail!("{} pairs got no answer; run the command again to ask them", report.failed.len());
    }
    Ok(())
}
