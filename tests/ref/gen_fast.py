"""NumPy fixtures for the fused kernels (tests/test_fast.c).

Usage: gen_fast.py OUTDIR

Ops: rms_norm layer_norm rope sdpa. The references implement what MLX runs
on a CPU stream (mlx/fast.cpp's fallback formulas), from the exact input
values.

Params: eps; w=1/b=1 (norm inputs after x: weight, then bias); rope: dims,
trad, base, scale, offset=<int> or offarr=1 (an int32 offset array input),
freqs=1 (a freqs input, last); sdpa: scale, mask=none|causal|array (array:
input 3), sinks=1 (last input).

Tolerances (|got - want| <= atol + rtol*|want|):
- rms_norm/layer_norm f32 output: the kernel sums in f32 lanes in another
  order than the f64 reference: relative error of the mean square below
  D * 2^-24 ~ 6e-5 worst case, typically sqrt(D)*2^-24; the normalized
  value inherits half of it: rtol 2e-5, atol 1e-6 (values near 0 after
  centring). Half outputs: the f32 normalized value is rounded to the half
  type before the affine ops (MLX's order, reproduced here); a tiny f32
  difference can flip that rounding, which after the weight multiply and
  the bias add is at most 2 ulp of max|x_norm*w| in that dtype: atol is
  set to exactly that per case, rtol 0.
- rope: the reference repeats the kernel's f32 arithmetic (positions,
  inv_freq, theta, cos/sin of theta in double rounded once, per-op rounding
  in x's dtype); the only possible difference is a libm cos/sin result that
  rounds to the other f32 neighbour: 1 ulp of c or s, times |x| <= 8:
  f32 atol 1e-6; f16/bf16: one ulp of the dtype (rtol 2^-10 / 2^-7).
  f64: the same with f64 products: rtol 1e-12.
- sdpa: reference in f64. The kernel's f32 logits carry ~sqrt(D)*2^-24
  relative error, its exp 2 ulp, its sums ~Tk*2^-24: for f32 outputs rtol
  and atol 2e-5 (logits are O(1) by construction). f16/bf16 outputs round
  the f32 result once: 1 ulp of the dtype (rtol 2^-10 / 2^-7) plus atol
  1e-5. A half-precision kernel may also round the probabilities P to the
  dtype before the P V product (flash attention feeds P to a half matrix
  multiply, as MLX's GPU kernels do): each p_j then carries a relative error
  of at most u = 2^-11 (f16) / 2^-8 (bf16), so an output o_d = sum_j p_j v_jd
  moves by at most u * sum_j p_j |v_jd|; atol adds u times the max of that
  sum over the outputs (computed from the f64 reference P; <= u * max|v|
  since the p_j sum to 1). Fully masked rows: bool masks average V (MLX
  uses finfo.min), an all -inf additive row is NaN (as MLX's softmax).
"""
import math
import warnings

import numpy as np

from fixtures import apply_view, bf16_to_f32, out_dir, save_npy, stored_shape, write_cases
from fixtures import bf16_bits_canonical_nan as to_bf16_bits

warnings.simplefilter("ignore")
OUT = out_dir()
rng = np.random.default_rng(31337)
lines = []
counter = [0]

EPS = {"float16": 2.0 ** -10, "bfloat16": 2.0 ** -7, "float32": 2.0 ** -23, "float64": 2.0 ** -52}


def rnd(x, dt):
    """x rounded to dt, as float32 (float64 for float64)."""
    x = np.asarray(x)
    if dt == "float64":
        return x.astype(np.float64)
    f = x.astype(np.float32)
    if dt == "float16":
        return f.astype(np.float16).astype(np.float32)
    if dt == "bfloat16":
        return bf16_to_f32(to_bf16_bits(f))
    return f


def store_as(x, dt):
    """Values (already representable) in the stored form of dt."""
    if dt == "bfloat16":
        return to_bf16_bits(np.asarray(x, np.float32))
    return np.asarray(x).astype(dt)


def rand(dt, shape, scale=1.0, view=None):
    """(stored array, exact values of the view as f64)."""
    sshape = stored_shape(shape, view)
    f = rng.standard_normal(sshape) * scale
    vals = rnd(f, dt)
    st = store_as(vals, dt)
    return st, apply_view(np.asarray(vals, np.float64), view)


def emit(op, ins, in_dts, out, out_dt, rtol, atol, views=None, **params):
    cid = "c%04d" % counter[0]
    counter[0] += 1
    keys = []
    for k, (a, dt) in enumerate(zip(ins, in_dts)):
        save_npy(OUT, "%s.in%d.npy" % (cid, k), a)
        if dt == "bfloat16":
            keys.append("dtype%d=bfloat16" % k)
        if views and k < len(views) and views[k]:
            keys.append("view%d=%s" % (k, views[k]))
    save_npy(OUT, "%s.out.npy" % cid, out)
    if out_dt == "bfloat16":
        keys.append("out_dtype=bfloat16")
    for k, v in params.items():
        keys.append("%s=%s" % (k, v))
    lines.append("%s %s %d %.6g %.6g %s" % (cid, op, len(ins), rtol, atol, " ".join(keys)))


def promote(a, b):
    if a == b:
        return a
    s = {a, b}
    if "float64" in s:
        return "float64"
    return "float32"  # f16+bf16, or anything with f32


# ------------------------------------------------------------ norms

def norm_case(layer, shape, xdt, wdt, bdt, view=None, eps=1e-5):
    xs, x = rand(xdt, shape, 2.0, view)
    D = shape[-1]
    ins, dts = [xs], [xdt]
    ot = xdt
    w = b = None
    if wdt:
        ws, w = rand(wdt, (D,), 1.0)
        ins.append(ws)
        dts.append(wdt)
        ot = promote(xdt, wdt)
        if bdt:
            ot = promote(ot, bdt)
    if bdt:
        bs, b = rand(bdt, (D,), 1.0)
        ins.append(bs)
        dts.append(bdt)
    if ot != "float64":
        # weights/bias are cast to the output dtype by the front end
        w = None if w is None else rnd(w, ot).astype(np.float64)
        b = None if b is None else rnd(b, ot).astype(np.float64)
    with np.errstate(all="ignore"):
        if layer:
            mu = x.mean(-1, keepdims=True) if D else x.sum(-1, keepdims=True)
            xc = x - mu
            var = (xc * xc).mean(-1, keepdims=True) if D else xc.sum(-1, keepdims=True)
            n = xc / np.sqrt(var + np.float64(np.float32(eps)))
        else:
            ms = (x * x).mean(-1, keepdims=True) if D else x.sum(-1, keepdims=True)
            n = x / np.sqrt(ms + np.float64(np.float32(eps)))
    n32 = n.astype(np.float32)
    if ot == "float32":
        y = n32
        if w is not None:
            y = (y * w.astype(np.float32)).astype(np.float32)
        if b is not None:
            y = (y + b.astype(np.float32)).astype(np.float32)
        out, rtol, atol = y, 2e-5, 1e-6
        if layer:
            atol = 1e-5
    elif ot == "float64":
        y = n32.astype(np.float64)
        if w is not None:
            y = y * w
        if b is not None:
            y = y + b
        out, rtol, atol = y, 2e-5, 1e-5
    else:
        y = rnd(n32, ot)
        big = np.abs(y).max() if y.size else 0.0
        if w is not None:
            y = rnd(y * w.astype(np.float32), ot)
            big = np.abs(y).max() if y.size else 0.0
        if b is not None:
            y = rnd(y + b.astype(np.float32), ot)
        out = store_as(y, ot)
        ulp = 2.0 ** math.floor(math.log2(big)) * EPS[ot] if big > 0 else 0.0
        rtol, atol = 0.0, 2 * ulp + 1e-7
    params = {"eps": repr(float(np.float32(eps)))}
    if wdt:
        params["w"] = 1
    if bdt:
        params["b"] = 1
    emit("layer_norm" if layer else "rms_norm", ins, dts, out, ot, rtol, atol,
         views=[view], **params)


for layer in (False, True):
    for shape in [(7,), (3, 33), (2, 5, 1000), (0, 8), (4, 1), (1030, 24)]:
        norm_case(layer, shape, "float32", "float32", "float32" if layer else None)
    for dt in ("float16", "bfloat16"):
        norm_case(layer, (5, 129), dt, dt, dt if layer else None)
        norm_case(layer, (3, 64), dt, None, None)
        norm_case(layer, (3, 17), dt, "float32", None)  # promotes to f32
    norm_case(layer, (3, 33), "float32", None, None)
    norm_case(layer, (2, 3, 20), "float32", "float32", None, view="T")
    norm_case(layer, (6, 24), "float16", "float16", None, view="step2")
    norm_case(layer, (6, 24), "bfloat16", "bfloat16", "bfloat16" if layer else None, view="rev")
    norm_case(layer, (4, 48), "float32", "float64", None)  # f64 output
    norm_case(layer, (4, 16), "float16", "bfloat16", None, eps=1e-3)  # f32 output
norm_case(True, (3, 40), "float32", None, "float32")  # bias without weight


# ------------------------------------------------------------ rope

def pycos(a):
    return np.array([math.cos(float(t)) for t in a.reshape(-1)], np.float64).reshape(a.shape)


def pysin(a):
    return np.array([math.sin(float(t)) for t in a.reshape(-1)], np.float64).reshape(a.shape)


def rope_case(shape, dt, dims, trad, base=10000.0, scale=1.0, offset=0, offarr=None,
              freqs=False, view=None):
    xs, x = rand(dt, shape, 2.0, view)
    ins, dts = [xs], [dt]
    half = dims // 2
    f32 = np.float32
    if freqs:
        fr = (rng.uniform(1.0, 100.0, half)).astype(np.float32)
        inv = (f32(1.0) / fr).astype(np.float32)
    else:
        coef = f32(np.log(np.float64(f32(base)))) / f32(half)
        e = (-np.arange(half, dtype=np.float32)) * coef
        inv = np.exp(e.astype(np.float64)).astype(np.float32)
    B, T = shape[0], shape[-2]
    if offarr is not None:
        offs = np.array(offarr, np.int32)
        ins.append(offs)
        dts.append("int32")
        offv = offs.reshape(-1) if offs.size > 1 else np.full(B, offs.reshape(-1)[0])
    else:
        offv = np.full(B, offset)
    if freqs:
        ins.append(fr)
        dts.append("float32")
    pos = (np.arange(T, dtype=np.float32)[None, :] + offv.astype(np.float32)[:, None]).astype(f32)
    pos = (pos * f32(scale)).astype(f32)                       # (B, T)
    theta = (pos[:, :, None] * inv[None, None, :]).astype(f32)  # (B, T, half)
    c = pycos(theta.astype(np.float64)).astype(f32)
    s = pysin(theta.astype(np.float64)).astype(f32)
    if dt in ("float16", "bfloat16"):
        c, s = rnd(c, dt), rnd(s, dt)
    # broadcast (B, T, half) against x (B, ..., T, D)
    bshape = (B,) + (1,) * (len(shape) - 3) + (T, half)
    c, s = c.reshape(bshape), s.reshape(bshape)
    if trad:
        x1, x2 = x[..., 0:dims:2], x[..., 1:dims:2]
    else:
        x1, x2 = x[..., :half], x[..., half:dims]
    if dt == "float64":
        c64, s64 = c.astype(np.float64), s.astype(np.float64)
        y1 = x1 * c64 - x2 * s64
        y2 = x1 * s64 + x2 * c64
        rtol, atol = 1e-12, 1e-12
    elif dt == "float32":
        a1, a2 = x1.astype(f32), x2.astype(f32)
        y1 = (a1 * c).astype(f32) - (a2 * s).astype(f32)
        y2 = (a1 * s).astype(f32) + (a2 * c).astype(f32)
        rtol, atol = 1e-6, 1e-6
    else:
        a1, a2 = x1.astype(f32), x2.astype(f32)
        y1 = rnd(rnd(a1 * c, dt) - rnd(a2 * s, dt), dt)
        y2 = rnd(rnd(a1 * s, dt) + rnd(a2 * c, dt), dt)
        rtol, atol = EPS[dt], 1e-7
    y = np.array(x, copy=True)
    if trad:
        y[..., 0:dims:2] = y1
        y[..., 1:dims:2] = y2
    else:
        y[..., :half] = y1
        y[..., half:dims] = y2
    out = store_as(rnd(y, dt) if dt != "float64" else y, dt)
    params = {"dims": dims, "trad": int(trad), "base": repr(float(base)), "scale": repr(float(scale))}
    if offarr is not None:
        params["offarr"] = 1
    else:
        params["offset"] = offset
    if freqs:
        params["freqs"] = 1
    emit("rope", ins, dts, out, dt, rtol, atol, views=[view], **params)


for dt in ("float32", "float16", "bfloat16"):
    for trad in (False, True):
        rope_case((1, 1, 4, 8), dt, 8, trad)
        rope_case((2, 3, 5, 16), dt, 8, trad, offset=7)           # tail passes through
        rope_case((2, 4, 33, 64), dt, 64, trad, base=500000.0, scale=0.5, offset=100)
        rope_case((2, 6, 32), dt, 32, trad, offarr=[3, 1000])      # 3-d, per-batch offsets
        rope_case((2, 2, 3, 5, 16), dt, 16, trad, freqs=True, offset=2)  # 5-d, freqs
rope_case((3, 2, 9, 12), "float32", 12, False, offarr=[5])         # (1,) offset
rope_case((1, 2, 3, 12), "float32", 6, True, offarr=np.int32(4))   # 0-d offset array
rope_case((2, 2, 6, 16), "float32", 16, False, view="T", offset=1)
rope_case((2, 2, 6, 16), "float16", 16, True, view="step2", offset=3)
rope_case((2, 2, 6, 16), "bfloat16", 12, False, view="rev", offset=3)
rope_case((2, 3, 7, 16), "float64", 16, False, offset=4)
rope_case((2, 3, 7, 16), "float64", 8, True, freqs=True)
rope_case((2, 0, 7, 16), "float32", 16, False)                      # empty
rope_case((1, 2, 1, 128), "float16", 128, False, offset=4095)      # decode step


# ------------------------------------------------------------ sdpa

LOWEST = {"float32": -np.finfo(np.float32).max, "float16": -65504.0,
          "bfloat16": float(bf16_to_f32(np.uint16(0xFF7F))), "float64": -np.finfo(np.float64).max}


def sdpa_case(B, Hq, Hkv, Tq, Tk, D, Dv=None, dt="float32", kvdt=None, scale=None,
              mask="none", mshape=None, mdt="bool", sinks=False, views=None, special=None):
    Dv = Dv or D
    kvdt = kvdt or dt
    views = views or [None, None, None]
    scale = 1.0 / math.sqrt(D) if scale is None else scale
    qs, q = rand(dt, (B, Hq, Tq, D), 1.0, views[0])
    ks, k = rand(kvdt, (B, Hkv, Tk, D), 1.0, views[1])
    vs, v = rand(kvdt, (B, Hkv, Tk, Dv), 1.0, views[2])
    ft = promote(dt, kvdt)
    ins, dts = [qs, ks, vs], [dt, kvdt, kvdt]
    G = Hq // Hkv
    kr = np.repeat(k, G, axis=1)
    vr = np.repeat(v, G, axis=1)
    sc = np.float64(np.float32(scale))
    s = np.einsum("bhid,bhjd->bhij", q, kr) * sc
    if mask == "causal":
        qi = np.arange(Tq)[:, None] + (Tk - Tq)
        m = qi >= np.arange(Tk)[None, :]
        s = np.where(m, s, LOWEST[ft])
    elif mask == "array":
        mshape = mshape or (B, Hq, Tq, Tk)
        if mdt == "bool":
            m = rng.integers(0, 4, mshape) > 0
            if special == "rowfalse" and m.ndim >= 2:
                m[..., 0, :] = False
            ins.append(m)
            dts.append("bool")
            s = np.where(m, s, LOWEST[ft])
        else:
            mv = rnd(rng.standard_normal(mshape), mdt).astype(np.float64)
            if special == "neginf":
                mv[..., 0, :] = -np.inf   # a row masked everywhere: NaN as MLX
                mv[..., 1, : max(Tk // 2, 1)] = -np.inf
            ins.append(store_as(mv, mdt))
            dts.append(mdt)
            s = s + mv
    if sinks:
        sk = rnd(rng.standard_normal(Hq), ft).astype(np.float64)
        ins.append(store_as(sk, ft))
        dts.append(ft)
        s = np.concatenate([np.broadcast_to(sk[None, :, None, None], s.shape[:3] + (1,)), s], -1)
    with np.errstate(all="ignore"):
        mx = s.max(-1, keepdims=True) if s.shape[-1] else s.sum(-1, keepdims=True)
        e = np.exp(s - mx)
        p = e / e.sum(-1, keepdims=True)
        if sinks:
            p = p[..., 1:]
        o = np.einsum("bhij,bhjd->bhid", p, vr) if Tk else np.zeros((B, Hq, Tq, Dv))
        pv_abs = np.einsum("bhij,bhjd->bhid", p, np.abs(vr)) if Tk else np.zeros(1)
    pv_abs = float(np.max(np.where(np.isfinite(pv_abs), pv_abs, 0), initial=0.0))
    if ft == "float32":
        rtol, atol = 2e-5, 2e-5
    elif ft == "float64":
        rtol, atol = 1e-12, 1e-12
    else:
        rtol, atol = EPS[ft], 1e-5 + EPS[ft] / 2 * pv_abs
    out = store_as(rnd(o, ft), ft)
    emit("sdpa", ins, dts, out, ft, rtol, atol, views=views,
         scale=repr(float(np.float32(scale))), mask=mask, sinks=int(sinks))


# decode (Tq <= 4): GQA groups, odd lengths, key splits (B*Hkv below the
# thread count), masks, sinks
sdpa_case(1, 8, 2, 1, 1, 64)
sdpa_case(1, 8, 2, 1, 7, 64)
sdpa_case(2, 8, 2, 1, 100, 72, Dv=40)
sdpa_case(1, 4, 1, 1, 600, 64)                    # split over keys
sdpa_case(1, 4, 1, 3, 600, 64, mask="causal")
sdpa_case(1, 4, 1, 2, 700, 32, sinks=True)
sdpa_case(1, 4, 2, 4, 37, 16, mask="array")
sdpa_case(1, 4, 2, 4, 37, 16, mask="array", mdt="float32", mshape=(4, 37))
sdpa_case(2, 4, 2, 1, 160, 128, dt="float16")
sdpa_case(2, 4, 2, 1, 160, 128, dt="bfloat16", sinks=True)
sdpa_case(1, 4, 1, 1, 300, 128, dt="float32", kvdt="float16")   # f16 cache, f32 queries
sdpa_case(1, 4, 1, 1, 300, 128, dt="float32", kvdt="bfloat16")
sdpa_case(1, 2, 2, 4, 3, 8, mask="causal")        # Tq > Tk: early rows see nothing
sdpa_case(1, 2, 1, 1, 0, 8)                       # no keys: zeros
# prefill (blocked)
sdpa_case(1, 2, 1, 33, 33, 64, mask="causal")
sdpa_case(2, 4, 2, 70, 100, 48, mask="causal")    # Tk > Tq: bottom-right aligned
sdpa_case(1, 2, 2, 40, 20, 16, mask="causal")     # Tq > Tk in prefill
sdpa_case(1, 4, 4, 65, 130, 80, Dv=24)
sdpa_case(1, 2, 1, 6, 10, 1, Dv=70)               # Dv larger than a K tile
sdpa_case(1, 4, 2, 37, 70, 32, mask="array", special="rowfalse")
sdpa_case(1, 4, 2, 37, 70, 32, mask="array", mdt="float32", mshape=(1, 4, 1, 70))
sdpa_case(1, 2, 1, 9, 20, 16, mask="array", mdt="float32", special="neginf")
sdpa_case(1, 2, 1, 9, 20, 16, mask="array", mshape=(), mdt="bool")
sdpa_case(1, 4, 2, 50, 90, 64, sinks=True, mask="causal")
sdpa_case(1, 4, 2, 50, 90, 64, dt="float16", mask="causal")
sdpa_case(1, 4, 2, 50, 90, 64, dt="bfloat16", mask="array", mdt="bfloat16", mshape=(50, 90))
sdpa_case(1, 4, 2, 50, 90, 64, dt="float16", mask="array", mdt="float16")
# strided inputs: transposed queries, reversed / every-other-element keys
sdpa_case(2, 4, 2, 6, 40, 16, views=["T", "rev", "step2"])
sdpa_case(2, 4, 2, 1, 40, 16, views=["step2", "T", "rev"])
# float64 (MLX's composition of ops in f64)
sdpa_case(1, 4, 2, 5, 9, 8, dt="float64", mask="causal")

write_cases(OUT, lines)
print("gen_fast: %d cases" % len(lines))
