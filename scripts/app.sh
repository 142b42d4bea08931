#!/usr/bin/env bash
# Runs the Chorus desktop app (src-tauri, with the Svelte UI of ui/ built into
# it). Idempotent set-up first, then a build, then the app in a window (it
# needs a display: a desktop session, or `xvfb-run -a scripts/app.sh`).
#
#   scripts/app.sh [--release]
#
# The app keeps its settings in the app config folder
# (~/.config/app.chorus/settings.json) and its journal and models in
# the data folder (Settings; default ~/.local/share/chorus, or
# $CHORUS_DATA_DIR).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"
scripts/setup.sh
ui_deps
(cd ui && npm run build --silent)
PROFILE=(); DIR=debug
if [ "${1:-}" = "--release" ]; then PROFILE=(--release); DIR=release; fi
cargo build --quiet "${PROFILE[@]}" -p chorus-app --features custom-protocol
# The build bundles the embedded model (models/) with the app (tauri.conf.json
# resources), so the binary finds it beside itself.
exec "$CARGO_TARGET_DIR/$DIR/chorus-app"
