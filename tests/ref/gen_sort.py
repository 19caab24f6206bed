"""NumPy fixtures for the sorting ops (tests/test_sort.c).

Usage: gen_sort.py OUTDIR

Ops and how their expected values are made:
- sort / argsort: np.sort / np.argsort with kind="stable" (MLX uses
  std::stable_sort; NumPy's stable sort also puts NaNs last and ties -0.0
  with 0.0). argsort indices as uint32 (MLX's index dtype).
- partition / argpartition / topk: MLX promises only the partition contract
  (the kth element in its sorted place, none greater before it, none smaller
  after it; topk: the k largest, in no stated order). Its CPU backend runs
  std::nth_element while a GPU may sort the whole row, so no element order
  is checked. The C test turns a result into a canonical form that equals
  the sorted row exactly when the contract holds: partition p ->
  sort(p[:kth]) ++ p[kth] ++ sort(p[kth+1:]); argpartition: the indices must
  be a permutation of the row, and the values they pick are canonicalised
  the same way; topk -> sort(topk). The expected output is np.sort of the row
  (the last k for topk). A wrong partition (an element on the wrong side,
  or a wrong kth element) gives a different canonical form, and the C test
  asserts that on hand-made wrong results.
- *_prop ops: the C test checks the partition property itself on the
  result in doubles, independently of the canonical form, and returns the
  row sorted, which must equal np.sort (values) or arange (indices).
All results are exact (integers, or floats that are only moved, never
computed): rtol = atol = 0. bfloat16 is stored as uint16 bits and ordered
through its float32 value.
"""
import os

import numpy as np

from fixtures import apply_view, bf16_to_f32, out_dir, write_cases
from fixtures import MLX_DTYPES as DTYPES
from fixtures import bf16_bits as to_bf16_bits

OUT = out_dir()
rng = np.random.default_rng(20240601)
lines = []


def save(name, arr):
    np.save(os.path.join(OUT, name), np.ascontiguousarray(arr), allow_pickle=False)


def values(dtype, shape, special=False):
    """Random data with many ties; floats get NaN, +-0, +-inf when special."""
    n = int(np.prod(shape)) if shape else 1
    if dtype == "bool":
        x = rng.integers(0, 2, n).astype(np.bool_)
    elif dtype in ("uint64", "int64"):
        info = np.iinfo(dtype)
        x = rng.integers(info.min, info.max, n, dtype=dtype, endpoint=True)
        if n > 4:  # ties
            x[rng.integers(0, n, n // 3)] = x[0]
    elif dtype.startswith(("uint", "int")):
        info = np.iinfo(dtype)
        x = rng.integers(info.min, info.max, n, endpoint=True).astype(dtype)
        if n > 4:
            x[rng.integers(0, n, n // 3)] = x[0]
    elif dtype == "complex64":
        re = rng.integers(-3, 4, n).astype(np.float32)
        im = rng.integers(-3, 4, n).astype(np.float32)
        x = (re + 1j * im).astype(np.complex64)
    else:
        f = np.round(rng.standard_normal(n) * 4, 1)  # rounding makes ties
        if special and n >= 8:
            idx = rng.permutation(n)
            f[idx[0]] = np.nan
            f[idx[1]] = -0.0
            f[idx[2]] = 0.0
            f[idx[3]] = np.inf
            f[idx[4]] = -np.inf
            f[idx[5]] = np.nan
            f[idx[6]] = -0.0
        if dtype == "bfloat16":
            x = to_bf16_bits(f)
        else:
            x = f.astype(dtype)
    return x.reshape(shape)


def order_values(x, dtype):
    """Values whose NumPy order is MLX's order for `dtype`."""
    return bf16_to_f32(x) if dtype == "bfloat16" else x


# ---------------------------------------------------------------- cases
counter = [0]


def case(op, x, out, dtype, params, view=None):
    cid = f"c{counter[0]:04d}"
    counter[0] += 1
    save(f"{cid}.in0.npy", x)
    keys = []
    if dtype == "bfloat16":
        keys += ["dtype0=bfloat16"]
        if op in ("sort", "partition", "argpartition", "topk", "partition_prop"):
            keys += ["out_dtype=bfloat16"]
    if view:
        keys.append(f"view0={view}")
    keys += [f"{k}={v}" for k, v in params.items()]
    save(f"{cid}.out.npy", out)
    lines.append(f"{cid} {op} 1 0 0 " + " ".join(keys))


def axis_param(axis):
    return "none" if axis is None else str(axis)


def add_sorts(dtype, shape, axis, view=None, special=False):
    x = values(dtype, shape, special)
    xv = apply_view(x, view)
    ov = order_values(xv, dtype)
    if axis is None:
        flat_o = ov.reshape(-1)
        idx = np.argsort(flat_o, kind="stable")
        vals = xv.reshape(-1)[idx]
    else:
        idx = np.argsort(ov, axis=axis, kind="stable")
        vals = np.take_along_axis(xv, idx, axis)
    p = {"axis": axis_param(axis)}
    case("sort", x, vals, dtype, p, view)
    case("argsort", x, idx.astype(np.uint32), dtype, p, view)


def add_selects(dtype, shape, axis, kth, k, view=None, special=False):
    x = values(dtype, shape, special)
    xv = apply_view(x, view)
    ov = order_values(xv, dtype)
    if axis is None:
        xv, ov, ax = xv.reshape(-1), ov.reshape(-1), 0
    else:
        ax = axis % xv.ndim
    length = xv.shape[ax]
    p = {"axis": axis_param(axis), "kth": kth}
    srt = np.take_along_axis(xv, np.argsort(ov, ax, kind="stable"), ax)
    case("partition", x, srt, dtype, p, view)
    case("argpartition", x, srt, dtype, p, view)
    if dtype not in ("complex64", "uint64", "int64"):  # C property check reads doubles
        case("partition_prop", x, srt, dtype, p, view)
        ar = np.broadcast_to(np.arange(length, dtype=np.uint32).reshape(
            [-1 if d == ax else 1 for d in range(xv.ndim)]), xv.shape)
        case("argpartition_prop", x, ar, dtype, p, view)
    pk = {"axis": axis_param(axis), "k": k}
    case("topk", x, np.take(srt, np.arange(length - k, length), ax), dtype, pk, view)


for d in DTYPES:
    special = d in ("float16", "float32", "float64", "bfloat16")
    for n in (1, 2, 3, 5, 7, 16, 33, 400, 1009):
        add_sorts(d, (n,), 0, special=special)
    add_sorts(d, (7, 33), 1, special=special)
    add_sorts(d, (7, 33), 0, special=special)
    add_sorts(d, (3, 4, 5), 1)
    add_sorts(d, (3, 4, 5), None)
    add_sorts(d, (), None)
    add_sorts(d, (0, 3), 1)  # (3, 0) shapes: checked in C (the npy loader rejects them)
    add_sorts(d, (0, 4), 0)
    add_selects(d, (33,), 0, 16, 5, special=special)
    add_selects(d, (7, 50), -1, -3, 7, special=special)
    add_selects(d, (9, 6), 0, 2, 3)

# Long rows (radix passes), threading (40 x 1000 > 32K elements; larger
# threaded sorts are checked in C on generated data), views.
for d in ("float32", "int32", "float64", "uint8", "float16", "bfloat16", "int64"):
    special = d in ("float32", "float64", "float16", "bfloat16")
    add_sorts(d, (3000,), 0, special=special)
    add_selects(d, (1000,), 0, 500, 10, special=special)
for d in ("float32", "int16"):
    add_sorts(d, (40, 1000), 1, special=d == "float32")
    add_selects(d, (40, 1000), 1, -1, 999, special=d == "float32")
for d in ("float32", "int16", "bfloat16", "complex64"):
    for v in ("T", "step2", "rev"):
        add_sorts(d, (12, 9), 1, view=v)
        add_sorts(d, (12, 9), 0, view=v)
        add_selects(d, (12, 9), 1, 3, 4, view=v)
# All-equal rows and sorted / reverse-sorted inputs stress the pivoting.
for n in (4, 100, 1000):
    x = np.zeros(n, np.float32)
    p = {"axis": "0", "kth": n // 2}
    for name, arr in (("zeros", x), ("asc", np.arange(n, dtype=np.float32)),
                      ("desc", np.arange(n, 0, -1).astype(np.float32))):
        case("partition", arr, np.sort(arr), "float32", p)
        case("argpartition", arr, np.sort(arr), "float32", p)
        case("argsort", arr, np.argsort(arr, kind="stable").astype(np.uint32), "float32", {"axis": "0"})
# topk with k = the whole axis (k = 0 gives a (4, 0) result: checked in C).
x = values("float32", (4, 6))
case("topk", x, np.sort(x, axis=1), "float32", {"axis": "1", "k": 6})
case("topk", x, np.sort(x.reshape(-1)), "float32", {"axis": "none", "k": 24})

write_cases(OUT, lines)
print(f"gen_sort: {len(lines)} cases in {OUT}")
