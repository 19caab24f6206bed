"""Fixtures for test_lm_rope: a NumPy port of transformers' rope formulas
(src/transformers/modeling_rope_utils.py, v5: _compute_yarn_parameters,
_compute_dynamic_ntk_parameters, _compute_longrope_parameters,
_compute_llama3_parameters, linear) and of its rotary application
(apply_rotary_pos_emb with rotate_half, cos/sin scaled by the attention
factor, dynamic_rope_update / longrope_frequency_update picking the
frequencies from max(position_ids) + 1).

Output: DIR/rope_cases.json, a list of cases:
  {"name", "kind": "init", "head_dim", "v5": config, "v4": config,
   "dims", "base", "scale", "mscale", "periods": [..] | null,
   "long_periods": [..] | null}
    lm_rope_init on both configs must give these values. Periods (what
    mx.fast.rope takes as freqs) are 1 / inv_freq, computed in float32 as
    transformers computes inv_freq, then inverted in float32: the C side
    runs the same float32 operations, so rtol 1e-6 (a few ulps of powf /
    division differences) is enough; a wrong formula moves them by > 1e-3.
  {"name", "kind": "apply", "head_dim", "v5": config, "shape": [B, H, L, Dh],
   "offset", "left_pad": [..] | null, "x": [..], "out": [..]}
    lm_rope_apply with a cache at `offset` (and that left padding). The
    reference rotates in float64 from float32 inv_freq (as transformers
    builds cos/sin in float32 from float32 inv_freq): positions stay
    below 128, so float32 angle rounding is < 128 * 6e-8 rad and outputs of
    |x| <= 4 agree within atol 3e-5.
"""
import json
import math
import os
import sys

import numpy as np

f32 = np.float32


def default_inv(base, dim):
    return (f32(1.0) / (f32(base) ** (np.arange(0, dim, 2, dtype=np.int64).astype(f32) / f32(dim)))).astype(f32)


def yarn_inv(p, dim, max_pos):
    """transformers _compute_yarn_parameters."""
    base = p["rope_theta"]
    orig = p.get("original_max_position_embeddings") or max_pos
    factor = p.get("factor")
    if factor is None:
        factor = max_pos / orig

    def get_mscale(scale, mscale=1):
        if scale <= 1:
            return 1.0
        return 0.1 * mscale * math.log(scale) + 1.0

    af = p.get("attention_factor")
    ms, msa = p.get("mscale"), p.get("mscale_all_dim")
    if af is None:
        if ms and msa:
            af = float(get_mscale(factor, ms) / get_mscale(factor, msa))
        else:
            af = get_mscale(factor)
    beta_fast = p.get("beta_fast") or 32
    beta_slow = p.get("beta_slow") or 1

    def corr_dim(rot):
        return (dim * math.log(orig / (rot * 2 * math.pi))) / (2 * math.log(base))

    truncate = p.get("truncate", True)
    low, high = corr_dim(beta_fast), corr_dim(beta_slow)
    if truncate:
        low, high = math.floor(low), math.ceil(high)
    low, high = max(low, 0), min(high, dim - 1)
    if low == high:
        high += 0.001
    pos = (f32(base) ** (np.arange(0, dim, 2).astype(f32) / f32(dim))).astype(f32)
    inv_ext = (f32(1.0) / pos).astype(f32)
    inv_int = (f32(1.0) / (f32(factor) * pos)).astype(f32)
    ramp = ((np.arange(dim // 2, dtype=f32) - f32(low)) / f32(high - low)).astype(f32)
    ramp = np.clip(ramp, 0, 1).astype(f32)
    ext = (f32(1) - ramp).astype(f32)
    inv = (inv_int * (f32(1) - ext) + inv_ext * ext).astype(f32)
    return inv, af


def llama3_inv(p, dim):
    inv = default_inv(p["rope_theta"], dim)
    factor = p["factor"]
    lo, hi = p.get("low_freq_factor", 1.0), p.get("high_freq_factor", 4.0)
    old = p.get("original_max_position_embeddings", 8192)
    lo_w, hi_w = old / lo, old / hi
    wl = (2 * math.pi / inv).astype(f32)
    out = np.where(wl > lo_w, inv / f32(factor), inv).astype(f32)
    smooth = ((old / wl - lo) / (hi - lo)).astype(f32)
    sm = ((1 - smooth) * out / f32(factor) + smooth * out).astype(f32)
    medium = ~(wl < hi_w) & ~(wl > lo_w)
    return np.where(medium, sm, out).astype(f32)


def longrope(p, cfg, dim):
    base = p["rope_theta"]
    max_pos = cfg["max_position_embeddings"]
    orig = p.get("original_max_position_embeddings") or cfg.get("original_max_position_embeddings")
    factor = p.get("factor", 1.0)
    if orig:
        factor = max_pos / orig
    else:
        orig = max_pos
    af = p.get("attention_factor")
    if af is None:
        af = 1.0 if factor <= 1.0 else math.sqrt(1 + math.log(factor) / math.log(orig))
    shape = (np.arange(0, dim, 2, dtype=np.int64).astype(f32) / f32(dim)).astype(f32)
    pw = (f32(base) ** shape).astype(f32)
    short = (f32(1) / (np.array(p["short_factor"], f32) * pw)).astype(f32)
    long_ = (f32(1) / (np.array(p["long_factor"], f32) * pw)).astype(f32)
    return short, long_, af, orig


def periods(inv):
    return [float(v) for v in (f32(1) / inv).astype(f32)]


def v4_of(cfg, p, type_key="rope_type"):
    """The v4 form of a v5 config: rope_theta at the top, the rest in
    rope_scaling (under "type" or "rope_type")."""
    c = {k: v for k, v in cfg.items() if k != "rope_parameters"}
    c["rope_theta"] = p["rope_theta"]
    rs = {k: v for k, v in p.items() if k not in ("rope_theta", "rope_type")}
    if "partial_rotary_factor" in rs:
        c["partial_rotary_factor"] = rs.pop("partial_rotary_factor")
    if p.get("rope_type", "default") != "default" or rs:
        rs[type_key] = p.get("rope_type", "default")
        c["rope_scaling"] = rs
    return c


def rotate(x, inv, af, pos0):
    """x (B, H, L, Dh) float32, rotary dims = 2 * len(inv); row b's
    positions start at pos0[b]."""
    B, H, L, D = x.shape
    d = 2 * len(inv)
    out = x.astype(np.float64).copy()
    for b in range(B):
        t = np.arange(pos0[b], pos0[b] + L, dtype=f32)
        fr = np.outer(t, inv).astype(f32)  # float32 angles as torch
        emb = np.concatenate([fr, fr], axis=-1).astype(np.float64)
        cos, sin = np.cos(emb) * af, np.sin(emb) * af
        xr = x[b, :, :, :d].astype(np.float64)
        half = d // 2
        rot = np.concatenate([-xr[..., half:], xr[..., :half]], axis=-1)
        out[b, :, :, :d] = xr * cos + rot * sin
    return out


def main():
    out_dir = sys.argv[1]
    os.makedirs(out_dir, exist_ok=True)
    rng = np.random.default_rng(1234)
    cases = []

    def init_case(name, cfg, head_dim, dims, base, scale, mscale, per, long_per=None,
                  type_key="rope_type"):
        p = cfg["rope_parameters"]
        cases.append(dict(name=name, kind="init", head_dim=head_dim, v5=cfg,
                          v4=v4_of(cfg, p, type_key), dims=dims, base=base, scale=scale,
                          mscale=mscale, periods=per, long_periods=long_per))

    # default and linear
    cfg = dict(max_position_embeddings=256, rope_parameters=dict(rope_theta=10000.0, rope_type="default"))
    init_case("default", cfg, 16, 16, 10000.0, 1.0, 1.0, None)
    cfg = dict(max_position_embeddings=256,
               rope_parameters=dict(rope_theta=10000.0, rope_type="linear", factor=4.0))
    init_case("linear", cfg, 16, 16, 10000.0, 0.25, 1.0, None, type_key="type")
    # llama3 (Llama 3.1 values)
    p = dict(rope_theta=500000.0, rope_type="llama3", factor=8.0, low_freq_factor=1.0,
             high_freq_factor=4.0, original_max_position_embeddings=8192)
    cfg = dict(max_position_embeddings=131072, rope_parameters=p)
    init_case("llama3", cfg, 128, 128, 500000.0, 1.0, 1.0, periods(llama3_inv(p, 128)))

    # yarn: the fixture's, DeepSeek-V3-like, gpt-oss-like (truncate false),
    # Qwen3-like, explicit attention_factor, mscale only, factor derived
    # from max / original, partial rotary.
    yarn = [
        ("yarn_fixture", 16, 1.0, 256, dict(factor=4.0, original_max_position_embeddings=64, rope_theta=10000.0)),
        ("yarn_deepseek", 64, 1.0, 163840, dict(factor=40.0, original_max_position_embeddings=4096,
                                                 beta_fast=32, beta_slow=1, mscale=1.0, mscale_all_dim=1.0,
                                                 rope_theta=10000.0)),
        ("yarn_deepseek_mscale", 64, 1.0, 163840, dict(factor=40.0, original_max_position_embeddings=4096,
                                                        mscale=0.707, mscale_all_dim=1.0, rope_theta=10000.0)),
        ("yarn_gptoss", 64, 1.0, 131072, dict(factor=32.0, original_max_position_embeddings=4096,
                                               beta_fast=32.0, beta_slow=1.0, truncate=False,
                                               rope_theta=150000.0)),
        ("yarn_qwen3", 128, 1.0, 40960, dict(factor=4.0, original_max_position_embeddings=32768,
                                             rope_theta=1000000.0)),
        ("yarn_attention_factor", 32, 1.0, 8192, dict(factor=8.0, original_max_position_embeddings=1024,
                                                       attention_factor=1.5, beta_fast=16, beta_slow=2,
                                                       rope_theta=10000.0)),
        ("yarn_mscale_only", 32, 1.0, 8192, dict(factor=8.0, original_max_position_embeddings=1024,
                                                  mscale=0.8, rope_theta=10000.0)),
        ("yarn_derived_factor", 32, 1.0, 8192, dict(original_max_position_embeddings=2048,
                                                     rope_theta=10000.0)),
        ("yarn_partial", 64, 0.5, 8192, dict(factor=2.0, original_max_position_embeddings=4096,
                                             rope_theta=10000.0, partial_rotary_factor=0.5)),
    ]
    for name, hd, partial, max_pos, p in yarn:
        p = dict(p, rope_type="yarn")
        dims = int(hd * partial)
        inv, af = yarn_inv(p, dims, max_pos)
        cfg = dict(max_position_embeddings=max_pos, rope_parameters=p)
        init_case(name, cfg, hd, dims, p["rope_theta"], 1.0, af, periods(inv),
                  type_key="type" if name == "yarn_deepseek" else "rope_type")

    # dynamic: the frequencies are the default ones until positions pass
    # max_position_embeddings (checked by the apply cases).
    cfg = dict(max_position_embeddings=24,
               rope_parameters=dict(rope_theta=10000.0, rope_type="dynamic", factor=2.0))
    init_case("dynamic", cfg, 16, 16, 10000.0, 1.0, 1.0, None)

    # longrope: v5 form with original in rope_parameters; Phi-3-128k v4 form
    # with original at the top level and "su".
    sf = [round(1.0 + 0.1 * i, 2) for i in range(8)]
    lf = [round(2.0 + 0.5 * i, 2) for i in range(8)]
    p = dict(rope_theta=10000.0, rope_type="longrope", short_factor=sf, long_factor=lf,
             original_max_position_embeddings=64)
    cfg = dict(max_position_embeddings=256, rope_parameters=p)
    s, l, af, _ = longrope(p, cfg, 16)
    init_case("longrope", cfg, 16, 16, 10000.0, 1.0, af, periods(s), periods(l))
    p = dict(rope_theta=10000.0, rope_type="su", short_factor=sf[:4], long_factor=lf[:4])
    cfg = dict(max_position_embeddings=131072, original_max_position_embeddings=4096,
               partial_rotary_factor=0.5, rope_parameters=dict(p, partial_rotary_factor=0.5))
    s, l, af, _ = longrope(p, cfg, 8)
    init_case("su_phi3_128k", cfg, 16, 8, 10000.0, 1.0, af, periods(s), periods(l), type_key="type")
    p = dict(rope_theta=10000.0, rope_type="longrope", short_factor=sf, long_factor=lf,
             original_max_position_embeddings=64, attention_factor=1.25)
    cfg = dict(max_position_embeddings=256, rope_parameters=p)
    s, l, af, _ = longrope(p, cfg, 16)
    init_case("longrope_attention_factor", cfg, 16, 16, 10000.0, 1.0, af, periods(s), periods(l))

    # ---- application
    def apply_case(name, cfg, head_dim, inv_of_seq, af, B, H, L, offset, left_pad=None):
        x = rng.uniform(-2, 2, size=(B, H, L, head_dim)).astype(f32)
        pad = left_pad or [0] * B
        pos0 = [offset - pad[b] for b in range(B)]
        seq_len = max(pos0) + L
        inv = inv_of_seq(seq_len)
        y = rotate(x, inv, af, pos0)
        cases.append(dict(name=name, kind="apply", head_dim=head_dim, v5=cfg, shape=[B, H, L, head_dim],
                          offset=offset, left_pad=left_pad, x=[float(v) for v in x.ravel()],
                          out=[float(v) for v in y.ravel()]))

    cfg = dict(max_position_embeddings=256, rope_parameters=dict(rope_theta=10000.0, rope_type="default"))
    apply_case("apply_default", cfg, 16, lambda s: default_inv(10000.0, 16), 1.0, 1, 2, 5, 7)
    apply_case("apply_left_pad", cfg, 16, lambda s: default_inv(10000.0, 16), 1.0, 3, 2, 4, 6,
               left_pad=[0, 3, 6])

    def dyn_inv(seq_len, base=10000.0, factor=2.0, max_pos=24, dim=16):
        seq_len = seq_len if seq_len > max_pos else max_pos
        b = base * ((factor * seq_len / max_pos) - (factor - 1)) ** (dim / (dim - 2))
        return default_inv(b, dim)

    cfg = dict(max_position_embeddings=24,
               rope_parameters=dict(rope_theta=10000.0, rope_type="dynamic", factor=2.0))
    apply_case("apply_dynamic_short", cfg, 16, dyn_inv, 1.0, 1, 2, 6, 10)
    apply_case("apply_dynamic_prefill", cfg, 16, dyn_inv, 1.0, 1, 2, 44, 0)
    apply_case("apply_dynamic_decode", cfg, 16, dyn_inv, 1.0, 1, 2, 1, 60)
    apply_case("apply_dynamic_left_pad", cfg, 16, dyn_inv, 1.0, 2, 2, 3, 30, left_pad=[4, 0])

    p = dict(rope_theta=10000.0, rope_type="yarn", factor=4.0, original_max_position_embeddings=64)
    cfg = dict(max_position_embeddings=256, rope_parameters=p)
    inv, af = yarn_inv(p, 16, 256)
    apply_case("apply_yarn", cfg, 16, lambda s: inv, af, 2, 2, 5, 90)
    p = dict(rope_theta=10000.0, rope_type="yarn", factor=2.0, original_max_position_embeddings=4096,
             partial_rotary_factor=0.5)
    cfg = dict(max_position_embeddings=8192, rope_parameters=p)
    inv, af = yarn_inv(p, 16, 8192)
    apply_case("apply_yarn_partial", cfg, 32, lambda s: inv, af, 1, 3, 4, 3)

    p = dict(rope_theta=10000.0, rope_type="longrope", short_factor=sf, long_factor=lf,
             original_max_position_embeddings=64)
    cfg = dict(max_position_embeddings=256, rope_parameters=p)
    s, l, af, orig = longrope(p, cfg, 16)
    pick = lambda seq: l if seq > orig else s
    apply_case("apply_longrope_short", cfg, 16, pick, af, 1, 2, 8, 56)
    apply_case("apply_longrope_long", cfg, 16, pick, af, 1, 2, 8, 57)
    apply_case("apply_longrope_decode_long", cfg, 16, pick, af, 1, 2, 1, 100)

    with open(os.path.join(out_dir, "rope_cases.json"), "w") as f:
        json.dump(cases, f)


if __name__ == "__main__":
    main()
