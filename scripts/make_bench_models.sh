#!/usr/bin/env bash
# make_bench_models.sh OUTDIR — random-weight models at real sizes for
# `mlxc bench` and llama-bench, side by side on the same files:
#   llama-1b   Llama-3.2-1B shape: hidden 2048, 16 layers, 32/8 heads, head_dim 64,
#              FFN 8192, vocab 128256, tied embeddings, rope_theta 500000 (plain
#              rope: llama3 rope scaling changes no cost and --to-gguf would need
#              the rope_freqs tensor)
#   qwen-0.5b  Qwen2.5-0.5B shape: hidden 896, 24 layers, 14/2 heads, head_dim 64,
#              FFN 4864, vocab 151936, tied, q/k/v biases, rope_theta 1e6
# Each is written as a bf16 Hugging Face folder (<name>-bf16, by the NumPy
# generator below: random bf16 bit patterns of magnitude 2^-7..2^-3, norms 1,
# biases 0, seeded) with a small synthetic byte-level BPE tokenizer (so that
# llama.cpp accepts the GGUF), then converted with `mlxc convert` to an MLX
# 4-bit group-64 folder (<name>-4bit) and a GGUF Q4_0 file (<name>-q4_0.gguf).
# Existing outputs are kept. Environment: MLXC (default build/mlxc),
# PYTHON (default /usr/bin/python3, needs numpy).
set -euo pipefail
out=${1:?usage: make_bench_models.sh OUTDIR}
here=$(cd "$(dirname "$0")/.." && pwd)
mlxc=${MLXC:-$here/build/mlxc}
py=${PYTHON:-/usr/bin/python3}
[ -x "$mlxc" ] || { echo "make_bench_models: $mlxc not found (build first or set MLXC)" >&2; exit 2; }
mkdir -p "$out"

gen() { # gen NAME JSON-OVERRIDES
  local dir="$out/$1-bf16"
  [ -f "$dir/model.safetensors" ] && return 0
  echo "generating $dir" >&2
  "$py" - "$dir" "$2" <<'EOF'
import json, os, struct, sys
import numpy as np

out, spec = sys.argv[1], json.loads(sys.argv[2])
os.makedirs(out, exist_ok=True)
D, L, H, KV = spec["hidden_size"], spec["num_hidden_layers"], spec["num_attention_heads"], spec["num_key_value_heads"]
HD, F, V = spec["head_dim"], spec["intermediate_size"], spec["vocab_size"]
bias = spec.pop("_qkv_bias", False)
specials = spec.pop("_specials")

tensors = [("model.embed_tokens.weight", (V, D), "rand")]
for l in range(L):
    p = "model.layers.%d." % l
    tensors += [(p + "input_layernorm.weight", (D,), "ones"),
                (p + "self_attn.q_proj.weight", (H * HD, D), "rand"),
                (p + "self_attn.k_proj.weight", (KV * HD, D), "rand"),
                (p + "self_attn.v_proj.weight", (KV * HD, D), "rand"),
                (p + "self_attn.o_proj.weight", (D, H * HD), "rand"),
                (p + "post_attention_layernorm.weight", (D,), "ones"),
                (p + "mlp.gate_proj.weight", (F, D), "rand"),
                (p + "mlp.up_proj.weight", (F, D), "rand"),
                (p + "mlp.down_proj.weight", (D, F), "rand")]
    if bias:
        tensors += [(p + "self_attn.q_proj.bias", (H * HD,), "zeros"),
                    (p + "self_attn.k_proj.bias", (KV * HD,), "zeros"),
                    (p + "self_attn.v_proj.bias", (KV * HD,), "zeros")]
tensors.append(("model.norm.weight", (D,), "ones"))

header, off = {"__metadata__": {"format": "pt"}}, 0
for name, shape, _ in tensors:
    n = int(np.prod(shape)) * 2
    header[name] = {"dtype": "BF16", "shape": list(shape), "data_offsets": [off, off + n]}
    off += n
h = json.dumps(header, separators=(",", ":")).encode()
h += b" " * (-len(h) % 8)
rng = np.random.default_rng(20250101)
tmp = os.path.join(out, "model.safetensors.tmp")
with open(tmp, "wb") as f:
    f.write(struct.pack("<Q", len(h)))
    f.write(h)
    for name, shape, kind in tensors:
        n = int(np.prod(shape))
        if kind == "ones":
            f.write(np.full(n, 0x3F80, np.uint16).tobytes())
        elif kind == "zeros":
            f.write(np.zeros(n, np.uint16).tobytes())
        else:
            # sign | exponent 120..123 | 7 random mantissa bits: |w| in
            # [2^-7, 2^-3), cheap to draw (1 random u16 per weight).
            for s in range(0, n, 1 << 24):
                r = rng.integers(0, 1 << 16, size=min(1 << 24, n - s), dtype=np.uint16)
                bits = (r & 0x807F) | ((((r >> 7) & 3) + 120) << 7)
                f.write(bits.astype(np.uint16).tobytes())
os.replace(tmp, os.path.join(out, "model.safetensors"))

# A synthetic byte-level BPE vocabulary of the right size: the 256 byte
# symbols, two merges, filler tokens "t<i>" (ASCII, so llama.cpp can decode
# every piece), and the model's special tokens.
bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("\xa1"), ord("\xac") + 1)) + list(range(ord("\xae"), ord("\xff") + 1))
cs, k = bs[:], 0
for b in range(256):
    if b not in bs:
        bs.append(b); cs.append(256 + k); k += 1
byte_sym = [chr(c) for c in cs]
vocab = {s: i for i, s in enumerate(byte_sym)}
vocab["\u0120t"] = len(vocab)
vocab["he"] = len(vocab)
special_ids = {tok: V - len(specials) + i for i, tok in enumerate(specials)}
i = len(vocab)
while len(vocab) < V - len(specials):
    vocab["t%d" % i] = len(vocab); i += 1
added = [{"id": special_ids[t], "content": t, "single_word": False, "lstrip": False,
          "rstrip": False, "normalized": False, "special": True} for t in specials]
for t, i in special_ids.items():
    vocab[t] = i
tok = {"version": "1.0", "truncation": None, "padding": None, "added_tokens": added,
       "normalizer": None,
       "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True},
       "post_processor": None,
       "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
       "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": None,
                 "end_of_word_suffix": None, "fuse_unk": False, "byte_fallback": False,
                 "ignore_merges": False, "vocab": vocab, "merges": [["\u0120", "t"], ["h", "e"]]}}
json.dump(tok, open(os.path.join(out, "tokenizer.json"), "w"), ensure_ascii=False)
json.dump({"tokenizer_class": "PreTrainedTokenizerFast", "bos_token": specials[0],
           "eos_token": specials[-1], "add_bos_token": spec["model_type"] == "llama"},
          open(os.path.join(out, "tokenizer_config.json"), "w"), indent=2)
spec["bos_token_id"] = special_ids[specials[0]]
spec["eos_token_id"] = special_ids[specials[-1]]
json.dump(spec, open(os.path.join(out, "config.json"), "w"), indent=2)
EOF
}

gen llama-1b '{"model_type": "llama", "architectures": ["LlamaForCausalLM"], "hidden_size": 2048,
  "num_hidden_layers": 16, "num_attention_heads": 32, "num_key_value_heads": 8, "head_dim": 64,
  "intermediate_size": 8192, "vocab_size": 128256, "tie_word_embeddings": true,
  "rms_norm_eps": 1e-5, "rope_theta": 500000.0, "max_position_embeddings": 131072,
  "hidden_act": "silu", "torch_dtype": "bfloat16",
  "_specials": ["<|begin_of_text|>", "<|end_of_text|>"]}'
gen qwen-0.5b '{"model_type": "qwen2", "architectures": ["Qwen2ForCausalLM"], "hidden_size": 896,
  "num_hidden_layers": 24, "num_attention_heads": 14, "num_key_value_heads": 2, "head_dim": 64,
  "intermediate_size": 4864, "vocab_size": 151936, "tie_word_embeddings": true,
  "rms_norm_eps": 1e-6, "rope_theta": 1000000.0, "max_position_embeddings": 32768,
  "hidden_act": "silu", "torch_dtype": "bfloat16", "_qkv_bias": true,
  "_specials": ["<|endoftext|>"]}'

for m in llama-1b qwen-0.5b; do
  [ -d "$out/$m-4bit" ] || "$mlxc" convert -m "$out/$m-bf16" -o "$out/$m-4bit" --q-bits 4 --q-group-size 64
  [ -f "$out/$m-q4_0.gguf" ] || "$mlxc" convert -m "$out/$m-bf16" -o "$out/$m-q4_0.gguf" --to-gguf q4_0
done
ls -la "$out"
