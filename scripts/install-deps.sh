#!/usr/bin/env bash
# Installs every Debian package that mlxc's build, tests and benchmarks need.
# Idempotent: installs only what is missing, and runs apt-get update only then.
set -euo pipefail

PACKAGES=(
  build-essential cmake pkg-config git   # toolchain
  libopenblas-dev                        # f32/f64 GEMM
  libpcre2-dev libutf8proc-dev           # tokenizer regexes, Unicode
  libcjson-dev                           # JSON (configs, templates, tokenizers)
  zlib1g-dev                             # .npz (zip, deflate)
  python3 python3-numpy python3-jinja2   # test references (NumPy ops, Jinja2 templates)
  clang libclang-rt-14-dev               # libFuzzer + sanitizer runtimes for fuzz targets
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "install-deps: installing ${missing[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
