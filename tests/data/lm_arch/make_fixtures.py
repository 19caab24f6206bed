#!/usr/bin/env python3
"""Builds the per-architecture language-model fixtures with Hugging Face
transformers (run on the GPU machine, where torch and transformers exist;
the models run on its CPU in float32 so the reference is deterministic).

For each architecture: a tiny randomly initialised model (seeded), saved as
config.json + model.safetensors (float32), and reference outputs:
  prompt.npy        int32 (P,)        the prompt ids (seeded, no BOS special-casing)
  greedy.npy        int32 (N,)        transformers' greedy continuation (N = 32,
                                      eos disabled), using its KV cache
  logits.npy        float32 (P+N, V)  logits of one uncached forward pass over
                                      prompt + greedy (teacher forcing)
  meta.json         versions, seeds, what each variant exercises

Usage: make_fixtures.py OUTDIR [name ...]
"""
import json
import os
import sys

import numpy as np
import torch
import transformers
from transformers import AutoConfig, AutoModelForCausalLM

VOCAB = 320
PROMPT = 12
NEW = 32

BASE = dict(vocab_size=VOCAB, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
            num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256,
            rms_norm_eps=1e-5, bos_token_id=1, eos_token_id=2, pad_token_id=0)

# name -> (model_type, config overrides, what it exercises)
VARIANTS = {
    "llama": ("llama", dict(tie_word_embeddings=False, rope_theta=10000.0),
              "Llama GQA, untied head"),
    "llama_yarn": ("llama", dict(tie_word_embeddings=True, rope_theta=10000.0,
                                 rope_scaling={"rope_type": "yarn", "factor": 4.0,
                                               "original_max_position_embeddings": 64}),
                   "rope_scaling yarn (factor 4, original 64)"),
    "llama_dynamic": ("llama", dict(tie_word_embeddings=True, rope_theta=10000.0,
                                    max_position_embeddings=24,
                                    rope_scaling={"rope_type": "dynamic", "factor": 2.0}),
                      "rope_scaling dynamic NTK; the sequence (44) exceeds max_position_embeddings (24)"),
    "llama_linear": ("llama", dict(tie_word_embeddings=True,
                                   rope_scaling={"rope_type": "linear", "factor": 2.0}),
                     "rope_scaling linear"),
    "llama3": ("llama", dict(tie_word_embeddings=True, rope_theta=500000.0,
                             rope_scaling={"rope_type": "llama3", "factor": 8.0,
                                           "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                                           "original_max_position_embeddings": 64}),
               "rope_scaling llama3"),
    "qwen2": ("qwen2", dict(tie_word_embeddings=True, rope_theta=1000000.0,
                            use_sliding_window=False),
              "Qwen2: q/k/v biases, tied"),
    "qwen3": ("qwen3", dict(tie_word_embeddings=False, head_dim=32, rope_theta=1000000.0,
                            use_sliding_window=False),
              "Qwen3: q/k RMSNorm, head_dim != hidden/heads"),
    "gemma3_text": ("gemma3_text", dict(num_hidden_layers=4, head_dim=16, sliding_window=8,
                                        layer_types=["sliding_attention", "full_attention",
                                                     "sliding_attention", "full_attention"],
                                        query_pre_attn_scalar=16, rope_theta=1000000.0,
                                        rope_local_base_freq=10000.0,
                                        final_logit_softcapping=None,
                                        attn_logit_softcapping=None,
                                        hidden_activation="gelu_pytorch_tanh"),
                    "Gemma3 text: sliding window 8 (< sequence), global layers, q/k norms, "
                    "scaled embeddings, (1+w) norms, local rope base"),
    "gemma3_softcap": ("gemma3_text", dict(num_hidden_layers=2, head_dim=16, sliding_window=512,
                                           layer_types=["sliding_attention", "full_attention"],
                                           query_pre_attn_scalar=24, final_logit_softcapping=3.0,
                                           attn_logit_softcapping=None,
                                           rope_scaling={"rope_type": "linear", "factor": 8.0}),
                       "Gemma3 text: final logit soft-capping, linear rope scaling on global layers"),
    "phi3": ("phi3", dict(tie_word_embeddings=False, rope_theta=10000.0, partial_rotary_factor=1.0),
             "Phi-3: fused qkv_proj and gate_up_proj"),
    "phi3_longrope": ("phi3", dict(tie_word_embeddings=False, rope_theta=10000.0,
                                   max_position_embeddings=256,
                                   original_max_position_embeddings=64,
                                   rope_scaling={"type": "longrope",
                                                 "short_factor": [1.0 + 0.1 * i for i in range(8)],
                                                 "long_factor": [2.0 + 0.5 * i for i in range(8)]}),
                      "Phi-3 longrope (short factors; sequence < original 64; attention factor)"),
    "lfm2": ("lfm2", dict(num_hidden_layers=4, layer_types=["conv", "full_attention", "conv",
                                                            "full_attention"],
                          conv_L_cache=3, conv_bias=False, block_ff_dim=128,
                          block_multiple_of=32, block_ffn_dim_multiplier=1.0,
                          block_auto_adjust_ff_dim=True, norm_eps=1e-5, rope_theta=1000000.0,
                          tie_word_embeddings=True),
             "LFM2: short-convolution and attention layers (conv cache)"),
    "qwen3_moe": ("qwen3_moe", dict(head_dim=16, num_experts=4, num_experts_per_tok=2,
                                    moe_intermediate_size=48, decoder_sparse_step=1,
                                    mlp_only_layers=[], norm_topk_prob=True,
                                    tie_word_embeddings=False, use_sliding_window=False),
                  "Qwen3-MoE: 4 experts, top-2, normalised routing"),
}


def build(name, outdir):
    mtype, over, what = VARIANTS[name]
    kw = dict(BASE)
    kw.update(over)
    cfg = AutoConfig.for_model(mtype, **kw)
    torch.manual_seed(1234)
    model = AutoModelForCausalLM.from_config(cfg, attn_implementation="eager",
                                             torch_dtype=torch.float32)
    # Random init gives tiny weights whose logits are nearly flat; widen them
    # so greedy choices are decided by clear margins (a fixture whose argmax
    # hinges on 1e-7 would test rounding, not the model).
    with torch.no_grad():
        for pname, p in model.named_parameters():
            if p.dim() >= 2:
                p.normal_(0.0, 0.5 / np.sqrt(p.shape[-1]) * 4)
            elif "norm" in pname or "layernorm" in pname:
                p.add_(torch.randn_like(p) * 0.1)
            else:
                p.normal_(0.0, 0.1)
    model.eval()
    d = os.path.join(outdir, name)
    os.makedirs(d, exist_ok=True)
    model.save_pretrained(d, safe_serialization=True)
    for extra in ("generation_config.json",):
        p = os.path.join(d, extra)
        if os.path.exists(p):
            os.remove(p)
    rng = np.random.default_rng(7)
    prompt = rng.integers(3, VOCAB, size=PROMPT).astype(np.int64)
    ids = torch.tensor(prompt[None, :])
    with torch.no_grad():
        out = model.generate(ids, max_new_tokens=NEW, min_new_tokens=NEW, do_sample=False,
                             eos_token_id=None, pad_token_id=0, use_cache=True)
        greedy = out[0, PROMPT:].numpy()
        full = model(out, use_cache=False).logits[0].float().numpy()
    np.save(os.path.join(d, "prompt.npy"), prompt.astype(np.int32))
    np.save(os.path.join(d, "greedy.npy"), greedy.astype(np.int32))
    np.save(os.path.join(d, "logits.npy"), full.astype(np.float32))
    # Margin of each greedy choice (top1 - top2 of the teacher-forced logits).
    srt = np.sort(full[PROMPT - 1:-1], axis=-1)
    margin = float((srt[:, -1] - srt[:, -2]).min())
    # Does the uncached forward agree with cached greedy? (it must, except
    # where the architecture's rope depends on the sequence length).
    tf_greedy = full[PROMPT - 1:-1].argmax(-1)
    meta = dict(model_type=mtype, exercises=what, transformers=transformers.__version__,
                torch=torch.__version__, seed_weights=1234, seed_prompt=7,
                min_greedy_margin=margin,
                teacher_forced_argmax_equals_greedy=bool((tf_greedy == greedy).all()),
                logit_scale=float(np.abs(full).max()))
    with open(os.path.join(d, "meta.json"), "w") as f:
        json.dump(meta, f, indent=1)
    print(name, "ok", json.dumps(meta))


def main():
    outdir = sys.argv[1]
    names = sys.argv[2:] or list(VARIANTS)
    torch.set_num_threads(8)
    for n in names:
        try:
            build(n, outdir)
        except Exception as e:  # report and go on: one failing variant must not hide the rest
            import traceback
            traceback.print_exc()
            print(n, "FAILED", repr(e))


if __name__ == "__main__":
    main()
