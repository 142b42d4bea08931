//! The engine (one per process) and loaded models.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{SyncSender, TrySendError};
use std::time::Instant;

use llama_cpp_2::llama_backend::LlamaBackend;
use llama_cpp_2::model::params::LlamaModelParams;
use llama_cpp_2::model::{LlamaChatMessage, LlamaChatTemplate, LlamaModel};
use llama_cpp_2::sampling::LlamaSampler;
use llama_cpp_2::token::LlamaToken;

use crate::backend;
use crate::error::{EngineError, GenerateError, LoadError};
use crate::gguf;
use crate::options::{EngineOptions, MIN_CONTEXT, MIN_SEQUENCE_CONTEXT, ModelInfo, ModelOptions};
use crate::request::{ChatMessage, Constraint, GenerateRequest, Prompt};
use crate::stream::Generation;
use crate::worker::{self, DecodeOnly, Job, Samplers, Work, WorkerConfig};

/// The inference engine: llama.cpp's backend, initialised once per process.
/// Cheap to clone.
#[derive(Debug, Clone)]
pub struct Engine {
    backend: &'static LlamaBackend,
    threads: usize,
}

impl Engine {
    /// Starts the engine.
    ///
    /// # Errors
    /// [`EngineError::Backend`] if llama.cpp cannot initialise.
    pub fn new(options: EngineOptions) -> Result<Self, EngineError> {
        let backend = backend::init()?;
        let threads = options.threads.unwrap_or_else(num_cpus::get_physical).max(1);
        Ok(Self { backend, threads })
    }

    /// Threads each model uses.
    #[must_use]
    pub fn threads(&self) -> usize {
        self.threads
    }

    /// Loads a GGUF model (memory-mapped) and starts its inference thread.
    ///
    /// The file's header is checked first, so a missing, truncated, random
    /// or malformed file is a typed error; llama.cpp never sees it.
    ///
    /// # Errors
    /// A [`LoadError`] saying what is wrong; the process keeps running.
    pub fn load(&self, path: &Path, options: &ModelOptions) -> Result<Model, LoadError> {
        options.validate()?;
        let started = Instant::now();
        let header = gguf::inspect(path)?;
        let params = LlamaModelParams::default().with_use_mmap(true);
        let llama = LlamaModel::load_from_file(self.backend, path, &params).map_err(|error| {
            tracing::debug!(%error, path = %path.display(), "llama.cpp refused the model");
            LoadError::Rejected { path: path.to_path_buf(), architecture: header.architecture.clone() }
        })?;
        let llama = Arc::new(llama);
        let n_ctx_train = llama.n_ctx_train().max(1);
        let n_ctx = options.context.min(n_ctx_train.saturating_mul(options.parallel)).max(MIN_CONTEXT);
        let per_sequence = n_ctx / options.parallel;
        if per_sequence < MIN_SEQUENCE_CONTEXT {
            return Err(LoadError::InvalidOptions(format!(
                "a context of {n_ctx} split over {} parallel sequences leaves {per_sequence} tokens each; at least {MIN_SEQUENCE_CONTEXT} are needed",
                options.parallel
            )));
        }
        let template = match llama.chat_template(None) {
            Ok(template) => Some(template),
            Err(_) => {
                tracing::warn!(path = %path.display(), "model has no chat template; using ChatML");
                None
            }
        };
        let info = ModelInfo {
            path: path.to_path_buf(),
            name: header.name.clone(),
            architecture: header.architecture.clone(),
            file_size: header.file_size,
            parameters: llama.n_params(),
            context_trained: n_ctx_train,
            context: per_sequence,
            context_total: n_ctx,
            parallel: options.parallel,
            threads: self.threads,
            memory_estimate: memory_estimate(&llama, header.file_size, n_ctx),
            has_chat_template: template.is_some(),
        };
        let config = WorkerConfig {
            n_ctx,
            n_seq: options.parallel,
            n_batch: options.batch,
            threads: i32::try_from(self.threads).unwrap_or(1),
        };
        let name = path.file_stem().map_or_else(|| "model".to_owned(), |stem| stem.to_string_lossy().into_owned());
        let tokens_generated = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (jobs, worker) = worker::spawn(
            self.backend,
            Arc::clone(&llama),
            config,
            name,
            Arc::clone(&tokens_generated),
            Arc::clone(&stop),
        )
        .map_err(|reason| LoadError::Context { path: path.to_path_buf(), reason })?;
        let load_ms = started.elapsed().as_secs_f64() * 1000.0;
        tracing::info!(path = %path.display(), load_ms, "model loaded");
        Ok(Model {
            inner: Arc::new(Inner {
                llama,
                template,
                jobs: Some(jobs),
                worker: Some(worker),
                stop,
                info,
                load_ms,
                tokens_generated,
            }),
        })
    }
}

/// Estimated memory of a model: weights, f16 KV cache, compute buffers.
fn memory_estimate(llama: &LlamaModel, file_size: u64, n_ctx: u32) -> u64 {
    let layers = u64::from(llama.n_layer());
    let heads = u64::from(llama.n_head().max(1));
    let kv_heads = u64::from(llama.n_head_kv());
    let embedding = u64::try_from(llama.n_embd()).unwrap_or(0);
    let kv_width = embedding / heads * kv_heads;
    let kv_cache = u64::from(n_ctx) * layers * kv_width * 2 * 2;
    let compute = 32 << 20;
    file_size + kv_cache + compute
}

struct Inner {
    llama: Arc<LlamaModel>,
    template: Option<LlamaChatTemplate>,
    jobs: Option<SyncSender<Work>>,
    worker: Option<std::thread::JoinHandle<()>>,
    stop: Arc<AtomicBool>,
    info: ModelInfo,
    load_ms: f64,
    tokens_generated: Arc<AtomicU64>,
}

impl Drop for Inner {
    /// Unloading stops the inference thread and waits for it: running
    /// generations end with [`GenerateError::WorkerGone`], and no decode
    /// outlives the model or races the process's exit.
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        drop(self.jobs.take());
        if let Some(worker) = self.worker.take()
            && worker.join().is_err()
        {
            tracing::warn!(path = %self.info.path.display(), "the inference thread panicked");
        }
    }
}

/// A loaded model with its own inference thread. Cheap to clone; dropping the
/// last clone unloads it: the thread ends its running generations
/// ([`GenerateError::WorkerGone`]) and stops, and the drop waits for it.
#[derive(Clone)]
pub struct Model {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Model {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Model").field("info", &self.inner.info).finish_non_exhaustive()
    }
}

impl Model {
    /// Facts about the model.
    #[must_use]
    pub fn info(&self) -> &ModelInfo {
        &self.inner.info
    }

    /// Milliseconds the load took (header check, mmap, context creation).
    #[must_use]
    pub fn load_ms(&self) -> f64 {
        self.inner.load_ms
    }

    /// Tokens this model has generated since it was loaded, over all
    /// generations (cancelled ones included).
    #[must_use]
    pub fn tokens_generated(&self) -> u64 {
        self.inner.tokens_generated.load(Ordering::Relaxed)
    }

    /// Renders a chat with the model's own template (ChatML when it has none),
    /// ending with the opening of the assistant's turn.
    ///
    /// # Errors
    /// [`GenerateError::Template`] if the template cannot render the chat.
    pub fn render_chat(&self, messages: &[ChatMessage]) -> Result<String, GenerateError> {
        let chat = messages
            .iter()
            .map(|message| LlamaChatMessage::new(message.role.as_str().to_owned(), message.content.clone()))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|error| GenerateError::Template(error.to_string()))?;
        let chatml;
        let template = match &self.inner.template {
            Some(template) => template,
            None => {
                chatml =
                    LlamaChatTemplate::new("chatml").map_err(|error| GenerateError::Template(error.to_string()))?;
                &chatml
            }
        };
        self.inner
            .llama
            .apply_chat_template(template, &chat, true)
            .map_err(|error| GenerateError::Template(error.to_string()))
    }

    /// Tokenizes text as a prompt (special tokens in it are parsed).
    #[must_use]
    pub fn tokenize(&self, text: &str) -> Vec<i32> {
        self.tokens_of_text(text).into_iter().map(|token| token.0).collect()
    }

    fn tokens_of_text(&self, text: &str) -> Vec<LlamaToken> {
        let vocab = self.inner.llama.vocab();
        // Templates of some models already begin with BOS; add it only once.
        let bos = vocab.token_to_piece(vocab.bos(), true, None);
        let add_special = bos.is_empty() || !text.as_bytes().starts_with(&bos);
        vocab.tokenize(text.as_bytes(), add_special, true)
    }

    fn prompt_tokens(&self, prompt: &Prompt) -> Result<Vec<LlamaToken>, GenerateError> {
        match prompt {
            Prompt::Chat(messages) => {
                if messages.iter().all(|message| message.content.trim().is_empty()) {
                    return Err(GenerateError::EmptyPrompt);
                }
                Ok(self.tokens_of_text(&self.render_chat(messages)?))
            }
            Prompt::Text(text) => {
                if text.trim().is_empty() {
                    return Err(GenerateError::EmptyPrompt);
                }
                Ok(self.tokens_of_text(text))
            }
            Prompt::Tokens(tokens) => {
                let n_vocab = self.inner.llama.n_vocab();
                if let Some(bad) = tokens.iter().find(|token| !(0..n_vocab).contains(*token)) {
                    return Err(GenerateError::InvalidSampling(format!(
                        "token id {bad} is outside the vocabulary (0..{n_vocab})"
                    )));
                }
                Ok(tokens.iter().map(|token| LlamaToken(*token)).collect())
            }
        }
    }

    /// Starts a generation. Tokens arrive on the returned [`Generation`];
    /// dropping it cancels the generation.
    ///
    /// A prompt that leaves no room in the context is refused
    /// ([`GenerateError::PromptTooLong`]); `max_tokens` beyond the room left
    /// is lowered, and such a generation ends with
    /// [`crate::FinishReason::ContextFull`].
    ///
    /// # Errors
    /// A [`GenerateError`] when the request is refused before it starts.
    pub fn generate(&self, request: GenerateRequest) -> Result<Generation, GenerateError> {
        let mut generations = self.generate_many(vec![request])?;
        generations.pop().ok_or(GenerateError::WorkerGone)
    }

    /// Starts several generations that join the inference thread's batch at
    /// the same step, so they are decoded together from their first token.
    /// Either all start or none does.
    ///
    /// # Errors
    /// The first [`GenerateError`] of any request.
    pub fn generate_many(&self, requests: Vec<GenerateRequest>) -> Result<Vec<Generation>, GenerateError> {
        let mut jobs = Vec::with_capacity(requests.len());
        let mut generations = Vec::with_capacity(requests.len());
        for request in requests {
            let (job, generation) = self.job(&request)?;
            jobs.push(job);
            generations.push(generation);
        }
        let Some(sender) = self.inner.jobs.as_ref() else {
            return Err(GenerateError::WorkerGone);
        };
        match sender.try_send(Work::Generate(jobs)) {
            Ok(()) => Ok(generations),
            Err(TrySendError::Full(_)) => Err(GenerateError::Busy(worker::QUEUE_CAPACITY)),
            Err(TrySendError::Disconnected(_)) => Err(GenerateError::WorkerGone),
        }
    }

    /// llama.cpp's own generation loop on this model's context and
    /// inference thread, as `llama-bench` times it: `tokens` tokens decoded
    /// one at a time from an empty context, nothing sampled, detokenised or
    /// sent; tokens a second. `chorus bench` times it next to
    /// [`Model::generate`] to tell what the engine adds per token from what
    /// the llama.cpp build costs. Runs once no generation is running
    /// (blocks until then).
    ///
    /// # Errors
    /// [`GenerateError::Busy`] when the queue is full,
    /// [`GenerateError::Decode`] when a decode fails,
    /// [`GenerateError::WorkerGone`] when the model is unloaded.
    pub fn decode_only_tokens_per_s(&self, tokens: u32) -> Result<f64, GenerateError> {
        let Some(sender) = self.inner.jobs.as_ref() else {
            return Err(GenerateError::WorkerGone);
        };
        let (reply, answer) = std::sync::mpsc::sync_channel(1);
        match sender.try_send(Work::DecodeOnly(DecodeOnly { tokens, reply })) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => return Err(GenerateError::Busy(worker::QUEUE_CAPACITY)),
            Err(TrySendError::Disconnected(_)) => return Err(GenerateError::WorkerGone),
        }
        let took = answer.recv().map_err(|_| GenerateError::WorkerGone)?.map_err(GenerateError::Decode)?;
        Ok(f64::from(tokens) / took.as_secs_f64().max(f64::MIN_POSITIVE))
    }

    fn job(&self, request: &GenerateRequest) -> Result<(Job, Generation), GenerateError> {
        request.sampling.validate().map_err(GenerateError::InvalidSampling)?;
        let tokens = self.prompt_tokens(&request.prompt)?;
        if tokens.is_empty() {
            return Err(GenerateError::EmptyPrompt);
        }
        let context = usize::try_from(self.inner.info.context).unwrap_or(usize::MAX);
        let limit = context.saturating_sub(1);
        if tokens.len() > limit {
            return Err(GenerateError::PromptTooLong { tokens: tokens.len(), limit });
        }
        let room = u32::try_from(context - tokens.len()).unwrap_or(u32::MAX);
        let max_tokens = request.sampling.max_tokens.min(room);
        let grammar = match &request.constraint {
            None => None,
            Some(constraint) => Some(self.grammar_sampler(constraint)?),
        };
        let samplers = Samplers::new(&self.inner.llama, &request.sampling, grammar);
        let capacity = usize::try_from(max_tokens).unwrap_or(usize::MAX).saturating_add(4);
        let (events, receiver) = tokio::sync::mpsc::channel(capacity);
        let job = Job {
            tokens,
            max_tokens,
            stop: request.sampling.stop.clone(),
            ignore_eos: request.ignore_eos,
            clamped: max_tokens < request.sampling.max_tokens,
            samplers,
            events,
            submitted: Instant::now(),
        };
        Ok((job, Generation::new(receiver)))
    }

    fn grammar_sampler(&self, constraint: &Constraint) -> Result<LlamaSampler, GenerateError> {
        let grammar = match constraint {
            Constraint::Grammar(grammar) => grammar.clone(),
            Constraint::JsonSchema(schema) => json_schema_to_grammar(schema)?,
        };
        LlamaSampler::grammar(&self.inner.llama, &grammar, "root")
            .map_err(|error| GenerateError::InvalidConstraint(error.to_string()))
    }
}

/// Compiles a JSON Schema into a GBNF grammar (llama.cpp's converter).
///
/// # Errors
/// [`GenerateError::InvalidConstraint`] for a schema that is not valid JSON
/// or that the converter cannot handle.
pub fn json_schema_to_grammar(schema: &str) -> Result<String, GenerateError> {
    serde_json::from_str::<serde_json::Value>(schema)
        .map_err(|error| GenerateError::InvalidConstraint(format!("the schema is not JSON: {error}")))?;
    llama_cpp_2::json_schema_to_grammar(schema).map_err(|error| GenerateError::InvalidConstraint(error.to_string()))
}
