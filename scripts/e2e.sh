#!/usr/bin/env bash
# End-to-end test of the desktop app (src-tauri + ui/) in its real webview,
# driven over W3C WebDriver: tauri-driver in front of WebKitGTK's
# WebKitWebDriver, under Xvfb. The checks are in tests/e2e/app.e2e.mjs.
#
#   scripts/e2e.sh                 # build, then run the six checks
#   scripts/e2e.sh --screenshots   # the same, and save every screen at desktop
#                                  # and phone sizes into docs/screenshots/
#
# Idempotent: installs what is missing (scripts/setup.sh, tauri-driver, the
# UI's npm packages) and reuses the build cache.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"
scripts/setup.sh

if ! command -v tauri-driver >/dev/null 2>&1; then
    log "installing tauri-driver"
    cargo install --locked tauri-driver >&2
fi
export PATH="$HOME/.cargo/bin:$PATH"

ui_deps
(cd ui && npm run build --silent)
# The debug binary embeds the built UI only with the custom protocol.
cargo build --quiet -p chorus-app --features custom-protocol
export CHORUS_APP="$CARGO_TARGET_DIR/debug/chorus-app"
# The `chorus` command, run as the peer the app's network question goes to.
cargo build --quiet -p chorus-cli
export CHORUS_CLI="$CARGO_TARGET_DIR/debug/chorus"

if [ "${1:-}" = "--screenshots" ]; then
    export E2E_SCREENSHOTS="$ROOT/docs/screenshots"
fi
# WebKit in a container: no sandbox for its web processes, no GPU.
export WEBKIT_DISABLE_COMPOSITING_MODE=1
# WEBDRIVER_PORT and WEBDRIVER_NATIVE_PORT (default 4444 and 4445) pass
# through: two runs on one machine need two pairs.
exec timeout 1200 xvfb-run -a -s "-screen 0 1280x900x24" node tests/e2e/app.e2e.mjs
