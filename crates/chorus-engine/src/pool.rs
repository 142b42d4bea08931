//! Loaded models under a memory budget.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::error::LoadError;
use crate::options::{ModelInfo, ModelOptions};
use crate::{Engine, Model};

/// Loads models on demand and unloads the least recently used one when a
/// new model would not fit the memory budget.
///
/// Unloading drops the pool's handle; a model still used by a running
/// generation (or another clone of its [`Model`]) is freed when that ends.
#[derive(Debug)]
pub struct ModelPool {
    engine: Engine,
    budget: u64,
    options: ModelOptions,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    entries: Vec<Entry>,
    clock: u64,
}

#[derive(Debug)]
struct Entry {
    path: PathBuf,
    model: Model,
    last_used: u64,
}

/// Memory a model is assumed to need beyond its file before it is loaded
/// (KV cache and compute buffers of a small model).
const LOAD_OVERHEAD: u64 = 96 << 20;

impl ModelPool {
    /// A pool that keeps the estimated memory of its models under `budget` bytes.
    #[must_use]
    pub fn new(engine: Engine, budget: u64, options: ModelOptions) -> Self {
        Self { engine, budget, options, state: Mutex::new(State::default()) }
    }

    /// The model at `path`, loading it (and evicting others) if needed.
    ///
    /// # Errors
    /// [`LoadError::OverBudget`] if the model alone exceeds the budget, or
    /// any error of [`Engine::load`].
    pub fn get(&self, path: &Path) -> Result<Model, LoadError> {
        let mut state = self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        state.clock += 1;
        let now = state.clock;
        if let Some(entry) = state.entries.iter_mut().find(|entry| entry.path == path) {
            entry.last_used = now;
            return Ok(entry.model.clone());
        }
        let file_size = std::fs::metadata(path)
            .map_err(|source| crate::gguf::GgufError::Open { path: path.to_path_buf(), source })?
            .len();
        let needed = file_size + LOAD_OVERHEAD;
        if needed > self.budget {
            return Err(LoadError::OverBudget { path: path.to_path_buf(), needed, budget: self.budget });
        }
        while state.used() + needed > self.budget {
            let Some(oldest) =
                state.entries.iter().enumerate().min_by_key(|(_, entry)| entry.last_used).map(|(index, _)| index)
            else {
                break;
            };
            let evicted = state.entries.remove(oldest);
            tracing::info!(path = %evicted.path.display(), "unloading least recently used model");
        }
        let model = self.engine.load(path, &self.options)?;
        state.entries.push(Entry { path: path.to_path_buf(), model: model.clone(), last_used: now });
        Ok(model)
    }

    /// Unloads the model at `path`; returns whether it was loaded.
    pub fn unload(&self, path: &Path) -> bool {
        let mut state = self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let before = state.entries.len();
        state.entries.retain(|entry| entry.path != path);
        state.entries.len() != before
    }

    /// Facts about the loaded models, most recently used first.
    #[must_use]
    pub fn loaded(&self) -> Vec<ModelInfo> {
        let state = self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut entries: Vec<&Entry> = state.entries.iter().collect();
        entries.sort_by_key(|entry| std::cmp::Reverse(entry.last_used));
        entries.iter().map(|entry| entry.model.info().clone()).collect()
    }

    /// Estimated memory of the loaded models.
    #[must_use]
    pub fn used(&self) -> u64 {
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner).used()
    }

    /// The budget in bytes.
    #[must_use]
    pub fn budget(&self) -> u64 {
        self.budget
    }
}

impl State {
    fn used(&self) -> u64 {
        self.entries.iter().map(|entry| entry.model.info().memory_estimate).sum()
    }
}
