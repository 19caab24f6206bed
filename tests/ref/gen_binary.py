"""NumPy fixtures for the binary elementwise ops, where, isclose, allclose,
array_equal, divmod and clip (tests/test_binary.c).

Usage: gen_binary.py OUTDIR

Expected values are built the way MLX computes them: both operands are
first cast to MLX's promoted dtype (its table, not NumPy's: int32 + float16
is float16 here), then NumPy applies the op in that dtype. bfloat16 is
computed in float32 and rounded once to bfloat16 (stored as uint16 bits),
which is what mlxc does; float16 NumPy ufuncs likewise compute in float and
round once. Where mlxc pins down what MLX leaves to C (or differs from
NumPy on purpose) the reference follows mlxc's documented choice:
- floor_divide of floats is floor(a / b) (MLX), not NumPy's divmod-based
  quotient; of integers it is NumPy's floor division, x // 0 = 0;
- bool arithmetic: + is or, - is xor, * is and (C++ bool, as MLX);
- integer power uses non-negative exponents only (NumPy raises on negative
  ones; mlxc gives 0 as MLX, checked in the C test).

Tolerances (rtol, atol), all stated per case:
- integers, bools, comparisons, where, isclose: exact (0, 0);
- add/subtract/multiply/divide/maximum/minimum/remainder/floor_divide in
  f16/bf16/f32/f64: exact (0, 0): IEEE operations, correctly rounded in both
  implementations, and half types round the f32 result once in both;
- complex multiply/divide: rtol 1e-6 (C's complex division scales
  differently from NumPy's, a few f32 ulps, 2^-24 ~ 6e-8 each);
- power/logaddexp/arctan2 (libm): f32 rtol 1e-6 (libm f32 functions are
  within 1-2 ulp, ~1.2e-7 each), f64 rtol 1e-12, f16 rtol 1e-3 (one f16 ulp,
  2^-10, as the f32 result may round to the neighbour), bf16 rtol 8e-3 (one
  bf16 ulp, 2^-7); atol 1e-6 where a result may cancel to ~0.
"""
import os

import numpy as np

from fixtures import INT_DTYPES as INTS
from fixtures import MLX_PROMOTE as PROMOTE
from fixtures import NP_DTYPES, apply_view, bf16_bits_quiet_nan, bf16_round, out_dir, write_cases

OUT = out_dir()
rng = np.random.default_rng(20240612)
lines = []
counter = [0]

NP = dict(NP_DTYPES)
NP["bfloat16"] = np.dtype(np.float32)  # values held as bf16-exact float32
FLOATS = ["float16", "float32", "float64", "bfloat16"]
REALS = INTS + FLOATS
NUMERIC = ["bool"] + REALS + ["complex64"]


def to_bf16_bits(x):
    """bf16 bits of x, NaN kept quiet, C-contiguous."""
    return bf16_bits_quiet_nan(x, order="C")


def cast(x, src, dst):
    """MLX astype of values held for src into dst."""
    if dst == "bfloat16":
        if src == "complex64":
            x = x.real
        return bf16_round(np.asarray(x).astype(np.float32))
    if src == "complex64" and dst != "complex64":
        x = x.real if dst != "bool" else (x != 0)
    return np.asarray(x).astype(NP[dst])


def rand(shape, d, kind="normal"):
    shape = tuple(shape)
    if d == "bool":
        return rng.random(shape) > 0.5
    if d in INTS:
        info = np.iinfo(NP[d])
        if kind in ("small", "exact"):
            lo, hi = (0, 9) if info.min == 0 else (-9, 9)
        elif kind == "nonneg":
            lo, hi = 0, 5
        else:
            lo, hi = max(info.min, -1000), min(info.max, 1000)
        return rng.integers(lo, hi, size=shape, dtype=NP[d], endpoint=True)
    if d == "complex64":
        v = rng.standard_normal(shape) + 1j * rng.standard_normal(shape)
        return (v * 2).astype(np.complex64)
    v = rng.standard_normal(shape) * 3
    if kind == "positive":
        v = np.abs(v) + 0.1
    if kind == "exact":  # multiples of 1/4: quotients and remainders stay exact
        v = np.round(v * 4) / 4
        v = np.where(v == 0, 1.5, v)
    if d == "bfloat16":
        return bf16_round(v.astype(np.float32))
    return v.astype(NP[d])


def with_specials(x, d):
    """Sprinkle NaN / inf / -inf / 0 into a float array."""
    if d not in FLOATS or x.size < 8:
        return x
    x = x.copy()
    flat = x.reshape(-1)
    flat[1] = np.nan
    flat[3] = np.inf
    flat[5] = -np.inf
    flat[6] = 0
    return x


def stored(x, d):
    # np.array, not ascontiguousarray: the latter turns 0-d into 1-d
    return to_bf16_bits(x).reshape(np.shape(x)) if d == "bfloat16" else np.array(x, order="C")


def emit(op, ins, out, out_d, rtol_, atol_, **params):
    """ins: list of (stored base values, mlx dtype, view)."""
    cid = "c%04d" % counter[0]
    counter[0] += 1
    keys = []
    for k, (base, d, view) in enumerate(ins):
        np.save(os.path.join(OUT, "%s.in%d.npy" % (cid, k)), stored(base, d))
        if d == "bfloat16":
            keys.append("dtype%d=bfloat16" % k)
        if view:
            keys.append("view%d=%s" % (k, view))
    np.save(os.path.join(OUT, "%s.out.npy" % cid), stored(np.asarray(out), out_d))
    if out_d == "bfloat16":
        keys.append("out_dtype=bfloat16")
    keys += ["%s=%s" % kv for kv in params.items()]
    lines.append(" ".join([cid, op, str(len(ins)), repr(float(rtol_)), repr(float(atol_))] + keys))


def final(res, d):
    """A float32 result of a bf16 computation rounds once to bf16."""
    if d == "bfloat16":
        return bf16_round(np.asarray(res, np.float32))
    return np.asarray(res).astype(NP[d]) if d in NP else res


# ---------------------------------------------------------------- shapes

# (shape a, shape b, view a, view b); stored shapes are pre-view.
SHAPES = [
    ((), (), None, None),
    ((0,), (0,), None, None),
    ((1,), (1,), None, None),
    ((7,), (7,), None, None),
    ((33,), (33,), None, None),
    ((1037,), (1037,), None, None),
    ((3, 1), (1, 4), None, None),
    ((4,), (3, 4), None, None),
    ((), (5, 3), None, None),
    ((2, 1, 3), (4, 1), None, None),
    ((5, 7), (7, 5), "T", None),
    ((3, 14), (3, 7), "step2", "rev"),
    ((0, 1, 3), (2, 3), None, None),  # (the npy loader rejects a 0 after a non-0 dim)
    ((6, 5), (5, 6), None, "T"),
]


def view_shape(shape, view):
    return apply_view(np.empty(shape), view).shape


def make_inputs(sa, sb, da, db, va, vb, kind_a="normal", kind_b="normal", specials=False):
    a = rand(sa, da, kind_a)
    b = rand(sb, db, kind_b)
    if specials:
        a = with_specials(a, da)
        b = with_specials(b, db)
    return a, b


# ---------------------------------------------------------------- op table

def at_least_float(d):
    return d if d in FLOATS or d == "complex64" else "float32"


def np_binary(op, A, B, ct):
    """The op in compute dtype ct on arrays already cast to it (bf16 in f32)."""
    with np.errstate(all="ignore"):
        if ct == "bool":
            if op == "add": return A | B
            if op == "subtract": return A ^ B
            if op == "multiply": return A & B
            if op == "maximum": return A | B
            if op == "minimum": return A & B
            if op == "floor_divide": return np.where(B, A, False)
            if op == "remainder": return np.zeros_like(A)
            if op == "power": return A | ~B
        if op == "floor_divide" and ct not in INTS:
            return np.floor(np.divide(A, B))
        return getattr(np, op)(A, B)


def tol(op, ct):
    if ct in INTS or ct == "bool":
        return 0, 0
    if op in ("add", "subtract", "multiply", "divide", "maximum", "minimum", "remainder",
              "floor_divide"):
        if ct == "complex64" and op in ("multiply", "divide"):
            return 1e-6, 1e-6
        return 0, 0
    return {"float16": (1e-3, 1e-3), "bfloat16": (8e-3, 8e-3), "float32": (1e-6, 1e-6),
            "float64": (1e-12, 1e-12), "complex64": (1e-5, 1e-5)}[ct]


def arith_case(op, da, db, shp, out_rule, kind_a="normal", kind_b="normal", specials=False):
    sa, sb, va, vb = shp
    a, b = make_inputs(sa, sb, da, db, va, vb, kind_a, kind_b, specials)
    t = PROMOTE[(da, db)]
    ct = out_rule(t)
    A = cast(apply_view(a, va), da, ct)
    B = cast(apply_view(b, vb), db, ct)
    res = np_binary(op, A, B, ct)
    rtol, atol = tol(op, ct)
    emit(op, [(a, da, va), (b, db, vb)], final(res, ct), ct, rtol, atol)


same = lambda t: t
SH = list(range(len(SHAPES)))


def sweep(op, dtypes, out_rule=same, kind_a="normal", kind_b="normal", specials=False,
          all_shapes=("float32",)):
    """Every dtype once (shapes rotate), every shape for `all_shapes`."""
    for i, d in enumerate(dtypes):
        shapes = SH if d in all_shapes else [SH[(i * 5 + 3) % len(SH)], SH[(i * 7 + 10) % len(SH)]]
        for s in shapes:
            arith_case(op, d, d, SHAPES[s], out_rule, kind_a, kind_b, specials)


# Arithmetic over every dtype.
for op in ["add", "subtract", "multiply"]:
    sweep(op, NUMERIC, all_shapes=("float32", "int32"))
sweep("divide", NUMERIC, out_rule=at_least_float, kind_b="positive")
sweep("maximum", ["bool"] + REALS, specials=True)
sweep("minimum", ["bool"] + REALS, specials=True)
sweep("maximum", ["complex64"])
sweep("floor_divide", ["bool"] + INTS, kind_b="small")
sweep("floor_divide", FLOATS, kind_a="exact", kind_b="exact")
sweep("remainder", ["bool"] + INTS, kind_b="small")
sweep("remainder", FLOATS, kind_a="exact", kind_b="exact")
sweep("power", ["bool"] + INTS, kind_a="small", kind_b="nonneg")
sweep("power", FLOATS, kind_a="positive")
sweep("power", ["complex64"])
sweep("logaddexp", FLOATS, specials=True)
sweep("logaddexp", ["int32", "bool"], out_rule=at_least_float)
sweep("arctan2", FLOATS + ["int16"], out_rule=at_least_float, specials=True)

# Mixed dtypes: MLX promotion decides the computation dtype.
MIXED = [("int32", "float16"), ("uint8", "int8"), ("uint64", "int32"), ("bool", "float32"),
         ("bfloat16", "float16"), ("int64", "bfloat16"), ("float32", "complex64"),
         ("uint32", "int16"), ("float64", "float32"), ("int8", "bool")]
for k, (da, db) in enumerate(MIXED):
    for op in ["add", "multiply", "maximum"]:
        arith_case(op, da, db, SHAPES[SH[(k * 3 + 6) % len(SH)]], same)
    arith_case("divide", da, db, SHAPES[SH[(k + 4) % len(SH)]], at_least_float,
               kind_b="positive")

# Integer division corner cases: zero divisors, negative operands, INT_MIN // -1.
for d in ["int8", "int32", "int64", "uint16"]:
    info = np.iinfo(NP[d])
    a = np.array([7, -7, 7, -7, 0, 5, info.min, info.min, info.max, -1, 1, 6], dtype=NP[d]) \
        if info.min < 0 else np.array([7, 0, 9, 65535, 3, 1], dtype=NP[d])
    b = np.array([2, 2, -2, -2, 3, 0, -1, 1, -1, 0, -3, 3], dtype=NP[d]) \
        if info.min < 0 else np.array([2, 3, 0, 7, 0, 1], dtype=NP[d])
    for op in ["floor_divide", "remainder"]:
        with np.errstate(all="ignore"):
            emit(op, [(a, d, None), (b, d, None)], getattr(np, op)(a, b), d, 0, 0)
for d in ["float32", "float64"]:
    a = np.array([7, -7, 7, -7, 0, 5, 5.5, -5.5, 1e30, np.inf, 3, -0.0], dtype=NP[d])
    b = np.array([2, 2, -2, -2, 3, 0, 2, 2, 7, 2, np.inf, 3], dtype=NP[d])
    with np.errstate(all="ignore"):
        emit("remainder", [(a, d, None), (b, d, None)], np.remainder(a, b), d, 0, 0)
        emit("floor_divide", [(a, d, None), (b, d, None)], np.floor(a / b), d, 0, 0)

# Comparisons (bool results), NaNs included.
for op in ["equal", "not_equal", "less", "less_equal", "greater", "greater_equal"]:
    for i, d in enumerate(NUMERIC):
        s = SHAPES[SH[(i * 3 + len(op)) % len(SH)]]
        sa, sb, va, vb = s
        # "exact" floats (multiples of 1/4) make some pairs equal
        a, b = make_inputs(sa, sb, d, d, va, vb, "exact", "exact", True)
        A, B = apply_view(a, va), apply_view(b, vb)
        emit(op, [(a, d, va), (b, d, vb)], getattr(np, op)(A, B), "bool", 0, 0)
    for k, (da, db) in enumerate(MIXED[:6]):
        sa, sb, va, vb = SHAPES[SH[(k * 5 + 1) % len(SH)]]
        a, b = make_inputs(sa, sb, da, db, va, vb, "small", "small")
        t = PROMOTE[(da, db)]
        emit(op, [(a, da, va), (b, db, vb)],
             getattr(np, op)(cast(apply_view(a, va), da, t), cast(apply_view(b, vb), db, t)), "bool", 0, 0)

# Logical ops cast to bool.
for op in ["logical_and", "logical_or"]:
    for i, (da, db) in enumerate([("bool", "bool"), ("int32", "float32"), ("float16", "bool"),
                                  ("complex64", "uint8"), ("bfloat16", "int64")]):
        sa, sb, va, vb = SHAPES[SH[(i * 4 + 3) % len(SH)]]
        a, b = make_inputs(sa, sb, da, db, va, vb, "small", "small")
        A = cast(apply_view(a, va), da, "bool")
        B = cast(apply_view(b, vb), db, "bool")
        emit(op, [(a, da, va), (b, db, vb)], getattr(np, op)(A, B), "bool", 0, 0)
    for s in SH:
        sa, sb, va, vb = SHAPES[s]
        a, b = make_inputs(sa, sb, "bool", "bool", va, vb)
        emit(op, [(a, "bool", va), (b, "bool", vb)],
             getattr(np, op)(apply_view(a, va), apply_view(b, vb)), "bool", 0, 0)

# Bitwise ops and shifts (integers and bool).
for op in ["bitwise_and", "bitwise_or", "bitwise_xor"]:
    sweep(op, ["bool"] + INTS)
    arith_case(op, "uint8", "int8", SHAPES[7], same)
for op in ["left_shift", "right_shift"]:
    for i, d in enumerate(INTS):
        bits = NP[d].itemsize * 8
        sa, sb, va, vb = SHAPES[SH[(i * 3 + 4) % len(SH)]]
        a = rand(sa, d)
        b = rng.integers(0, bits + 3, size=sb).astype(NP[d])
        A, B = apply_view(a, va), apply_view(b, vb)
        emit(op, [(a, d, va), (b, d, vb)], getattr(np, op)(A, B), d, 0, 0)
    # bool shifts compute in uint8
    a, b = rand((9,), "bool"), rand((9,), "bool")
    emit(op, [(a, "bool", None), (b, "bool", None)],
         getattr(np, op)(a.astype(np.uint8), b.astype(np.uint8)), "uint8", 0, 0)
    # negative shift amounts on signed types
    a = np.array([5, -5, 100, -100], np.int32)
    b = np.array([-1, -1, 40, 40], np.int32)
    emit(op, [(a, "int32", None), (b, "int32", None)], getattr(np, op)(a, b), "int32", 0, 0)

# where: bool (or cast) condition, promoted values, 3-way broadcasting.
WHERE = [((7,), (7,), (7,), "bool", "float32", "float32"),
         ((3, 1), (1, 4), (), "bool", "int32", "float16"),
         ((), (5,), (5,), "int32", "int8", "int8"),
         ((2, 3), (3,), (2, 1), "float32", "bfloat16", "bfloat16"),
         ((0, 3), (3,), (1, 3), "bool", "complex64", "float32"),
         ((1037,), (1037,), (1037,), "bool", "float64", "uint64"),
         ((4, 6), (4, 6), (6,), "bool", "uint16", "bool"),
         ((33001,), (33001,), (33001,), "bool", "float32", "float32")]
for sc, sx, sy, dc, dx, dy in WHERE:
    c = rand(sc, dc, "small")
    x, y = rand(sx, dx), rand(sy, dy)
    t = PROMOTE[(dx, dy)]
    res = np.where(cast(c, dc, "bool"), cast(x, dx, t), cast(y, dy, t))
    emit("where", [(c, dc, None), (x, dx, None), (y, dy, None)], final(res, t), t, 0, 0)
# strided where
c = rand((6, 5), "bool")
x = rand((5, 6), "float32")
y = rand((6, 10), "float32")
emit("where", [(c, "bool", None), (x, "float32", "T"), (y, "float32", "step2")],
     np.where(c, x.T, y[..., ::2]), "float32", 0, 0)

# isclose / allclose / array_equal.
for i, d in enumerate(["float32", "float64", "float16", "bfloat16", "int32", "complex64"]):
    n = 64
    a = rand((n,), d)
    scale = np.array([0, 1e-7, 1e-3, 1e-1] * (n // 4))
    if d in INTS:
        b = (a + rng.integers(-1, 2, size=n)).astype(NP[d])
    elif d == "complex64":
        b = (a * (1 + scale)).astype(np.complex64)
    else:
        b = cast(a.astype(np.float64) * (1 + scale), "float64", d)
        a = with_specials(a, d)
        b = b.copy()
        b[1] = np.nan  # NaN vs NaN
        b[3] = np.inf  # inf vs inf
        b[5] = np.inf  # -inf vs inf
        b[9] = np.nan  # finite vs NaN
    for rtol_, atol_, en in [(1e-5, 1e-8, False), (1e-2, 1e-3, True), (0.0, 0.5, False)]:
        ref = np.isclose(a.astype(np.complex128 if d == "complex64" else np.float64),
                         b.astype(np.complex128 if d == "complex64" else np.float64),
                         rtol=rtol_, atol=atol_, equal_nan=en)
        emit("isclose", [(a, d, None), (b, d, None)], ref, "bool", 0, 0,
             rtol=rtol_, atol=atol_, equal_nan=int(en))
        emit("allclose", [(a, d, None), (b, d, None)], np.array(ref.all()), "bool", 0, 0,
             rtol=rtol_, atol=atol_, equal_nan=int(en))
        emit("allclose", [(a, d, None), (a.copy(), d, None)],
             np.array(np.isclose(a.astype(np.complex128 if d == "complex64" else np.float64),
                                 a.astype(np.complex128 if d == "complex64" else np.float64),
                                 rtol=rtol_, atol=atol_, equal_nan=en).all()),
             "bool", 0, 0, rtol=rtol_, atol=atol_, equal_nan=int(en))
# isclose broadcasting + view
a = rand((4, 6), "float32")
b = rand((6,), "float32")
emit("isclose", [(a, "float32", "T"), (b[:4].copy(), "float32", None)],
     np.isclose(a.T.astype(np.float64), b[:4].astype(np.float64), rtol=1, atol=1), "bool", 0, 0,
     rtol=1.0, atol=1.0, equal_nan=0)

for d in ["float32", "int32", "float16", "bool", "complex64"]:
    a = with_specials(rand((3, 5), d, "small"), d)
    b = a.copy()
    for en in (0, 1):
        emit("array_equal", [(a, d, None), (b, d, None)],
             np.array(np.array_equal(a, b, equal_nan=bool(en) and d in FLOATS + ["complex64"])),
             "bool", 0, 0, equal_nan=en)
    c = a.copy()
    c.reshape(-1)[7] = c.reshape(-1)[8] if d != "bool" else not c.reshape(-1)[7]
    emit("array_equal", [(a, d, None), (c, d, None)], np.array(np.array_equal(a, c)), "bool", 0, 0,
         equal_nan=0)
emit("array_equal", [(rand((3, 5), "int32"), "int32", None), (rand((5, 3), "int32"), "int32", None)],
     np.array(False), "bool", 0, 0, equal_nan=0)
x = rand((4, 4), "int32", "small")
emit("array_equal", [(x, "int32", None), (x.astype(np.float32), "float32", None)], np.array(True),
     "bool", 0, 0, equal_nan=0)

# divmod: both outputs, ints and floats.
for d in ["int32", "uint8", "float32", "float16", "int64"]:
    kind = "small" if d in INTS else "exact"
    a, b = rand((5, 7), d, kind), rand((7,), d, kind)
    with np.errstate(all="ignore"):
        if d in INTS:
            q, r = np.floor_divide(a, b), np.remainder(a, b)
        else:
            q, r = np.floor(a / b), np.remainder(a, b)
    emit("divmod_q", [(a, d, None), (b, d, None)], q, d, 0, 0)
    emit("divmod_r", [(a, d, None), (b, d, None)], r, d, 0, 0)

# clip = minimum(maximum(a, lo), hi) with MLX promotion.
for d, dl, dh in [("float32", "float32", "float32"), ("int32", "int32", "int32"),
                  ("float16", "float32", "float16"), ("int8", "int32", "int32"),
                  ("bfloat16", "bfloat16", "bfloat16")]:
    a = rand((4, 9), d)
    lo = rand((9,), dl) if dl not in INTS else rng.integers(-500, 0, size=(9,)).astype(NP[dl])
    hi = rand((4, 1), dh) + (3 if dh in FLOATS else 300)
    hi = cast(hi, dh, dh)
    t1 = PROMOTE[(d, dl)]
    m = np.maximum(cast(a, d, t1), cast(lo, dl, t1))
    t2 = PROMOTE[(t1, dh)]
    res = np.minimum(cast(m, t1, t2), cast(hi, dh, t2))
    emit("clip", [(a, d, None), (lo, dl, None), (hi, dh, None)], final(res, t2), t2, 0, 0)
    emit("clip_min", [(a, d, None), (lo, dl, None)], final(m, t1), t1, 0, 0)
    res = np.minimum(cast(a, d, PROMOTE[(d, dh)]), cast(hi, dh, PROMOTE[(d, dh)]))
    emit("clip_max", [(a, d, None), (hi, dh, None)], final(res, PROMOTE[(d, dh)]),
         PROMOTE[(d, dh)], 0, 0)

# Large cases: threading over one long run and over many runs; every fast
# path (dense, scalar broadcast either side, row broadcast) for f32.
N = 33001  # just above the 32768-element grain: two threads
for op in ["add", "multiply", "maximum"]:
    a = rand((N,), "float32", "positive")
    b = rand((N,), "float32", "positive")
    emit(op, [(a, "float32", None), (b, "float32", None)], getattr(np, op)(a, b), "float32", 0, 0)
a = rand((N,), "float32")
s = rand((), "float32")
emit("add", [(a, "float32", None), (s, "float32", None)], a + s, "float32", 0, 0)
emit("subtract", [(s, "float32", None), (a, "float32", None)], s - a, "float32", 0, 0)
emit("maximum", [(s, "float32", None), (a, "float32", None)], np.maximum(s, a), "float32", 0, 0)
a = rand((300, 140), "float32")
b = rand((140,), "float32")
emit("multiply", [(a, "float32", None), (b, "float32", None)], a * b, "float32", 0, 0)
r = rand((300,), "float32")
emit("add", [(a, "float32", "T"), (r, "float32", None)], a.T + r, "float32", 0, 0)
for d in ["float16", "bfloat16", "int32"]:
    a, b = rand((N,), d), rand((N,), d)
    emit("add", [(a, d, None), (b, d, None)], final(a + b if d != "bfloat16" else
                                                     a.astype(np.float32) + b, d), d, 0, 0)

write_cases(OUT, lines)
print("gen_binary: %d cases" % len(lines))
