#!/usr/bin/python3
"""NumPy fixtures for the indexing family (tests/test_indexing.c).

Usage: gen_indexing.py OUTDIR

Tolerances: almost everything here moves elements without arithmetic
(slice, take, gather, scatter, masked_scatter, *_along_axis), so results must
be bit-exact: rtol = atol = 0. The reducing scatters fold the updates in
sequentially in index order, exactly as np.<ufunc>.at does; integers and
bools are therefore exact, f32/f64 get rtol 1e-6 / 1e-12 only as slack for a
compiler contracting differently (the order is the same), and f16 gets
rtol 1e-3 (one f16 ulp) because both sides round to f16 after every step in
the same order. bf16 reducing cases use small integer values whose sums and
products are exactly representable, so they are exact too.
"""

import numpy as np

from fixtures import bf16_bits, out_dir, save_npy, write_cases
from fixtures import apply_view as view_of

OUT = out_dir("fixtures_indexing")
rng = np.random.default_rng(20240611)
lines = []
END = 9223372036854775807  # MX_SLICE_END


def gen(shape, dtype, lo=-9, hi=10):
    """Random values of a dtype ('bfloat16' gives float32 values exactly
    representable in bf16, to be stored as bits by case())."""
    if dtype == "bool":
        return rng.integers(0, 2, size=shape).astype(np.bool_)
    if dtype == "bfloat16":
        return rng.integers(lo, hi, size=shape).astype(np.float32) * np.float32(0.5)
    dt = np.dtype(dtype)
    if dt.kind == "u":
        return rng.integers(0, min(hi * 10, np.iinfo(dt).max), size=shape).astype(dt)
    if dt.kind == "i":
        return rng.integers(lo * 10, hi * 10, size=shape).astype(dt)
    if dt.kind == "c":
        return (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(dt)
    return rng.standard_normal(shape).astype(dt)


def case(cid, op, ins, out, rtol=0.0, atol=0.0, views=None, bf=(), out_bf=False, **params):
    """ins: stored arrays (views are applied by the runner, and must already
    have been applied by the caller when computing `out`). bf: indices of
    inputs stored as bf16 bits (given as float32 values)."""
    toks = [cid, op, str(len(ins)), repr(rtol), repr(atol)]
    for k, x in enumerate(ins):
        x = np.asarray(x)
        if k in bf:
            x = bf16_bits(x)
            toks.append(f"dtype{k}=bfloat16")
        save_npy(OUT, f"{cid}.in{k}.npy", x)
    o = np.asarray(out)
    if out_bf:
        o = bf16_bits(o)
        toks.append("out_dtype=bfloat16")
    save_npy(OUT, f"{cid}.out.npy", o)
    for k, v in (views or {}).items():
        toks.append(f"view{k}={v}")
    for k, v in params.items():
        if isinstance(v, (list, tuple)):
            if not len(v):
                continue  # an absent key is an empty list for the C side
            v = ",".join(str(int(e)) for e in v)
        toks.append(f"{k}={v}")
    lines.append(" ".join(toks))


def rand_idx(n, size, dtype="int32", neg=True):
    """Indices in [-n, n) (or [0, n) when the dtype is unsigned / neg False)."""
    dt = np.dtype(dtype)
    lo = -n if (neg and dt.kind == "i") else 0
    return rng.integers(lo, n, size=size).astype(dt)


def wrap(idx, n):
    i = np.asarray(idx).astype(np.int64)
    return np.where(i < 0, i + n, i)


# ------------------------------------------------------------------ slice
def slice_case(cid, a, start, stop, strides, view=None, bf=False, **kw):
    x = view_of(a, view)
    sl = []
    for d in range(len(start if start is not None else stop)):
        s = None if start is None else start[d]
        e = None if (stop is None or stop[d] == END) else stop[d]
        st = None if strides is None else strides[d]
        sl.append(slice(s, e, st))
    out = x[tuple(sl)]
    params = {}
    if start is not None:
        params["start"] = start
    else:
        params["start"] = "none"
    if stop is not None:
        params["stop"] = stop
    if strides is not None:
        params["strides"] = strides
    params["naxes"] = len(start if start is not None else stop)
    case(cid, "slice", [a], out, views={0: view} if view else None,
         bf=(0,) if bf else (), out_bf=bf, **params, **kw)


a79 = gen((7, 9), "float32")
slice_case("slice_basic", a79, [1, 2], [5, 8], None)
slice_case("slice_step", a79, [0, 1], [END, END], [2, 3])
slice_case("slice_neg_start", a79, [-3, -5], [END, -1], [1, 1])
slice_case("slice_neg_step", a79, [5, 8], [1, END], [-1, -2])
slice_case("slice_rev_all", a79, [END, END], [END, END], [-1, -1])
slice_case("slice_neg_step_negstop", a79, [-1, -2], [-6, -9], [-2, -3])
slice_case("slice_clamp", a79, [-100, 3], [100, 100], [1, 1])
slice_case("slice_clamp_neg", a79, [100, 100], [-100, -100], [-3, -4])
slice_case("slice_empty", a79, [4, 0], [2, 9], [1, 1])
slice_case("slice_empty_neg", a79, [2, 0], [4, 9], [-1, 1])
slice_case("slice_first_axis", gen((5, 4, 3), "int64"), [1], [4], None)
slice_case("slice_start_none", gen((6, 5), "int32"), None, [END, 2], [-1, 1])
slice_case("slice_view_T", gen((6, 8), "float32"), [1, 0], [7, 5], [2, 1], view="T")
slice_case("slice_view_rev", gen((4, 11), "float32"), [0, 2], [4, 10], [1, 3], view="rev")
slice_case("slice_f16", gen((5, 6), "float16"), [0, -1], [5, 0], [2, -1])
slice_case("slice_bf16", gen((5, 6), "bfloat16"), [1, 1], [4, 6], [1, 2], bf=True)
slice_case("slice_bool", gen((5, 6), "bool"), [4, 0], [END, 6], [-2, 2])
slice_case("slice_c64", gen((3, 4), "complex64"), [2, 3], [END, END], [-1, -1])
slice_case("slice_zero_dim", gen((0, 4), "float32"), [0, 1], [END, 3], None)
slice_case("slice_1000", gen((1037,), "float32"), [3], [1030], [7])


# ----------------------------------------------------------- slice_update
def slice_update_case(cid, a, upd, start, stop, strides, view=None, bf=False):
    x = view_of(a, view).copy()
    sl = tuple(slice(s, None if e == END else e, st)
               for s, e, st in zip(start, stop, strides or [None] * len(start)))
    x[sl] = np.asarray(upd).astype(x.dtype)
    params = {"start": start, "stop": stop, "naxes": len(start)}
    if strides is not None:
        params["strides"] = strides
    case(cid, "slice_update", [a, upd], x, views={0: view} if view else None,
         bf=(0, 1) if bf else (), out_bf=bf, **params)


slice_update_case("su_basic", a79, gen((3, 4), "float32"), [1, 2], [4, 6], None)
slice_update_case("su_bcast", a79, gen((1, 3), "float32"), [0, 0], [END, 9], [2, 3])
slice_update_case("su_scalar", a79, np.float32(7.5), [2, 1], [3, 8], [1, 1])
slice_update_case("su_neg_step", a79, gen((3, 5), "float32"), [6, 8], [0, END], [-2, -2])
slice_update_case("su_rev_full", gen((4, 5), "int32"), gen((4, 5), "int32"),
                  [END, END], [END, END], [-1, -1])
slice_update_case("su_partial_axes", gen((4, 3, 2), "int64"), gen((3, 2), "int64"), [1], [3], None)
slice_update_case("su_cast", gen((5, 5), "float32"), gen((2, 5), "int32"), [1, 0], [3, END], None)
slice_update_case("su_view_T", gen((6, 4), "float32"), gen((2, 6), "float32"),
                  [1, 0], [3, 6], None, view="T")
slice_update_case("su_f16", gen((5, 6), "float16"), gen((5, 2), "float16"), [0, 1], [5, 6], [1, 3])
slice_update_case("su_bf16", gen((5, 6), "bfloat16"), gen((2, 6), "bfloat16"),
                  [0, 0], [4, 6], [2, 1], bf=True)
slice_update_case("su_bool", gen((4, 4), "bool"), np.bool_(True), [0, 0], [4, 4], [3, 3])
slice_update_case("su_empty", gen((4, 4), "float32"), gen((0, 4), "float32"), [2, 0], [2, 4], None)
slice_update_case("su_big", gen((300, 130), "float32"), gen((150, 130), "float32"),
                  [0, 0], [300, 130], [2, 1])


# ------------------------------------------------------------------- take
def take_case(cid, a, idx, axis, views=None, bf=False):
    x = view_of(a, (views or {}).get(0))
    i = view_of(idx, (views or {}).get(1))
    if axis is None:
        out = x.reshape(-1)[wrap(i, x.size)]
    else:
        out = np.take(x, wrap(i, x.shape[axis]), axis=axis)
    case(cid, "take", [a, idx], out, views=views, bf=(0,) if bf else (), out_bf=bf,
         axis="none" if axis is None else axis)


a733 = gen((7, 33), "float32")
take_case("take_ax0", a733, rand_idx(7, (5,)), 0)
take_case("take_ax1", a733, rand_idx(33, (4, 3)), 1)
take_case("take_axm1", a733, rand_idx(33, (6,), "int64"), -1)
take_case("take_none", a733, rand_idx(231, (3, 4)), None)
take_case("take_scalar_idx", a733, np.int32(-2), 1)
take_case("take_3d_mid", gen((4, 5, 6), "int32"), rand_idx(5, (2, 7), "int16"), 1)
take_case("take_embed", gen((500, 64), "float32"), rand_idx(500, (5, 9), "int64"), 0)
take_case("take_big", gen((2000, 33), "float32"), rand_idx(2000, (700,), "uint32"), 0)
take_case("take_u8", gen((5, 6), "float64"), rand_idx(6, (8,), "uint8"), 1)
take_case("take_u64", gen((5, 6), "int8"), rand_idx(5, (3,), "uint64"), 0)
take_case("take_i8", gen((5, 6), "uint16"), rand_idx(6, (4,), "int8"), -1)
take_case("take_f16", gen((5, 6), "float16"), rand_idx(6, (4,)), 1)
take_case("take_bf16", gen((5, 6), "bfloat16"), rand_idx(5, (4,)), 0, bf=True)
take_case("take_bool", gen((5, 6), "bool"), rand_idx(6, (2, 2)), 1)
take_case("take_c64", gen((5, 6), "complex64"), rand_idx(30, (7,)), None)
take_case("take_u64_data", gen((9,), "uint64"), rand_idx(9, (9,)), 0)
take_case("take_0d_a", np.float32(3.5), np.array([0, -1, 0], np.int32), None)
# (npy loading needs any 0 dim of an expected output to come first; C tests
# cover empty dims elsewhere)
take_case("take_empty_idx", a733, np.zeros((0,), np.int32), 0)
take_case("take_empty_a", gen((0, 3), "float32"), rand_idx(3, (2,)), 1)
take_case("take_view_T", gen((6, 5), "float32"), rand_idx(6, (4,)), 1, views={0: "T"})
take_case("take_view_step2", gen((4, 9), "float32"), rand_idx(4, (3,)), 0, views={0: "step2"})
take_case("take_view_rev", gen((4, 9), "int32"), rand_idx(9, (3,)), 1, views={0: "rev"})
take_case("take_idx_rev", gen((4, 9), "int32"), rand_idx(9, (2, 5)), 1, views={1: "rev"})
take_case("take_idx_T", gen((10, 3), "float32"), rand_idx(10, (3, 4)), 0, views={1: "T"})


# -------------------------------------------------------- take_along_axis
def tal_case(cid, a, idx, axis, views=None, bf=False):
    x = view_of(a, (views or {}).get(0))
    i = view_of(idx, (views or {}).get(1))
    if axis is None:
        out = np.take_along_axis(x.reshape(-1), wrap(i, x.size), axis=0)
    else:
        out = np.take_along_axis(x, wrap(i, x.shape[axis]), axis=axis)
    case(cid, "take_along_axis", [a, idx], out, views=views, bf=(0,) if bf else (),
         out_bf=bf, axis="none" if axis is None else axis)


a47 = gen((4, 7), "float32")
tal_case("tal_ax1", a47, rand_idx(7, (4, 3)), 1)
tal_case("tal_ax0", a47, rand_idx(4, (2, 7)), 0)
tal_case("tal_bcast_idx", a47, rand_idx(7, (1, 5)), 1)
tal_case("tal_bcast_a", gen((1, 7), "float32"), rand_idx(7, (4, 3)), 1)
tal_case("tal_3d_last", gen((3, 4, 5), "int64"), rand_idx(5, (3, 4, 2), "int64"), -1)
tal_case("tal_3d_mid", gen((3, 4, 5), "float16"), rand_idx(4, (3, 6, 5), "uint8"), 1)
tal_case("tal_bf16", gen((3, 6), "bfloat16"), rand_idx(6, (3, 6)), 1, bf=True)
tal_case("tal_bool", gen((3, 6), "bool"), rand_idx(3, (2, 6)), 0)
tal_case("tal_none", gen((3, 4), "float32"), rand_idx(12, (5,)), None)
tal_case("tal_view_T", gen((5, 4), "float32"), rand_idx(5, (4, 2)), 1, views={0: "T"})
tal_case("tal_idx_rev", gen((5, 4), "int32"), rand_idx(4, (5, 6)), 1, views={1: "rev"})
tal_case("tal_empty", gen((3, 4), "float32"), np.zeros((0, 4), np.int32), 0)
tal_case("tal_big", gen((64, 600), "float32"), rand_idx(600, (64, 300)), 1)


# --------------------------------------------------------- put_along_axis
def pal_case(cid, a, idx, vals, axis, views=None, bf=False):
    x = view_of(a, (views or {}).get(0)).copy()
    i = view_of(idx, (views or {}).get(1))
    v = np.asarray(vals).astype(x.dtype)
    if axis is None:
        f = x.reshape(-1)
        np.put_along_axis(f, wrap(i, x.size), v, axis=0)
        out = f.reshape(x.shape)
    else:
        np.put_along_axis(x, wrap(i, x.shape[axis]), v, axis=axis)
        out = x
    case(cid, "put_along_axis", [a, idx, vals], out, views=views,
         bf=(0, 2) if bf else (), out_bf=bf, axis="none" if axis is None else axis)


def uniq_idx(n, rows, k, neg=True):
    """rows x k distinct positions per row (no duplicates: NumPy does not
    promise which duplicate wins; the C test checks that separately)."""
    out = np.stack([rng.permutation(n)[:k] for _ in range(rows)])
    if neg:
        flip = rng.integers(0, 2, size=out.shape).astype(bool)
        out = np.where(flip, out - n, out)
    return out.astype(np.int32)


pal_case("pal_ax1", gen((4, 7), "float32"), uniq_idx(7, 4, 3), gen((4, 3), "float32"), 1)
pal_case("pal_ax0", gen((5, 3), "int32"), uniq_idx(5, 3, 2).T.copy(), gen((2, 3), "int32"), 0)
pal_case("pal_bcast_vals", gen((4, 7), "float32"), uniq_idx(7, 4, 3), gen((4, 1), "float32"), 1)
pal_case("pal_scalar_vals", gen((4, 7), "int64"), uniq_idx(7, 4, 2), np.int64(-5), 1)
pal_case("pal_3d", gen((3, 4, 5), "float16"),
         uniq_idx(5, 12, 2).reshape(3, 4, 2), gen((3, 4, 2), "float16"), -1)
pal_case("pal_bf16", gen((3, 6), "bfloat16"), uniq_idx(6, 3, 4), gen((3, 4), "bfloat16"), 1,
         bf=True)
pal_case("pal_bool", gen((3, 6), "bool"), uniq_idx(6, 3, 2), gen((3, 2), "bool"), 1)
pal_case("pal_none", gen((3, 4), "float32"), rng.permutation(12)[:5].astype(np.int64),
         gen((5,), "float32"), None)
pal_case("pal_view_T", gen((7, 4), "float32"), uniq_idx(7, 4, 3), gen((4, 3), "float32"), 1,
         views={0: "T"})
pal_case("pal_cast", gen((4, 7), "float32"), uniq_idx(7, 4, 3), gen((4, 3), "int32"), 1)
pal_case("pal_big", gen((64, 600), "float32"), uniq_idx(600, 64, 200),
         gen((64, 200), "float32"), 1)


# ------------------------------------------------------------ gather/scatter
def grids(shape, idxs, axes, win):
    """Fancy-index tuple selecting, for each index tuple, the window `win`
    whose origin has idxs[k] on axes[k] and 0 elsewhere."""
    nd = len(shape)
    axes = [a % nd for a in axes]
    ib = np.broadcast_arrays(*idxs) if idxs else []
    ish = ib[0].shape if idxs else ()
    ni = len(ish)
    g = []
    for d in range(nd):
        ar = np.arange(win[d]).reshape((1,) * ni + tuple(-1 if e == d else 1 for e in range(nd)))
        if d in axes:
            v = wrap(ib[axes.index(d)], shape[d]).reshape(ish + (1,) * nd)
            g.append(v + ar)
        else:
            g.append(ar)
    full = ish + tuple(win)
    return tuple(np.broadcast_to(x, full) for x in g), full


def gather_case(cid, a, idxs, axes, slice_sizes, views=None, bf=False):
    x = view_of(a, (views or {}).get(0))
    vi = [view_of(i, (views or {}).get(k + 1)) for k, i in enumerate(idxs)]
    g, full = grids(x.shape, vi, axes, slice_sizes)
    out = x[g] if x.ndim else np.broadcast_to(x, full)
    params = {"slice_sizes": slice_sizes}
    if axes:
        params["axes"] = axes
    case(cid, "gather", [a] + list(idxs), out, views=views, bf=(0,) if bf else (), out_bf=bf,
         **params)


a654 = gen((6, 5, 4), "float32")
gather_case("gather_ax0", a654, [rand_idx(6, (3,))], [0], [1, 5, 4])
gather_case("gather_two", a654, [rand_idx(6, (3, 1)), rand_idx(4, (1, 2), "int64")], [0, 2],
            [1, 5, 1])
gather_case("gather_window", a654,
            [np.array([0, 3, -5, -2, 1], np.int32)], [1], [6, 2, 4])
gather_case("gather_noidx", a654, [], [], [2, 3, 4])
gather_case("gather_negaxis", a654, [rand_idx(4, (2, 2), "int16")], [-1], [3, 5, 1])
gather_case("gather_all_axes", a654,
            [rand_idx(6, (4,)), rand_idx(5, (4,), "uint8"), rand_idx(4, (4,))], [0, 1, 2],
            [1, 1, 1])
gather_case("gather_embed", gen((500, 64), "float32"), [rand_idx(500, (50,), "int64")], [0],
            [1, 64])
gather_case("gather_f16", gen((5, 6), "float16"), [rand_idx(6, (3,))], [1], [5, 1])
gather_case("gather_bf16", gen((5, 6), "bfloat16"), [rand_idx(5, (3,))], [0], [1, 4], bf=True)
gather_case("gather_bool", gen((5, 6), "bool"), [rand_idx(5, (2, 3))], [0], [1, 6])
gather_case("gather_i64", gen((5, 6), "int64"), [rand_idx(6, (3,), "uint32")], [1], [2, 1])
gather_case("gather_c64", gen((5, 6), "complex64"), [rand_idx(6, (3,))], [1], [5, 1])
gather_case("gather_view_T", gen((6, 5), "float32"), [rand_idx(5, (4,))], [0], [1, 6],
            views={0: "T"})
gather_case("gather_view_rev", gen((5, 8), "float32"), [rand_idx(5, (4,))], [0], [1, 8],
            views={0: "rev"})
gather_case("gather_idx_step2", gen((5, 8), "int32"), [rand_idx(5, (3, 6))], [0], [1, 2],
            views={1: "step2"})
gather_case("gather_empty_idx", a654, [np.zeros((0,), np.int32)], [0], [1, 5, 4])
gather_case("gather_0d", np.float32(2.5), [], [], [])
gather_case("gather_big", gen((1500, 33), "float32"), [rand_idx(1500, (600,))], [0], [1, 33])


SCATTER_REF = {
    "scatter_add": np.add, "scatter_prod": np.multiply,
    "scatter_max": np.maximum, "scatter_min": np.minimum,
}


def scatter_case(cid, op, a, idxs, axes, upd, rtol=0.0, atol=0.0, views=None, bf=False):
    x = view_of(a, (views or {}).get(0)).copy()
    u = view_of(upd, (views or {}).get(len(idxs) + 1))
    vi = [view_of(i, (views or {}).get(k + 1)) for k, i in enumerate(idxs)]
    ni = u.ndim - x.ndim
    g, _ = grids(x.shape, vi, axes, u.shape[ni:])
    uu = np.asarray(u).astype(x.dtype)
    if op == "scatter":
        x[g] = uu
    else:
        SCATTER_REF[op].at(x, g, uu)
    params = {"axes": axes} if axes else {}
    case(cid, op, [a] + list(idxs) + [upd], x, rtol=rtol, atol=atol, views=views,
         bf=(0, len(idxs) + 1) if bf else (), out_bf=bf, **params)


def distinct(n, k, dtype="int32"):
    v = rng.permutation(n)[:k]
    flip = rng.integers(0, 2, size=k).astype(bool)
    if np.dtype(dtype).kind == "i":
        v = np.where(flip, v - n, v)
    return v.astype(dtype)


# plain scatter: distinct positions only (NumPy leaves duplicates unspecified)
scatter_case("sc_ax0", "scatter", gen((6, 5), "float32"), [distinct(6, 4)], [0],
             gen((4, 1, 5), "float32"))
scatter_case("sc_two", "scatter", gen((6, 5), "int32"), [distinct(6, 3), distinct(5, 3)], [0, 1],
             gen((3, 1, 1), "int32"))
scatter_case("sc_window", "scatter", gen((6, 5), "float32"), [distinct(6, 3)], [0],
             gen((3, 1, 3), "float32"))
scatter_case("sc_3d", "scatter", gen((4, 5, 6), "float16"), [distinct(5, 2, "int64")], [-2],
             gen((2, 4, 1, 6), "float16"))
scatter_case("sc_bf16", "scatter", gen((5, 4), "bfloat16"), [distinct(5, 3)], [0],
             gen((3, 1, 4), "bfloat16"), bf=True)
scatter_case("sc_bool", "scatter", gen((5, 4), "bool"), [distinct(4, 2)], [1],
             gen((2, 5, 1), "bool"))
scatter_case("sc_cast", "scatter", gen((5, 4), "float32"), [distinct(5, 2)], [0],
             gen((2, 1, 4), "int64"))
scatter_case("sc_noidx", "scatter", gen((5, 4), "float32"), [], [], gen((2, 3), "float32"))
scatter_case("sc_view_T", "scatter", gen((5, 6), "float32"), [distinct(6, 3)], [0],
             gen((3, 1, 5), "float32"), views={0: "T"})
scatter_case("sc_upd_rev", "scatter", gen((6, 5), "int64"), [distinct(6, 3)], [0],
             gen((3, 1, 5), "int64"), views={2: "rev"})
scatter_case("sc_empty", "scatter", gen((6, 5), "float32"), [np.zeros((0,), np.int32)], [0],
             gen((0, 1, 5), "float32"))

for op, dts in (("scatter_add", ["float32", "int8", "uint8", "bool", "float16", "int64",
                                 "complex64", "float64"]),
                ("scatter_prod", ["float32", "int16", "uint8", "bool", "float16", "complex64"]),
                ("scatter_max", ["float32", "int32", "uint16", "bool", "float16", "float64"]),
                ("scatter_min", ["float32", "int64", "uint32", "bool", "float16", "int8"])):
    for dt in dts:
        rt = {"float32": 1e-6, "float64": 1e-12, "complex64": 1e-6, "float16": 1e-3}.get(dt, 0.0)
        src = gen((6, 5), dt)
        upd = gen((9, 1, 5), dt, lo=-3, hi=4) if op == "scatter_prod" else gen((9, 1, 5), dt)
        if op == "scatter_prod" and dt in ("float32", "float16", "complex64"):
            upd = (upd * 0.5 + 1).astype(upd.dtype)
        # 9 updates into 6 rows: duplicates guaranteed, negative ones too
        # complex products may cancel: atol covers the rounding of |a||b|
        at = 1e-6 if dt == "complex64" else 0.0
        scatter_case(f"{op}_{dt}", op, src, [rand_idx(6, (9,), "int32")], [0], upd, rtol=rt,
                     atol=at)
    # bf16 with small integers (sums/products exact in bf16)
    scatter_case(f"{op}_bf16", op, gen((5, 4), "bfloat16", -3, 4), [rand_idx(5, (7,))], [0],
                 gen((7, 1, 4), "bfloat16", -3, 4), bf=True)
    # two index arrays broadcast against each other, window (1, 3) on a 3-D array
    scatter_case(f"{op}_two_3d", op, gen((4, 3, 5), "float32"),
                 [rand_idx(4, (3, 1)), rand_idx(5, (1, 4), "int64")], [0, 2],
                 gen((3, 4, 1, 3, 1), "float32") * 0.5 + 1, rtol=1e-6)

scatter_case("scatter_add_big", "scatter_add", gen((20, 2048), "float32"),
             [rand_idx(20, (40,))], [0], gen((40, 1, 2048), "float32"), rtol=1e-6)
scatter_case("scatter_add_many", "scatter_add", gen((1000,), "int32"),
             [rand_idx(1000, (5000,))], [0], gen((5000, 1), "int32"))
scatter_case("scatter_max_view", "scatter_max", gen((5, 6), "float32"), [rand_idx(6, (4,))], [0],
             gen((4, 1, 5), "float32"), views={0: "T"})


# --------------------------------------------------------- masked_scatter
def ms_case(cid, a, mask, src, views=None, bf=False):
    x = view_of(a, (views or {}).get(0)).copy()
    m = view_of(mask, (views or {}).get(1))
    s = view_of(np.asarray(src), (views or {}).get(2)).astype(x.dtype)
    tail = x.shape[m.ndim:]
    cnt = int(m.sum())
    if s.ndim == len(tail) + 1:
        s = np.broadcast_to(s, (s.shape[0],) + tail)[:cnt]
    else:
        s = np.broadcast_to(s, (cnt,) + tail)
    x[m] = s
    case(cid, "masked_scatter", [a, mask, src], x, views=views, bf=(0, 2) if bf else (),
         out_bf=bf)


m45 = gen((4, 5), "bool")
ms_case("ms_full", gen((4, 5), "float32"), m45, gen((int(m45.sum()),), "float32"))
ms_case("ms_scalar", gen((4, 5), "float32"), m45, np.float32(-1.5))
ms_case("ms_extra_src", gen((4, 5), "int32"), m45, gen((20,), "int32"))
m4 = np.array([True, False, True, True])
ms_case("ms_rows", gen((4, 5), "float32"), m4, gen((3, 5), "float32"))
ms_case("ms_rows_bcast", gen((4, 5), "float32"), m4, gen((5,), "float32"))
ms_case("ms_rows_bcast2", gen((4, 5), "int64"), m4, gen((3, 1), "int64"))
ms_case("ms_3d", gen((3, 4, 2), "float16"), gen((3, 4), "bool"), gen((12, 2), "float16"))
ms_case("ms_bf16", gen((4, 5), "bfloat16"), m45, gen((20,), "bfloat16"), bf=True)
ms_case("ms_bool", gen((4, 5), "bool"), m45, gen((20,), "bool"))
ms_case("ms_cast", gen((4, 5), "float32"), m45, gen((20,), "int32"))
ms_case("ms_view_T", gen((5, 4), "float32"), m45, gen((20,), "float32"), views={0: "T"})
ms_case("ms_mask_T", gen((4, 4), "float32"), gen((4, 4), "bool"), gen((16,), "float32"),
        views={1: "T"})
ms_case("ms_src_rev", gen((4, 5), "float32"), m45, gen((20,), "float32"), views={2: "rev"})
ms_case("ms_none", gen((4, 5), "float32"), np.zeros((4, 5), bool), gen((1,), "float32"))
ms_case("ms_empty", gen((0, 5), "float32"), np.zeros((0,), bool), gen((0, 5), "float32"))
mbig = gen((150, 257), "bool")
ms_case("ms_big", gen((150, 257), "float32"), mbig, gen((150 * 257,), "float32"))

write_cases(OUT, lines)
print(f"gen_indexing: {len(lines)} cases in {OUT}")
