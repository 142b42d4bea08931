//! The metadata keys llama.cpp's loader reads and asserts on, present with
//! the type it reads them as and a value it survives.
//!
//! llama.cpp refuses a missing key or a wrong type by throwing, which it
//! turns into a failed load; the rules here name the key instead. Some
//! values it does not survive at all: a `GGML_ASSERT` ends the process
//! (`llama_model_base::load_hparams`, `llama_vocab::impl::load`, the graph
//! builders of `llama`, `qwen2` and `phi3`). Those are the rules that
//! matter most: a block count outside 1–512, more than 1024 experts or
//! inconsistent expert counts, an unknown RoPE scaling type, key and value
//! head sizes that differ (or a RoPE dimension that differs from them), a
//! vocabulary with a repeated token, a tokenizer that adds a BOS or EOS
//! token it does not have, and an SPM vocabulary without a token for every
//! byte (llama.cpp loads it, then throws on the first prompt it cannot
//! spell, which ends the process). (Checked against the vendored llama.cpp: a
//! repeated token, an unknown RoPE scaling type, a block count of 0 or 513,
//! 2000 experts or inconsistent expert, group or next-token-layer counts
//! each end its process with `SIGABRT`.) A few rules are stricter than
//! llama.cpp, for files that are broken all the same: an explicit BOS or
//! EOS id outside the vocabulary (llama.cpp warns and falls back to its
//! default), a context length of 0.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;

use super::GgufError;
use super::reader::{Array, Value, ValueType};

/// llama.cpp's `LLAMA_MAX_LAYERS`.
const MAX_LAYERS: i128 = 512;
/// llama.cpp's `LLAMA_MAX_EXPERTS`.
const MAX_EXPERTS: i128 = 1024;
/// The RoPE scaling types llama.cpp knows (`LLAMA_ROPE_SCALING_TYPES`).
const ROPE_SCALING_TYPES: [&str; 4] = ["none", "linear", "yarn", "longrope"];
/// The vocabulary key read in full (its entries must be unique).
pub(super) const TOKENS: &str = "tokenizer.ggml.tokens";

/// What llama.cpp's vocabulary loader assumes of a `tokenizer.ggml.model`:
/// its default BOS and EOS ids, and whether it adds BOS and EOS unless the
/// file says otherwise (BPE vocabularies add BOS for some pre-tokenizers,
/// so they are counted as adding it).
struct Tokenizer {
    model: &'static str,
    bos: Option<i128>,
    eos: Option<i128>,
    add_bos: bool,
    add_eos: bool,
    needs_merges: bool,
}

const TOKENIZERS: [Tokenizer; 10] = [
    Tokenizer { model: "llama", bos: Some(1), eos: Some(2), add_bos: true, add_eos: false, needs_merges: false },
    Tokenizer { model: "bert", bos: Some(101), eos: None, add_bos: true, add_eos: false, needs_merges: false },
    Tokenizer { model: "gpt2", bos: Some(11), eos: Some(11), add_bos: true, add_eos: false, needs_merges: true },
    Tokenizer { model: "hybriddna", bos: Some(11), eos: Some(11), add_bos: true, add_eos: false, needs_merges: true },
    Tokenizer { model: "whitespace", bos: Some(11), eos: Some(11), add_bos: true, add_eos: false, needs_merges: true },
    Tokenizer { model: "t5", bos: None, eos: Some(1), add_bos: false, add_eos: true, needs_merges: false },
    Tokenizer { model: "rwkv", bos: None, eos: None, add_bos: false, add_eos: false, needs_merges: false },
    Tokenizer { model: "test", bos: None, eos: None, add_bos: false, add_eos: false, needs_merges: false },
    Tokenizer { model: "plamo2", bos: Some(1), eos: Some(2), add_bos: false, add_eos: false, needs_merges: false },
    // Gemma 4 adds BOS whatever the file says.
    Tokenizer { model: "gemma4", bos: None, eos: None, add_bos: true, add_eos: false, needs_merges: true },
];

/// What the loader takes from the metadata.
pub(super) struct Facts {
    pub(super) architecture: String,
    pub(super) context_length: u64,
}

/// Checks the metadata of the file at `path`.
pub(super) fn check(path: &Path, entries: &BTreeMap<String, Value>) -> Result<Facts, GgufError> {
    let keys = Keys { path, entries };
    let architecture = keys.text("general.architecture")?.ok_or_else(|| keys.missing("general.architecture"))?;
    if architecture.is_empty() {
        return Err(keys.bad("general.architecture", "is empty".to_owned()));
    }
    let arch = |name: &str| format!("{architecture}.{name}");
    let context_length = keys.positive_u32(&arch("context_length"))?;
    keys.positive_u32(&arch("embedding_length"))?;
    let layers = keys.u32(&arch("block_count"))?.ok_or_else(|| keys.missing(&arch("block_count")))?;
    if !(1..=MAX_LAYERS).contains(&layers) {
        let reason = format!("is {layers}; llama.cpp aborts unless it is 1 to {MAX_LAYERS}");
        return Err(keys.bad(&arch("block_count"), reason));
    }
    if let Some(nextn) = keys.u32(&arch("nextn_predict_layers"))?
        && nextn > layers
    {
        let reason = format!("is {nextn}, more than the {layers} blocks; llama.cpp aborts on it");
        return Err(keys.bad(&arch("nextn_predict_layers"), reason));
    }
    experts(&keys, &arch, layers)?;
    if let Some(scaling) = keys.text(&arch("rope.scaling.type"))?
        && !ROPE_SCALING_TYPES.contains(&scaling)
    {
        let reason = format!("is {scaling:?}; llama.cpp aborts unless it is one of {ROPE_SCALING_TYPES:?}");
        return Err(keys.bad(&arch("rope.scaling.type"), reason));
    }
    head_sizes(&keys, architecture, layers)?;
    tokenizer(&keys)?;
    Ok(Facts { architecture: architecture.to_owned(), context_length: u64::try_from(context_length).unwrap_or(0) })
}

/// Expert counts: `load_hparams` asserts each of these.
fn experts(keys: &Keys<'_>, arch: &dyn Fn(&str) -> String, layers: i128) -> Result<(), GgufError> {
    let experts = keys.u32(&arch("expert_count"))?.unwrap_or(0);
    if experts > MAX_EXPERTS {
        let reason = format!("is {experts}; llama.cpp aborts above {MAX_EXPERTS}");
        return Err(keys.bad(&arch("expert_count"), reason));
    }
    let used = keys.per_layer(&arch("expert_used_count"), layers)?.into_iter().max().unwrap_or(0);
    if used > experts || (experts > 0 && used == 0) {
        let reason = format!("is {used} with {experts} experts; llama.cpp aborts unless it is 1 to the expert count");
        return Err(keys.bad(&arch("expert_used_count"), reason));
    }
    let groups = keys.u32(&arch("expert_group_count"))?.unwrap_or(0);
    let used_groups = keys.u32(&arch("expert_group_used_count"))?.unwrap_or(0);
    let groups_fit =
        if experts == 0 { groups == 0 } else { groups < experts && (groups <= 1 || experts % groups == 0) };
    if !groups_fit {
        let reason = format!("is {groups} with {experts} experts; llama.cpp aborts on it");
        return Err(keys.bad(&arch("expert_group_count"), reason));
    }
    if experts > 0 && groups > 1 && !(1..groups).contains(&used_groups) {
        let reason =
            format!("is {used_groups} with {groups} groups; llama.cpp aborts unless it is 1 to {}", groups - 1);
        return Err(keys.bad(&arch("expert_group_used_count"), reason));
    }
    Ok(())
}

/// The graphs of `llama`, `qwen2` and `phi3` assert that keys and values
/// have the same head size, and `llama` and `qwen2` that RoPE turns all of
/// it.
fn head_sizes(keys: &Keys<'_>, architecture: &str, layers: i128) -> Result<(), GgufError> {
    if !matches!(architecture, "llama" | "qwen2" | "phi3") {
        return Ok(());
    }
    let arch = |name: &str| format!("{architecture}.{name}");
    let heads = keys.per_layer(&arch("attention.head_count"), layers)?.first().copied().unwrap_or(0);
    let Some(embedding) = keys.u32(&arch("embedding_length"))? else { return Ok(()) };
    if heads == 0 {
        return Ok(());
    }
    let default = embedding / heads;
    let key_size = keys.u32(&arch("attention.key_length"))?.unwrap_or(default);
    let value_size = keys.u32(&arch("attention.value_length"))?.unwrap_or(default);
    if key_size != value_size {
        let reason = format!("is {value_size} but the key head size is {key_size}; llama.cpp aborts on it");
        return Err(keys.bad(&arch("attention.value_length"), reason));
    }
    let rotated = keys.u32(&arch("rope.dimension_count"))?.unwrap_or(key_size);
    if architecture != "phi3" && rotated != key_size {
        let reason = format!("is {rotated} but the head size is {key_size}; llama.cpp aborts on it");
        return Err(keys.bad(&arch("rope.dimension_count"), reason));
    }
    Ok(())
}

/// The vocabulary: a known tokenizer, unique tokens, scores and types for
/// each, merges where the tokenizer needs them, and the BOS and EOS tokens
/// it adds.
fn tokenizer(keys: &Keys<'_>) -> Result<(), GgufError> {
    const MODEL: &str = "tokenizer.ggml.model";
    let model = keys.text(MODEL)?.ok_or_else(|| keys.missing(MODEL))?;
    if model == "no_vocab" || model == "none" {
        return Ok(());
    }
    let Some(kind) = TOKENIZERS.iter().find(|kind| kind.model == model) else {
        let known: Vec<&str> = TOKENIZERS.iter().map(|kind| kind.model).collect();
        return Err(keys.bad(MODEL, format!("is {model:?}, a tokenizer llama.cpp does not know ({known:?})")));
    };
    let tokens = keys.array(TOKENS, &[ValueType::String])?.ok_or_else(|| keys.missing(TOKENS))?;
    let count = i128::from(tokens.len);
    if tokens.len == 0 || tokens.len > u64::from(i32::MAX.unsigned_abs()) {
        return Err(keys.bad(TOKENS, format!("has {} entries", tokens.len)));
    }
    if let Some(strings) = &tokens.strings {
        repeated_token(keys, strings)?;
        if kind.model == "llama" {
            spells_every_byte(keys, strings)?;
        }
    }
    for (key, types) in [
        ("tokenizer.ggml.scores", &[ValueType::F32, ValueType::I32][..]),
        ("tokenizer.ggml.token_type", &[ValueType::I32][..]),
    ] {
        if let Some(array) = keys.array(key, types)?
            && array.len < tokens.len
        {
            return Err(keys.bad(key, format!("has {} entries for {} tokens", array.len, tokens.len)));
        }
    }
    let kimi = keys.text("tokenizer.ggml.pre")?.is_some_and(|pre| pre == "kimi-k2") && model != "gemma4";
    if kind.needs_merges && !kimi {
        keys.array("tokenizer.ggml.merges", &[ValueType::String])?
            .ok_or_else(|| keys.missing("tokenizer.ggml.merges"))?;
    }
    for (role, default, adds) in [("bos", kind.bos, kind.add_bos), ("eos", kind.eos, kind.add_eos)] {
        let id_key = format!("tokenizer.ggml.{role}_token_id");
        let explicit = keys.u32(&id_key)?;
        if let Some(id) = explicit
            && id >= count
        {
            return Err(keys.bad(&id_key, format!("is {id}, outside the vocabulary of {count} tokens")));
        }
        let adds = keys.flag(&format!("tokenizer.ggml.add_{role}_token"))?.unwrap_or(adds)
            || (kind.model == "gemma4" && role == "bos");
        let id = explicit.or(default).filter(|&id| id < count);
        if adds && id.is_none() {
            let reason = format!("is missing, but the {model} tokenizer adds a {role} token (llama.cpp aborts on it)");
            return Err(keys.bad(&id_key, reason));
        }
    }
    Ok(())
}

/// llama.cpp maps each token to its id and asserts that no two collide; an
/// empty token is renamed `[EMPTY_<id>]` first.
fn repeated_token(keys: &Keys<'_>, strings: &[Vec<u8>]) -> Result<(), GgufError> {
    let mut seen: HashMap<Vec<u8>, usize> = HashMap::with_capacity(strings.len());
    for (index, token) in strings.iter().enumerate() {
        let text = if token.is_empty() { format!("[EMPTY_{index}]").into_bytes() } else { token.clone() };
        if let Some(first) = seen.insert(text.clone(), index) {
            let shown = String::from_utf8_lossy(&text);
            let reason = format!("repeats token {first} ({shown:?}) at {index}; llama.cpp aborts on a repeated token");
            return Err(keys.bad(TOKENS, reason));
        }
    }
    Ok(())
}

/// llama.cpp's SPM tokenizer (`llama`) spells a piece of text no token
/// covers byte by byte, as the token `<0xXX>` or the byte itself, and
/// throws when neither is in the vocabulary; through the C API the
/// exception ends the process at the first such prompt (found by the
/// `gguf_inspect` fuzz target, RELIABILITY.md). So every byte must have one.
fn spells_every_byte(keys: &Keys<'_>, strings: &[Vec<u8>]) -> Result<(), GgufError> {
    let known: HashSet<&[u8]> = strings.iter().map(Vec::as_slice).collect();
    for byte in 0..=u8::MAX {
        let hex = format!("<0x{byte:02X}>");
        if !known.contains(hex.as_bytes()) && !known.contains(&[byte][..]) {
            let reason = format!(
                "has no token for the byte 0x{byte:02X} (neither {hex} nor the byte itself); llama.cpp's SPM tokenizer ends the process on text it cannot spell"
            );
            return Err(keys.bad(TOKENS, reason));
        }
    }
    Ok(())
}

/// The metadata, looked up by key, with typed errors.
struct Keys<'a> {
    path: &'a Path,
    entries: &'a BTreeMap<String, Value>,
}

impl Keys<'_> {
    fn missing(&self, key: &str) -> GgufError {
        GgufError::MissingKey { path: self.path.to_path_buf(), key: key.to_owned() }
    }

    fn bad(&self, key: &str, reason: String) -> GgufError {
        GgufError::BadKey { path: self.path.to_path_buf(), key: key.to_owned(), reason }
    }

    fn wrong_type(&self, key: &str, wanted: &str, found: &Value) -> GgufError {
        let found = match found {
            Value::Array(array) => format!("an array of {}", array.element.name()),
            other => format!("a {}", other.value_type().name()),
        };
        self.bad(key, format!("is {found}; llama.cpp reads it as {wanted}"))
    }

    fn text(&self, key: &str) -> Result<Option<&str>, GgufError> {
        match self.entries.get(key) {
            None => Ok(None),
            Some(Value::Text(text)) => Ok(Some(text)),
            Some(other) => Err(self.wrong_type(key, "a string", other)),
        }
    }

    fn u32(&self, key: &str) -> Result<Option<i128>, GgufError> {
        match self.entries.get(key) {
            None => Ok(None),
            Some(Value::Int(ValueType::U32, value)) => Ok(Some(*value)),
            Some(other) => Err(self.wrong_type(key, "a u32", other)),
        }
    }

    /// A u32 that must be present and above zero.
    fn positive_u32(&self, key: &str) -> Result<i128, GgufError> {
        let value = self.u32(key)?.ok_or_else(|| self.missing(key))?;
        if value == 0 {
            return Err(self.bad(key, "is 0".to_owned()));
        }
        Ok(value)
    }

    fn flag(&self, key: &str) -> Result<Option<bool>, GgufError> {
        match self.entries.get(key) {
            None => Ok(None),
            Some(Value::Other(ValueType::Bool, value)) => Ok(*value),
            Some(other) => Err(self.wrong_type(key, "a bool", other)),
        }
    }

    fn array(&self, key: &str, elements: &[ValueType]) -> Result<Option<&Array>, GgufError> {
        let wanted = || {
            let names: Vec<&str> = elements.iter().map(|element| element.name()).collect();
            format!("an array of {}", names.join(" or "))
        };
        match self.entries.get(key) {
            None => Ok(None),
            Some(Value::Array(array)) if elements.contains(&array.element) => Ok(Some(array)),
            Some(other) => Err(self.wrong_type(key, &wanted(), other)),
        }
    }

    /// A u32, or an array of one u32 per block (llama.cpp's
    /// `get_key_or_arr`); empty when absent.
    fn per_layer(&self, key: &str, layers: i128) -> Result<Vec<i128>, GgufError> {
        match self.entries.get(key) {
            None => Ok(Vec::new()),
            Some(Value::Int(ValueType::U32, value)) => Ok(vec![*value]),
            Some(Value::Array(Array { element: ValueType::U32 | ValueType::I32, len, ints: Some(ints), .. }))
                if i128::from(*len) == layers =>
            {
                // llama.cpp copies an i32 array's bits into its u32 counts.
                Ok(ints.iter().map(|&value| if value < 0 { value + (1 << 32) } else { value }).collect())
            }
            Some(Value::Array(array)) if i128::from(array.len) != layers => {
                Err(self.bad(key, format!("has {} entries for {layers} blocks", array.len)))
            }
            Some(other) => Err(self.wrong_type(key, "a u32 or an array of them", other)),
        }
    }
}
