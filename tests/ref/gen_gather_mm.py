"""NumPy fixtures for gather_mm (tests/test_gather_mm.c).

Usage: gen_gather_mm.py OUTDIR

gather_mm(a, b, lhs_indices, rhs_indices): out[i] = a[li[i]] @ b[ri[i]],
the indices counting the matrices of a / b over their flattened batch dims,
broadcast together; a missing index array is arange over that operand's
batch shape. The reference below states exactly that in NumPy (float64
from the exact input values, rounded once to the output dtype).

Case keys read by the C op: lhs=1 / rhs=1 (which index arrays are given;
inputs are a, b, then the given indices in that order), sorted=1 (the
hint), bswap=1 (b is passed as swapaxes(stored, -1, -2): how mlx-lm's
SwitchLinear hands its (E, out, in) weight to gather_mm).

Tolerances (inputs ~N(0, 1), K = contraction length), as gen_linalg.py:
- float32 (OpenBLAS sgemm/sgemv, f32 accumulation): atol 8 * 2^-24 * K,
  rtol 1e-5.
- float16 / bfloat16: inputs are converted exactly to f32, multiplied with
  sgemm and rounded once: one half-ulp step apart from the exactly rounded
  value at worst, rtol 2e-3 (f16) / 1.6e-2 (bf16), plus the f32 atol.
Empty cases (a 0 dim) and error paths are in the C test.
"""

import numpy as np

from fixtures import out_dir, save_npy, stored_shape, write_cases
from fixtures import apply_view as view
from fixtures import bf16_bits as to_bf16_bits
from fixtures import bf16_to_f32_contig as bf16_to_f32

OUT = out_dir()
rng = np.random.default_rng(20250501)
lines = []
U32 = 2.0**-24
NEXT = [0]

NPT = {"float32": np.float32, "float16": np.float16, "int32": np.int32, "int64": np.int64,
       "uint8": np.uint8, "uint32": np.uint32, "int16": np.int16}
PROMO = {("float32", "float32"): "float32", ("float16", "float16"): "float16",
         ("bfloat16", "bfloat16"): "bfloat16", ("float16", "float32"): "float32",
         ("bfloat16", "float32"): "float32", ("bfloat16", "float16"): "float32",
         ("int32", "float32"): "float32"}


class Op:
    """An input: the stored array (bf16 as bits), its dtype and view, and
    the exact value the op sees."""

    def __init__(self, shape, dtype, v=None, stored=None):
        st = stored_shape(shape, v)
        if stored is not None:
            a = stored
        elif dtype == "bfloat16":
            a = to_bf16_bits(rng.standard_normal(st).astype(np.float32))
        elif dtype == "int32":
            a = rng.integers(-4, 5, size=st).astype(np.int32)
        else:
            a = rng.standard_normal(st).astype(NPT[dtype])
        self.stored, self.dtype, self.v = a, dtype, v
        val = bf16_to_f32(a).reshape(a.shape) if dtype == "bfloat16" else a
        self.val = view(val, v)


def finish(x, dtype):
    if dtype == "bfloat16":
        return to_bf16_bits(np.asarray(x).astype(np.float32))
    return np.asarray(x).astype(NPT[dtype])


def reference(a, b, li, ri):
    """gather_mm in float64; a, b values (1-d allowed), li / ri or None."""
    a_nd, b_nd = a.ndim, b.ndim
    if a_nd == 1:
        a = a[None, :]
    if b_nd == 1:
        b = b[:, None]
    ab, bb = a.shape[:-2], b.shape[:-2]
    A = a.reshape((-1,) + a.shape[-2:]).astype(np.float64)
    B = b.reshape((-1,) + b.shape[-2:]).astype(np.float64)
    if li is None:
        li = np.arange(int(np.prod(ab))).reshape(ab)
    if ri is None:
        ri = np.arange(int(np.prod(bb))).reshape(bb)
    li, ri = np.broadcast_arrays(np.asarray(li, np.int64), np.asarray(ri, np.int64))
    out = np.matmul(A[li], B[ri])
    axes = []
    if a_nd == 1:
        axes.append(out.ndim - 2)
    if b_nd == 1:
        axes.append(out.ndim - 1)
    return np.squeeze(out, tuple(axes)) if axes else out


def tol(dt, K):
    acc = 8 * U32 * max(K, 1)
    return {"float32": 1e-5, "float16": 2e-3, "bfloat16": 1.6e-2}[dt], acc


def case(sa, sb, li=None, ri=None, da="float32", db=None, va=None, vb=None, sorted_=False,
         bswap=False, idt="int32"):
    db = db or da
    a = Op(sa, da, va)
    if bswap:
        # b's value is swapaxes(stored, -1, -2); store (.., N, K).
        b = Op(sb[:-2] + (sb[-1], sb[-2]), db, vb)
        bval = np.swapaxes(b.val, -1, -2)
    else:
        b = Op(sb, db, vb)
        bval = b.val
    out_dt = PROMO.get((da, db)) or PROMO[(db, da)]
    ref = reference(a.val, bval, li, ri)
    K = a.val.shape[-1]
    rt, at = tol(out_dt, K)
    cid = f"g{NEXT[0]:04d}_gather_mm"
    NEXT[0] += 1
    ins = [a, b]
    keys = []
    if li is not None:
        ins.append(Op(np.shape(li), idt, stored=np.asarray(li).astype(NPT[idt])))
        keys.append("lhs=1")
    if ri is not None:
        ins.append(Op(np.shape(ri), idt, stored=np.asarray(ri).astype(NPT[idt])))
        keys.append("rhs=1")
    if sorted_:
        keys.append("sorted=1")
    if bswap:
        keys.append("bswap=1")
    for k, o in enumerate(ins):
        save_npy(OUT, f"{cid}.in{k}.npy", o.stored)
        if o.dtype == "bfloat16":
            keys.append(f"dtype{k}=bfloat16")
        if o.v:
            keys.append(f"view{k}={o.v}")
    if out_dt == "bfloat16":
        keys.append("out_dtype=bfloat16")
    save_npy(OUT, f"{cid}.out.npy", finish(ref, out_dt))
    lines.append(f"{cid} gather_mm {len(ins)} {rt:.3g} {at:.3g} " + " ".join(keys))


def experts(shape, E):
    return rng.integers(0, E, size=shape)


# MoE decode as mlx-lm's SwitchLinear calls it: x (B, L, 1, 1, D), weight
# (E, F, D) swapped, rhs (B, L, k), lhs the default arange over x's batch.
for dt in ["float32", "float16", "bfloat16"]:
    case((2, 3, 1, 1, 33), (5, 33, 17), ri=experts((2, 3, 2), 5), da=dt, bswap=True)
    case((1, 1, 1, 1, 64), (8, 64, 48), ri=experts((1, 1, 4), 8), da=dt, bswap=True)
# MoE prefill after _gather_sort: x (T*k, 1, D), sorted rhs (T*k,)
for dt in ["float32", "bfloat16"]:
    idx = np.sort(experts((40,), 6))
    case((40, 1, 33), (6, 33, 17), ri=idx, da=dt, bswap=True, sorted_=True)
# large prefill: many rows per expert, OpenBLAS threads, sorted and not
idx = np.sort(experts((400,), 8))
case((400, 1, 64), (8, 64, 48), ri=idx, bswap=True, sorted_=True)
case((400, 1, 64), (8, 64, 48), ri=experts((400,), 8), bswap=True)
case((100, 4, 1, 1, 64), (8, 64, 48), ri=experts((100, 4, 2), 8), bswap=True)
# a wrong sorted hint is only slower
case((30, 1, 9), (4, 9, 5), ri=experts((30,), 4), sorted_=True)
# M > 1: stacked left matrices (sorted: in place; unsorted: packed)
case((12, 3, 9), (4, 9, 5), ri=np.sort(experts((12,), 4)), sorted_=True)
case((12, 3, 9), (4, 9, 5), ri=experts((12,), 4))
# both index arrays, broadcasting; multi-dim batch of b counted flat
case((4, 3, 7), (2, 3, 7, 5), li=rng.integers(0, 4, (3, 1)), ri=rng.integers(0, 6, (1, 4)))
case((4, 3, 7), (6, 7, 5), li=rng.integers(0, 4, (5,)), ri=rng.integers(0, 6, (2, 5)))
case((4, 2, 7), (6, 7, 5), li=np.array(3), ri=np.array(5))            # 0-d indices
case((4, 2, 7), (6, 7, 5), li=rng.integers(0, 4, (3,)), ri=np.array(2))
# lhs only (b's default index is the scalar 0 for a 2-d b)
case((5, 2, 7), (7, 6), li=rng.integers(0, 5, (8,)))
case((5, 1, 7), (3, 7, 6), li=rng.integers(0, 5, (3,)))               # default rhs arange(3)
# 1-d operands: a row vector, a column vector
case((7,), (5, 7, 6), ri=rng.integers(0, 5, (4,)))
case((5, 3, 7), (7,), li=rng.integers(0, 5, (4,)))
case((7,), (5, 7, 1), ri=rng.integers(0, 5, (2, 3)))
# repeated indices (one expert many times), M == 1 strided stacking
case((6, 1, 16), (3, 16, 8), li=np.array([0, 2, 4, 1, 3, 5]), ri=np.array([1, 1, 1, 2, 2, 2]),
     sorted_=True)
# strided operands: views of the stored arrays
for va, vb in [("T", None), (None, "T"), ("step2", None), (None, "step2"), ("rev", "rev"),
               ("T", "T")]:
    case((3, 5, 9), (4, 9, 6), ri=rng.integers(0, 4, (3,)), va=va, vb=vb)
    case((3, 5, 9), (4, 9, 6), ri=rng.integers(0, 4, (3,)), da="bfloat16", va=va, vb=vb)
case((6, 1, 16), (3, 16, 8), ri=np.sort(rng.integers(0, 3, (6,))), va="step2", sorted_=True)
case((6, 1, 16), (3, 16, 8), ri=np.sort(rng.integers(0, 3, (6,))), va="T", bswap=True)
# mixed dtypes promote as MLX
case((3, 2, 7), (4, 7, 5), ri=rng.integers(0, 4, (3,)), da="float16", db="float32")
case((3, 2, 7), (4, 7, 5), ri=rng.integers(0, 4, (3,)), da="bfloat16", db="float16")
case((3, 2, 7), (4, 7, 5), ri=rng.integers(0, 4, (3,)), da="int32", db="float32")
case((3, 2, 7), (4, 7, 5), ri=rng.integers(0, 4, (3,)), da="float16")
# index dtypes
for idt in ["uint8", "int64", "uint32", "int16"]:
    case((3, 2, 7), (4, 7, 5), li=rng.integers(0, 3, (5,)), ri=rng.integers(0, 4, (5,)), idt=idt)
# odd sizes (SIMD tails in BLAS), a single product, K = 1
case((1, 1, 1), (1, 1, 1), ri=np.array([0]))
case((2, 33, 1), (3, 1, 65), ri=np.array([2, 0]))
case((2, 65, 129), (3, 129, 33), ri=np.array([1, 1]), sorted_=True)

write_cases(OUT, lines)
