"""NumPy fixtures for mx_fast_silu_mul (tests/test_fast_silu_mul.c).

Usage: gen_fast_silu_mul.py OUTDIR

Op: silu_mul (inputs a, b of one shape and dtype): a * sigmoid(a) * b.

The C test checks the op bit for bit against mlxc's own three-op chain;
these fixtures check that chain's value against an independent f64
reference, with the rounding after each step that MLX's chain has:
s = round(sigmoid(a)), g = round(a * s), out = round(g * b).

Tolerances (|got - want| <= atol + rtol*|want|):
- f32: the kernels' sigmoid is within 3 ulp of the correctly rounded value
  (elementwise_simd_math.h: exp within 1 ulp plus two roundings); the two
  products round once each in both, but from inputs up to 3 ulp apart, so
  each may land one ulp further: 5 ulp of up to 2^-23 relative, rtol
  16 * 2^-24 ~ 1e-6, atol 0 (sigmoid stays relative accurate on both
  tails).
- f16 / bf16: the reference rounds s, g and the result to the dtype like
  the kernel; an f32 sigmoid a few ulp off can round s to the other
  neighbour (one ulp of the dtype), which moves g and the result by up to
  one ulp each: rtol 3 ulp of the dtype (3 * 2^-10 / 3 * 2^-7), atol 4
  of the smallest subnormal of the dtype (results that are subnormal).
"""
import numpy as np

import fixtures as fx

OUT = fx.out_dir()
rng = np.random.default_rng(20261128)
lines = []


def sigmoid64(x):
    x = x.astype(np.float64)
    e = np.exp(-np.abs(x))
    return np.where(x < 0, e / (1.0 + e), 1.0 / (1.0 + e))


def rnd(x, dt):
    """f64 values rounded to dt (NaN kept), as f64."""
    if dt == "float32":
        return x.astype(np.float32).astype(np.float64)
    if dt == "float16":
        return x.astype(np.float16).astype(np.float64)
    return fx.bf16_round(x.astype(np.float32)).astype(np.float64)


def store(a, dt):
    """The stored form of an f64 array in dt (bf16 as uint16 bits)."""
    if dt == "bfloat16":
        return fx.bf16_bits_quiet_nan(a.astype(np.float32), order="C")
    return a.astype(fx.NP_DTYPES[dt])


TOL = {"float32": (16 * 2.0 ** -24, 0.0),
       "float16": (3 * 2.0 ** -10, 4 * 2.0 ** -24),
       "bfloat16": (3 * 2.0 ** -7, 4 * 2.0 ** -133)}

n = 0
for dt in ["float32", "float16", "bfloat16"]:
    for shape, view in [((), None), ((0, 3), None), ((1,), None), ((7,), None),
                        ((33,), None), ((5, 200), None), ((1000,), None), ((4099,), None),
                        ((9, 33), "T"), ((6, 40), "step2"), ((11, 17), "rev")]:
        st = fx.stored_shape(shape, view)
        a0 = rng.normal(0, 4, st)
        b0 = rng.normal(0, 2, st)
        if a0.size > 8:
            a0.reshape(-1)[:6] = [90.0, -95.0, 0.0, -0.0, 20.0, -30.0]
        # inputs as the dtype holds them
        a0, b0 = rnd(a0, dt), rnd(b0, dt)
        a, b = fx.apply_view(a0, view), fx.apply_view(b0, view)
        s = rnd(sigmoid64(a), dt)
        g = rnd(a * s, dt)
        out = rnd(g * b, dt)
        cid = f"c{n}"
        n += 1
        fx.save_npy(OUT, f"{cid}.in0.npy", store(a0, dt))
        fx.save_npy(OUT, f"{cid}.in1.npy", store(b0, dt))
        fx.save_npy(OUT, f"{cid}.out.npy", store(out, dt))
        rtol, atol = TOL[dt]
        keys = []
        if view:
            keys += [f"view0={view}", f"view1={view}"]
        if dt == "bfloat16":
            keys += ["dtype0=bfloat16", "dtype1=bfloat16", "out_dtype=bfloat16"]
        lines.append(f"{cid} silu_mul 2 {rtol!r} {atol!r} " + " ".join(keys))

fx.write_cases(OUT, lines)
