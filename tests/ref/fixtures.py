"""Shared pieces of the NumPy fixture generators (tests/ref/gen_*.py).

Each generator is run as `/usr/bin/python3 tests/ref/gen_<family>.py OUTDIR`;
Python puts the script's own folder first on sys.path, so `import fixtures`
finds this file. The folder layout the generators write (cases.txt, one case
per line, plus <id>.in<k>.npy / <id>.out.npy) is documented in
tests/harness/fixture.h.

Several helpers come in variants that differ on purpose (NaN handling, memory
layout, 0-d arrays). The fixtures are compared byte for byte before and after
any change here, so a variant is kept wherever choosing another one could
change a stored file; each docstring says what sets it apart.
"""
import os
import sys

import numpy as np

# ------------------------------------------------------------------ dtypes
# MLX's dtypes in the order of its Dtype enum (the rows and columns of
# MLX_PROMOTE below).
MLX_DTYPES = ["bool", "uint8", "uint16", "uint32", "uint64", "int8", "int16", "int32",
              "int64", "float16", "float32", "float64", "bfloat16", "complex64"]
INT_DTYPES = ["uint8", "uint16", "uint32", "uint64", "int8", "int16", "int32", "int64"]
# NumPy dtype of every MLX dtype NumPy has (bfloat16 has none: it is stored
# as uint16 bits). Copy it before adding entries.
NP_DTYPES = {d: np.dtype(d) for d in MLX_DTYPES if d != "bfloat16"}
# One ulp at 1.0 (machine epsilon) of each float dtype (complex64: of its
# float32 parts).
ULP = {"float16": 2.0 ** -10, "bfloat16": 2.0 ** -7, "float32": 2.0 ** -23,
       "float64": 2.0 ** -52, "complex64": 2.0 ** -23}

# MLX's type promotion table (mlx/dtype.cpp), rows and columns in MLX_DTYPES
# order. It differs from NumPy's (int32 + float16 is float16, uint64 + int8 is
# float32), so references cast to this type before NumPy computes.
_PROMOTE_ROWS = """\
bool uint8 uint16 uint32 uint64 int8 int16 int32 int64 float16 float32 float64 bfloat16 complex64
uint8 uint8 uint16 uint32 uint64 int16 int16 int32 int64 float16 float32 float64 bfloat16 complex64
uint16 uint16 uint16 uint32 uint64 int32 int32 int32 int64 float16 float32 float64 bfloat16 complex64
uint32 uint32 uint32 uint32 uint64 int64 int64 int64 int64 float16 float32 float64 bfloat16 complex64
uint64 uint64 uint64 uint64 uint64 float32 float32 float32 float32 float16 float32 float64 bfloat16 complex64
int8 int16 int32 int64 float32 int8 int16 int32 int64 float16 float32 float64 bfloat16 complex64
int16 int16 int32 int64 float32 int16 int16 int32 int64 float16 float32 float64 bfloat16 complex64
int32 int32 int32 int64 float32 int32 int32 int32 int64 float16 float32 float64 bfloat16 complex64
int64 int64 int64 int64 float32 int64 int64 int64 int64 float16 float32 float64 bfloat16 complex64
float16 float16 float16 float16 float16 float16 float16 float16 float16 float16 float32 float64 float32 complex64
float32 float32 float32 float32 float32 float32 float32 float32 float32 float32 float32 float64 float32 complex64
float64 float64 float64 float64 float64 float64 float64 float64 float64 float64 float64 float64 float64 complex64
bfloat16 bfloat16 bfloat16 bfloat16 bfloat16 bfloat16 bfloat16 bfloat16 bfloat16 float32 float32 float64 bfloat16 complex64
complex64 complex64 complex64 complex64 complex64 complex64 complex64 complex64 complex64 complex64 complex64 complex64 complex64 complex64"""
MLX_PROMOTE = {(MLX_DTYPES[i], MLX_DTYPES[j]): r
               for i, row in enumerate(_PROMOTE_ROWS.split("\n"))
               for j, r in enumerate(row.split())}

# ---------------------------------------------------------------- bfloat16
# bfloat16 is stored as the uint16 top half of a float32; rounding is to
# nearest, ties to even, as mlxc does. The variants differ only in NaN
# handling and in the memory layout of the result (which np.save keeps, see
# save_npy_as_is).
_U16 = np.uint64(16)


def _bf16_rne(u):
    """uint64 array of float32 bits -> bfloat16 bits (as uint64), rounded to
    nearest even. A NaN whose low bits carry becomes garbage: callers that
    may see NaN patch it."""
    return (u + np.uint64(0x7FFF) + ((u >> _U16) & np.uint64(1))) >> _U16


def bf16_bits(x):
    """float32 -> bfloat16 bits, round to nearest even, NaN not handled (for
    data without NaN). The result keeps x's shape and memory layout."""
    u = np.asarray(x, np.float32).view(np.uint32).astype(np.uint64)
    return _bf16_rne(u).astype(np.uint16)


def bf16_bits_quiet_nan(x, order="K"):
    """float32 -> bfloat16 bits, round to nearest even; a NaN keeps its sign
    and top payload bits and is made quiet (| 0x40), as a truncating cast
    would. order: the layout of the float32 copy (and so of the result):
    "K" keeps x's layout, "C" makes it C-contiguous."""
    f = np.array(x, np.float32, order=order)
    u = f.view(np.uint32).astype(np.uint64)
    nan = (u & np.uint64(0x7FFFFFFF)) > np.uint64(0x7F800000)  # == np.isnan(f)
    return np.where(nan, (u >> _U16) | np.uint64(0x40), _bf16_rne(u)).astype(np.uint16)


def bf16_bits_canonical_nan(x):
    """float32 -> bfloat16 bits, round to nearest even; every NaN (either
    sign) becomes the canonical quiet NaN 0x7FC0. The result is C-contiguous
    with x's shape."""
    f = np.array(x, np.float32)
    shape = f.shape
    f = f.reshape(-1)
    out = _bf16_rne(f.view(np.uint32).astype(np.uint64)).astype(np.uint16)
    out[np.isnan(f)] = 0x7FC0
    return out.reshape(shape)


def bf16_to_f32(bits):
    """bfloat16 bits -> float32 values; keeps the shape and memory layout."""
    b = np.asarray(bits).astype(np.uint32) << np.uint32(16)
    return b.view(np.float32)


def bf16_to_f32_c(bits):
    """bfloat16 bits -> float32 values, C-contiguous, shape kept (0-d too)."""
    b = np.asarray(bits, np.uint32) << np.uint32(16)
    return b.reshape(-1).view(np.float32).reshape(b.shape)


def bf16_to_f32_contig(bits):
    """bfloat16 bits -> float32 values through np.ascontiguousarray: C order,
    but a 0-d input comes back with shape (1,); callers that may pass 0-d
    arrays reshape the result."""
    return (np.ascontiguousarray(bits).astype(np.uint32) << np.uint32(16)).view(np.float32)


def bf16_round(x):
    """float32 values rounded once to bfloat16 (NaN kept quiet), returned as
    float32, C-contiguous, with x's shape."""
    return bf16_to_f32_c(bf16_bits_quiet_nan(x, order="C"))


# ------------------------------------------------------------------- views
# The runner can pass an input as a strided view of the stored array
# (fixture.h, key view<k>=): these give the same view in NumPy, so that the
# expected output is computed from what the op will see.
def apply_view(a, v):
    """The view v (None, "T", "step2", "rev") of a; a 0-d array has no axis
    to view, so it comes back unchanged (as the runner does)."""
    if v is None or a.ndim == 0:
        return a
    if v == "T":
        return a.T
    if v == "step2":
        return a[..., ::2]
    if v == "rev":
        return a[..., ::-1]
    raise ValueError(v)


def stored_shape(shape, v):
    """The shape to store so that apply_view(stored, v) has `shape`."""
    shape = tuple(shape)
    if v == "T":
        return shape[::-1]
    if v == "step2" and shape:
        return shape[:-1] + (2 * shape[-1],)
    return shape


# ----------------------------------------------------------------- writing
def out_dir(default=None):
    """OUTDIR from the command line (or default), created if missing."""
    out = sys.argv[1] if len(sys.argv) > 1 or default is None else default
    os.makedirs(out, exist_ok=True)
    return out


def save_npy(outdir, name, arr):
    """Writes arr as a C-ordered .npy. np.array(order="C"), not
    np.ascontiguousarray: the latter turns a 0-d array into shape (1,), and
    saving a transposed view as is would store it Fortran-ordered."""
    np.save(os.path.join(outdir, name), np.array(arr, order="C"), allow_pickle=False)


def save_npy_as_is(outdir, name, arr):
    """Writes arr with np.save unchanged: a Fortran-ordered array is stored
    with fortran_order=True (the C loader handles both)."""
    np.save(os.path.join(outdir, name), arr, allow_pickle=False)


def write_cases(outdir, lines):
    """Writes cases.txt: one case per line (format in tests/harness/fixture.h)."""
    with open(os.path.join(outdir, "cases.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")
