"""NumPy fixtures for the shape ops (tests/test_shape.c).

Usage: gen_shape.py OUTDIR

Almost every op here only moves elements (views, copies, concatenation,
padding, rolling), so results are compared exactly (rtol = atol = 0) for
every dtype; bfloat16 is stored as its uint16 bits and moved as such.
Where MLX differs from NumPy the expected value is built as MLX does:
- concatenate promotes with MLX's table (e.g. int8 + uint64 -> float32),
  so inputs are first cast to that dtype, then concatenated by NumPy;
- flatten clamps start/end axes into range as MLX does;
- trace casts the diagonal to `dtype` and sums in MLX's sum dtype (ints of
  <= 4 bytes and bool -> int32, unsigned -> uint32, 8-byte ints keep theirs).
  Float sums are the only inexact results: mlxc accumulates in float64 and
  rounds once, NumPy's reference is float64 rounded once, so f32 needs only
  rtol 1e-6 (one rounding of the output, 2^-24 ~ 6e-8, with margin), f16
  rtol 1e-3 (one f16 ulp 2^-10) and bf16 rtol 8e-3 (one bf16 ulp 2^-7).
"""

import numpy as np

from fixtures import out_dir, save_npy, stored_shape, write_cases
from fixtures import MLX_PROMOTE as PROMOTE
from fixtures import NP_DTYPES as NP
from fixtures import apply_view as view
from fixtures import bf16_bits as to_bf16_bits
from fixtures import bf16_to_f32_contig as bf16_to_f32

OUT = out_dir()
rng = np.random.default_rng(20240611)
np.seterr(over="ignore", invalid="ignore")  # int -> float16 casts overflow to inf on purpose
lines = []

# The dtypes the brief asks for on concatenate / pad.
KEY = ["bool", "int8", "uint64", "float16", "bfloat16", "float32", "complex64"]


def rand(shape, d):
    """Random data of MLX dtype d (bf16 as bits), values in each type's range."""
    shape = tuple(shape)
    if d == "bool":
        return rng.random(shape) > 0.5
    if d == "uint64":
        return rng.integers(0, 2**64, size=shape, dtype=np.uint64, endpoint=False)
    if d in ("int8", "uint8", "int16", "uint16", "int32", "uint32", "int64"):
        info = np.iinfo(NP[d])
        return rng.integers(info.min, info.max, size=shape, dtype=NP[d], endpoint=True)
    if d == "bfloat16":
        return to_bf16_bits(rng.standard_normal(shape).astype(np.float32) * 3)
    if d == "complex64":
        return (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(np.complex64)
    return (rng.standard_normal(shape) * 3).astype(NP[d])


def cast(x, src, dst):
    """MLX astype between dtypes (bf16 as bits) for the values used here."""
    if src == dst:
        return x
    if src == "bfloat16":
        x, src = bf16_to_f32(x), "float32"
    if dst == "bfloat16":
        if src == "complex64":
            x = x.real
        return to_bf16_bits(np.asarray(x).astype(np.float32))
    if dst == "bool":
        return x != 0
    if src == "complex64" and dst != "complex64":
        x = x.real
    return np.asarray(x).astype(NP[dst])


NEXT = [0]


def case(op, inputs, dtypes, out, out_dtype, params, views=None, rtol=0, atol=0):
    """inputs: stored arrays (before views); out: expected result (after)."""
    cid = f"c{NEXT[0]:04d}_{op}"
    NEXT[0] += 1
    keys = []
    for k, (a, d) in enumerate(zip(inputs, dtypes)):
        save_npy(OUT, f"{cid}.in{k}.npy", a)
        if d == "bfloat16":
            keys.append(f"dtype{k}=bfloat16")
    for k, v in (views or {}).items():
        if v:
            keys.append(f"view{k}={v}")
    if out_dtype == "bfloat16":
        keys.append("out_dtype=bfloat16")
    want = np.asarray(out)
    if out_dtype != "bfloat16":
        assert want.dtype == NP[out_dtype], (op, want.dtype, out_dtype)
    else:
        assert want.dtype == np.uint16
    save_npy(OUT, f"{cid}.out.npy", want)
    for k, v in params.items():
        keys.append(f"{k}={v}")
    lines.append(f"{cid} {op} {len(inputs)} {rtol:g} {atol:g} " + " ".join(keys))


def ints(xs):
    xs = list(xs)
    return ",".join(str(int(v)) for v in xs) if xs else "none"


def unary(op, shape, d, fn, params, v=None):
    x = rand(shape, d)
    case(op, [x], [d], fn(view(x, v)), d, params, {0: v})


# ---------------------------------------------------------------- flatten
def mlx_flatten(x, s, e):
    nd = x.ndim
    if nd == 0:
        return x.reshape(1)
    s = s + nd if s < 0 else s
    e = e + nd if e < 0 else e
    s, e = max(0, s), min(nd - 1, e)
    return x.reshape(x.shape[:s] + (int(np.prod(x.shape[s:e + 1])),) + x.shape[e + 1:])


for shape, s, e, v in [((), 0, -1, None), ((0,), 0, -1, None), ((7,), 0, -1, None),
                       ((2, 3, 4), 0, -1, None), ((2, 3, 4), 1, 2, "T"), ((2, 3, 4), 0, 1, "rev"),
                       ((2, 3, 4, 5), -3, -2, "step2"), ((3, 0, 5), 0, 1, None),
                       ((2, 3, 4), -9, 9, None), ((2, 3), 1, 1, "T"), ((33, 31), 0, -1, "T")]:
    unary("flatten", shape, "float32", lambda x: mlx_flatten(x, s, e), {"start": s, "end": e}, v)
unary("flatten", (5, 6), "bfloat16", lambda x: mlx_flatten(x, 0, -1), {"start": 0, "end": -1}, "T")

# ---------------------------------------------------------------- unflatten
for shape, ax, sub, v in [((12,), 0, (3, 4), None), ((12,), 0, (-1, 4), "rev"), ((2, 12, 3), 1, (2, 3, 2), "T"),
                          ((2, 12), -1, (12,), None), ((0, 6), 1, (2, -1), None), ((4, 6), 0, (2, 2), "step2"),
                          ((35,), 0, (5, 7), None)]:
    def f(x, ax=ax, sub=sub):
        a = ax % x.ndim
        sub2 = list(sub)
        if -1 in sub2:
            i = sub2.index(-1)
            sub2[i] = x.shape[a] // int(np.prod([s for s in sub2 if s != -1]))
        return x.reshape(x.shape[:a] + tuple(sub2) + x.shape[a + 1:])
    unary("unflatten", shape, "int32", f, {"axis": ax, "shape": ints(sub)}, v)

# ---------------------------------------------------------------- squeeze / expand_dims
for shape, axes, v in [((1, 3, 1, 2), None, None), ((1, 3, 1, 2), (1, 3), "T"), ((1, 3, 1, 2), (-2, 0), "rev"),
                       ((1,), None, None), ((), None, None), ((1, 0, 1), (2,), None), ((3, 4), (), None),
                       ((1, 1, 1), None, "step2"), ((5, 1, 7), (1,), "T")]:
    unary("squeeze", shape, "float16", lambda x: np.squeeze(x, axis=axes) if axes is None or axes else x,
          {"axes": "null" if axes is None else ints(axes)}, v)
for shape, axes, v in [((), (0,), None), ((3,), (0,), None), ((3,), (-1,), None), ((2, 3), (0, 3), "T"),
                       ((2, 3), (1, -1), "rev"), ((0, 2), (1,), None), ((4, 5), (), None), ((7, 9), (2, 0), "step2")]:
    unary("expand_dims", shape, "int8", lambda x: np.expand_dims(x, axes) if axes else x,
          {"axes": ints(axes)}, v)

# ---------------------------------------------------------------- swapaxes / moveaxis
for shape, a1, a2, v in [((2, 3), 0, 1, None), ((2, 3, 4), 0, -1, "T"), ((2, 3, 4), 1, 1, None),
                         ((0, 3, 2), 2, 0, "rev"), ((5, 6, 7), -1, 1, "step2"), ((7,), 0, 0, None)]:
    unary("swapaxes", shape, "complex64", lambda x: np.swapaxes(x, a1, a2), {"a1": a1, "a2": a2}, v)
    unary("moveaxis", shape, "uint16", lambda x: np.moveaxis(x, a1, a2), {"src": a1, "dst": a2}, v)
unary("moveaxis", (2, 3, 4, 5), "bfloat16", lambda x: np.moveaxis(x, 0, 2), {"src": 0, "dst": 2}, "T")

# ---------------------------------------------------------------- atleast_nd
for shape in [(), (0,), (5,), (2, 3), (2, 3, 4), (1, 2, 3, 4)]:
    for k, fn in [(1, np.atleast_1d), (2, np.atleast_2d), (3, np.atleast_3d)]:
        unary(f"atleast_{k}d", shape, "float32", fn, {})
unary("atleast_3d", (4, 6), "bool", np.atleast_3d, {}, "T")

# ---------------------------------------------------------------- broadcast_arrays
for shapes, dts, vs in [([(3, 1), (1, 4)], ["float32", "int8"], [None, None]),
                        ([(3, 2), (3,), ()], ["bool", "complex64", "uint64"], ["T", "rev", None]),
                        ([(0, 1), (5,)], ["int32", "int32"], [None, None]),
                        ([(4, 1, 6), (1, 5, 1), (3,)], ["float16", "bfloat16", "int16"], ["step2", None, None]),
                        ([(7,)], ["float32"], [None])]:
    xs = [rand(s, d) for s, d in zip(shapes, dts)]
    outs = np.broadcast_arrays(*[view(x, v) for x, v in zip(xs, vs)])
    for k, o in enumerate(outs):
        case("broadcast_arrays", xs, dts, o, dts[k], {"out": k}, dict(enumerate(vs)))

# ---------------------------------------------------------------- concatenate
def concat_case(shapes, dts, axis, vs=None):
    vs = vs or [None] * len(shapes)
    xs = [rand(stored_shape(s, v), d) for s, d, v in zip(shapes, dts, vs)]
    res = dts[0]
    for d in dts[1:]:
        res = PROMOTE[(res, d)]
    ins = [cast(view(x, v), d, res) for x, d, v in zip(xs, dts, vs)]
    if axis == "none":
        out = np.concatenate([a.reshape(-1) for a in ins])
    else:
        out = np.concatenate(ins, axis=axis)
    case("concatenate", xs, dts, out, res, {"axis": axis}, dict(enumerate(vs)))


for d in KEY + ["uint8", "uint16", "int16", "int32", "uint32", "int64", "float64"]:
    concat_case([(2, 3), (4, 3)], [d, d], 0)
    concat_case([(2, 3), (2, 5), (2, 1)], [d, d, d], 1, ["T", "rev", None])
    concat_case([(3, 0, 4), (3, 2, 4)], [d, d], -2)
for d in KEY:
    concat_case([(5, 7), (5, 9)], [d, d], -1, ["step2", "T"])
    concat_case([(33,), (1,), (0,), (1000,)], [d] * 4, 0)
for dts in [["int8", "uint8"], ["int32", "float16"], ["bool", "int8"], ["uint64", "int8"],
            ["bfloat16", "float16"], ["float32", "complex64"], ["uint32", "int16", "bool"],
            ["bfloat16", "int64"]]:
    concat_case([(3, 4)] * len(dts), dts, 0)
    concat_case([(3, 4)] * len(dts), dts, 1, ["T"] + [None] * (len(dts) - 1))
concat_case([(7,)], ["int8"], 0)                          # one array: returned as is
concat_case([(2, 3), (4,), ()], ["float32"] * 3, "none")  # flattened
concat_case([(2, 1, 3, 5), (2, 4, 3, 5), (2, 2, 3, 5)], ["float32"] * 3, 1, ["rev", "step2", None])
concat_case([(4, 5, 6)] * 8, ["int16"] * 8, 2)
concat_case([(60, 200), (60, 300)], ["int8", "int8"], 1)     # > 32K elements: threaded rows
concat_case([(150, 70), (150, 90)], ["int8", "int8"], 1, ["T", "T"])  # strided, threaded

# ---------------------------------------------------------------- stack
for shape, d, axis, n, v in [((2, 3), "float32", 0, 3, None), ((2, 3), "bool", 1, 2, "T"), ((2, 3), "int8", -1, 4, "rev"),
                             ((), "uint64", 0, 3, None), ((0, 4), "float16", 1, 2, None), ((7,), "bfloat16", 1, 5, "step2"),
                             ((3, 4), "complex64", 2, 1, None)]:
    xs = [rand(stored_shape(shape, v), d) for _ in range(n)]
    out = np.stack([view(x, v) for x in xs], axis=axis)
    case("stack", xs, [d] * n, out, d, {"axis": axis}, {k: v for k in range(n)})

# ---------------------------------------------------------------- split
for shape, d, num, axis, v in [((6, 4), "float32", 3, 0, None), ((6, 4), "int8", 2, 1, "T"), ((0, 3), "bool", 2, 0, None),
                               ((5, 7), "complex64", 1, -1, "rev"), ((4, 10), "bfloat16", 5, 1, "step2"),
                               ((2, 9, 3), "uint64", 3, 1, None)]:
    x = rand(shape, d)
    for k, o in enumerate(np.split(view(x, v), num, axis=axis)):
        case("split_sections", [x], [d], o, d, {"num": num, "axis": axis, "out": k}, {0: v})
for shape, d, idx, axis, v in [((10,), "int32", (3, 7), 0, None), ((10, 3), "float16", (-4, 20), 0, "rev"),
                               ((4, 10), "int8", (8, 2, 5), 1, None), ((6, 5), "float32", (), 1, "T"),
                               ((6,), "uint64", (0, 6), 0, None), ((9, 4), "bfloat16", (-20, 4, 4), 0, "step2"),
                               ((3, 12), "bool", tuple(range(1, 12)), 1, None)]:
    x = rand(shape, d)
    for k, o in enumerate(np.split(view(x, v), list(idx), axis=axis)):
        case("split_indices", [x], [d], o, d, {"indices": ints(idx), "axis": axis, "out": k}, {0: v})

# ---------------------------------------------------------------- tile / repeat
for shape, d, reps, v in [((2, 3), "float32", (2, 2), None), ((3,), "int8", (4,), None), ((3,), "int8", (2, 1, 3), "rev"),
                          ((2, 3, 4), "bool", (2,), "T"), ((), "complex64", (3, 2), None), ((2, 3), "float16", (0, 2), None),
                          ((0, 3), "uint64", (2, 2), None), ((4, 5), "bfloat16", (1, 1), "step2"), ((5, 7), "int32", (), None),
                          ((1, 2, 1, 2, 1, 2, 1, 2, 1, 2), "int8", (2, 1, 2, 1, 2, 1, 2, 1, 2, 2), None),
                          ((33, 40), "int16", (3, 9), "T")]:
    unary("tile", shape, d, lambda x: np.tile(x, reps), {"reps": ints(reps)}, v)
for shape, d, rep, axis, v in [((2, 3), "float32", 2, 0, None), ((2, 3), "int8", 3, 1, "T"), ((2, 3), "bool", 2, "none", "rev"),
                               ((), "complex64", 4, "none", None), ((4,), "uint64", 0, 0, None), ((4,), "float16", 1, -1, None),
                               ((0, 2), "int32", 3, 1, None), ((3, 5), "bfloat16", 2, -1, "step2"), ((40, 31), "int16", 30, 0, "T")]:
    unary("repeat", shape, d, lambda x: np.repeat(x, rep, axis=None if axis == "none" else axis),
          {"repeats": rep, "axis": axis}, v)

# ---------------------------------------------------------------- pad
def pad_case(shape, d, pw, mode, value=None, v=None, vshape=()):
    x = rand(shape, d)
    xv = view(x, v)
    flat = ",".join(f"{lo},{hi}" for lo, hi in pw) if pw else "none"
    params = {"widths": flat, "mode": mode}
    if mode == "edge":
        case("pad", [x], [d], np.pad(xv, pw, mode="edge"), d, params, {0: v})
        return
    ins, dts = [x], [d]
    if value is None:
        fill = cast(np.zeros((), np.float32), "float32", d)
    else:
        vd, val = value
        fill = cast(val, vd, d)
        ins.append(np.asarray(val).reshape(vshape))
        dts.append(vd)
    out = np.pad(xv, pw, mode="constant", constant_values=np.asarray(fill).reshape(())) if pw else xv.copy()
    case("pad", ins, dts, out, d, params, {0: v})


for d in KEY + ["uint8", "int32", "float64"]:
    pad_case((3, 4), d, [(1, 2), (0, 3)], "constant")
    pad_case((3, 4), d, [(2, 0), (1, 1)], "constant", (d, rand((), d)), "T")
    pad_case((5,), d, [(3, 4)], "edge", v="rev")
    pad_case((2, 3, 4), d, [(1, 1), (0, 2), (2, 1)], "edge")
pad_case((), "float32", [], "constant")
pad_case((0, 3), "float32", [(1, 1), (2, 0)], "constant", ("float32", np.float32(7.5)))
pad_case((0, 3), "int8", [(0, 0), (1, 2)], "edge")
pad_case((4, 5), "int32", [(0, 0), (0, 0)], "constant")
pad_case((7, 9), "int16", [(2, 3), (4, 1)], "constant", ("float32", np.float32(-3.7)), "step2")
pad_case((3, 3), "float16", [(1, 1), (1, 1)], "constant", ("int32", np.int32(5)), None, (1,))
pad_case((6, 5), "complex64", [(2, 1), (3, 0)], "edge", v="T")
pad_case((1, 1, 1), "bfloat16", [(1, 0), (0, 2), (3, 3)], "edge")
pad_case((200, 180), "int8", [(5, 7), (3, 11)], "constant", ("int8", np.int8(-2)))  # threaded rows
pad_case((150, 160), "uint8", [(9, 2), (1, 17)], "edge", v="T")

# ---------------------------------------------------------------- roll
for shape, d, shift, axes, v in [((10,), "int32", (3,), None, None), ((3, 4), "float32", (5,), None, "T"),
                                 ((3, 4), "float32", (-1,), (1,), None), ((3, 4), "bool", (2, 3), (0, 1), "rev"),
                                 ((3, 4, 5), "complex64", (7,), (0, 2), None), ((3, 4), "int8", (1, 2), (1,), None),
                                 ((3, 4), "uint64", (1, 1), (0, 0), "step2"), ((0, 4), "float16", (2,), (1,), None),
                                 ((), "bfloat16", (3,), None, None), ((5, 6), "bfloat16", (-13, 4), (1, 0), "T"),
                                 ((4, 4), "int16", (4, -8), (0, 1), None), ((2, 3), "int32", (1, 2), None, None),
                                 ((5, 7), "float32", (1, 2, 3), (-1, 0), None), ((200, 170), "int8", (37, -55), (0, 1), "T")]:
    def f(x, shift=shift, axes=axes):
        if axes is None:
            return np.roll(x, sum(shift))
        if len(shift) == 1:
            return np.roll(x, shift[0], axis=axes)
        if len(axes) == 1:
            return np.roll(x, sum(shift), axis=axes[0])
        return np.roll(x, shift[:len(axes)], axis=axes)
    unary("roll", shape, d, f, {"shift": ints(shift), "axes": "null" if axes is None else ints(axes)}, v)

# ---------------------------------------------------------------- meshgrid
for shapes, dts, sparse, idx, vs in [([(3,), (4,)], ["float32", "int8"], 0, "xy", [None, "rev"]),
                                     ([(3,), (4,)], ["float32", "int8"], 1, "xy", [None, None]),
                                     ([(3,), (4,), (2,)], ["int32"] * 3, 0, "ij", [None, None, "step2"]),
                                     ([(3,), (4,), (2,)], ["bool", "bfloat16", "complex64"], 1, "ij", [None] * 3),
                                     ([(2, 2), (3,), (0,)], ["float16", "uint64", "int32"], 0, "xy", ["T", None, None]),
                                     ([(5,)], ["float32"], 0, "xy", [None]), ([()], ["int8"], 1, "ij", [None])]:
    xs = [rand(s, d) for s, d in zip(shapes, dts)]
    outs = np.meshgrid(*[view(x, v) for x, v in zip(xs, vs)], indexing=idx, sparse=bool(sparse))
    for k, o in enumerate(outs):
        case("meshgrid", xs, dts, o, dts[k], {"sparse": sparse, "indexing": idx, "out": k}, dict(enumerate(vs)))

# ---------------------------------------------------------------- diag / diagonal / trace
for shape, d, k, v in [((4,), "float32", 0, None), ((4,), "int8", 2, "rev"), ((3,), "bool", -1, None),
                       ((0,), "float32", 0, None), ((0,), "int32", 3, None), ((5,), "bfloat16", -3, "step2"),
                       ((3, 4), "complex64", 0, None), ((3, 4), "uint64", 1, "T"), ((3, 4), "float16", -2, "rev"),
                       ((3, 4), "int32", 7, None), ((3, 4), "int32", -5, None)]:
    unary("diag", shape, d, lambda x: np.diag(x, k), {"k": k}, v)
for shape, d, off, a1, a2, v in [((3, 4), "float32", 0, 0, 1, None), ((3, 4), "float32", 1, 1, 0, "T"),
                                 ((2, 3, 4), "int8", -1, 0, 2, "rev"), ((2, 3, 4), "bool", 2, -1, -2, None),
                                 ((5, 5, 2), "complex64", 0, 0, 1, "step2"), ((4, 0, 3), "float16", 0, 0, 2, None),
                                 ((3, 3), "bfloat16", 9, 0, 1, None), ((3, 3), "uint64", -9, 0, 1, None),
                                 ((33, 40), "int16", -3, 0, 1, "T")]:
    unary("diagonal", shape, d, lambda x: np.diagonal(x, off, a1, a2), {"offset": off, "a1": a1, "a2": a2}, v)


SUM_T = {"bool": "int32", "int8": "int32", "int16": "int32", "int32": "int32", "int64": "int64",
         "uint8": "uint32", "uint16": "uint32", "uint32": "uint32", "uint64": "uint64"}


def mlx_trace(x, xd, off, a1, a2, dt):
    dg = cast(np.diagonal(x, off, a1, a2), xd, dt)
    st = SUM_T.get(dt, dt)
    if st in ("int32", "int64", "uint32", "uint64"):
        wide = np.uint64 if st.startswith("u") else np.int64
        return dg.astype(wide).sum(axis=-1, dtype=wide).astype(NP[st]), st, 0
    if dt == "bfloat16":
        return to_bf16_bits(bf16_to_f32(dg).astype(np.float64).sum(axis=-1).astype(np.float32)), st, 8e-3
    if dt == "complex64":
        s = dg.astype(np.complex128).sum(axis=-1)
        return s.astype(np.complex64), st, 1e-6
    tol = {"float16": 1e-3, "float32": 1e-6, "float64": 1e-12}[dt]
    return dg.astype(np.float64).sum(axis=-1).astype(NP[dt]), st, tol


for shape, xd, dt, off, a1, a2, v in [((4, 4), "float32", "float32", 0, 0, 1, None), ((4, 5), "int32", "int32", 1, 0, 1, "T"),
                                      ((3, 4, 5), "int8", "int8", 0, 0, 2, None), ((3, 4, 5), "int8", "int64", -1, 2, 0, "rev"),
                                      ((4, 4), "bool", "bool", 0, 0, 1, None), ((6, 6), "uint8", "uint8", 0, 0, 1, None),
                                      ((5, 5), "uint64", "uint64", 0, 0, 1, None), ((5, 5), "float16", "float16", 0, 0, 1, None),
                                      ((5, 5), "bfloat16", "bfloat16", 1, 0, 1, "step2"), ((4, 4), "complex64", "complex64", 0, 0, 1, None),
                                      ((4, 4), "float32", "int32", 0, 0, 1, None), ((3, 3), "int32", "float16", 0, 0, 1, None),
                                      ((2, 0, 3), "float32", "float32", 0, 0, 2, None), ((3, 3), "float32", "float32", 5, 0, 1, None),
                                      ((2, 3, 60, 60), "float32", "float32", 2, 2, 3, None),
                                      ((8, 8), "float64", "float64", -2, 1, 0, "T"), ((6, 6), "int16", "uint16", 0, 0, 1, None)]:
    x = rand(shape, xd)
    if xd == "float32" and dt == "int32":
        x = (x * 10).astype(np.float32)
    if xd.startswith(("int", "uint")) and dt.startswith(("float", "bfloat")):
        x = (x % 50).astype(NP[xd])  # stay finite in float16
    want, st, tol = mlx_trace(view(x, v), xd, off, a1, a2, dt)
    # atol: a sum that cancels to ~0 is compared absolutely, at the tolerance's scale.
    case("trace", [x], [xd], want, st, {"offset": off, "a1": a1, "a2": a2, "dtype": dt}, {0: v},
         rtol=tol, atol=tol)

write_cases(OUT, lines)
print(f"gen_shape: {len(lines)} cases in {OUT}")
