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

fn base(sha256: Option<&str>) -> chorus_core::BaseModel {
    let catalog = chorus_core::Catalog::bundled().unwrap();
    let mut base = catalog.base_model("qwen2.5-0.5b-instruct-q4_k_m").unwrap().clone();
    base.sha256 = sha256.map(str::to_owned);
    base
}

fn entry(sha256: Option<&str>) -> chorus_core::InstalledModel {
    chorus_core::InstalledModel {
        id: "qwen2.5-0.5b-instruct-q4_k_m".into(),
        kind: chorus_core::InstalledKind::BaseModel,
        path: "/models/q.gguf".into(),
        size_bytes: 1,
        sha256: sha256.map(str::to_owned),
        verified: false,
        installed_at_ms: 0,
    }
}

#[test]
fn a_recorded_hash_is_compared_and_an_unrecorded_unverified_file_refused() {
    use super::check::{Verdict, verdict};
    let catalog_hash = "a".repeat(64);
    let recorded = "b".repeat(64);
    let table = [
        (base(None), None, Verdict::Refuse),
        (base(None), Some(entry(None)), Verdict::Refuse),
        (base(None), Some(entry(Some(&recorded))), Verdict::Compare(recorded.clone())),
        (base(Some(&catalog_hash)), None, Verdict::Load),
        (base(Some(&catalog_hash)), Some(entry(Some(&recorded))), Verdict::Compare(recorded.clone())),
    ];
    for (base, entry, expected) in table {
        assert_eq!(verdict(&base, entry.as_ref()), expected, "{:?} {entry:?}", base.sha256);
    }
}

#[test]
fn the_load_check_hashes_the_file_and_refuses_a_change() {
    let dir = tempfile::tempdir().unwrap();
    let store = chorus_core::Store::open(dir.path().join("journal")).unwrap();
    let check = super::LoadCheck::new(store.clone());
    let base = base(None);
    let path = dir.path().join("q.gguf");
    std::fs::write(&path, b"the installed bytes").unwrap();
    let error = check.check(&base, &path).unwrap_err();
    assert_eq!(error.code(), crate::ErrorCode::UnverifiedModel);
    assert!(!check.admissible(&base, &path));

    let sha256 = chorus_core::sha256_file(&path).unwrap();
    let mut installed = entry(Some(&sha256));
    installed.path.clone_from(&path);
    store.record_installed(&installed).unwrap();
    assert!(check.admissible(&base, &path));
    assert_eq!(check.recorded_path(&base), Some(path.clone()));
    check.check(&base, &path).unwrap();

    std::fs::write(&path, b"the installed bytez, and more").unwrap();
    let error = check.check(&base, &path).unwrap_err();
    assert_eq!(error.code(), crate::ErrorCode::ModelChanged);
    assert!(error.to_string().contains(&sha256), "{error}");
    // Another file of the same name elsewhere is not the recorded one.
    let elsewhere = dir.path().join("other").join("q.gguf");
    std::fs::create_dir_all(elsewhere.parent().unwrap()).unwrap();
    std::fs::write(&elsewhere, b"the installed bytes").unwrap();
    assert!(!check.admissible(&base, &elsewhere));
}
