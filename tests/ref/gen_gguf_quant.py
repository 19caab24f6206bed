"""NumPy fixtures for the GGUF block formats (tests/test_gguf_quant.c):
gguf_dequantize and gguf_matmul for Q4_0, Q4_1, Q8_0, Q4_K, Q5_K, Q6_K.

Usage: gen_gguf_quant.py OUTDIR

The reference is written from the block layouts (llama.cpp's ggml-common.h):
random blocks (random bytes for every quant and packed-scale byte, sane f16
super-scales) are stored as uint8 (rows, bytes per row), exactly what
mx_gguf_tensor returns; the dequantized values follow the format formulas
in float32, in the order the formulas are written (d*sc first, then times q,
then minus dmin*m).

Tolerances:
- dequantize, float32: the same f32 operations as the C reference; rtol 1e-6
  leaves room for a compiler contracting d*q - m into one fma (one rounding
  less), atol 1e-12 for values that cancel to ~0.
- dequantize, float16 / bfloat16: one rounding of a value that may differ in
  its last f32 bit, so possibly the neighbouring half: rtol 1e-3 (f16,
  2^-10) and 8e-3 (bf16, 2^-7).
- gguf_matmul: the expected value is the float64 product of x with the
  dequantized weights (the exact result), for every device. Implementations
  differ in what they round, and the tolerance is the sum of the bounds of
  what each may do (all as multiples of scale = max over outputs of
  sum |w x|):
  * f32 scaling / summation: atol 2e-6 * scale for the decode path (~ K/32
    block terms of relative error a few 2^-24 each), 1e-5 * scale for the
    prefill path (sgemm's f32 accumulation errs by ~ 2^-24 * sqrt(K), up to
    2^-24 * K relative to sum |w x|; K <= 2304 here).
  * fewer than 16 rows of x (decode): the CPU quantizes each block of 32
    activations to int8 (d = amax/127, q = round-half-away(x * 127/amax)) and
    multiplies in integers, as llama.cpp does; a GPU kernel may multiply the
    float activations instead. Round to nearest moves each x by at most d/2,
    so the CPU result is within sum over blocks of amax(x block)/254 *
    sum |w| of the exact one (the accuracy mlxc promises; the script
    asserts it on the emulated int8 result): atol += the max of that bound
    over the outputs. That is ~1% of scale for normal x, while a wrong
    scale, nibble or block order errs by O(scale): the script asserts
    atol <= 3% of scale so the check keeps its teeth.
  * half activations (f16 / bf16): a kernel may dequantize the weights into
    the activation dtype for a half GEMM, one rounding of each weight:
    atol += u * scale, u = 2^-11 (f16) / 2^-8 (bf16).
  * half outputs add one half rounding: rtol 2e-3 (f16), 1.6e-2 (bf16).
"""

import numpy as np

from fixtures import out_dir, save_npy_as_is, write_cases
from fixtures import bf16_bits as to_bf16_bits
from fixtures import bf16_to_f32_contig as bf16_to_f32

OUT = out_dir()
rng = np.random.default_rng(3031)
lines = []

FMT = {  # name: (ggml type id, values per block, bytes per block)
    "q4_0": (2, 32, 18), "q4_1": (3, 32, 20), "q8_0": (8, 32, 34),
    "q4_K": (12, 256, 144), "q5_K": (13, 256, 176), "q6_K": (14, 256, 210),
}


def f16_bytes(v):
    return np.asarray(v, np.float16).reshape(-1, 1).view(np.uint8).reshape(-1, 2)


def make_blocks(fmt, nblocks):
    """Random blocks, (nblocks, bytes) uint8."""
    _, _, nbytes = FMT[fmt]
    b = rng.integers(0, 256, size=(nblocks, nbytes), dtype=np.uint8)
    d = rng.uniform(0.002, 0.02, nblocks) * rng.choice([-1, 1], nblocks)
    if fmt in ("q4_0", "q8_0"):
        b[:, 0:2] = f16_bytes(d)
    elif fmt == "q4_1":
        b[:, 0:2] = f16_bytes(d)
        b[:, 2:4] = f16_bytes(rng.uniform(-0.1, 0.1, nblocks))
    elif fmt in ("q4_K", "q5_K"):
        b[:, 0:2] = f16_bytes(np.abs(d) * 0.05)
        b[:, 2:4] = f16_bytes(rng.uniform(0.0002, 0.002, nblocks))
    else:  # q6_K: d last
        b[:, 208:210] = f16_bytes(d * 0.05)
    return b


def half(b, off):
    return b[:, off:off + 2].copy().view(np.float16).reshape(-1).astype(np.float32)


def kq_scales(s):
    """6-bit scales and mins of the 8 sub-blocks from the 12 packed bytes."""
    s = s.astype(np.int32)
    sc = np.zeros((s.shape[0], 8), np.int32)
    mn = np.zeros((s.shape[0], 8), np.int32)
    for j in range(8):
        if j < 4:
            sc[:, j] = s[:, j] & 63
            mn[:, j] = s[:, j + 4] & 63
        else:
            sc[:, j] = (s[:, j + 4] & 15) | ((s[:, j - 4] >> 6) << 4)
            mn[:, j] = (s[:, j + 4] >> 4) | ((s[:, j] >> 6) << 4)
    return sc, mn


def dequant(fmt, b):
    """(nblocks, bytes) -> (nblocks, values) float32, the format formulas."""
    f32 = np.float32
    if fmt in ("q4_0", "q4_1"):
        qs = b[:, -16:].astype(np.int32)
        q = np.concatenate([qs & 15, qs >> 4], axis=1).astype(f32)
        d = half(b, 0)[:, None]
        if fmt == "q4_0":
            return d * (q - f32(8))
        return d * q + half(b, 2)[:, None]
    if fmt == "q8_0":
        return half(b, 0)[:, None] * b[:, 2:].view(np.int8).astype(f32)
    if fmt in ("q4_K", "q5_K"):
        d, dmin = half(b, 0), half(b, 2)
        sc, mn = kq_scales(b[:, 4:16])
        qs = b[:, 48:] if fmt == "q5_K" else b[:, 16:]
        qs = qs.astype(np.int32)
        y = np.zeros((b.shape[0], 256), f32)
        for j in range(8):
            q = (qs[:, 32 * (j // 2):32 * (j // 2) + 32] >> (4 * (j % 2))) & 15
            if fmt == "q5_K":
                q = q | (((b[:, 16:48].astype(np.int32) >> j) & 1) << 4)
            dj = (d * sc[:, j].astype(f32))[:, None]
            mj = (dmin * mn[:, j].astype(f32))[:, None]
            y[:, 32 * j:32 * j + 32] = dj * q.astype(f32) - mj
        return y
    # q6_K
    ql, qh = b[:, :128].astype(np.int32), b[:, 128:192].astype(np.int32)
    sc = b[:, 192:208].view(np.int8).astype(f32)
    d = half(b, 208)
    y = np.zeros((b.shape[0], 256), f32)
    for h in range(2):
        for k in range(4):
            L = ql[:, 64 * h + 32 * (k & 1):64 * h + 32 * (k & 1) + 32]
            L = L & 15 if k < 2 else L >> 4
            q = (L | (((qh[:, 32 * h:32 * h + 32] >> (2 * k)) & 3) << 4)) - 32
            for half16 in range(2):
                g = 8 * h + 2 * k + half16
                s = (d * sc[:, g])[:, None]
                lo = 128 * h + 32 * k + 16 * half16
                y[:, lo:lo + 16] = s * q[:, 16 * half16:16 * half16 + 16].astype(f32)
    return y


def weights(fmt, rows, cols):
    """Blocks (rows, bytes per row) and the dequantized (rows, cols) f32."""
    _, blk, nbytes = FMT[fmt]
    nb = cols // blk
    b = make_blocks(fmt, rows * nb)
    w = dequant(fmt, b) if rows * nb else np.zeros((0, blk), np.float32)
    return b.reshape(rows, nb * nbytes), w.reshape(rows, cols)


def quantize_x(x):
    """The kernel's activation quantization: q (int) and d per 32-block."""
    xb = x.reshape(-1, 32).astype(np.float32)
    amax = np.abs(xb).max(axis=1)
    d = (amax / np.float32(127)).astype(np.float32)
    with np.errstate(divide="ignore"):
        inv = np.where(amax > 0, np.float32(127) / amax, np.float32(0)).astype(np.float32)
    v = (xb * inv[:, None]).astype(np.float32).astype(np.float64)
    q = np.clip(np.sign(v) * np.floor(np.abs(v) + 0.5), -127, 127)
    return q.reshape(x.shape), np.repeat(d, 32).reshape(x.shape), np.repeat(amax, 32).reshape(x.shape)


def finish(y, dt):
    if dt == "bfloat16":
        return to_bf16_bits(y.astype(np.float32))
    return y.astype(dt)


HALF_RTOL = {"float32": 0.0, "float16": 2e-3, "bfloat16": 1.6e-2}
HALF_U = {"float32": 0.0, "float16": 2.0 ** -11, "bfloat16": 2.0 ** -8}  # unit roundoff
n_case = [0]


def new_id(op, fmt):
    n_case[0] += 1
    return f"{op}_{fmt}_{n_case[0]}"


def case_dequant(fmt, rows, cols, dt="float32", view=None):
    b, w = weights(fmt, rows, cols)
    cid = new_id("deq", fmt)
    keys = [f"type={FMT[fmt][0]}", f"cols={cols}", f"dtype={dt}"]
    if view == "T":
        save_npy_as_is(OUT, f"{cid}.in0.npy", np.ascontiguousarray(b.T))
        keys.append("view0=T")
    else:
        save_npy_as_is(OUT, f"{cid}.in0.npy", b)
    save_npy_as_is(OUT, f"{cid}.out.npy", finish(w, dt))
    if dt == "bfloat16":
        keys.append("out_dtype=bfloat16")
    rtol = {"float32": 1e-6, "float16": 1e-3, "bfloat16": 8e-3}[dt]
    lines.append(f"{cid} gguf_dequantize 1 {rtol} 1e-12 " + " ".join(keys))


def case_matmul(fmt, xshape, rows, dt="float32", view=None, wview=None):
    cols = xshape[-1]
    b, w = weights(fmt, rows, cols)
    x = rng.standard_normal(xshape).astype(np.float32)
    if dt == "float16":
        x = x.astype(np.float16).astype(np.float32)
    elif dt == "bfloat16":
        x = bf16_to_f32(to_bf16_bits(x)).reshape(xshape)
    cid = new_id("mm", fmt)
    keys = [f"type={FMT[fmt][0]}", f"cols={cols}"]
    # Stored form of x such that the runner's view gives back x.
    if view == "T":
        xs = np.ascontiguousarray(x.T)
    elif view == "step2":
        xs = np.zeros(xshape[:-1] + (2 * cols,), np.float32)
        xs[..., ::2] = x
    elif view == "rev":
        xs = np.ascontiguousarray(x[..., ::-1])
    else:
        xs = x
    if view:
        keys.append(f"view0={view}")
    if dt == "bfloat16":
        save_npy_as_is(OUT, f"{cid}.in0.npy", to_bf16_bits(xs))
        keys += ["dtype0=bfloat16", "out_dtype=bfloat16"]
    else:
        save_npy_as_is(OUT, f"{cid}.in0.npy", xs.astype(dt))
    if wview == "T":
        save_npy_as_is(OUT, f"{cid}.in1.npy", np.ascontiguousarray(b.T))
        keys.append("view1=T")
    else:
        save_npy_as_is(OUT, f"{cid}.in1.npy", b)
    M = int(np.prod(xshape[:-1]))
    x2 = x.reshape(M, cols).astype(np.float64)
    w64 = w.astype(np.float64)
    want = x2 @ w64.T
    terms = np.abs(x2) @ np.abs(w64).T
    scale = terms.max() if terms.size else 0.0
    atol = (2e-6 if M < 16 else 1e-5) * scale + HALF_U[dt] * scale
    if M < 16 and cols > 0:
        q, d, amax = quantize_x(x2.astype(np.float32))
        q8 = (q * d.astype(np.float64)) @ w64.T
        bound = (amax.astype(np.float64) / 254) @ np.abs(w64).T
        assert np.all(np.abs(q8 - want) <= bound * (1 + 1e-6) + 1e-12), fmt
        atol += bound.max()
    assert atol <= 0.03 * scale + 1e-30, (fmt, xshape, atol / scale)
    want = want.reshape(xshape[:-1] + (rows,))
    save_npy_as_is(OUT, f"{cid}.out.npy", finish(want, dt))
    rtol = max(1e-5, HALF_RTOL[dt])
    lines.append(f"{cid} gguf_matmul 2 {rtol} {atol + 1e-30:.6g} " + " ".join(keys))


for fmt in FMT:
    blk = FMT[fmt][1]
    # dequantize: one block, several, odd row counts, threading (> 32K values)
    case_dequant(fmt, 1, blk)
    case_dequant(fmt, 7, 3 * blk)
    case_dequant(fmt, 33, 2 * blk)
    case_dequant(fmt, 40, 1024 if blk == 256 else 864)
    case_dequant(fmt, 5, 2 * blk, view="T")
    case_dequant(fmt, 9, blk, "float16")
    case_dequant(fmt, 9, 2 * blk, "bfloat16")
    # matmul, decode path: M = 1 (1-D x), 3, 8, 11 (8 + 3); 1, 7, 65 rows
    case_matmul(fmt, (blk,), 1)
    case_matmul(fmt, (3 * blk,), 7)
    case_matmul(fmt, (3, 2 * blk), 65)
    case_matmul(fmt, (2, 4, blk), 33)
    case_matmul(fmt, (11, 2 * blk), 19)
    case_matmul(fmt, (5, 4 * blk), 130)  # > 32K weights: rows split over threads
    case_matmul(fmt, (2, blk), 9, view="rev")
    case_matmul(fmt, (3, 2 * blk), 9, view="step2")
    case_matmul(fmt, (3, blk), 9, view="T")
    case_matmul(fmt, (4, blk), 5, wview="T")
    case_matmul(fmt, (2, 2 * blk), 7, "float16")
    case_matmul(fmt, (3, blk), 7, "bfloat16")
    # prefill path (M >= 16)
    case_matmul(fmt, (16, blk), 9)
    case_matmul(fmt, (2, 17, 2 * blk), 40)
    case_matmul(fmt, (20, blk), 7, "float16")
    case_matmul(fmt, (18, blk), 5, "bfloat16", view="rev")
    # prefill tiles are split along K in chunks of 2048 columns and
    # accumulated: K = 2304 has a partial second chunk
    case_matmul(fmt, (16, 2304), 6)

write_cases(OUT, lines)
