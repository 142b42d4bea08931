//! The embedded default model as the app ships it.
//!
//! `tauri.conf.json` bundles `models/SmolLM2-135M-Instruct.Q4_1.gguf` as a
//! resource, so an installed app (a .deb, an AppImage, the iOS app, the
//! APK) answers out of the box, with no `models/` folder beside it. On
//! desktops and iOS the resource is a plain file, which the node maps where
//! it lies. Android keeps resources inside the APK, and llama.cpp needs a
//! real file: the model is copied once into the app's own `models/` folder,
//! through a temporary file, and kept only if its size and sha256 are right.

use std::path::{Path, PathBuf};

use chorus_node::core::{EMBEDDED_MODEL, ModelDirs};
use tauri::{AppHandle, Manager, Runtime};

/// Where `tauri.conf.json` puts the model among the app's resources.
pub(crate) const RESOURCE: &str = "models/SmolLM2-135M-Instruct.Q4_1.gguf";

/// The bundled embedded model for the node to answer with, or `None` when
/// the node finds a copy by itself (`CHORUS_MODELS_DIR`, the data folder's
/// `models/`, …) or the app has no usable bundled copy (the node then says
/// which file it misses and where it looked). A copy in the working
/// directory's `models/` does not count: the node would use it only if its
/// hash is trusted, and the bundled copy needs no such check.
pub(crate) fn embedded_model<R: Runtime>(app: &AppHandle<R>, data_dir: &Path) -> Option<PathBuf> {
    let mut dirs = ModelDirs::standard();
    dirs.push(data_dir.join(MODELS_FOLDER));
    if dirs.find_trusted(EMBEDDED_MODEL.file_name).is_some() {
        return None;
    }
    let resource = match app.path().resource_dir() {
        Ok(dir) => dir.join(RESOURCE),
        Err(error) => {
            tracing::warn!(%error, "the platform gave no resource folder");
            return None;
        }
    };
    from_resource(app, &resource, data_dir)
}

/// The node's folder of installed models, inside its data folder.
const MODELS_FOLDER: &str = "models";

/// Desktops and iOS: the resource is a file the node can map in place.
///
/// A build that is not installed has its resources beside the binary
/// (tauri-build copies them there), but Tauri's `resource_dir` says so only
/// when the build folder is called `target`; any other `CARGO_TARGET_DIR`
/// sends it to the installed location. So the binary's own folder is
/// looked at as well.
#[cfg(not(target_os = "android"))]
fn from_resource<R: Runtime>(_app: &AppHandle<R>, resource: &Path, _data_dir: &Path) -> Option<PathBuf> {
    let beside_binary = std::env::current_exe().ok().and_then(|exe| exe.parent().map(|dir| dir.join(RESOURCE)));
    let found = std::iter::once(resource.to_path_buf()).chain(beside_binary).find(|path| path.is_file());
    match &found {
        Some(path) => tracing::info!(path = %path.display(), "using the bundled embedded model"),
        None => tracing::debug!(path = %resource.display(), "no bundled embedded model"),
    }
    found
}

/// Android: the resource lives in the APK; the fs plugin opens it and it is
/// copied out once, verified.
#[cfg(target_os = "android")]
fn from_resource<R: Runtime>(app: &AppHandle<R>, resource: &Path, data_dir: &Path) -> Option<PathBuf> {
    use tauri_plugin_fs::{FsExt, OpenOptions};

    let target = data_dir.join(MODELS_FOLDER).join(EMBEDDED_MODEL.file_name);
    let mut options = OpenOptions::new();
    options.read(true);
    let copied = app
        .fs()
        .open(resource.to_path_buf(), options)
        .map_err(|error| format!("cannot open the bundled model: {error}"))
        .and_then(|mut source| copy_verified(&mut source, &target));
    match copied {
        Ok(()) => {
            tracing::info!(path = %target.display(), "copied the bundled embedded model out of the APK");
            Some(target)
        }
        Err(reason) => {
            tracing::error!(%reason, "the bundled embedded model could not be used");
            None
        }
    }
}

/// Copies `source` to `target` through a temporary file beside it, and
/// renames it into place only when it is the embedded model, byte for byte
/// (size and sha256). On any failure nothing is left at `target`.
#[cfg(any(target_os = "android", test))]
pub(crate) fn copy_verified(source: &mut impl std::io::Read, target: &Path) -> Result<(), String> {
    let folder = target.parent().ok_or_else(|| format!("{} has no folder", target.display()))?;
    std::fs::create_dir_all(folder).map_err(|error| format!("cannot create {}: {error}", folder.display()))?;
    let partial = target.with_extension("gguf.part");
    let result = (|| {
        let mut file =
            std::fs::File::create(&partial).map_err(|error| format!("cannot create {}: {error}", partial.display()))?;
        std::io::copy(source, &mut file)
            .map_err(|error| format!("copying to {} failed: {error}", partial.display()))?;
        file.sync_all().map_err(|error| format!("cannot flush {}: {error}", partial.display()))?;
        chorus_node::core::verify_file(&partial, &EMBEDDED_MODEL).map_err(|error| error.to_string())?;
        std::fs::rename(&partial, target).map_err(|error| format!("cannot move the model into place: {error}"))
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&partial);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repo_model() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join("models").join(EMBEDDED_MODEL.file_name)
    }

    #[test]
    fn the_resource_is_the_one_tauri_conf_bundles() {
        let conf: serde_json::Value = serde_json::from_str(include_str!("../tauri.conf.json")).unwrap();
        let resources = conf["bundle"]["resources"].as_object().unwrap();
        assert_eq!(
            resources.get(&format!("../{RESOURCE}")).and_then(|v| v.as_str()),
            Some(RESOURCE),
            "tauri.conf.json must bundle ../{RESOURCE} as {RESOURCE}: {resources:?}"
        );
        assert!(RESOURCE.ends_with(EMBEDDED_MODEL.file_name));
    }

    #[test]
    fn a_verified_copy_lands_and_a_wrong_one_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("models").join(EMBEDDED_MODEL.file_name);
        // A truncated model is refused and leaves neither the file nor its part.
        let bytes = std::fs::read(repo_model()).unwrap();
        let error = copy_verified(&mut &bytes[..1000], &target).unwrap_err();
        assert!(error.contains("size") || error.contains("bytes"), "{error}");
        assert!(!target.exists());
        assert_eq!(std::fs::read_dir(target.parent().unwrap()).unwrap().count(), 0);
        // The same size with one byte changed fails the sha256.
        let mut wrong = bytes.clone();
        wrong[4096] ^= 0xff;
        assert!(copy_verified(&mut &wrong[..], &target).is_err());
        assert!(!target.exists());
        // The real model is copied and verified.
        copy_verified(&mut &bytes[..], &target).unwrap();
        assert_eq!(std::fs::metadata(&target).unwrap().len(), EMBEDDED_MODEL.size_bytes);
    }
}
