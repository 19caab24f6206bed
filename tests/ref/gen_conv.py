"""NumPy fixtures for conv1d / conv2d / conv_transpose1d / conv_transpose2d
(tests/test_conv.c), MLX layout: input (N, [H,] W, C_in), weight
(C_out, [KH,] KW, C_in / groups).

Usage: gen_conv.py OUTDIR

The references are written here from the definitions, independently of
mlxc's im2col formulation:
- conv: out[n, oh, ow, o] = sum_{kh, kw, c} xpad[n, oh*s + kh*d, ow*s + kw*d,
  g*Cg + c] * w[o, kh, kw, c] with o in group g, evaluated tap by tap with
  strided slices of the zero-padded input.
- conv_transpose (scatter form): every input pixel i adds x[i] * w[k] to
  output position i*s + k*d - p, for each tap k; the output has length
  (L - 1)*s - 2p + d*(K - 1) + output_padding + 1. This is what MLX's
  definition (a stride-1 conv of the stride-dilated input with the flipped
  kernel and padding d*(K-1) - p / that + output_padding) computes.
Computed in float64 from the exact input values.

Tolerances (inputs ~N(0, 1), K = KH*KW*C_in/groups terms per output):
- float32 (sgemm over the im2col matrix): atol 8 * 2^-24 * K, rtol 1e-5,
  as for matmul (rounding error grows ~ u * K for unit-variance products).
- float16 / bfloat16: computed in f32 and rounded once, so got and want may
  differ by one half ulp step: rtol 2e-3 (f16) / 1.6e-2 (bf16) + the f32 atol.
- float64: rtol 1e-12, atol 1e-13 * K.
"""

import numpy as np

from fixtures import out_dir, save_npy, write_cases
from fixtures import bf16_bits as to_bf16_bits
from fixtures import bf16_to_f32_contig as bf16_to_f32

OUT = out_dir()
rng = np.random.default_rng(20240613)
lines = []
U32 = 2.0**-24


NPT = {"float32": np.float32, "float64": np.float64, "float16": np.float16}


def make(shape, dt):
    a = rng.standard_normal(shape).astype(np.float32)
    if dt == "bfloat16":
        bits = to_bf16_bits(a)
        return bits, bf16_to_f32(bits).reshape(shape).astype(np.float64)
    a = a.astype(NPT[dt])
    return a, a.astype(np.float64)


def finish(x, dt):
    if dt == "bfloat16":
        return to_bf16_bits(x.astype(np.float32))
    return x.astype(NPT[dt])


def tol(dt, K):
    acc = 8 * U32 * K
    return {"float32": (1e-5, acc), "float16": (2e-3, acc), "bfloat16": (1.6e-2, acc),
            "float64": (1e-12, 1e-13 * K)}[dt]


def conv_ref(x, w, stride, pad, dil, groups):
    """x (N, H, W, C), w (O, KH, KW, Cg); 2-d lists for stride/pad/dil."""
    N, H, W, C = x.shape
    O, KH, KW, Cg = w.shape
    G, Og = groups, O // groups
    xp = np.pad(x, ((0, 0), (pad[0], pad[0]), (pad[1], pad[1]), (0, 0)))
    OH = (H + 2 * pad[0] - dil[0] * (KH - 1) - 1) // stride[0] + 1
    OW = (W + 2 * pad[1] - dil[1] * (KW - 1) - 1) // stride[1] + 1
    out = np.zeros((N, OH, OW, G, Og))
    wg = w.reshape(G, Og, KH, KW, Cg)
    for kh in range(KH):
        for kw in range(KW):
            h0, w0 = kh * dil[0], kw * dil[1]
            sl = xp[:, h0:h0 + (OH - 1) * stride[0] + 1:stride[0],
                    w0:w0 + (OW - 1) * stride[1] + 1:stride[1], :]
            out += np.einsum("nhwgc,goc->nhwgo", sl.reshape(N, OH, OW, G, Cg), wg[:, :, kh, kw, :])
    return out.reshape(N, OH, OW, O)


def conv_t_ref(x, w, stride, pad, dil, opad, groups):
    N, H, W, C = x.shape
    O, KH, KW, Cg = w.shape
    G, Og = groups, O // groups
    OH = (H - 1) * stride[0] - 2 * pad[0] + dil[0] * (KH - 1) + opad[0] + 1
    OW = (W - 1) * stride[1] - 2 * pad[1] + dil[1] * (KW - 1) + opad[1] + 1
    BH = (H - 1) * stride[0] + dil[0] * (KH - 1) + 1 + opad[0] + pad[0]
    BW = (W - 1) * stride[1] + dil[1] * (KW - 1) + 1 + opad[1] + pad[1]
    big = np.zeros((N, BH, BW, G, Og))
    xg = x.reshape(N, H, W, G, Cg)
    wg = w.reshape(G, Og, KH, KW, Cg)
    for kh in range(KH):
        for kw in range(KW):
            y = np.einsum("nhwgc,goc->nhwgo", xg, wg[:, :, kh, kw, :])
            h0, w0 = kh * dil[0], kw * dil[1]
            big[:, h0:h0 + (H - 1) * stride[0] + 1:stride[0],
                w0:w0 + (W - 1) * stride[1] + 1:stride[1]] += y
    return big[:, pad[0]:pad[0] + OH, pad[1]:pad[1] + OW].reshape(N, OH, OW, O)


NEXT = [0]


def case(op, xs, ws, xdt, out, params, K, view0=None):
    cid = f"v{NEXT[0]:04d}_{op}"
    NEXT[0] += 1
    keys = []
    save_npy(OUT, f"{cid}.in0.npy", xs)
    save_npy(OUT, f"{cid}.in1.npy", ws)
    if xdt == "bfloat16":
        keys += ["dtype0=bfloat16", "dtype1=bfloat16", "out_dtype=bfloat16"]
    if view0:
        keys.append(f"view0={view0}")
    save_npy(OUT, f"{cid}.out.npy", finish(out, xdt))
    for k, v in params.items():
        keys.append(f"{k}={v}")
    r, a = tol(xdt, K)
    lines.append(f"{cid} {op} 2 {r:.3g} {a:.3g} " + " ".join(keys))


def pair(v):
    return ",".join(str(int(t)) for t in v)


def conv2d(N, H, W, C, O, KH, KW, s=(1, 1), p=(0, 0), d=(1, 1), g=1, dt="float32", view0=None):
    xshape = (N, H, W, C)
    if view0 == "T":
        xs, xv = make(xshape[::-1], dt)
        xv = xv.transpose(3, 2, 1, 0)
    else:
        xs, xv = make(xshape, dt)
    ws, wv = make((O, KH, KW, C // g), dt)
    out = conv_ref(xv, wv, s, p, d, g)
    case("conv2d", xs, ws, dt, out, {"stride": pair(s), "padding": pair(p), "dilation": pair(d),
                                     "groups": g}, KH * KW * C // g, view0)


def conv1d(N, L, C, O, K, s=1, p=0, d=1, g=1, dt="float32", view0=None):
    if view0 == "T":
        xs, xv = make((C, L, N), dt)
        xv = xv.transpose(2, 1, 0)
    else:
        xs, xv = make((N, L, C), dt)
    ws, wv = make((O, K, C // g), dt)
    out = conv_ref(xv[:, None], wv[:, None], (1, s), (0, p), (1, d), g)[:, 0]
    case("conv1d", xs, ws, dt, out, {"stride": s, "padding": p, "dilation": d, "groups": g},
         K * C // g, view0)


def convt2d(N, H, W, C, O, KH, KW, s=(1, 1), p=(0, 0), d=(1, 1), op=(0, 0), g=1, dt="float32"):
    xs, xv = make((N, H, W, C), dt)
    ws, wv = make((O, KH, KW, C // g), dt)
    out = conv_t_ref(xv, wv, s, p, d, op, g)
    case("conv_transpose2d", xs, ws, dt, out,
         {"stride": pair(s), "padding": pair(p), "dilation": pair(d), "output_padding": pair(op),
          "groups": g}, KH * KW * C // g)


def convt1d(N, L, C, O, K, s=1, p=0, d=1, op=0, g=1, dt="float32"):
    xs, xv = make((N, L, C), dt)
    ws, wv = make((O, K, C // g), dt)
    out = conv_t_ref(xv[:, None], wv[:, None], (1, s), (0, p), (1, d), (0, op), g)[:, 0]
    case("conv_transpose1d", xs, ws, dt, out,
         {"stride": s, "padding": p, "dilation": d, "output_padding": op, "groups": g}, K * C // g)


# conv1d: stride / padding / dilation / groups combinations
conv1d(2, 16, 3, 4, 3)
conv1d(2, 17, 4, 6, 3, s=2, p=1)
conv1d(1, 33, 6, 6, 5, s=3, p=2, d=2, g=3)
conv1d(3, 7, 8, 4, 1)                        # pointwise: input is the column matrix
conv1d(1, 9, 4, 8, 9, p=4, g=4)              # depthwise-ish, kernel = length
conv1d(2, 1000, 2, 3, 4, s=1, p=1, d=3)      # long: threaded im2col
conv1d(2, 16, 3, 5, 3, view0="T")            # strided input
for dt in ["float16", "bfloat16", "float64"]:
    conv1d(2, 17, 4, 6, 3, s=2, p=1, dt=dt)

# conv2d
conv2d(2, 8, 9, 3, 4, 3, 3)
conv2d(1, 9, 7, 4, 6, 3, 2, s=(2, 1), p=(1, 0))
conv2d(2, 11, 10, 6, 4, 3, 3, s=(2, 3), p=(2, 1), d=(2, 1), g=2)
conv2d(1, 7, 7, 4, 4, 3, 3, p=(1, 1), g=4)   # depthwise
conv2d(2, 5, 6, 8, 3, 1, 1)                  # pointwise 1x1
conv2d(1, 6, 6, 3, 2, 6, 6)                  # kernel covers the input
conv2d(1, 33, 33, 3, 8, 3, 3, s=(1, 1), p=(1, 1))
conv2d(2, 8, 9, 3, 4, 3, 3, p=(1, 1), view0="T")
for dt in ["float16", "bfloat16", "float64"]:
    conv2d(2, 9, 8, 4, 6, 3, 3, s=(2, 2), p=(1, 1), g=2, dt=dt)

# transposed
convt1d(2, 8, 3, 4, 3)
convt1d(2, 8, 4, 6, 3, s=2, p=1)
convt1d(1, 9, 4, 4, 4, s=3, p=2, d=2, op=1, g=2)
convt1d(2, 5, 2, 3, 5, s=2, p=0, op=1)
convt2d(2, 5, 6, 3, 4, 3, 3)
convt2d(1, 5, 4, 4, 6, 3, 2, s=(2, 2), p=(1, 0), op=(1, 1))
convt2d(2, 4, 4, 6, 4, 3, 3, s=(2, 3), p=(1, 2), d=(2, 1), op=(1, 0), g=2)
convt2d(1, 6, 6, 4, 4, 3, 3, p=(1, 1), g=4)
for dt in ["float16", "bfloat16", "float64"]:
    convt2d(2, 5, 4, 4, 6, 3, 3, s=(2, 2), p=(1, 1), op=(1, 0), g=2, dt=dt)
    convt1d(2, 8, 4, 6, 3, s=2, p=1, dt=dt)

write_cases(OUT, lines)
