"""NumPy fixtures for the sorting ops (tests/test_sort.c).

Usage: gen_sort.py OUTDIR

Ops and how their expected values are made:
- sort / argsort: np.sort / np.argsort with kind="stable" (MLX uses
  std::stable_sort; NumPy's stable sort also puts NaNs last and ties -0.0
  with 0.0). argsort indices as uint32 (MLX's index dtype).
- partition / argpartition / topk: MLX's CPU backend runs std::nth_element,
  and its Linux builds use libstdc++, so the order of the elements is
  deterministic. `nth_element` below transcribes libstdc++'s introselect
  with MLX's comparators (values: NaN last; indices: value, then index), and
  every result it gives is checked here against the partition property with
  np.partition's value at kth, so a wrong transcription cannot pass.
- *_prop ops: the C test checks the partition property itself on the
  result, independently of the transcription, and returns the row sorted,
  which must equal np.sort (values) or arange (indices).
- topk_sorted: np.sort(topk) == np.sort(a)[-k:] (MLX documents no order).
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


# ---------------------------------------------------------------- libstdc++ nth_element
def make_less(row, tie):
    """MLX's comparators on plain Python values (fast enough for 1000s)."""
    isf = row.dtype.kind == "f"
    if row.dtype.kind == "c":  # (real, imag) lexicographic, no NaN handling
        vals = [(float(v.real), float(v.imag)) for v in row]
    else:
        vals = row.tolist()

    def less(a, b):  # a, b: indices into row
        va, vb = vals[a], vals[b]
        if isf:
            if va != va:
                return False
            if vb != vb:
                return True
        if va < vb:
            return True
        return tie and va == vb and a < b
    return less


def nth_element(row, nth, tie):
    """Returns the permutation (list of original positions) that libstdc++'s
    std::nth_element leaves, comparing row values (tie: then positions)."""
    vals = row
    f = list(range(len(row)))
    less = make_less(vals, tie)
    n = len(f)
    if n == 0 or nth == n:
        return f

    def sel_insertion(lo, hi):
        for i in range(lo + 1, hi):
            v = f[i]
            if less(v, f[lo]):
                f[lo + 1:i + 1] = f[lo:i]
                f[lo] = v
            else:
                j = i
                while less(v, f[j - 1]):
                    f[j] = f[j - 1]
                    j -= 1
                f[j] = v

    def adjust_heap(base, hole, length, v):
        top = hole
        child = hole
        while child < (length - 1) // 2:
            child = 2 * (child + 1)
            if less(f[base + child], f[base + child - 1]):
                child -= 1
            f[base + hole] = f[base + child]
            hole = child
        if length % 2 == 0 and child == (length - 2) // 2:
            child = 2 * (child + 1)
            f[base + hole] = f[base + child - 1]
            hole = child - 1
        parent = (hole - 1) // 2 if hole > 0 else 0
        while hole > top and less(f[base + parent], v):
            f[base + hole] = f[base + parent]
            hole = parent
            parent = (hole - 1) // 2 if hole > 0 else 0
        f[base + hole] = v

    def heap_select(lo, mid, hi):
        length = mid - lo
        if length >= 2:
            parent = (length - 2) // 2
            while True:
                adjust_heap(lo, parent, length, f[lo + parent])
                if parent == 0:
                    break
                parent -= 1
        for i in range(mid, hi):
            if less(f[i], f[lo]):
                v = f[i]
                f[i] = f[lo]
                adjust_heap(lo, 0, length, v)

    def swap(i, j):
        f[i], f[j] = f[j], f[i]

    lo, hi = 0, n
    depth = 2 * (n.bit_length() - 1)
    while hi - lo > 3:
        if depth == 0:
            heap_select(lo, nth + 1, hi)
            swap(lo, nth)
            return f
        depth -= 1
        mid = lo + (hi - lo) // 2
        a, b, c = lo + 1, mid, hi - 1
        if less(f[a], f[b]):
            if less(f[b], f[c]):
                swap(lo, b)
            elif less(f[a], f[c]):
                swap(lo, c)
            else:
                swap(lo, a)
        elif less(f[a], f[c]):
            swap(lo, a)
        elif less(f[b], f[c]):
            swap(lo, c)
        else:
            swap(lo, b)
        first, last = lo + 1, hi
        while True:
            while less(f[first], f[lo]):
                first += 1
            last -= 1
            while less(f[lo], f[last]):
                last -= 1
            if not first < last:
                break
            swap(first, last)
            first += 1
        cut = first
        if cut <= nth:
            lo = cut
        else:
            hi = cut
    sel_insertion(lo, hi)
    return f


def select_along(x, ordv, kth, axis, tie):
    """Applies nth_element row by row along axis; returns (values, indices)."""
    xm = np.moveaxis(x, axis, -1)
    om = np.moveaxis(ordv, axis, -1)
    idx = np.zeros(xm.shape, np.int64)
    for pos in np.ndindex(*xm.shape[:-1]):
        perm = nth_element(om[pos], kth, tie)
        idx[pos] = perm
        # The transcription must give a valid partition.
        row = om[pos][perm]
        ref = np.partition(om[pos], kth)[kth] if kth < len(perm) else None
        if kth < len(perm):
            kv = row[kth]
            assert (kv == ref) or (np.isnan(kv) and np.isnan(ref)), (kv, ref)
            left, right = row[:kth], row[kth + 1:]
            if not np.isnan(kv):
                assert np.all(left <= kv) and not np.any(np.isnan(left))
                assert np.all((right >= kv) | np.isnan(right))
            else:
                assert np.all(np.isnan(right))
    vals = np.take_along_axis(xm, idx, -1)
    return np.moveaxis(vals, -1, axis), np.moveaxis(idx, -1, axis)


# ---------------------------------------------------------------- cases
counter = [0]


def case(op, x, out, dtype, params, view=None):
    cid = f"c{counter[0]:04d}"
    counter[0] += 1
    save(f"{cid}.in0.npy", x)
    keys = []
    if dtype == "bfloat16":
        keys += ["dtype0=bfloat16"]
        if op in ("sort", "partition", "topk", "partition_prop", "topk_sorted"):
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
    kk = kth % length
    vals, _ = select_along(xv, ov, kk, ax, False)
    _, idx = select_along(xv, ov, kk, ax, True)
    case("partition", x, vals, dtype, p, view)
    case("argpartition", x, idx.astype(np.uint32), dtype, p, view)
    if dtype not in ("complex64", "uint64", "int64"):  # C property check reads doubles
        case("partition_prop", x, np.take_along_axis(xv, np.argsort(ov, ax, kind="stable"), ax),
             dtype, p, view)
        ar = np.broadcast_to(np.arange(length, dtype=np.uint32).reshape(
            [-1 if d == ax else 1 for d in range(xv.ndim)]), xv.shape)
        case("argpartition_prop", x, ar, dtype, p, view)
    # topk = the last k after partitioning at length - k (k == length: the input)
    pk = {"axis": axis_param(axis), "k": k}
    if k == length:
        tv = xv
    else:
        tv, _ = select_along(xv, ov, length - k, ax, False)
        tv = np.take(tv, np.arange(length - k, length), ax)
    case("topk", x, tv, dtype, pk, view)
    srt = np.take_along_axis(xv, np.argsort(ov, ax, kind="stable"), ax)
    top_sorted = np.take(srt, np.arange(length - k, length), ax)
    case("topk_sorted", x, top_sorted, dtype, pk, view)


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
        vals, _ = select_along(arr, arr, n // 2, 0, False)
        _, idx = select_along(arr, arr, n // 2, 0, True)
        case("partition", arr, vals, "float32", p)
        case("argpartition", arr, idx.astype(np.uint32), "float32", p)
        case("argsort", arr, np.argsort(arr, kind="stable").astype(np.uint32), "float32", {"axis": "0"})
# topk with k = the whole axis (k = 0 gives a (4, 0) result: checked in C).
x = values("float32", (4, 6))
case("topk", x, x, "float32", {"axis": "1", "k": 6})
case("topk", x, x.reshape(-1), "float32", {"axis": "none", "k": 24})

write_cases(OUT, lines)
print(f"gen_sort: {len(lines)} cases in {OUT}")
