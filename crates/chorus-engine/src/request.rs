//! What a caller asks of a model, and what comes back.

use serde::{Deserialize, Serialize};

/// Who speaks a chat message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Instructions that frame the conversation.
    System,
    /// The person asking.
    User,
    /// The model's earlier replies.
    Assistant,
}

impl Role {
    /// The role name chat templates expect.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::System => "system",
            Self::User => "user",
            Self::Assistant => "assistant",
        }
    }
}

/// One message of a chat.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatMessage {
    /// Who says it.
    pub role: Role,
    /// What is said.
    pub content: String,
}

impl ChatMessage {
    /// A system message.
    pub fn system(content: impl Into<String>) -> Self {
        Self { role: Role::System, content: content.into() }
    }

    /// A user message.
    pub fn user(content: impl Into<String>) -> Self {
        Self { role: Role::User, content: content.into() }
    }

    /// An assistant message.
    pub fn assistant(content: impl Into<String>) -> Self {
        Self { role: Role::Assistant, content: content.into() }
    }
}

/// The input of a generation.
#[derive(Debug, Clone, PartialEq)]
pub enum Prompt {
    /// Messages rendered with the model's own chat template.
    Chat(Vec<ChatMessage>),
    /// Text used as it is (special tokens in it are parsed).
    Text(String),
    /// Token ids, for benchmarks and tests that need an exact length.
    Tokens(Vec<i32>),
}

/// How the next token is chosen. The defaults suit a chat answer; use
/// [`SamplingParams::greedy`] for reproducible output.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SamplingParams {
    /// Softmax temperature; `0` (or below) means greedy decoding.
    pub temperature: f32,
    /// Keep only the `top_k` most likely tokens (`0` = off).
    pub top_k: i32,
    /// Nucleus sampling: keep the smallest set with this probability mass (`1` = off).
    pub top_p: f32,
    /// Drop tokens less likely than `min_p` times the most likely one (`0` = off).
    pub min_p: f32,
    /// Penalty for tokens seen in the last 64 tokens (`1` = off).
    pub repeat_penalty: f32,
    /// Random seed of the sampler.
    pub seed: u32,
    /// Most tokens to generate.
    pub max_tokens: u32,
    /// Generation ends before the first of these strings; it is not returned.
    pub stop: Vec<String>,
}

impl Default for SamplingParams {
    fn default() -> Self {
        Self {
            temperature: 0.7,
            top_k: 40,
            top_p: 0.95,
            min_p: 0.05,
            repeat_penalty: 1.1,
            seed: 0x00C0_FFEE,
            max_tokens: 512,
            stop: Vec::new(),
        }
    }
}

impl SamplingParams {
    /// Greedy decoding: the most likely token every step. Reproducible, used by tests.
    #[must_use]
    pub fn greedy() -> Self {
        Self { temperature: 0.0, top_k: 0, top_p: 1.0, min_p: 0.0, repeat_penalty: 1.0, ..Self::default() }
    }

    /// Checks that the values make sense.
    ///
    /// # Errors
    /// A message naming the first bad value.
    pub fn validate(&self) -> Result<(), String> {
        if !self.temperature.is_finite() || self.temperature > 10.0 {
            return Err(format!("temperature {} is not in 0..=10", self.temperature));
        }
        if self.top_k < 0 {
            return Err(format!("top_k {} is negative", self.top_k));
        }
        if !(self.top_p > 0.0 && self.top_p <= 1.0) {
            return Err(format!("top_p {} is not in (0, 1]", self.top_p));
        }
        if !(0.0..=1.0).contains(&self.min_p) {
            return Err(format!("min_p {} is not in [0, 1]", self.min_p));
        }
        if !(self.repeat_penalty > 0.0 && self.repeat_penalty <= 10.0) {
            return Err(format!("repeat_penalty {} is not in (0, 10]", self.repeat_penalty));
        }
        if self.max_tokens == 0 {
            return Err("max_tokens must be at least 1".to_owned());
        }
        Ok(())
    }
}

/// A constraint on the shape of the output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Constraint {
    /// A GBNF grammar whose start rule is `root`.
    Grammar(String),
    /// A JSON Schema; the output is JSON valid under it.
    JsonSchema(String),
}

/// One generation request.
#[derive(Debug, Clone)]
pub struct GenerateRequest {
    /// The input.
    pub prompt: Prompt,
    /// Sampling parameters.
    pub sampling: SamplingParams,
    /// Optional output constraint.
    pub constraint: Option<Constraint>,
    /// Keep generating past end-of-generation tokens (benchmarks only).
    pub ignore_eos: bool,
}

impl GenerateRequest {
    /// A chat request with default sampling.
    #[must_use]
    pub fn chat(messages: Vec<ChatMessage>) -> Self {
        Self {
            prompt: Prompt::Chat(messages),
            sampling: SamplingParams::default(),
            constraint: None,
            ignore_eos: false,
        }
    }

    /// Replaces the sampling parameters.
    #[must_use]
    pub fn with_sampling(mut self, sampling: SamplingParams) -> Self {
        self.sampling = sampling;
        self
    }

    /// Sets the token limit.
    #[must_use]
    pub fn with_max_tokens(mut self, max_tokens: u32) -> Self {
        self.sampling.max_tokens = max_tokens;
        self
    }

    /// Constrains the output.
    #[must_use]
    pub fn with_constraint(mut self, constraint: Constraint) -> Self {
        self.constraint = Some(constraint);
        self
    }
}

/// Why a generation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FinishReason {
    /// The model produced an end-of-generation token.
    EndOfText,
    /// A stop string was reached.
    StopString,
    /// `max_tokens` were generated.
    MaxTokens,
    /// The context window is full.
    ContextFull,
}

/// The result of a finished generation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Completion {
    /// The whole generated text (stop strings excluded).
    pub text: String,
    /// Why it ended.
    pub finish_reason: FinishReason,
    /// Tokens in the prompt.
    pub prompt_tokens: u32,
    /// Tokens generated.
    pub completion_tokens: u32,
    /// Milliseconds from submission to the first generated token.
    pub time_to_first_token_ms: f64,
    /// Milliseconds spent on the prompt (from admission to its last token decoded).
    pub prompt_ms: f64,
    /// Milliseconds from the first to the last generated token.
    pub generation_ms: f64,
}

impl Completion {
    /// Prompt tokens per second.
    #[must_use]
    pub fn prompt_tokens_per_s(&self) -> f64 {
        rate(self.prompt_tokens, self.prompt_ms)
    }

    /// Generated tokens per second (the first token is counted with the prompt).
    #[must_use]
    pub fn generation_tokens_per_s(&self) -> f64 {
        rate(self.completion_tokens.saturating_sub(1), self.generation_ms)
    }
}

fn rate(tokens: u32, ms: f64) -> f64 {
    if ms > 0.0 { f64::from(tokens) * 1000.0 / ms } else { 0.0 }
}
