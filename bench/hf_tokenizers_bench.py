#!/usr/bin/env python3
"""The Hugging Face side of bench_tokenizer: load time and one-thread encode
/ decode throughput of HF `tokenizers` (Rust) over the same text
(MLXC_BENCH_TEXT_OUT of bench_tokenizer). Usage: hf_tokenizers_bench.py
TEXT_FILE TOKENIZER_JSON... Prints CPU-time figures like bench_tokenizer."""
import os
import sys
import time

os.environ.setdefault("RAYON_NUM_THREADS", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
from tokenizers import Tokenizer  # noqa: E402


def cpu():
    return time.thread_time()


def main():
    text = open(sys.argv[1], encoding="utf-8", errors="surrogateescape").read()
    nbytes = len(text.encode("utf-8", errors="surrogateescape"))
    for path in sys.argv[2:]:
        t0, c0 = time.perf_counter(), cpu()
        tok = Tokenizer.from_file(path)
        load_wall, load_cpu = time.perf_counter() - t0, cpu() - c0
        best = 1e30
        for _ in range(2):
            c0 = cpu()
            enc = tok.encode(text, add_special_tokens=False)
            best = min(best, cpu() - c0)
        c0 = cpu()
        out = tok.decode(enc.ids, skip_special_tokens=False)
        dec = cpu() - c0
        print(f"HF {os.path.basename(os.path.dirname(path)):9s} load {load_wall:6.3f} s "
              f"({load_cpu:.3f} cpu)  decode {len(out.encode()) / 1e6 / dec:6.1f} MB/s cpu  "
              f"encode {nbytes / 1e6 / best:6.2f} MB/s cpu ({len(enc.ids)} tokens)")


if __name__ == "__main__":
    main()
