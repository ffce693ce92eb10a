"""Reference outputs for neuronav's parity tests, computed with PyTorch + transformers.

Run by hand (never by CI), see scripts/README.md. Writes into tests/fixtures/:

- tiny-llama/                a random Llama (GQA, untied head) as a Hugging Face dir, f32
- tiny-llama-f16-sharded/    the same weights in f16, split over shards with an index
- tiny-llama-bf16/           the same weights in bf16
- tiny-llama-tied/           a variant whose lm_head is tied to the embedding
- tiny-llama.gguf            the f32 model as GGUF, Q/K permuted as llama.cpp's converter does
- tiny-llama-q8_0.gguf       the same with every matrix quantized to Q8_0
- reference/<variant>.json   logits, m = silu(gate)*up, residual streams, greedy tokens,
                             value-vector norms and vocabulary projections of each variant
- smollm2-reference.json     the real default model: top-20 neurons per layer at the last token,
                             next-token top-5, greedy tokens, projections, on three prompts
"""
import copy
import json
import os
import sys
from pathlib import Path

import numpy as np
import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")
torch.set_num_threads(2)
torch.set_grad_enabled(False)

from gguf import GGMLQuantizationType, GGUFWriter  # noqa: E402
from gguf.quants import dequantize, quantize  # noqa: E402
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers  # noqa: E402
from transformers import AutoModelForCausalLM, AutoTokenizer, LlamaConfig, LlamaForCausalLM  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"
METHOD_DATA = ROOT / "assets" / "method"
DEFAULT_MODEL = Path(os.environ.get("NEURONAV_DEFAULT_MODEL", "/tmp/smol/SmolLM2-135M-Instruct.Q4_1.gguf"))

TEXT = """Roger has 5 tennis balls. He buys 2 more cans of tennis balls. Each can has 3 tennis balls.
How many tennis balls does he have now? Roger started with 5 balls. 2 cans of 3 tennis balls each is
6 tennis balls. 5 + 6 = 11. The answer is 11. There were nine computers in the server room. Five more
computers were installed each day, from monday to thursday. How many computers are now in the server
room? There were originally 9 computers. For each of 4 days, 5 more computers were added. So 5 * 4 = 20
computers were added. 9 + 20 is 29. The answer is 29. Shawn has five toys. For Christmas, he got two toys
each from his mom and dad. How many toys does he have now? He has 5 toys. He got 2 from mom, so after
that he has 5 + 2 = 7 toys. Then he got 2 more from dad, so in total he has 7 + 2 = 9 toys.
The answer is 9. Let's think step by step. First, then, therefore, next, hence, now, so, meaning."""

PROMPTS = ["Roger has 5 tennis balls. 2+3=5", "Let's think step by step\nThe answer is"]


def rounded(x, digits=6):
    """Nested lists of floats with `digits` significant digits, to keep the files small."""
    if isinstance(x, torch.Tensor):
        x = x.detach().float().numpy()
    arr = np.asarray(x, dtype=np.float64)
    return json.loads(json.dumps(np.vectorize(lambda v: float(f"{v:.{digits}g}"))(arr).tolist()))


# ---------------------------------------------------------------------------------------------
# The tiny model and its tokenizer


def train_tokenizer():
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.Digits(individual_digits=True), pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)]
    )
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=384,
        special_tokens=["<|endoftext|>", "<|im_start|>", "<|im_end|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator([TEXT], trainer)
    return tok


def tiny_config(vocab_size, tied=False):
    return LlamaConfig(
        vocab_size=vocab_size,
        hidden_size=64,
        intermediate_size=160,
        num_hidden_layers=3,
        num_attention_heads=4,
        num_key_value_heads=2,
        rope_theta=50000.0,
        rms_norm_eps=1e-5,
        max_position_embeddings=64,
        tie_word_embeddings=tied,
        bos_token_id=None,
        eos_token_id=0,
        pad_token_id=None,
        torch_dtype="float32",
    )


def random_weights(model, seed):
    """O(1) activations: linears N(0, 1/in), embedding N(0, 1), norm gains 1 + 0.1·N(0, 1)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "norm" in name:
                p.copy_(1.0 + 0.1 * torch.randn(p.shape, generator=g))
            elif "embed_tokens" in name:
                p.copy_(torch.randn(p.shape, generator=g))
            else:
                p.copy_(torch.randn(p.shape, generator=g) / p.shape[1] ** 0.5)


def write_tokenizer_files(tok, directory):
    tok.save(str(directory / "tokenizer.json"))
    (directory / "tokenizer_config.json").write_text(
        json.dumps({"add_bos_token": False, "eos_token": "<|endoftext|>", "bos_token": None, "model_max_length": 64})
    )


def capture(model, ids):
    """Logits [T][vocab], m [L][T][d_ff], resid_mid / resid_post [L][T][d_model] in f32."""
    ms, mids, posts, hooks = [], [], [], []
    for layer in model.model.layers:
        hooks.append(layer.mlp.down_proj.register_forward_hook(lambda m, i, o: ms.append(i[0][0])))
        hooks.append(layer.post_attention_layernorm.register_forward_hook(lambda m, i, o: mids.append(i[0][0])))
        hooks.append(layer.register_forward_hook(lambda m, i, o: posts.append((o[0] if isinstance(o, tuple) else o)[0])))
    with torch.no_grad():
        logits = model(torch.tensor([ids])).logits[0]
    for h in hooks:
        h.remove()
    return logits, torch.stack(ms), torch.stack(mids), torch.stack(posts)


def greedy(model, ids, n):
    with torch.no_grad():
        out = model.generate(
            torch.tensor([ids]), max_new_tokens=n, min_new_tokens=n, do_sample=False, eos_token_id=None, pad_token_id=0
        )
    return out[0, len(ids):].tolist()


def value_norms(model):
    return [layer.mlp.down_proj.weight.float().norm(dim=0) for layer in model.model.layers]


def unembedding(model):
    return model.lm_head.weight.float()


def projections(model, neurons, k=10):
    w_u = unembedding(model)
    out = []
    for layer, index in neurons:
        v = model.model.layers[layer].mlp.down_proj.weight[:, index].float()
        logits = w_u @ v
        out.append({"layer": layer, "index": index, "top10": torch.topk(logits, k).indices.tolist()})
    return out


def tiny_reference(model, tok):
    prompts = []
    for text in PROMPTS:
        ids = tok.encode(text).ids
        logits, m, mid, post = capture(model, ids)
        prompts.append(
            {
                "text": text,
                "ids": ids,
                "logits": rounded(logits),
                "m": rounded(m),
                "resid_mid": rounded(mid),
                "resid_post": rounded(post),
                "greedy": greedy(model, ids, 8),
            }
        )
    rng = np.random.default_rng(3)
    neurons = [(int(rng.integers(0, 3)), int(rng.integers(0, 160))) for _ in range(6)]
    return {
        "prompts": prompts,
        "value_norms": rounded(torch.stack(value_norms(model))),
        "projection": projections(model, neurons),
    }


def permute(w, n_head):
    """llama.cpp's convert_hf_to_gguf permutation of Q/K rows for adjacent-pair RoPE."""
    return w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def unpermute(w, n_head):
    return w.reshape(n_head, w.shape[0] // n_head // 2, 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


GGUF_NAMES = {
    "input_layernorm": "attn_norm",
    "self_attn.q_proj": "attn_q",
    "self_attn.k_proj": "attn_k",
    "self_attn.v_proj": "attn_v",
    "self_attn.o_proj": "attn_output",
    "post_attention_layernorm": "ffn_norm",
    "mlp.gate_proj": "ffn_gate",
    "mlp.up_proj": "ffn_up",
    "mlp.down_proj": "ffn_down",
}


def gguf_tensors(model):
    """(gguf name, HF name, f32 array as stored in GGUF) for every weight."""
    cfg = model.config
    sd = {k: v.float().numpy() for k, v in model.state_dict().items()}
    out = [("token_embd.weight", "model.embed_tokens.weight", sd["model.embed_tokens.weight"])]
    for i in range(cfg.num_hidden_layers):
        for hf, gg in GGUF_NAMES.items():
            name = f"model.layers.{i}.{hf}.weight"
            w = sd[name]
            if hf == "self_attn.q_proj":
                w = permute(w, cfg.num_attention_heads)
            elif hf == "self_attn.k_proj":
                w = permute(w, cfg.num_key_value_heads)
            out.append((f"blk.{i}.{gg}.weight", name, w))
    out.append(("output_norm.weight", "model.norm.weight", sd["model.norm.weight"]))
    out.append(("output.weight", "lm_head.weight", sd["lm_head.weight"]))
    return out


def write_gguf(model, tok, path, quant=None):
    """Writes the model; returns the state dict (HF layout) of the weights as a reader sees them."""
    cfg = model.config
    w = GGUFWriter(str(path), "llama")
    w.add_name("tiny-llama")
    w.add_context_length(cfg.max_position_embeddings)
    w.add_embedding_length(cfg.hidden_size)
    w.add_block_count(cfg.num_hidden_layers)
    w.add_feed_forward_length(cfg.intermediate_size)
    w.add_head_count(cfg.num_attention_heads)
    w.add_head_count_kv(cfg.num_key_value_heads)
    w.add_rope_freq_base(cfg.rope_parameters["rope_theta"])
    w.add_layer_norm_rms_eps(cfg.rms_norm_eps)
    w.add_rope_dimension_count(cfg.hidden_size // cfg.num_attention_heads)
    vocab = tok.get_vocab()
    tokens = [t for t, _ in sorted(vocab.items(), key=lambda kv: kv[1])]
    specials = {"<|endoftext|>", "<|im_start|>", "<|im_end|>"}
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre("smollm")
    w.add_token_list(tokens)
    w.add_token_types([3 if t in specials else 1 for t in tokens])
    merges = json.loads(tok.to_str())["model"]["merges"]
    w.add_token_merges([" ".join(m) if isinstance(m, list) else m for m in merges])
    w.add_eos_token_id(0)
    w.add_add_bos_token(False)
    seen = {}
    for gname, hfname, arr in gguf_tensors(model):
        arr = np.ascontiguousarray(arr, dtype=np.float32)
        if quant is not None and arr.ndim == 2:
            q = quantize(arr, quant)
            w.add_tensor(gname, q, raw_dtype=quant)
            back = dequantize(q, quant).reshape(arr.shape)
        else:
            w.add_tensor(gname, arr)
            back = arr
        if gname.endswith("attn_q.weight"):
            back = unpermute(back, cfg.num_attention_heads)
        elif gname.endswith("attn_k.weight"):
            back = unpermute(back, cfg.num_key_value_heads)
        seen[hfname] = torch.from_numpy(np.array(back, dtype=np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return seen


def with_weights(model, state):
    clone = LlamaForCausalLM(model.config)
    clone.load_state_dict(state)
    return clone.eval()


def make_tiny():
    FIXTURES.mkdir(parents=True, exist_ok=True)
    (FIXTURES / "reference").mkdir(exist_ok=True)
    tok = train_tokenizer()
    torch.manual_seed(0)
    model = LlamaForCausalLM(tiny_config(tok.get_vocab_size())).eval()
    random_weights(model, seed=1)

    def save(m, name, **kw):
        d = FIXTURES / name
        d.mkdir(exist_ok=True)
        for f in d.glob("*"):
            f.unlink()
        m.save_pretrained(d, safe_serialization=True, **kw)
        write_tokenizer_files(tok, d)

    def dump(m, name):
        (FIXTURES / "reference" / f"{name}.json").write_text(json.dumps(tiny_reference(m, tok)))

    save(model, "tiny-llama")
    dump(model, "f32")
    for dtype, name, kw in [
        (torch.float16, "tiny-llama-f16-sharded", {"max_shard_size": "60KB"}),
        (torch.bfloat16, "tiny-llama-bf16", {}),
    ]:
        rounded_model = with_weights(model, {k: v.to(dtype).float() for k, v in model.state_dict().items()})
        save(copy.deepcopy(model).to(dtype), name, **kw)
        dump(rounded_model, name.split("-")[2])
    tied_cfg = tiny_config(tok.get_vocab_size(), tied=True)
    tied = LlamaForCausalLM(tied_cfg).eval()
    state = {k: v for k, v in model.state_dict().items() if k != "lm_head.weight"}
    tied.load_state_dict(state, strict=False)
    tied.tie_weights()
    save(tied, "tiny-llama-tied")
    dump(tied, "tied")
    write_gguf(model, tok, FIXTURES / "tiny-llama.gguf")
    q8 = write_gguf(model, tok, FIXTURES / "tiny-llama-q8_0.gguf", quant=GGMLQuantizationType.Q8_0)
    dump(with_weights(model, q8), "q8_0")


# ---------------------------------------------------------------------------------------------
# The real default model


def cot_prompt():
    lines = (METHOD_DATA / "prompts" / "cot_prompt.txt").read_text().splitlines()
    question = json.loads((METHOD_DATA / "gsm8k_test.jsonl").read_text().splitlines()[0])["question"]
    return "\n".join(line.strip() for line in lines) + "\n\nQuestion: " + " ".join(question.split()) + "\nLet's think step by step\n"


def make_smollm2():
    tok = AutoTokenizer.from_pretrained(DEFAULT_MODEL.parent, gguf_file=DEFAULT_MODEL.name)
    model = AutoModelForCausalLM.from_pretrained(DEFAULT_MODEL.parent, gguf_file=DEFAULT_MODEL.name, torch_dtype=torch.float32).eval()
    norms = value_norms(model)
    prompts = []
    for text, n_greedy in [("Q: Roger has 5 tennis balls. 2+3=5", 8), ("The capital of France is", 8), (cot_prompt(), 4)]:
        ids = tok(text, add_special_tokens=True)["input_ids"]
        logits, m, _, _ = capture(model, ids)
        layers = []
        for layer, mv in enumerate(m):
            s = mv[-1].abs() * norms[layer]
            top = torch.topk(s, 20)
            layers.append(
                {"top20": top.indices.tolist(), "m": rounded(mv[-1][top.indices]), "s": rounded(top.values)}
            )
        top5 = torch.topk(logits[-1], 5)
        prompts.append(
            {
                "text": text,
                "ids": ids,
                "last_token_layers": layers,
                "next_top5": top5.indices.tolist(),
                "next_top5_logits": rounded(top5.values),
                "greedy": greedy(model, ids, n_greedy),
                "greedy_text": tok.decode(greedy(model, ids, n_greedy)) if len(ids) < 100 else None,
            }
        )
        print(f"{len(ids)} tokens: greedy {prompts[-1]['greedy']}", file=sys.stderr)
    rng = np.random.default_rng(7)
    neurons = [(0, 0)] + [(int(rng.integers(6, 30)), int(rng.integers(0, 1536))) for _ in range(11)]
    out = {
        "tied_lm_head": bool(model.config.tie_word_embeddings),
        "prompts": prompts,
        "projection": projections(model, neurons),
    }
    (FIXTURES / "smollm2-reference.json").write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    which = sys.argv[1:] or ["tiny", "smollm2"]
    if "tiny" in which:
        make_tiny()
    if "smollm2" in which:
        make_smollm2()
