//! The conductor's settings.

use std::time::Duration;

/// Settings of the conductor.
#[derive(Debug, Clone, PartialEq)]
pub struct ConductorConfig {
    /// Most sub-tasks in a plan.
    pub max_subtasks: usize,
    /// Most specialists offered to the planning model.
    pub max_candidates: usize,
    /// Deadline of one attempt of one sub-task.
    pub subtask_deadline: Duration,
    /// Attempts per sub-task (the first included). Each attempt goes to the
    /// best executor not tried yet, or the same one when it is the only one.
    pub max_attempts: u32,
    /// How long a sub-task that no executor can run waits in the queue for
    /// one to appear (a peer joining); zero fails it at once.
    pub queue_timeout: Duration,
    /// How often a queued sub-task looks for an executor again.
    pub queue_poll: Duration,
    /// Token cap of the plan.
    pub plan_max_tokens: u32,
    /// Temperature of the planning model.
    pub plan_temperature: f32,
    /// Token cap of the synthesis.
    pub synthesis_max_tokens: u32,
    /// Token cap of one sub-task (the specialist's own cap applies if lower).
    pub subtask_max_tokens: u32,
    /// Seed for the conductor's own generations.
    pub seed: u32,
    /// Characters of sub-task results the synthesis prompt carries in all
    /// (each result gets an equal share, cut at a word). Small models have
    /// small contexts: the prompt and the answer must both fit.
    pub synthesis_input_chars: usize,
    /// Names the owner listed (their own, family, clients): replaced by
    /// placeholders, like every other kind of personal data the
    /// recognisers find, in whatever leaves this device.
    pub private_names: Vec<String>,
    /// Keep sub-tasks of sensitive specialists, and texts holding personal
    /// data that could not be redacted, on this device (on this device's
    /// general assistant when no local executor has the specialist).
    pub keep_sensitive_on_device: bool,
    /// Whether the conductor model plans and writes the answer, or the
    /// analysis plans and the answer is composed from the parts.
    pub writing: ConductorWriting,
}

/// What the conductor model is trusted to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ConductorWriting {
    /// A small model (the embedded 135M one): the plan comes from the
    /// analysis, and the answer is the parts' results, cleaned and headed
    /// by what each answers. The model writes nothing it would garble.
    #[default]
    Compose,
    /// A larger model (`--model`, a billion parameters or more): it drafts
    /// the plan (checked and repaired) and writes the answer freely; a part
    /// whose substance the answer lost is added back.
    Free,
}

impl Default for ConductorConfig {
    fn default() -> Self {
        Self {
            max_subtasks: 4,
            max_candidates: 8,
            subtask_deadline: Duration::from_secs(120),
            max_attempts: 2,
            queue_timeout: Duration::ZERO,
            queue_poll: Duration::from_secs(2),
            plan_max_tokens: 640,
            plan_temperature: 0.3,
            synthesis_max_tokens: 320,
            subtask_max_tokens: 256,
            seed: 7,
            synthesis_input_chars: 1400,
            private_names: Vec::new(),
            keep_sensitive_on_device: true,
            writing: ConductorWriting::Compose,
        }
    }
}
