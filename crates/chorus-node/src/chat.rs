//! Chatting with one specialist on this device, without the conductor:
//! its base model, its sampling, a whole conversation through the model's
//! chat template. `chorus api` serves it as each specialist's model id.

use chorus_core::{GenerationSpec, Specialist};
use chorus_engine::{GenerateError, GenerateRequest, Generation, LoadError, SamplingParams};

use crate::local::LocalModelError;
use crate::node::Node;

/// Why [`Node::chat_with_specialist`] did not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ChatError {
    /// The specialist is not in the catalog, or does not run on this
    /// device (its base model is not installed, or it is left to peers).
    #[error("the specialist {0} does not run on this device")]
    NotServed(String),
    /// Its model file is no longer the one installed.
    #[error("the model of {specialist} is refused: {reason}")]
    Refused {
        /// The specialist.
        specialist: String,
        /// Why.
        reason: String,
    },
    /// llama.cpp could not load its model.
    #[error(transparent)]
    Load(#[from] LoadError),
    /// The engine refused the request (empty or over-long, bad sampling,
    /// a schema it cannot compile, a full queue).
    #[error(transparent)]
    Generate(#[from] GenerateError),
}

impl Node {
    /// The catalog's specialists that run on this device: their base model
    /// is installed here (and may be loaded) and, with
    /// [`crate::NodeConfig::local_specialists`], they are in that list.
    #[must_use]
    pub fn local_specialists(&self) -> Vec<&Specialist> {
        let local = self.local_models();
        self.catalog().specialists().iter().filter(|specialist| local.serves_here(&specialist.id)).collect()
    }

    /// A specialist's own settings as engine sampling (what the conductor
    /// gives it), or `None` when the catalog does not have it.
    #[must_use]
    pub fn specialist_sampling(&self, specialist_id: &str) -> Option<SamplingParams> {
        let specialist = self.catalog().specialist(specialist_id)?;
        let spec = GenerationSpec {
            system: String::new(),
            prompt: String::new(),
            sampling: specialist.sampling,
            seed: SamplingParams::default().seed,
            json_schema: None,
        };
        Some(crate::local::engine_request(spec).sampling)
    }

    /// Runs `request` (typically a whole conversation, the specialist's
    /// system prompt first) on the base model of `specialist_id` on this
    /// device. Tokens stream on the returned generation; dropping it
    /// cancels the generation. Must not be called inside async code if the
    /// model still has to load (loading blocks).
    ///
    /// # Errors
    /// [`ChatError`].
    pub fn chat_with_specialist(&self, specialist_id: &str, request: GenerateRequest) -> Result<Generation, ChatError> {
        let model = self.local_models().model_of(specialist_id).map_err(|error| match error {
            LocalModelError::NotServed => ChatError::NotServed(specialist_id.to_owned()),
            LocalModelError::Refused(reason) => ChatError::Refused { specialist: specialist_id.to_owned(), reason },
            LocalModelError::Load(error) => ChatError::Load(error),
        })?;
        Ok(model.generate(request)?)
    }
}
