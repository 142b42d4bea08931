use std::path::{Path, PathBuf};

use super::files::{check_space, free_space, is_inside, partial_of};

#[test]
fn partial_path_appends_the_suffix() {
    assert_eq!(partial_of(Path::new("/a/b.gguf")), PathBuf::from("/a/b.gguf.partial"));
}

#[test]
fn is_inside_compares_parents() {
    let dir = tempfile::tempdir().unwrap();
    assert!(is_inside(&dir.path().join("x.gguf"), dir.path()));
    assert!(!is_inside(Path::new("/elsewhere/x.gguf"), dir.path()));
}

#[test]
fn free_space_is_read() {
    let dir = tempfile::tempdir().unwrap();
    assert!(free_space(dir.path()).is_some_and(|bytes| bytes > 0));
    assert!(check_space(&dir.path().join("x"), u64::MAX / 2).is_err());
}
