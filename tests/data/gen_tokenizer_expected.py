#!/usr/bin/env python3
"""Runs on the device machine (HF `tokenizers` installed there):
    python3 tests/data/gen_tokenizer_expected.py .devdata OUTDIR
For each DIR/<name>/tokenizer.json writes OUTDIR/tokenizer_expected_<name>.txt,
one line per case of tests/data/tokenizer_corpus.txt (read as UTF-8 with
errors="replace", since HF only takes str):
    ids without special tokens | ids with special tokens |
    hex(UTF-8 of decode(ids without specials)) | hex(decode(ids with specials, skip_special_tokens=True))
"""
import os, sys
import tokenizers
from tokenizers import Tokenizer

src, out = sys.argv[1], sys.argv[2]
raw = open(os.path.join(os.path.dirname(__file__), "tokenizer_corpus.txt"), "rb").read()
cases = raw.split(b"\n__mlxc_tok_case__\n")[:-1]
texts = [c.decode("utf-8", "replace") for c in cases]
for name in sorted(os.listdir(src)):
    p = os.path.join(src, name, "tokenizer.json")
    if not os.path.exists(p):
        continue
    tok = Tokenizer.from_file(p)
    lines = ["# tokenizers %s, %d cases" % (tokenizers.__version__, len(texts))]
    for t in texts:
        a = tok.encode(t, add_special_tokens=False).ids
        b = tok.encode(t, add_special_tokens=True).ids
        da = tok.decode(a, skip_special_tokens=False).encode("utf-8").hex()
        db = tok.decode(b, skip_special_tokens=True).encode("utf-8").hex()
        lines.append("%s|%s|%s|%s" % (" ".join(map(str, a)), " ".join(map(str, b)), da, db))
    open(os.path.join(out, "tokenizer_expected_%s.txt" % name), "w").write("\n".join(lines) + "\n")
    print(name, len(texts))
