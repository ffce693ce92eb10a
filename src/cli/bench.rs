//! `neuronav bench`: load time, prefill and decode speed with full capture, peak memory.
use std::path::PathBuf;
use std::time::Instant;

use clap::{Args, ValueEnum};
use color_eyre::eyre::{bail, Result, WrapErr};
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;

use super::bench_grid::{bench_grid, GridReport};
use super::bench_paths::{bench_paths, PathsReport};
use super::exit::read_input;
use super::index::search_tokens;
use super::method_data::{variant_prompt, MethodDataArgs};
use super::output::{print_json, TableJson};
use super::ModelArgs;
use crate::engine::config::Preset;
use crate::engine::loader;
use crate::engine::model::ComputePath;
use crate::engine::random_model::{RandomModel, WeightScheme};
use crate::engine::sampling::Sampling;
use crate::engine::session::{Control, Session, SessionSettings};
use crate::paths::Paths;
use crate::science::projection::ProjectionSettings;
use crate::science::vocab_index::VocabIndex;

#[derive(Debug, Args)]
pub struct BenchArgs {
    // The prompt: the method's cot_prompt variant (the 8-shot CoT exemplars) with the first
    // question.
    #[command(flatten)]
    pub method: MethodDataArgs,
    /// Use this prompt file instead
    #[arg(long, value_name = "FILE")]
    pub prompt_file: Option<PathBuf>,
    /// Tokens to decode after the prompt
    #[arg(long, default_value_t = 32)]
    pub decode: usize,
    /// Prefill runs; the best is reported
    #[arg(long, default_value_t = 2)]
    pub repeat: usize,
    /// Benchmark random weights of a known model's shapes instead of a model file (the prompt is
    /// then --tokens arbitrary token ids)
    #[arg(long, value_enum, value_name = "PRESET")]
    pub random: Option<Preset>,
    /// With --random: write the random weights in this llama.cpp scheme to a GGUF file in the
    /// cache (once; reused while valid) and benchmark that file as --model FILE would load it,
    /// tokenizer included. Without it the weights are made in memory
    #[arg(long, value_enum, value_name = "SCHEME", requires = "random")]
    pub weights: Option<WeightScheme>,
    /// Prompt length for --random
    #[arg(long, default_value_t = 912)]
    pub tokens: usize,
    /// Also build the whole-model vocabulary index (in memory), reload it from disk and search it
    #[arg(long)]
    pub index: bool,
    /// Also build the standard operand grid (+, operands 0..50, every layer) in memory
    #[arg(long)]
    pub grid: bool,
    /// Also run the prompt through the model file on both compute paths (exact and fast) and
    /// report how far the fast path's m and top-K sets are from the exact path's. Holds two runs
    /// in memory at once
    #[arg(long)]
    pub compare_paths: bool,
    /// The device's peak FLOP/s in TFLOP/s (e.g. 989 for an H100 SXM in f16), to report prefill
    /// and index speed as a fraction of it
    #[arg(long, value_name = "TFLOPS")]
    pub peak_tflops: Option<f64>,
    /// The device's memory bandwidth in GB/s (e.g. 3350 for an H100 SXM), to report decoding as a
    /// fraction of the bound that reading the weights once per token sets
    #[arg(long, value_name = "GBPS")]
    pub bandwidth_gbps: Option<f64>,
    #[command(flatten)]
    pub output: TableJson,
}

#[derive(Serialize)]
struct BenchReport {
    model: String,
    weights_file: Option<WeightsFile>,
    device: String,
    /// The products' path (see `--compute`).
    compute: ComputePath,
    threads: usize,
    load_seconds: f64,
    prompt_tokens: usize,
    prefill_seconds: f64,
    prefill_tokens_per_second: f64,
    decode_tokens: usize,
    decode_tokens_per_second: f64,
    /// FLOP/s achieved by the prefill.
    prefill_tflops: f64,
    /// Weight bytes read per decoded token, and the rate that makes.
    decode_weight_bytes: usize,
    decode_weight_gbps: f64,
    /// Fractions of the hardware limits given with --peak-tflops / --bandwidth-gbps.
    prefill_fraction_of_peak: Option<f64>,
    decode_fraction_of_bandwidth_bound: Option<f64>,
    index: Option<IndexReport>,
    grid: Option<GridReport>,
    paths: Option<PathsReport>,
    peak_rss_mib: Option<f64>,
    /// What the trace kept at the end: in memory (within --trace-memory) and in its spill file.
    trace_resident_mib: f64,
    trace_spilled_mib: f64,
}

/// The GGUF file of random weights that `--weights` benchmarks.
#[derive(Serialize)]
struct WeightsFile {
    path: PathBuf,
    bytes: u64,
    /// Seconds spent writing it; absent when an earlier run's file was reused.
    write_seconds: Option<f64>,
}

#[derive(Serialize)]
struct IndexReport {
    neurons: usize,
    build_seconds: f64,
    build_tflops: f64,
    build_fraction_of_peak: Option<f64>,
    reload_seconds: f64,
    /// Searching the index for the neurons that promote one token (`+` when the model has it).
    search_ms: f64,
    search_hits: usize,
}

pub fn run(model_args: &ModelArgs, paths: &Paths, args: BenchArgs) -> Result<()> {
    let weights_file = match (args.random, args.weights) {
        (Some(preset), Some(scheme)) => Some(random_weights_file(paths, preset, scheme)?),
        _ => None,
    };
    let settings = model_args.settings(SessionSettings::default().top_k, Sampling::Greedy);
    let started = Instant::now();
    let (session, ids, name, file) = match (args.random, &weights_file) {
        (Some(preset), Some(file)) => {
            let file_args = ModelArgs { model: Some(file.path.clone()), ..*model_args };
            let loaded = file_args.load(paths)?;
            let ids = spread_ids(args.tokens, loaded.config.vocab_size);
            let name = format!("random {} ({})", preset_name(preset), loaded.name);
            (Session::new(loaded.model, loaded.tokenizer, settings), ids, name, Some(loaded.path))
        }
        (Some(preset), None) => {
            let config = preset.config();
            let (model, note) = loader::random(&config, model_args.device, model_args.dtype, 0)?;
            if let Some(note) = note {
                eprintln!("{note}");
            }
            let ids = spread_ids(args.tokens, config.vocab_size);
            (Session::untokenized(model, settings), ids, format!("random {preset:?}"), None)
        }
        (None, _) => {
            let prompt = match &args.prompt_file {
                Some(f) => read_input(f)?,
                None => variant_prompt(&args.method.data(0), "cot_prompt", 0)?,
            };
            let loaded = model_args.load(paths)?;
            let ids = loaded.tokenizer.encode(&prompt)?;
            let name = loaded.path.display().to_string();
            (Session::new(loaded.model, loaded.tokenizer, settings), ids, name, Some(loaded.path))
        }
    };
    if args.compare_paths && file.is_none() {
        bail!("--compare-paths needs a model file: --model FILE, or --random with --weights");
    }
    let mut session = session.spill_to(paths.trace_spill());
    let load_seconds = started.elapsed().as_secs_f64();
    let mut best = f64::INFINITY;
    for _ in 0..args.repeat.max(1) {
        let t = Instant::now();
        session.run_ids(ids.clone(), Control::default())?;
        best = best.min(t.elapsed().as_secs_f64());
    }
    let prompt_tokens = session.len();
    let t = Instant::now();
    for _ in 0..args.decode {
        session.step(Control::default())?;
    }
    let decode_seconds = t.elapsed().as_secs_f64();
    let config = session.model().config().clone();
    let prefill_tflops = config.forward_flops(0, prompt_tokens) / best / 1e12;
    let decode_weight_bytes = session.model().weight_bytes_per_token();
    let decode_tokens_per_second = args.decode as f64 / decode_seconds;
    let decode_weight_gbps = decode_weight_bytes as f64 * decode_tokens_per_second / 1e9;
    let index = if args.index { Some(bench_index(&session, args.peak_tflops)?) } else { None };
    let grid = if args.grid { Some(bench_grid(&session)?) } else { None };
    let device = session.model().describe();
    let compute = session.model().compute_path();
    let trace_resident_mib = session.trace().resident_bytes() as f64 / MIB;
    let trace_spilled_mib = session.trace().spilled_bytes() as f64 / MIB;
    // Before the comparison, which holds two runs of its own; this one's memory goes first.
    let peak_rss_mib = peak_rss_mib();
    drop(session);
    let agreement = match (&file, args.compare_paths) {
        (Some(file), true) => Some(bench_paths(model_args, paths, file, &ids)?),
        _ => None,
    };
    let report = BenchReport {
        model: name,
        weights_file,
        device,
        compute,
        threads: rayon::current_num_threads(),
        load_seconds,
        prompt_tokens,
        prefill_seconds: best,
        prefill_tokens_per_second: prompt_tokens as f64 / best,
        decode_tokens: args.decode,
        decode_tokens_per_second,
        prefill_tflops,
        decode_weight_bytes,
        decode_weight_gbps,
        prefill_fraction_of_peak: args.peak_tflops.map(|peak| prefill_tflops / peak),
        decode_fraction_of_bandwidth_bound: args.bandwidth_gbps.map(|bw| decode_weight_gbps / bw),
        index,
        grid,
        paths: agreement,
        peak_rss_mib,
        trace_resident_mib,
        trace_spilled_mib,
    };
    if args.output.json() {
        print_json(&report)?;
    } else {
        let products = report.compute.name();
        println!(
            "model            {} ({}, {products} products, {} threads)",
            report.model, report.device, report.threads
        );
        if let Some(file) = &report.weights_file {
            let how = file.write_seconds.map_or("reused".to_string(), |s| format!("written in {s:.1} s"));
            println!("weights file     {} ({:.2} GB, {how})", file.path.display(), file.bytes as f64 / 1e9);
        }
        println!("load to ready    {:.2} s", report.load_seconds);
        println!(
            "prefill          {} tokens in {:.2} s = {:.0} tok/s (full capture)",
            report.prompt_tokens, report.prefill_seconds, report.prefill_tokens_per_second
        );
        let fraction = |f: Option<f64>, of: &str| f.map_or(String::new(), |f| format!(", {:.0}% of {of}", 100.0 * f));
        println!(
            "                 {:.2} TFLOP/s{}",
            report.prefill_tflops,
            fraction(report.prefill_fraction_of_peak, "peak")
        );
        println!(
            "decode           {} tokens, {:.1} tok/s (full capture)",
            report.decode_tokens, report.decode_tokens_per_second
        );
        println!(
            "                 {:.0} MB of weights a token, {:.1} GB/s{}",
            report.decode_weight_bytes as f64 / 1e6,
            report.decode_weight_gbps,
            fraction(report.decode_fraction_of_bandwidth_bound, "the bandwidth bound")
        );
        if let Some(ix) = &report.index {
            println!(
                "vocab index      {} neurons in {:.1} s, {:.2} TFLOP/s{}",
                ix.neurons,
                ix.build_seconds,
                ix.build_tflops,
                fraction(ix.build_fraction_of_peak, "peak")
            );
            println!(
                "                 reload {:.2} s, search {:.1} ms ({} neurons)",
                ix.reload_seconds, ix.search_ms, ix.search_hits
            );
        }
        if let Some(grid) = &report.grid {
            println!("{}", grid.line());
        }
        if let Some(paths) = &report.paths {
            println!("{}", paths.line());
        }
        if let Some(rss) = report.peak_rss_mib {
            println!("peak RSS         {rss:.0} MiB");
        }
        println!(
            "trace            {:.0} MiB in memory, {:.0} MiB on disk",
            report.trace_resident_mib, report.trace_spilled_mib
        );
    }
    Ok(())
}

const MIB: f64 = (1 << 20) as f64;

/// Arbitrary but spread-out token ids.
fn spread_ids(n: usize, vocab_size: usize) -> Vec<u32> {
    (0..n).map(|i| ((i * 7919 + 13) % vocab_size) as u32).collect()
}

/// The preset's name on the command line (`llama2-7b`).
fn preset_name(preset: Preset) -> String {
    preset.to_possible_value().map_or_else(|| format!("{preset:?}"), |v| v.get_name().to_owned())
}

/// The GGUF file of `preset`'s shapes with random weights (seed 0, as the in-memory weights) in
/// `scheme`, under the cache's `random-models/`: written on first use, with a progress bar.
fn random_weights_file(paths: &Paths, preset: Preset, scheme: WeightScheme) -> Result<WeightsFile> {
    let dir = paths.cache.join("random-models");
    let model = RandomModel { config: preset.config(), scheme, seed: 0, name: preset_name(preset) };
    let bar = ProgressBar::new(0).with_style(
        ProgressStyle::with_template("{msg} {bar:40} {bytes}/{total_bytes}, {eta} left").expect("valid template"),
    );
    bar.set_message(format!("writing {}", model.file_name()));
    let started = Instant::now();
    let progress = |done: u64, total: u64| {
        bar.set_length(total);
        bar.set_position(done);
    };
    let (path, written) =
        model.ensure(&dir, &progress).wrap_err_with(|| format!("writing random weights into {}", dir.display()))?;
    bar.finish_and_clear();
    let bytes = std::fs::metadata(&path).wrap_err_with(|| format!("reading {}", path.display()))?.len();
    Ok(WeightsFile { path, bytes, write_seconds: written.then(|| started.elapsed().as_secs_f64()) })
}

/// Builds the vocabulary index of the session's model, saves and reloads it, and searches it.
fn bench_index(session: &Session, peak_tflops: Option<f64>) -> Result<IndexReport> {
    let model = session.model().as_ref();
    let config = model.config();
    let settings = ProjectionSettings::default();
    let t = Instant::now();
    let index = VocabIndex::build(model, settings, Control::default())?;
    let build_seconds = t.elapsed().as_secs_f64();
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("index.safetensors");
    index.save(&path)?;
    drop(index);
    let t = Instant::now();
    let index = VocabIndex::load(&path)?;
    let reload_seconds = t.elapsed().as_secs_f64();
    let tokens = match session.tokenizer() {
        Some(tokenizer) => search_tokens(tokenizer, "+")?,
        None => vec![1],
    };
    let t = Instant::now();
    let search_hits = index.promoting(&tokens).len();
    let search_ms = t.elapsed().as_secs_f64() * 1e3;
    let build_tflops = config.index_flops() / build_seconds / 1e12;
    Ok(IndexReport {
        neurons: config.num_neurons(),
        build_seconds,
        build_tflops,
        build_fraction_of_peak: peak_tflops.map(|peak| build_tflops / peak),
        reload_seconds,
        search_ms,
        search_hits,
    })
}

/// The process's peak resident set size, where the platform reports it.
fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}
