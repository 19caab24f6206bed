"""NumPy fixtures for MLX's quantized formats (tests/test_quantized.c):
quantize (packed weights, scales, biases), dequantize, quantized_matmul,
gather_qmm.

Usage: gen_quantized.py OUTDIR

The reference is a NumPy re-implementation of MLX's algorithm, written from
mlx/ops.cpp and mlx/backend/cpu/quantized.cpp:
- affine: per group of the last axis, f32 min/max; the edge of larger
  magnitude (min if |min| > |max|) is mapped exactly onto a code: scale =
  max((max-min)/(2^bits-1), 1e-7) signed towards that edge, q0 =
  rint(edge/scale), and when q0 != 0 scale = edge/q0, bias = edge (else
  bias 0); q = clip(rint((w - bias)/scale), 0, 2^bits-1), packed LSB-first
  as one bit stream into uint32; scales/biases rounded to w's dtype.
- mxfp4 / mxfp8: the CPU path is a graph of ops in w's dtype, so every
  intermediate is rounded to that dtype: s = amax/maxval, e =
  rint(log2(s)) (0 for s == 0), w / 2^e, scale byte e + 127 (E8M0). FP4
  codes by argmin |w - lut| (first index wins ties); FP8 by MLX's ToFP8.
- nvfp4: s = amax/6 (w dtype) times 448*6/global_scale in f32, to E4M3;
  w / decoded scale in w dtype, times the f32 factor; argmin in f32.
- dequantize: affine q*s then +b, each rounded to the scales' dtype; fp
  modes lut * scale in the output dtype (scale 2^(e-127) in that dtype).

Tolerances:
- quantize / dequantize: exact (rtol = atol = 0): the integer codes and the
  rounding sequence are reproduced bit for bit.
- quantized_matmul / gather_qmm: expected = x @ dequant(w) in float64,
  rounded once to the output dtype. Every CPU path keeps x in f32 (the
  decode kernels dequantize in registers and add the bias through group
  sums of x), so the error is f32 accumulation only: at most
  (K + 8) * 2^-24 * max_n sum_k |x_k| (|s q_k| + |b|) (a gamma_{K+8}
  bound; |W| for the fp modes). Half outputs add one rounding: rtol 2^-10
  (f16), 2^-7 (bf16). With half activations a kernel may also dequantize
  the weights into the activation dtype for a half matrix multiply (MLX's
  GPU kernels do): one rounding of each weight, |dW| <= u |W| with u =
  2^-11 (f16) / 2^-8 (bf16), so atol adds u * max_n sum_k |x_k| |W_kn|
  (the same sum as above, with |s q| + |b| bounding |W|).
"""
import os

import numpy as np

from fixtures import out_dir, write_cases
from fixtures import bf16_bits as to_bf16_bits
from fixtures import bf16_to_f32_contig as bf16_to_f32

OUT = out_dir()
rng = np.random.default_rng(20240613)
lines = []
F32 = np.float32
LUT = np.array([0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0,
                -0.0, -0.5, -1.0, -1.5, -2.0, -3.0, -4.0, -6.0], F32)


def rt(v, t):
    """Round f32 values to dtype t and back to f32."""
    v = np.asarray(v, F32)
    if t == "float16":
        return v.astype(np.float16).astype(F32)
    if t == "bfloat16":
        return bf16_to_f32(to_bf16_bits(v))
    return v


def stored(v, t):
    """Array to save for values v (already representable) of dtype t."""
    if t == "float16":
        return np.asarray(v, np.float16)
    if t == "bfloat16":
        return to_bf16_bits(v)
    return np.asarray(v, F32)


def pack_bits(q, bits):
    """q: (..., K) codes -> (..., K*bits/32) uint32, LSB-first bit stream."""
    sh = q.shape
    q = q.reshape(-1, sh[-1]).astype(np.uint64)
    K = sh[-1]
    bitpos = np.arange(K) * bits
    out = np.zeros((q.shape[0], K * bits // 8), np.uint8)
    for j in range(bits):
        b = (q >> np.uint64(j)) & np.uint64(1)
        pos = bitpos + j
        np.bitwise_or.at(out, (slice(None), pos // 8), (b << (pos % 8).astype(np.uint64)).astype(np.uint8))
    return out.view("<u4").reshape(sh[:-1] + (K * bits // 32,))


def unpack_bits(w, bits, K):
    by = np.ascontiguousarray(w).view(np.uint8).reshape(w.shape[:-1] + (-1,)).astype(np.uint32)
    bitpos = np.arange(K) * bits
    q = np.zeros(w.shape[:-1] + (K,), np.uint32)
    for j in range(bits):
        pos = bitpos + j
        q |= ((by[..., pos // 8] >> (pos % 8).astype(np.uint32)) & 1) << np.uint32(j)
    return q


def affine_quantize(w, gs, bits, t):
    w32 = rt(w, t).reshape(-1, gs)
    nb = F32((1 << bits) - 1)
    wmax, wmin = w32.max(1), w32.min(1)
    mask = np.abs(wmin) > np.abs(wmax)
    s = np.maximum((wmax - wmin) / nb, F32(1e-7)).astype(F32)
    s = np.where(mask, s, -s).astype(F32)
    edge = np.where(mask, wmin, wmax).astype(F32)
    q0 = np.rint(edge / s).astype(F32)
    nz = q0 != 0
    s = np.where(nz, edge / np.where(nz, q0, F32(1)), s).astype(F32)
    b = np.where(nz, edge, F32(0)).astype(F32)
    q = np.clip(np.rint((w32 - b[:, None]) / s[:, None]), 0, nb).astype(np.uint32)
    sh = w.shape
    packed = pack_bits(q.reshape(sh), bits)
    gsh = sh[:-1] + (sh[-1] // gs,)
    return packed, rt(s, t).reshape(gsh), rt(b, t).reshape(gsh)


def to_fp8(f):
    f = np.asarray(f, F32)
    bits = f.view(np.uint32).copy()
    sign = bits & np.uint32(0x80000000)
    bits ^= sign
    lo = ((bits.view(F32) + np.uint32(141 << 23).view(F32)).view(np.uint32) - np.uint32(141 << 23)) & np.uint32(0xFF)
    odd = (bits >> np.uint32(20)) & np.uint32(1)
    c = np.uint64(((7 - 127) << 23) % (1 << 32))
    hb = (bits.astype(np.uint64) + c + np.uint64(0x7FFFF) + odd.astype(np.uint64)) % np.uint64(1 << 32)
    hi = (hb >> np.uint64(20)).astype(np.uint32) & np.uint32(0xFF)
    r = np.where(bits < np.uint32(121 << 23), lo, hi)
    r = np.where(bits >= np.uint32(543 << 21), np.uint32(0x7E), r)
    return (r | (sign >> np.uint32(24))).astype(np.uint8)


def from_fp8(b):
    b = np.asarray(b, np.uint8).astype(np.int32)
    e, m = (b >> 3) & 15, b & 7
    v = np.where(e == 0, (m / 8.0) * 2.0**-6, (1 + m / 8.0) * 2.0 ** (e - 7))
    return np.where(b & 128, -v, v).astype(F32)


def fp4_codes(wq, t):
    d = np.abs(rt(wq[..., None] - LUT, t))
    return np.argmin(d, axis=-1).astype(np.uint32)


def fp_quantize(w, mode, t, gscale=None):
    gs = 16 if mode == "nvfp4" else 32
    bits = 8 if mode == "mxfp8" else 4
    maxval = F32(6.0 if bits == 4 else 448.0)
    w32 = rt(w, t).reshape(-1, gs)
    s = rt(np.abs(w32).max(1) / maxval, t)
    if gs == 16:
        enc = F32(448.0 * 6.0) / F32(gscale) if gscale is not None else F32(1.0)
        sb = to_fp8((s * enc).astype(F32))
        dq = rt(from_fp8(sb), t)
        with np.errstate(invalid="ignore", divide="ignore"):
            wq = (rt(w32 / dq[:, None], t) * enc).astype(F32)
        dist_t = "float32"
    else:
        with np.errstate(divide="ignore"):
            l2 = rt(np.log2(np.where(s == 0, F32(1), s)), t)
        e = np.where(s == 0, F32(0), np.rint(l2)).astype(F32)
        p2 = rt(np.exp2(e), t)
        wq = rt(w32 / p2[:, None], t)
        sb = rt(e + F32(127), t).astype(np.int32).astype(np.uint8)
        dist_t = t
    if bits == 4:
        codes = fp4_codes(wq, dist_t)
        packed = pack_bits(codes.reshape(w.shape), 4)
    else:
        packed = np.ascontiguousarray(to_fp8(wq).reshape(w.shape)).view("<u4")
    return packed, sb.reshape(w.shape[:-1] + (w.shape[-1] // gs,))


def affine_dequant(packed, s, b, gs, bits, st, ot):
    K = packed.shape[-1] * 32 // bits
    q = unpack_bits(packed, bits, K).astype(F32)
    sx = np.repeat(s, gs, axis=-1)
    bx = np.repeat(b, gs, axis=-1)
    return rt(rt(rt(q * sx, st) + bx, st), ot)


def fp_dequant(packed, sb, mode, ot, gscale=None):
    gs = 16 if mode == "nvfp4" else 32
    bits = 8 if mode == "mxfp8" else 4
    K = packed.shape[-1] * 32 // bits
    if bits == 4:
        e = LUT[unpack_bits(packed, 4, K)]
    else:
        e = rt(from_fp8(np.ascontiguousarray(packed).view(np.uint8).reshape(packed.shape[:-1] + (K,))), ot)
    if gs == 16:
        s = rt(from_fp8(sb), ot)
        prod_t = ot
        if gscale is not None:
            s = (s * (F32(gscale) / F32(448.0 * 6.0))).astype(F32)
            prod_t = "float32"
        return rt(rt(e * np.repeat(s, gs, axis=-1), prod_t), ot)
    s = rt(np.exp2(rt(sb.astype(F32), ot) - F32(127)), ot)
    return rt(e * np.repeat(s, gs, axis=-1), ot)


def rand_w(shape, t, kind="normal"):
    if kind == "normal":
        w = rng.standard_normal(shape).astype(F32)
    elif kind == "edge":
        w = rng.standard_normal(shape).astype(F32)
        g = w.reshape(-1, 32)
        n = g.shape[0]
        g[0::5] = 0.0                          # all-zero groups
        g[1::5] = F32(0.75)                    # constant positive groups
        g[2::5] = F32(-2.5)                    # constant negative groups
        g[3::5, 0] = F32(-40.0)                # one negative extreme
        g[4::5, 3] = F32(1e-3)
        w = g.reshape(shape)
        del n
    else:
        w = (rng.standard_normal(shape) * 10.0 ** rng.integers(-3, 3, shape)).astype(F32)
    return rt(w, t)


cid = [0]


def save(arrays, out, op, rtol, atol, **kv):
    i = "c%d" % cid[0]
    cid[0] += 1
    extra = []
    for k, (a, t) in enumerate(arrays):
        np.save(os.path.join(OUT, "%s.in%d.npy" % (i, k)), a)
        if t == "bfloat16":
            extra.append("dtype%d=bfloat16" % k)
    oa, ot = out
    np.save(os.path.join(OUT, "%s.out.npy" % i), oa)
    if ot == "bfloat16":
        extra.append("out_dtype=bfloat16")
    extra += ["%s=%s" % (k, v) for k, v in kv.items()]
    # float(): under NumPy 2 the repr of an np.float64 is "np.float64(...)",
    # which the C reader would parse as 0.
    lines.append("%s %s %d %r %r %s"
                 % (i, op, len(arrays), float(rtol), float(atol), " ".join(extra)))


HALF_RTOL = {"float32": 0.0, "float16": 2.0**-10, "bfloat16": 2.0**-7}
HALF_U = {"float32": 0.0, "float16": 2.0**-11, "bfloat16": 2.0**-8}  # unit roundoff
DT = ["float32", "float16", "bfloat16"]

# ---- quantize / dequantize, affine: every bits x group size ----
for bits in [2, 3, 4, 5, 6, 8]:
    for gs in [32, 64, 128]:
        for t in DT:
            kind = ["normal", "edge", "wide"][(bits + gs // 32) % 3]
            shape = (3, 2 * gs) if gs < 128 else (2, 1, 128)
            w = rand_w(shape, t, kind)
            pw, s, b = affine_quantize(w, gs, bits, t)
            kv = dict(gs=gs, bits=bits, mode="affine")
            win = (stored(w, t), t)
            save([win], (pw, "uint32"), "quantize_w", 0, 0, **kv)
            save([win], (stored(s, t), t), "quantize_s", 0, 0, **kv)
            save([win], (stored(b, t), t), "quantize_b", 0, 0, **kv)
            ot = DT[(bits + gs) % 3]
            dq = affine_dequant(pw, s, b, gs, bits, t, ot)
            save([(pw, "uint32"), (stored(s, t), t), (stored(b, t), t)], (stored(dq, ot), ot),
                 "dequantize", 0, 0, dtype=ot, **kv)

# edge groups in every bit width (group 32, f32)
for bits in [2, 3, 4, 5, 6, 8]:
    w = rand_w((5, 64), "float32", "edge")
    pw, s, b = affine_quantize(w, 32, bits, "float32")
    kv = dict(gs=32, bits=bits, mode="affine")
    save([(w, "float32")], (pw, "uint32"), "quantize_w", 0, 0, **kv)
    save([(w, "float32")], (s, "float32"), "quantize_s", 0, 0, **kv)
    save([(w, "float32")], (b, "float32"), "quantize_b", 0, 0, **kv)
    save([(pw, "uint32"), (s, "float32"), (b, "float32")], (affine_dequant(pw, s, b, 32, bits, "float32", "float32"), "float32"),
         "dequantize", 0, 0, **kv)

# strided input to quantize (transposed view)
w = rand_w((64, 6), "float32")
pw, s, b = affine_quantize(np.ascontiguousarray(w.T), 32, 4, "float32")
save([(w, "float32")], (pw, "uint32"), "quantize_w", 0, 0, gs=32, bits=4, mode="affine", view0="T")

# ---- fp modes ----
for mode in ["mxfp4", "nvfp4", "mxfp8"]:
    gs = 16 if mode == "nvfp4" else 32
    bits = 8 if mode == "mxfp8" else 4
    for t in DT:
        for kind in ["normal", "edge", "wide"]:
            for gscale in ([None, 3.7] if mode == "nvfp4" else [None]):
                w = rand_w((4, 64), t, kind)
                pw, sb = fp_quantize(w, mode, t, gscale)
                kv = dict(gs=gs, bits=bits, mode=mode)
                ins = [(stored(w, t), t)]
                if gscale is not None:
                    ins.append((np.array(gscale, F32), "float32"))
                save(ins, (pw, "uint32"), "quantize_w", 0, 0, **kv)
                save(ins, (sb, "uint8"), "quantize_s", 0, 0, **kv)
                for ot in ["float32", t]:
                    dq = fp_dequant(pw, sb, mode, ot, gscale)
                    dins = [(pw, "uint32"), (sb, "uint8")]
                    if gscale is not None:
                        dins.append((np.array(gscale, F32), "float32"))
                    save(dins, (stored(dq, ot), ot), "dequantize", 0, 0, dtype=ot, **kv)


# ---- quantized_matmul ----
def qmm_case(M, N, K, bits, gs, mode, t, transpose, batch=(), xview=None, op="qmm"):
    rows_w = N if transpose else K
    cols_w = K if transpose else N
    w = rand_w(batch + (rows_w, cols_w), t)
    if mode == "affine":
        pw, s, b = affine_quantize(w, gs, bits, t)
        W = affine_dequant(pw, s, b, gs, bits, "float32", "float32").astype(np.float64)
        # the kernel uses f32 q*s+b of the stored scales: recompute exactly
        q = unpack_bits(pw, bits, cols_w).astype(np.float64)
        W = q * np.repeat(s, gs, -1).astype(np.float64) + np.repeat(b, gs, -1).astype(np.float64)
        Wa = np.abs(q * np.repeat(s, gs, -1).astype(np.float64)) + np.abs(np.repeat(b, gs, -1).astype(np.float64))
        Wa = np.swapaxes(Wa, -1, -2) if transpose else Wa
        ins_q = [(pw, "uint32"), (stored(s, t), t), (stored(b, t), t)]
    else:
        Wa = None
        pw, sb = fp_quantize(w, mode, t)
        W = fp_dequant(pw, sb, mode, "float32").astype(np.float64)
        ins_q = [(pw, "uint32"), (sb, "uint8")]
    x = rt(rng.standard_normal(batch + (M, K)).astype(F32), t)
    Wt = np.swapaxes(W, -1, -2) if transpose else W  # (K, N)
    y = np.matmul(x.astype(np.float64), Wt)
    absy = np.matmul(np.abs(x).astype(np.float64), np.abs(Wt) if Wa is None else Wa)
    err = (2.0**-24 * (K + 8) + HALF_U[t]) * absy.max() if absy.size else 0.0
    xin = x
    kv = {}
    if xview == "T":
        xin = np.ascontiguousarray(np.swapaxes(x, -1, -2)) if x.ndim == 2 else None
        kv["view0"] = "T"
    save([(stored(xin, t), t)] + ins_q, (stored(rt(y.astype(F32), t), t), t), op,
         HALF_RTOL[t] * 1.01, err, gs=gs, bits=bits, mode=mode, transpose=int(transpose), **kv)


for bits in [2, 3, 4, 5, 6, 8]:
    for gs in [32, 64, 128]:
        t = DT[(bits + gs // 32) % 3]
        qmm_case(1 + (bits % 3) * 3, 33, 2 * gs, bits, gs, "affine", t, True)
for bits in [4, 8, 3]:
    qmm_case(1, 1000, 256, bits, 64, "affine", "float32", True)      # threads
    qmm_case(8, 40, 128, bits, 32, "affine", "float32", True)
    qmm_case(17, 35, 128, bits, 64, "affine", "float16", True)      # panel path
    qmm_case(3, 64, 96, bits, 32, "affine", "float32", False)       # x @ W
    qmm_case(20, 64, 64, bits, 64, "affine", "bfloat16", False)
qmm_case(2, 16, 64, 4, 32, "affine", "float32", True, batch=(2,))
qmm_case(5, 12, 64, 4, 32, "affine", "float32", True, xview="T")
for mode in ["mxfp4", "nvfp4", "mxfp8"]:
    for t in DT:
        qmm_case(3, 24, 64, 8 if mode == "mxfp8" else 4, 16 if mode == "nvfp4" else 32, mode, t, True)
    qmm_case(12, 32, 64, 8 if mode == "mxfp8" else 4, 16 if mode == "nvfp4" else 32, mode, "float32", False)


# ---- gather_qmm ----
def gather_case(E, M, N, K, bits, gs, t, L, sort, transpose=True):
    rows_w, cols_w = (N, K) if transpose else (K, N)
    w = rand_w((E, rows_w, cols_w), t)
    pw, s, b = affine_quantize(w, gs, bits, t)
    q = unpack_bits(pw, bits, cols_w).astype(np.float64)
    W = q * np.repeat(s, gs, -1).astype(np.float64) + np.repeat(b, gs, -1).astype(np.float64)
    B = 3
    x = rt(rng.standard_normal((B, M, K)).astype(F32), t)
    lhs = rng.integers(0, B, L).astype(np.uint32)
    rhs = rng.integers(0, E, L).astype(np.int32)
    if sort:
        rhs = np.sort(rhs)
    Wt = np.swapaxes(W, -1, -2) if transpose else W
    y = np.stack([x[lhs[i]].astype(np.float64) @ Wt[rhs[i]] for i in range(L)])
    Wa = np.abs(q * np.repeat(s, gs, -1).astype(np.float64)) + np.abs(np.repeat(b, gs, -1).astype(np.float64))
    Wa = np.swapaxes(Wa, -1, -2) if transpose else Wa
    absy = np.stack([np.abs(x[lhs[i]]).astype(np.float64) @ Wa[rhs[i]] for i in range(L)])
    err = (2.0**-24 * (K + 8) + HALF_U[t]) * absy.max()
    save([(stored(x, t), t), (pw, "uint32"), (stored(s, t), t), (stored(b, t), t), (lhs, "uint32"),
          (rhs, "int32")], (stored(rt(y.astype(F32), t), t), t), "gather_qmm",
         HALF_RTOL[t] * 1.01, err, gs=gs, bits=bits, mode="affine", transpose=int(transpose),
         sorted=int(sort))


gather_case(4, 1, 24, 64, 4, 32, "float32", 6, True)
gather_case(4, 2, 24, 64, 8, 64, "float16", 9, False)
gather_case(3, 1, 16, 64, 4, 64, "bfloat16", 40, False)   # > 8 rows per expert: panel
gather_case(3, 2, 32, 64, 3, 32, "float32", 5, True, transpose=False)

write_cases(OUT, lines)
