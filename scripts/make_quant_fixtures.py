#!/usr/bin/env python3
"""Writes the GGML dequantization fixtures under tests/fixtures/quant/.

quant-types.gguf holds one [2, 512] tensor per supported type, named after the type in lower case
("q4_1", ...), made of random but valid blocks: random quant bytes, block scales that are finite
f16 values (normal, subnormal and zero). expected.json holds gguf-py's own dequantization of each,
which the Rust tests must reproduce exactly.

Needs numpy and the `gguf` package (pip install numpy gguf). Deterministic: rerunning it gives the
same files.
"""
import json
from pathlib import Path

import numpy as np
from gguf import GGMLQuantizationType as T, GGUFWriter
from gguf.constants import GGML_QUANT_SIZES
from gguf.quants import dequantize

OUT = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "quant"
SHAPE = (2, 512)

# Byte offsets of the f16 scale fields inside one block of each block-quantized type.
SCALE_FIELDS = {
    T.Q4_0: [0],
    T.Q4_1: [0, 2],
    T.Q8_0: [0],
    T.Q4_K: [0, 2],
    T.Q5_K: [0, 2],
    T.Q6_K: [208],
}


def random_scales(rng: np.random.Generator, n: int) -> np.ndarray:
    """Finite f16 scales of either sign and typical magnitude; one in eight is a zero or a
    subnormal."""
    scales = rng.uniform(-0.1, 0.1, n).astype(np.float16)
    special = np.array([0.0, -0.0, 6e-8, -3e-6, 1e-5], dtype=np.float16)
    k = min(len(special), n // 8)
    scales[:k] = special[:k]
    return rng.permutation(scales)


def float_values(rng: np.random.Generator, dtype, n: int) -> np.ndarray:
    """Finite values spanning the type's range, including zeros and (for f16) subnormals."""
    values = rng.normal(0.0, 2.0, n).astype(np.float32)
    values[:6] = [0.0, -0.0, 1e-7, -65504.0, 65504.0, 3.0e-5]
    values = rng.permutation(values)
    if dtype == T.F32:
        return values.view(np.uint8)
    if dtype == T.F16:
        return values.astype(np.float16).view(np.uint8)
    # BF16: the top half of each f32, as ggml stores it.
    return (values.view(np.uint32) >> 16).astype(np.uint16).view(np.uint8)


def quantized_blocks(rng: np.random.Generator, ty: T, n_elements: int) -> np.ndarray:
    block_elements, block_bytes = GGML_QUANT_SIZES[ty]
    n_blocks = n_elements // block_elements
    blocks = rng.integers(0, 256, (n_blocks, block_bytes), dtype=np.uint8)
    for at in SCALE_FIELDS[ty]:
        blocks[:, at : at + 2] = random_scales(rng, n_blocks).view(np.uint8).reshape(n_blocks, 2)
    return blocks.reshape(-1)


def tensor_bytes(rng: np.random.Generator, ty: T) -> np.ndarray:
    """The stored bytes of a SHAPE tensor of type `ty`, one row of bytes per row of elements."""
    n = SHAPE[0] * SHAPE[1]
    flat = float_values(rng, ty, n) if ty in (T.F32, T.F16, T.BF16) else quantized_blocks(rng, ty, n)
    return flat.reshape(SHAPE[0], -1)


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(20240611)
    types = [T.F32, T.F16, T.BF16, T.Q4_0, T.Q4_1, T.Q8_0, T.Q4_K, T.Q5_K, T.Q6_K]
    writer = GGUFWriter(OUT / "quant-types.gguf", "llama")
    expected = []
    for ty in types:
        raw = tensor_bytes(rng, ty)
        name = ty.name.lower()
        writer.add_tensor(name, raw, raw_dtype=ty)
        values = dequantize(raw, ty).astype(np.float32)
        assert values.shape == SHAPE and np.isfinite(values).all(), name
        expected.append({"name": name, "type": ty.name, "shape": list(SHAPE), "values": values.reshape(-1).tolist()})
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    (OUT / "expected.json").write_text(json.dumps({"tensors": expected}, separators=(",", ":")) + "\n")


if __name__ == "__main__":
    main()
