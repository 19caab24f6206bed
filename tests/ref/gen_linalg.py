"""NumPy fixtures for the linear-algebra ops (tests/test_linalg.c):
matmul, addmm, inner, outer, tensordot(_n), einsum, linalg_norm.

Usage: gen_linalg.py OUTDIR

Expected values are computed in float64 / complex128 from the exact input
values (half inputs are stored as f16 / bf16 bits, so their values are
exact), then rounded once to the output dtype.

Empty arrays (a 0 dim) are tested in C (test_linalg.c: test_empty) because
the harness's npy loader cannot read them yet.

Tolerances (inputs are ~N(0, 1) unless noted; K = contraction length):
- float32 GEMM (OpenBLAS sgemm, f32 accumulation): the rounding error of a
  K-term dot product of unit-variance products grows like u * K in practice
  (u = 2^-24); atol = 8 * u * K * scale plus rtol 1e-5 for the large values.
  complex64 (cgemm) doubles the terms: atol 16 * u * K.
- float16 / bfloat16 GEMM: mlxc converts inputs exactly to f32, runs sgemm
  and rounds once to half. got = round(exact + e32), want = round(exact):
  they may differ by one half ulp step, i.e. relative 2^-10 (f16) or 2^-7
  (bf16) at the bottom of a binade: rtol 2e-3 (f16), 1.6e-2 (bf16), plus
  the f32 accumulation atol above.
- float64: rtol 1e-12, atol 1e-13 * K.
- integers and bool (einsum, outer, inner of 0-d): exact. MLX's matmul
  rejects integer results, so integer contractions are tested via einsum,
  with MLX's dtype rule: products in the operands' dtype (wrapping), sums
  in MLX's sum dtype (<= 4-byte ints and bool -> int32, unsigned -> uint32).
- norms: mlxc accumulates in float64 and rounds once: f32 rtol 1e-6 (one
  f32 rounding 2^-24, margin for pow), f16 rtol 1e-3, bf16 rtol 8e-3.
  Singular-value norms (LAPACK sgesdd) have absolute error ~ u * sigma_max:
  f32 rtol 1e-5 atol 1e-4 * sigma_max; f64 rtol 1e-10.
"""

import numpy as np

from fixtures import out_dir, save_npy, stored_shape, write_cases
from fixtures import apply_view as view
from fixtures import bf16_bits as to_bf16_bits
from fixtures import bf16_to_f32_contig as bf16_to_f32

OUT = out_dir()
rng = np.random.default_rng(20240612)
lines = []
U32 = 2.0**-24


NPT = {"float32": np.float32, "float64": np.float64, "float16": np.float16,
       "complex64": np.complex64, "int32": np.int32, "int8": np.int8, "int64": np.int64,
       "uint8": np.uint8, "uint32": np.uint32, "bool": np.bool_, "int16": np.int16}


class Op:
    """An input: stored array (bf16 as bits), dtype, view, exact value after the view."""

    def __init__(self, shape, dtype, v=None, scale=1.0, lo=-5, hi=6):
        st = stored_shape(shape, v)
        if dtype == "bool":
            a = rng.random(st) > 0.5
        elif dtype in ("int8", "int16", "int32", "int64", "uint8", "uint32"):
            a = rng.integers(lo, hi, size=st).astype(NPT[dtype])
        elif dtype == "complex64":
            a = ((rng.standard_normal(st) + 1j * rng.standard_normal(st)) * scale).astype(np.complex64)
        elif dtype == "bfloat16":
            a = to_bf16_bits((rng.standard_normal(st) * scale).astype(np.float32))
        else:
            a = (rng.standard_normal(st) * scale).astype(NPT[dtype])
        self.stored, self.dtype, self.v = a, dtype, v
        val = bf16_to_f32(a).reshape(a.shape) if dtype == "bfloat16" else a
        self.val = view(val, v)

    def f64(self):
        if self.dtype == "complex64":
            return self.val.astype(np.complex128)
        if self.dtype == "bool":
            return self.val.astype(np.int64)
        if self.dtype.startswith("int") or self.dtype.startswith("uint"):
            return self.val.astype(np.int64)
        return self.val.astype(np.float64)


def finish(x, dtype):
    x = np.asarray(x)
    if dtype == "bfloat16":
        return to_bf16_bits(x.real.astype(np.float32) if np.iscomplexobj(x) else x.astype(np.float32))
    if dtype == "complex64":
        return x.astype(np.complex64)
    if np.iscomplexobj(x):
        x = x.real
    return x.astype(NPT[dtype])


NEXT = [0]


def case(op, ops, out, out_dtype, params=None, rtol=0.0, atol=0.0):
    cid = f"l{NEXT[0]:04d}_{op}"
    NEXT[0] += 1
    keys = []
    for k, o in enumerate(ops):
        save_npy(OUT, f"{cid}.in{k}.npy", o.stored)
        if o.dtype == "bfloat16":
            keys.append(f"dtype{k}=bfloat16")
        if o.v:
            keys.append(f"view{k}={o.v}")
    if out_dtype == "bfloat16":
        keys.append("out_dtype=bfloat16")
    save_npy(OUT, f"{cid}.out.npy", finish(out, out_dtype))
    for k, v in (params or {}).items():
        keys.append(f"{k}={v}")
    lines.append(f"{cid} {op} {len(ops)} {rtol:.3g} {atol:.3g} " + " ".join(keys))


PROMO_F = {("float32", "float32"): "float32", ("float16", "float16"): "float16",
           ("bfloat16", "bfloat16"): "bfloat16", ("float64", "float64"): "float64",
           ("complex64", "complex64"): "complex64", ("int32", "float32"): "float32",
           ("float16", "float32"): "float32", ("bfloat16", "float16"): "float32",
           ("float32", "float64"): "float64", ("float32", "complex64"): "complex64",
           ("bfloat16", "float32"): "float32"}


def promote(a, b):
    return PROMO_F.get((a, b)) or PROMO_F[(b, a)]


def tol(dt, K, scale=1.0):
    K = max(K, 1)
    acc = 8 * U32 * K * scale
    if dt == "float32":
        return 1e-5, acc
    if dt == "complex64":
        return 1e-5, 2 * acc
    if dt == "float16":
        return 2e-3, acc
    if dt == "bfloat16":
        return 1.6e-2, acc
    if dt == "float64":
        return 1e-12, 1e-13 * K * scale
    raise ValueError(dt)


# ------------------------------------------------------------ matmul
def matmul(sa, sb, da="float32", db=None, va=None, vb=None):
    db = db or da
    a, b = Op(sa, da, va), Op(sb, db, vb)
    out_dt = promote(da, db)
    K = sa[-1]
    case("matmul", [a, b], np.matmul(a.f64(), b.f64()), out_dt, rtol=tol(out_dt, K)[0],
         atol=tol(out_dt, K)[1])


for dt in ["float32", "float64", "float16", "bfloat16", "complex64"]:
    matmul((7, 33), (33, 65), dt)
    matmul((4, 2, 7, 33), (33, 5), dt)          # stacked batch, shared b
    matmul((2, 1, 7, 9), (3, 9, 5), dt)         # broadcast batch
    matmul((33,), (33,), dt)                    # 1-d . 1-d -> 0-d
    matmul((7, 33), (33,), dt, va="T")          # transposed a, 1-d b
for sa, sb in [((1, 1), (1, 1)), ((1, 7), (7, 1)), ((65, 1), (1, 33)), ((7,), (7, 33)),
               ((3, 4, 7), (7,)), ((7,), (5, 7, 2)), ((200, 300), (300, 150)), ((5, 1, 33, 7), (1, 4, 7, 6))]:
    matmul(sa, sb)
# integer and bool matmul: exact, wrapping in the input dtype as numpy.matmul
# does (MLX rejects these; the issue asks for them). Exact comparison.
for dt in ["int32", "int8", "uint8", "int64", "bool"]:
    for sa, sb, va in [((7, 33), (33, 5), None), ((2, 3, 9), (9, 4), None), ((33,), (33, 6), None),
                       ((9, 7), (9, 5), "T")]:
        a, b = Op(sa if va is None else sa[::-1], dt, va), Op(sb, dt)
        case("matmul", [a, b], np.matmul(a.f64(), b.f64()), dt)
# transposed and strided operands (views of the stored arrays)
for va, vb in [("T", None), (None, "T"), ("T", "T"), ("step2", None), (None, "step2"),
               ("rev", None), (None, "rev"), ("step2", "T")]:
    matmul((33, 65), (65, 7), "float32", va=va, vb=vb)
    matmul((7, 33), (33, 65), "bfloat16", va=va, vb=vb)
# matrix-vector shapes (gemv), with transposed / strided operands
for dt in ["float32", "float64", "complex64", "bfloat16"]:
    matmul((1, 65), (65, 33), dt, vb="T")
    matmul((33,), (33, 65), dt, va="rev", vb="T")
    matmul((7, 33), (33, 1), dt, va="T")
    matmul((7, 33), (33,), dt, vb="step2")
    matmul((4, 1, 33), (4, 33, 5), dt, va="step2")
    matmul((1, 33), (33, 1), dt)
matmul((2, 7, 33), (2, 33, 5), "float32", va="T")        # batched, transposed batch dims
matmul((4, 7, 33), (33, 5), "float32", va="step2")       # shared b, strided a (no stacking)
matmul((3, 1, 9), (9, 4), "float64", va="rev")
# mixed dtypes promote as MLX
matmul((5, 7), (7, 3), "int32", "float32")
matmul((5, 7), (7, 3), "float16", "float32")
matmul((5, 7), (7, 3), "bfloat16", "float16")
matmul((5, 7), (7, 3), "float32", "complex64")
# large enough that OpenBLAS threads and bf16 conversion are exercised
matmul((96, 257), (257, 129), "bfloat16")
matmul((96, 257), (257, 129), "float16", va="T")


# ------------------------------------------------------------ addmm
def addmm(sc, sa, sb, dt="float32", alpha=1.0, beta=1.0, va=None, dc=None):
    c, a, b = Op(sc, dc or dt), Op(sa, dt, va), Op(sb, dt)
    out_dt = dt if not dc else promote(dt, dc)
    ref = alpha * np.matmul(a.f64(), b.f64()) + beta * c.f64()
    K = sa[-1]
    r, at = tol(out_dt, K, max(1.0, abs(alpha)) + abs(beta))
    case("addmm", [c, a, b], ref, out_dt, {"alpha": alpha, "beta": beta}, rtol=r, atol=at)


for dt in ["float32", "float64", "float16", "bfloat16", "complex64"]:
    addmm((7, 5), (7, 33), (33, 5), dt, 0.5, 2.0)
addmm((5,), (7, 33), (33, 5))
addmm((1, 5), (7, 33), (33, 5), beta=-1.5)
addmm((), (7, 33), (33, 5), alpha=2.0, beta=0.25)
addmm((3, 7, 5), (3, 7, 33), (33, 5), va=None)
addmm((2, 1, 5), (2, 7, 9), (9, 5), alpha=-1.0)
addmm((5,), (9,), (9, 5))      # 1-d a: output (5,)
addmm((7,), (7, 9), (9,))      # 1-d b: output (7,)
addmm((7, 5), (7, 33), (33, 5), va="T")
addmm((7, 5), (7, 33), (33, 5), "float32", 1.0, 0.0)
addmm((7, 5), (7, 33), (33, 5), "float32", dc="float16")


# ------------------------------------------------------------ inner / outer / tensordot
def inner(sa, sb, dt="float32", db=None):
    a, b = Op(sa, dt), Op(sb, db or dt)
    od = dt if db is None else promote(dt, db)
    if a.val.ndim == 0 or b.val.ndim == 0:
        ref = a.f64() * b.f64()
        case("inner", [a, b], ref, od)
        return
    r, at = tol(od, sa[-1])
    case("inner", [a, b], np.inner(a.f64(), b.f64()), od, rtol=r, atol=at)


inner((5, 7), (3, 7))
inner((33,), (33,))
inner((2, 3, 7), (4, 7), "float64")
inner((), (3, 4), "int32")
inner((3, 4), (), "int32")
inner((5, 7), (3, 7), "bfloat16")


def outer(sa, sb, da="float32", db=None):
    a, b = Op(sa, da), Op(sb, db or da)
    od = da if db is None or db == da else promote(da, db)
    if da == "bool":
        ref = np.outer(a.val.ravel(), b.val.ravel())
        case("outer", [a, b], ref, "bool")
        return
    ref = np.outer(a.f64().ravel(), b.f64().ravel())
    r = {"float32": 1e-6, "float16": 1e-3, "bfloat16": 8e-3, "complex64": 1e-6}.get(od, 0)
    case("outer", [a, b], ref, od, rtol=r)


outer((5,), (7,))
outer((2, 3), (4,))
outer((33,), (1,), "int32")
outer((6,), (5,), "bool")
outer((4,), (3,), "bfloat16")
outer((4,), (3,), "float16", "float32")


def tensordot(sa, sb, axes_a, axes_b, dt="float32"):
    a, b = Op(sa, dt), Op(sb, dt)
    ref = np.tensordot(a.f64(), b.f64(), axes=(axes_a, axes_b))
    K = int(np.prod([sa[i] for i in axes_a])) if axes_a else 1
    r, at = tol(dt, K)
    case("tensordot", [a, b], ref, dt,
         {"axes_a": ",".join(map(str, axes_a)) or "none", "axes_b": ",".join(map(str, axes_b)) or "none"},
         rtol=r, atol=at)


def tensordot_n(sa, sb, n, dt="float32"):
    a, b = Op(sa, dt), Op(sb, dt)
    ref = np.tensordot(a.f64(), b.f64(), axes=n)
    K = int(np.prod(sa[len(sa) - n:])) if n else 1
    r, at = tol(dt, K)
    case("tensordot_n", [a, b], ref, dt, {"n": n}, rtol=r, atol=at)


tensordot((3, 4, 5), (4, 3, 2), [0, 1], [1, 0])
tensordot((3, 4, 5), (5, 6), [-1], [0])
tensordot((2, 3), (3, 2), [1, 0], [0, 1], "float64")
tensordot_n((3, 4, 5), (4, 5, 6), 2)
tensordot_n((3, 4), (5,), 0)
tensordot_n((6, 7), (6, 7), 2, "bfloat16")


# ------------------------------------------------------------ einsum
SUM_T = {"int8": "int32", "int16": "int32", "int32": "int32", "int64": "int64",
         "uint8": "uint32", "uint32": "uint32", "bool": "int32"}


def einsum(subs, shapes, dt="float32", views=None, dts=None):
    dts = dts or [dt] * len(shapes)
    views = views or [None] * len(shapes)
    ops = [Op(s, d, v) for s, d, v in zip(shapes, dts, views)]
    exact = dts[0] in SUM_T
    if exact:
        # MLX: multiply in the operands' dtype (wraps), then sum in the sum
        # dtype. Expand to all indices, sum the rest.
        lhs = subs.split("->")[0]
        full = np.einsum(subs.replace("->", "->") if "->" in subs else subs,
                         *[o.val.astype(np.int64) for o in ops])  # shape reference only
        out_sub = subs.split("->")[1] if "->" in subs else None
        letters = sorted(set(lhs.replace(",", "").replace(".", "")))
        if out_sub is None:
            cnt = {c: lhs.count(c) for c in letters}
            out_sub = "".join(sorted(c for c in letters if cnt[c] == 1))
        summed = "".join(c for c in letters if c not in out_sub)
        if dts[0] == "bool":
            vals = [o.val.astype(np.int64) for o in ops]
        else:
            vals = [o.val for o in ops]
        prod = np.einsum(lhs + "->" + out_sub + summed, *vals)  # numpy keeps the int dtype: wraps
        ref = prod.astype(np.int64).sum(axis=tuple(range(len(out_sub), prod.ndim))) if summed else prod
        od = SUM_T[dts[0]] if summed else dts[0]
        assert ref.shape == full.shape
        case("einsum", ops, np.asarray(ref).astype(NPT[od]), od, {"subs": subs})
        return
    od = dts[0]
    for d in dts[1:]:
        od = promote(od, d)
    ref = np.einsum(subs, *[o.f64() for o in ops])
    # K: the number of summed terms per output (sizes of letters not kept).
    lhs = subs.split("->")[0].split(",")
    size = {}
    for term, s in zip(lhs, shapes):
        t = term.replace("...", "")
        for c, n in zip(t, s[len(s) - len(t):] if "..." in term else s):
            size[c] = max(size.get(c, 1), n)
    if "->" in subs:
        kept = subs.split("->")[1]
    else:
        allc = "".join(t.replace("...", "") for t in lhs)
        kept = "".join(c for c in size if allc.count(c) == 1)
    K = int(np.prod([n for c, n in size.items() if c not in kept])) if size else 1
    r, at = tol(od, K)
    case("einsum", ops, ref, od, {"subs": subs}, rtol=r, atol=at)


for dt in ["float32", "float64", "float16", "bfloat16", "complex64"]:
    einsum("ij,jk->ik", [(7, 9), (9, 5)], dt)
    einsum("bij,bjk->bik", [(3, 7, 9), (3, 9, 5)], dt)
einsum("ij->ji", [(4, 5)])
einsum("ii->i", [(6, 6)])
einsum("ii", [(6, 6)])
einsum("ij->", [(7, 33)])
einsum("i,j->ij", [(5,), (7,)])
einsum("ij,jk", [(7, 9), (9, 5)])
einsum("ba,ac", [(3, 4), (4, 5)])
einsum("ijk->kji", [(2, 3, 4)])
einsum("i,i->", [(33,)] * 2)
einsum("i,i", [(33,)] * 2)
einsum("ij,ij->ij", [(4, 5), (4, 5)])
einsum("ij,ij->i", [(4, 5), (1, 5)])
einsum("ij,j->i", [(7, 33), (33,)])
einsum("...ij,...jk->...ik", [(2, 3, 4, 5), (3, 5, 6)])
einsum("...ij,jk", [(2, 4, 5), (5, 6)])
einsum("i...->...", [(5, 3, 2)])
einsum("...ii->...i", [(2, 4, 4)])
einsum("iij->ji", [(3, 3, 4)])
einsum("ij,jk,kl->il", [(3, 4), (4, 5), (5, 6)])
einsum("ij,jk,kl->", [(3, 4), (4, 5), (5, 2)])
einsum("bhqd,bhkd->bhqk", [(2, 3, 5, 8), (2, 3, 6, 8)])
einsum("ab,cd->abcd", [(2, 3), (4, 5)])
einsum("ij,jk->ik", [(7, 9), (9, 5)], views=["T", "rev"])
einsum("ij,jk->ik", [(7, 9), (9, 5)], dts=["float16", "float32"])
einsum("Ab,bC->AC", [(3, 4), (4, 2)])
einsum("ij,kj->ik", [(7, 9), (5, 9)], "int32")
einsum("ij,jk->ik", [(7, 9), (9, 5)], "int32")
einsum("ij->", [(9, 33)], "int32")
einsum("ii->i", [(5, 5)], "int32")
einsum("ij,jk->ik", [(7, 9), (9, 5)], "int8")  # int8 products wrap, sum in int32
einsum("i,j->ij", [(5,), (7,)], "int8")        # no sum: stays int8
einsum("ij,jk->ik", [(7, 9), (9, 5)], "bool")  # bool: counts in int32
einsum("ij,jk,kl->il", [(3, 4), (4, 5), (5, 6)], "int32")


# ------------------------------------------------------------ norms
def norm(shape, dt, ord_, axes, keepdims=False, v=None):
    a = Op(shape, dt, v)
    x = a.f64()
    o = None
    if ord_ is not None:
        o = {"inf": np.inf, "-inf": -np.inf, "fro": "fro", "nuc": "nuc"}.get(ord_)
        if o is None:
            o = float(ord_)
            if o == int(o):
                o = int(o)
    ax = tuple(axes) if axes is not None else None
    if ord_ is None and ax is None:
        ref = np.linalg.norm(x.ravel())
        if keepdims:
            ref = np.reshape(ref, (1,) * len(shape))
    else:
        ref = np.linalg.norm(x, ord=o, axis=ax, keepdims=keepdims)
    if ax is None:
        nax = len(shape)
    else:
        nax = len(ax)
    l2 = ord_ is None or ord_ == "fro" or (nax == 1 and ord_ == "2")
    svd = nax == 2 and ord_ in ("2", "-2", "nuc")
    if dt == "complex64":
        od = "float32" if l2 else "complex64"
    elif dt in ("int32", "bool"):
        od = "float32"
    else:
        od = dt
    r = {"float32": 1e-6, "float64": 1e-12, "float16": 1e-3, "bfloat16": 8e-3, "complex64": 1e-6}[od]
    at = 0.0
    if svd:
        smax = np.max(np.abs(ref)) if np.size(ref) else 1.0
        r, at = (1e-5, 1e-4 * smax) if od == "float32" else (1e-10, 1e-12 * smax)
    params = {"ord": ord_ if ord_ is not None else "none",
              "axes": ",".join(map(str, axes)) if axes is not None else "none",
              "keepdims": int(keepdims)}
    case("norm", [a], ref, od, params, rtol=r, atol=at)


for dt in ["float32", "float64", "float16", "bfloat16", "complex64", "int32"]:
    norm((33,), dt, None, None)
    norm((4, 7), dt, None, None)
norm((2, 3, 5), "float32", None, None)
norm((2, 3, 5), "float32", None, None, True)
norm((1000,), "float32", None, None)
norm((7, 33), "float32", None, [1])
norm((7, 33), "float32", None, [0, 1], True)
norm((3, 7, 33), "float32", None, [2, 0])
for o in ["1", "2", "inf", "-inf", "0", "3.5", "-1.5", "-1"]:
    norm((33,), "float32", o, None)
    norm((5, 9), "float32", o, [1])
norm((9,), "float64", "3", None)
norm((9,), "complex64", "1", None)
norm((9,), "complex64", "inf", None)
norm((4, 9), "float16", "1", [1])
norm((4, 9), "bfloat16", "inf", [-1], True)
norm((33,), "int32", "1", None)
for o in ["fro", "1", "-1", "inf", "-inf", "2", "-2", "nuc"]:
    norm((5, 7), "float32", o, None)
    norm((3, 5, 7), "float32", o, [1, 2])
    norm((3, 5, 7), "float32", o, [2, 0], True)
    norm((7, 5), "float64", o, [0, 1])
norm((33, 7), "float32", "fro", None, v="T")
norm((5, 8), "float32", "1", [1, 0], v="step2")
norm((6, 6), "float32", "nuc", None, v="rev")
norm((5, 7), "complex64", "fro", None)
norm((5, 7), "complex64", "inf", None)
norm((5, 7), "int32", "-1", None)

write_cases(OUT, lines)
