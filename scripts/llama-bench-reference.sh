#!/usr/bin/env bash
# Reference llama.cpp speed for Chorus: runs llama.cpp's own `llama-bench` on
# a GGUF and prints ONE JSON object on stdout, so the Rust binding
# (llama-cpp-2 / llama-cpp-sys-2 0.1.161) can be compared against upstream
# llama.cpp on the same model, with the same thread count, in the same run.
#
# Why this is needed: the crate llama-cpp-sys-2 vendors llama.cpp but leaves
# out tools/llama-bench, and only package registries are reachable here. The
# llama-cpp-python sdist carries a whole llama.cpp tree (vendor/llama.cpp),
# llama-bench included, so we build it from there.
#
# Which version: llama-cpp-sys-2 0.1.161 vendors a llama.cpp tree with ggml
# 0.26.0 and no build number (the crate has no git metadata).
# llama-cpp-python 0.3.36 is the newest release; it vendors llama.cpp commit
# 0c1e57098 (2026-10-01, ggml 0.25.3). That is the closest available tree,
# slightly older than the crate's. The CPU-kernel differences between the two
# trees are small.
#
# What it does:
#   1. Downloads the sdist with pip into the cache (once; sha256 checked) and
#      extracts only vendor/llama.cpp.
#   2. Builds ONLY the `llama-bench` target (cmake, Release, CPU only, -j2),
#      using the flags llama-cpp-sys-2's build.rs/cmake-rs use for the Rust
#      build, so the comparison is fair:
#        - GGML_NATIVE=OFF unless RUSTFLAGS has target-cpu=native, as in
#          build.rs. ggml's own defaults then turn on SSE4.2/AVX/AVX2/FMA/F16C/
#          BMI2 (the same as the crate's CMakeCache).
#        - GGML_OPENMP=ON (Chorus enables llama-cpp-2's "openmp" feature).
#        - BUILD_SHARED_LIBS=OFF (static llama/ggml, so the binary runs from
#          the cache dir; libgomp/libstdc++ come from the system as for Rust).
#        - CMAKE_{C,CXX}_FLAGS as cmake-rs passes them:
#          "-ffunction-sections -fdata-sections -fPIC -m64 -march=x86-64 -w".
#        - GGML_* environment variables are forwarded, as build.rs does.
#      If the binary already exists, steps 1-2 are skipped.
#   3. Runs: llama-bench -m MODEL -t THREADS -p PROMPT -n GEN -r REPS -o json
#      and llama-batched-bench (built beside it, the same tree) with
#      -npp BATCH_PROMPT -ntg GEN -npl 1,BATCH: the same sequences decoded
#      one at a time and BATCH at once, sampling nothing; and reduces both to
#      one JSON object on stdout:
#        {"llama_cpp_build", "ggml_version", "llama_cpp_python_version",
#         "threads", "prompt_tokens_per_s", "gen_tokens_per_s", "n_prompt",
#         "n_gen", ...}
#      plus "prompt_tokens_per_s_stddev", "gen_tokens_per_s_stddev", "reps",
#      "ggml_native", and "batched": {"sequences", "prompt_tokens",
#      "gen_tokens", "one_s", "all_s", "speedup"} (speedup: BATCH times the
#      time of one sequence over the time of BATCH at once; null with -B 0).
#
# Usage: scripts/llama-bench-reference.sh [-m MODEL] [-t THREADS] [-p PROMPT]
#                                         [-n GEN] [-r REPS] [-B BATCH] [MODEL]
#   Environment (arguments win): MODEL (default
#   models/SmolLM2-135M-Instruct.Q4_1.gguf, relative to the repo root),
#   THREADS=2, PROMPT=128, GEN=64, REPS=5, BATCH=4 (0: no batched run),
#   BATCH_PROMPT=32 (prompt tokens of each batched sequence),
#   CHORUS_CACHE (default ~/.cache/chorus; this script uses <cache>/llama-bench),
#   PYTHON (default python3), LLAMA_BENCH_GGML_NATIVE=ON|OFF (override the
#   build.rs rule; a separate build dir is used for each value),
#   LLAMA_BENCH_JOBS (default 2).
#
# Logs (pip, cmake, make, llama-bench's own stderr) go to files in the cache
# dir, with progress lines on stderr; stdout carries only the JSON. Cost: a
# ~75 MB download and about 14 CPU-minutes of compilation the first time
# (about 15 minutes of wall time on these 2 cores).
# Run it while the machine is otherwise idle: with two threads on two cores,
# any other busy process makes the figures much lower.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# --- pinned reference ---------------------------------------------------------
LCP_VERSION="0.3.36"
LCP_SDIST_SHA256="832db0699007f1be95a7e41ef12e88926b02ba836461e36a36372db2760c1a2e"

CACHE_ROOT="${CHORUS_CACHE:-$HOME/.cache/chorus}/llama-bench"
PYTHON="${PYTHON:-python3}"
JOBS="${LLAMA_BENCH_JOBS:-2}"

usage() {
    sed -n '/^# Usage:/,/^#   LLAMA_BENCH_JOBS/p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
}

# --- arguments ----------------------------------------------------------------
MODEL="${MODEL:-models/SmolLM2-135M-Instruct.Q4_1.gguf}"
THREADS="${THREADS:-2}"
PROMPT="${PROMPT:-128}"
GEN="${GEN:-64}"
REPS="${REPS:-5}"
BATCH="${BATCH:-4}"
BATCH_PROMPT="${BATCH_PROMPT:-32}"

while (($#)); do
    case "$1" in
        -m|--model)   (($# >= 2)) || die "$1 needs a value"; MODEL="$2"; shift 2 ;;
        -t|--threads) (($# >= 2)) || die "$1 needs a value"; THREADS="$2"; shift 2 ;;
        -p|--prompt)  (($# >= 2)) || die "$1 needs a value"; PROMPT="$2"; shift 2 ;;
        -n|--gen)     (($# >= 2)) || die "$1 needs a value"; GEN="$2"; shift 2 ;;
        -r|--reps)    (($# >= 2)) || die "$1 needs a value"; REPS="$2"; shift 2 ;;
        -B|--batch)   (($# >= 2)) || die "$1 needs a value"; BATCH="$2"; shift 2 ;;
        -h|--help)    usage; exit 0 ;;
        -*)           usage; die "unknown option: $1" ;;
        *)            MODEL="$1"; shift ;;
    esac
done

for pair in "THREADS:$THREADS" "PROMPT:$PROMPT" "GEN:$GEN" "REPS:$REPS" "LLAMA_BENCH_JOBS:$JOBS" "BATCH:$BATCH" \
        "BATCH_PROMPT:$BATCH_PROMPT"; do
    [[ "${pair#*:}" =~ ^[0-9]+$ ]] || die "${pair%%:*} must be a non-negative integer, got '${pair#*:}'"
done
((THREADS >= 1)) || die "THREADS must be >= 1"
((REPS >= 1)) || die "REPS must be >= 1"
((JOBS >= 1)) || die "LLAMA_BENCH_JOBS must be >= 1"
((PROMPT + GEN > 0)) || die "PROMPT and GEN are both 0: nothing to measure"

# A relative model path is taken from the current directory if it exists
# there, otherwise from the repo root (where the default lives).
if [[ "$MODEL" != /* && ! -e "$MODEL" ]]; then
    MODEL="$ROOT/$MODEL"
fi
[[ -f "$MODEL" ]] || die "model not found: $MODEL (run scripts/setup.sh, or pass -m PATH)"
MODEL="$(cd "$(dirname "$MODEL")" && pwd)/$(basename "$MODEL")"

# --- build configuration (mirrors llama-cpp-sys-2's build.rs) -------------------
# build.rs: GGML_NATIVE=ON only for target-cpu=native. Otherwise it is OFF and
# `-march=<cpu>` is added for any other target-cpu.
rustflags="${CARGO_ENCODED_RUSTFLAGS:-}"
rustflags="${rustflags//$'\x1f'/ } ${RUSTFLAGS:-}"
target_cpu=""
if [[ "$rustflags" =~ target-cpu=([^[:space:]]+) ]]; then
    target_cpu="${BASH_REMATCH[1]}"
fi
if [[ -n "${LLAMA_BENCH_GGML_NATIVE:-}" ]]; then
    case "${LLAMA_BENCH_GGML_NATIVE^^}" in
        ON|1|TRUE|YES) GGML_NATIVE_VALUE=ON ;;
        OFF|0|FALSE|NO) GGML_NATIVE_VALUE=OFF ;;
        *) die "LLAMA_BENCH_GGML_NATIVE must be ON or OFF" ;;
    esac
elif [[ "$target_cpu" == native ]]; then
    GGML_NATIVE_VALUE=ON
else
    GGML_NATIVE_VALUE=OFF
fi

# Flags cmake-rs hands to CMake for the Rust build (cc crate defaults, minus -O/-g).
case "$(uname -m)" in
    x86_64)  RUST_LIKE_FLAGS="-ffunction-sections -fdata-sections -fPIC -m64 -march=x86-64 -w" ;;
    *)       RUST_LIKE_FLAGS="-ffunction-sections -fdata-sections -fPIC -w" ;;
esac
if [[ "$GGML_NATIVE_VALUE" == OFF && -n "$target_cpu" && "$target_cpu" != native ]]; then
    RUST_LIKE_FLAGS+=" -march=$target_cpu"
fi

VERSION_DIR="$CACHE_ROOT/llama-cpp-python-$LCP_VERSION"
SDIST="$CACHE_ROOT/dist/llama_cpp_python-$LCP_VERSION.tar.gz"
SRC_DIR="$VERSION_DIR/llama.cpp"
BUILD_DIR="$VERSION_DIR/build-native-${GGML_NATIVE_VALUE,,}"
if [[ "$GGML_NATIVE_VALUE" == OFF && -n "$target_cpu" ]]; then
    BUILD_DIR+="-march-${target_cpu//[^A-Za-z0-9_.-]/_}"  # one build per -march
fi
BIN="$BUILD_DIR/bin/llama-bench"
BIN_BATCHED="$BUILD_DIR/bin/llama-batched-bench"
META="$VERSION_DIR/meta.env"
BUILD_LOG="$BUILD_DIR.log"
BENCH_LOG="$VERSION_DIR/bench.log"

mkdir -p "$CACHE_ROOT/dist" "$VERSION_DIR"

# --- steps 1 + 2: download, extract, build (skipped when the binary exists) -----
ensure_binary() {
    [[ -x "$BIN" && -x "$BIN_BATCHED" && -f "$META" ]] && return 0

    command -v cmake >/dev/null || die "cmake not found (apt-get install cmake)"
    command -v c++ >/dev/null || die "no C++ compiler found (apt-get install build-essential)"
    command -v make >/dev/null || die "make not found (apt-get install build-essential)"

    # 1a. sdist
    if [[ ! -f "$SDIST" ]]; then
        command -v "$PYTHON" >/dev/null || die "$PYTHON not found (needed for pip)"
        log "downloading llama-cpp-python==$LCP_VERSION sdist with pip (~75 MB; log: $CACHE_ROOT/dist/pip.log)"
        local tmp
        tmp="$(mktemp -d "$CACHE_ROOT/dist/.dl.XXXXXX")"
        if ! PIP_DISABLE_PIP_VERSION_CHECK=1 "$PYTHON" -m pip download --no-deps --no-binary :all: \
                --dest "$tmp" "llama-cpp-python==$LCP_VERSION" >"$CACHE_ROOT/dist/pip.log" 2>&1; then
            tail -n 20 "$CACHE_ROOT/dist/pip.log" >&2 || true
            rm -rf "$tmp"
            die "pip download of llama-cpp-python==$LCP_VERSION failed (see $CACHE_ROOT/dist/pip.log)"
        fi
        local got="$tmp/$(basename "$SDIST")"
        [[ -f "$got" ]] || { rm -rf "$tmp"; die "pip did not produce $(basename "$SDIST")"; }
        local sum
        sum="$(sha256sum "$got" | cut -d' ' -f1)"
        if [[ "$sum" != "$LCP_SDIST_SHA256" ]]; then
            rm -rf "$tmp"
            die "sha256 mismatch for $(basename "$SDIST"): got $sum, want $LCP_SDIST_SHA256"
        fi
        mv "$got" "$SDIST"
        rm -rf "$tmp"
    fi

    # 1b. extract vendor/llama.cpp (plus the submodule HEAD that names its commit)
    if [[ ! -f "$SRC_DIR/tools/llama-bench/CMakeLists.txt" ]]; then
        log "extracting vendor/llama.cpp from $(basename "$SDIST")"
        local top="llama_cpp_python-$LCP_VERSION" tmp
        tmp="$(mktemp -d "$VERSION_DIR/.src.XXXXXX")"
        tar -xzf "$SDIST" -C "$tmp" "$top/vendor/llama.cpp" "$top/CHANGELOG.md" \
            "$top/.git/modules/vendor/llama.cpp/HEAD" \
            || { rm -rf "$tmp"; die "could not extract $SDIST"; }
        local commit=""
        if [[ -f "$tmp/$top/.git/modules/vendor/llama.cpp/HEAD" ]]; then
            commit="$(tr -d '[:space:]' <"$tmp/$top/.git/modules/vendor/llama.cpp/HEAD")"
        fi
        if [[ ! "$commit" =~ ^[0-9a-f]{7,40}$ ]]; then
            # Fallback: the changelog's first "llama.cpp@<sha>" line for this release.
            commit="$(grep -m1 -o 'llama\.cpp@[0-9a-f]\{7,40\}' "$tmp/$top/CHANGELOG.md" | cut -d@ -f2 || true)"
        fi
        [[ -n "$commit" ]] || commit="unknown"
        # The submodule's .git is a gitlink to a shallow clone: without it,
        # cmake cannot report a bogus build number (the clone's commit count is 1).
        rm -f "$tmp/$top/vendor/llama.cpp/.git"
        rm -rf "$SRC_DIR"
        mv "$tmp/$top/vendor/llama.cpp" "$SRC_DIR"
        printf '%s\n' "$commit" >"$VERSION_DIR/llama_cpp_commit"
        rm -rf "$tmp"
    fi

    local commit ggml_version
    commit="$(cat "$VERSION_DIR/llama_cpp_commit" 2>/dev/null || echo unknown)"
    ggml_version="$(sed -n 's/^set(GGML_VERSION_\(MAJOR\|MINOR\|PATCH\) \([0-9]*\)).*/\2/p' \
        "$SRC_DIR/ggml/CMakeLists.txt" | paste -sd. -)"
    [[ "$ggml_version" =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || ggml_version="unknown"

    # 2. configure + build only llama-bench and llama-batched-bench
    local forwarded=() key
    for key in $(compgen -e); do
        [[ "$key" == GGML_* ]] && forwarded+=("-D$key=${!key}")
    done

    log "configuring llama.cpp ${commit:0:9} (ggml $ggml_version): Release, GGML_NATIVE=$GGML_NATIVE_VALUE, OpenMP, static (log: $BUILD_LOG)"
    local start=$SECONDS
    # The GGML_* values from the environment come first, so the explicit
    # settings after them win (as in build.rs).
    if ! cmake -S "$SRC_DIR" -B "$BUILD_DIR" -G "Unix Makefiles" \
            "${forwarded[@]}" \
            -DCMAKE_BUILD_TYPE=Release \
            "-DCMAKE_C_FLAGS=$RUST_LIKE_FLAGS" \
            "-DCMAKE_CXX_FLAGS=$RUST_LIKE_FLAGS" \
            -DBUILD_SHARED_LIBS=OFF \
            -DGGML_NATIVE="$GGML_NATIVE_VALUE" \
            -DGGML_OPENMP=ON \
            -DLLAMA_CURL=OFF \
            -DLLAMA_OPENSSL=OFF \
            -DLLAMA_BUILD_COMMON=ON \
            -DLLAMA_BUILD_TOOLS=ON \
            -DLLAMA_BUILD_TESTS=OFF \
            -DLLAMA_BUILD_EXAMPLES=OFF \
            -DLLAMA_BUILD_SERVER=OFF \
            -DLLAMA_BUILD_APP=OFF \
            -DLLAMA_BUILD_NUMBER=0 \
            -DLLAMA_BUILD_COMMIT="${commit:0:9}" \
            >"$BUILD_LOG" 2>&1; then
        tail -n 30 "$BUILD_LOG" >&2 || true
        die "cmake configure failed (see $BUILD_LOG)"
    fi

    log "building targets llama-bench and llama-batched-bench with -j$JOBS (several minutes on 2 cores)"
    if ! cmake --build "$BUILD_DIR" --config Release --target llama-bench llama-batched-bench -j "$JOBS" \
            >>"$BUILD_LOG" 2>&1; then
        tail -n 30 "$BUILD_LOG" >&2 || true
        die "build of llama-bench / llama-batched-bench failed (see $BUILD_LOG)"
    fi
    [[ -x "$BIN" && -x "$BIN_BATCHED" ]] || die "build finished but $BIN or $BIN_BATCHED is missing (see $BUILD_LOG)"
    log "built $BIN in $((SECONDS - start)) s"

    {
        printf 'LLAMA_CPP_COMMIT=%q\n' "$commit"
        printf 'GGML_VERSION=%q\n' "$ggml_version"
        printf 'BUILD_SECONDS=%q\n' "$((SECONDS - start))"
    } >"$META.tmp"
    mv "$META.tmp" "$META"
}

# Serialise the download/build between concurrent runs (flock is in util-linux).
if command -v flock >/dev/null; then
    exec 9>"$CACHE_ROOT/.lock"
    flock 9
    ensure_binary
    flock -u 9
    exec 9>&-
else
    ensure_binary
fi

# shellcheck source=/dev/null
source "$META"

# --- step 3: benchmark ------------------------------------------------------------
command -v "$PYTHON" >/dev/null || die "$PYTHON not found (needed to read llama-bench's JSON)"
# Warn (don't fail) when other work already holds the CPUs: the figures would
# say more about the neighbours than about llama.cpp.
cpu_busy_percent() {
    local a b a1 a2 a3 a4 a5 a6 a7 a8 b1 b2 b3 b4 b5 b6 b7 b8
    read -r _ a1 a2 a3 a4 a5 a6 a7 a8 _ </proc/stat
    sleep 1
    read -r _ b1 b2 b3 b4 b5 b6 b7 b8 _ </proc/stat
    a=$((a1 + a2 + a3 + a4 + a5 + a6 + a7 + a8)); b=$((b1 + b2 + b3 + b4 + b5 + b6 + b7 + b8))
    (( b > a )) || { echo 0; return; }
    echo $(( 100 - 100 * ((b4 + b5) - (a4 + a5)) / (b - a) ))
}
if [[ -r /proc/stat ]]; then
    busy="$(cpu_busy_percent)"
    if ((busy > 20)); then
        log "warning: CPUs already ${busy}% busy before the run; expect lower, noisier figures"
    fi
fi

log "llama-bench: $(basename "$MODEL"), threads=$THREADS, pp=$PROMPT, tg=$GEN, reps=$REPS"
RAW="$(mktemp)"
trap 'rm -f "$RAW"' EXIT
if ! "$BIN" -m "$MODEL" -t "$THREADS" -p "$PROMPT" -n "$GEN" -r "$REPS" -o json >"$RAW" 2>"$BENCH_LOG"; then
    tail -n 20 "$BENCH_LOG" >&2 || true
    die "llama-bench failed (see $BENCH_LOG)"
fi

BATCHED="$(mktemp)"
trap 'rm -f "$RAW" "$BATCHED"' EXIT
if ((BATCH > 0)); then
    log "llama-batched-bench: threads=$THREADS, $BATCH sequences of pp=$BATCH_PROMPT, tg=$GEN, and one alone"
    ctx=$(( (BATCH_PROMPT + GEN) * BATCH + 256 ))
    if ! "$BIN_BATCHED" -m "$MODEL" -t "$THREADS" -c "$ctx" -b 2048 -ub 512 -npp "$BATCH_PROMPT" -ntg "$GEN" \
            -npl "1,$BATCH" --output-format jsonl >"$BATCHED" 2>>"$BENCH_LOG"; then
        tail -n 20 "$BENCH_LOG" >&2 || true
        die "llama-batched-bench failed (see $BENCH_LOG)"
    fi
fi

if ! "$PYTHON" - "$RAW" "$LCP_VERSION" "$GGML_VERSION" "$LLAMA_CPP_COMMIT" "$THREADS" "$PROMPT" "$GEN" "$REPS" \
        "$GGML_NATIVE_VALUE" "$BATCHED" "$BATCH" <<'PY'; then
import json, sys

raw, lcp_version, ggml_version, commit, threads, n_prompt, n_gen, reps, native, batched_raw, batch = sys.argv[1:]
with open(raw) as f:
    results = json.load(f)
if not isinstance(results, list) or not results:
    sys.exit("llama-bench returned no results")

def pick(pp, tg):
    for r in results:
        if int(r.get("n_prompt", -1)) == pp and int(r.get("n_gen", -1)) == tg:
            return r
    return None

n_prompt, n_gen = int(n_prompt), int(n_gen)
pp = pick(n_prompt, 0) if n_prompt > 0 else None
tg = pick(0, n_gen) if n_gen > 0 else None
if (n_prompt > 0 and pp is None) or (n_gen > 0 and tg is None):
    sys.exit("llama-bench output lacks the expected pp/tg rows")

first = results[0]
build_number = int(first.get("build_number", 0) or 0)
build_commit = str(first.get("build_commit") or commit[:9])
# The sdist's shallow clone has no usable build number; report the commit then.
build = f"b{build_number}-{build_commit}" if build_number > 1 else build_commit

def rnd(x):
    return None if x is None else round(float(x), 2)

out = {
    "llama_cpp_build": build,
    "ggml_version": ggml_version,
    "llama_cpp_python_version": lcp_version,
    "threads": int(first.get("n_threads", threads)),
    "prompt_tokens_per_s": rnd(pp["avg_ts"]) if pp else None,
    "gen_tokens_per_s": rnd(tg["avg_ts"]) if tg else None,
    "n_prompt": n_prompt,
    "n_gen": n_gen,
    "prompt_tokens_per_s_stddev": rnd(pp["stddev_ts"]) if pp else None,
    "gen_tokens_per_s_stddev": rnd(tg["stddev_ts"]) if tg else None,
    "reps": int(reps),
    "ggml_native": native == "ON",
    "batched": None,
}
batch = int(batch)
if batch > 0:
    rows = [json.loads(line) for line in open(batched_raw) if line.strip().startswith("{")]
    one = next((r for r in rows if int(r["pl"]) == 1), None)
    every = next((r for r in rows if int(r["pl"]) == batch), None)
    if one is None or every is None:
        sys.exit("llama-batched-bench output lacks the pl=1 and pl=%d rows" % batch)
    out["batched"] = {
        "sequences": batch,
        "prompt_tokens": int(one["pp"]),
        "gen_tokens": int(one["tg"]),
        "one_s": round(float(one["t"]), 4),
        "all_s": round(float(every["t"]), 4),
        "speedup": round(batch * float(one["t"]) / float(every["t"]), 3),
        "gen_speedup": round(float(every["speed_tg"]) / float(one["speed_tg"]), 3),
    }
print(json.dumps(out))
PY
    { echo "--- llama-bench stdout ---"; cat "$RAW"; } >>"$BENCH_LOG"
    die "could not read llama-bench's JSON (raw output appended to $BENCH_LOG)"
fi
