//! The semantic half of routing: the catalog's specialists as sentence
//! vectors, and a text's similarity to each.
//!
//! chorus-core runs no model: a [`TextEmbedder`] (in `chorus-node`, the
//! all-MiniLM-L6-v2 model through `chorus-embed`) turns texts into unit
//! vectors. A specialist's vector is the normalised mean of the vectors of
//! its description and its example questions ([`specialist_texts`]),
//! computed once per catalog and model (the node caches them). The router
//! blends a text's cosine similarity to each specialist with the keyword
//! scores, which stay and explain the decision ("semantic 0.71 + keywords
//! 'python'").

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

/// Every specialist of a catalog as one unit vector, in catalog order, and
/// the embedder that turns queries into vectors to compare with them.
pub struct SemanticIndex {
    embedder: Arc<dyn TextEmbedder>,
    dimensions: usize,
    /// `count × dimensions` floats, specialist after specialist.
    vectors: Vec<f32>,
    /// Vectors of texts seen lately (parts of questions are routed more
    /// than once), bounded.
    recent: Mutex<HashMap<String, Arc<Vec<f32>>>>,
}

/// Most query vectors kept between calls.
const RECENT_TEXTS: usize = 256;

impl SemanticIndex {
    /// The index of `vectors` (one per specialist, in catalog order, as
    /// [`SemanticIndex::vectors_of`] makes them).
    ///
    /// # Errors
    /// When the vectors are not all of one non-zero length.
    pub fn new(embedder: Arc<dyn TextEmbedder>, vectors: Vec<Vec<f32>>) -> Result<SemanticIndex, String> {
        let dimensions = vectors.first().map_or(0, Vec::len);
        if dimensions == 0 || vectors.iter().any(|vector| vector.len() != dimensions) {
            return Err("the specialist vectors are empty or of different lengths".to_owned());
        }
        Ok(SemanticIndex {
            embedder,
            dimensions,
            vectors: vectors.into_iter().flatten().collect(),
            recent: Mutex::new(HashMap::new()),
        })
    }

    /// One vector per specialist of `catalog`: the normalised mean of its
    /// texts' vectors (see [`specialist_texts`]).
    ///
    /// # Errors
    /// The embedder's error.
    pub fn vectors_of(embedder: &dyn TextEmbedder, catalog: &Catalog) -> Result<Vec<Vec<f32>>, String> {
        let per_specialist: Vec<Vec<String>> = catalog.specialists().iter().map(specialist_texts).collect();
        let all: Vec<&str> = per_specialist.iter().flatten().map(String::as_str).collect();
        let embedded = embedder.embed(&all)?;
        if embedded.len() != all.len() {
            return Err(format!("the embedder returned {} vectors for {} texts", embedded.len(), all.len()));
        }
        let mut vectors = Vec::with_capacity(per_specialist.len());
        let mut next = embedded.into_iter();
        for texts in &per_specialist {
            let mut sum: Vec<f32> = Vec::new();
            for vector in next.by_ref().take(texts.len()) {
                if sum.is_empty() {
                    sum = vec![0.0; vector.len()];
                }
                for (total, value) in sum.iter_mut().zip(&vector) {
                    *total += value;
                }
            }
            vectors.push(normalised(sum));
        }
        Ok(vectors)
    }

    /// The number of specialists it holds.
    #[must_use]
    pub fn len(&self) -> usize {
        self.vectors.len() / self.dimensions.max(1)
    }

    /// Whether it holds no specialist.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.vectors.is_empty()
    }

    /// Bytes its vectors take.
    #[must_use]
    pub fn vector_bytes(&self) -> usize {
        self.vectors.len() * std::mem::size_of::<f32>()
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
                    recent.insert((*text).to_owned(), Arc::new(vector));
                }
            }
            Err(error) => tracing::warn!(%error, "semantic routing: the texts could not be embedded"),
        }
    }

    /// The cosine similarity of `text` to every specialist, in catalog
    /// order; `None` when the text cannot be embedded.
    #[must_use]
    pub fn similarities(&self, text: &str) -> Option<Vec<f32>> {
        self.prepare(&[text]);
        let vector = self.recent.lock().ok()?.get(text).cloned()?;
        if vector.len() != self.dimensions {
            return None;
        }
        Some(self.vectors.chunks_exact(self.dimensions).map(|specialist| dot(specialist, &vector)).collect())
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

fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
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
        for vector in &vectors {
            let norm: f32 = vector.iter().map(|v| v * v).sum::<f32>().sqrt();
            assert!((norm - 1.0).abs() < 1e-4, "{norm}");
        }
        let index = SemanticIndex::new(Arc::new(Letters), vectors).unwrap();
        assert_eq!(index.len(), catalog.specialists().len());
        let similarities = index.similarities("zzz").unwrap();
        assert_eq!(similarities.len(), index.len());
        assert!(similarities.iter().all(|s| (-1.0..=1.0001).contains(s)));
    }

    #[test]
    fn vectors_of_different_lengths_are_refused() {
        assert!(SemanticIndex::new(Arc::new(Letters), vec![vec![1.0], vec![1.0, 0.0]]).is_err());
        assert!(SemanticIndex::new(Arc::new(Letters), vec![]).is_err());
    }
}
