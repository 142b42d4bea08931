# shellcheck shell=bash
# The opening every script shares; each one starts with
#
#   source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
#
# and gets: strict mode, ROOT (the repository), log/die with the script's
# name as their tag, and the cargo settings every build here uses. It does
# not change directory: a script that works from the root says `cd "$ROOT"`.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# The tag of log lines: the running script's name, e.g. [setup], [e2e].
LOG_TAG="$(basename "$0" .sh)"

log() { printf '[%s] %s\n' "$LOG_TAG" "$*" >&2; }
die() { printf '[%s] error: %s\n' "$LOG_TAG" "$*" >&2; exit 1; }

# One build folder shared by every clone and worktree on the machine, so a
# second checkout does not rebuild llama.cpp and the rest from nothing.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/chorus/target}"
# No incremental caches: each fresh clone (CI) has its own path, so they are
# never reused and only pile up, tens of GB, in the shared target folder.
export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"
# Plain output: these scripts run in CI logs more often than in a terminal.
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"

# ui_deps: the UI's npm packages, installed exactly from the lock file
# (`npm ci`) when they are missing or older than the lock file.
ui_deps() {
    if [ ! -d "$ROOT/ui/node_modules" ] || [ "$ROOT/ui/package-lock.json" -nt "$ROOT/ui/node_modules/.package-lock.json" ]; then
        (cd "$ROOT/ui" && npm ci --no-audit --no-fund --loglevel=error)
    fi
}

# interop_deps: the npm packages of the js-libp2p interop test (interop/js,
# crates/chorus-cli/tests/network_cli/interop.rs), installed exactly from
# the lock file (`npm ci`) when they are missing or older than the lock file.
interop_deps() {
    if [ ! -d "$ROOT/interop/js/node_modules" ] || [ "$ROOT/interop/js/package-lock.json" -nt "$ROOT/interop/js/node_modules/.package-lock.json" ]; then
        (cd "$ROOT/interop/js" && npm ci --no-audit --no-fund --loglevel=error)
    fi
}
