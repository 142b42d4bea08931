#!/usr/bin/env bash
# The main job: set-up (idempotent), an optimised build, and `chorus demo`
# on the embedded default model. Extra arguments go to `chorus demo`.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
scripts/setup.sh
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/chorus/target}"
echo "[demo] building chorus (release; the first build compiles llama.cpp, ~10 minutes on 2 cores)" >&2
cargo build --release --quiet -p chorus-cli
exec "$CARGO_TARGET_DIR/release/chorus" demo --model "$ROOT/models/SmolLM2-135M-Instruct.Q4_1.gguf" "$@"
