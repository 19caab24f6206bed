#!/usr/bin/env bash
# The main job: build mlxc, then run it. Until language models land, the main
# job is `mlxc demo` (array computations printed); arguments replace it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh
if [ $# -eq 0 ]; then set -- demo; fi
exec ./build/mlxc "$@"
