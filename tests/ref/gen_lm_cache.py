"""Reference logits for rotating KV caches (tests/test_lm_cache.c).

The model is the float32 tiny Llama of tests/data/lm_arch/llama (2 layers,
4 query / 2 kv heads, head_dim 16). A float64 NumPy forward keeps every
position's keys and values as they were computed when that token was
processed (rope at its own position), and each query attends to exactly the
positions mlx-lm's RotatingKVCache(max_size=S, keep) hands it:

- the cache is simulated at the level of positions (which position sits in
  which slot), following mlx_lm/models/cache.py: a multi-token call puts the
  kept positions in temporal order, cuts them to max_size - 1 (never the
  first `keep`) and appends the new ones; a single token grows the buffer up
  to max_size and then overwrites the oldest slot after the first `keep`;
- masks: a single token sees every slot returned; a multi-token call uses
  create_causal_mask(N, offset, window_size=max_size) over the returned list
  (RotatingKVCache.make_mask), i.e. causality and the window are counted in
  list indices.
For single-token steps past max_size this is "the first keep positions plus
the last max_size - keep ones (the current included)", asserted below.

Tokens are fixed (teacher forcing), so the C test feeds the same calls and
compares every returned logit row. Tolerance (in the C test): 1e-5 of the
row's largest |logit|: the C side computes in float32 (matmul accumulation
over at most 128 terms, softmax over <= 40 keys), whose rounding is ~1e-6
relative at these sizes; a wrong slot or mask changes logits by >1e-2.

Usage: gen_lm_cache.py OUTDIR
"""
import json
import os
import struct
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
MODEL = os.path.join(HERE, "..", "data", "lm_arch", "llama")


def load_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    (hlen,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + hlen])
    base = 8 + hlen
    out = {}
    for name, e in header.items():
        if name == "__metadata__":
            continue
        assert e["dtype"] == "F32", (name, e["dtype"])
        a, b = e["data_offsets"]
        out[name] = np.frombuffer(data[base + a:base + b], dtype="<f4").reshape(e["shape"]).astype(np.float64)
    return out


class Llama:
    def __init__(self, folder):
        cfg = json.load(open(os.path.join(folder, "config.json")))
        self.W = load_safetensors(os.path.join(folder, "model.safetensors"))
        self.nl = cfg["num_hidden_layers"]
        self.hq = cfg["num_attention_heads"]
        self.hkv = cfg["num_key_value_heads"]
        self.dh = cfg["head_dim"]
        self.eps = cfg["rms_norm_eps"]
        theta = cfg["rope_parameters"]["rope_theta"]
        self.inv = theta ** (-np.arange(0, self.dh, 2, dtype=np.float64) / self.dh)
        self.vocab = cfg["vocab_size"]
        self.K = [dict() for _ in range(self.nl)]
        self.V = [dict() for _ in range(self.nl)]

    def rms(self, x, w):
        return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + self.eps) * w

    def rope(self, x, p):  # x (H, Dh), half-split pairs (rotate_half)
        ang = p * self.inv
        c, s = np.cos(ang), np.sin(ang)
        h = self.dh // 2
        x1, x2 = x[:, :h], x[:, h:]
        return np.concatenate([x1 * c - x2 * s, x1 * s + x2 * c], axis=-1)

    def call(self, tokens, positions, visible):
        """tokens/positions: the new ones; visible[i]: positions query i sees."""
        W = self.W
        x = W["model.embed_tokens.weight"][tokens]
        n = len(tokens)
        for l in range(self.nl):
            p = "model.layers.%d." % l
            h = self.rms(x, W[p + "input_layernorm.weight"])
            q = (h @ W[p + "self_attn.q_proj.weight"].T).reshape(n, self.hq, self.dh)
            k = (h @ W[p + "self_attn.k_proj.weight"].T).reshape(n, self.hkv, self.dh)
            v = (h @ W[p + "self_attn.v_proj.weight"].T).reshape(n, self.hkv, self.dh)
            for i in range(n):
                q[i] = self.rope(q[i], positions[i])
                self.K[l][positions[i]] = self.rope(k[i], positions[i])
                self.V[l][positions[i]] = v[i]
            o = np.zeros((n, self.hq, self.dh))
            rep = self.hq // self.hkv
            for i in range(n):
                ks = np.stack([self.K[l][j] for j in visible[i]])  # (T, Hkv, Dh)
                vs = np.stack([self.V[l][j] for j in visible[i]])
                for hh in range(self.hq):
                    g = hh // rep
                    s = ks[:, g, :] @ q[i, hh] / np.sqrt(self.dh)
                    s = np.exp(s - s.max())
                    o[i, hh] = (s / s.sum()) @ vs[:, g, :]
            x = x + o.reshape(n, -1) @ W[p + "self_attn.o_proj.weight"].T
            h = self.rms(x, W[p + "post_attention_layernorm.weight"])
            g = h @ W[p + "mlp.gate_proj.weight"].T
            u = h @ W[p + "mlp.up_proj.weight"].T
            x = x + (g / (1 + np.exp(-g)) * u) @ W[p + "mlp.down_proj.weight"].T
        x = self.rms(x, W["model.norm.weight"])
        return x @ W["lm_head.weight"].T


class RotatingSlots:
    """Which position sits in which slot of a RotatingKVCache."""

    def __init__(self, max_size, keep):
        self.S, self.keep = max_size, keep
        self.buf, self.offset, self.idx = None, 0, 0

    def _trim(self, t, v, append=()):
        v = v[:self.keep] + v[t + self.keep:] if t > 0 else v
        return v + list(append)

    def _temporal(self, v):
        if self.idx == len(v):
            return v
        if self.idx < self.offset:
            return v[:self.keep] + v[self.idx:] + v[self.keep:self.idx]
        return v[:self.idx]

    def concat(self, new):
        if self.buf is None:
            self.buf = list(new)
        else:
            self.buf = self._temporal(self.buf)
            self.idx = len(self.buf)
            self.buf = self._trim(self.idx - self.S + 1, self.buf, new)
        self.offset += len(new)
        self.idx = len(self.buf)
        return list(self.buf)

    def single(self, p):
        prev = self.offset
        if self.buf is None or (prev >= len(self.buf) and len(self.buf) < self.S):
            self.buf = (self.buf or []) + [None] * min(256, self.S - prev)
            self.idx = prev
        t = len(self.buf) - self.S
        if t > 0:
            self.buf = self._trim(t, self.buf)
            self.idx = self.S
        if self.idx == self.S:
            self.idx = self.keep
        self.buf[self.idx] = p
        self.offset += 1
        self.idx += 1
        return self.buf[:self.offset] if self.offset < self.S else list(self.buf)


def scenario(model, S, keep, calls, rng):
    total = sum(calls)
    tokens = rng.integers(3, model.vocab, size=total).astype(np.int32)
    sim = RotatingSlots(S, keep)
    model.K = [dict() for _ in range(model.nl)]
    model.V = [dict() for _ in range(model.nl)]
    out, pos = [], 0
    for n in calls:
        new = list(range(pos, pos + n))
        if n == 1:
            ret = sim.single(pos)
            vis = [sorted(ret)]
            if pos >= S:  # the documented meaning of a rotating cache
                assert vis[0] == list(range(keep)) + list(range(pos - (S - keep) + 1, pos + 1))
        else:
            ret = sim.concat(new)
            T, off = len(ret), len(ret) - n
            vis = [[ret[j] for j in range(T) if j <= off + i and off + i - j < S]
                   for i in range(n)]
        out.append(model.call(tokens[pos:pos + n], new, vis))
        pos += n
    return tokens, np.concatenate(out).astype(np.float32)


def main():
    outdir = sys.argv[1]
    os.makedirs(outdir, exist_ok=True)
    rng = np.random.default_rng(5)
    model = Llama(MODEL)
    scenarios = [
        # max_size, keep, calls (1 = a decode step)
        (16, 4, [10] + [1] * 30),
        (16, 4, [24] + [1] * 20),
        (8, 0, [5] + [1] * 20),
        (16, 4, [7, 7, 7, 9] + [1] * 12 + [5] + [1] * 5),
    ]
    meta = []
    for n, (S, keep, calls) in enumerate(scenarios):
        tokens, logits = scenario(model, S, keep, calls, rng)
        np.save(os.path.join(outdir, "rot%d_tokens.npy" % n), tokens)
        np.save(os.path.join(outdir, "rot%d_logits.npy" % n), logits)
        meta.append({"max_size": S, "keep": keep, "calls": calls})
    with open(os.path.join(outdir, "rotating.json"), "w") as f:
        json.dump({"scenarios": meta}, f)


if __name__ == "__main__":
    main()
