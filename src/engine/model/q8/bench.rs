//! Timings on Llama-2-7B's shapes, against the f32 `gemm` call of the exact path, and of single
//! rows. Run with `cargo test --release --lib q8::bench -- --ignored --nocapture`.
//!
//! Each product is timed twice by the wall clock: on one thread, and on all threads. The fastest
//! of several runs is kept, since other work on a shared machine only ever adds time.
use std::time::Instant;

use super::tests::{random_activations, random_weights};
use super::*;
use crate::engine::weights::quant::dequantize;

/// The fastest of `runs` timings of `f` after one untimed run: `(all threads, one thread)` in
/// seconds.
fn fastest_seconds(runs: usize, mut f: impl FnMut() + Send) -> (f64, f64) {
    let fastest = |times: Vec<f64>| times.into_iter().fold(f64::INFINITY, f64::min);
    f();
    let wall = (0..runs)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed().as_secs_f64()
        })
        .collect();
    let one = rayon::ThreadPoolBuilder::new().num_threads(1).build().unwrap();
    let one_thread = one.install(|| {
        (0..runs)
            .map(|_| {
                let start = Instant::now();
                f();
                start.elapsed().as_secs_f64()
            })
            .collect()
    });
    (fastest(wall), fastest(one_thread))
}

/// `y = x·Wᵀ` as `cpu_linear` computes it: `gemm` on W's `[rows, cols]` storage.
fn gemm_f32(w: &[f32], x: &[f32], rows: usize, cols: usize, y: &mut [f32]) {
    let n = x.len() / cols;
    // SAFETY: y is [n, rows], x [n, cols] and W [rows, cols], all row-major and in bounds.
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
}

#[test]
#[ignore = "timing; run on purpose"]
fn llama2_7b_shapes() {
    let formats = [GgmlType::Q4_0, GgmlType::Q4_K, GgmlType::Q6_K, GgmlType::Q8_0];
    let shapes: &[(usize, usize, usize)] = match std::env::var("Q8_BENCH_QUICK") {
        Ok(_) => &[(4096, 4096, 256)],
        Err(_) => &[(4096, 4096, 256), (4096, 4096, 912), (11008, 4096, 256), (11008, 4096, 912)],
    };
    println!("W [rows×cols]   n    type    1 thread: CPU ms  G op/s    all threads: ms  G op/s");
    for &(rows, cols, n) in shapes {
        let x = random_activations(n * cols, 1);
        let ops = 2.0 * (rows * cols * n) as f64;
        let mut y = vec![0f32; n * rows];
        let row = |name: &str, (wall, cpu): (f64, f64)| {
            println!(
                "[{rows:>5}×{cols}]  {n:>3}  {name:<6}  {:>16.1}  {:>6.1}    {:>15.1}  {:>6.1}",
                cpu * 1e3,
                ops / cpu / 1e9,
                wall * 1e3,
                ops / wall / 1e9
            );
        };
        let mut dense = vec![0f32; rows * cols];
        dequantize(GgmlType::Q4_0, &random_weights(GgmlType::Q4_0, rows, cols, 2), rows * cols, &mut dense).unwrap();
        row("f32", fastest_seconds(5, || gemm_f32(&dense, &x, rows, cols, &mut y)));
        drop(dense);
        for ty in formats {
            let weights = random_weights(ty, rows, cols, 3);
            row(ty.name(), fastest_seconds(5, || matmul_q8(ty, &weights, rows, cols, &x, &mut y).unwrap()));
        }
    }
}

/// One row (a decoding step) is bound by reading the weights: bytes of weights per second.
#[test]
#[ignore = "timing; run on purpose"]
fn single_rows() {
    let (rows, cols) = (4096, 4096);
    let x = random_activations(cols, 1);
    let mut y = vec![0f32; rows];
    println!("W [rows×cols]   type    1 thread: CPU µs  GB/s    all threads: µs  GB/s");
    for ty in super::tests::FORMATS {
        let weights = random_weights(ty, rows, cols, 3);
        let (wall, cpu) = fastest_seconds(20, || matvec_q8(ty, &weights, rows, cols, &x, &mut y).unwrap());
        let gb = weights.len() as f64 / 1e9;
        println!(
            "[{rows:>5}×{cols}]  {:<6}  {:>16.0}  {:>5.1}    {:>15.0}  {:>5.1}",
            ty.name(),
            cpu * 1e6,
            gb / cpu,
            wall * 1e6,
            gb / wall
        );
    }
}
