"""NumPy fixtures for the scans (tests/test_scan.c).

Usage: gen_scan.py OUTDIR

Ops: cumsum cumprod cummax cummin logcumsumexp, with params
axis=<int>|none (the flattened array), reverse=0|1, inclusive=0|1.

Expected values follow MLX: cumsum of bool gives int32, every other result
keeps the input dtype; integers wrap (computed in int64/uint64 and cast);
an exclusive scan starts from the identity (0, 1, -inf / the type's
minimum for max, +inf / the type's maximum for min, -inf for logaddexp)
and shifts by one. Reversed scans are the flipped scans of the flipped
input.

How the expected values are computed, and the tolerances:
- integers and bools: exact.
- cumsum / cumprod of f32, f64: NumPy's accumulate adds in order in the
  input type, as the CPU kernel does; a GPU scan adds in another (parallel)
  order, so the tolerance is the summation error bound for ANY order: each
  prefix s_i computed by any binary tree of additions in precision u = eps/2
  is within (i-1) u sum_{j<=i} |x_j| of the exact value (Higham, Accuracy
  and Stability, 4.2), so the NumPy reference and the kernel differ by at
  most (n-1) eps sum|x| over the line: atol = (n-1) eps max_line sum|x|
  (finite x only: a line with inf/NaN gives inf/NaN from there on, compared
  as such), plus rtol one ulp as a margin. cumprod has no cancellation, so
  its bound is relative: any order of n-1 multiplications is within
  (n-1) u |p| of the exact product on each side, rtol = (n-1) eps + one ulp
  (atol the smallest normal, for products that underflow).
  f16 / bf16: the kernel carries f32 and rounds each output once, so the
  reference is the f32 scan of the exact inputs, rounded once: one ulp of
  f16 (2^-10) / bf16 (2^-7), plus the f32 bound above for the order.
  complex64: NumPy multiplies complex numbers by the textbook formula, C may
  fuse: rtol 1e-6 plus atol 1e-6 * the running magnitude, plus the bounds
  above (componentwise, each component of the error within its modulus;
  a complex product within (sqrt(5) + 1) u per multiplication, so 4 eps).
- cummax / cummin: values are moved, never computed: exact (NaN propagates
  as np.maximum / np.minimum do).
- logcumsumexp: np.logaddexp.accumulate in f64, rounded to the dtype; the
  kernel computes each step as max + log1p(exp(min - max)) in the dtype
  (f32 for halves), a few ulps per step that do not compound much: rtol
  2e-6 * sqrt(n) and atol 1e-6 for f32, one half-precision ulp on top for
  f16 / bf16, 1e-13 for f64. complex64 follows MLX's formula in complex128.
"""
import warnings

import numpy as np

from fixtures import ULP, apply_view, bf16_to_f32, out_dir, save_npy, write_cases
from fixtures import MLX_DTYPES as DTYPES
from fixtures import bf16_bits_canonical_nan as to_bf16_bits

warnings.simplefilter("ignore")
OUT = out_dir()
rng = np.random.default_rng(20240716)
lines = []
counter = [0]

FLOATS = ("float16", "float32", "float64", "bfloat16", "complex64")


def values(dtype, shape, kind="normal"):
    n = int(np.prod(shape)) if shape else 1
    if dtype == "bool":
        x = rng.integers(0, 2, n).astype(np.bool_)
        if kind == "near1":  # mostly True, so cumprod keeps going for a while
            x = rng.integers(0, 8, n) > 0
    elif dtype.startswith(("uint", "int")):
        info = np.iinfo(dtype)
        if kind == "full":
            x = rng.integers(info.min, info.max, n, dtype=dtype, endpoint=True)
        elif kind == "near1":
            lo = 1 if dtype.startswith("u") else -2
            x = rng.integers(lo, 3, n).astype(dtype)
        else:
            lo = 0 if dtype.startswith("u") else -50
            x = rng.integers(lo, 51, n).astype(dtype)
    elif dtype == "complex64":
        if kind == "near1":
            re, im = rng.uniform(0.8, 1.2, n), rng.uniform(-0.2, 0.2, n)
        else:
            re, im = np.round(rng.standard_normal(n), 2), np.round(rng.standard_normal(n) * 0.3, 2)
        x = (re + 1j * im).astype(np.complex64)
    else:
        f = rng.uniform(0.7, 1.3, n) if kind == "near1" else rng.standard_normal(n) * 2
        if kind == "special" and n >= 6:
            idx = rng.permutation(n)
            f[idx[0]] = np.nan
            f[idx[1]] = np.inf
            f[idx[2]] = -np.inf
            f[idx[3]] = -0.0
        x = to_bf16_bits(f) if dtype == "bfloat16" else f.astype(dtype)
    return x.reshape(shape)


def numeric(x, dt):
    return bf16_to_f32(x) if dt == "bfloat16" else x


def int_limits(dt):
    if dt == "bool":
        return 0, 1
    info = np.iinfo(dt)
    return int(info.min), int(info.max)


def scan_1axis(op, w, axis, dt):
    """Inclusive forward scan of the working array w along axis."""
    if op == "cumsum":
        return np.cumsum(w, axis=axis, dtype=w.dtype)
    if op == "cumprod":
        return np.cumprod(w, axis=axis, dtype=w.dtype)
    if op == "cummax":
        return np.maximum.accumulate(w, axis=axis)
    if op == "cummin":
        return np.minimum.accumulate(w, axis=axis)
    if op == "logcumsumexp":
        if dt == "complex64":
            return complex_lae_scan(w, axis)
        return np.logaddexp.accumulate(w, axis=axis)
    raise ValueError(op)


def complex_lae_scan(w, axis):
    """MLX's complex logaddexp step, in complex128, along axis."""
    w = np.moveaxis(w.astype(np.complex128), axis, 0).copy()

    def gt(a, b):
        return (a.real > b.real) | ((a.real == b.real) & (a.imag > b.imag))

    for i in range(1, w.shape[0]):
        a, b = w[i - 1], w[i]
        mx = np.where(gt(b, a), b, a)
        mn = np.where(gt(b, a), a, b)
        with np.errstate(all="ignore"):
            out = mx + np.log(1 + np.exp(mn - mx))
        w[i] = out
    return np.moveaxis(w, 0, axis)


def ref_scan(op, x, dt, axis, reverse, inclusive):
    if axis is None:
        x = x.reshape(-1)
        axis = 0
    out_dt = "int32" if (op == "cumsum" and dt == "bool") else dt
    v = numeric(x, dt)
    if dt in ("float16", "bfloat16", "float32"):
        w = v.astype(np.float32)
    elif dt == "float64":
        w = v.astype(np.float64)
    elif dt == "complex64":
        w = v.astype(np.complex64)
    elif dt == "uint64":
        w = v.astype(np.uint64)
    else:
        w = v.astype(np.int64)
    if op == "logcumsumexp" and dt in ("float16", "bfloat16", "float32"):
        w = w.astype(np.float64)  # the reference: exact steps, rounded at the end
    if x.ndim == 0:
        raise ValueError("0-d scans need axis=None")
    if reverse:
        w = np.flip(w, axis)
    y = scan_1axis(op, w, axis, dt)
    if not inclusive:
        n = y.shape[axis]
        if op == "cumsum":
            init = 0
        elif op == "cumprod":
            init = 1
        elif op in ("cummax", "cummin"):
            if dt in FLOATS:
                init = -np.inf if op == "cummax" else np.inf
            else:
                lo, hi = int_limits(dt)
                init = lo if op == "cummax" else hi
        else:
            init = -np.inf
        first = np.full_like(np.take(y, [0], axis=axis), init) if n else np.take(y, [], axis=axis)
        y = np.concatenate([first, np.take(y, range(0, max(n - 1, 0)), axis=axis)], axis=axis)
        y = np.take(y, range(n), axis=axis)
    if reverse:
        y = np.flip(y, axis)
    # round to the result dtype
    if out_dt == "bfloat16":
        out = to_bf16_bits(y.astype(np.float32))
    elif out_dt in ("bool",):
        out = y != 0
    elif out_dt.startswith(("int", "uint")) and out_dt != "uint64":
        out = y.astype(np.int64).astype(out_dt)
    else:
        out = y.astype(out_dt)
    # tolerances
    n = x.shape[axis] if x.ndim else 1
    if out_dt not in FLOATS or op in ("cummax", "cummin"):
        return out, out_dt, 0, 0
    if op == "logcumsumexp":
        if out_dt == "float64":
            return out, out_dt, 1e-13, 1e-13
        if out_dt == "complex64":
            return out, out_dt, 1e-5, 1e-5
        extra = ULP[out_dt] if out_dt in ("float16", "bfloat16") else 0
        return out, out_dt, 2e-6 * max(n, 1) ** 0.5 + extra, 1e-6
    # any-order summation / product bounds (module docstring)
    eps = 2.0 ** -52 if out_dt == "float64" else 2.0 ** -23  # the accumulation type's
    steps = max(n - 1, 0)
    a = np.abs(w)
    a = np.where(np.isfinite(a), a, 0)
    line_abs = float(np.max(np.sum(a, axis=axis))) if a.size else 0.0
    if out_dt == "complex64":
        mag = np.abs(y)
        mag = float(np.max(np.where(np.isfinite(mag), mag, 0))) if mag.size else 0.0
        order = steps * eps * line_abs if op == "cumsum" else 4 * steps * eps * mag
        return out, out_dt, 1e-6, 1e-6 * mag + order
    if op == "cumsum":
        return out, out_dt, ULP[out_dt], steps * eps * line_abs
    tiny = float(np.finfo(np.float64 if out_dt == "float64" else np.float32).tiny)
    return out, out_dt, ULP[out_dt] + steps * eps, tiny


def emit(op, base, dt, view, exp_, out_dt, rtol, atol, **params):
    cid = "s%04d" % counter[0]
    counter[0] += 1
    save_npy(OUT, cid + ".in0.npy", base)
    save_npy(OUT, cid + ".out.npy", exp_)
    keys = []
    if dt == "bfloat16":
        keys.append("dtype0=bfloat16")
    if view:
        keys.append("view0=" + view)
    if out_dt == "bfloat16":
        keys.append("out_dtype=bfloat16")
    keys += ["%s=%s" % kv for kv in params.items()]
    lines.append("%s %s 1 %.3g %.3g %s" % (cid, op, rtol, atol, " ".join(keys)))


def case(op, dt, shape, axis, reverse, inclusive, view=None, kind=None):
    if kind is None:
        kind = "near1" if op == "cumprod" else "normal"
    base = values(dt, shape, kind)
    x = apply_view(base, view)
    exp_, out_dt, rtol, atol = ref_scan(op, x, dt, axis, reverse, inclusive)
    emit(op, base, dt, view, exp_, out_dt, rtol, atol, axis="none" if axis is None else axis,
         reverse=int(reverse), inclusive=int(inclusive))


CONFIGS = [  # (shape, axis, view)
    ((), None, None),
    ((1,), 0, None),
    ((7,), 0, None),
    ((33,), None, "rev"),
    ((1031,), -1, None),
    ((3, 4, 5), 1, "T"),
    ((3, 4, 5), None, None),
    ((6, 40), 0, None),        # carried as a vector of 40 lines
    ((6, 40), 1, "step2"),
    ((0, 5), 0, None),         # empty
    ((0, 5), 1, None),
    ((5, 1, 6), 1, None),
]
COMBOS = [(False, True), (True, True), (False, False), (True, False)]

for op in ("cumsum", "cumprod", "cummax", "cummin", "logcumsumexp"):
    for dt in DTYPES:
        if op == "logcumsumexp" and dt not in FLOATS:
            continue
        for i, (shape, axis, view) in enumerate(CONFIGS):
            combos = COMBOS if i in (2, 5, 7) else [COMBOS[i % 4]]
            for rev, inc in combos:
                case(op, dt, shape, axis, rev, inc, view)

# wrap-around of integer sums and products
for dt in ("int8", "uint8", "int16", "int32", "uint32", "int64", "uint64"):
    case("cumsum", dt, (300,), 0, False, True, kind="full")
    case("cumprod", dt, (64,), 0, True, True, kind="full")

# NaN, inf, -0
for op in ("cumsum", "cummax", "cummin", "logcumsumexp", "cumprod"):
    for dt in ("float16", "float32", "float64", "bfloat16"):
        case(op, dt, (4, 9), 1, False, True, kind="special")
        case(op, dt, (9, 4), 0, True, False, kind="special")

# more lines than one 1024-wide block; long lines
for dt in ("float32", "int32"):
    case("cumsum", dt, (20, 1100), 0, False, True)
    case("cummax", dt, (20, 1100), 0, True, False)
    case("cumsum", dt, (3, 2500), 1, True, True)
x = np.float32([[-np.inf] * 8, [-np.inf, 0, -np.inf, 1, 1, 1, 1, 1], [-np.inf, np.inf, -np.inf, 0, 0, 0, 0, 0]])
for rev, inc in COMBOS:
    exp_, out_dt, rtol, atol = ref_scan("logcumsumexp", x, "float32", 1, rev, inc)
    emit("logcumsumexp", x, "float32", None, exp_, out_dt, rtol, atol, axis=1, reverse=int(rev),
         inclusive=int(inc))

write_cases(OUT, lines)
print("gen_scan: %d cases" % len(lines))
