#!/usr/bin/env python3
"""llama.cpp on a GGUF file, measured as `neuronav bench --random PRESET --weights SCHEME` measures
neuronav: load to ready, prefill of the same spread-out token ids, greedy decode, peak RSS.

For side-by-side figures: run both on the same file, minutes apart, with the same thread count.

    python3 -m venv ~/llamacpp && ~/llamacpp/bin/pip install llama-cpp-python==0.3.36
    ~/llamacpp/bin/python scripts/llama_cpp_bench.py FILE.gguf --tokens 912 --decode 32 --threads 2
"""
import argparse
import json
import resource
import time

from llama_cpp import Llama


def spread_ids(n, vocab_size):
    """The prompt `neuronav bench --random` runs: arbitrary but spread-out token ids."""
    return [(i * 7919 + 13) % vocab_size for i in range(n)]


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("gguf")
    p.add_argument("--tokens", type=int, default=912)
    p.add_argument("--decode", type=int, default=32)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeat", type=int, default=2, help="prefill runs; the best is reported")
    p.add_argument("--json", action="store_true")
    a = p.parse_args()

    started = time.perf_counter()
    llm = Llama(model_path=a.gguf, n_ctx=a.tokens + a.decode + 8, n_batch=512, n_threads=a.threads,
                n_threads_batch=a.threads, verbose=False, logits_all=False)
    load = time.perf_counter() - started
    ids = spread_ids(a.tokens, llm.n_vocab())

    best = float("inf")
    for _ in range(max(a.repeat, 1)):
        llm.reset()
        t = time.perf_counter()
        llm.eval(ids)
        best = min(best, time.perf_counter() - t)

    t = time.perf_counter()
    for _ in range(a.decode):
        token = llm.sample(temp=0.0)
        llm.eval([token])
    decode = time.perf_counter() - t

    report = {
        "file": a.gguf,
        "threads": a.threads,
        "load_seconds": load,
        "prompt_tokens": a.tokens,
        "prefill_tokens_per_second": a.tokens / best,
        "decode_tokens": a.decode,
        "decode_tokens_per_second": a.decode / decode,
        # ru_maxrss is in KiB on Linux.
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }
    if a.json:
        print(json.dumps(report, indent=2))
    else:
        print(f"llama.cpp        {a.gguf} ({a.threads} threads)")
        print(f"load to ready    {load:.2f} s")
        print(f"prefill          {a.tokens} tokens, {report['prefill_tokens_per_second']:.1f} tok/s")
        print(f"decode           {a.decode} tokens, {report['decode_tokens_per_second']:.2f} tok/s")
        print(f"peak RSS         {report['peak_rss_mib']:.0f} MiB")


if __name__ == "__main__":
    main()
