//! `chorus bench`: the engine's speed and memory on a real model.
//!
//! Measured the way llama.cpp's `llama-bench` measures, so the two can be
//! compared: `pp` is a prompt of exactly `prompt_tokens` tokens decoded at
//! once; `tg` is `gen_tokens` tokens generated one at a time from a
//! one-token context; both averaged over `repetitions` runs after a warm-up.
//! Ours includes sampling and detokenizing, which `llama-bench` skips: the
//! comparison is conservative.

use std::time::Instant;

use chorus_engine::{ChatMessage, Constraint, GenerateRequest, Model, Prompt, SamplingParams, peak_rss_bytes};
use serde::Serialize;

use chorus_node::{Node, NodeError};

/// What to measure.
#[derive(Debug, Clone)]
pub struct BenchOptions {
    /// Prompt length in tokens.
    pub prompt_tokens: u32,
    /// Tokens generated per run.
    pub gen_tokens: u32,
    /// Runs averaged (after one warm-up run).
    pub repetitions: u32,
    /// Sequences of the batched-generation figure.
    pub batch_sequences: u32,
}

impl Default for BenchOptions {
    fn default() -> Self {
        Self { prompt_tokens: 128, gen_tokens: 64, repetitions: 3, batch_sequences: 4 }
    }
}

/// Grammar-constrained generation against the same run unconstrained.
#[derive(Debug, Clone, Serialize)]
pub struct GrammarFigures {
    /// Tokens per second with a JSON Schema constraint.
    pub constrained_tokens_per_s: f64,
    /// Tokens per second of the same prompts without one.
    pub unconstrained_tokens_per_s: f64,
    /// `constrained / unconstrained` (goal: at least 0.8).
    pub ratio: f64,
}

/// k sequences generated together against the same k one after another.
#[derive(Debug, Clone, Serialize)]
pub struct BatchFigures {
    /// Sequences.
    pub sequences: u32,
    /// Tokens generated per sequence.
    pub tokens_per_sequence: u32,
    /// Wall-clock milliseconds, all sequences batched.
    pub batched_ms: f64,
    /// Wall-clock milliseconds, one after another.
    pub sequential_ms: f64,
    /// `sequential / batched` (goal: at least 1.5).
    pub speedup: f64,
}

/// Time to first token of a simple query through the conductor against the
/// bare engine running the same specialist prompt.
#[derive(Debug, Clone, Serialize)]
pub struct ConductorFigures {
    /// The query.
    pub query: String,
    /// The specialist the conductor chose.
    pub specialist: String,
    /// Milliseconds to the first answer token through the conductor (analyse + dispatch).
    pub conductor_first_token_ms: f64,
    /// Milliseconds to the first token of the same prompt on the engine.
    pub engine_first_token_ms: f64,
    /// `conductor / engine` (goal: at most 1.10).
    pub ratio: f64,
}

/// The result of `chorus bench`. Field names are a public interface
/// (`chorus bench --json`).
#[derive(Debug, Clone, Serialize)]
pub struct BenchReport {
    /// The model file.
    pub model: String,
    /// CPU threads used.
    pub threads: usize,
    /// Prompt length in tokens.
    pub prompt_tokens: u32,
    /// Tokens generated per run.
    pub gen_tokens: u32,
    /// Runs averaged.
    pub repetitions: u32,
    /// Milliseconds to load the model (header check, mmap, context).
    pub load_ms: f64,
    /// Prompt processing speed, tokens per second.
    pub prompt_tokens_per_s: f64,
    /// Generation speed, tokens per second.
    pub gen_tokens_per_s: f64,
    /// llama.cpp's own generation loop on the same context (as
    /// `llama-bench`: one token a decode, nothing sampled or sent), tokens
    /// per second, timed in turns with the engine's generation.
    pub decode_only_tokens_per_s: f64,
    /// The engine's generation over the bare loop, median of the
    /// repetitions' pairs: what the engine keeps of llama.cpp's pace.
    pub gen_vs_decode_only: f64,
    /// Milliseconds from request to first token, prompt included.
    pub time_to_first_token_ms: f64,
    /// Constrained against unconstrained generation.
    pub grammar: GrammarFigures,
    /// Batched against sequential generation.
    pub batch: BatchFigures,
    /// The conductor's overhead on a simple query.
    pub conductor: ConductorFigures,
    /// Peak resident memory of the process in bytes.
    pub peak_rss_bytes: u64,
}

const FILLER: &str = "Chorus runs small specialist language models on phones and laptops. \
A conductor on the device splits a question into sub-tasks, sends them to the best specialists \
nearby, and merges their answers into one reply, privately and without any server. ";

const BATCH_PROMPTS: [&str; 4] = [
    "Write a short story about a lighthouse keeper.",
    "Explain how compound interest works.",
    "Describe the water cycle for a child.",
    "Give advice for a first job interview.",
];

/// Runs the benchmark on `node`'s default model. Blocks for a while.
///
/// # Errors
/// [`NodeError::InvalidBench`] for nonsense options, or any load or
/// generation error.
pub fn bench(node: &Node, options: &BenchOptions) -> Result<BenchReport, NodeError> {
    if options.prompt_tokens == 0 || options.gen_tokens < 2 || options.repetitions == 0 {
        return Err(NodeError::InvalidBench("prompt tokens must be ≥1, gen tokens ≥2 and repetitions ≥1".to_owned()));
    }
    if !(1..=BATCH_PROMPTS.len() as u32).contains(&options.batch_sequences) {
        return Err(NodeError::InvalidBench(format!("batch sequences must be 1..={}", BATCH_PROMPTS.len())));
    }
    let model = node.default_model()?;
    let needed = options.prompt_tokens + options.gen_tokens;
    if needed >= model.info().context {
        return Err(NodeError::InvalidBench(format!(
            "{needed} tokens do not fit the context of {}",
            model.info().context
        )));
    }
    let prompt = exact_prompt(&model, options.prompt_tokens);

    // As llama-bench: pp = a prompt of exactly N tokens; tg = N tokens
    // generated one by one from an (almost) empty context. One warm-up each.
    run_tokens(&model, &prompt, 1)?;
    run_tokens(&model, &prompt[..1], options.gen_tokens)?;
    model.decode_only_tokens_per_s(options.gen_tokens)?;
    let mut prompt_rates = Vec::new();
    let mut gen_rates = Vec::new();
    let mut bare_rates = Vec::new();
    let mut first_token = Vec::new();
    for repetition in 0..options.repetitions {
        let processed = run_tokens(&model, &prompt, 1)?;
        prompt_rates.push(processed.prompt_tokens_per_s());
        first_token.push(processed.time_to_first_token_ms);
        // The engine's generation and llama.cpp's bare loop on the same
        // context, in turns (which goes first alternates): the same
        // moment's machine for both.
        let bare_first = repetition % 2 == 1;
        if bare_first {
            bare_rates.push(model.decode_only_tokens_per_s(options.gen_tokens)?);
        }
        let generated = run_tokens(&model, &prompt[..1], options.gen_tokens + 1)?;
        gen_rates.push(generated.generation_tokens_per_s());
        if !bare_first {
            bare_rates.push(model.decode_only_tokens_per_s(options.gen_tokens)?);
        }
    }
    let pair_ratios: Vec<f64> =
        gen_rates.iter().zip(&bare_rates).filter(|(_, bare)| **bare > 0.0).map(|(ours, bare)| ours / bare).collect();

    let grammar = grammar_figures(&model, options)?;
    let batch = batch_figures(&model, options)?;
    let conductor = conductor_figures(node, &model, options.repetitions)?;
    Ok(BenchReport {
        model: model.info().path.display().to_string(),
        threads: model.info().threads,
        prompt_tokens: options.prompt_tokens,
        gen_tokens: options.gen_tokens,
        repetitions: options.repetitions,
        load_ms: model.load_ms(),
        prompt_tokens_per_s: mean(&prompt_rates),
        gen_tokens_per_s: mean(&gen_rates),
        decode_only_tokens_per_s: mean(&bare_rates),
        gen_vs_decode_only: median(pair_ratios),
        time_to_first_token_ms: mean(&first_token),
        grammar,
        batch,
        conductor,
        peak_rss_bytes: peak_rss_bytes().unwrap_or(0),
    })
}

/// The median (nearest rank) of `values`; 0 for none.
fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    crate::stats::percentile(&values, 0.5).unwrap_or(0.0)
}

fn mean(values: &[f64]) -> f64 {
    if values.is_empty() { 0.0 } else { values.iter().sum::<f64>() / values.len() as f64 }
}

/// A prompt of exactly `length` tokens.
fn exact_prompt(model: &Model, length: u32) -> Vec<i32> {
    let mut text = String::new();
    let mut tokens = Vec::new();
    while tokens.len() < length as usize {
        text.push_str(FILLER);
        tokens = model.tokenize(&text);
    }
    tokens.truncate(length as usize);
    tokens
}

fn run_tokens(model: &Model, prompt: &[i32], gen_tokens: u32) -> Result<chorus_engine::Completion, NodeError> {
    let request = GenerateRequest {
        prompt: Prompt::Tokens(prompt.to_vec()),
        sampling: SamplingParams { max_tokens: gen_tokens, ..SamplingParams::greedy() },
        constraint: None,
        ignore_eos: true,
    };
    Ok(model.generate(request)?.blocking_complete()?)
}

/// A schema that lets the model write many tokens: a list of sentences.
const BENCH_SCHEMA: &str = r#"{"type":"object","properties":{"ideas":{"type":"array","items":{"type":"string"},"minItems":8}},"required":["ideas"]}"#;

fn grammar_figures(model: &Model, options: &BenchOptions) -> Result<GrammarFigures, NodeError> {
    let mut constrained = Vec::new();
    let mut unconstrained = Vec::new();
    for seed in 0..options.repetitions.max(2) {
        let request = |constraint: Option<Constraint>| GenerateRequest {
            prompt: Prompt::Chat(vec![ChatMessage::user(
                "List ideas for a weekend trip as JSON: {\"ideas\": [\"...\", ...]}",
            )]),
            sampling: SamplingParams {
                temperature: 0.7,
                seed: seed + 1,
                max_tokens: options.gen_tokens,
                ..SamplingParams::default()
            },
            constraint,
            ignore_eos: false,
        };
        let free = model.generate(request(None))?.blocking_complete()?;
        let bound =
            model.generate(request(Some(Constraint::JsonSchema(BENCH_SCHEMA.to_owned()))))?.blocking_complete()?;
        if free.completion_tokens > 8 {
            unconstrained.push(free.generation_tokens_per_s());
        }
        if bound.completion_tokens > 8 {
            constrained.push(bound.generation_tokens_per_s());
        }
    }
    let constrained_tokens_per_s = mean(&constrained);
    let unconstrained_tokens_per_s = mean(&unconstrained);
    Ok(GrammarFigures {
        constrained_tokens_per_s,
        unconstrained_tokens_per_s,
        ratio: if unconstrained_tokens_per_s > 0.0 {
            constrained_tokens_per_s / unconstrained_tokens_per_s
        } else {
            0.0
        },
    })
}

fn batch_figures(model: &Model, options: &BenchOptions) -> Result<BatchFigures, NodeError> {
    let count = options.batch_sequences as usize;
    let request = |prompt: &str| GenerateRequest {
        prompt: Prompt::Chat(vec![ChatMessage::user(prompt)]),
        sampling: SamplingParams { max_tokens: options.gen_tokens, ..SamplingParams::greedy() },
        constraint: None,
        ignore_eos: true,
    };
    let started = Instant::now();
    for prompt in &BATCH_PROMPTS[..count] {
        model.generate(request(prompt))?.blocking_complete()?;
    }
    let sequential_ms = started.elapsed().as_secs_f64() * 1000.0;
    let started = Instant::now();
    let running =
        BATCH_PROMPTS[..count].iter().map(|prompt| model.generate(request(prompt))).collect::<Result<Vec<_>, _>>()?;
    for generation in running {
        generation.blocking_complete()?;
    }
    let batched_ms = started.elapsed().as_secs_f64() * 1000.0;
    Ok(BatchFigures {
        sequences: options.batch_sequences,
        tokens_per_sequence: options.gen_tokens,
        batched_ms,
        sequential_ms,
        speedup: if batched_ms > 0.0 { sequential_ms / batched_ms } else { 0.0 },
    })
}

/// The simple query of the conductor figure.
const SIMPLE_QUERY: &str = "How do I reverse a list in Python?";

fn conductor_figures(node: &Node, model: &Model, repetitions: u32) -> Result<ConductorFigures, NodeError> {
    let conductor = node.conductor().clone();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .map_err(|error| NodeError::InvalidBench(error.to_string()))?;
    let analysis = runtime
        .block_on(conductor.analyse(SIMPLE_QUERY))
        .map_err(|error| NodeError::InvalidBench(error.to_string()))?;
    let specialist_id = analysis.specialist_ids().first().map(|id| (*id).to_owned()).unwrap_or_default();
    let specialist = node
        .catalog()
        .specialist(&specialist_id)
        .ok_or_else(|| NodeError::InvalidBench(format!("unknown specialist {specialist_id}")))?
        .clone();
    let mut through_conductor = Vec::new();
    let mut on_engine = Vec::new();
    for _ in 0..repetitions.max(1) {
        // Bare engine: the same system prompt and question.
        let request = GenerateRequest::chat(vec![
            ChatMessage::system(specialist.system_prompt.clone()),
            ChatMessage::user(SIMPLE_QUERY),
        ])
        .with_sampling(SamplingParams { max_tokens: 8, ..SamplingParams::greedy() });
        let started = Instant::now();
        let mut generation = model.generate(request)?;
        while let Some(event) = generation.blocking_next_event() {
            if matches!(event, chorus_engine::GenerationEvent::Token(_)) {
                break;
            }
        }
        on_engine.push(started.elapsed().as_secs_f64() * 1000.0);
        drop(generation);
        // Through the conductor (not journaled: the bench leaves no history).
        let conductor = conductor.clone();
        let elapsed = runtime.block_on(async move {
            let (events, mut receiver) = tokio::sync::mpsc::channel(256);
            let started = Instant::now();
            let run = tokio::spawn(async move { conductor.ask(SIMPLE_QUERY, &events).await });
            let mut first = None;
            while let Some(event) = receiver.recv().await {
                if matches!(event, chorus_core::ConductorEvent::Token { .. }) {
                    first = Some(started.elapsed().as_secs_f64() * 1000.0);
                    break;
                }
            }
            drop(receiver);
            let _ = run.await;
            first
        });
        through_conductor.push(elapsed.unwrap_or(f64::NAN));
    }
    let conductor_first_token_ms = mean(&through_conductor);
    let engine_first_token_ms = mean(&on_engine);
    Ok(ConductorFigures {
        query: SIMPLE_QUERY.to_owned(),
        specialist: specialist_id,
        conductor_first_token_ms,
        engine_first_token_ms,
        ratio: if engine_first_token_ms > 0.0 { conductor_first_token_ms / engine_first_token_ms } else { 0.0 },
    })
}
