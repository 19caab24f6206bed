"""Reference fixtures for mlxc/random.h (tests/test_random.c).

Usage: gen_random.py OUTDIR

MLX is not installed here, so this is an independent NumPy re-implementation
of MLX's algorithms (mlx/random.cpp, mlx/backend/cpu/threefry.cpp, the
RandomBits kernel in mlx/backend/cpu/primitives.cpp):
- keys are uint32 (seed >> 32, seed & 0xffffffff);
- threefry-2x32 (20 rounds) in wrapping uint32 arithmetic;
- an N-word output takes word i and word half+odd+i from the hash of the
  counter pair (i, half+odd+i), i < half = N // 2, and for odd N word half from
  hash (half, 0); width-1/2 outputs are the leading bytes of that stream;
- uniform = range * min(float32(bits) / 2^32, below_one) + low, rounded to
  the dtype after each op, and the other samplers composed as MLX composes
  them (normal: sqrt(2) * erfinv(uniform(nextafter(-1, 0), 1)), ...).
The C test also checks values hard-coded in MLX's own tests, so this script
and the library cannot agree on a wrong layout.

Tolerances: bits, split, uniform, randint, bernoulli, categorical and
permutation are exact (rtol = atol = 0): they involve only integer ops,
float32 multiplies/adds and comparisons, which NumPy performs identically.
normal / truncated_normal / gumbel go through log (NumPy's float32 log vs
glibc's logf may differ by an ulp) and MLX's fused multiply-adds (emulated
here in float64, which can differ by an ulp after double rounding), so
float32 results get rtol 4e-6 (a few float32 ulps, 2^-23 ~ 1.2e-7 each,
amplified by erfinv's slope near +-1) with atol 1e-6; float16 / bfloat16
results may round to the neighbouring value when the float32 value sits near
a rounding boundary, so they get one ulp of the type (2^-10, 2^-7) relative.
"""
import functools

import numpy as np

from fixtures import bf16_bits_quiet_nan as to_bf16_bits
from fixtures import bf16_to_f32_c as bf16_to_f32
from fixtures import out_dir, save_npy_as_is, write_cases

OUT = out_dir()
lines = []
U32 = np.uint32
F32 = np.float32


def case(cid, op, inputs, out, params, rtol=0.0, atol=0.0, out_bf16=False, in_bf16=(), views=None):
    keys = []
    for k, a in enumerate(inputs):
        save_npy_as_is(OUT, f"{cid}.in{k}.npy", a)
        if k in in_bf16:
            keys.append(f"dtype{k}=bfloat16")
    if views:
        keys += [f"view{k}={v}" for k, v in views.items()]
    if out_bf16:
        keys.append("out_dtype=bfloat16")
    save_npy_as_is(OUT, f"{cid}.out.npy", out)
    keys += [f"{k}={v}" for k, v in params.items()]
    lines.append(f"{cid} {op} {len(inputs)} {rtol!r} {atol!r} " + " ".join(keys))


def shape_param(shape):
    return {"shape": ",".join(map(str, shape))} if len(shape) else {}


# ------------------------------------------------------------------ threefry
def threefry(k0, k1, c0, c1):
    with np.errstate(over="ignore"):
        return threefry_(k0, k1, c0, c1)


def threefry_(k0, k1, c0, c1):
    k0, k1 = U32(k0), U32(k1)
    ks = [k0, k1, U32(k0 ^ k1 ^ U32(0x1BD11BDA))]
    x0 = np.asarray(c0, U32) + ks[0]
    x1 = np.asarray(c1, U32) + ks[1]
    rot = [[13, 15, 26, 6], [17, 29, 16, 24]]
    for i in range(5):
        for r in rot[i % 2]:
            x0 = x0 + x1
            x1 = (x1 << U32(r)) | (x1 >> U32(32 - r))
            x1 = x1 ^ x0
        x0 = x0 + ks[(i + 1) % 3]
        x1 = x1 + ks[(i + 2) % 3] + U32(i + 1)
    return x0, x1


def key_of(seed):
    return (U32(seed >> 32), U32(seed & 0xFFFFFFFF))


def words(key, n):
    return words_cached(int(key[0]), int(key[1]), n).copy()


@functools.lru_cache(maxsize=None)
def words_cached(k0, k1, n):
    key = (U32(k0), U32(k1))
    half, odd = n // 2, n % 2
    w = np.zeros(n, U32)
    i = np.arange(half, dtype=np.uint64).astype(U32)
    f, s = threefry(key[0], key[1], i, i + U32(half + odd))
    w[:half] = f
    w[half + odd:] = s
    if odd:
        w[half] = threefry(key[0], key[1], U32(half), U32(0))[0]
    return w


def bits(key, shape, width=4):
    size = int(np.prod(shape, dtype=np.int64))
    nbytes = size * width
    w = words(key, (nbytes + 3) // 4)
    dt = {4: np.uint32, 2: np.uint16, 1: np.uint8}[width]
    return w.view(np.uint8)[:nbytes].view(dt).reshape(shape)


def split(key, num):
    return bits(key, (num, 2))


def rnd(x, d):
    """float32 values rounded to dtype d, returned as float32."""
    x = np.asarray(x, F32)
    if d == "float16":
        return x.astype(np.float16).astype(F32)
    if d == "bfloat16":
        return bf16_to_f32(to_bf16_bits(x))
    return x


def store(x, d):
    x = np.asarray(x, F32)
    if d == "float16":
        return x.astype(np.float16)
    if d == "bfloat16":
        return to_bf16_bits(x)
    return x


BELOW_ONE = {"float32": np.nextafter(F32(1), F32(0)), "float16": F32(np.float16(1) - np.float16(2**-11)),
             "bfloat16": bf16_to_f32(np.array(0x3F7F, np.uint16))[()]}
assert BELOW_ONE["float16"] == F32(0.99951171875)


def unit(w, upper):
    u = w.astype(F32) / F32(4294967296.0)
    return np.minimum(u, F32(upper))


def fmaf(a, b, c):
    return (np.asarray(a, np.float64) * np.asarray(b, np.float64) + np.asarray(c, np.float64)).astype(F32)


def erfinv(a):
    a = np.asarray(a, F32)
    t = np.log(fmaf(a, -a, F32(1)))
    lhs = [3.03697567e-10, 2.93243101e-8, 1.22150334e-6, 2.84108955e-5, 3.93552968e-4,
           3.02698812e-3, 4.83185798e-3, -2.64646143e-1, 8.40016484e-1]
    rhs = [5.43877832e-9, 1.43285448e-7, 1.22774793e-6, 1.12963626e-7, -5.61530760e-5,
           -1.47697632e-4, 2.31468678e-3, 1.15392581e-2, -2.32015476e-1, 8.86226892e-1]

    def poly(cs):
        p = np.full(t.shape, F32(cs[0]), F32)
        for c in cs[1:]:
            p = fmaf(p, t, F32(c))
        return p

    with np.errstate(invalid="ignore", over="ignore"):
        return a * np.where(np.abs(t) > F32(6.125), poly(lhs), poly(rhs))


def mlx_exp(x):
    x0 = np.asarray(x, F32)
    x = x0 * F32(1.442695)
    ip = np.floor(x + F32(0.5))
    fp = x - ip
    p = F32(1.535336188319500e-4)
    for c in [1.339887440266574e-3, 9.618437357674640e-3, 5.550332471162809e-2, 2.402264791363012e-1,
              6.931472028550421e-1, 1.0]:
        p = fmaf(p, fp, F32(c))
    e = ((ip.astype(np.int32) + 127) << 23).astype(U32).view(F32)
    r = e * p
    r = np.where(x0 > 88, F32(np.inf), r)
    r = np.where(x0 < -88, F32(0), r)
    return np.where(np.isnan(x0), x0, r).astype(F32)


def mlx_erf(v):
    v = np.asarray(v, F32)
    t = F32(1) / fmaf(F32(0.3275911), np.abs(v), F32(1))
    r = fmaf(F32(1.061405429), t, F32(-1.453152027))
    for c in [1.421413741, -0.284496736, 0.254829592]:
        r = fmaf(r, t, F32(c))
    e = -mlx_exp(-v * v)
    res = fmaf(e * t, r, F32(1))
    return np.where(v > 0, res, -res)


# ------------------------------------------------------------------ samplers
def uniform(key, shape, low, high, d):
    lo = rnd(F32(low), d)
    rng_ = rnd(rnd(F32(high), d) - lo, d)
    u = rnd(unit(bits(key, shape), BELOW_ONE[d]), d)
    return rnd(rnd(rng_ * u, d) + lo, d)


def normal(key, shape, d, loc=0.0, scale=1.0):
    lo = np.nextafter(F32(-1), F32(0))
    rg = F32(1) - lo
    if d == "complex64":
        w = bits(key, tuple(shape) + (2,))
        e = erfinv(rg * unit(w, BELOW_ONE["float32"]) + lo)
        if F32(scale) != 1:
            e = F32(scale) * e
        if F32(loc) != 0:
            e = e + np.array([F32(loc), F32(0)], F32)
        return (e[..., 0] + 1j * e[..., 1]).astype(np.complex64)
    w = bits(key, shape)
    e = erfinv(rg * unit(w, BELOW_ONE["float32"]) + lo)
    if d == "float64":
        s = np.float64(np.sqrt(2.0))
        if F32(scale) != 1:
            s = s * np.float64(F32(scale))
        out = s * e.astype(np.float64)
        if F32(loc) != 0:
            out = np.float64(F32(loc)) + out
        return out
    s = rnd(F32(np.sqrt(2.0)), d)
    if F32(scale) != 1:
        s = rnd(s * rnd(F32(scale), d), d)
    out = rnd(s * rnd(e, d), d)
    if F32(loc) != 0:
        out = rnd(rnd(F32(loc), d) + out, d)
    return out


def truncated_normal(key, shape, lower, upper, d):
    s2 = rnd(F32(np.sqrt(2.0)), d)
    lt, ut = rnd(F32(lower), d), rnd(F32(upper), d)
    a = rnd(mlx_erf(rnd(lt / s2, d)), d)
    b = rnd(mlx_erf(rnd(ut / s2, d)), d)
    rg = rnd(b - a, d)
    u = rnd(rnd(rg * rnd(unit(bits(key, shape), BELOW_ONE[d]), d), d) + a, d)
    out = rnd(s2 * rnd(erfinv(u), d), d)
    return np.maximum(np.minimum(ut, out), lt)


def gumbel(key, shape, d):
    u = rnd(unit(bits(key, shape), BELOW_ONE[d]), d)
    with np.errstate(divide="ignore"):
        return -rnd(np.log(-rnd(np.log(u), d)), d)


def randint(key, shape, low, high, d):
    lo, hi = F32(low), F32(high)
    u = (hi - lo) * unit(bits(key, shape), BELOW_ONE["float32"]) + lo
    f = np.floor(u)
    dt = np.dtype(d)
    if d == "bool":
        v = f != 0
        return np.maximum(np.minimum(v, (high - 1) != 0), low != 0)
    v = f.astype(np.float64).astype(np.int64).astype(dt) if d != "uint64" else f.astype(np.uint64)
    hi1 = np.array(high - 1, np.int64).astype(dt)
    lo_ = np.array(low, np.int64).astype(dt)
    return np.maximum(np.minimum(v, hi1), lo_).astype(dt)


def bernoulli(key, p, shape):
    upper = np.nextafter(F32(4294967296.0), F32(np.inf))
    w = bits(key, shape)
    if p.dtype == np.float64:
        return w.astype(np.float64) < p * np.float64(upper)
    return w.astype(F32) < p.astype(F32) * upper


def categorical(key, logits, axis, num_samples):
    x = logits.astype(np.float64 if logits.dtype == np.float64 else F32)
    ax = axis % x.ndim
    n = x.shape[ax]
    if num_samples > 0:
        x = x[..., None]
    shape = list(x.shape)
    del shape[ax]
    if num_samples > 0:
        shape[-1] = num_samples
    if n > 0 and x.size == n and len(shape) > 0:
        xf = x.reshape(n)
        m = np.max(xf)
        if np.isinf(m):
            w = (xf == m).astype(xf.dtype)
        else:
            w = mlx_exp((xf - m).astype(F32)).astype(xf.dtype)
        acc = np.add.accumulate(w)
        cdf = np.concatenate([np.zeros(1, xf.dtype), acc[:-1]])
        total = acc[-1]
        u = unit(bits(key, shape), BELOW_ONE["float32"])
        t = u.astype(xf.dtype) * total if xf.dtype == np.float64 else u * F32(total)
        return (np.searchsorted(cdf, t, side="right") - 1).astype(U32)
    offset = ax + len(shape) - x.ndim + 1
    gshape = shape[:offset] + [n] + shape[offset:]
    g = -np.log(-np.log(unit(bits(key, gshape), BELOW_ONE["float32"])))
    return np.argmax(g + x, axis=offset).astype(U32)


def permutation(key, n):
    return np.argsort(bits(key, (n,)), kind="stable").astype(U32)


# ------------------------------------------------------------------ cases
# The npy loader only accepts a 0 as the first dim (see gen_creation.py).
SHAPES = [(), (0,), (1,), (2,), (3, 1), (5,), (7,), (8,), (33,), (2, 3, 5), (1000,), (0, 4, 3)]
SEEDS = [0, 1, 7, 1 << 32, (5 << 32) + 123456789, 0xFFFFFFFFFFFFFFFF]
BIG = (70001,)  # > 32K words: the threaded path, odd

for si, seed in enumerate(SEEDS):
    key = key_of(seed)
    for shi, shape in enumerate(SHAPES + ([BIG] if si < 2 else [])):
        for width in (4, 2, 1):
            if 0 in shape and shape != (0,) and width != 4:
                continue
            case(f"bits_{si}_{shi}_{width}", "bits", [], bits(key, shape, width),
                 {"seed": seed, "width": width, **shape_param(shape)})
    for num in (0, 1, 2, 3, 10, 1001):
        case(f"split_{si}_{num}", "split", [], split(key, num), {"seed": seed, "num": num})


for si, seed in enumerate(SEEDS[:4]):
    key = key_of(seed)
    for shi, shape in enumerate(SHAPES + [(40001,)]):
        for d in ("float32", "float16", "bfloat16"):
            for li, (lo, hi) in enumerate([(0.0, 1.0), (-1.0, 5.0), (-0.1, 0.1), (3.0, 3.0), (2.0, -2.0)]):
                if (shi + li + si) % 3 and shi not in (0, 10):
                    continue
                if shape == (40001,) and (li or d != "float32"):
                    continue
                out = uniform(key, shape, lo, hi, d)
                case(f"uniform_{si}_{shi}_{d}_{li}", "uniform", [], store(out, d),
                     {"seed": seed, "low": repr(lo), "high": repr(hi), "dtype": d, **shape_param(shape)},
                     out_bf16=d == "bfloat16")

NTOL = {"float32": (4e-6, 1e-6), "float64": (4e-6, 1e-6), "complex64": (4e-6, 1e-6),
        "float16": (2.0 ** -10, 1e-6), "bfloat16": (2.0 ** -7, 1e-6)}
for si, seed in enumerate(SEEDS[:4]):
    key = key_of(seed)
    for shi, shape in enumerate(SHAPES + [(30000,)]):
        for d in ("float32", "float16", "bfloat16", "float64", "complex64"):
            for li, (loc, scale) in enumerate([(0.0, 1.0), (1.0, 2.0), (-3.5, 0.25)]):
                if (shi + li + si) % 3 and shi not in (0, 10):
                    continue
                if shape == (30000,) and (li or d not in ("float32", "float16")):
                    continue
                out = normal(key, shape, d, loc, scale)
                rt, at = NTOL[d]
                case(f"normal_{si}_{shi}_{d}_{li}", "normal", [], store(out, d) if d in ("float16", "bfloat16", "float32") else out,
                     {"seed": seed, "loc": repr(loc), "scale": repr(scale), "dtype": d, **shape_param(shape)},
                     rt, at * max(1.0, abs(loc)), out_bf16=d == "bfloat16")
        for d in ("float32", "float16", "bfloat16"):
            for bi, (lo, hi) in enumerate([(-2.0, 2.0), (0.0, 1.0), (-3.0, -1.0), (2.0, -2.0), (-0.5, 3.0)]):
                if (shi + bi) % 3 and shi not in (0, 10):
                    continue
                if shape == (30000,) and (bi or d != "float32"):
                    continue
                out = truncated_normal(key, shape, lo, hi, d)
                rt, at = NTOL[d]
                case(f"truncnormal_{si}_{shi}_{d}_{bi}", "truncated_normal", [], store(out, d),
                     {"seed": seed, "lower": repr(lo), "upper": repr(hi), "dtype": d, **shape_param(shape)},
                     rt, at, out_bf16=d == "bfloat16")
        for d in ("float32", "float16", "bfloat16"):
            if shi % 2 and shi != 10:
                continue
            if shape == (30000,) and (d != "float32" or si):
                continue
            out = gumbel(key, shape, d)
            rt, at = NTOL[d]
            case(f"gumbel_{si}_{shi}_{d}", "gumbel", [], store(out, d),
                 {"seed": seed, "dtype": d, **shape_param(shape)}, rt, at, out_bf16=d == "bfloat16")

RI = [(0, 10), (-5, 5), (3, 15), (10, -10), (0, 1), (0, 2), (2**24, 2**24 + 2), (-100, 100), (0, 256)]
for si, seed in enumerate(SEEDS[:4]):
    key = key_of(seed)
    for shi, shape in enumerate(SHAPES + [(50000,)]):
        for d in ("int32", "int64", "uint8", "int8", "uint32", "int16", "uint16", "uint64", "bool"):
            for ri, (lo, hi) in enumerate(RI):
                if (shi + ri + len(d)) % 4 and shi != 0:
                    continue
                if shape == (50000,) and (ri != 1 or d != "int32"):
                    continue
                if d.startswith("uint") and lo < 0:
                    continue
                if d in ("int8", "uint8", "bool") and max(abs(lo), abs(hi)) > 256:
                    continue
                if d == "int8" and hi > 128:
                    continue
                case(f"randint_{si}_{shi}_{d}_{ri}", "randint", [], randint(key, shape, lo, hi, d),
                     {"seed": seed, "low": lo, "high": hi, "dtype": d, **shape_param(shape)})
    key2 = key_of(2**40 + si)
    case(f"randint_big_{si}", "randint", [], randint(key2, (1000,), 2**40, 2**40 + 1024, "int64"),
         {"seed": 2**40 + si, "low": 2**40, "high": 2**40 + 1024, "dtype": "int64", "shape": "1000"})

rs = np.random.default_rng(7)
for si, seed in enumerate(SEEDS[:3]):
    key = key_of(seed)
    for pi, (pshape, shape) in enumerate([((), ()), ((), (5,)), ((3,), (4, 3)), ((1, 3), (4, 3)), ((2,), None),
                                          ((7, 33), None), ((1000,), None), ((4, 1), (2, 4, 6)), ((), (0,))]):
        for pd in ("float32", "float16", "float64", "bfloat16"):
            if (pi + len(pd)) % 2 and pi not in (0, 6):
                continue
            p = rs.uniform(-0.2, 1.2, pshape).astype(F32)
            if pi == 4:
                p = np.array([2.0, -2.0], F32)
            pv = {"float32": p, "float64": p.astype(np.float64), "float16": p.astype(np.float16),
                  "bfloat16": bf16_to_f32(to_bf16_bits(p))}[pd]
            stored = to_bf16_bits(pv) if pd == "bfloat16" else pv
            out_shape = pshape if shape is None else shape
            out = bernoulli(key, np.broadcast_to(pv, out_shape), out_shape)
            params = {"seed": seed}
            if shape is not None:
                params["shape"] = ",".join(map(str, shape)) if shape else "scalar"
            case(f"bernoulli_{si}_{pi}_{pd}", "bernoulli", [stored], out, params,
                 in_bf16=(0,) if pd == "bfloat16" else ())
# strided p
p = rs.uniform(0, 1, (6, 5)).astype(F32)
case("bernoulli_view_T", "bernoulli", [p], bernoulli(key_of(3), p.T, (5, 6)), {"seed": 3}, views={0: "T"})

for si, seed in enumerate(SEEDS[:3]):
    key = key_of(seed)
    for ci, (lshape, axis, ns) in enumerate([((20,), 0, 0), ((20,), 0, 7), ((20,), -1, 1), ((10, 20), -1, 0),
                                             ((10, 20), 0, 0), ((10, 20), 1, 7), ((10, 20), 0, 7), ((3, 4, 5), 1, 0),
                                             ((3, 4, 5), 1, 3), ((1, 6), 1, 0), ((1, 6), 1, 4), ((6, 1), 0, 5),
                                             ((2, 1000), 1, 0), ((1000,), 0, 2000), ((5, 3), 1, 4000)]):
        for ld in ("float32", "float64", "float16", "int32"):
            if (ci + len(ld)) % 3 and ld != "float32":
                continue
            if ci >= 12 and (ld != "float32" or si > 0):
                continue  # large cases once
            logits = (rs.standard_normal(lshape) * 2).astype(ld if ld != "int32" else F32)
            if ld == "int32":
                logits = (logits * 2).astype(np.int32)
            out = categorical(key, logits, axis, ns)
            case(f"categorical_{si}_{ci}_{ld}", "categorical", [logits], out,
                 {"seed": seed, "axis": axis, "num_samples": ns})
# inf logits (uniform over the maximal entries) and a strided input
lg = np.array([0.0, np.inf, 1.0, np.inf], F32)
case("categorical_inf", "categorical", [lg], categorical(key_of(0), lg, 0, 50), {"seed": 0, "axis": 0, "num_samples": 50})
lg = rs.standard_normal((6, 8)).astype(F32)
case("categorical_view_T", "categorical", [lg], categorical(key_of(9), lg.T, 1, 0), {"seed": 9, "axis": 1, "num_samples": 0},
     views={0: "T"})

for si, seed in enumerate(SEEDS):
    key = key_of(seed)
    for n in (0, 1, 2, 5, 16, 1000, 70001):
        if n == 70001 and si > 1:
            continue
        case(f"permutation_{si}_{n}", "permutation", [], permutation(key, n), {"seed": seed, "n": n})
    for ai, (shape, axis) in enumerate([((4, 4), 0), ((4, 4), 1), ((3, 5, 2), -2), ((7,), 0), ((1, 1), 0),
                                        ((0, 3), 1), ((6, 100), 0)]):
        a = rs.standard_normal(shape).astype(F32)
        perm = permutation(key, shape[axis])
        case(f"permutation_array_{si}_{ai}", "permutation_array", [a], np.take(a, perm, axis=axis),
             {"seed": seed, "axis": axis})
a = rs.standard_normal((5, 6)).astype(F32)
case("permutation_array_view", "permutation_array", [a], np.take(a.T, permutation(key_of(4), 6), axis=0),
     {"seed": 4, "axis": 0}, views={0: "T"})
ai = np.arange(24, dtype=np.int64).reshape(4, 6)
case("permutation_array_i64", "permutation_array", [ai], np.take(ai, permutation(key_of(5), 6), axis=1),
     {"seed": 5, "axis": 1})

write_cases(OUT, lines)
print(f"gen_random: {len(lines)} cases")
