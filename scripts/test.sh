#!/usr/bin/env bash
# The whole test suite: set-up (idempotent), the UI's tests and build, the
# npm packages of the js-libp2p interop test, the format check, then every
# test of the workspace — unit tests, the engine on the real embedded model,
# the network, the CLI (the interop test among them), the app shell — the
# lints, a short run of every fuzz target (scripts/fuzz.sh), and last the
# end-to-end test of the desktop app (scripts/e2e.sh).
#
#   scripts/test.sh [NEXTEST ARGS…]      (extra arguments go to cargo nextest)
#
# Every stage runs even when one before it fails (a red nextest must not hide
# whether the lints pass), except set-up: without it nothing else can run.
# The end is a table of the stages, each passed or FAILED with its seconds,
# and a last line `stages: N passed, M failed`; the exit status is non-zero
# if any stage failed.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"

NAMES=() RESULTS=() TIMES=()

# stage NAME COMMAND [ARGS…]: runs one stage and records its result and time.
# The command runs in a subshell with `set -e`, so a failing command in the
# middle of a stage ends that stage and only it. Not as `( … ) || …` nor
# under `if`: there bash ignores `set -e` inside the subshell, and the
# failure would go unnoticed. Nor as a background job: that would ignore
# Ctrl-C.
stage() {
    local name="$1" start="$SECONDS" status
    shift
    log "stage $name"
    set +e
    (
        set -e
        "$@"
    )
    status=$?
    set -e
    NAMES+=("$name")
    TIMES+=("$((SECONDS - start))")
    if [ "$status" -eq 0 ]; then
        RESULTS+=(passed)
    else
        RESULTS+=(FAILED)
        log "stage $name FAILED (exit status $status)"
    fi
    return 0
}

# The table and the summary line, last on stdout; exits 1 if a stage failed.
report() {
    local i passed=0 failed=0
    printf '\n%-16s %-7s %8s\n' stage result seconds
    for i in "${!NAMES[@]}"; do
        printf '%-16s %-7s %8s\n' "${NAMES[$i]}" "${RESULTS[$i]}" "${TIMES[$i]}"
        if [ "${RESULTS[$i]}" = passed ]; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
    done
    printf 'stages: %d passed, %d failed\n' "$passed" "$failed"
    [ "$failed" -eq 0 ]
}

# System packages and the embedded model (scripts/setup.sh, idempotent).
stage setup scripts/setup.sh
if [ "${RESULTS[0]}" != passed ]; then
    log "set-up failed: no other stage can run"
    report || exit 1
fi

# The UI (ui/): component tests with Vitest, the type check and the static
# build the app (src-tauri) embeds. `npm ci` installs exactly the lock file;
# after it, each of the three runs even if one before it failed.
ui() {
    cd ui
    npm ci --no-audit --no-fund --loglevel=error
    local failed=0
    npm test || failed=1
    npm run check || failed=1
    npm run build || failed=1
    return "$failed"
}
stage ui ui

# The npm packages of the js-libp2p interop test (interop/js), from its
# lock file, when missing or out of date. The test itself runs under
# nextest; CHORUS_REQUIRE_INTEROP makes it fail rather than skip when the
# packages are not there, so a failed install cannot pass unnoticed.
stage interop-deps interop_deps
export CHORUS_REQUIRE_INTEROP=1
# The embedding model's tests (crates/chorus-embed) skip when
# models/all-MiniLM-L6-v2 is missing, except here: set-up installs it, so a
# missing model is a failure.
export CHORUS_REQUIRE_EMBEDDER=1
# chorus api's tests run the official `openai` Python client (set-up puts it
# in $HOME/.cache/chorus/api-venv); without it they fail here, not skip.
export CHORUS_REQUIRE_API_CLIENT=1

# Every Rust file as rustfmt (rustfmt.toml) writes it.
stage fmt cargo fmt --all --check

# The layout rules of docs/ARCHITECTURE.md: files of at most 700 lines, no
# two sibling modules importing each other, crate dependencies one way.
stage structure python3 scripts/check-structure.py

# Each test runs in its own process (nextest): llama.cpp can abort() a
# process on a failed assertion, and one such test must not take the others
# with it. Model tests use one thread each, so two run side by side on two cores.
nextest() {
    if ! cargo nextest --version >/dev/null 2>&1; then
        log "installing cargo-nextest"
        cargo install --locked cargo-nextest >&2
    fi
    cargo nextest run --workspace --no-fail-fast --failure-output final "$@"
}
stage nextest nextest "$@"

# nextest does not run doc tests.
stage doctests cargo test --workspace --doc --quiet

# The lints (missing docs, no unwrap/expect outside tests, …) are enforced here.
stage clippy cargo clippy --workspace --all-targets --quiet -- -D warnings
# chorus-engine without llama.cpp (the build the Android check uses) must
# stay warning-free too.
stage clippy-no-llama cargo clippy -p chorus-engine --no-default-features --quiet -- -D warnings

# Every fuzz target of fuzz/ for a short bounded time on its checked-in
# corpus (scripts/fuzz.sh, nightly and cargo-fuzz installed when missing):
# an input that breaks an invariant again, or a new one found in the time,
# fails the stage. The long runs and their figures: RELIABILITY.md.
stage fuzz scripts/fuzz.sh "${CHORUS_FUZZ_SECONDS:-15}"

# The app and every crate under it, llama.cpp aside, for Android, with its
# cfg(mobile) code.
stage android scripts/check-android.sh --quiet

# The real desktop app in its real webview, under Xvfb (tests/e2e/app.e2e.mjs).
# It builds what it runs itself (the UI and the app with the custom
# protocol), so it does not depend on the stages above having passed.
stage e2e scripts/e2e.sh

report
