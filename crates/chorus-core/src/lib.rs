//! Chorus's domain logic, free of llama.cpp and libp2p: where models live,
//! which file is the embedded default, and how a model file is verified.
//!
//! ```
//! let embedded = chorus_core::EMBEDDED_MODEL;
//! assert_eq!(embedded.size_bytes, 98_362_432);
//! ```

mod models;

pub use models::{EMBEDDED_MODEL, KnownModel, ModelDirs, VerifyError, sha256_file, verify_file};
