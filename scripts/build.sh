#!/usr/bin/env bash
# Configures and builds mlxc into ./build (Release, warnings as errors).
# Extra arguments go to cmake's configure step.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DMLXC_WERROR=ON "$@" >/dev/null
cmake --build build -j"$(nproc)"
