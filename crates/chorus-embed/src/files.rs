//! The three files of the model folder, each read and checked on its own,
//! so an error names the file at fault.

use std::path::{Path, PathBuf};

use candle_core::{DType, Device};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{BertModel, Config};
use tokenizers::{Tokenizer, TruncationDirection, TruncationParams, TruncationStrategy};

use crate::{DIMENSIONS, EmbedError, MAX_TOKENS};

/// The BERT configuration.
pub(crate) const CONFIG_FILE: &str = "config.json";
/// The tokenizer (Hugging Face `tokenizers` format).
pub(crate) const TOKENIZER_FILE: &str = "tokenizer.json";
/// The weights.
pub(crate) const WEIGHTS_FILE: &str = "model.safetensors";

/// The paths of the three files, each checked to exist.
pub(crate) struct ModelFiles {
    pub(crate) config: PathBuf,
    pub(crate) tokenizer: PathBuf,
    pub(crate) weights: PathBuf,
}

impl ModelFiles {
    pub(crate) fn find(dir: &Path) -> Result<Self, EmbedError> {
        let existing = |name: &str| {
            let path = dir.join(name);
            if path.is_file() { Ok(path) } else { Err(EmbedError::Missing { path }) }
        };
        Ok(Self {
            config: existing(CONFIG_FILE)?,
            tokenizer: existing(TOKENIZER_FILE)?,
            weights: existing(WEIGHTS_FILE)?,
        })
    }
}

fn read(path: &Path) -> Result<Vec<u8>, EmbedError> {
    std::fs::read(path).map_err(|source| EmbedError::Read { path: path.to_owned(), source })
}

/// `config.json`, checked to be a BERT this crate can run: the hidden size
/// is [`DIMENSIONS`], the heads divide it, positions reach [`MAX_TOKENS`].
pub(crate) fn load_config(path: &Path) -> Result<Config, EmbedError> {
    let invalid = |reason: String| EmbedError::InvalidConfig { path: path.to_owned(), reason };
    let config: Config = serde_json::from_slice(&read(path)?).map_err(|error| invalid(error.to_string()))?;
    if config.hidden_size != DIMENSIONS {
        return Err(invalid(format!(
            "hidden_size is {}, this crate embeds in {DIMENSIONS} dimensions",
            config.hidden_size
        )));
    }
    if config.num_attention_heads == 0 || !config.hidden_size.is_multiple_of(config.num_attention_heads) {
        return Err(invalid(format!(
            "num_attention_heads {} does not divide hidden_size {}",
            config.num_attention_heads, config.hidden_size
        )));
    }
    if config.num_hidden_layers == 0 || config.intermediate_size == 0 || config.type_vocab_size == 0 {
        return Err(invalid("num_hidden_layers, intermediate_size and type_vocab_size must be positive".into()));
    }
    if config.pad_token_id >= config.vocab_size || u32::try_from(config.pad_token_id).is_err() {
        return Err(invalid(format!("pad_token_id {} is outside the vocabulary", config.pad_token_id)));
    }
    if config.max_position_embeddings < MAX_TOKENS {
        return Err(invalid(format!(
            "max_position_embeddings {} is below the {MAX_TOKENS} tokens a text may have",
            config.max_position_embeddings
        )));
    }
    if !(config.layer_norm_eps.is_finite() && config.layer_norm_eps > 0.0) {
        return Err(invalid(format!("layer_norm_eps {} is not a positive number", config.layer_norm_eps)));
    }
    Ok(config)
}

/// `tokenizer.json`, set to cut texts at [`MAX_TOKENS`] and not to pad (the
/// file itself asks for 128 and fixed padding; batches are padded by the
/// embedder). Its vocabulary must fit the model's.
pub(crate) fn load_tokenizer(path: &Path, config: &Config) -> Result<Tokenizer, EmbedError> {
    let invalid = |reason: String| EmbedError::InvalidTokenizer { path: path.to_owned(), reason };
    let mut tokenizer = Tokenizer::from_bytes(read(path)?).map_err(|error| invalid(error.to_string()))?;
    let truncation = TruncationParams {
        max_length: MAX_TOKENS,
        strategy: TruncationStrategy::LongestFirst,
        stride: 0,
        direction: TruncationDirection::Right,
    };
    tokenizer.with_truncation(Some(truncation)).map_err(|error| invalid(error.to_string()))?;
    tokenizer.with_padding(None);
    let vocabulary = tokenizer.get_vocab_size(true);
    if vocabulary > config.vocab_size {
        return Err(invalid(format!(
            "its {vocabulary} tokens do not fit the model's vocabulary of {}",
            config.vocab_size
        )));
    }
    Ok(tokenizer)
}

/// `model.safetensors`, read whole into memory and built into the BERT
/// model on `device` (float32). The file's buffer is freed once the
/// tensors are built.
pub(crate) fn load_weights(path: &Path, config: &Config, device: &Device) -> Result<BertModel, EmbedError> {
    let invalid =
        |error: candle_core::Error| EmbedError::InvalidWeights { path: path.to_owned(), reason: error.to_string() };
    let builder = VarBuilder::from_buffered_safetensors(read(path)?, DType::F32, device).map_err(invalid)?;
    BertModel::load(builder, config).map_err(invalid)
}
