//! Chorus's domain logic, free of llama.cpp and libp2p: the specialist
//! catalog and profile matching, query routing, model files and downloads,
//! and the journal. The conductor sees executors and text generators through
//! its own traits, so its decisions are testable on their own.
//!
//! ```
//! let embedded = chorus_core::EMBEDDED_MODEL;
//! assert_eq!(embedded.size_bytes, 98_362_432);
//! ```

mod catalog;
mod conductor;
mod download;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
mod journal;
mod models;
mod placement;
mod plan;
mod privacy;
mod recognise;
mod routing;
mod text;

pub use catalog::{
    BaseModel, CATALOG_VERSION, Catalog, CatalogError, Domain, FALLBACK_SPECIALIST, LoraAdapter, ModelSource,
    ParseDomainError, Profile, PypiChunk, RecommendError, Recommendation, Specialist, SpecialistSampling,
    UNVERIFIED_SIZE_MARGIN_PERCENT, recommend,
};
pub use conductor::{
    Conductor, ConductorConfig, ConductorError, ConductorEvent, ConductorWriting, Executor, ExecutorDirectory,
    ExecutorError, ExecutorErrorKind, GenerationChunk, GenerationSpec, GenerationStream, MAX_CARRIED_CHARS,
    MIN_PART_COVERAGE, PartCoverage, SentText, StaticExecutors, SubtaskReport, TextGenerator, Timings, Turn,
    clean_part, compose, coverage, follow_up_cue,
};
pub use download::{
    DownloadError, DownloadOptions, DownloadOutcome, DownloadProgress, DownloadRequest, Downloader, MAX_REDIRECTS,
    PARTIAL_SUFFIX, VALIDATOR_SUFFIX,
};
pub use journal::{
    ConversationSummary, DEMOTION_BASE_MS, DEMOTION_MAX_MS, FileStamp, InstalledKind, InstalledModel, JournalEvent,
    LedgerEntry, MIN_MEASURED_TOKENS, ParseQueryIdError, PeerRecord, QueryId, QueryOutcome, QueryRecord, QueryStatus,
    QuerySummary, QueuedSubtask, Store, StoreError, SubtaskRecord, TaskOutcome, now_ms,
};
pub use models::{EMBEDDED_MODEL, KnownModel, ModelDirs, VerifyError, available_space, sha256_file, verify_file};
pub use placement::{
    Admission, AdmissionQueue, Admitted, Candidate, HostConditions, LimitsChange, Measured, Placement, PlacementPolicy,
    Refusal, ServeLimits, address_group, diverse_probe_targets, pick_probe_targets, rank_executors, serving_rank,
    standing,
};
pub use plan::{
    NextActions, Plan, PlanRules, PlanSource, PlanStep, PlannedSubtask, RawPlan, SubtaskStatus, UnplannedPart,
    fallback_plan, next_actions, plan_schema, repair_plan,
};
pub use privacy::{RedactedItem, Redaction, Redactor, Restorer, context_share, residual_personal_data, word_count};
pub use recognise::{Finding, PiiKind, Recogniser};
pub use routing::{
    AllSpecialists, Analysis, Clause, QueryKind, Reachable, Router, SemanticIndex, SemanticSlot, SpecialistScore,
    TextEmbedder, analyse, rank_specialists, specialist_texts,
};
