#!/usr/bin/env python3
"""Writes tests/fixtures/quant/quantize-ref.gguf: f32 inputs and gguf-py's quantization of them.

gguf-py's quantizers for F16, BF16, Q4_0, Q4_1 and Q8_0 reproduce ggml's `quantize_row_*_ref` bit
for bit; the Rust quantizers must give the same bytes. Tensors:

- `input` F32 [16, 256]: rows of normal values at scales from 1e-5 to 30, zeros, a constant, an
  outlier, all-negative and all-positive rows, quarter steps, heavy tails;
- `q4_0`, `q4_1`, `q8_0`: `input` quantized;
- `floats` F32 [1, 64]: values that exercise rounding to f16 and bf16 (ties, subnormals,
  overflow, infinities, NaN), and `f16`, `bf16`: `floats` converted.

Needs numpy and gguf (pip install numpy gguf). Deterministic: rerunning it gives the same file.
"""
from pathlib import Path

import numpy as np
from gguf import GGMLQuantizationType as T, GGUFWriter
from gguf.quants import quantize

OUT = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "quant" / "quantize-ref.gguf"
COLS = 256


def inputs(rng: np.random.Generator) -> np.ndarray:
    rows = [rng.normal(0.0, scale, COLS) for scale in (1.0, 0.02, 1e-3, 30.0, 1e-5, 0.5)]
    rows.append(np.zeros(COLS))
    rows.append(np.full(COLS, 0.37))
    outlier = rng.normal(0.0, 0.01, COLS)
    outlier[77] = 100.0
    rows.append(outlier)
    rows.append(rng.uniform(-2.0, -1.0, COLS))
    rows.append(rng.uniform(1.0, 2.0, COLS))
    rows.append(np.tile(np.arange(-8, 8) * 0.25, COLS // 16))
    rows.append(np.round(rng.uniform(-1.0, 1.0, COLS) * 64) / 64)
    rows.extend(rng.standard_t(3, COLS) for _ in range(3))
    return np.stack(rows).astype(np.float32)


def floats(rng: np.random.Generator) -> np.ndarray:
    special = [
        0.0, -0.0, 1.0, -1.0,
        1 + 2**-11, 1 + 3 * 2**-11, -(1 + 2**-11),    # f16 ties: to even, up, to even
        1 + 2**-8, 1 + 3 * 2**-8, 1 + 2**-8 + 2**-20,  # bf16 ties and just above one
        6e-8, 3e-8, 1e-6, 65504.0, 65519.0, 65520.0, 70000.0, -70000.0,
        3.0e38, 3.4028235e38, np.inf, -np.inf, np.nan, 1e-40,
    ]
    rest = rng.normal(0.0, 3.0, 64 - len(special))
    return np.concatenate([special, rest]).astype(np.float32).reshape(1, 64)


def main() -> None:
    rng = np.random.default_rng(20250301)
    x = inputs(rng)
    f = floats(rng)
    writer = GGUFWriter(OUT, "llama")
    writer.add_tensor("input", x)
    for ty in (T.Q4_0, T.Q4_1, T.Q8_0):
        writer.add_tensor(ty.name.lower(), quantize(x, ty), raw_dtype=ty)
    writer.add_tensor("floats", f)
    with np.errstate(over="ignore"):
        writer.add_tensor("f16", quantize(f, T.F16))
    writer.add_tensor("bf16", quantize(f, T.BF16), raw_dtype=T.BF16)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


if __name__ == "__main__":
    main()
