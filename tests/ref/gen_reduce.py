"""NumPy fixtures for the reductions (tests/test_reduce.c).

Usage: gen_reduce.py OUTDIR

Ops: sum prod mean var std max min all any logsumexp median argmax argmin
softmax. Expected values follow MLX's rules (result dtypes, integer
wrap-around, no-op reductions) and are computed in float64 / complex128 /
int64 from the exact input values, then rounded once to the result dtype.

Params: axes=<i,j,...> | none (NULL: all axes) | empty (a non-NULL empty
list); keepdims=0|1; ddof=<int>; axis=<int>|none (argmax/argmin).

Tolerances (|got - want| <= atol + rtol*|want|), stated per result dtype:
- integers and bools: exact (the runner compares them exactly).
- max, min, argmax, argmin, median of odd counts: the result is one of the
  inputs, so exact (rtol = atol = 0); median of even counts rounds the mean
  of two values once: half an ulp of the result dtype.
- sum, mean: the kernel sums f32 in f32 lanes of at most 4096 elements and
  adds the lanes in f64, so its error is far below 2e-6 * sum|x| (about 32
  f32 ulps of the absolute sum); the result then rounds once, one ulp of the
  result dtype (f32 2^-23, f16 2^-10, bf16 2^-7). f64 sums: 1e-13 * sum|x|.
- prod: inputs near 1; accumulated in f64 (a rounding per factor, n * 2^-52
  for n factors), then rounded once: two result ulps on top.
- var/std: computed in f64 (two passes), rounded once: one result ulp, plus
  1e-12 * the f64 sum of squares for cancellation.
- logsumexp: the vector exp is within 2 ulp, the sum as above, the result is
  max + log(sum): rtol 1e-6 + atol 2e-6 for f32 (log(sum) near 0 has no
  relative accuracy); one ulp of f16/bf16 on top when the result is half.
- softmax: exp within 2 ulp, one division: rtol 2e-6 and atol 1e-7 for f32
  (values below 1e-7 carry no weight); one ulp of f16/bf16 results.
"""
import warnings

import numpy as np

from fixtures import ULP, apply_view, bf16_to_f32, out_dir, save_npy, write_cases
from fixtures import MLX_DTYPES as DTYPES
from fixtures import bf16_bits_canonical_nan as to_bf16_bits

warnings.simplefilter("ignore")
OUT = out_dir()
rng = np.random.default_rng(20240715)
lines = []
counter = [0]

FLOATS = ("float16", "float32", "float64", "bfloat16", "complex64")
SMALLEST = {"float16": 6e-8, "bfloat16": 1e-38, "float32": 1e-38, "float64": 1e-300,
            "complex64": 1e-38}


def values(dtype, shape, kind="normal"):
    """Stored values (bf16 as uint16 bits).
    kind: normal (floats N(0,1), ints small), full (ints over the whole
    range), near1 (for products), special (floats with NaN/inf/-0)."""
    n = int(np.prod(shape)) if shape else 1
    if dtype == "bool":
        x = rng.integers(0, 2, n).astype(np.bool_)
        if kind == "ones":
            x[:] = True
    elif dtype.startswith(("uint", "int")):
        info = np.iinfo(dtype)
        if kind == "full":
            x = rng.integers(info.min, info.max, n, dtype=dtype, endpoint=True)
        elif kind == "near1":
            lo = 0 if dtype.startswith("u") else -2
            x = rng.integers(lo, 3, n).astype(dtype)
        else:
            lo = 0 if dtype.startswith("u") else -50
            x = rng.integers(lo, 51, n).astype(dtype)
    elif dtype == "complex64":
        if kind == "near1":
            re = rng.uniform(0.6, 1.4, n)
            im = rng.uniform(-0.3, 0.3, n)
        else:
            re = np.round(rng.standard_normal(n), 2)
            im = np.round(rng.standard_normal(n), 2)
        x = (re + 1j * im).astype(np.complex64)
    else:
        if kind == "near1":
            f = rng.uniform(0.5, 1.5, n)
        else:
            f = rng.standard_normal(n) * 2
        if kind == "special" and n >= 6:
            idx = rng.permutation(n)
            f[idx[0]] = np.nan
            f[idx[1]] = np.inf
            f[idx[2]] = -np.inf
            f[idx[3]] = -0.0
        if dtype == "bfloat16":
            x = to_bf16_bits(f)
        else:
            x = f.astype(dtype)
    return x.reshape(shape)


def numeric(x, dtype):
    """The values the op sees, as a NumPy array NumPy can compute with."""
    return bf16_to_f32(x) if dtype == "bfloat16" else x


def at_least_float(dt):
    return dt if dt in FLOATS else "float32"


def sum_dtype(dt):
    if dt == "bool":
        return "int32"
    if dt in ("int8", "int16", "int32"):
        return "int32"
    if dt in ("uint8", "uint16", "uint32"):
        return "uint32"
    return dt


def hi(x, dt):
    """Exact wide copy: int64/uint64/float64/complex128."""
    v = numeric(x, dt)
    if dt == "complex64":
        return v.astype(np.complex128)
    if dt == "uint64":
        return v.astype(np.uint64)
    if dt == "bool" or dt.startswith(("uint", "int")):
        return v.astype(np.int64)
    return v.astype(np.float64)


def finish(y, out_dt):
    """Round a wide result to out_dt (bf16 -> bits)."""
    y = np.asarray(y)
    if out_dt == "bfloat16":
        return to_bf16_bits(y.astype(np.float64).astype(np.float32))
    if out_dt == "float16":
        # f64 -> f16 directly (one rounding), as the kernels do
        return y.astype(np.float16)
    if out_dt in ("int32", "uint32", "int8", "int16", "uint8", "uint16") and y.dtype.kind in "iu":
        return y.astype(np.int64).astype(out_dt) if y.dtype != np.uint64 else y.astype(out_dt)
    return y.astype(out_dt)


def npax(axes, ndim):
    if axes is None:
        return tuple(range(ndim))
    return tuple(a % ndim for a in axes) if ndim else ()


def emit(op, ins, in_dts, out, out_dt, rtol, atol, views=None, **params):
    cid = "c%04d" % counter[0]
    counter[0] += 1
    keys = []
    for k, (a, dt) in enumerate(zip(ins, in_dts)):
        save_npy(OUT, "%s.in%d.npy" % (cid, k), a)
        if dt == "bfloat16":
            keys.append("dtype%d=bfloat16" % k)
        if views and views[k]:
            keys.append("view%d=%s" % (k, views[k]))
    save_npy(OUT, "%s.out.npy" % cid, out)
    if out_dt == "bfloat16":
        keys.append("out_dtype=bfloat16")
    for k, v in params.items():
        keys.append("%s=%s" % (k, v))
    lines.append("%s %s %d %.3g %.3g %s" % (cid, op, len(ins), rtol, atol, " ".join(keys)))


def axes_str(axes):
    if axes is None:
        return "none"
    if len(axes) == 0:
        return "empty"
    return ",".join(str(a) for a in axes)


# ---------------------------------------------------------------- references
def scale_of(w, ax, keepdims):
    """Largest sum of |finite x| over the outputs: the scale of sum errors."""
    a = np.abs(w)
    a = np.where(np.isfinite(a), a, 0)
    s = np.sum(a, axis=ax, keepdims=keepdims)
    return float(np.max(s)) if np.size(s) else 0.0


def ref_reduce(op, x, dt, axes, keepdims, ddof=0):
    """Returns (expected, out dtype, rtol, atol). x is the viewed input."""
    nd = x.ndim
    ax = npax(axes, nd)
    empty_list = axes is not None and len(axes) == 0
    if nd == 0 and axes is None:
        empty_list = True
    w = hi(x, dt)
    if op in ("sum", "prod", "max", "min") and empty_list:
        return x.copy(), dt, 0, 0
    if op in ("sum", "prod"):
        out_dt = sum_dtype(dt)
        if op == "sum":
            y = np.sum(w, axis=ax, keepdims=keepdims)
        else:
            y = np.prod(w, axis=ax, keepdims=keepdims)
        if out_dt in FLOATS:
            n = int(np.prod([x.shape[a] for a in ax])) if ax else 1
            if op == "sum":
                rtol = ULP[out_dt]
                atol = (1e-13 if dt == "float64" else 2e-6) * scale_of(w, ax, keepdims) + SMALLEST[out_dt]
            else:  # f64 products round once per factor
                rtol = 2 * ULP[out_dt] + n * 2.0 ** -52
                atol = SMALLEST[out_dt]
            return finish(y, out_dt), out_dt, rtol, atol
        return finish(y, out_dt), out_dt, 0, 0
    if op in ("max", "min"):
        v = numeric(x, dt)
        y = np.max(v, axis=ax, keepdims=keepdims) if op == "max" else np.min(v, axis=ax, keepdims=keepdims)
        return finish(y, dt) if dt == "bfloat16" else y.astype(dt), dt, 0, 0
    if op in ("all", "any"):
        v = numeric(x, dt)
        if empty_list:
            return (v != 0), "bool", 0, 0
        y = np.all(v != 0, axis=ax, keepdims=keepdims) if op == "all" else np.any(v != 0, axis=ax, keepdims=keepdims)
        return y, "bool", 0, 0
    if op == "mean":
        out_dt = at_least_float(dt)
        n = int(np.prod([x.shape[a] for a in ax])) if ax else 1
        if dt == "bool" or dt.startswith(("uint", "int")):
            s = np.sum(w, axis=ax, keepdims=keepdims)
            s = finish(s, sum_dtype(dt)).astype(np.float64)  # MLX sums wrap first
        else:
            s = np.sum(w, axis=ax, keepdims=keepdims)
        with np.errstate(all="ignore"):
            y = s * (1.0 / n) if n else s * np.inf
        smax = scale_of(w, ax, keepdims) / max(n, 1)
        atol = (1e-13 if dt == "float64" else 2e-6) * smax + SMALLEST[out_dt]
        return finish(y, out_dt), out_dt, ULP[out_dt], atol
    if op in ("var", "std"):
        out_dt = "float32" if dt == "complex64" else at_least_float(dt)
        n = int(np.prod([x.shape[a] for a in ax])) if ax else 1
        with np.errstate(all="ignore"):
            mu = np.mean(w, axis=ax, keepdims=True) if ax else w
            d = w - mu
            ss = np.sum((d * np.conj(d)).real if dt == "complex64" else d * d, axis=ax, keepdims=keepdims)
            if ddof != 0:
                y = ss / max(n - ddof, 0)
            else:
                y = ss * (1.0 / n) if n else ss * np.inf
            if op == "std":
                y = np.sqrt(y)
        smax = scale_of(np.abs(w) ** 2, ax, keepdims) / max(n - abs(ddof), 1)
        atol = 1e-12 * (smax ** 0.5 if op == "std" else smax) + SMALLEST[out_dt]
        return finish(y, out_dt), out_dt, 2 * ULP[out_dt], atol
    if op == "logsumexp":
        out_dt = at_least_float(dt)
        xv = w.astype(np.float64)
        if empty_list:
            return finish(xv, out_dt), out_dt, 0, 0
        m = np.max(xv, axis=ax, keepdims=True)
        with np.errstate(all="ignore"):
            s = np.sum(np.exp(xv - m), axis=ax, keepdims=True)
            y = np.where(np.isinf(m) | np.isnan(m), m, m + np.log(s))
        if not keepdims:
            y = np.squeeze(y, axis=ax)
        if out_dt == "float64":
            return finish(y, out_dt), out_dt, 1e-13, 1e-13
        return finish(y, out_dt), out_dt, 1e-6 + (ULP[out_dt] if out_dt in ("float16", "bfloat16") else 0), 2e-6
    if op == "median":
        out_dt = at_least_float(dt)
        xv = w if dt == "complex64" else w.astype(np.float64)
        if empty_list:
            return finish(xv, out_dt), out_dt, 0, 0
        y = np.median(xv, axis=ax, keepdims=keepdims)
        return finish(y, out_dt), out_dt, ULP[out_dt] / 2, 0
    raise ValueError(op)


def ref_softmax(x, dt, axes):
    nd = x.ndim
    ax = npax(axes, nd)
    # MLX's fast path (the last axis after only size-1 axes) gives at least
    # float32; any other axes cast back to the input dtype.
    raw = list(axes) if axes is not None else list(range(nd))
    last = len(raw) > 0 and (raw[-1] == nd - 1 or raw[-1] == -1)
    for i in range(len(raw) - 2, -1, -1):
        if not last:
            break
        if raw[i] + 1 != raw[i + 1] or x.shape[raw[i]] != 1:
            last = False
    out_dt = at_least_float(dt) if last else dt
    xv = hi(x, dt).astype(np.float64)
    with np.errstate(all="ignore"):
        if ax:
            m = np.max(xv, axis=ax, keepdims=True)
            e = np.exp(xv - m)
            y = e / np.sum(e, axis=ax, keepdims=True)
        else:
            e = np.exp(xv - xv)
            y = e / e
    if out_dt in FLOATS:
        half = out_dt in ("float16", "bfloat16")
        rtol = 2e-6 + (ULP[out_dt] if half else 0)
        if out_dt == "float64":
            rtol = 1e-13
        return finish(y, out_dt), out_dt, rtol, 1e-7 if out_dt != "float64" else 1e-15
    # integer results: probabilities truncated toward zero
    return np.trunc(y).astype(out_dt), out_dt, 0, 0


# ---------------------------------------------------------------- cases
def reduce_case(op, dt, shape, axes, keepdims, view=None, kind="normal", ddof=None):
    base = values(dt, shape, kind)
    x = apply_view(base, view)
    exp_, out_dt, rtol, atol = ref_reduce(op, x, dt, axes, keepdims, ddof or 0)
    params = {"axes": axes_str(axes), "keepdims": int(keepdims)}
    if ddof is not None:
        params["ddof"] = ddof
    emit(op, [base], [dt], exp_, out_dt, rtol, atol, views=[view], **params)


CONFIGS = [  # (shape, axes, keepdims, view)
    ((), None, False, None),
    ((1,), None, False, None),
    ((7,), (0,), True, None),
    ((33,), None, False, "rev"),
    ((1031,), (-1,), False, None),
    ((3, 4, 5), (0, 2), False, None),
    ((3, 4, 5), (1,), True, "T"),
    ((6, 40), (0,), False, None),      # column path
    ((6, 40), (1,), False, "step2"),
    ((0, 3, 2), (0,), False, None),    # empty reduced axis
    ((0, 3, 2), (2,), True, None),     # empty kept axis
    ((4, 3), (), False, None),         # non-NULL empty axes list
    ((5, 1, 6), (1,), False, None),    # size-1 axis only
    ((9, 67), None, False, "T"),
]

for op in ("sum", "prod", "mean", "max", "min", "all", "any"):
    for dt in DTYPES:
        for shape, axes, kd, view in CONFIGS:
            if op in ("max", "min") and 0 in shape:
                red = npax(axes, len(shape))
                if any(shape[a] == 0 for a in red) and not (axes is not None and len(axes) == 0):
                    continue
            kind = "near1" if op == "prod" else "normal"
            if op in ("sum", "prod") and dt.startswith(("uint", "int")) and shape == (1031,):
                kind = "full"  # wrap-around
            reduce_case(op, dt, shape, axes, kd, view, kind)

# NaN, inf and -0 in the float reductions
for op in ("sum", "max", "min", "all", "any", "mean"):
    for dt in ("float16", "float32", "float64", "bfloat16"):
        reduce_case(op, dt, (4, 25), (1,), False, None, "special")
        reduce_case(op, dt, (25, 4), (0,), False, None, "special")

# larger: SIMD tails, both loops, blocks
for dt in ("float32", "float16", "int32"):
    reduce_case("sum", dt, (150, 133), None, False)
    reduce_case("sum", dt, (150, 133), (0,), False)
    reduce_case("sum", dt, (150, 133), (1,), True)
    reduce_case("max", dt, (150, 133), (0,), False)
    reduce_case("min", dt, (150, 133), (1,), False)
    reduce_case("mean", dt, (150, 133), (0,), False, "T")

for op in ("var", "std"):
    for dt in DTYPES:
        for (shape, axes, kd, view), ddof in zip(
                CONFIGS, [0, 0, 1, 0, 0, 1, 0, 2, 0, 0, 0, 0, 1, 0]):
            reduce_case(op, dt, shape, axes, kd, view, ddof=ddof)
    reduce_case(op, "float32", (3, 4), (1,), False, ddof=4)   # n - ddof = 0
    reduce_case(op, "float32", (3, 4), (1,), False, ddof=-1)
    reduce_case(op, "float32", (3, 50), (1,), False, ddof=1, kind="special")

for dt in DTYPES:
    if dt == "complex64":
        continue
    for shape, axes, kd, view in CONFIGS:
        if 0 in shape:
            continue
        reduce_case("logsumexp", dt, shape, axes, kd, view)
for dt in ("float32", "float16", "float64", "bfloat16"):
    reduce_case("logsumexp", dt, (5, 37), (1,), False, None, "special")
    reduce_case("logsumexp", dt, (37, 5), (0,), True, None, "special")
# rows of -inf, a +inf row
x = np.array([[-np.inf] * 5, [np.inf, 0, 1, 2, 3], [0, 0, 0, 0, 0]], np.float32)
emit("logsumexp", [x], ["float32"], np.array([-np.inf, np.inf, np.log(5)], np.float32),
     "float32", 1e-6, 2e-6, axes="1", keepdims=0)

for dt in DTYPES:
    for shape, axes, kd, view in CONFIGS:
        red = npax(axes, len(shape))
        if 0 in shape and any(shape[a] == 0 for a in red):
            continue
        reduce_case("median", dt, shape, axes, kd, view)
for dt in ("float32", "float16", "bfloat16", "float64"):
    reduce_case("median", dt, (6, 9), (1,), False, None, "special")
    reduce_case("median", dt, (8, 6), (0,), False, None, "special")
reduce_case("median", "float32", (4, 5, 6), (0, 2), True)
reduce_case("median", "int32", (4, 5, 6), (1, 2), False)

# argmax / argmin (no NaN: MLX keeps the first NaN only if it comes first,
# NumPy always picks it; the C test checks MLX's rule)
for op in ("argmax", "argmin"):
    for dt in DTYPES:
        for shape, axis, kd, view in [((7,), 0, False, None), ((1031,), None, True, None),
                                      ((3, 4, 5), 1, True, "T"), ((3, 4, 5), None, False, "T"),
                                      ((6, 40), 0, False, None), ((6, 40), -1, False, "rev"),
                                      ((), None, False, None), ((5, 1, 6), 1, False, None),
                                      ((40, 33), 1, False, "step2")]:
            base = values(dt, shape, "normal")
            if dt not in ("bool",) and base.size > 4:
                flat = base.reshape(-1)
                flat[rng.integers(0, flat.size, flat.size // 4)] = flat[0]  # ties
            x = apply_view(base, view)
            v = numeric(x, dt)
            f = np.argmax if op == "argmax" else np.argmin
            if axis is None:
                y = np.asarray(f(v))
                if kd:
                    y = y.reshape((1,) * x.ndim)
            else:
                y = f(v, axis=axis, keepdims=kd)
            emit(op, [base], [dt], np.asarray(y).astype(np.uint32), "uint32", 0, 0, views=[view],
                 axis="none" if axis is None else axis, keepdims=int(kd))

# softmax
SM_CONFIGS = [((), None, None), ((1,), (0,), None), ((7,), (-1,), None), ((33,), None, "rev"),
              ((4, 1031), (1,), None), ((3, 4, 5), (2,), "T"), ((3, 4, 5), (0, 2), None),
              ((6, 40), (0,), None), ((6, 40), (-1,), "step2"), ((4, 3), (), None),
              ((1, 1, 9), (0, 1, 2), None), ((2, 3, 4), None, None)]
for dt in DTYPES:
    if dt == "complex64":
        continue
    for shape, axes, view in SM_CONFIGS:
        # Integers in [-2, 2]: no probability of a row of several elements
        # rounds to 1.0 in f32, so truncating the f64 reference is exact.
        base = values(dt, shape, "normal" if dt in FLOATS else "near1")
        x = apply_view(base, view)
        y, out_dt, rtol, atol = ref_softmax(x, dt, axes)
        if dt == "bool" and out_dt == "bool":
            continue  # MLX's composite path subtracts bools: not a case to pin down
        emit("softmax", [base], [dt], y, out_dt, rtol, atol, views=[view], axes=axes_str(axes))
for dt in ("float32", "float16", "bfloat16", "float64"):
    base = values(dt, (5, 19), "special")
    y, out_dt, rtol, atol = ref_softmax(base, dt, (1,))
    emit("softmax", [base], [dt], y, out_dt, rtol, atol, axes="1")
# a row of -inf but one 0: finite; a row of all -inf: NaN
for n in (100, 2049, 4097):
    x = np.full((2, n), -np.inf, np.float32)
    x[0, -1] = 0
    y = np.zeros((2, n), np.float32)
    y[0, -1] = 1
    y[1, :] = np.nan
    emit("softmax", [x], ["float32"], y, "float32", 0, 0, axes="-1")
# a big one over rows (the benchmark's shape, scaled down)
base = (rng.standard_normal((8, 4096)) * 3).astype(np.float32)
y, out_dt, rtol, atol = ref_softmax(base, "float32", (-1,))
emit("softmax", [base], ["float32"], y, out_dt, rtol, atol, axes="-1")

write_cases(OUT, lines)
print("gen_reduce: %d cases" % len(lines))
