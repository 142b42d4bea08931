//! The checked-in fuzz corpus (`fuzz/corpus/<target>/`) replayed through
//! the bodies of this crate's fuzz targets (`chorus_node::fuzzing`) on the
//! stable toolchain: an input the fuzzer once found interesting that now
//! breaks an invariant fails here, without nightly or cargo-fuzz.
#![allow(clippy::expect_used)]

use std::path::Path;

/// Runs `check` on every file of the target's corpus, naming each first
/// (a failure's output ends with the file that broke it).
fn replay(target: &str, check: fn(&[u8])) {
    let folder = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus").join(target);
    let mut paths: Vec<_> =
        std::fs::read_dir(&folder).expect("the corpus folder").map(|entry| entry.expect("an entry").path()).collect();
    paths.sort();
    assert!(!paths.is_empty(), "no corpus in {}", folder.display());
    for path in paths {
        eprintln!("{}", path.display());
        check(&std::fs::read(&path).expect("a corpus file"));
    }
}

#[test]
fn status_placement_corpus() {
    replay("status_placement", chorus_node::fuzzing::status_placement);
}

#[test]
fn settings_corpus() {
    replay("settings", chorus_node::fuzzing::settings);
}
