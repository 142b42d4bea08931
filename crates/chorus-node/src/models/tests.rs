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
