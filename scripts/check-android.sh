#!/usr/bin/env bash
# Type-checks the app for Android: `cargo check --target aarch64-linux-android`
# of chorus-app and every crate under it, with the `cfg(mobile)` code Tauri
# compiles for a phone (the mobile entry point among it).
#
# All but llama.cpp: its build needs Android's NDK, which is not here, so the
# app is checked with `--no-default-features` (chorus-engine without its
# `llama` feature: same API, no backend) and `--features semantic` (semantic
# routing: the sentence model on candle, pure Rust, and the copy of the
# bundled model out of the APK). The APK itself is built elsewhere
# (README, "Android and iOS").
#
# Two crates under rustls compile C in their build scripts: ring and
# aws-lc-sys (QUIC). Without the NDK, Debian's clang targets Android with
# the arm64 glibc headers standing in for bionic's, and one bionic-only
# header aws-lc asks for (sys/system_properties.h) is declared by a stub in
# the build folder. That is enough to compile, which is all a check needs:
# nothing of it is linked or run.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"
TARGET=aarch64-linux-android
API=24

rustup target list --installed | grep -qx "$TARGET" || rustup target add "$TARGET" >&2 \
    || die "rustup target add $TARGET failed"
command -v clang >/dev/null || die "clang is missing (scripts/setup.sh installs it)"
command -v llvm-ar >/dev/null || die "llvm-ar is missing (scripts/setup.sh installs llvm)"
[ -d /usr/aarch64-linux-gnu/include ] || die "the arm64 C headers are missing (apt: libc6-dev-arm64-cross)"

stub="$CARGO_TARGET_DIR/android-check-include"
mkdir -p "$stub/sys"
cat >"$stub/sys/system_properties.h" <<'H'
/* Stand-in for bionic's header, for `cargo check` without the NDK only. */
#pragma once
#define PROP_VALUE_MAX 92
int __system_property_get(const char *name, char *value);
H

export CC_aarch64_linux_android=clang
export CXX_aarch64_linux_android=clang++
export AR_aarch64_linux_android=llvm-ar
export CFLAGS_aarch64_linux_android="--target=$TARGET$API -isystem $stub -isystem /usr/aarch64-linux-gnu/include -D_GNU_SOURCE -D__ANDROID_API__=$API"
# aws-lc-sys builds with cc (no CMake) and its pregenerated bindings.
export AWS_LC_SYS_CMAKE_BUILDER=0
# Warnings in Chorus's own crates fail the check, as in clippy's run for the
# desktop (dependencies' lints are capped by cargo; build scripts and
# proc-macros run on the host and are not affected by RUSTFLAGS under
# --target).
export RUSTFLAGS="${RUSTFLAGS:-} -D warnings"
exec cargo check --target "$TARGET" -p chorus-app --no-default-features --features semantic --lib --bins "$@"
