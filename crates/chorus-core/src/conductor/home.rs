//! Sensitive parts stay home: which sub-tasks must not leave this device
//! while the owner keeps sensitive parts here, and what runs them here when
//! no local executor has their specialist.

use std::sync::Arc;

use crate::catalog::{FALLBACK_SPECIALIST, Specialist};
use crate::privacy::residual_personal_data;

use super::Conductor;
use super::executor::{Executor, ExecutorError, GenerationSpec, GenerationStream, TextGenerator};

/// Executors on this device for a part that stays, and the specialist id
/// they run it as.
pub(super) struct Home {
    pub(super) executors: Vec<Arc<dyn Executor>>,
    pub(super) run_as: String,
}

impl Conductor {
    /// Why a sub-task of `specialist` with this `prompt` must stay on this
    /// device, if it must: its specialist is sensitive, or its text holds
    /// personal data the recognisers could not redact.
    pub(super) fn keep_home_reason(&self, specialist: &Specialist, prompt: &str) -> Option<String> {
        if !self.config.keep_sensitive_on_device {
            return None;
        }
        if specialist.sensitive {
            return Some(format!("{} is a sensitive specialist", specialist.name));
        }
        residual_personal_data(prompt).map(|what| format!("the part holds {what}, which could not be redacted"))
    }

    /// Who runs a part that stays home, when no executor of its own
    /// specialist is on this device: a local executor of the general
    /// assistant (with the specialist's system prompt), else the conductor
    /// model itself, which is always here.
    pub(super) async fn home(&self, exclude: &[String]) -> Home {
        let general: Vec<Arc<dyn Executor>> = self
            .directory
            .executors_for(FALLBACK_SPECIALIST, exclude)
            .await
            .into_iter()
            .filter(|executor| !executor.leaves_device())
            .collect();
        if general.is_empty() {
            let model: Arc<dyn Executor> = Arc::new(ConductorModel(Arc::clone(&self.model)));
            return Home { executors: vec![model], run_as: FALLBACK_SPECIALIST.to_owned() };
        }
        Home { executors: general, run_as: FALLBACK_SPECIALIST.to_owned() }
    }
}

/// The conductor model as the executor of last resort for a part that must
/// stay on this device.
struct ConductorModel(Arc<dyn TextGenerator>);

impl Executor for ConductorModel {
    fn id(&self) -> String {
        "local".to_owned()
    }

    fn serves(&self, _specialist_id: &str) -> bool {
        true
    }

    fn leaves_device(&self) -> bool {
        false
    }

    fn run(&self, _specialist_id: &str, spec: GenerationSpec) -> Result<GenerationStream, ExecutorError> {
        self.0.generate(spec)
    }
}
