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
/// The files a node finds in a working directory's `models/` folder.
mod discovery {
    use std::path::{Path, PathBuf};
    use std::sync::Arc;

    use chorus_core::{Catalog, EMBEDDED_MODEL, FileStamp, InstalledKind, InstalledModel, ModelDirs, Store};

    use super::super::ModelFinder;
    use super::super::discovery::Verdict;

    const EMBEDDED: &str = EMBEDDED_MODEL.file_name;

    fn real_model() -> PathBuf {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models").join(EMBEDDED);
        assert!(path.is_file(), "the embedded model is missing: run scripts/setup.sh");
        path
    }

    /// A working directory's `models/` (checked) before an install folder.
    struct Setup {
        _dir: tempfile::TempDir,
        working: PathBuf,
        install: PathBuf,
        store: Store,
    }

    impl Setup {
        fn new() -> Self {
            let dir = tempfile::tempdir().unwrap();
            let working = dir.path().join("work/models");
            let install = dir.path().join("data/models");
            std::fs::create_dir_all(&working).unwrap();
            std::fs::create_dir_all(&install).unwrap();
            Self { _dir: dir, working, install, store: Store::temporary().unwrap() }
        }

        fn finder(&self) -> ModelFinder {
            let dirs = ModelDirs::new(vec![self.working.clone(), self.install.clone()]).checking(self.working.clone());
            ModelFinder::new(dirs, Arc::new(Catalog::bundled().unwrap()), self.store.clone())
        }
    }

    #[test]
    fn a_mismatching_file_is_ignored_for_the_verified_install() {
        let setup = Setup::new();
        std::os::unix::fs::symlink(real_model(), setup.install.join(EMBEDDED)).unwrap();
        let finder = setup.finder();

        // The wrong size: refused without reading it.
        let planted = setup.working.join(EMBEDDED);
        std::fs::write(&planted, b"GGUF, but not the model you think").unwrap();
        assert!(matches!(finder.verdict(EMBEDDED, &planted), Verdict::Ignore(why) if why.contains("size")));
        assert_eq!(finder.find(EMBEDDED), Some(setup.install.join(EMBEDDED)));

        // The right size, other bytes: refused by its hash, which is kept.
        std::fs::File::create(&planted).unwrap().set_len(EMBEDDED_MODEL.size_bytes).unwrap();
        let verdict = finder.verdict(EMBEDDED, &planted);
        assert!(
            matches!(&verdict, Verdict::Ignore(why) if why.contains("sha256") && why.contains("catalog")),
            "{verdict:?}"
        );
        assert_eq!(finder.find(EMBEDDED), Some(setup.install.join(EMBEDDED)));
        let stamp = FileStamp::of(&planted).unwrap();
        assert!(setup.store.file_hash(&planted, &stamp).unwrap().is_some_and(|hash| hash != EMBEDDED_MODEL.sha256));

        // Named with --model, it is the owner's choice.
        let explicit = finder.clone().with_explicit(planted.clone());
        assert_eq!(explicit.find(EMBEDDED), Some(planted));
    }

    #[test]
    fn a_file_with_the_catalogs_hash_is_used() {
        let setup = Setup::new();
        std::os::unix::fs::symlink(real_model(), setup.working.join(EMBEDDED)).unwrap();
        let finder = setup.finder();
        assert_eq!(finder.verdict(EMBEDDED, &setup.working.join(EMBEDDED)), Verdict::Use("the embedded model's hash"));
        assert_eq!(finder.find(EMBEDDED), Some(setup.working.join(EMBEDDED)));
        // The hash is remembered: the next start does not read the file again.
        let stamp = FileStamp::of(&setup.working.join(EMBEDDED)).unwrap();
        assert_eq!(
            setup.store.file_hash(&setup.working.join(EMBEDDED), &stamp).unwrap().as_deref(),
            Some(EMBEDDED_MODEL.sha256)
        );
    }

    #[test]
    fn without_a_published_hash_only_an_installed_models_recorded_hash_counts() {
        let setup = Setup::new();
        let catalog = Catalog::bundled().unwrap();
        let base = catalog.base_models().iter().find(|base| base.sha256.is_none()).expect("an unverified base model");
        let planted = setup.working.join(&base.file_name);
        std::fs::write(&planted, b"abc").unwrap();
        let finder = setup.finder();
        assert!(
            matches!(finder.verdict(&base.file_name, &planted), Verdict::Ignore(why) if why.contains("records a sha256"))
        );
        assert_eq!(finder.find(&base.file_name), None);

        setup
            .store
            .record_installed(&InstalledModel {
                id: base.id.clone(),
                kind: InstalledKind::BaseModel,
                path: setup.install.join(&base.file_name),
                size_bytes: 3,
                sha256: Some("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad".to_owned()),
                verified: false,
                installed_at_ms: 0,
            })
            .unwrap();
        assert_eq!(finder.verdict(&base.file_name, &planted), Verdict::Use("an installed model's recorded hash"));
        assert_eq!(finder.find(&base.file_name), Some(planted));
    }
}
