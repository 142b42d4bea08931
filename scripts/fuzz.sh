#!/usr/bin/env bash
# The fuzz targets of fuzz/ (cargo-fuzz, libFuzzer), each for a bounded
# time, one after the other, on a copy of its checked-in corpus.
#
#   scripts/fuzz.sh [SECONDS] [TARGET…]     (default: 20 seconds, every target)
#
# Installs what it needs when missing (rustup's nightly toolchain, minimal
# profile, and cargo-fuzz), builds every target without a sanitizer (the
# workspace forbids unsafe code; overflow checks and debug assertions are
# on) in its own target folder, then runs each target for SECONDS with
# -rss_limit_mb and a per-input timeout. A run works on a temporary copy
# of fuzz/corpus/<target>, so it does not grow the repository's corpus;
# FUZZ_MERGE=1 merges what it found back into fuzz/corpus/<target>
# (libFuzzer's -merge=1: only inputs that add coverage). A crash, a
# timeout or an input over the memory limit is written to
# fuzz/artifacts/<target>/ and fails the script.
#
# Ends with a table: per target the seconds, executions, executions per
# second, corpus files before and after, and the result; a last line
# `fuzz: N passed, M failed`.
#
# Environment: FUZZ_TARGET_DIR (default ~/.cache/chorus/target-fuzz),
# FUZZ_RSS_LIMIT_MB (2048), FUZZ_TIMEOUT (10 seconds per input),
# FUZZ_MERGE (0), CARGO_BUILD_JOBS (cargo's own).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"

SECONDS_EACH="${1:-20}"
shift || true
case "$SECONDS_EACH" in '' | *[!0-9]*) die "SECONDS must be a whole number, not $SECONDS_EACH" ;; esac
TARGET_DIR="${FUZZ_TARGET_DIR:-$HOME/.cache/chorus/target-fuzz}"
RSS_LIMIT_MB="${FUZZ_RSS_LIMIT_MB:-2048}"
TIMEOUT="${FUZZ_TIMEOUT:-10}"

if ! rustup run nightly rustc --version >/dev/null 2>&1; then
    log "installing the nightly toolchain"
    rustup toolchain install nightly --profile minimal >&2
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
    log "installing cargo-fuzz"
    cargo install --locked cargo-fuzz >&2
fi

mapfile -t ALL < <(cargo +nightly fuzz list)
TARGETS=("$@")
[ "${#TARGETS[@]}" -gt 0 ] || TARGETS=("${ALL[@]}")

log "building the fuzz targets in $TARGET_DIR"
build_start=$SECONDS
if [ "${#TARGETS[@]}" -eq 1 ]; then
    cargo +nightly fuzz build -s none --target-dir "$TARGET_DIR" "${TARGETS[0]}" >&2
else
    cargo +nightly fuzz build -s none --target-dir "$TARGET_DIR" >&2
fi
log "built in $((SECONDS - build_start)) s"
BIN="$TARGET_DIR/$(rustc -vV | sed -n 's/^host: //p')/release"

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
ROWS=() passed=0 failed=0
for target in "${TARGETS[@]}"; do
    [ -x "$BIN/$target" ] || die "no fuzz target $target (have: ${ALL[*]})"
    corpus="$WORK/$target"
    mkdir -p "$corpus" "fuzz/artifacts/$target"
    if [ -d "fuzz/corpus/$target" ]; then cp -r "fuzz/corpus/$target/." "$corpus/"; fi
    before=$(find "$corpus" -type f | wc -l)
    args=(-max_total_time="$SECONDS_EACH" -rss_limit_mb="$RSS_LIMIT_MB" -timeout="$TIMEOUT"
        -artifact_prefix="fuzz/artifacts/$target/" -print_final_stats=1)
    if [ -f "fuzz/dict/$target.dict" ]; then args+=(-dict="fuzz/dict/$target.dict"); fi
    log "fuzzing $target for ${SECONDS_EACH} s ($before corpus files)"
    start=$SECONDS
    set +e
    "$BIN/$target" "${args[@]}" "$corpus" >"$WORK/$target.log" 2>&1
    status=$?
    set -e
    took=$((SECONDS - start))
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$WORK/$target.log" | tail -1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$WORK/$target.log" | tail -1)
    after=$(find "$corpus" -type f | wc -l)
    if [ "$status" -eq 0 ]; then
        result=passed passed=$((passed + 1))
    else
        result=FAILED failed=$((failed + 1))
        log "$target FAILED (exit status $status); the end of its log:"
        tail -40 "$WORK/$target.log" >&2
    fi
    if [ "${FUZZ_MERGE:-0}" = 1 ] && [ "$status" -eq 0 ]; then
        mkdir -p "fuzz/corpus/$target"
        "$BIN/$target" -merge=1 "fuzz/corpus/$target" "$corpus" >"$WORK/$target.merge.log" 2>&1
    fi
    ROWS+=("$(printf '%-18s %7s %12s %9s %7s %7s  %s' "$target" "$took" "${execs:-?}" "${rate:-?}" "$before" "$after" "$result")")
done

printf '\n%-18s %7s %12s %9s %7s %7s  %s\n' target seconds executions exec/s corpus0 corpus1 result
printf '%s\n' "${ROWS[@]}"
printf 'fuzz: %d passed, %d failed\n' "$passed" "$failed"
[ "$failed" -eq 0 ]
