//! Why a catalog cannot be used.

use std::path::PathBuf;

use super::{CATALOG_VERSION, FALLBACK_SPECIALIST};

/// Why a catalog cannot be used. Validation errors carry the id of the
/// offending base model or specialist.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CatalogError {
    /// The file could not be read.
    #[error("cannot read catalog {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// Not JSON, or not the documented schema (missing or unknown field,
    /// wrong type, unknown domain or source kind).
    #[error("catalog does not match the schema: {0}")]
    Parse(#[from] serde_json::Error),
    /// A schema version this build does not read.
    #[error("catalog version {found} is not supported (this build reads version {CATALOG_VERSION})")]
    UnsupportedVersion {
        /// The version in the file.
        found: u32,
    },
    /// An id that breaks the id syntax (`[a-z0-9._-]+`; specialists
    /// `<area>.<topic>`).
    #[error("invalid id {id:?}: ids are lowercase [a-z0-9._-], specialist ids are <area>.<topic>")]
    InvalidId {
        /// The id.
        id: String,
    },
    /// Two base models or two specialists share an id.
    #[error("duplicate id {id:?}")]
    DuplicateId {
        /// The id.
        id: String,
    },
    /// A specialist names a base model that is not in the catalog.
    #[error("specialist {specialist:?} runs on unknown base model {base_model:?}")]
    UnknownBaseModel {
        /// The specialist.
        specialist: String,
        /// The missing base model id.
        base_model: String,
    },
    /// A sha256 that is not 64 lowercase hex characters.
    #[error("{id:?} has an invalid sha256 {value:?} (64 lowercase hex characters or null)")]
    InvalidSha256 {
        /// The base model or specialist (for its LoRA adapter).
        id: String,
        /// The value found.
        value: String,
    },
    /// A required text field is empty.
    #[error("{id:?} has an empty {field}")]
    EmptyField {
        /// The base model or specialist.
        id: String,
        /// The field name.
        field: &'static str,
    },
    /// A specialist without routing keywords could never be routed to.
    #[error("specialist {id:?} has no keywords")]
    NoKeywords {
        /// The specialist.
        id: String,
    },
    /// A keyword that is empty or not lowercase-trimmed, so it would never
    /// match a normalised query.
    #[error("specialist {id:?} has keyword {keyword:?}, which is empty or not lowercase and trimmed")]
    InvalidKeyword {
        /// The specialist.
        id: String,
        /// The keyword.
        keyword: String,
    },
    /// A sampling value outside its documented range.
    #[error("specialist {id:?} has sampling {field} = {value}, outside its range")]
    SamplingOutOfRange {
        /// The specialist.
        id: String,
        /// The sampling field.
        field: &'static str,
        /// The value found.
        value: f64,
    },
    /// A specialist's `size_bytes` is not its base model's plus its
    /// adapter's, or a base model's size is zero.
    #[error("{id:?} has size_bytes {found}, expected {expected}")]
    SizeMismatch {
        /// The specialist or base model.
        id: String,
        /// The size it should have.
        expected: u64,
        /// The size written.
        found: u64,
    },
    /// A specialist claims a language its base model does not handle, or
    /// lists no language.
    #[error("specialist {id:?} lists language {language:?}, which its base model does not handle")]
    UnsupportedLanguage {
        /// The specialist.
        id: String,
        /// The language code (empty when none is listed).
        language: String,
    },
    /// A base model file name that is not a plain file name.
    #[error("base model {id:?} has file name {file_name:?}, which is not a plain file name")]
    InvalidFileName {
        /// The base model.
        id: String,
        /// The file name.
        file_name: String,
    },
    /// A download source that cannot be used.
    #[error("{id:?} has an unusable source: {reason}")]
    InvalidSource {
        /// The base model or specialist (for its LoRA adapter).
        id: String,
        /// What is wrong.
        reason: String,
    },
    /// More than one base model is marked `embedded`.
    #[error("base models {first:?} and {second:?} are both marked embedded")]
    MultipleEmbedded {
        /// The first embedded model.
        first: String,
        /// The second one.
        second: String,
    },
    /// The fallback specialist [`FALLBACK_SPECIALIST`] is missing.
    #[error("the catalog has no {FALLBACK_SPECIALIST:?} specialist, the fallback for unmatched queries")]
    MissingFallback,
}
