#!/usr/bin/env bash
# mlxc convert (and a bench smoke test) on real models:
#  - stories260K.gguf -> HF folder: greedy text equals the GGUF's and the
#    expected ids of expected_vectors.txt; the tokenizer.json written from the
#    GGUF vocabulary encodes like the GGUF tokenizer;
#  - models/kjv-small (bf16) -> MLX 8-bit and 4-bit, -> q8_0 GGUF, 4-bit ->
#    --dequantize: each generates; 8-bit gives the bf16 greedy text;
#  - bad flags and paths: exit 2 with one line on stderr.
# usage: convert.sh MLXC TESTDATA SOURCE_DIR
set -u
mlxc=$1
testdata=$2
srcdir=$3
fail=0; pass=0
ok() { if "$@"; then pass=$((pass+1)); else echo "FAIL: $*" >&2; fail=$((fail+1)); fi; }
same() { # same A B: two strings equal (shows both when not)
  if [ "$1" == "$2" ]; then return 0; fi
  printf 'got:  %q\nwant: %q\n' "$1" "$2" >&2; return 1
}
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT

g="$testdata/models/stories260K/stories260K.gguf"
ev="$testdata/models/stories260K/expected_vectors.txt"
gen() { "$mlxc" generate -m "$1" --ignore-chat-template -p "${3:-}" -n "$2" --temp 0 2>"$tmp/gen.err"; }

# ---- stories260K: GGUF -> HF folder
"$mlxc" convert -m "$g" -o "$tmp/s260" 2>"$tmp/err"; ok test $? -eq 0
ok test -f "$tmp/s260/model.safetensors"
ok test -f "$tmp/s260/tokenizer.json"
ok grep -Eq '"model_type":[[:space:]]*"llama"' "$tmp/s260/config.json"
ids=$(sed -n '3p' "$ev" | cut -d' ' -f1-32)
want=$("$mlxc" tokenize "$g" --decode "$ids")
from_gguf=$(gen "$g" 32)
from_dir=$(gen "$tmp/s260" 32); ok test $? -eq 0
ok same "$from_gguf" "$want"
ok same "$from_dir" "$want"
for t in 'Once upon a time' 'Lily and Tom went to the park.' 'Hello, world! 123 ünïcødé' \
         '  two  spaces, <s> and a tab	end'; do
  ok same "$("$mlxc" tokenize "$tmp/s260" "$t")" "$("$mlxc" tokenize "$g" "$t")"
done
# An f16 folder of the same model still generates the same text (f16 keeps
# these small weights to 2^-11 relative; greedy margins are far larger).
"$mlxc" convert -m "$g" -o "$tmp/s260h" --dtype f16 2>"$tmp/err"; ok test $? -eq 0
ok same "$(gen "$tmp/s260h" 32)" "$want"
# ... and as a GGUF again (llama permutation applied back), q8_0: runs.
"$mlxc" convert -m "$tmp/s260" -o "$tmp/s260.gguf" --to-gguf f16 2>"$tmp/err"; ok test $? -eq 0
ok same "$(gen "$tmp/s260.gguf" 32)" "$want"

# ---- kjv-small: bf16 -> 8-bit / 4-bit MLX, q8_0 GGUF, dequantize
kjv="$srcdir/models/kjv-small"
p="In the beginning"
base=$(gen "$kjv" 20 "$p"); ok test -n "$base"
"$mlxc" convert -m "$kjv" -o "$tmp/k8" --q-bits 8 2>"$tmp/err"; ok test $? -eq 0
ok grep -Eq '"bits":[[:space:]]*8' "$tmp/k8/config.json"
ok grep -q '"quantization_config"' "$tmp/k8/config.json"
ok test -f "$tmp/k8/tokenizer.json"
ok same "$(gen "$tmp/k8" 20 "$p")" "$base"
"$mlxc" convert -m "$kjv" -o "$tmp/k4" -q 2>"$tmp/err"; ok test $? -eq 0
ok grep -Eq '"group_size":[[:space:]]*64' "$tmp/k4/config.json"
k4=$(gen "$tmp/k4" 20 "$p"); ok test $? -eq 0; ok test -n "$k4"
"$mlxc" convert -m "$tmp/k4" -o "$tmp/k4d" --dequantize 2>"$tmp/err"; ok test $? -eq 0
ok test "$(grep -c quantization "$tmp/k4d/config.json")" -eq 0
ok same "$(gen "$tmp/k4d" 20 "$p")" "$k4"
"$mlxc" convert -m "$kjv" -o "$tmp/k.gguf" --to-gguf q8_0 2>"$tmp/err"; ok test $? -eq 0
kq=$(gen "$tmp/k.gguf" 20 "$p"); ok test $? -eq 0; ok test -n "$kq"
ok same "$("$mlxc" tokenize "$tmp/k.gguf" "$p, and the earth")" "$("$mlxc" tokenize "$kjv" "$p, and the earth")"
"$mlxc" convert -m "$kjv" -o "$tmp/kmx" --q-mode mxfp4 2>"$tmp/err"; ok test $? -eq 0
ok grep -Eq '"mode":[[:space:]]*"mxfp4"' "$tmp/kmx/config.json"

# ---- bench smoke test
"$mlxc" bench -m "$g" -p 16 -n 8 -r 1 >"$tmp/out" 2>"$tmp/err"; ok test $? -eq 0
ok grep -q '^pp16: ' "$tmp/out"
ok grep -q 'of roofline' "$tmp/out"

# ---- errors: exit 2, one line on stderr, nothing written
"$mlxc" convert --help >"$tmp/out"; ok test $? -eq 0
ok grep -q 'usage: mlxc convert' "$tmp/out"
touch "$tmp/exists"
printf 'junk' >"$tmp/junk.bin"
while IFS= read -r args; do
  eval "set -- $args"
  "$mlxc" convert "$@" >"$tmp/out" 2>"$tmp/err"; rc=$?
  ok test $rc -eq 2
  ok test "$(wc -l < "$tmp/err")" -eq 1
  ok test ! -e "$tmp/never"
done <<EOF
-m "$kjv"
-o "$tmp/never"
-m "$tmp/missing" -o "$tmp/never"
-m "$kjv" -o "$tmp/exists"
-m "$kjv" -o "$tmp/never" --q-bits 7
-m "$kjv" -o "$tmp/never" --q-bits x
-m "$kjv" -o "$tmp/never" --q-group-size 48
-m "$kjv" -o "$tmp/never" --q-mode int3
-m "$kjv" -o "$tmp/never" --q-mode mxfp4 --q-bits 8
-m "$kjv" -o "$tmp/never" --dtype f64
-m "$kjv" -o "$tmp/never" --to-gguf q5_1
-m "$kjv" -o "$tmp/never" --to-gguf q8_0 --q-bits 4
-m "$kjv" -o "$tmp/never" --dequantize
-m "$kjv" -o "$tmp/never" --frobnicate
-m "$kjv" -o "$tmp/never" --q-bits
-m "$tmp/k4" -o "$tmp/never" -q
-m "$tmp/k4" -o "$tmp/never"
-m "$g" -o "$tmp/never" --to-gguf q8_0
-m "$tmp/junk.bin" -o "$tmp/never"
EOF
for args in "" "-m $g -p x" "-m $g -r 0" "-m $tmp/missing" "-m $g --frobnicate"; do
  "$mlxc" bench $args >"$tmp/out" 2>"$tmp/err"; rc=$?
  ok test $rc -eq 2
  ok test "$(wc -l < "$tmp/err")" -eq 1
done
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
