//! Speed on Llama-2-7B's shapes with random valid blocks. Run with
//! `cargo test --release --lib packed::bench -- --ignored --nocapture --test-threads 1`;
//! `PACKED_BENCH=Q4_K,F16` picks formats (default: Q4_0, Q4_K, Q6_K, Q8_0, F16).
//!
//! Besides wall time, each product reports the processor time it used (Linux), so that numbers
//! taken on a machine shared with other work still say what the code costs: "core ms" is the
//! time summed over threads, and the rates in brackets assume it spread evenly over every thread.
use std::time::{Duration, Instant};

use super::tests::random_matrix;
use super::*;

/// `[rows, cols]`: q/k/v/o_proj, gate/up_proj, down_proj.
const SHAPES: [(usize, usize); 3] = [(4096, 4096), (11008, 4096), (4096, 11008)];

/// Processor time used by this process so far, in seconds (`utime + stime` of /proc/self/stat,
/// in the kernel's fixed 100 Hz ticks).
fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let fields: Vec<&str> = stat.get(stat.rfind(')')? + 2..)?.split_whitespace().collect();
    let ticks = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0)
}

struct Timing {
    /// Median wall time of one call.
    wall: Duration,
    /// Processor seconds of one call, summed over threads.
    cpu: Option<f64>,
}

impl Timing {
    /// One untimed call, then `runs` timed ones.
    fn of(runs: usize, mut f: impl FnMut()) -> Timing {
        f();
        let start_cpu = cpu_seconds();
        let mut walls: Vec<Duration> = (0..runs)
            .map(|_| {
                let start = Instant::now();
                f();
                start.elapsed()
            })
            .collect();
        let cpu = start_cpu.zip(cpu_seconds()).map(|(a, b)| (b - a) / runs as f64);
        walls.sort();
        Timing { wall: walls[runs / 2], cpu }
    }

    /// `work / seconds` from the wall time and, in brackets, from the processor time spread over
    /// every thread.
    fn rate(&self, work: f64) -> String {
        let threads = rayon::current_num_threads() as f64;
        let ideal = self.cpu.map_or("-".into(), |c| format!("{:.1}", work / (c / threads)));
        format!("{:>6.1} ({ideal:>5})", work / self.wall.as_secs_f64())
    }

    fn ms(&self) -> String {
        let cpu = self.cpu.map_or("-".into(), |c| format!("{:.1}", c * 1e3));
        format!("{:>7.2} {cpu:>7}", self.wall.as_secs_f64() * 1e3)
    }
}

#[test]
#[ignore = "measures speed; run by hand"]
fn llama_7b_shapes() {
    let formats: Vec<GgmlType> = match std::env::var("PACKED_BENCH") {
        Ok(names) => GgmlType::ALL.into_iter().filter(|t| names.split(',').any(|n| n == t.name())).collect(),
        Err(_) => vec![GgmlType::Q4_0, GgmlType::Q4_K, GgmlType::Q6_K, GgmlType::Q8_0, GgmlType::F16],
    };
    println!("{} threads; times: wall ms, core ms", rayon::current_num_threads());
    println!("format shape          MB   matvec ms  core ms  GB/s (ideal)  n=256 ms  core ms GFLOP/s (ideal)  n=912 ms  core ms GFLOP/s (ideal)");
    for (rows, cols) in SHAPES {
        let x: Vec<f32> = (0..912 * cols).map(|i| ((i * 37) % 23) as f32 * 0.1 - 1.1).collect();
        for &format in &formats {
            let packed = PackedRows::new(format, rows, cols, random_matrix(format, rows, cols, 1)).unwrap();
            let gb = packed.bytes().len() as f64 / 1e9;
            let one = Timing::of(200, || {
                std::hint::black_box(packed.matvec(&x[..cols]));
            });
            let many = [256, 912].map(|n| {
                Timing::of(3, || {
                    std::hint::black_box(packed.matmul(&x[..n * cols], n));
                })
            });
            let gflop = |n: usize| 2.0 * (n * rows * cols) as f64 / 1e9;
            println!(
                "{:<6} {rows:>5}x{cols:<5} {:>6.1}  {}  {}  {}  {}  {}  {}",
                format.name(),
                gb * 1e3,
                one.ms(),
                one.rate(gb),
                many[0].ms(),
                many[0].rate(gflop(256)),
                many[1].ms(),
                many[1].rate(gflop(912)),
            );
        }
        dense_reference(rows, cols, &x);
    }
}

/// One `gemm` over a dense f32 matrix on every thread, as `cpu_linear` multiplies dense weights.
fn dense_reference(rows: usize, cols: usize, x: &[f32]) {
    let w: Vec<f32> = (0..rows * cols).map(|i| ((i * 13) % 17) as f32 * 0.01 - 0.08).collect();
    let product = |n: usize| {
        let mut y = vec![0f32; n * rows];
        // SAFETY: as in `matmul`, with the whole matrix as one panel.
        unsafe {
            gemm::gemm(
                n,
                rows,
                cols,
                y.as_mut_ptr(),
                1,
                rows as isize,
                false,
                x.as_ptr(),
                1,
                cols as isize,
                w.as_ptr(),
                cols as isize,
                1,
                0.0,
                1.0,
                false,
                false,
                false,
                gemm::Parallelism::Rayon(rayon::current_num_threads()),
            );
        }
        std::hint::black_box(y);
    };
    let [t256, t912] = [256, 912].map(|n| Timing::of(3, || product(n)));
    let gflop = |n: usize| 2.0 * (n * rows * cols) as f64 / 1e9;
    println!(
        "dense f32 gemm {rows}x{cols}: n=256 {} {} GFLOP/s, n=912 {} {} GFLOP/s",
        t256.ms(),
        t256.rate(gflop(256)),
        t912.ms(),
        t912.rate(gflop(912)),
    );
}

/// Each format's row kernel and panel dequantization on one thread, on a matrix that stays in
/// the core's L2 cache: what they cost apart from memory.
#[test]
#[ignore = "measures speed; run by hand"]
fn kernels_in_cache() {
    println!("format  cols    row kernel ns/weight  portable ns/weight  dequantize ns/weight");
    for cols in [4096, 11008] {
        let rows = 512 * 1024 / cols;
        let x: Vec<f32> = (0..cols).map(|i| ((i * 37) % 23) as f32 * 0.1 - 1.1).collect();
        for format in GgmlType::ALL {
            let packed = PackedRows::new(format, rows, cols, random_matrix(format, rows, cols, 1)).unwrap();
            let per_weight = |t: Duration| t.as_secs_f64() * 1e9 / (rows * cols) as f64;
            let best = |f: &mut dyn FnMut()| (0..30).map(|_| Timing::of(1, &mut *f).wall).min().unwrap();
            let one_thread = |kernel: &RowKernel| {
                let mut y = vec![0f32; rows];
                packed.rows_dot(kernel, &x, 0, &mut y);
                std::hint::black_box(y);
            };
            let kernel = RowKernel::new(format, &x);
            let simd = best(&mut || one_thread(&kernel));
            let portable = best(&mut || one_thread(&RowKernel::Portable));
            let mut out = vec![0f32; rows * cols];
            let dequantize = best(&mut || packed.dequantize_rows(0, rows, &mut out));
            println!(
                "{:<6}  {cols:<5}  {:>20.3}  {:>18.3}  {:>20.3}",
                format.name(),
                per_weight(simd),
                per_weight(portable),
                per_weight(dequantize)
            );
        }
    }
}
