#!/usr/bin/env python3
"""NumPy-written .npz archives for test_npz: stored (np.savez) and deflated
(np.savez_compressed), plus each member alone as .npy for comparison."""
import os
import sys

import numpy as np

rng = np.random.default_rng(7)
out = sys.argv[1]
os.makedirs(out, exist_ok=True)
arrays = {
    "weights": rng.standard_normal((17, 5)).astype(np.float32),
    "ids": rng.integers(-1000, 1000, (33,), dtype=np.int64),
    "half": rng.standard_normal((4, 4)).astype(np.float16),
    "mask": rng.integers(0, 2, (3, 2)).astype(np.bool_),
    "scalar": np.array(2.5),
    "empty": np.zeros((0, 3), np.uint8),
    "fortran": np.asfortranarray(rng.standard_normal((3, 4))),
    "big": rng.standard_normal((300, 300)).astype(np.float32),
}
np.savez(os.path.join(out, "stored.npz"), **arrays)
np.savez_compressed(os.path.join(out, "deflated.npz"), **arrays)
for k, v in arrays.items():
    np.save(os.path.join(out, k + ".npy"), v if v.ndim == 0 else np.ascontiguousarray(v))
with open(os.path.join(out, "names.txt"), "w") as f:
    f.write("\n".join(arrays) + "\n")
