#!/usr/bin/env python3
"""make_random_mlx4.py OUTDIR SHAPE — a random-weight Llama-3.x-shaped model
written directly in MLX's 4-bit affine format (group 64, bf16 scales and
biases), for speed measurements where the weights' values do not matter.

SHAPE: llama-1b (Llama-3.2-1B: hidden 2048, 16 layers, 32/8 heads, head_dim 64,
FFN 8192, vocab 128256, tied embeddings) or llama-8b (Llama-3.1-8B: hidden 4096,
32 layers, 32/8 heads, head_dim 128, FFN 14336, vocab 128256, untied).

Writing the packed words directly takes seconds where generating bf16 and
converting would take minutes and twice the disk: this is what the GPU
machine uses (scripts/gpu-bench-lm.sh). Packed words are random bits, scales
2^-9 and biases -15 * 2^-10, so every weight lies in [-0.0146, 0.0146];
norms are 1. No tokenizer: `mlxc bench` needs none. Needs numpy."""
import json
import os
import struct
import sys

import numpy as np

SHAPES = {
    "llama-1b": dict(hidden_size=2048, num_hidden_layers=16, num_attention_heads=32,
                     num_key_value_heads=8, head_dim=64, intermediate_size=8192,
                     vocab_size=128256, tie_word_embeddings=True),
    "llama-8b": dict(hidden_size=4096, num_hidden_layers=32, num_attention_heads=32,
                     num_key_value_heads=8, head_dim=128, intermediate_size=14336,
                     vocab_size=128256, tie_word_embeddings=False),
}
GROUP, BITS = 64, 4


def bf16_const(value, n):
    bits = np.float32(value).view(np.uint32) >> 16
    return np.full(n, bits, dtype=np.uint16)


def main():
    if len(sys.argv) != 3 or sys.argv[2] not in SHAPES:
        sys.exit("usage: make_random_mlx4.py OUTDIR {%s}" % "|".join(SHAPES))
    out, spec = sys.argv[1], SHAPES[sys.argv[2]]
    D, L, H, KV = (spec[k] for k in ("hidden_size", "num_hidden_layers",
                                     "num_attention_heads", "num_key_value_heads"))
    HD, F, V = spec["head_dim"], spec["intermediate_size"], spec["vocab_size"]

    linears = [("model.embed_tokens", V, D)]
    norms = []
    for l in range(L):
        p = "model.layers.%d." % l
        linears += [(p + "self_attn.q_proj", H * HD, D), (p + "self_attn.k_proj", KV * HD, D),
                    (p + "self_attn.v_proj", KV * HD, D), (p + "self_attn.o_proj", D, H * HD),
                    (p + "mlp.gate_proj", F, D), (p + "mlp.up_proj", F, D),
                    (p + "mlp.down_proj", D, F)]
        norms += [p + "input_layernorm.weight", p + "post_attention_layernorm.weight"]
    norms.append("model.norm.weight")
    if not spec["tie_word_embeddings"]:
        linears.append(("lm_head", V, D))

    # (name, dtype, shape, filler) in file order; offsets follow.
    tensors = []
    for name, rows, cols in linears:
        tensors += [(name + ".weight", "U32", (rows, cols * BITS // 32), "bits"),
                    (name + ".scales", "BF16", (rows, cols // GROUP), 2.0 ** -9),
                    (name + ".biases", "BF16", (rows, cols // GROUP), -15 * 2.0 ** -10)]
    tensors += [(n, "BF16", (D,), 1.0) for n in norms]

    header, off = {"__metadata__": {"format": "mlx"}}, 0
    for name, dt, shape, _ in tensors:
        n = int(np.prod(shape)) * (4 if dt == "U32" else 2)
        header[name] = {"dtype": dt, "shape": list(shape), "data_offsets": [off, off + n]}
        off += n
    hjson = json.dumps(header).encode()
    hjson += b" " * (-len(hjson) % 8)

    os.makedirs(out, exist_ok=True)
    rng = np.random.default_rng(0)
    # One random block, reused: fresh bits for every tensor would cost
    # minutes and change nothing a benchmark measures.
    block = rng.integers(0, 2 ** 32, size=1 << 24, dtype=np.uint32)
    with open(os.path.join(out, "model.safetensors"), "wb") as f:
        f.write(struct.pack("<Q", len(hjson)))
        f.write(hjson)
        for name, dt, shape, fill in tensors:
            n = int(np.prod(shape))
            if fill == "bits":
                while n > 0:
                    k = min(n, block.size)
                    f.write(block[:k].tobytes())
                    n -= k
            else:
                f.write(bf16_const(fill, n).tobytes())

    config = dict(spec, architectures=["LlamaForCausalLM"], model_type="llama",
                  hidden_act="silu", rms_norm_eps=1e-5, rope_theta=500000.0,
                  max_position_embeddings=131072, bos_token_id=128000, eos_token_id=128001,
                  torch_dtype="bfloat16",
                  quantization={"group_size": GROUP, "bits": BITS})
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(config, f, indent=1)
    print("%s: %.2f GB" % (out, (8 + len(hjson) + off) / 1e9))


if __name__ == "__main__":
    main()
