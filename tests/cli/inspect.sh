#!/usr/bin/env bash
# mlxc inspect: real GGUF and safetensors files print a tensor table (name
# first) and exit 0; malformed files print one line on stderr and exit 1.
set -u
mlxc=$1
testdata=$2
fx=$3   # the safetensors fixtures folder (gen_safetensors.py)
fail=0; pass=0
ok() { if "$@"; then pass=$((pass+1)); else echo "FAIL: $*" >&2; fail=$((fail+1)); fi; }
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT

g="$testdata/models/stories260K/stories260K.gguf"
if [ -f "$g" ]; then
  "$mlxc" inspect "$g" >"$tmp/out" 2>"$tmp/err"; rc=$?
  ok test $rc -eq 0
  ok grep -q '^token_embd.weight  f32  (512, 64)  131072$' "$tmp/out"
  ok grep -q '^blk.4.ffn_down.weight  f32  (64, 172)  44032$' "$tmp/out"
  ok grep -q 'llama.block_count = 5' "$tmp/out"
else
  echo "FAIL: missing $g" >&2; fail=$((fail+1))
fi
"$mlxc" inspect "$fx/single.safetensors" >"$tmp/out" 2>"$tmp/err"; rc=$?
ok test $rc -eq 0
ok grep -q '^bf16  BF16  (2, 3)  12$' "$tmp/out"
ok grep -q '^scalar  F32  ()  4$' "$tmp/out"
ok grep -q 'format = "pt"' "$tmp/out"
"${MLXC_PYTHON:-/usr/bin/python3}" -c "import numpy as np; np.savez(\"$tmp/a.npz\", w=np.zeros((2,3), np.float32))"
"$mlxc" inspect "$tmp/a.npz" >"$tmp/out" 2>"$tmp/err"; rc=$?
ok test $rc -eq 0
ok grep -q "^w  float32  (2, 3)  24$" "$tmp/out"
# Malformed: truncated GGUF, junk, missing file.
head -c 100 "$g" > "$tmp/trunc.gguf" 2>/dev/null || printf 'GGUF' > "$tmp/trunc.gguf"
printf 'not a model file at all' > "$tmp/junk.bin"
for f in "$tmp/trunc.gguf" "$tmp/junk.bin" "$tmp/missing.gguf"; do
  "$mlxc" inspect "$f" >"$tmp/out" 2>"$tmp/err"; rc=$?
  ok test $rc -eq 1
  ok test "$(wc -l < "$tmp/err")" -eq 1
  ok test ! -s "$tmp/out"
done
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
