//! The specialist catalog (`models/catalog.json`) and profile matching.
//!
//! The serde types here mirror the schema documented in `models/CATALOG.md`
//! field for field (`deny_unknown_fields`, nullable fields required as
//! `null`), and a [`Catalog`] only exists once it has been validated: ids,
//! references, hashes, sampling ranges and sizes are checked at load, so the
//! rest of Chorus can trust it. [`recommend`] turns a person's
//! [`Profile`] into the 2–5 specialists that fit them and their device.

//!
//! One job per file: the serde types (`types`), the errors (`error`),
//! the rules checked at load (`validate`) and profile matching
//! (`recommend`); this file holds the [`Catalog`] itself.

use std::path::Path;

use serde::{Deserialize, Serialize};

mod error;
mod recommend;
mod types;
mod validate;

pub use error::CatalogError;
pub use recommend::{Profile, RecommendError, Recommendation, recommend};
pub use types::{
    BaseModel, Domain, LoraAdapter, ModelSource, ParseDomainError, PypiChunk, Specialist, SpecialistSampling,
    UNVERIFIED_SIZE_MARGIN_PERCENT,
};

/// The catalog schema version this build reads.
pub const CATALOG_VERSION: u32 = 1;

/// Id of the specialist that answers when no other one fits: every valid
/// catalog has it.
pub const FALLBACK_SPECIALIST: &str = "general.assistant";

/// The repository's catalog, embedded at compile time.
const BUNDLED_CATALOG_JSON: &str = include_str!("../../../../models/catalog.json");

/// The validated specialist catalog: base models and the specialists that
/// run on them.
///
/// Construct it with [`Catalog::bundled`], [`Catalog::load`] or
/// [`Catalog::from_json`] (deserializing it with serde validates too); every
/// way in checks the rules listed on [`CatalogError`], so a `Catalog` value
/// is proof that the data is consistent.
///
/// ```
/// let catalog = chorus_core::Catalog::bundled()?;
/// let spanish = catalog.specialist("translate.es").map(|s| s.name.as_str());
/// assert_eq!(spanish, Some("Spanish translator"));
/// # Ok::<(), chorus_core::CatalogError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "CatalogFile")]
pub struct Catalog {
    version: u32,
    base_models: Vec<BaseModel>,
    specialists: Vec<Specialist>,
}

/// The file as written, before validation.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CatalogFile {
    version: u32,
    base_models: Vec<BaseModel>,
    specialists: Vec<Specialist>,
}

impl Catalog {
    /// Parses and validates a catalog from JSON text.
    ///
    /// # Errors
    ///
    /// [`CatalogError::Parse`] when the text does not match the schema,
    /// or the validation error for the first rule it breaks.
    pub fn from_json(json: &str) -> Result<Catalog, CatalogError> {
        let file: CatalogFile = serde_json::from_str(json)?;
        Catalog::try_from(file)
    }

    /// Reads, parses and validates a catalog file.
    ///
    /// # Errors
    ///
    /// [`CatalogError::Io`] when the file cannot be read, otherwise as
    /// [`Catalog::from_json`].
    pub fn load(path: &Path) -> Result<Catalog, CatalogError> {
        let json =
            std::fs::read_to_string(path).map_err(|source| CatalogError::Io { path: path.to_owned(), source })?;
        Catalog::from_json(&json)
    }

    /// The catalog shipped with this build (`models/catalog.json`, embedded
    /// at compile time).
    ///
    /// # Errors
    ///
    /// Only if the embedded file is invalid, which the crate's tests rule out.
    pub fn bundled() -> Result<Catalog, CatalogError> {
        Catalog::from_json(BUNDLED_CATALOG_JSON)
    }

    /// The schema version of the file.
    #[must_use]
    pub fn version(&self) -> u32 {
        self.version
    }

    /// All base models, in file order.
    #[must_use]
    pub fn base_models(&self) -> &[BaseModel] {
        &self.base_models
    }

    /// All specialists, in file order (the router breaks its last ties by
    /// this order).
    #[must_use]
    pub fn specialists(&self) -> &[Specialist] {
        &self.specialists
    }

    /// The specialist with this id.
    #[must_use]
    pub fn specialist(&self, id: &str) -> Option<&Specialist> {
        self.specialists.iter().find(|specialist| specialist.id == id)
    }

    /// The base model with this id.
    #[must_use]
    pub fn base_model(&self, id: &str) -> Option<&BaseModel> {
        self.base_models.iter().find(|base| base.id == id)
    }

    /// The base model a specialist runs on (always present for a specialist
    /// of this catalog).
    #[must_use]
    pub fn base_model_of(&self, specialist: &Specialist) -> Option<&BaseModel> {
        self.base_model(&specialist.base_model)
    }

    /// The specialists of one domain, in file order.
    pub fn specialists_in(&self, domain: Domain) -> impl Iterator<Item = &Specialist> + '_ {
        self.specialists.iter().filter(move |specialist| specialist.domain == domain)
    }

    /// The translator between English and this language (ISO 639-1 code).
    #[must_use]
    pub fn translator_for(&self, language: &str) -> Option<&Specialist> {
        self.specialists.iter().find(|specialist| specialist.translation_language() == Some(language))
    }

    /// The languages the translators cover (besides English), in file order.
    #[must_use]
    pub fn translation_languages(&self) -> Vec<&str> {
        self.specialists.iter().filter_map(Specialist::translation_language).collect()
    }

    /// The base model every device installs, if the catalog marks one.
    #[must_use]
    pub fn embedded_base_model(&self) -> Option<&BaseModel> {
        self.base_models.iter().find(|base| base.embedded)
    }

    /// Whether everything a specialist needs (base model and adapter) has a
    /// known hash; listings mark the others **unverified**.
    #[must_use]
    pub fn is_specialist_verified(&self, specialist: &Specialist) -> bool {
        let base_verified = self.base_model_of(specialist).is_some_and(BaseModel::is_verified);
        let lora_verified = specialist.lora.as_ref().is_none_or(LoraAdapter::is_verified);
        base_verified && lora_verified
    }
}

impl TryFrom<CatalogFile> for Catalog {
    type Error = CatalogError;

    fn try_from(file: CatalogFile) -> Result<Self, Self::Error> {
        validate::validate(&file)?;
        Ok(Catalog { version: file.version, base_models: file.base_models, specialists: file.specialists })
    }
}

#[cfg(test)]
#[allow(clippy::expect_used, clippy::unwrap_used)]
mod tests;
