//! What the integration tests share: the real model's folder, or a skip.

#![allow(dead_code)] // each test binary uses its own part of this module

use std::path::PathBuf;
use std::sync::OnceLock;

use chorus_embed::Embedder;

/// `models/all-MiniLM-L6-v2` of the repository, as `scripts/setup.sh`
/// installs it.
pub(crate) fn model_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../models/all-MiniLM-L6-v2")
}

/// The model folder, or `None` (the test then returns, skipped) when the
/// model is not installed and `CHORUS_REQUIRE_EMBEDDER` is unset.
/// `scripts/test.sh` sets it, so CI fails rather than skips.
pub(crate) fn installed_model() -> Option<PathBuf> {
    let dir = model_dir();
    if dir.join("model.safetensors").is_file() {
        return Some(dir);
    }
    if std::env::var_os("CHORUS_REQUIRE_EMBEDDER").is_some() {
        panic!("{} is missing and CHORUS_REQUIRE_EMBEDDER is set: run scripts/setup.sh", dir.display());
    }
    eprintln!(
        "SKIPPED: {} is missing (run scripts/setup.sh; set CHORUS_REQUIRE_EMBEDDER=1 to fail instead of skipping)",
        dir.display()
    );
    None
}

/// The real model, loaded once per test binary.
pub(crate) fn embedder() -> Option<&'static Embedder> {
    static EMBEDDER: OnceLock<Embedder> = OnceLock::new();
    let dir = installed_model()?;
    Some(EMBEDDER.get_or_init(|| Embedder::load(&dir).expect("the installed model loads")))
}
