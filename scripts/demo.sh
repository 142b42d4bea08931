#!/usr/bin/env bash
# The main job: set-up (idempotent), an optimised build, and `chorus demo`
# on the embedded default model. Extra arguments go to `chorus demo`.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"
scripts/setup.sh
log "building chorus (release; the first build compiles llama.cpp, ~10 minutes on 2 cores)"
cargo build --release --quiet -p chorus-cli
exec "$CARGO_TARGET_DIR/release/chorus" demo --model "$ROOT/models/SmolLM2-135M-Instruct.Q4_1.gguf" "$@"
