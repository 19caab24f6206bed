"""NumPy fixtures for mx_gguf_quantize (tests/test_gguf_quantize.c): float
weights -> GGUF Q8_0 / Q4_0 blocks, bit for bit as llama.cpp's
quantize_row_q8_0_ref / quantize_row_q4_0_ref (ggml/src/ggml-quants.c).

Usage: gen_gguf_quantize.py OUTDIR

The port keeps the reference's float32 arithmetic step by step (every
intermediate is a float32 array op, which NumPy rounds once, as C does
without contraction): amax, d = amax / 127 (Q8_0) or d = max / -8 (Q4_0,
max the signed value of largest magnitude, first one on ties), id = 1/d,
x * id, then
- Q8_0: roundf (half away from zero; computed in float64 where adding 0.5
  is exact, because float32 x + 0.5 can round up across an integer);
- Q4_0: (x * id + 8.5f) in float32, truncated toward zero, min 15;
and the scale stored as float16 rounded to nearest even.

Cases ("gguf_quantize", type=<ggml id>): exact uint8 output (rtol = atol =
0). "gguf_roundtrip": dequantize(quantize(w)) in float32, compared exactly
too: each value is (int q) * (f16 scale) which float32 represents exactly.
Inputs: float32, float16, bfloat16 (the op converts to float32 first, as
llama.cpp's converter does), shapes with 1, 7, 33 and 300 rows (the last
crosses the threading grain), 1-D and 3-D, strided views, and hand-made
blocks: all zeros, ties in |max|, values on rounding boundaries.
"""

import numpy as np

from fixtures import apply_view, bf16_bits, bf16_to_f32_c, out_dir, save_npy, stored_shape
from fixtures import write_cases

OUT = out_dir()
rng = np.random.default_rng(5150)
lines = []
F = np.float32
TYPES = {"q8_0": 8, "q4_0": 2}


def f16_bytes(d):
    return np.asarray(d, np.float32).astype(np.float16).reshape(-1, 1).view(np.uint8)


def quant_q8_0(x):
    """x (rows, cols) float32 -> (rows, cols/32*34) uint8."""
    rows, cols = x.shape
    b = x.reshape(-1, 32)
    amax = np.max(np.abs(b), axis=1)
    d = (amax / F(127)).astype(F)
    with np.errstate(divide="ignore"):
        idv = np.where(d != 0, F(1) / d, F(0)).astype(F)
    v = (b * idv[:, None]).astype(F).astype(np.float64)
    q = (np.sign(v) * np.floor(np.abs(v) + 0.5)).astype(np.int8)
    out = np.concatenate([f16_bytes(d), q.view(np.uint8)], axis=1)
    return out.reshape(rows, cols // 32 * 34)


def quant_q4_0(x):
    rows, cols = x.shape
    b = x.reshape(-1, 32)
    i = np.argmax(np.abs(b), axis=1)
    mx = b[np.arange(b.shape[0]), i]
    d = (mx / F(-8)).astype(F)
    with np.errstate(divide="ignore"):
        idv = np.where(d != 0, F(1) / d, F(0)).astype(F)
    v = ((b * idv[:, None]).astype(F) + F(8.5)).astype(F)
    q = np.minimum(15, np.trunc(v).astype(np.int64)).astype(np.uint8)
    qs = (q[:, :16] | (q[:, 16:] << 4)).astype(np.uint8)
    out = np.concatenate([f16_bytes(d), qs], axis=1)
    return out.reshape(rows, cols // 32 * 18)


def dequant(t, blocks, cols):
    rows = blocks.shape[0]
    nb = 34 if t == "q8_0" else 18
    bl = blocks.reshape(-1, nb)
    d = bl[:, :2].copy().view(np.float16).astype(F)
    if t == "q8_0":
        q = bl[:, 2:].view(np.int8).astype(F)
    else:
        qs = bl[:, 2:]
        q = np.concatenate([qs & 15, qs >> 4], axis=1).astype(F) - F(8)
    return (q * d).astype(F).reshape(rows, cols)


QUANT = {"q8_0": quant_q8_0, "q4_0": quant_q4_0}
n = 0


def add(w32, t, dtype="float32", view=None, op="gguf_quantize"):
    """w32: the float32 values the op will see (already rounded to dtype) in
    the viewed layout."""
    global n
    cid = "c%03d" % n
    n += 1
    shape = w32.shape
    st = stored_shape(shape, view)
    # Build the stored array so that apply_view(stored) == w32.
    stored = np.zeros(st, F)
    apply_view(stored, view)[...] = w32
    keys = ["type=%d" % TYPES[t]]
    if dtype == "bfloat16":
        save_npy(OUT, cid + ".in0.npy", bf16_bits(stored))
        keys.append("dtype0=bfloat16")
    else:
        save_npy(OUT, cid + ".in0.npy", stored.astype(dtype))
    if view:
        keys.append("view0=" + view)
    x2 = np.ascontiguousarray(w32).reshape(-1, shape[-1]) if shape else w32
    blocks = QUANT[t](x2)
    if op == "gguf_quantize":
        save_npy(OUT, cid + ".out.npy", blocks)
    else:
        save_npy(OUT, cid + ".out.npy", dequant(t, blocks, shape[-1]))
    lines.append("%s %s 1 0 0 %s" % (cid, op, " ".join(keys)))


def rounded(x, dtype):
    if dtype == "float16":
        return x.astype(np.float16).astype(F)
    if dtype == "bfloat16":
        return bf16_to_f32_c(bf16_bits(x))
    return x.astype(F)


for t in TYPES:
    for shape in [(1, 32), (7, 64), (33, 96), (300, 256), (96,), (2, 3, 64)]:
        for dtype in ["float32", "float16", "bfloat16"]:
            x = rounded((rng.standard_normal(shape) * 0.05).astype(F), dtype)
            add(x, t, dtype)
    # Strided views (the expected result is computed from the viewed values).
    x = (rng.standard_normal((64, 64)) * 0.1).astype(F)
    add(x, t, view="T")
    add(x, t, view="rev")
    add((rng.standard_normal((5, 64))).astype(F), t, view="step2")
    # Hand-made blocks: zeros, ties of |max| (first one wins in Q4_0), large
    # and tiny magnitudes (f16 scale subnormal / near overflow), and values
    # that sit on rounding boundaries after scaling (k + 0.5 multiples).
    special = np.zeros((6, 32), F)
    special[1, 3], special[1, 9] = 1.0, -1.0
    special[2, 5], special[2, 7] = -2.0, 2.0
    special[3] = np.linspace(-1, 1, 32, dtype=F) * F(3000.0)
    special[4] = rng.standard_normal(32).astype(F) * F(1e-6)
    special[5] = (np.arange(32, dtype=F) - F(15.5)) / F(15.5) * F(127.0)
    add(special, t)
    add(special, t, op="gguf_roundtrip")
    for shape in [(7, 64), (300, 256)]:
        add((rng.standard_normal(shape) * 0.05).astype(F), t, op="gguf_roundtrip")

write_cases(OUT, lines)
