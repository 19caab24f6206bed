"""NumPy fixtures for the unary elementwise ops (tests/test_unary.c).

Usage: gen_unary.py OUTDIR

Result dtypes follow MLX: math functions (sqrt, exp, log, trig, sigmoid,
erf, ...) turn bool and integer inputs into float32; abs of complex64 is
float32; the classification ops give bool. bfloat16 is stored as uint16
bits.

Reference values: every float op is evaluated in float64 (complex128 for
complex64) from the exact input values and rounded once to the result
dtype, so the reference is correctly rounded (to within float64's error)
and the tolerance only has to cover mlxc's own error:
- f32 transcendentals use glibc's float functions (<= 2 ulp, ~2.4e-7 of
  the value): rtol 1e-6, atol 1e-6 for results that cancel to ~0 around a
  root (sin near pi) or sit in the subnormal range;
- f64: rtol 1e-12 (glibc double functions are < 1 ulp, 2.2e-16);
- f16 results: rtol 1e-3, one f16 ulp (2^-10), since mlxc rounds its f32
  result and may land on the other side of a rounding boundary;
- bf16 results: rtol 8e-3, one bf16 ulp (2^-7);
- complex64: rtol 1e-5 atol 1e-5 (glibc's complex float functions are a
  few ulp in each part; a part near 0 needs the absolute term);
- exact ops (abs, negative, sign, square of ints, floor, ceil, round,
  classification, logical_not, bitwise_invert, real/imag/conjugate,
  nan_to_num, stop_gradient): 0, 0. square/reciprocal/sqrt in f32 are
  IEEE-exact operations too but keep the f32 tolerance (reciprocal of a
  half is computed in f32 then rounded again).
MLX-specific choices checked here: sign(NaN) = 0 (MLX's CPU select), the
integer abs/negative wrap, erfinv has no NumPy version and is checked
against float64 bisection on math.erf / math.erfc (independent of mlxc's
Newton iteration).
"""
import math
import os

import numpy as np

from fixtures import INT_DTYPES as INTS
from fixtures import NP_DTYPES, apply_view, bf16_bits_quiet_nan, out_dir, write_cases

OUT = out_dir()
rng = np.random.default_rng(20240613)
lines = []
counter = [0]

FLOATS = ["float16", "float32", "float64", "bfloat16"]
NP = dict(NP_DTYPES)
NP["bfloat16"] = np.dtype(np.float32)
NUMERIC = ["bool"] + INTS + FLOATS + ["complex64"]


def to_bf16_bits(x):
    """bf16 bits of x, NaN kept quiet, C-contiguous."""
    return bf16_bits_quiet_nan(x, order="C")


def bf16_round(x):
    # Not fixtures.bf16_round: for a 0-d input this returns a NumPy scalar
    # (the shift of a 0-d array is a scalar), fixtures' a 0-d array.
    b = to_bf16_bits(x)
    return (np.array(b, order="C").astype(np.uint32) << np.uint32(16)).view(np.float32).reshape(
        np.shape(x))


def rnd(x, d):
    """Round float64 (complex128) values once to MLX dtype d."""
    if d == "bfloat16":
        # f64 -> bf16 in one rounding: round to f32 with round-to-odd would be
        # exact; values here are far from ties, so f64 -> f32 -> bf16 is used.
        return bf16_round(np.asarray(x, np.float64).astype(np.float32))
    return np.asarray(x).astype(NP[d])


def stored(x, d):
    return to_bf16_bits(x) if d == "bfloat16" else np.array(x, order="C")


def emit(op, base, d, view, out, out_d, rtol_, atol_, **params):
    cid = "u%04d" % counter[0]
    counter[0] += 1
    keys = []
    np.save(os.path.join(OUT, "%s.in0.npy" % cid), stored(base, d))
    if d == "bfloat16":
        keys.append("dtype0=bfloat16")
    if view:
        keys.append("view0=%s" % view)
    np.save(os.path.join(OUT, "%s.out.npy" % cid), stored(np.asarray(out), out_d))
    if out_d == "bfloat16":
        keys.append("out_dtype=bfloat16")
    keys += ["%s=%s" % kv for kv in params.items()]
    lines.append(" ".join([cid, op, "1", repr(float(rtol_)), repr(float(atol_))] + keys))


# Input domains per op: (lo, hi) of uniform real values.
DOMAIN = {
    "sqrt": (0, 20), "rsqrt": (0.01, 20), "reciprocal": (0.1, 5), "log": (0.01, 50),
    "log2": (0.01, 50), "log10": (0.01, 50), "log1p": (-0.99, 20), "exp": (-10, 10),
    "expm1": (-10, 10), "sinh": (-8, 8), "cosh": (-8, 8), "arcsin": (-1, 1),
    "arccos": (-1, 1), "arctanh": (-0.99, 0.99), "arccosh": (1, 20), "erfinv": (-0.999, 0.999),
}


def rand(shape, d, op):
    shape = tuple(shape)
    if d == "bool":
        return rng.random(shape) > 0.5
    if d in INTS:
        info = np.iinfo(NP[d])
        lo, hi = DOMAIN.get(op, (-100, 100))
        lo, hi = max(info.min, int(math.ceil(lo))), min(info.max, int(math.floor(hi)) + 1)
        if op in ("abs", "negative", "sign", "square", "bitwise_invert", "floor", "ceil",
                  "round", "logical_not", "stop_gradient", "isnan", "isinf", "isfinite",
                  "isposinf", "isneginf", "real", "imag", "conjugate"):
            lo, hi = info.min, info.max  # full range: wrapping and identity ops
        return rng.integers(lo, hi, size=shape, dtype=NP[d], endpoint=True)
    lo, hi = DOMAIN.get(op, (-6, 6))
    if d == "complex64":
        v = rng.uniform(-1.5, 1.5, shape) + 1j * rng.uniform(-1.5, 1.5, shape)
        return v.astype(np.complex64)
    v = rng.uniform(lo, hi, shape)
    if d == "bfloat16":
        return bf16_round(v.astype(np.float32))
    return v.astype(NP[d])


def with_specials(x, d):
    if d not in FLOATS or x.size < 8:
        return x
    x = x.copy()
    f = x.reshape(-1)
    f[0], f[2], f[4], f[6] = np.nan, np.inf, -np.inf, 0.0
    f[7] = -0.0
    if d == "bfloat16":
        x = bf16_round(x)
    return x


SHAPES = [((), None), ((0,), None), ((1,), None), ((7,), None), ((33,), None),
          ((1037,), None), ((5, 7), "T"), ((3, 14), "step2"), ((5, 6), "rev"),
          ((2, 3, 4), None), ((0, 2, 3), None)]
SH = list(range(len(SHAPES)))


def erf64(x):
    return np.vectorize(math.erf, otypes=[np.float64])(x)


def erfinv_scalar(y):
    if math.isnan(y) or y < -1 or y > 1:
        return math.nan
    if y in (1.0, -1.0):
        return math.copysign(math.inf, y)
    if y == 0:
        return y
    t = abs(y)
    lo, hi = 0.0, 6.0
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        # erf(mid) < t, written with erfc near 1 where it keeps its precision
        below = math.erf(mid) < t if t <= 0.5 else math.erfc(mid) > 1.0 - t
        if below:
            lo = mid
        else:
            hi = mid
        if hi - lo <= 1e-17 * max(1.0, hi):
            break
    return math.copysign(0.5 * (lo + hi), y)


def erfinv64(x):
    return np.vectorize(erfinv_scalar, otypes=[np.float64])(x)


def sigmoid64(x):
    with np.errstate(all="ignore"):
        return 1.0 / (1.0 + np.exp(-x))


F64 = {  # float64 / complex128 reference implementations
    "sqrt": np.sqrt, "rsqrt": lambda x: 1.0 / np.sqrt(x), "reciprocal": lambda x: 1.0 / x,
    "exp": np.exp, "expm1": np.expm1, "log": np.log, "log1p": np.log1p, "log2": np.log2,
    "log10": np.log10, "sin": np.sin, "cos": np.cos, "tan": np.tan, "arcsin": np.arcsin,
    "arccos": np.arccos, "arctan": np.arctan, "sinh": np.sinh, "cosh": np.cosh,
    "tanh": np.tanh, "arcsinh": np.arcsinh, "arccosh": np.arccosh, "arctanh": np.arctanh,
    "sigmoid": sigmoid64, "erf": erf64, "erfinv": erfinv64,
    "degrees": np.degrees, "radians": np.radians,
}
NO_COMPLEX = {"expm1", "sigmoid", "erf", "erfinv"}
TOL = {"float16": (1e-3, 1e-3), "bfloat16": (8e-3, 8e-3), "float32": (1e-6, 1e-6),
       "float64": (1e-12, 1e-300), "complex64": (1e-5, 1e-5)}


def at_least_float(d):
    return d if d in FLOATS or d == "complex64" else "float32"


def as64(x, d):
    if d == "complex64":
        return x.astype(np.complex128)
    return np.asarray(x).astype(np.float64)


def math_cases(op):
    dtypes = ["bool", "int32", "uint8", "int64"] + FLOATS
    if op not in NO_COMPLEX:
        dtypes.append("complex64")
    for i, d in enumerate(dtypes):
        shapes = SH if d == "float32" else [SH[(i * 3 + 5) % len(SH)], SH[(i * 5 + 7) % len(SH)]]
        for s in shapes:
            shape, view = SHAPES[s]
            x = with_specials(rand(shape, d, op), d)
            od = at_least_float(d)
            if op not in ("degrees", "radians"):
                with np.errstate(all="ignore"):
                    ref = F64[op](as64(apply_view(x, view), d))
            else:
                # MLX multiplies by the constant rounded to the dtype, in the dtype.
                c = {"degrees": 180.0 / math.pi, "radians": math.pi / 180.0}[op]
                cx = rnd(np.array(c), od)
                with np.errstate(all="ignore"):
                    prod = as64(apply_view(x, view), d).astype(NP[od] if od != "bfloat16" else np.float32)
                    ref = prod.astype(np.complex128 if d == "complex64" else np.float64) * np.float64(np.real(cx))
            rtol, atol = TOL[od]
            emit(op, x, d, view, rnd(ref, od), od, rtol, atol)


for op in F64:
    math_cases(op)


def exact_case(op, d, s, fn, out_rule=lambda d: d, **params):
    shape, view = SHAPES[s]
    x = with_specials(rand(shape, d, op), d)
    v = apply_view(x, view)
    od = out_rule(d)
    with np.errstate(all="ignore"):
        res = fn(v, d)
    emit(op, x, d, view, rnd(res, od) if od in FLOATS else np.asarray(res).astype(NP[od]), od,
         0, 0, **params)


def sweep(op, dtypes, fn, out_rule=lambda d: d, **params):
    for i, d in enumerate(dtypes):
        shapes = SH if d in ("float32", "int32") else [SH[(i * 3 + 4) % len(SH)],
                                                        SH[(i * 7 + 9) % len(SH)]]
        for s in shapes:
            exact_case(op, d, s, fn, out_rule, **params)


def f64(v, d):
    return as64(v, d)


def sign_mlx(v, d):
    if d == "complex64":
        a = np.abs(v)
        return np.where(a == 0, 0, v / np.where(a == 0, 1, a))
    if d == "bool":
        return v
    r = np.sign(v)
    return np.where(np.isnan(r), 0, r) if d in FLOATS else r


sweep("abs", NUMERIC, lambda v, d: np.abs(v) if d != "complex64" else np.abs(v.astype(np.complex128)),
      out_rule=lambda d: "float32" if d == "complex64" else d)
sweep("negative", INTS + FLOATS + ["complex64"], lambda v, d: -v)
sweep("sign", NUMERIC, sign_mlx)
sweep("square", NUMERIC, lambda v, d: v & v if d == "bool" else
      (f64(v, d) * f64(v, d) if d in FLOATS else v * v))
sweep("floor", ["bool"] + INTS + FLOATS, lambda v, d: v if d not in FLOATS else np.floor(v))
sweep("ceil", ["bool"] + INTS + FLOATS, lambda v, d: v if d not in FLOATS else np.ceil(v))
sweep("round", ["bool"] + INTS + FLOATS + ["complex64"],
      lambda v, d: np.round(v) if d in FLOATS + ["complex64"] else v, decimals=0)
for op, fn in [("isnan", np.isnan), ("isinf", np.isinf), ("isfinite", np.isfinite),
               ("isposinf", None), ("isneginf", None)]:
    def cls(v, d, op=op, fn=fn):
        if d == "complex64":
            re, im = v.real, v.imag
            return {"isnan": np.isnan(re) | np.isnan(im), "isinf": np.isinf(re) | np.isinf(im),
                    "isfinite": np.isfinite(re) & np.isfinite(im),
                    "isposinf": (re == np.inf) & (im == 0),
                    "isneginf": (re == -np.inf) & (im == 0)}[op]
        if d not in FLOATS:
            return np.full(v.shape, op == "isfinite")
        return fn(v) if fn else (np.isposinf(v) if op == "isposinf" else np.isneginf(v))
    sweep(op, NUMERIC, cls, out_rule=lambda d: "bool")
sweep("logical_not", NUMERIC, lambda v, d: v == 0, out_rule=lambda d: "bool")
sweep("bitwise_invert", ["bool"] + INTS, lambda v, d: ~v)
sweep("real", NUMERIC, lambda v, d: v.real if d == "complex64" else v,
      out_rule=lambda d: "float32" if d == "complex64" else d)
sweep("imag", NUMERIC, lambda v, d: v.imag if d == "complex64" else np.zeros_like(v),
      out_rule=lambda d: "float32" if d == "complex64" else d)
sweep("conjugate", NUMERIC, lambda v, d: np.conjugate(v) if d == "complex64" else v)
sweep("stop_gradient", NUMERIC, lambda v, d: v)

# complex64 of the same specials in one part.
z = np.array([complex(np.nan, 1), complex(1, np.inf), complex(-np.inf, 0), complex(np.inf, 0),
              complex(2, 3), complex(0, 0)], np.complex64)
for op in ["isnan", "isinf", "isfinite", "isposinf", "isneginf"]:
    re, im = z.real, z.imag
    ref = {"isnan": np.isnan(re) | np.isnan(im), "isinf": np.isinf(re) | np.isinf(im),
           "isfinite": np.isfinite(re) & np.isfinite(im), "isposinf": (re == np.inf) & (im == 0),
           "isneginf": (re == -np.inf) & (im == 0)}[op]
    emit(op, z, "complex64", None, ref, "bool", 0, 0)

# round with decimals: NumPy scales, rounds half to even, unscales, each step
# rounded to the dtype (bf16 emulated the same way in f32).
def np_round(v, d, dec):
    if d == "bfloat16":
        f = 10.0 ** abs(dec)
        y = bf16_round(v * np.float32(f)) if dec > 0 else bf16_round(v / np.float32(f))
        y = np.rint(y)
        return bf16_round(y / np.float32(f)) if dec > 0 else bf16_round(y * np.float32(f))
    if d in INTS and dec >= 0:
        return v  # integers already have no decimals (NumPy; MLX would round-trip f32)
    if d in INTS:
        # MLX: through float32, then back to the integer dtype
        f = np.float32(10.0 ** -dec)
        return (np.rint(v.astype(np.float32) / f) * f).astype(NP[d])
    return np.round(v, dec)


for i, (d, dec) in enumerate([("float32", 2), ("float32", -1), ("float64", 3), ("float16", 1),
                              ("bfloat16", 1), ("float32", 5), ("int32", -2), ("int16", -1),
                              ("float64", -2), ("int32", 2)]):
    shape, view = SHAPES[[5, 3, 6, 7, 8, 9, 5, 3, 4, 3][i]]
    x = rand(shape, d, "round") * (1 if d in INTS else 37)
    if d in INTS:
        x = (x * 5).astype(NP[d])
    if d == "bfloat16":
        x = bf16_round(x)
    x = x.astype(NP[d]) if d in NP and d != "bfloat16" else x
    v = apply_view(x, view)
    ref = np_round(v, d, dec)
    rtol = {"float32": 1e-6, "float64": 1e-15, "float16": 1e-3, "bfloat16": 8e-3}.get(d, 0)
    emit("round", x, d, view, rnd(ref, d) if d in FLOATS else ref, d, rtol, 0, decimals=dec)
# exact halves round to even
h = np.array([0.5, 1.5, 2.5, -0.5, -2.5, 3.5, 1e8 + 0.5], np.float64)
emit("round", h, "float64", None, np.round(h), "float64", 0, 0, decimals=0)
h2 = np.array([0.125, 0.375, 2.675, -1.005, 0.25], np.float64)
emit("round", h2, "float64", None, np.round(h2, 2), "float64", 1e-15, 0, decimals=2)

# nan_to_num: defaults (dtype max) and explicit replacements.
for d in FLOATS:
    x = with_specials(rand((9,), d, "x"), d)
    mx = {"float16": 65504.0, "float32": float(np.finfo(np.float32).max),
          "float64": float(np.finfo(np.float64).max), "bfloat16": 3.3895313892515355e38}[d]
    ref = np.where(np.isnan(x), 0.0, np.where(x == np.inf, mx, np.where(x == -np.inf, -mx, x)))
    emit("nan_to_num", x, d, None, rnd(ref, d), d, 0, 0, nan=0.0)
    ref = np.where(np.isnan(x), 7.5, np.where(x == np.inf, 100.0, np.where(x == -np.inf, -3.0, x)))
    emit("nan_to_num", x, d, None, rnd(ref, d), d, 0, 0, nan=7.5, posinf=100.0, neginf=-3.0)
x = rand((5,), "int32", "x")
emit("nan_to_num", x, "int32", None, x, "int32", 0, 0, nan=1.0)

# Large runs: threads and any SIMD paths, f32 and halves.
N = 33001
for op, d in [("exp", "float32"), ("tanh", "float32"), ("sigmoid", "float32"),
              ("sqrt", "float32"), ("log", "float16"), ("abs", "bfloat16"),
              ("negative", "float32"), ("square", "float32"), ("rsqrt", "float32"),
              ("erf", "float32")]:
    x = with_specials(rand((N,), d, op), d)
    if op in ("abs", "negative", "square"):
        ref = {"abs": np.abs, "negative": np.negative,
               "square": lambda v: v.astype(np.float64) ** 2}[op](x.astype(np.float64))
        emit(op, x, d, None, rnd(ref, d), d, 0, 0)
    else:
        with np.errstate(all="ignore"):
            ref = F64[op](x.astype(np.float64))
        emit(op, x, d, None, rnd(ref, d), d, *TOL[d])

write_cases(OUT, lines)
print("gen_unary: %d cases" % len(lines))
