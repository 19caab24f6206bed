"""NumPy fixtures for fft, ifft, rfft, irfft (tests/test_fft.c).

Usage: gen_fft.py OUTDIR

Expected values: MLX first casts the input (fft/ifft/irfft to complex64,
rfft to float32, complex input keeping its real part), so the script does
the same cast, then runs numpy.fft in double precision on the cast values
and rounds the result to complex64 / float32. Norm "backward" (inverse
scales by 1/n); n pads with zeros or truncates; irfft reads n//2 + 1 bins
and ignores the imaginary parts of the DC and Nyquist bins, as NumPy.

Tolerance: rtol = TOL and atol = TOL * max|expected| per case, TOL = 1e-6.
mlxc computes in double with directly evaluated twiddles, so its result
and NumPy's differ by O(1e-15) relative before both are rounded to float:
what remains is at most one float32 rounding step (6e-8) of each element.
Elements much smaller than the output's peak (cancellation, e.g. the zero
imaginary part of a real signal's DC bin) are only meaningful relative to
the peak, hence the atol term. 1e-6 is 16 float ulps: tight enough to catch
a float-precision (rather than double) implementation at n = 4096, whose
error grows like 1e-7 * log2(n) relative to the peak, loose enough for
platform libm differences.
"""
import os

import numpy as np

from fixtures import apply_view, bf16_to_f32, out_dir, write_cases
from fixtures import bf16_bits as to_bf16_bits

OUT = out_dir()
rng = np.random.default_rng(777)
TOL = 1e-6
lines = []
counter = [0]


def make(dtype, shape):
    if dtype == "complex64":
        return (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(np.complex64)
    if dtype == "bfloat16":
        return to_bf16_bits(rng.standard_normal(shape))
    if dtype == "bool":
        return rng.integers(0, 2, shape).astype(np.bool_)
    if dtype.startswith("int"):
        return rng.integers(-50, 50, shape).astype(dtype)
    if dtype.startswith("uint"):
        return rng.integers(0, 50, shape).astype(dtype)
    return rng.standard_normal(shape).astype(dtype)


def mlx_cast(x, dtype, real):
    """MLX's input cast: to float32 (rfft) or complex64 (the others)."""
    if dtype == "bfloat16":
        x = bf16_to_f32(x)
    if real:
        return np.real(x).astype(np.float32) if np.iscomplexobj(x) else x.astype(np.float32)
    return x.astype(np.complex64)


def case(op, dtype, shape, n=0, axis=-1, view=None, x=None):
    cid = f"f{counter[0]:04d}"
    counter[0] += 1
    if x is None:
        x = make(dtype, shape)
    xv = apply_view(x, view)
    xc = mlx_cast(xv, dtype, op == "rfft")
    nn = None if n <= 0 else n
    if op == "fft":
        y = np.fft.fft(xc.astype(np.complex128), nn, axis).astype(np.complex64)
    elif op == "ifft":
        y = np.fft.ifft(xc.astype(np.complex128), nn, axis).astype(np.complex64)
    elif op == "rfft":
        y = np.fft.rfft(xc.astype(np.float64), nn, axis).astype(np.complex64)
    else:
        y = np.fft.irfft(xc.astype(np.complex128), nn, axis).astype(np.float32)
    peak = float(np.max(np.abs(y))) if y.size else 0.0
    atol = TOL * peak if peak > 0 else 1e-30
    np.save(os.path.join(OUT, f"{cid}.in0.npy"), np.ascontiguousarray(x), allow_pickle=False)
    np.save(os.path.join(OUT, f"{cid}.out.npy"), np.ascontiguousarray(y), allow_pickle=False)
    keys = [f"n={n}", f"axis={axis}"]
    if dtype == "bfloat16":
        keys.append("dtype0=bfloat16")
    if view:
        keys.append(f"view0={view}")
    lines.append(f"{cid} {op} 1 {TOL:g} {atol:.9g} " + " ".join(keys))


# Lengths: powers of two, radix 3/5 mixes, generic radices (7, 11, 13, 49),
# Bluestein primes (67, 97, 127, 1009) and a Bluestein composite (2 * 1009),
# Whisper's n_fft = 400, and 4096.
LENGTHS = [1, 2, 3, 4, 5, 6, 7, 8, 9, 11, 12, 13, 15, 16, 25, 27, 30, 49, 64, 67, 97, 121,
           125, 127, 128, 143, 400, 1000, 1009, 2018, 4096]
for n in LENGTHS:
    case("fft", "complex64", (n,))
    case("ifft", "complex64", (n,))
    case("rfft", "float32", (n,))
    case("irfft", "complex64", (n // 2 + 1,), n=n)
for m in (2, 3, 5, 9, 201, 501, 505):  # irfft default n = 2 (m - 1)
    case("irfft", "complex64", (m,))
# Padding and truncation.
for op in ("fft", "ifft", "rfft"):
    for n in (1, 7, 16, 33, 512):
        case(op, "complex64" if op != "rfft" else "float32", (10,), n=n)
for m, n in ((4, 7), (4, 16), (9, 4), (201, 400), (300, 400), (100, 1000), (3, 1)):
    case("irfft", "complex64", (m,), n=n)
# Axes and batches.
for op in ("fft", "ifft", "rfft", "irfft"):
    dt = "float32" if op == "rfft" else "complex64"
    case(op, dt, (5, 12), axis=0)
    case(op, dt, (5, 12), axis=1)
    case(op, dt, (3, 8, 5), axis=1)
    case(op, dt, (3, 8, 5), axis=-3, n=6)
    for v in ("T", "step2", "rev"):
        case(op, dt, (6, 10), axis=-1, view=v)
        case(op, dt, (6, 10), axis=0, view=v)
    case(op, dt, (0, 8), axis=1)
# Input dtypes (cast as MLX casts them).
for op in ("fft", "ifft", "rfft", "irfft"):
    for dt in ("float32", "float64", "float16", "bfloat16", "int32", "uint8", "bool", "complex64"):
        case(op, dt, (4, 30), axis=1)
# STFT-like batches of Whisper frames (threaded), and a batch of primes.
case("rfft", "float32", (100, 400), axis=-1)
case("irfft", "complex64", (100, 201), n=400, axis=-1)
case("fft", "complex64", (40, 1009), axis=-1)

write_cases(OUT, lines)
print(f"gen_fft: {len(lines)} cases in {OUT}")
