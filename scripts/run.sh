#!/usr/bin/env bash
# The main job: build mlxc, then generate text from the default model that
# ships in the repository (models/kjv-small, a small Llama trained on the King
# James Bible by scripts/train_default_model.py). Arguments replace the
# default command, e.g. `scripts/run.sh demo` or
# `scripts/run.sh generate -m MODEL -p "..."`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh
if [ $# -eq 0 ]; then
  set -- generate -m models/kjv-small --ignore-chat-template -n 120 --temp 0.8 --top-p 0.95 \
    --seed 7 -p "And it came to pass, when the king"
fi
exec ./build/mlxc "$@"
