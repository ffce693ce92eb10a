#!/usr/bin/env python3
"""Writes the tokenizer test fixtures under tests/fixtures/tokenizer/.

Every id list in them comes from a reference implementation, never from neuronav:

- spm.gguf / spm.json: a tiny SentencePiece BPE model trained here (Llama-2's settings: byte
  fallback, identity normalisation, whitespace kept), stored the way llama.cpp's
  convert_hf_to_gguf.py `_set_vocab_sentencepiece` stores one, with ids from sentencepiece itself.
- hf-dir/: a tiny byte-level BPE trained here with the `tokenizers` library, saved as a Hugging
  Face directory whose post-processor adds <s> like Llama-2's.
- bpe-smollm.gguf / bpe-llama3.gguf / bpe.json: byte-level BPE as llama.cpp's "gpt2" tokenizer
  type, one vocabulary trained behind each of the "smollm" and "llama-bpe" splits (the first is
  hf-dir's); ids from the `tokenizers` library configured like those models' tokenizer.json.
- smollm2.json: ids for the real default model, only when its GGUF is given (it is not shipped):
  from transformers' GGUF loader, with the pre-tokenizer of SmolLM2's own tokenizer.json.

Needs: pip install sentencepiece tokenizers gguf numpy (and transformers + torch for smollm2.json).
Usage: python scripts/make_tokenizer_fixtures.py [--smollm2 PATH/TO/SmolLM2-135M-Instruct.Q4_1.gguf]
"""

import argparse
import io
import json
import re
from pathlib import Path

import gguf
import numpy as np
import sentencepiece as spm
from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, processors, trainers

OUT = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "tokenizer"

CORPUS = """\
The quick brown fox jumps over the lazy dog. The dog sleeps in the sun all day long.
Once upon a time there was a little tokenizer that wanted to split every word it saw.
It learned that the most common pairs of letters should be merged first, and then
the next most common, and so on until its vocabulary was full.
Numbers like 1234, 2024 and 3.14159 appear in text too: 42 is the answer, 7 is lucky.
  Indented lines start with spaces, and some    lines have    runs of spaces.
def hello(name):
    print("Hello, " + name + "!")
    return len(name) * 2
Questions? Answers! Quotes "like this" and 'like that'. Let's see what's there; it's fine.
Roger has 5 tennis balls. He buys 2 more cans of tennis balls. Each can has 3 tennis balls.
How many tennis balls does he have now? The answer is 11.
Hello world. Hello there. Hello again, world!
"""

SPM_STRINGS = [
    "Hello world",
    " leading space",
    "  two leading spaces",
    "double  space inside",
    "trailing space ",
    "line one\nline two",
    "\n\nafter a blank line",
    "digits 12345 and 3.14",
    "tab\there",
    "absent: café ñ 日本 🙂",
    "The quick brown fox jumps over the lazy dog.",
    "Let's see what's there!",
    "",
]

BPE_STRINGS = [
    "Hello world",
    " Hello world",
    "x  3 and   45 spaces",
    "numbers 1234567 and 3.14",
    "line one\nline two\n\nthree",
    "Let's see what's THERE'S",
    "café 日本 🙂",
    "<|user|>Hi<|user|>",
    "def f(x):\n    return x*2",
    "end.\nNext (line) here \nand there",
    "",
]

SMOLLM2_STRINGS = [
    "Q: Roger has 5 tennis balls. 2+3=5",
    "Hello world",
    " Hello world",
    "multiple   spaces here",
    "x  3 and   45",
    "line one\nline two",
    "para one\n\npara two",
    "\n",
    "1234567 and 3.14",
    "Punctuation: (yes), [no]; {maybe}! -- ok?",
    "Let's see what's THERE'S",
    "café 日本",
    "emoji 🙂 done",
    "<|im_start|>user\nHi<|im_end|>",
    "<|im_start|>assistant\n",
    "\tTabbed\tline",
    "",
]


def write_json(name, value):
    """Indented, with each id list on one line."""
    text = json.dumps(value, ensure_ascii=False, indent=1)
    text = re.sub(r"\[[\d,\s]*\]", lambda m: json.dumps(json.loads(m.group(0))), text)
    (OUT / name).write_text(text + "\n", encoding="utf-8")


def new_gguf_writer(path):
    """A writer holding one tiny tensor, so readers that expect tensors accept the file."""
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_name("tokenizer fixture")
    writer.add_tensor("dummy", np.zeros(4, dtype=np.float32))
    return writer


def finish_gguf(writer):
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


# ---- SentencePiece ---------------------------------------------------------------------------


def train_spm():
    model = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(CORPUS.splitlines()),
        model_writer=model,
        model_type="bpe",
        vocab_size=400,
        byte_fallback=True,
        unk_id=0,
        bos_id=1,
        eos_id=2,
        pad_id=-1,
        character_coverage=1.0,
        normalization_rule_name="identity",
        remove_extra_whitespaces=False,
        add_dummy_prefix=True,
        split_digits=True,
        allow_whitespace_only_pieces=True,
        num_threads=1,
        minloglevel=2,
    )
    return spm.SentencePieceProcessor(model_proto=model.getvalue())


def spm_vocab(sp):
    """tokens, scores and token types exactly as convert_hf_to_gguf.py `_create_vocab_sentencepiece`."""
    tokens, scores, types = [], [], []
    for i in range(sp.vocab_size()):
        token_type = gguf.TokenType.NORMAL
        if sp.IsUnknown(i):
            token_type = gguf.TokenType.UNKNOWN
        elif sp.IsControl(i):
            token_type = gguf.TokenType.CONTROL
        elif sp.IsUnused(i):
            token_type = gguf.TokenType.UNUSED
        elif sp.IsByte(i):
            token_type = gguf.TokenType.BYTE
        tokens.append(sp.IdToPiece(i).encode("utf-8"))
        scores.append(sp.GetScore(i))
        types.append(token_type)
    return tokens, scores, types


def make_spm():
    sp = train_spm()
    tokens, scores, types = spm_vocab(sp)
    writer = new_gguf_writer(OUT / "spm.gguf")
    writer.add_tokenizer_model("llama")
    writer.add_tokenizer_pre("default")
    writer.add_token_list(tokens)
    writer.add_token_scores(scores)
    writer.add_token_types(types)
    writer.add_bos_token_id(sp.bos_id())
    writer.add_eos_token_id(sp.eos_id())
    writer.add_unk_token_id(sp.unk_id())
    writer.add_add_bos_token(True)
    writer.add_add_eos_token(False)
    finish_gguf(writer)

    cases = []
    for text in SPM_STRINGS:
        ids = sp.encode(text)
        cases.append({"text": text, "ids": [sp.bos_id()] + ids, "decoded": sp.decode(ids)})
    write_json("spm.json", {"vocab_size": sp.vocab_size(), "bos_id": sp.bos_id(), "eos_id": sp.eos_id(), "cases": cases})


# ---- Byte-level BPE --------------------------------------------------------------------------

SPECIALS = ["<unk>", "<s>", "</s>", "<|user|>"]

# Llama 3's split, as in its tokenizer.json and llama.cpp's "llama-bpe".
LLAMA3_SPLIT = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}"
    r"| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)


def smollm_pre_tokenizer():
    """SmolLM/SmolLM2 tokenizer.json: every digit alone, then GPT-2's byte-level split."""
    return pre_tokenizers.Sequence(
        [pre_tokenizers.Digits(individual_digits=True), pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)]
    )


def llama3_pre_tokenizer():
    return pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(LLAMA3_SPLIT), behavior="isolated", invert=False),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )


def train_bpe(pre_tokenizer):
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizer
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=420,
        special_tokens=SPECIALS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(CORPUS.splitlines(keepends=True), trainer)
    tok.add_special_tokens(SPECIALS)
    return tok


def vocab_and_merges(tok):
    model = json.loads(tok.to_str())["model"]
    vocab = sorted(model["vocab"].items(), key=lambda kv: kv[1])
    assert [i for _, i in vocab] == list(range(len(vocab)))
    merges = [m if isinstance(m, str) else " ".join(m) for m in model["merges"]]
    return [t for t, _ in vocab], merges


def with_pre_tokenizer(tok, pre_tokenizer, ignore_merges=False):
    """The trained vocabulary and merges behind another pre-tokenizer, as a fresh tokenizer."""
    spec = json.loads(tok.to_str())
    spec["model"]["ignore_merges"] = ignore_merges
    copy = Tokenizer.from_str(json.dumps(spec))
    copy.pre_tokenizer = pre_tokenizer
    return copy


def write_bpe_gguf(name, tokens, merges, pre):
    writer = new_gguf_writer(OUT / name)
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre(pre)
    writer.add_token_list(tokens)
    writer.add_token_types([gguf.TokenType.CONTROL if t in SPECIALS else gguf.TokenType.NORMAL for t in tokens])
    writer.add_token_merges(merges)
    writer.add_bos_token_id(tokens.index("<s>"))
    writer.add_eos_token_id(tokens.index("</s>"))
    writer.add_add_bos_token(True)
    finish_gguf(writer)


def make_bpe():
    """One vocabulary trained behind SmolLM's split, served three ways, and one behind Llama 3's."""
    tok = train_bpe(smollm_pre_tokenizer())
    bos = tok.token_to_id("<s>")
    tok.post_processor = processors.TemplateProcessing(single="<s> $A", special_tokens=[("<s>", bos)])
    hf_dir = OUT / "hf-dir"
    hf_dir.mkdir(parents=True, exist_ok=True)
    tok.save(str(hf_dir / "tokenizer.json"))
    config = {
        "bos_token": {"content": "<s>", "lstrip": False, "normalized": False, "rstrip": False, "single_word": False},
        "eos_token": "</s>",
        "unk_token": "<unk>",
        "model_max_length": 2048,
        "tokenizer_class": "PreTrainedTokenizerFast",
    }
    (hf_dir / "tokenizer_config.json").write_text(json.dumps(config, indent=1) + "\n", encoding="utf-8")
    write_bpe_gguf("bpe-smollm.gguf", *vocab_and_merges(tok), "smollm")
    gpt2 = with_pre_tokenizer(tok, pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True))

    llama3 = train_bpe(llama3_pre_tokenizer())
    write_bpe_gguf("bpe-llama3.gguf", *vocab_and_merges(llama3), "llama-bpe")
    llama3 = with_pre_tokenizer(llama3, llama3_pre_tokenizer(), ignore_merges=True)

    cases = []
    for text in BPE_STRINGS:
        hf = tok.encode(text).ids
        cases.append(
            {
                "text": text,
                "hf_dir": hf,
                "smollm": hf,
                "gpt2": [bos] + gpt2.encode(text, add_special_tokens=False).ids,
                "llama-bpe": [bos] + llama3.encode(text, add_special_tokens=False).ids,
                "decoded": tok.decode(hf[1:], skip_special_tokens=False),
            }
        )
    write_json("bpe.json", {"vocab_size": tok.get_vocab_size(), "bos_id": bos, "eos_id": tok.token_to_id("</s>"), "cases": cases})


# ---- The real default model ------------------------------------------------------------------


def make_smollm2(path):
    """transformers' GGUF loader, with SmolLM2's own pre-tokenizer put back.

    transformers has no split for llama.cpp's "smollm" and falls back to GPT-2's, which keeps the
    space before a digit that follows other spaces ("x  3": "Ġ", "Ġ", "3" instead of "ĠĠ", "3").
    SmolLM2's tokenizer.json and llama.cpp split each digit off first; those ids are the reference,
    and where transformers' own differ they are kept beside them.
    """
    from transformers import AutoTokenizer

    path = Path(path)
    tok = AutoTokenizer.from_pretrained(str(path.parent), gguf_file=path.name)
    plain = [tok(text)["input_ids"] for text in SMOLLM2_STRINGS]
    tok.backend_tokenizer.pre_tokenizer = smollm_pre_tokenizer()
    cases = []
    for text, transformers_ids in zip(SMOLLM2_STRINGS, plain):
        ids = tok(text)["input_ids"]
        case = {"text": text, "ids": ids, "decoded": tok.decode(ids, skip_special_tokens=False)}
        if transformers_ids != ids:
            case["transformers_gguf_ids"] = transformers_ids
        cases.append(case)
    write_json(
        "smollm2.json",
        {"vocab_size": len(tok), "bos_id": tok.bos_token_id, "eos_id": tok.eos_token_id, "cases": cases},
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smollm2", help="path to SmolLM2-135M-Instruct.Q4_1.gguf; smollm2.json is left as is without it")
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    make_spm()
    make_bpe()
    if args.smollm2:
        make_smollm2(args.smollm2)


if __name__ == "__main__":
    main()
