#!/usr/bin/env python3
"""torch_llama_ref.py [llama-1b|llama-8b ...] — the reference point for the GPU
LM benchmark: a random-weight Llama-3.x-shaped model in bf16 through PyTorch
eager (transformers' LlamaForCausalLM, sdpa attention, dynamic KV cache) on
the same GPU. Prints pp512 (time to first token) and tg128 tokens/s, and
decode as a share of the roofline: the device-to-device copy bandwidth
measured in the same run / bf16 weight bytes read per token. Shapes as
scripts/make_random_mlx4.py. Needs torch + transformers (the GPU machine)."""
import sys
import time

import torch
from transformers import LlamaConfig, LlamaForCausalLM
from transformers.cache_utils import DynamicCache

SHAPES = {
    "llama-1b": dict(hidden_size=2048, num_hidden_layers=16, num_attention_heads=32,
                     num_key_value_heads=8, head_dim=64, intermediate_size=8192,
                     vocab_size=128256, tie_word_embeddings=True),
    "llama-8b": dict(hidden_size=4096, num_hidden_layers=32, num_attention_heads=32,
                     num_key_value_heads=8, head_dim=128, intermediate_size=14336,
                     vocab_size=128256, tie_word_embeddings=False),
}


def copy_gbs():
    a = torch.empty(1 << 30, dtype=torch.uint8, device="cuda")
    b = torch.empty_like(a)
    best = 0.0
    for r in range(6):
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        b.copy_(a)
        torch.cuda.synchronize()
        dt = time.perf_counter() - t0
        if r:
            best = max(best, 2 * a.numel() / dt / 1e9)
    return best


def run(shape, n_prompt=512, n_gen=128, reps=3):
    cfg = LlamaConfig(**SHAPES[shape], rope_theta=500000.0, max_position_embeddings=8192,
                      attn_implementation="sdpa")
    torch.manual_seed(0)
    with torch.device("cuda"):
        model = LlamaForCausalLM(cfg).to(torch.bfloat16).eval()
    # Decode reads every weight once (tied embeddings: the lm_head only).
    wbytes = sum(p.numel() * p.element_size() for n, p in model.named_parameters()
                 if "embed_tokens" not in n or cfg.tie_word_embeddings)
    V = cfg.vocab_size
    pp, tg = [], []
    with torch.inference_mode():
        for r in range(reps + 1):  # the first run warms up
            ids = torch.randint(0, V, (1, n_prompt), device="cuda")
            cache = DynamicCache()
            torch.cuda.synchronize()
            t0 = time.perf_counter()
            out = model(input_ids=ids, past_key_values=cache, use_cache=True, logits_to_keep=1)
            tok = out.logits[:, -1:].argmax(-1)
            torch.cuda.synchronize()
            t1 = time.perf_counter()
            for _ in range(n_gen):
                out = model(input_ids=tok, past_key_values=cache, use_cache=True)
                tok = out.logits[:, -1:].argmax(-1)
            torch.cuda.synchronize()
            t2 = time.perf_counter()
            if r:
                pp.append(n_prompt / (t1 - t0))
                tg.append(n_gen / (t2 - t1))
    bw = copy_gbs()
    pm, tm = sum(pp) / len(pp), sum(tg) / len(tg)
    roof = bw * 1e9 / wbytes
    print("%s bf16 torch eager (%s): weights read per token %.1f MB" % (
        shape, torch.cuda.get_device_name(), wbytes / 1e6))
    print("  pp%d: %.1f tok/s (time to first token %.1f ms)" % (n_prompt, pm, 1e3 * n_prompt / pm))
    print("  tg%d: %.1f tok/s; copy %.0f GB/s -> roofline %.1f tok/s; %.1f%% of roofline" % (
        n_gen, tm, bw, roof, 100 * tm / roof))
    del model
    torch.cuda.empty_cache()


if __name__ == "__main__":
    for s in sys.argv[1:] or ["llama-1b", "llama-8b"]:
        run(s)
