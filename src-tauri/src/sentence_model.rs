//! The sentence model of semantic routing as the app ships it.
//!
//! `tauri.conf.json` bundles the three files of all-MiniLM-L6-v2
//! (`model.safetensors`, `tokenizer.json`, `config.json`) as resources
//! under `models/all-MiniLM-L6-v2/`, so an installed app routes questions
//! by meaning as the `chorus` command does. On desktops and iOS the folder
//! is a plain folder, which the node reads where it lies. Android keeps
//! resources inside the APK: the files are copied once into the app's own
//! `models/all-MiniLM-L6-v2/`, each through a temporary file, kept only if
//! its size is the pinned one, and renamed into place only when complete.
//! The node's loader (`chorus-embed`) checks the files' structure; a folder
//! it cannot load leaves routing to keywords.

use std::path::{Path, PathBuf};

#[cfg(any(target_os = "android", test))]
use chorus_node::EMBEDDER_DIR;
use tauri::{AppHandle, Manager, Runtime};

/// Where `tauri.conf.json` puts the model's folder among the resources.
pub(crate) const RESOURCE: &str = "models/all-MiniLM-L6-v2";

/// The folder's files and their sizes, as `scripts/setup.sh` pins them
/// (with their sha256) when it installs the model.
pub(crate) const FILES: [(&str, u64); 3] =
    [("model.safetensors", 90_868_376), ("tokenizer.json", 466_247), ("config.json", 612)];

/// The bundled sentence model's folder, for `NodeConfig::embedder`, or
/// `None` when the app has no usable bundled copy (the node then looks in
/// its own models folders, and without one routes by keywords).
pub(crate) fn sentence_model<R: Runtime>(app: &AppHandle<R>, data_dir: &Path) -> Option<PathBuf> {
    let resource = match app.path().resource_dir() {
        Ok(dir) => dir.join(RESOURCE),
        Err(error) => {
            tracing::warn!(%error, "the platform gave no resource folder");
            return None;
        }
    };
    let found = from_resource(app, &resource, data_dir);
    match &found {
        Some(dir) => tracing::info!(dir = %dir.display(), "using the bundled sentence model"),
        None => tracing::info!(dir = %resource.display(), "no bundled sentence model"),
    }
    found
}

/// The first of `candidates` that holds every file of the model.
pub(crate) fn complete_folder(candidates: impl IntoIterator<Item = PathBuf>) -> Option<PathBuf> {
    candidates.into_iter().find(|dir| FILES.iter().all(|(name, _)| dir.join(name).is_file()))
}

/// Desktops and iOS: the folder is read in place. A build that is not
/// installed has its resources beside the binary (see `bundled.rs`), so
/// that folder is looked at as well.
#[cfg(not(target_os = "android"))]
fn from_resource<R: Runtime>(_app: &AppHandle<R>, resource: &Path, _data_dir: &Path) -> Option<PathBuf> {
    let beside_binary = std::env::current_exe().ok().and_then(|exe| exe.parent().map(|dir| dir.join(RESOURCE)));
    complete_folder(std::iter::once(resource.to_path_buf()).chain(beside_binary))
}

/// Android: the files live in the APK; the fs plugin opens each and it is
/// copied out once (a file already in place at its size is kept).
#[cfg(target_os = "android")]
fn from_resource<R: Runtime>(app: &AppHandle<R>, resource: &Path, data_dir: &Path) -> Option<PathBuf> {
    use tauri_plugin_fs::{FsExt, OpenOptions};

    let target = data_dir.join("models").join(EMBEDDER_DIR);
    for (name, size) in FILES {
        let destination = target.join(name);
        if std::fs::metadata(&destination).is_ok_and(|metadata| metadata.len() == size) {
            continue;
        }
        let mut options = OpenOptions::new();
        options.read(true);
        let copied = app
            .fs()
            .open(resource.join(name), options)
            .map_err(|error| format!("cannot open the bundled {name}: {error}"))
            .and_then(|mut source| copy_sized(&mut source, size, &destination));
        if let Err(reason) = copied {
            tracing::error!(%reason, "the bundled sentence model could not be used");
            return None;
        }
        tracing::info!(path = %destination.display(), "copied the bundled sentence model's file out of the APK");
    }
    complete_folder(std::iter::once(target))
}

/// Copies `source` to `target` through a temporary file beside it, and
/// renames it into place only when it holds exactly `size` bytes. On any
/// failure nothing is left at `target`.
#[cfg(any(target_os = "android", test))]
pub(crate) fn copy_sized(source: &mut impl std::io::Read, size: u64, target: &Path) -> Result<(), String> {
    let folder = target.parent().ok_or_else(|| format!("{} has no folder", target.display()))?;
    std::fs::create_dir_all(folder).map_err(|error| format!("cannot create {}: {error}", folder.display()))?;
    let name = target.file_name().map(|name| name.to_string_lossy().into_owned()).unwrap_or_default();
    let partial = folder.join(format!("{name}.part"));
    let result = (|| {
        let mut file =
            std::fs::File::create(&partial).map_err(|error| format!("cannot create {}: {error}", partial.display()))?;
        // One byte more than expected is enough to tell a longer source.
        let copied = std::io::copy(&mut std::io::Read::take(&mut *source, size + 1), &mut file)
            .map_err(|error| format!("copying to {} failed: {error}", partial.display()))?;
        if copied != size {
            return Err(format!("{name}: {copied} bytes copied where {size} were expected"));
        }
        file.sync_all().map_err(|error| format!("cannot flush {}: {error}", partial.display()))?;
        std::fs::rename(&partial, target).map_err(|error| format!("cannot move {name} into place: {error}"))
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&partial);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tauri_conf_bundles_every_file_of_the_folder() {
        let conf: serde_json::Value = serde_json::from_str(include_str!("../tauri.conf.json")).unwrap();
        let resources = conf["bundle"]["resources"].as_object().unwrap();
        for (name, _) in FILES {
            let path = format!("{RESOURCE}/{name}");
            assert_eq!(
                resources.get(&format!("../{path}")).and_then(|v| v.as_str()),
                Some(path.as_str()),
                "tauri.conf.json must bundle ../{path} as {path}: {resources:?}"
            );
        }
        assert!(RESOURCE.ends_with(EMBEDDER_DIR));
    }

    #[test]
    fn the_pinned_sizes_are_the_installed_files() {
        // scripts/setup.sh installs the model; without it there is nothing to compare.
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(RESOURCE);
        if !dir.join("model.safetensors").is_file() {
            return;
        }
        for (name, size) in FILES {
            assert_eq!(std::fs::metadata(dir.join(name)).unwrap().len(), size, "{name}");
        }
    }

    #[test]
    fn a_folder_is_found_only_with_all_three_files() {
        let root = tempfile::tempdir().unwrap();
        let partial = root.path().join("partial");
        let complete = root.path().join("complete");
        for dir in [&partial, &complete] {
            std::fs::create_dir_all(dir).unwrap();
        }
        for (name, _) in FILES {
            std::fs::write(complete.join(name), b"x").unwrap();
            if name != "tokenizer.json" {
                std::fs::write(partial.join(name), b"x").unwrap();
            }
        }
        let missing = root.path().join("missing");
        assert_eq!(complete_folder([missing.clone(), partial.clone()]), None);
        assert_eq!(complete_folder([missing, partial, complete.clone()]), Some(complete));
    }

    #[test]
    fn a_copy_lands_only_at_its_size() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("models").join(EMBEDDER_DIR).join("config.json");
        let bytes = b"{\"hidden_size\": 384}".to_vec();
        let size = u64::try_from(bytes.len()).unwrap();
        // A short source is refused and leaves neither the file nor its part.
        let error = copy_sized(&mut &bytes[..10], size, &target).unwrap_err();
        assert!(error.contains("bytes"), "{error}");
        assert!(!target.exists());
        assert_eq!(std::fs::read_dir(target.parent().unwrap()).unwrap().count(), 0);
        // So is a longer one.
        let longer = [&bytes[..], b"more"].concat();
        assert!(copy_sized(&mut &longer[..], size, &target).is_err());
        assert!(!target.exists());
        // The right size lands, byte for byte, and nothing else is left.
        copy_sized(&mut &bytes[..], size, &target).unwrap();
        assert_eq!(std::fs::read(&target).unwrap(), bytes);
        assert_eq!(std::fs::read_dir(target.parent().unwrap()).unwrap().count(), 1);
    }
}
