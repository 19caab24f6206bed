#!/usr/bin/env bash
# Builds the libFuzzer targets (clang, ASan + UBSan) against the library
# sources and runs them.
#   fuzz/run.sh [SECONDS_PER_TARGET] [TARGET...]   (default: 30 s, all targets)
# Seeds come from fuzz/seeds/<target>/ and ../shared/testdata; new findings
# land in build-fuzz/crashes/. CI runs a short regression pass.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-30}
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  targets=()
  for f in fuzz/fuzz_*.c; do targets+=("$(basename "$f" .c | sed 's/^fuzz_//')"); done
fi
out=build-fuzz
mkdir -p "$out/crashes"
# Every library source except the CLI; cJSON/OpenBLAS/PCRE2 from Debian.
# The CPU library only: the CUDA backend's files need the CUDA toolkit.
srcs=$(find src -name '*.c' -not -path 'src/backend/cuda/*' | sort)
libs="-lopenblas -lcjson -lz -lm -lpthread"
for lib in libpcre2-8 libutf8proc; do
  if pkg-config --exists "$lib"; then libs="$libs $(pkg-config --libs "$lib")"; fi
done
if [ ! -f "$out/libmlxc_fuzz.a" ] || [ -n "$(find src include -newer "$out/libmlxc_fuzz.a" -name '*.[ch]' | head -1)" ]; then
  rm -rf "$out/obj" && mkdir -p "$out/obj"
  for s in $srcs; do
    o="$out/obj/$(echo "$s" | tr '/' '_').o"
    clang -std=c11 -D_GNU_SOURCE -O1 -g -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined \
      -Iinclude -Isrc -c "$s" -o "$o" &
    while [ "$(jobs -r | wc -l)" -ge "$(nproc)" ]; do wait -n; done
  done
  wait
  ar rcs "$out/libmlxc_fuzz.a" "$out"/obj/*.o
fi
for t in "${targets[@]}"; do
  clang -std=c11 -D_GNU_SOURCE -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -Iinclude \
    "fuzz/fuzz_$t.c" "$out/libmlxc_fuzz.a" $libs -o "$out/fuzz_$t"
  corpus="$out/corpus_$t"
  mkdir -p "$corpus"
  seeds=()
  [ -d "fuzz/seeds/$t" ] && seeds+=("fuzz/seeds/$t")
  echo "== fuzz_$t for ${secs}s"
  ASAN_OPTIONS=detect_leaks=1 "$out/fuzz_$t" -max_total_time="$secs" -max_len=65536 \
    -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$out/crashes/$t-" \
    "$corpus" "${seeds[@]}" 2>&1 | grep -E "^(#[0-9]+.*DONE|Done|stat::number_of_executed_units|==.*ERROR|SUMMARY)" || true
  if ls "$out/crashes/$t-"* >/dev/null 2>&1; then
    echo "fuzz_$t: findings in $out/crashes" >&2
    exit 1
  fi
done
