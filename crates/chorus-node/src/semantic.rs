//! Semantic routing on this device: the all-MiniLM-L6-v2 sentence model
//! (`chorus-embed`) loaded beside the node, the catalog's specialist
//! vectors computed once and cached by what they are made of, and the
//! index handed to the router when ready. Until then, and when the model
//! folder is missing, routing uses keywords alone.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use chorus_core::{Catalog, SemanticSlot};
#[cfg(feature = "semantic")]
use chorus_core::{SemanticIndex, TextEmbedder, specialist_texts};
#[cfg(feature = "semantic")]
use chorus_embed::{DIMENSIONS, Embedder};
#[cfg(feature = "semantic")]
use sha2::{Digest, Sha256};

/// The folder the set-up installs the model into, inside a models folder.
pub const EMBEDDER_DIR: &str = "all-MiniLM-L6-v2";

/// Bumped when the way specialist vectors are made changes.
#[cfg(feature = "semantic")]
const VECTORS_FORMAT: &str = "chorus-specialist-vectors-2";

/// The embedding model as the router sees it.
#[cfg(feature = "semantic")]
struct MiniLm(Embedder);

#[cfg(feature = "semantic")]
impl TextEmbedder for MiniLm {
    fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, String> {
        self.0
            .embed(texts)
            .map(|vectors| vectors.into_iter().map(|vector| vector.to_vec()).collect())
            .map_err(|error| error.to_string())
    }
}

/// The model folder among `dirs` (the first holding `model.safetensors`).
pub(crate) fn find(dirs: &[PathBuf]) -> Option<PathBuf> {
    dirs.iter().map(|dir| dir.join(EMBEDDER_DIR)).find(|dir| dir.join("model.safetensors").is_file())
}

/// Where specialist vectors are cached: `$CHORUS_CACHE`, else
/// `$XDG_CACHE_HOME/chorus`, else `~/.cache/chorus`, then `semantic/`; the
/// data folder's `semantic/` when none is known.
pub(crate) fn cache_dir(data_dir: &Path) -> PathBuf {
    let base = std::env::var_os("CHORUS_CACHE")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("XDG_CACHE_HOME").map(|dir| PathBuf::from(dir).join("chorus")))
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache/chorus")))
        .unwrap_or_else(|| data_dir.to_path_buf());
    base.join("semantic")
}

/// Whether the preparation of semantic routing has ended: the index is in
/// its slot, or it never will be (no model, or it failed to load). Until
/// then a caller may wait for it.
#[derive(Debug, Clone, Default)]
pub(crate) struct Settled(Arc<AtomicBool>);

impl Settled {
    /// Already settled: nothing is being prepared.
    pub(crate) fn now() -> Self {
        Self(Arc::new(AtomicBool::new(true)))
    }

    fn settle(&self) {
        self.0.store(true, Ordering::Release);
    }

    fn is_settled(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }
}

/// Loads the model in `dir` and fills `slot` with the catalog's index, on
/// a thread of its own. A failure is logged; routing keeps its keywords.
/// The returned flag is set when the thread is done, either way.
pub(crate) fn start(slot: SemanticSlot, dir: PathBuf, catalog: Arc<Catalog>, cache: PathBuf) -> Settled {
    let settled = Settled::default();
    let done = settled.clone();
    let spawned = std::thread::Builder::new().name("semantic-index".to_owned()).spawn(move || {
        let started = Instant::now();
        match build(&dir, &catalog, &cache) {
            Ok(index) => {
                tracing::info!(specialists = index.len(), ms = started.elapsed().as_millis(), "semantic routing ready");
                slot.set(Arc::new(index));
            }
            Err(error) => tracing::warn!(%error, dir = %dir.display(), "semantic routing off: keywords only"),
        }
        done.settle();
    });
    if let Err(error) = spawned {
        tracing::warn!(%error, "semantic routing off: no thread for it");
        settled.settle();
    }
    settled
}

/// Waits until `slot` holds an index or `timeout` passes; returns at once
/// (false) when its preparation has ended without one.
pub(crate) fn wait(slot: &SemanticSlot, settled: &Settled, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    while slot.get().is_none() {
        if settled.is_settled() {
            return slot.get().is_some();
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    true
}

/// Built without the `semantic` feature: keywords alone.
#[cfg(not(feature = "semantic"))]
fn build(_dir: &Path, _catalog: &Catalog, _cache: &Path) -> Result<chorus_core::SemanticIndex, String> {
    Err("this build has no semantic routing (the `semantic` feature is off)".to_owned())
}

#[cfg(feature = "semantic")]
fn build(dir: &Path, catalog: &Catalog, cache: &Path) -> Result<SemanticIndex, String> {
    let embedder = MiniLm(Embedder::load(dir).map_err(|error| error.to_string())?);
    let key = cache_key(dir, catalog)?;
    let file = cache.join(format!("{key}.f32"));
    let counts: Vec<usize> =
        catalog.specialists().iter().map(|specialist| specialist_texts(specialist).len()).collect();
    let vectors = match read_vectors(&file, &counts) {
        Some(vectors) => vectors,
        None => {
            let vectors = SemanticIndex::vectors_of(&embedder, catalog)?;
            if let Err(error) = write_vectors(&file, &vectors) {
                tracing::warn!(%error, file = %file.display(), "the specialist vectors could not be cached");
            }
            vectors
        }
    };
    SemanticIndex::new(Arc::new(embedder), &vectors)
}

/// What the vectors are made of: the model's small files and weights size,
/// and every specialist's texts, in order.
#[cfg(feature = "semantic")]
fn cache_key(dir: &Path, catalog: &Catalog) -> Result<String, String> {
    let mut hasher = Sha256::new();
    hasher.update(VECTORS_FORMAT.as_bytes());
    for name in ["config.json", "tokenizer.json"] {
        let bytes = std::fs::read(dir.join(name)).map_err(|error| format!("{name}: {error}"))?;
        hasher.update(&bytes);
    }
    let weights = std::fs::metadata(dir.join("model.safetensors")).map_err(|error| error.to_string())?;
    hasher.update(weights.len().to_le_bytes());
    for specialist in catalog.specialists() {
        hasher.update(specialist.id.as_bytes());
        for text in specialist_texts(specialist) {
            hasher.update([0]);
            hasher.update(text.as_bytes());
        }
        hasher.update([1]);
    }
    Ok(hasher.finalize().iter().map(|byte| format!("{byte:02x}")).collect())
}

/// The cached text vectors of a catalog whose specialists have `counts`
/// texts each; `None` when the file is missing, of another size, or holds
/// a number that is not finite.
#[cfg(feature = "semantic")]
fn read_vectors(file: &Path, counts: &[usize]) -> Option<Vec<Vec<Vec<f32>>>> {
    let bytes = std::fs::read(file).ok()?;
    if bytes.len() != counts.iter().sum::<usize>() * DIMENSIONS * 4 {
        return None;
    }
    let floats: Vec<f32> =
        bytes.chunks_exact(4).map(|chunk| f32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]])).collect();
    if floats.iter().any(|value| !value.is_finite()) {
        return None;
    }
    let mut texts = floats.chunks_exact(DIMENSIONS).map(<[f32]>::to_vec);
    Some(counts.iter().map(|&count| texts.by_ref().take(count).collect()).collect())
}

#[cfg(feature = "semantic")]
fn write_vectors(file: &Path, vectors: &[Vec<Vec<f32>>]) -> std::io::Result<()> {
    if let Some(parent) = file.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let bytes: Vec<u8> = vectors.iter().flatten().flatten().flat_map(|value| value.to_le_bytes()).collect();
    let partial = file.with_extension(format!("partial.{}", std::process::id()));
    std::fs::write(&partial, bytes)?;
    std::fs::rename(partial, file)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn waiting_ends_at_once_when_nothing_is_being_prepared() {
        let slot = SemanticSlot::default();
        let started = Instant::now();
        assert!(!wait(&slot, &Settled::now(), Duration::from_secs(60)));
        assert!(started.elapsed() < Duration::from_secs(5));
        // Still being prepared: the timeout bounds the wait.
        assert!(!wait(&slot, &Settled::default(), Duration::from_millis(50)));
    }
}
