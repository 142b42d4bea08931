//! The semantic half of routing: the catalog's specialists as sentence
//! vectors, and a text's similarity to each.
//!
//! chorus-core runs no model: a [`TextEmbedder`] (in `chorus-node`, the
//! all-MiniLM-L6-v2 model through `chorus-embed`) turns texts into unit
//! vectors. A specialist is its texts' vectors — its description and its
//! example questions ([`specialist_texts`]) — computed once per catalog
//! and model (the node caches them). A text's similarity to a specialist
//! is the mean of two cosines: to the normalised mean of its texts (what
//! the specialist is about as a whole) and to its nearest text (the one
//! kind of question most like this one; looked for among the specialists
//! closest by their mean, see [`SemanticIndex`]). The router blends that with the
//! keyword scores, which stay and explain the decision ("semantic 0.71 +
//! keywords 'python'").

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use crate::catalog::{Catalog, Specialist};

/// Turns texts into unit vectors of one fixed length.
pub trait TextEmbedder: Send + Sync {
    /// One vector per text, in order.
    ///
    /// # Errors
    /// What went wrong, in words (routing then uses keywords alone).
    fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, String>;
}

/// The texts a specialist's vector is made of: its name and description,
/// then each example question.
#[must_use]
pub fn specialist_texts(specialist: &Specialist) -> Vec<String> {
    let mut texts = vec![format!("{}: {}", specialist.name, specialist.description)];
    texts.extend(specialist.examples.iter().cloned());
    texts
}

/// Every specialist of a catalog as the vectors of its texts, and the
/// embedder that turns queries into vectors to compare with them.
///
/// The specialists' vectors are kept in steps of 1/127 (a unit vector's
/// parts lie in -1..=1), a quarter of the memory of floats with cosines
/// within 0.01 of theirs; a query's in steps of 1/32767, as fine as its
/// floats. A scan is then integer products the compiler vectorises (a sum
/// of floats it may not reorder, so it cannot). Every mean is compared
/// with a query; the texts only of the 64 specialists
/// closest by their mean.
pub struct SemanticIndex {
    embedder: Arc<dyn TextEmbedder>,
    dimensions: usize,
    /// `count × dimensions`: each specialist's mean vector, in catalog
    /// order.
    means: Vec<i8>,
    /// Every text's vector, specialist after specialist.
    texts: Vec<i8>,
    /// Per specialist, where its texts end in `texts` (in vectors).
    text_ends: Vec<usize>,
    /// Texts seen lately, with their vectors and, once asked for, their
    /// similarities (a question's pieces, parts and clauses are scored
    /// more than once while it is analysed), bounded.
    recent: Mutex<HashMap<String, Arc<Seen>>>,
}

/// A text's vector and, once computed, its similarity to every specialist.
struct Seen {
    vector: Vec<i16>,
    similarities: OnceLock<Arc<[f32]>>,
}

/// How many specialists, the closest by their mean vector, have each of
/// their texts compared with a query (a tenth of the scan at 1,000).
const NEAREST_CANDIDATES: usize = 64;

/// Most texts kept between calls.
const RECENT_TEXTS: usize = 256;

/// The steps a specialist vector's parts are kept in.
const SCALE: f32 = 127.0;

/// The steps a query vector's parts are kept in.
const QUERY_SCALE: f32 = 32767.0;

/// The longest vectors whose products stay within `i32`: 127 × 32767 ×
/// 516 < 2³¹ (all-MiniLM-L6-v2's are 384 long).
const MAX_DIMENSIONS: usize = 516;

impl SemanticIndex {
    /// The index of `vectors`: per specialist in catalog order, the vectors
    /// of its texts, as [`SemanticIndex::vectors_of`] makes them.
    ///
    /// # Errors
    /// When a specialist has no vector or the vectors are not all of one
    /// non-zero length.
    pub fn new(embedder: Arc<dyn TextEmbedder>, vectors: &[Vec<Vec<f32>>]) -> Result<SemanticIndex, String> {
        let dimensions = vectors.first().and_then(|texts| texts.first()).map_or(0, Vec::len);
        let uneven =
            vectors.iter().any(|texts| texts.is_empty() || texts.iter().any(|vector| vector.len() != dimensions));
        if dimensions == 0 || uneven {
            return Err("the specialist vectors are empty or of different lengths".to_owned());
        }
        if dimensions > MAX_DIMENSIONS {
            return Err(format!(
                "vectors of {dimensions} dimensions are more than the index's integer products hold \
                 ({MAX_DIMENSIONS})"
            ));
        }
        let mut means = Vec::with_capacity(vectors.len() * dimensions);
        let mut texts = Vec::new();
        let mut text_ends = Vec::with_capacity(vectors.len());
        for specialist in vectors {
            let mut sum = vec![0.0f32; dimensions];
            for vector in specialist {
                for (total, value) in sum.iter_mut().zip(vector) {
                    *total += value;
                }
                texts.extend(quantised(vector));
            }
            means.extend(quantised(&sum));
            text_ends.push(texts.len() / dimensions);
        }
        Ok(SemanticIndex { embedder, dimensions, means, texts, text_ends, recent: Mutex::new(HashMap::new()) })
    }

    /// Per specialist of `catalog`, in catalog order, the vectors of its
    /// texts (see [`specialist_texts`]).
    ///
    /// # Errors
    /// The embedder's error.
    pub fn vectors_of(embedder: &dyn TextEmbedder, catalog: &Catalog) -> Result<Vec<Vec<Vec<f32>>>, String> {
        let per_specialist: Vec<Vec<String>> = catalog.specialists().iter().map(specialist_texts).collect();
        let all: Vec<&str> = per_specialist.iter().flatten().map(String::as_str).collect();
        let embedded = embedder.embed(&all)?;
        if embedded.len() != all.len() {
            return Err(format!("the embedder returned {} vectors for {} texts", embedded.len(), all.len()));
        }
        let mut next = embedded.into_iter();
        Ok(per_specialist.iter().map(|texts| next.by_ref().take(texts.len()).collect()).collect())
    }

    /// The number of specialists it holds.
    #[must_use]
    pub fn len(&self) -> usize {
        self.text_ends.len()
    }

    /// Whether it holds no specialist.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.text_ends.is_empty()
    }

    /// Bytes its vectors take.
    #[must_use]
    pub fn vector_bytes(&self) -> usize {
        self.means.len() + self.texts.len() + self.text_ends.len() * std::mem::size_of::<usize>()
    }

    /// Embeds `texts` ahead of [`SemanticIndex::similarities`] in one batch
    /// (one model call for the parts of a question, not one each).
    pub fn prepare(&self, texts: &[&str]) {
        let missing: Vec<&str> = {
            let Ok(recent) = self.recent.lock() else { return };
            let mut missing: Vec<&str> = texts.iter().copied().filter(|text| !recent.contains_key(*text)).collect();
            missing.sort_unstable();
            missing.dedup();
            missing
        };
        if missing.is_empty() {
            return;
        }
        match self.embedder.embed(&missing) {
            Ok(vectors) => {
                let Ok(mut recent) = self.recent.lock() else { return };
                if recent.len() + missing.len() > RECENT_TEXTS {
                    recent.clear();
                }
                for (text, vector) in missing.iter().zip(vectors) {
                    let seen = Seen { vector: query_vector(&vector), similarities: OnceLock::new() };
                    recent.insert((*text).to_owned(), Arc::new(seen));
                }
            }
            Err(error) => tracing::warn!(%error, "semantic routing: the texts could not be embedded"),
        }
    }

    /// The similarity of `text` to every specialist, in catalog order (see
    /// the module); `None` when the text cannot be embedded.
    #[must_use]
    pub fn similarities(&self, text: &str) -> Option<Arc<[f32]>> {
        self.prepare(&[text]);
        let seen = self.recent.lock().ok()?.get(text).cloned()?;
        if seen.vector.len() != self.dimensions {
            return None;
        }
        Some(Arc::clone(seen.similarities.get_or_init(|| self.score(&seen.vector))))
    }

    /// The similarity of `vector` to every specialist: the mean of the
    /// cosines to its mean vector and to its nearest text. Only the
    /// [`NEAREST_CANDIDATES`] specialists closest by their mean have their
    /// texts scanned; the others, far from the text whatever their nearest
    /// one, score their mean's cosine.
    fn score(&self, vector: &[i16]) -> Arc<[f32]> {
        let unit = SCALE * QUERY_SCALE;
        let means: Vec<i32> = self.means.chunks_exact(self.dimensions).map(|mean| dot(mean, vector)).collect();
        let threshold = if means.len() > NEAREST_CANDIDATES {
            let mut sorted = means.clone();
            let (_, nth, _) = sorted.select_nth_unstable_by(NEAREST_CANDIDATES - 1, |a, b| b.cmp(a));
            *nth
        } else {
            i32::MIN
        };
        let mut start = 0;
        means
            .iter()
            .zip(&self.text_ends)
            .map(|(&mean, &end)| {
                let texts = start * self.dimensions..end * self.dimensions;
                start = end;
                let nearest = if mean >= threshold {
                    self.texts
                        .get(texts)
                        .unwrap_or_default()
                        .chunks_exact(self.dimensions)
                        .map(|text| dot(text, vector))
                        .max()
                        .unwrap_or(mean)
                } else {
                    mean
                };
                #[allow(clippy::cast_precision_loss)]
                let cosines = (mean + nearest) as f32;
                cosines / unit / 2.0
            })
            .collect()
    }
}

impl std::fmt::Debug for SemanticIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SemanticIndex")
            .field("specialists", &self.len())
            .field("dimensions", &self.dimensions)
            .finish_non_exhaustive()
    }
}

/// Where a router finds its semantic index once it is ready (it is built
/// after the node starts; until then routing uses keywords alone). Clones
/// share the slot.
#[derive(Debug, Clone, Default)]
pub struct SemanticSlot(Arc<OnceLock<Arc<SemanticIndex>>>);

impl SemanticSlot {
    /// Fills the slot; a second index is ignored (false).
    pub fn set(&self, index: Arc<SemanticIndex>) -> bool {
        self.0.set(index).is_ok()
    }

    /// The index, once ready.
    #[must_use]
    pub fn get(&self) -> Option<&Arc<SemanticIndex>> {
        self.0.get()
    }
}

/// The product of a specialist vector and a query vector (in 1/(127 ×
/// 32767) steps; within `i32` up to [`MAX_DIMENSIONS`]).
fn dot(a: &[i8], b: &[i16]) -> i32 {
    a.iter().zip(b).map(|(x, y)| i32::from(*x) * i32::from(*y)).sum()
}

/// A query's `vector` made a unit vector and kept in 1/32767 steps.
fn query_vector(vector: &[f32]) -> Vec<i16> {
    #[allow(clippy::cast_possible_truncation)]
    normalised(vector.to_vec())
        .iter()
        .map(|value| (value * QUERY_SCALE).round().clamp(-QUERY_SCALE, QUERY_SCALE) as i16)
        .collect()
}

/// `vector` made a unit vector and kept in 1/127 steps.
fn quantised(vector: &[f32]) -> Vec<i8> {
    #[allow(clippy::cast_possible_truncation)]
    normalised(vector.to_vec()).iter().map(|value| (value * SCALE).round().clamp(-SCALE, SCALE) as i8).collect()
}

fn normalised(mut vector: Vec<f32>) -> Vec<f32> {
    let norm = vector.iter().map(|value| value * value).sum::<f32>().sqrt();
    if norm > 0.0 {
        for value in &mut vector {
            *value /= norm;
        }
    }
    vector
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// Vectors from letter counts: texts sharing letters are close.
    struct Letters;

    impl TextEmbedder for Letters {
        fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, String> {
            Ok(texts
                .iter()
                .map(|text| {
                    let mut counts = vec![0.0f32; 26];
                    for c in text.to_lowercase().chars().filter(char::is_ascii_lowercase) {
                        counts[(c as u8 - b'a') as usize] += 1.0;
                    }
                    normalised(counts)
                })
                .collect())
        }
    }

    #[test]
    fn each_specialist_has_one_unit_vector_and_a_text_is_compared_with_all() {
        let catalog = Catalog::bundled().unwrap();
        let vectors = SemanticIndex::vectors_of(&Letters, &catalog).unwrap();
        assert_eq!(vectors.len(), catalog.specialists().len());
        for (texts, specialist) in vectors.iter().zip(catalog.specialists()) {
            assert_eq!(texts.len(), specialist_texts(specialist).len());
        }
        let index = SemanticIndex::new(Arc::new(Letters), &vectors).unwrap();
        for mean in index.means.chunks_exact(index.dimensions) {
            let norm = mean.iter().map(|v| f64::from(*v).powi(2)).sum::<f64>().sqrt() / f64::from(SCALE);
            assert!((norm - 1.0).abs() < 0.02, "{norm}");
        }
        assert_eq!(index.len(), catalog.specialists().len());
        let similarities = index.similarities("zzz").unwrap();
        assert_eq!(similarities.len(), index.len());
        assert!(similarities.iter().all(|s| (-1.0..=1.0001).contains(s)));
    }

    #[test]
    fn vectors_of_different_lengths_are_refused() {
        assert!(SemanticIndex::new(Arc::new(Letters), &[vec![vec![1.0]], vec![vec![1.0, 0.0]]]).is_err());
        assert!(SemanticIndex::new(Arc::new(Letters), &[vec![vec![1.0]], vec![]]).is_err());
        assert!(SemanticIndex::new(Arc::new(Letters), &[]).is_err());
        assert!(SemanticIndex::new(Arc::new(Letters), &[vec![vec![0.1; MAX_DIMENSIONS + 1]]]).is_err());
        assert!(SemanticIndex::new(Arc::new(Letters), &[vec![vec![0.1; MAX_DIMENSIONS]]]).is_ok());
    }

    #[test]
    fn a_specialist_scores_the_mean_of_its_mean_and_its_nearest_text() {
        // Two specialists in three dimensions: one with texts along x and
        // y, one along z.
        let vectors = vec![vec![vec![1.0, 0.0, 0.0], vec![0.0, 1.0, 0.0]], vec![vec![0.0, 0.0, 1.0]]];
        let index = SemanticIndex::new(Arc::new(Axes), &vectors).unwrap();
        let similarities = index.similarities("x").unwrap();
        // Mean (0.707, 0.707, 0): cosine 0.707 to x; nearest text: 1.
        assert!((similarities[0] - (std::f32::consts::FRAC_1_SQRT_2 + 1.0) / 2.0).abs() < 0.01, "{similarities:?}");
        assert!(similarities[1].abs() < 0.01, "{similarities:?}");
        let similarities = index.similarities("z").unwrap();
        assert!((similarities[1] - 1.0).abs() < 0.01 && similarities[0].abs() < 0.01, "{similarities:?}");
    }

    /// "x", "y", "z" as the unit axes.
    struct Axes;

    impl TextEmbedder for Axes {
        fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, String> {
            Ok(texts
                .iter()
                .map(|text| ["x", "y", "z"].iter().map(|axis| if text == axis { 1.0 } else { 0.0 }).collect())
                .collect())
        }
    }
}
