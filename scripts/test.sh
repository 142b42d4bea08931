#!/usr/bin/env bash
# The whole test suite: set-up (idempotent), the UI's tests and build, then
# every test of the workspace — unit tests, the engine on the real embedded
# model, the network, the CLI, the app shell — the lints, and last the
# end-to-end test of the desktop app (scripts/e2e.sh).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"
scripts/setup.sh

if ! cargo nextest --version >/dev/null 2>&1; then
    log "installing cargo-nextest"
    cargo install --locked cargo-nextest >&2
fi
# Each test runs in its own process (nextest): llama.cpp can abort() a
# process on a failed assertion, and one such test must not take the others
# with it. Model tests use one thread each, so two run side by side on two cores.
# The UI first (ui/): component tests with Vitest, the type check and the
# static build the app (src-tauri) embeds. `npm ci` installs exactly the
# lock file.
(
    cd ui
    npm ci --no-audit --no-fund --loglevel=error
    npm test
    npm run check
    npm run build
)
cargo nextest run --workspace --no-fail-fast --failure-output final "$@"
cargo test --workspace --doc --quiet
# The lints (missing docs, no unwrap/expect outside tests, …) are enforced here.
cargo clippy --workspace --all-targets --quiet -- -D warnings
# chorus-engine without llama.cpp (the build the Android check uses) must
# stay warning-free too.
cargo clippy -p chorus-engine --no-default-features --quiet -- -D warnings
# The app and every crate under it, llama.cpp aside, for Android, with its
# cfg(mobile) code.
scripts/check-android.sh --quiet
# The real desktop app in its real webview, under Xvfb (e2e/app.e2e.mjs).
scripts/e2e.sh
