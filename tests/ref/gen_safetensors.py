#!/usr/bin/env python3
"""Writes safetensors files the way the reference library lays them out
(u64 header length, JSON header, data), built here from the format spec with
json + numpy, plus the expected arrays as .npy:

  DIR/single.safetensors        every dtype, incl. 0-d and empty tensors, metadata
  DIR/sharded/                  two shards + model.safetensors.index.json
  DIR/expect/<name>.npy         expected values (bf16 as uint16 bits)
"""
import json
import os
import sys

import numpy as np

rng = np.random.default_rng(1234)


def bf16_bits(x):
    u = np.asarray(x, np.float32).view(np.uint32).astype(np.uint64)
    u = (u + 0x7FFF + ((u >> 16) & 1)) >> 16
    return u.astype(np.uint16)


def write(path, tensors, metadata=None):
    header, blobs, off = {}, [], 0
    if metadata is not None:
        header["__metadata__"] = metadata
    for name, (dtype, arr) in tensors.items():
        raw = np.ascontiguousarray(arr).tobytes()
        header[name] = {"dtype": dtype, "shape": list(arr.shape), "data_offsets": [off, off + len(raw)]}
        blobs.append(raw)
        off += len(raw)
    h = json.dumps(header).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(len(h).to_bytes(8, "little"))
        f.write(h)
        for b in blobs:
            f.write(b)


def main():
    out = sys.argv[1]
    os.makedirs(os.path.join(out, "expect"), exist_ok=True)
    os.makedirs(os.path.join(out, "sharded"), exist_ok=True)
    t = {
        "f32": ("F32", rng.standard_normal((3, 5)).astype(np.float32)),
        "f16": ("F16", rng.standard_normal((4,)).astype(np.float16)),
        "bf16": ("BF16", bf16_bits(rng.standard_normal((2, 3)))),
        "f64": ("F64", rng.standard_normal((2, 2))),
        "i64": ("I64", rng.integers(-2**62, 2**62, (3,), dtype=np.int64)),
        "u8": ("U8", rng.integers(0, 255, (7,), dtype=np.uint8)),
        "i8": ("I8", rng.integers(-128, 127, (2, 2), dtype=np.int8)),
        "bool": ("BOOL", rng.integers(0, 2, (5,)).astype(np.bool_)),
        "u32": ("U32", rng.integers(0, 2**32, (3,), dtype=np.uint32)),
        "fp8": ("F8_E4M3", rng.integers(0, 255, (4, 2), dtype=np.uint8)),
        "scalar": ("F32", np.array(3.5, np.float32)),
        "empty": ("F32", np.zeros((0, 4), np.float32)),
        "model.layers.0.self_attn.q_proj.weight": ("F32", rng.standard_normal((8, 8)).astype(np.float32)),
    }
    write(os.path.join(out, "single.safetensors"), t, {"format": "pt", "note": "héllo"})
    for name, (_, arr) in t.items():
        np.save(os.path.join(out, "expect", name + ".npy"), arr)
    a = {"model.embed.weight": ("F32", rng.standard_normal((4, 3)).astype(np.float32)),
         "model.norm.weight": ("F32", rng.standard_normal((3,)).astype(np.float32))}
    b = {"lm_head.weight": ("F16", rng.standard_normal((4, 3)).astype(np.float16))}
    write(os.path.join(out, "sharded", "model-00001-of-00002.safetensors"), a, {"format": "mlx"})
    write(os.path.join(out, "sharded", "model-00002-of-00002.safetensors"), b, {"format": "mlx"})
    wm = {k: "model-00001-of-00002.safetensors" for k in a}
    wm.update({k: "model-00002-of-00002.safetensors" for k in b})
    with open(os.path.join(out, "sharded", "model.safetensors.index.json"), "w") as f:
        json.dump({"metadata": {"total_size": 0}, "weight_map": wm}, f)
    for name, (_, arr) in list(a.items()) + list(b.items()):
        np.save(os.path.join(out, "expect", name + ".npy"), arr)


if __name__ == "__main__":
    main()
