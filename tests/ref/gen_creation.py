"""NumPy fixtures for the creation ops (tests/test_creation.c).

Usage: gen_creation.py OUTDIR

Expected values are what MLX computes, emulated in NumPy where MLX's
algorithm differs from NumPy's:
- arange: MLX converts start and start+step to the output dtype and adds
  their difference repeatedly in that dtype (a serial accumulation, which
  np.add.accumulate reproduces exactly); integers wrap.
- linspace: (1 - t) * start + t * stop with t = arange(num) / (num - 1), in
  float32 (float64 for a float64 output), then cast.
Every emulation is also checked here against NumPy's own function, so a
wrong emulation cannot pass silently. Since the kernels perform the same
IEEE operations in the same order, all comparisons are exact (rtol = atol =
0); float16/bfloat16 results are rounded once from the same float32 value.
"""

import numpy as np

from fixtures import MLX_DTYPES as DTYPES
from fixtures import NP_DTYPES as NP
from fixtures import bf16_bits_quiet_nan as to_bf16_bits
from fixtures import bf16_to_f32_c as bf16_to_f32
from fixtures import out_dir, save_npy_as_is, write_cases

OUT = out_dir()
rng = np.random.default_rng(1234)
lines = []


def case(cid, op, inputs, out, params, dtype_name=None, in_bf16=(), views=None):
    keys = []
    for k, a in enumerate(inputs):
        save_npy_as_is(OUT, f"{cid}.in{k}.npy", a)
        if k in in_bf16:
            keys.append(f"dtype{k}=bfloat16")
    if views:
        keys += [f"view{k}={v}" for k, v in views.items()]
    if dtype_name == "bfloat16":
        keys.append("out_dtype=bfloat16")
    save_npy_as_is(OUT, f"{cid}.out.npy", out)
    keys += [f"{k}={v}" for k, v in params.items()]
    lines.append(f"{cid} {op} {len(inputs)} 0 0 " + " ".join(keys))


def shape_str(shape):
    return ",".join(str(s) for s in shape)


def as_dtype(x, d):
    """Cast float64/float32 values to dtype d as MLX's astype (bf16 as bits)."""
    if d == "bfloat16":
        return to_bf16_bits(np.asarray(x, np.float32))
    return np.asarray(x).astype(NP[d])


# ---------------------------------------------------------------- full_scalar
# Empty shapes put the 0 first: the npy loader (src/io/npy.c) rejects a 0 after
# a nonzero dim; test_creation.c checks such shapes directly.
SHAPES = [(), (0,), (1,), (7,), (33,), (0, 3, 2), (4, 5), (1000,), (2, 3, 4)]
# Large fills (the threaded path) are checked in C without fixtures.
for d in DTYPES:
    for si, shape in enumerate(SHAPES):
        for vi, v in enumerate([0.0, 1.0, 2.5, -3.0, float("nan")]):
            if v < 0 and (d.startswith("uint") or d == "bool"):
                continue  # negative to unsigned is undefined in MLX's cast
            if v != v and d not in ("float16", "float32", "float64", "bfloat16", "complex64"):
                continue
            if si % 3 != vi % 3 and shape not in ((), (0,), (1000,)):
                continue  # keep the count modest; every value still meets every dtype
            ref = np.full(shape, v, np.float64)
            out = as_dtype(ref, d)
            params = {"value": repr(v), "dtype": d}
            if shape:
                params["shape"] = shape_str(shape)
            case(f"full_scalar_{d}_{si}_{vi}", "full_scalar", [], out, params, d)
    # zeros / ones
    for si, shape in enumerate([(), (0, 4), (9, 17), (3000,)]):
        for op, v in (("zeros", 0.0), ("ones", 1.0)):
            out = as_dtype(np.full(shape, v), d)
            params = {"dtype": d}
            if shape:
                params["shape"] = shape_str(shape)
            case(f"{op}_{d}_{si}", op, [], out, params, d)

# ---------------------------------------------------------------- *_like
for d in ["bool", "uint8", "int32", "int64", "float16", "float32", "bfloat16", "complex64"]:
    for si, shape in enumerate([(), (0,), (3, 5), (2, 1, 33)]):
        src = rng.standard_normal(shape).astype(np.float32)
        a = as_dtype(src, d)
        for op, v in (("zeros_like", 0.0), ("ones_like", 1.0), ("full_like", 7.0)):
            out = as_dtype(np.full(shape, v), d)
            params = {"value": "7.0"} if op == "full_like" else {}
            case(f"{op}_{d}_{si}", op, [a], out, params, d,
                 in_bf16=(0,) if d == "bfloat16" else ())

# ---------------------------------------------------------------- full (array vals)
full_cases = [((), (4, 3)), ((3,), (4, 3)), ((4, 1), (4, 3)), ((1, 1), (2, 5, 7)), ((5, 7), (2, 5, 7)),
              ((33,), (3, 33)), ((), ()), ((1,), (0, 3)), ((2, 300), (4, 2, 300))]
for d_in in ["float32", "int32", "bool", "bfloat16"]:
    for d_out in ["float32", "int16", "uint8", "float16", "bfloat16", "bool", "complex64", "float64"]:
        for ci, (vs, shape) in enumerate(full_cases):
            if (ci + len(d_in) + len(d_out)) % 3 != 0 and ci > 1:
                continue
            v = (rng.uniform(0, 100, vs)).astype(np.float32)
            if d_in == "bool":
                v = v > 50
            elif d_in == "int32":
                v = v.astype(np.int32)
            elif d_in == "bfloat16":
                v = bf16_to_f32(to_bf16_bits(v))
            stored = to_bf16_bits(v) if d_in == "bfloat16" else v
            vals = v.astype(np.float32) if d_in == "bfloat16" else v
            # MLX: cast then broadcast; float -> int truncates, -> bool is != 0.
            if d_out == "bfloat16":
                out = to_bf16_bits(np.broadcast_to(np.asarray(vals, np.float32), shape))
            else:
                out = np.broadcast_to(np.asarray(vals).astype(NP[d_out]), shape).copy()
            params = {"dtype": d_out}
            if shape:
                params["shape"] = shape_str(shape)
            case(f"full_{d_in}_{d_out}_{ci}", "full", [stored], out, params, d_out,
                 in_bf16=(0,) if d_in == "bfloat16" else ())
# strided vals
v = rng.uniform(-5, 5, (6, 4)).astype(np.float32)
case("full_view_T", "full", [v], np.broadcast_to(v.T, (3, 4, 6)).astype(np.float32),
     {"dtype": "float32", "shape": "3,4,6"}, views={0: "T"})
case("full_view_rev", "full", [v], np.broadcast_to(v[:, ::-1].astype(np.int32), (2, 6, 4)).copy(),
     {"dtype": "int32", "shape": "2,6,4"}, views={0: "rev"})
case("full_view_step2", "full", [v], np.broadcast_to(v[:, ::2], (6, 2)).astype(np.float64),
     {"dtype": "float64", "shape": "6,2"}, views={0: "step2"})


# ---------------------------------------------------------------- arange
def mlx_arange(start, stop, step, d):
    if np.isinf(step):
        n = 1 if (step > 0 and start < stop) or (step < 0 and start > stop) else 0
    else:
        n = max(int(np.ceil((stop - start) / step)), 0)
    nxt = start + step
    if d in ("float32", "float64", "float16", "complex64"):
        ft = np.float64 if d == "float64" else np.float16 if d == "float16" else np.float32
        s = ft(start)
        dd = ft(ft(nxt) - s)
        seq = np.full(n, dd, ft)
        if n:
            seq[0] = s
        out = np.add.accumulate(seq, dtype=ft) if n else seq
        return out.astype(np.complex64) if d == "complex64" else out
    if d == "bfloat16":
        def rb(x):
            return bf16_to_f32(to_bf16_bits(np.float32(x)))[()]
        s = rb(np.float32(start))
        dd = rb(np.float32(rb(np.float32(nxt))) - np.float32(s))
        vals = []
        for _ in range(n):
            vals.append(s)
            s = rb(np.float32(s) + np.float32(dd))
        return to_bf16_bits(np.array(vals, np.float32))
    bits = NP[d].itemsize * 8
    s = int(np.trunc(start))
    dd = int(np.trunc(nxt)) - s if n > 1 else 0
    vals = [(s + i * dd) % (1 << bits) for i in range(n)]
    return np.array(vals, np.uint64).astype(NP[d].str.replace("i", "u")).view(NP[d])


arange_args = [(0, 10, 1), (0, 10, 3), (10, 0, -1), (10, 0, -3), (-5.5, 5.5, 0.5), (0, 1, 0.1),
               (3, 3, 1), (5, 3, 1), (0, 1000, 1), (0, 20000, 1), (1, 2, 0.001), (-3, 7.5, 1.25),
               (0, 5, float("inf")), (5, 0, float("inf")), (5, 0, float("-inf")), (2.5, 9, 2)]
for d in DTYPES:
    if d == "bool":
        continue
    for ai, (a0, a1, a2) in enumerate(arange_args):
        if d.startswith("uint") and min(a0, a1) < 0:
            continue
        if d in ("int8", "uint8") and max(abs(a0), abs(a1)) > 70:
            if ai != 9:
                continue  # one wrapping case
        if ai == 9 and d not in ("float32", "int32", "float16"):
            continue  # long runs: a few dtypes suffice (bf16 would be a slow python loop)
        out = mlx_arange(a0, a1, a2, d)
        ref = np.arange(a0, a1, a2) if not np.isinf(a2) else None
        if ref is not None and d in ("float64",):
            assert out.shape == ref.shape and np.allclose(out, ref, rtol=1e-9, atol=1e-9), (a0, a1, a2)
        if ref is not None and d == "float32":
            assert out.shape == ref.shape and np.allclose(out, ref, rtol=1e-4, atol=1e-3), (a0, a1, a2)
        case(f"arange_{d}_{ai}", "arange", [], out,
             {"start": repr(float(a0)), "stop": repr(float(a1)), "step": repr(float(a2)), "dtype": d}, d)


# ---------------------------------------------------------------- linspace
def mlx_linspace(start, stop, num, d):
    if num == 1:
        return as_dtype(np.array([start], np.float64), d)
    ft = np.float64 if d == "float64" else np.float32
    i = np.minimum(np.arange(num), 1 << 24 if ft is np.float32 else 1 << 53).astype(ft)
    t = i / ft(num - 1)
    v = (ft(1) - t) * ft(start) + t * ft(stop)
    if num:
        assert np.allclose(v, np.linspace(start, stop, num), rtol=1e-5, atol=1e-5 * (abs(start) + abs(stop)))
    return as_dtype(v, d)


lin_args = [(0, 1, 0), (0, 1, 1), (3.5, -2, 1), (0, 1, 2), (0, 1, 7), (-10, 10, 33), (0, 100, 1000),
            (1, 2, 20000), (5, 5, 4), (0.1, 0.7, 11)]
for d in DTYPES:
    for li, (a0, a1, n) in enumerate(lin_args):
        if d.startswith("uint") and min(a0, a1) < 0:
            continue
        if d in ("int8", "uint8") and max(abs(a0), abs(a1)) > 100:
            continue
        if n > 1000 and d not in ("float32", "float64", "int32", "bfloat16"):
            continue
        case(f"linspace_{d}_{li}", "linspace", [], mlx_linspace(a0, a1, n, d),
             {"start": repr(float(a0)), "stop": repr(float(a1)), "num": n, "dtype": d}, d)

# ---------------------------------------------------------------- eye / identity / tri
eye_args = [(0, 0, 0), (1, -1, 0), (3, -1, 0), (4, 6, 1), (4, 6, -2), (5, 3, 5), (5, 3, -5), (7, 7, -6),
            (0, 4, 0), (100, 120, 3), (3, 4, 100)]
for d in ["bool", "uint8", "int32", "int64", "float16", "float32", "float64", "bfloat16", "complex64"]:
    for ei, (n, m, k) in enumerate(eye_args):
        mm = n if m < 0 else m
        ref = np.eye(n, mm, k)
        case(f"eye_{d}_{ei}", "eye", [], as_dtype(ref, d), {"n": n, "m": m, "k": k, "dtype": d}, d)
        ref = np.tri(n, mm, k)
        case(f"tri_{d}_{ei}", "tri", [], as_dtype(ref, d), {"n": n, "m": m, "k": k, "dtype": d}, d)
    for n in (0, 1, 5):
        case(f"identity_{d}_{n}", "identity", [], as_dtype(np.eye(n), d), {"n": n, "dtype": d}, d)

# ---------------------------------------------------------------- tril / triu
tril_shapes = [(3, 3), (4, 6), (6, 4), (2, 3, 5), (0, 3), (0, 2, 4), (1, 1), (40, 130), (3, 2, 33, 9)]
for d in ["bool", "int8", "uint16", "int32", "float16", "float32", "float64", "bfloat16", "complex64"]:
    for ti, shape in enumerate(tril_shapes):
        for k in (0, 1, -1, 3, -4, 50, -50):
            if (ti + k) % 3 and k not in (0,):
                continue
            x = rng.uniform(1, 9, shape).astype(np.float32)
            if d == "complex64":
                x = (x + 1j * rng.uniform(1, 9, shape)).astype(np.complex64)
            xs = as_dtype(x, d) if d != "complex64" else x
            for op, fn in (("tril", np.tril), ("triu", np.triu)):
                if d == "bfloat16":
                    out = fn(xs, k)  # zeroing bit patterns is exact
                else:
                    out = fn(xs, k).astype(xs.dtype)
                case(f"{op}_{d}_{ti}_{k}", op, [xs], out, {"k": k}, d,
                     in_bf16=(0,) if d == "bfloat16" else ())
# strided inputs
x = rng.uniform(-1, 1, (5, 7)).astype(np.float32)
for view, xv in (("T", x.T), ("rev", x[:, ::-1]), ("step2", x[:, ::2])):
    case(f"tril_view_{view}", "tril", [x], np.tril(xv, 1), {"k": 1}, views={0: view})
    case(f"triu_view_{view}", "triu", [x], np.triu(xv, -1), {"k": -1}, views={0: view})

write_cases(OUT, lines)
print(f"gen_creation: {len(lines)} cases")
