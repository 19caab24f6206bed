#!/usr/bin/env python3
"""Independent GGUF dump (written from the GGUF specification) for test_gguf.

Writes DIR/<file>.dump for each GGUF in ../shared/testdata: one line per
metadata key and per tensor, in file order. Strings and string arrays are
written as FNV-1a 64 hashes of (length, bytes); numeric arrays as their count
and a hash of their raw bytes; tensors with type, row-major shape, absolute
offset, byte size and a hash of their data. test_gguf prints the same lines
from the C reader and compares.
"""
import os
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
TESTDATA = os.environ.get("MLXC_TESTDATA", os.path.join(HERE, "..", "..", "..", "shared", "testdata"))
FILES = [
    "models/stories260K/stories260K.gguf",
    "tokenizers/llamacpp/ggml-vocab-llama-spm.gguf",
    "tokenizers/llamacpp/ggml-vocab-phi-3.gguf",
    "tokenizers/llamacpp/ggml-vocab-gpt-2.gguf",
    "tokenizers/llamacpp/ggml-vocab-bert-bge.gguf",
]
SCALAR = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q", 11: "<q", 12: "<d"}
# ggml type -> (block elements, block bytes)
BLOCK = {0: (1, 4), 1: (1, 2), 2: (32, 18), 3: (32, 20), 6: (32, 22), 7: (32, 24), 8: (32, 34),
         9: (32, 36), 10: (256, 84), 11: (256, 110), 12: (256, 144), 13: (256, 176), 14: (256, 210),
         15: (256, 292), 24: (1, 1), 25: (1, 2), 26: (1, 4), 27: (1, 8), 28: (1, 8), 30: (1, 2)}


def fnv(data, h=0xcbf29ce484222325):
    for b in data:
        h ^= b
        h = (h * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    return h


class Reader:
    def __init__(self, buf):
        self.b, self.p = buf, 0

    def take(self, fmt):
        v = struct.unpack_from(fmt, self.b, self.p)[0]
        self.p += struct.calcsize(fmt)
        return v

    def string(self):
        n = self.take("<Q")
        s = self.b[self.p:self.p + n]
        self.p += n
        return s


def fmt_scalar(t, v):
    if t == 7:
        return "true" if v else "false"
    if t in (6, 12):
        return "%.17g" % float(v)
    return str(v)


def dump(path):
    buf = open(path, "rb").read()
    r = Reader(buf)
    assert r.take("<I") == 0x46554747
    version = r.take("<I")
    nt, nkv = r.take("<Q"), r.take("<Q")
    out = ["version %d" % version]
    align = 32
    for _ in range(nkv):
        key = r.string().decode("utf-8")
        t = r.take("<I")
        if t == 8:
            s = r.string()
            out.append("kv %s string %d %016x" % (key, len(s), fnv(s)))
        elif t == 9:
            et, n = r.take("<I"), r.take("<Q")
            if et == 8:
                h = 0xcbf29ce484222325
                for _ in range(n):
                    s = r.string()
                    h = fnv(struct.pack("<Q", len(s)) + s, h)
                out.append("kv %s array string %d %016x" % (key, n, h))
            else:
                size = struct.calcsize(SCALAR[et])
                raw = buf[r.p:r.p + n * size]
                r.p += n * size
                out.append("kv %s array %d %d %016x" % (key, et, n, fnv(raw)))
        else:
            v = r.take(SCALAR[t])
            if key == "general.alignment":
                align = v
            out.append("kv %s %d %s" % (key, t, fmt_scalar(t, v)))
    infos = []
    for _ in range(nt):
        name = r.string().decode("utf-8")
        nd = r.take("<I")
        dims = [r.take("<Q") for _ in range(nd)]
        t, off = r.take("<I"), r.take("<Q")
        infos.append((name, dims, t, off))
    data = (r.p + align - 1) // align * align
    for name, dims, t, off in infos:
        n = 1
        for d in dims:
            n *= d
        be, bb = BLOCK[t]
        nbytes = n // be * bb
        start = data + off
        shape = ",".join(str(d) for d in reversed(dims))
        out.append("tensor %s %d (%s) %d %d %016x" % (name, t, shape, start, nbytes,
                                                       fnv(buf[start:start + nbytes])))
    return out


def main():
    outdir = sys.argv[1]
    os.makedirs(outdir, exist_ok=True)
    for rel in FILES:
        path = os.path.join(TESTDATA, rel)
        if not os.path.exists(path):
            continue  # the C test reports the missing file by name
        with open(os.path.join(outdir, os.path.basename(rel) + ".dump"), "w") as f:
            f.write("\n".join(dump(path)) + "\n")


if __name__ == "__main__":
    main()
