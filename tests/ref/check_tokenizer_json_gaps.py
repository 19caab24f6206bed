#!/usr/bin/python3
"""Cross-check for tests/test_tokenizer_json_gaps.c: runs the same small
tokenizers through HF `tokenizers` and `transformers` (on a machine that has
them) and prints ids / offsets / the post-processor transformers builds, to
compare with the hand-derived expectations in the C test. Not run by ctest.

  python3 tests/ref/check_tokenizer_json_gaps.py [OUTDIR]
"""
import json
import os
import sys
import tempfile

from tokenizers import Tokenizer

SCRIPTS = {
    "model": {"type": "WordLevel", "unk_token": "<unk>",
              "vocab": {"<unk>": 0, "abc": 1, "123": 2, "def": 3, "hello": 4, ", ": 5, "world": 6,
                        "\u2581": 7, "\u4e16\u754c": 8}},
    "pre_tokenizer": {"type": "UnicodeScripts"},
}
SCRIPT_TEXTS = [
    "どこで生れ。Yes", "Apples are りんご 林檎", "abc123def", "hello, world", "  abc", "   ", "",
    "e\u0301", "ーカタ漢字ひら", "漢字2024年", "Привет мир hello", "مرحبا 123", "a\U0001F600b",
    "a\U0001F970b", "\U0001F468\u200d\U0001F469", "a\tb", "日本\u3000語", "가ก",
]
BL_VOCAB = {"<unk>": 0, "hello": 1, "\u0120": 2, "\u0120world": 3, "\u0120hello": 4, "\u0120hi": 5,
            "a": 6, "\u010a": 7, "<s>": 8, "</s>": 9, "world": 10}


def bl(pre_prefix, post):
    return {
        "model": {"type": "WordLevel", "unk_token": "<unk>", "vocab": BL_VOCAB},
        "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": pre_prefix, "trim_offsets": True,
                          "use_regex": True},
        "post_processor": post,
        "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
        "added_tokens": [
            {"id": 8, "content": "<s>", "special": True, "single_word": False, "lstrip": False,
             "rstrip": False, "normalized": False},
            {"id": 9, "content": "</s>", "special": True, "single_word": False, "lstrip": False,
             "rstrip": False, "normalized": False}],
    }


def full(d):
    base = {"version": "1.0", "truncation": None, "padding": None, "added_tokens": [], "normalizer": None,
            "pre_tokenizer": None, "post_processor": None, "decoder": None}
    base.update(d)
    return json.dumps(base)


def show(tok, text, pair=None, special=True):
    e = tok.encode(text, pair, add_special_tokens=special)
    return "%r %r special=%s ids=%s offs=%s types=%s" % (text, pair, special, e.ids, e.offsets, e.type_ids)


def main():
    out = []
    t = Tokenizer.from_str(full(SCRIPTS))
    for s in SCRIPT_TEXTS:
        # offsets from `tokenizers` Python are char offsets; print byte offsets too
        e = t.encode(s, add_special_tokens=False)
        boffs = [(len(s[:a].encode()), len(s[:b].encode())) for a, b in e.offsets]
        out.append("scripts %r ids=%s byte_offs=%s" % (s, e.ids, boffs))
    ms = dict(SCRIPTS)
    ms["pre_tokenizer"] = {"type": "Sequence", "pretokenizers": [
        {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "always", "split": False},
        {"type": "UnicodeScripts"}]}
    t = Tokenizer.from_str(full(ms))
    out.append("metaspace+scripts " + show(t, "hello 世界", special=False))

    bt = lambda pre, post: Tokenizer.from_str(full(bl(pre, post)))
    keep = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False, "use_regex": True}
    trim = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True}
    out.append("bl keep " + show(bt(False, keep), "hello  world"))
    t = bt(False, trim)
    for args in [("hello  world",), ("hello  world", None, False), ("  hi",), ("hello ",), ("a\n",),
                 ("hello", " world")]:
        out.append("bl trim " + show(t, *args))
    t = bt(True, {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True})
    out.append("bl prefix trim " + show(t, "hello world"))
    out.append("bl prefix trim " + show(t, "hello", "world"))
    out.append("bl pre-prefix post-noprefix " + show(bt(True, trim), "hello world"))
    seq = {"type": "Sequence", "processors": [trim, {
        "type": "TemplateProcessing",
        "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                   {"SpecialToken": {"id": "</s>", "type_id": 0}}],
        "pair": [{"Sequence": {"id": "A", "type_id": 0}}, {"Sequence": {"id": "B", "type_id": 1}}],
        "special_tokens": {"<s>": {"id": "<s>", "ids": [8], "tokens": ["<s>"]},
                           "</s>": {"id": "</s>", "ids": [9], "tokens": ["</s>"]}}}]}
    out.append("bl seq " + show(bt(False, seq), "hello  world"))
    rob = {"type": "RobertaProcessing", "sep": ["</s>", 9], "cls": ["<s>", 8], "trim_offsets": True,
           "add_prefix_space": False}
    t = bt(False, rob)
    out.append("roberta " + show(t, "hello world"))
    out.append("roberta " + show(t, "hello", " world"))
    out.append("roberta " + show(t, "hello", " world", False))
    rob2 = {"type": "RobertaProcessing", "sep": ["</s>", 9], "cls": ["<s>", 8], "trim_offsets": False,
            "add_prefix_space": True}
    out.append("roberta notrim " + show(bt(False, rob2), "hello world"))

    # transformers: which post-processor a tokenizer_config makes. transformers 5
    # drops add_bos_token/add_eos_token when a tokenizer.json is present (5.17:
    # the file's template stays, CodeLlama rebuilds with its defaults); the C
    # test follows transformers 4.x, where Llama/CodeLlama/Gemma/Cohere classes
    # rebuild it from the flags.
    llama = {
        "model": {"type": "WordLevel", "unk_token": "<unk>",
                  "vocab": {"<unk>": 0, "<s>": 1, "</s>": 2, "hi": 3, "there": 4, "you": 5}},
        "pre_tokenizer": {"type": "WhitespaceSplit"},
        "added_tokens": [{"id": i, "content": c, "special": True, "single_word": False, "lstrip": False,
                          "rstrip": False, "normalized": False} for i, c in enumerate(["<unk>", "<s>", "</s>"])],
        "post_processor": {
            "type": "TemplateProcessing",
            "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                       {"SpecialToken": {"id": "</s>", "type_id": 0}}],
            "pair": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                     {"SpecialToken": {"id": "</s>", "type_id": 0}}, {"Sequence": {"id": "B", "type_id": 1}},
                     {"SpecialToken": {"id": "</s>", "type_id": 1}}],
            "special_tokens": {"<s>": {"id": "<s>", "ids": [1], "tokens": ["<s>"]},
                               "</s>": {"id": "</s>", "ids": [2], "tokens": ["</s>"]}}},
    }
    configs = [
        ("LlamaTokenizer", {"add_bos_token": True, "add_eos_token": True}),
        ("LlamaTokenizerFast", {"add_bos_token": False, "add_eos_token": True}),
        ("LlamaTokenizer", {"add_bos_token": False, "add_eos_token": False}),
        ("LlamaTokenizerFast", {}),
        ("GemmaTokenizer", {"add_eos_token": True}),
        ("CodeLlamaTokenizer", {}),
        ("PreTrainedTokenizerFast", {}),
        ("PreTrainedTokenizerFast", {"add_eos_token": False}),
        ("Qwen2Tokenizer", {"add_bos_token": True}),
        ("LlamaTokenizer", {"eos_token": None, "add_bos_token": True, "add_eos_token": True}),
    ]
    try:
        import transformers
        from transformers import AutoTokenizer
        out.append("transformers %s" % transformers.__version__)
        for cls, flags in configs:
            with tempfile.TemporaryDirectory() as d:
                with open(os.path.join(d, "tokenizer.json"), "w") as f:
                    f.write(full(llama))
                cfg = {"tokenizer_class": cls, "bos_token": "<s>", "eos_token": "</s>"}
                cfg.update(flags)
                with open(os.path.join(d, "tokenizer_config.json"), "w") as f:
                    json.dump(cfg, f)
                try:
                    tk = AutoTokenizer.from_pretrained(d)
                    pp = tk.backend_tokenizer.post_processor
                    ppj = json.loads(tk.backend_tokenizer.to_str()).get("post_processor")
                    a = tk("hi there")["input_ids"]
                    b = tk("hi there", add_special_tokens=False)["input_ids"]
                    p = tk("hi", "you")
                    out.append("config %s %s -> %s: %s / nospecial %s / pair %s types %s | %s" % (
                        cls, flags, type(tk).__name__, a, b, p["input_ids"], p.get("token_type_ids"),
                        json.dumps(ppj)[:400]))
                except Exception as ex:  # noqa: BLE001
                    out.append("config %s %s -> error %r" % (cls, flags, ex))
    except ImportError as ex:
        out.append("no transformers: %r" % ex)
    text = "\n".join(out)
    print(text)
    if len(sys.argv) > 1:
        with open(os.path.join(sys.argv[1], "gaps.txt"), "w") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    main()
