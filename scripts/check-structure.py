#!/usr/bin/env python3
"""The layout rules of docs/ARCHITECTURE.md, checked (scripts/test.sh, stage
`structure`):

1. No Rust source file (tests included) is over 700 lines.
2. No two sibling modules of a crate import each other (`use crate::a::b`,
   `use super::b`, or a path `crate::a::b::…` in the code). A parent and its
   own child modules may.
3. Crate dependencies point one way: the chorus crates a crate may depend on
   (normal or dev dependencies) are listed below.

Prints each violation and exits 1 if there is any.
"""
import re
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MAX_LINES = 700
# What each crate may import among the workspace's crates (normal and build
# dependencies); ALLOWED_DEV adds what its tests may import.
ALLOWED = {
    # Each crate's own tests enable its `fuzzing` feature (tests/fuzz_corpus.rs).
    "chorus-engine": {"chorus-engine"},
    "chorus-core": {"chorus-core"},
    "chorus-net": {"chorus-net"},  # its own tests enable its test hooks
    "chorus-embed": set(),  # the sentence-embedding model: no other crate of ours
    "chorus-node": {"chorus-engine", "chorus-core", "chorus-net", "chorus-embed", "chorus-node"},
    "chorus-bench": {"chorus-engine", "chorus-core", "chorus-net", "chorus-node", "chorus-embed", "chorus-api"},
    "chorus-api": {"chorus-node"},
    "chorus-cli": {"chorus-node", "chorus-bench", "chorus-api"},
    "chorus-app": {"chorus-node", "chorus-api"},
}
ALLOWED_DEV = {
    # tests/network_cli.rs speaks the task protocol to a `chorus serve` process.
    "chorus-cli": {"chorus-net"},
}
CRATE_DIRS = [p for p in sorted((ROOT / "crates").iterdir()) if (p / "Cargo.toml").exists()] + [ROOT / "src-tauri"]

problems = []


def module_path(src: Path, file: Path):
    """The module path of a file under src/ (lib.rs/main.rs -> [])."""
    rel = file.relative_to(src).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] in ("mod", "lib", "main"):
        parts = parts[:-1]
    return parts


USE_CRATE = re.compile(r"\bcrate::((?:[a-z_][a-z0-9_]*::)*[a-z_][a-z0-9_]*|\{)")
USE_SUPER = re.compile(r"\buse\s+super::([a-z_][a-z0-9_]*)")


def strip_comments(text: str) -> str:
    text = re.sub(r"//[^\n]*", "", text)
    return re.sub(r"/\*.*?\*/", "", text, flags=re.S)


def check_crate(crate_dir: Path):
    manifest = tomllib.loads((crate_dir / "Cargo.toml").read_text())
    name = manifest["package"]["name"]
    allowed = ALLOWED.get(name)
    if allowed is None:
        problems.append(f"{name}: not in scripts/check-structure.py's dependency table")
        allowed = set()
    for section in ("dependencies", "dev-dependencies", "build-dependencies"):
        deps = {d for d in manifest.get(section, {}) if d.startswith("chorus-")}
        may = allowed | (ALLOWED_DEV.get(name, set()) if section == "dev-dependencies" else set())
        if deps - may:
            problems.append(f"{name}'s {section} name {sorted(deps - may)}; it may use {sorted(may) or 'no chorus crate'}")

    for file in sorted(crate_dir.rglob("*.rs")):
        if "target" in file.parts or "gen" in file.relative_to(crate_dir).parts:
            continue
        lines = file.read_text().count("\n")
        if lines > MAX_LINES:
            problems.append(f"{file.relative_to(ROOT)}: {lines} lines (at most {MAX_LINES})")

    src = crate_dir / "src"
    # imports[a] = set of module paths (tuples) that module a names.
    imports = {}
    for file in sorted(src.rglob("*.rs")):
        me = tuple(module_path(src, file))
        if me and me[-1] == "tests":
            continue  # test modules look at their parent
        text = strip_comments(file.read_text())
        named = set()
        for match in USE_CRATE.finditer(text):
            path = match.group(1)
            if path == "{":
                # use crate::{a, b::c}: the first segment of each item
                brace = text[match.end():text.find("}", match.end())]
                for item in brace.split(","):
                    item = item.strip()
                    if item:
                        named.add(tuple(item.split("::")[:1]))
                continue
            named.add(tuple(path.split("::")))
        parent = me[:-1] if file.stem not in ("mod", "lib", "main") else me[:-1]
        for match in USE_SUPER.finditer(text):
            named.add(parent + (match.group(1),))
        imports[me] = named

    modules = set(imports)
    for a in modules:
        for b in modules:
            if a >= b or len(a) != len(b) or not a or a[:-1] != b[:-1]:
                continue
            a_uses_b = any(path[: len(b)] == b for path in imports[a])
            b_uses_a = any(path[: len(a)] == a for path in imports[b])
            if a_uses_b and b_uses_a:
                problems.append(f"{name}: sibling modules {'::'.join(a)} and {'::'.join(b)} import each other")


for crate in CRATE_DIRS:
    check_crate(crate)

for problem in problems:
    print(f"structure: {problem}")
if problems:
    sys.exit(1)
print(f"structure: {len(CRATE_DIRS)} crates checked: files at most {MAX_LINES} lines, no sibling import cycles, dependencies one way")
