//! `chorus bench --routing`: routing time and memory at the bundled
//! catalog's size and at future sizes (generated catalogs of 1,000 and
//! 10,000 specialists, see [`generated_catalog`]), on one thread: the
//! router is synchronous and the bench starts no other thread (the sentence
//! model's own threads follow `RAYON_NUM_THREADS`, reported).
//!
//! Per size: the router's build (`Router::new`) and the questions of the
//! routing set through `Router::analyse` with keywords alone; then, when
//! the sentence model is found, the same with the semantic index. The
//! generated specialists' vectors are the bundled specialists' real ones
//! reused (the scan's cost depends on their count and length, not their
//! values); questions are embedded for real by all-MiniLM-L6-v2, and the
//! embedding time is reported apart from the rest of routing.

mod generate;
#[cfg(test)]
mod tests;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use chorus_core::{
    AllSpecialists, Catalog, CatalogError, ModelDirs, Router, SemanticIndex, SemanticSlot, TextEmbedder,
};
use chorus_embed::Embedder;
use serde::Serialize;

pub use generate::{SEED, generated_catalog};

use crate::eval::{ROUTING_SET, SetError, parse_routing_set};
use crate::network::{Distribution, distribution};
use crate::procfs::{load_average, rss_mib};
use crate::stats::millis_f64;

/// The folder of the sentence model inside a models folder.
const EMBEDDER_DIR: &str = chorus_node::EMBEDDER_DIR;

/// Options of the routing bench.
#[derive(Debug, Clone)]
pub struct RoutingBenchOptions {
    /// Catalog sizes, in specialists (at most the bundled count means the
    /// bundled catalog).
    pub sizes: Vec<usize>,
    /// Measure semantic routing too, when the sentence model is found.
    pub semantic: bool,
    /// The sentence model's folder; `None`: `all-MiniLM-L6-v2` in the
    /// standard models folders, as the node looks for it.
    pub embedder: Option<PathBuf>,
    /// The seed of the generated catalogs.
    pub seed: u64,
}

impl Default for RoutingBenchOptions {
    fn default() -> Self {
        Self { sizes: vec![0, 1_000, 10_000], semantic: true, embedder: None, seed: SEED }
    }
}

/// Why the routing bench could not run.
#[derive(Debug, thiserror::Error)]
pub enum RoutingBenchError {
    /// A catalog failed its validation.
    #[error("catalog: {0}")]
    Catalog(#[from] CatalogError),
    /// The routing set is malformed.
    #[error("routing set: {0}")]
    Set(#[from] SetError),
    /// The sentence model was found but could not be loaded or run.
    #[error("sentence model: {0}")]
    Embedder(String),
}

/// What `chorus bench --routing` reports.
#[derive(Debug, Clone, Serialize)]
pub struct RoutingBenchReport {
    /// Threads routing ran on (always 1).
    pub threads: usize,
    /// `RAYON_NUM_THREADS` as set (the sentence model's threads), if set.
    pub embed_threads: Option<String>,
    /// Cores the machine shows.
    pub cores: usize,
    /// The load average (1, 5, 15 min) before and after.
    pub load_before: Vec<f64>,
    /// The same, after.
    pub load_after: Vec<f64>,
    /// Questions routed per size (the routing set).
    pub questions: usize,
    /// The sentence model's folder, when semantic routing was measured.
    pub semantic_model: Option<String>,
    /// Embedding the bundled specialists' texts, ms (the vectors reused
    /// for every size).
    pub specialist_vectors_ms: Option<f64>,
    /// One entry per size, in the order asked.
    pub sizes: Vec<SizeFigures>,
}

/// The figures of one catalog size.
#[derive(Debug, Clone, Serialize)]
pub struct SizeFigures {
    /// Specialists in the catalog.
    pub specialists: usize,
    /// Of them, generated.
    pub generated: usize,
    /// Keywords, all specialists.
    pub keywords: usize,
    /// Distinct keywords.
    pub distinct_keywords: usize,
    /// Generating and validating the catalog, ms.
    pub catalog_ms: f64,
    /// Resident set growth of making the catalog, MiB.
    pub catalog_rss_mib: f64,
    /// `Router::new`, ms.
    pub router_build_ms: f64,
    /// Resident set growth of `Router::new`, MiB.
    pub router_rss_mib: f64,
    /// `Router::analyse` per question, keywords alone.
    pub keyword: Distribution,
    /// With the semantic index, when the sentence model was found.
    pub semantic: Option<SemanticFigures>,
}

/// Semantic routing at one size.
#[derive(Debug, Clone, Serialize)]
pub struct SemanticFigures {
    /// Building the `SemanticIndex` from the vectors, ms.
    pub index_build_ms: f64,
    /// Resident set growth of the index (and its vectors), MiB.
    pub index_rss_mib: f64,
    /// `SemanticIndex::vector_bytes`.
    pub vector_bytes: usize,
    /// `Router::analyse` per question, all of it.
    pub total: Distribution,
    /// Of it, the sentence model embedding the question's pieces.
    pub embedding: Distribution,
    /// The rest: similarity scans, blending and keyword routing.
    pub rest: Distribution,
}

/// The sentence model, timed: what it spends embedding, in nanoseconds.
struct Timed {
    embedder: Embedder,
    spent_ns: AtomicU64,
}

impl TextEmbedder for Timed {
    fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, String> {
        let started = Instant::now();
        let vectors = self
            .embedder
            .embed(texts)
            .map(|vectors| vectors.into_iter().map(|vector| vector.to_vec()).collect())
            .map_err(|error| error.to_string());
        let spent = u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX);
        self.spent_ns.fetch_add(spent, Ordering::Relaxed);
        vectors
    }
}

/// The sentence model's folder: the given one, else the first standard
/// models folder holding it.
fn embedder_dir(given: Option<&PathBuf>) -> Option<PathBuf> {
    given.cloned().or_else(|| {
        ModelDirs::standard()
            .dirs()
            .iter()
            .map(|dir| dir.join(EMBEDDER_DIR))
            .find(|dir| dir.join("model.safetensors").is_file())
    })
}

/// Runs the bench.
///
/// # Errors
/// A catalog or routing-set error, or the sentence model's when it is
/// found but fails.
pub fn bench_routing(options: &RoutingBenchOptions) -> Result<RoutingBenchReport, RoutingBenchError> {
    let load_before = load_average();
    let questions: Vec<String> = parse_routing_set(ROUTING_SET)?.into_iter().map(|case| case.question).collect();
    let model = if options.semantic { embedder_dir(options.embedder.as_ref()) } else { None };
    let mut semantic_base = None;
    let mut specialist_vectors_ms = None;
    if let Some(dir) = &model {
        let embedder = Embedder::load(dir).map_err(|error| RoutingBenchError::Embedder(error.to_string()))?;
        let timed = Arc::new(Timed { embedder, spent_ns: AtomicU64::new(0) });
        let bundled = Catalog::bundled()?;
        let started = Instant::now();
        let vectors = SemanticIndex::vectors_of(timed.as_ref(), &bundled).map_err(RoutingBenchError::Embedder)?;
        specialist_vectors_ms = Some(millis_f64(started.elapsed()));
        // Warm-up: the model's first call allocates its buffers.
        timed.embed(&["warm up the sentence model"]).map_err(RoutingBenchError::Embedder)?;
        semantic_base = Some((timed, vectors));
    }
    let mut sizes = Vec::with_capacity(options.sizes.len());
    // Each size's structures are kept to the end: the next size's memory
    // then comes fresh from the system rather than from what it freed.
    let mut kept: Vec<(Router, Router)> = Vec::new();
    for &size in &options.sizes {
        let rss = rss_mib("VmRSS");
        let started = Instant::now();
        let catalog = Arc::new(generated_catalog(size, options.seed)?);
        let catalog_ms = millis_f64(started.elapsed());
        let catalog_rss_mib = rss_mib("VmRSS") - rss;
        let specialists = catalog.specialists();
        let keywords = specialists.iter().map(|specialist| specialist.keywords.len()).sum();
        let distinct_keywords = specialists
            .iter()
            .flat_map(|specialist| specialist.keywords.iter().map(String::as_str))
            .collect::<std::collections::HashSet<_>>()
            .len();
        let generated = specialists.iter().filter(|specialist| specialist.id.contains(".gen-")).count();

        let rss = rss_mib("VmRSS");
        let started = Instant::now();
        let router = Router::new(Arc::clone(&catalog));
        let router_build_ms = millis_f64(started.elapsed());
        let router_rss_mib = rss_mib("VmRSS") - rss;
        // One unmeasured pass (caches, branch predictors), then the measured one.
        let mut keyword = Vec::with_capacity(questions.len());
        for measured in [false, true] {
            for question in &questions {
                let started = Instant::now();
                let analysis = router.analyse(question, &AllSpecialists);
                let spent = millis_f64(started.elapsed());
                std::hint::black_box(analysis);
                if measured {
                    keyword.push(spent);
                }
            }
        }

        let mut semantic = None;
        let semantic_router = Router::with_semantic(Arc::clone(&catalog), SemanticSlot::default());
        if let Some((timed, base)) = &semantic_base {
            let rss = rss_mib("VmRSS");
            let started = Instant::now();
            // The bundled specialists come first, with their own vectors;
            // each generated one (`n` after them) has its template's, `n %
            // bundled`, which is `index % bundled`.
            let vectors: Vec<Vec<Vec<f32>>> =
                (0..specialists.len()).map(|index| base[index % base.len()].clone()).collect();
            let embedder: Arc<dyn TextEmbedder> = Arc::clone(timed) as Arc<dyn TextEmbedder>;
            let index = SemanticIndex::new(embedder, &vectors).map_err(RoutingBenchError::Embedder)?;
            drop(vectors);
            let index_build_ms = millis_f64(started.elapsed());
            let vector_bytes = index.vector_bytes();
            semantic_router.semantic().set(Arc::new(index));
            let index_rss_mib = rss_mib("VmRSS") - rss;
            let (mut total, mut embedding, mut rest) = (Vec::new(), Vec::new(), Vec::new());
            for question in &questions {
                let before = timed.spent_ns.load(Ordering::Relaxed);
                let started = Instant::now();
                let analysis = semantic_router.analyse(question, &AllSpecialists);
                let spent = millis_f64(started.elapsed());
                std::hint::black_box(analysis);
                #[allow(clippy::cast_precision_loss)]
                let embedded = timed.spent_ns.load(Ordering::Relaxed).saturating_sub(before) as f64 / 1e6;
                total.push(spent);
                embedding.push(embedded);
                rest.push((spent - embedded).max(0.0));
            }
            semantic = Some(SemanticFigures {
                index_build_ms,
                index_rss_mib,
                vector_bytes,
                total: distribution(&total),
                embedding: distribution(&embedding),
                rest: distribution(&rest),
            });
        }
        kept.push((router, semantic_router));
        sizes.push(SizeFigures {
            specialists: specialists.len(),
            generated,
            keywords,
            distinct_keywords,
            catalog_ms,
            catalog_rss_mib,
            router_build_ms,
            router_rss_mib,
            keyword: distribution(&keyword),
            semantic,
        });
    }
    drop(kept);
    Ok(RoutingBenchReport {
        threads: 1,
        embed_threads: std::env::var("RAYON_NUM_THREADS").ok(),
        cores: std::thread::available_parallelism().map_or(1, std::num::NonZero::get),
        load_before,
        load_after: load_average(),
        questions: questions.len(),
        semantic_model: model.map(|dir| dir.display().to_string()),
        specialist_vectors_ms,
        sizes,
    })
}
