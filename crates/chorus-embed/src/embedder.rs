//! The embedder: tokenise, run BERT, mean-pool, normalise.

use std::path::Path;

use candle_core::{DType, Device, Tensor};
use candle_transformers::models::bert::BertModel;
use tokenizers::{Encoding, Tokenizer};

use crate::files::{ModelFiles, load_config, load_tokenizer, load_weights};
use crate::{BATCH_SIZE, DIMENSIONS, EmbedError, Embedding};

/// all-MiniLM-L6-v2, loaded: the tokenizer and the BERT weights. Load it once
/// and share it; it is `Send + Sync` and [`embed`](Self::embed) takes
/// `&self`.
pub struct Embedder {
    tokenizer: Tokenizer,
    model: BertModel,
    device: Device,
    pad_id: u32,
}

impl std::fmt::Debug for Embedder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Embedder")
            .field("device", &self.device)
            .field("dimensions", &DIMENSIONS)
            .finish_non_exhaustive()
    }
}

impl Embedder {
    /// Loads the model from `dir`, the folder holding `config.json`,
    /// `tokenizer.json` and `model.safetensors` (`models/all-MiniLM-L6-v2`
    /// as `scripts/setup.sh` installs it).
    ///
    /// # Errors
    /// [`EmbedError::Missing`] when a file is not there (checked for all
    /// three before any is read), [`EmbedError::Read`] when one cannot be
    /// read, and [`EmbedError::InvalidConfig`],
    /// [`EmbedError::InvalidTokenizer`] or [`EmbedError::InvalidWeights`]
    /// when a file is malformed, truncated or does not fit this model.
    pub fn load(dir: &Path) -> Result<Self, EmbedError> {
        let files = ModelFiles::find(dir)?;
        let config = load_config(&files.config)?;
        let tokenizer = load_tokenizer(&files.tokenizer, &config)?;
        let device = device();
        let model = load_weights(&files.weights, &config, &device)?;
        // load_config checked that the id fits the vocabulary and a u32.
        let pad_id = u32::try_from(config.pad_token_id).unwrap_or(0);
        Ok(Self { tokenizer, model, device, pad_id })
    }

    /// The embeddings of `texts`, in their order: one unit vector each.
    /// An empty slice gives an empty vector.
    ///
    /// # Errors
    /// [`EmbedError::Tokenize`] if the tokenizer rejects a text,
    /// [`EmbedError::Inference`] if the forward pass fails.
    pub fn embed(&self, texts: &[&str]) -> Result<Vec<Embedding>, EmbedError> {
        // sentence-transformers strips each text before tokenising it.
        let trimmed: Vec<&str> = texts.iter().map(|text| text.trim()).collect();
        let encodings =
            self.tokenizer.encode_batch(trimmed, true).map_err(|error| EmbedError::Tokenize(error.to_string()))?;
        // Longest first, as sentence-transformers orders them: each batch
        // holds texts of similar length, so little is padded.
        let mut order: Vec<usize> = (0..encodings.len()).collect();
        order.sort_by_key(|&index| std::cmp::Reverse(encodings[index].get_ids().len()));
        let mut embeddings = vec![[0.0; DIMENSIONS]; encodings.len()];
        for batch in order.chunks(BATCH_SIZE) {
            let members: Vec<&Encoding> = batch.iter().map(|&index| &encodings[index]).collect();
            for (&index, embedding) in batch.iter().zip(self.embed_batch(&members)?) {
                embeddings[index] = embedding;
            }
        }
        Ok(embeddings)
    }

    /// The embedding of one text.
    ///
    /// # Errors
    /// As [`embed`](Self::embed).
    pub fn embed_one(&self, text: &str) -> Result<Embedding, EmbedError> {
        self.embed(&[text])?.pop().ok_or_else(|| EmbedError::Inference("no embedding came back".into()))
    }

    /// One forward pass over `batch` (not empty), padded to its longest
    /// member: token vectors averaged under the attention mask, then
    /// normalised.
    fn embed_batch(&self, batch: &[&Encoding]) -> Result<Vec<Embedding>, EmbedError> {
        let width = batch.iter().map(|encoding| encoding.get_ids().len()).max().unwrap_or(0);
        let mut ids = Vec::with_capacity(batch.len() * width);
        let mut mask = Vec::with_capacity(batch.len() * width);
        for encoding in batch {
            let length = encoding.get_ids().len();
            ids.extend_from_slice(encoding.get_ids());
            ids.extend(std::iter::repeat_n(self.pad_id, width - length));
            mask.extend(std::iter::repeat_n(1u32, length));
            mask.extend(std::iter::repeat_n(0u32, width - length));
        }
        let pooled = self.pool(ids, mask, (batch.len(), width)).map_err(EmbedError::inference)?;
        pooled
            .into_iter()
            .map(|row| {
                Embedding::try_from(row.as_slice()).map_err(|_| {
                    EmbedError::Inference(format!("the model gave {} numbers, not {DIMENSIONS}", row.len()))
                })
            })
            .collect()
    }

    /// BERT, mean pooling and L2 normalisation, as sentence-transformers'
    /// `Pooling(mean)` and `Normalize` modules compute them.
    fn pool(&self, ids: Vec<u32>, mask: Vec<u32>, shape: (usize, usize)) -> candle_core::Result<Vec<Vec<f32>>> {
        let ids = Tensor::from_vec(ids, shape, &self.device)?;
        let mask = Tensor::from_vec(mask, shape, &self.device)?;
        let token_types = ids.zeros_like()?;
        let hidden = self.model.forward(&ids, &token_types, Some(&mask))?; // (batch, width, 384)
        let mask = mask.to_dtype(DType::F32)?.unsqueeze(2)?; // (batch, width, 1)
        let summed = hidden.broadcast_mul(&mask)?.sum(1)?; // (batch, 384)
        let counts = mask.sum(1)?.clamp(1e-9f32, f32::MAX)?; // (batch, 1)
        let mean = summed.broadcast_div(&counts)?;
        let norms = mean.sqr()?.sum_keepdim(1)?.sqrt()?.clamp(1e-12f32, f32::MAX)?;
        mean.broadcast_div(&norms)?.to_vec2()
    }
}

/// The first GPU of a backend built in, else the CPU.
fn device() -> Device {
    #[cfg(feature = "cuda")]
    if let Ok(device) = Device::new_cuda(0) {
        return device;
    }
    #[cfg(feature = "metal")]
    if let Ok(device) = Device::new_metal(0) {
        return device;
    }
    Device::Cpu
}
