//! The inference thread of one loaded model.
//!
//! llama.cpp's context is not `Send`: it is created, used and dropped on this
//! thread, and no llama type crosses into async code. The thread runs
//! *continuous batching*: every running request (a "slot", one llama.cpp
//! sequence) contributes its next token — or a chunk of its prompt — to one
//! batch, the batch is decoded once, and each slot samples from its own
//! logits. Requests join and leave between steps, so k concurrent requests on
//! one model cost far less than k runs one after another.
//!
//! A request is cancelled when its event receiver is dropped: the slot is
//! removed before the next step, so at most one more token is computed.

use std::collections::VecDeque;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TryRecvError};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use llama_cpp_2::context::LlamaContext;
use llama_cpp_2::context::params::LlamaContextParams;
use llama_cpp_2::llama_backend::LlamaBackend;
use llama_cpp_2::llama_batch::LlamaBatch;
use llama_cpp_2::model::LlamaModel;
use llama_cpp_2::token::LlamaToken;
use tokio::sync::mpsc::Sender;
use tokio::sync::mpsc::error::TrySendError;

use crate::error::GenerateError;
use crate::request::{Completion, FinishReason};
use crate::stream::GenerationEvent;
use crate::text::{StopMatcher, StopScan, Utf8Decoder};

mod bare;
mod sampling;

pub(crate) use bare::DecodeOnly;
pub(crate) use sampling::Samplers;

/// Creating two contexts from one model at the same moment is unsound in
/// llama.cpp (it mutates the model); all context creation goes through here.
static CONTEXT_CREATION: Mutex<()> = Mutex::new(());

/// How the inference thread is set up.
#[derive(Debug, Clone, Copy)]
pub(crate) struct WorkerConfig {
    /// KV cache cells, split evenly between the sequences (a unified cache
    /// makes every sequence attend over all cells: batching then gains
    /// nothing on CPU, measured with llama-batched-bench).
    pub(crate) n_ctx: u32,
    /// Most sequences decoded together.
    pub(crate) n_seq: u32,
    /// Most tokens in one decode call.
    pub(crate) n_batch: u32,
    /// CPU threads for llama.cpp.
    pub(crate) threads: i32,
}

/// What the inference thread is asked to do.
pub(crate) enum Work {
    /// Requests that join the batch at the same step.
    Generate(Vec<Job>),
    /// llama-bench's generation loop on this context (`worker/bare.rs`),
    /// run once no request is running.
    DecodeOnly(DecodeOnly),
}

/// A request on its way to the inference thread.
pub(crate) struct Job {
    pub(crate) tokens: Vec<LlamaToken>,
    pub(crate) max_tokens: u32,
    pub(crate) stop: Vec<String>,
    pub(crate) ignore_eos: bool,
    /// `max_tokens` was lowered to fit the context window.
    pub(crate) clamped: bool,
    pub(crate) samplers: Samplers,
    /// Where the events go, in batches (see [`Slot::emit`]).
    pub(crate) events: Sender<Vec<GenerationEvent>>,
    pub(crate) submitted: Instant,
}

impl Job {
    /// KV cells this request may use at most.
    fn reservation(&self) -> u32 {
        u32::try_from(self.tokens.len()).unwrap_or(u32::MAX).saturating_add(self.max_tokens)
    }
}

/// A running request.
struct Slot {
    job: Job,
    seq: i32,
    /// Prompt tokens already decoded.
    prompt_done: usize,
    /// Next position in the sequence.
    position: i32,
    /// Token sampled last, to be decoded next.
    pending: Option<LlamaToken>,
    /// Batch index of this slot's logits in the current step.
    logits_at: Option<i32>,
    generated: u32,
    text: String,
    /// Events held back (see [`Slot::emit`]).
    unsent: Vec<GenerationEvent>,
    /// When events were last handed over.
    sent_at: Option<Instant>,
    decoder: Utf8Decoder,
    stops: StopMatcher,
    admitted: Instant,
    first_token: Option<Instant>,
    prompt_finished: Option<Instant>,
    cancelled: bool,
}

impl Slot {
    fn new(job: Job, seq: i32) -> Self {
        let stops = StopMatcher::new(&job.stop);
        Self {
            job,
            seq,
            prompt_done: 0,
            position: 0,
            pending: None,
            logits_at: None,
            generated: 0,
            text: String::new(),
            unsent: Vec::new(),
            sent_at: None,
            decoder: Utf8Decoder::default(),
            stops,
            admitted: Instant::now(),
            first_token: None,
            prompt_finished: None,
            cancelled: false,
        }
    }

    /// Sends `event` now, after the events held back: the last one.
    fn send(&mut self, event: GenerationEvent) {
        self.unsent.push(event);
        self.flush(Instant::now());
    }

    /// Hands the events held back to the reader, in one batch.
    fn flush(&mut self, now: Instant) {
        if self.unsent.is_empty() {
            return;
        }
        match self.job.events.try_send(std::mem::take(&mut self.unsent)) {
            Ok(()) => {}
            Err(TrySendError::Closed(_)) => self.cancelled = true,
            // The channel holds max_tokens + 4 batches, more than one request
            // can produce; a full channel means a consumer that never reads.
            Err(TrySendError::Full(_)) => self.cancelled = true,
        }
        self.sent_at = Some(now);
    }

    /// Shows `text` as one token event. The first goes to the reader at
    /// once; later ones wait until [`SEND_EVERY`] has passed since the last
    /// hand-over (checked here and before each decode): each hand-over wakes
    /// the reader's thread, which on a machine whose cores all run
    /// llama.cpp's threads costs one of them a context switch — 3 % of
    /// generation speed at 240 tokens a second, measured against llama.cpp's
    /// bare loop (`chorus bench`). A slow model hands over every token as it
    /// comes.
    fn emit(&mut self, text: &str) {
        if text.is_empty() {
            return;
        }
        self.text.push_str(text);
        self.unsent.push(GenerationEvent::Token(text.to_owned()));
        let now = Instant::now();
        if self.sent_at.is_none_or(|sent| now.duration_since(sent) >= SEND_EVERY) {
            self.flush(now);
        }
    }

    /// Sends the completion. Returns nothing: the slot is done.
    fn finish(mut self, reason: FinishReason) {
        if reason != FinishReason::StopString {
            let rest = self.decoder.finish();
            let rest = match self.stops.push(&rest) {
                StopScan::Continue(text) | StopScan::Stop(text) => text,
            };
            let tail = rest + &self.stops.finish();
            self.emit(&tail);
        }
        let now = Instant::now();
        let ms = |from: Instant, to: Instant| to.duration_since(from).as_secs_f64() * 1000.0;
        let first = self.first_token.unwrap_or(now);
        let completion = Completion {
            text: std::mem::take(&mut self.text),
            finish_reason: reason,
            prompt_tokens: u32::try_from(self.job.tokens.len()).unwrap_or(u32::MAX),
            completion_tokens: self.generated,
            time_to_first_token_ms: ms(self.job.submitted, first),
            prompt_ms: ms(self.admitted, self.prompt_finished.unwrap_or(now)),
            generation_ms: ms(first, now),
        };
        self.send(GenerationEvent::Done(completion));
    }
}

/// Starts the inference thread of `model`. Returns once its context exists,
/// so a context failure is reported to the caller, not lost on the thread.
pub(crate) fn spawn(
    backend: &'static LlamaBackend,
    model: Arc<LlamaModel>,
    config: WorkerConfig,
    name: String,
    counter: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
) -> Result<(SyncSender<Work>, std::thread::JoinHandle<()>), String> {
    let (jobs_tx, jobs_rx) = std::sync::mpsc::sync_channel::<Work>(QUEUE_CAPACITY);
    let (ready_tx, ready_rx) = std::sync::mpsc::sync_channel::<Result<(), String>>(1);
    let handle = std::thread::Builder::new()
        .name(format!("chorus-infer-{name}"))
        .spawn(move || {
            let params = LlamaContextParams::default()
                .with_n_ctx(NonZeroU32::new(config.n_ctx))
                .with_n_batch(config.n_batch)
                .with_n_ubatch(config.n_batch)
                .with_n_seq_max(config.n_seq)
                .with_kv_unified(false)
                .with_n_threads(config.threads)
                .with_n_threads_batch(config.threads);
            let context = {
                let _guard = CONTEXT_CREATION.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                model.new_context(backend, params)
            };
            let mut context = match context {
                Ok(context) => {
                    let _ = ready_tx.send(Ok(()));
                    context
                }
                Err(error) => {
                    let _ = ready_tx.send(Err(error.to_string()));
                    return;
                }
            };
            run(&model, &mut context, &jobs_rx, config, &counter, &stop);
            tracing::debug!(model = %name, "inference thread stopped");
        })
        .map_err(|error| error.to_string())?;
    match ready_rx.recv() {
        Ok(Ok(())) => Ok((jobs_tx, handle)),
        Ok(Err(reason)) => Err(reason),
        Err(_) => Err("the inference thread died while starting".to_owned()),
    }
}

/// Events made within this long of the last hand-over wait for the next
/// (or the end): under what a reader can tell apart.
const SEND_EVERY: std::time::Duration = std::time::Duration::from_millis(20);

/// Submissions (each one or more requests) waiting for the inference thread, at most.
pub(crate) const QUEUE_CAPACITY: usize = 256;

fn run(
    model: &LlamaModel,
    ctx: &mut LlamaContext<'_>,
    jobs: &Receiver<Work>,
    config: WorkerConfig,
    counter: &AtomicU64,
    stop: &AtomicBool,
) {
    let n_batch = usize::try_from(config.n_batch).unwrap_or(512);
    let mut batch = LlamaBatch::new(n_batch, 1);
    let mut waiting: VecDeque<Job> = VecDeque::new();
    let mut slots: Vec<Slot> = Vec::new();
    let mut free_seqs: Vec<i32> = (0..i32::try_from(config.n_seq).unwrap_or(1)).rev().collect();
    let mut reserved: u32 = 0;
    let mut open = true;
    let mut decode_only: Vec<DecodeOnly> = Vec::new();
    let take = |work: Work, waiting: &mut VecDeque<Job>, decode_only: &mut Vec<DecodeOnly>| match work {
        Work::Generate(jobs) => waiting.extend(jobs),
        Work::DecodeOnly(run) => decode_only.push(run),
    };

    loop {
        // 0. The model is being unloaded: end everything now, so no decode
        //    outlives the model (or runs while the process exits).
        if stop.load(Ordering::Acquire) {
            for mut slot in slots.drain(..) {
                slot.send(GenerationEvent::Failed(GenerateError::WorkerGone));
            }
            for job in waiting.drain(..) {
                let _ = job.events.try_send(vec![GenerationEvent::Failed(GenerateError::WorkerGone)]);
            }
            return;
        }
        // 1. Take new requests; sleep when there is nothing to do.
        if slots.is_empty() && waiting.is_empty() && decode_only.is_empty() {
            if !open {
                return;
            }
            match jobs.recv() {
                Ok(work) => take(work, &mut waiting, &mut decode_only),
                Err(_) => return,
            }
        }
        while open {
            match jobs.try_recv() {
                Ok(work) => take(work, &mut waiting, &mut decode_only),
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => open = false,
            }
        }
        if slots.is_empty() && waiting.is_empty() {
            // Idle: every sequence is free and its cache cells empty.
            let seq = free_seqs.last().copied().unwrap_or(0);
            for run in decode_only.drain(..) {
                let _ = run.reply.send(bare::decode_only(ctx, model.n_vocab(), seq, run.tokens));
            }
        }

        // 2. Forget requests nobody listens to any more.
        waiting.retain(|job| !job.events.is_closed());
        let mut index = 0;
        while index < slots.len() {
            if slots[index].cancelled || slots[index].job.events.is_closed() {
                let slot = slots.swap_remove(index);
                release(ctx, &slot, &mut free_seqs, &mut reserved);
                tracing::debug!(seq = slot.seq, "generation cancelled");
            } else {
                index += 1;
            }
        }

        // 3. Admit waiting requests in order while sequences and KV cells last.
        while let Some(job) = waiting.front() {
            let need = job.reservation();
            if free_seqs.is_empty() || reserved.saturating_add(need) > config.n_ctx {
                break;
            }
            let (Some(job), Some(seq)) = (waiting.pop_front(), free_seqs.pop()) else {
                break;
            };
            reserved += need;
            slots.push(Slot::new(job, seq));
        }
        if slots.is_empty() {
            continue;
        }

        // 4. One batch: the next token of every generating slot, then prompt
        //    chunks while room is left.
        batch.clear();
        let mut room = n_batch;
        for slot in &mut slots {
            slot.logits_at = None;
            if let Some(token) = slot.pending
                && batch.add(token, slot.position, &[slot.seq], true).is_ok()
            {
                slot.logits_at = Some(batch.n_tokens() - 1);
                room -= 1;
            }
        }
        for slot in &mut slots {
            if slot.pending.is_some() || room == 0 {
                continue;
            }
            let remaining = slot.job.tokens.len() - slot.prompt_done;
            let take = remaining.min(room);
            for offset in 0..take {
                let at = slot.prompt_done + offset;
                let last = at + 1 == slot.job.tokens.len();
                if batch.add(slot.job.tokens[at], slot.position, &[slot.seq], last).is_err() {
                    break;
                }
                slot.position += 1;
                if last {
                    slot.logits_at = Some(batch.n_tokens() - 1);
                }
            }
            slot.prompt_done += take;
            room -= take;
        }
        if batch.n_tokens() == 0 {
            continue;
        }

        // 5. Decode; events held back (see `Slot::emit`) that are due go
        //    first, so a long decode (another request's prompt) holds no one.
        let now = Instant::now();
        for slot in &mut slots {
            if slot.sent_at.is_some_and(|sent| now.duration_since(sent) >= SEND_EVERY) {
                slot.flush(now);
            }
        }
        if let Err(error) = ctx.decode(&mut batch) {
            tracing::warn!(%error, "decode failed; failing the requests of this step");
            for mut slot in std::mem::take(&mut slots) {
                slot.send(GenerationEvent::Failed(GenerateError::Decode(error.to_string())));
                release(ctx, &slot, &mut free_seqs, &mut reserved);
            }
            continue;
        }

        // 6. Sample for every slot that has logits in this batch.
        let mut index = 0;
        while index < slots.len() {
            let outcome = step(model, ctx, &mut slots[index], counter);
            match outcome {
                None => index += 1,
                Some(reason) => {
                    let slot = slots.swap_remove(index);
                    release(ctx, &slot, &mut free_seqs, &mut reserved);
                    slot.finish(reason);
                }
            }
        }
    }
}

/// Samples one token for `slot` if it has logits; returns why it ends, if it does.
fn step(model: &LlamaModel, ctx: &LlamaContext<'_>, slot: &mut Slot, counter: &AtomicU64) -> Option<FinishReason> {
    let at = slot.logits_at?;
    let now = Instant::now();
    if slot.pending.is_some() {
        slot.position += 1;
    } else {
        slot.prompt_finished = Some(now);
    }
    let Some(token) = slot.job.samplers.sample(ctx, at) else {
        // The grammar admits nothing more: the constrained output is complete.
        return Some(FinishReason::EndOfText);
    };
    slot.first_token.get_or_insert(now);
    if model.is_eog_token(token) && !slot.job.ignore_eos {
        return Some(FinishReason::EndOfText);
    }
    slot.generated += 1;
    counter.fetch_add(1, Ordering::Relaxed);
    slot.pending = Some(token);
    let bytes = model.token_to_piece_bytes(token);
    let text = slot.decoder.push(&bytes);
    match slot.stops.push(&text) {
        StopScan::Continue(shown) => slot.emit(&shown),
        StopScan::Stop(shown) => {
            slot.emit(&shown);
            return Some(FinishReason::StopString);
        }
    }
    if slot.generated >= slot.job.max_tokens {
        return Some(if slot.job.clamped { FinishReason::ContextFull } else { FinishReason::MaxTokens });
    }
    None
}

fn release(ctx: &mut LlamaContext<'_>, slot: &Slot, free_seqs: &mut Vec<i32>, reserved: &mut u32) {
    let seq = u32::try_from(slot.seq).ok();
    if let Err(error) = ctx.clear_kv_cache_seq(seq, None, None) {
        tracing::warn!(%error, seq = slot.seq, "could not clear a sequence from the KV cache");
    }
    *reserved = reserved.saturating_sub(slot.job.reservation());
    free_seqs.push(slot.seq);
}

/// Small conveniences over the model used by the loop.
trait ModelExt {
    fn is_eog_token(&self, token: LlamaToken) -> bool;
    fn token_to_piece_bytes(&self, token: LlamaToken) -> Vec<u8>;
}

impl ModelExt for LlamaModel {
    fn is_eog_token(&self, token: LlamaToken) -> bool {
        self.vocab().is_eog(token)
    }

    fn token_to_piece_bytes(&self, token: LlamaToken) -> Vec<u8> {
        self.vocab().token_to_piece(token, false, None)
    }
}
