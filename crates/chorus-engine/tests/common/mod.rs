//! Shared set-up of the engine tests: the real embedded model.
#![allow(dead_code, unreachable_pub)]

pub mod header;

use std::path::PathBuf;

use chorus_engine::{Engine, EngineOptions, Model, ModelOptions};

/// The embedded default model, fetched by `scripts/setup.sh`.
pub fn model_path() -> PathBuf {
    if let Some(path) = std::env::var_os("CHORUS_MODEL") {
        return PathBuf::from(path);
    }
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../models/SmolLM2-135M-Instruct.Q4_1.gguf");
    assert!(path.exists(), "the embedded model is missing at {}: run scripts/setup.sh first", path.display());
    path
}

/// One thread per model: tests run side by side on a 2-core machine, and
/// llama.cpp collapses when it asks for more threads than are free.
pub fn engine() -> Engine {
    Engine::new(EngineOptions { threads: Some(1) }).expect("engine starts")
}

pub fn load(options: &ModelOptions) -> Model {
    engine().load(&model_path(), options).expect("the embedded model loads")
}
