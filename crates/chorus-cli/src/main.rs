//! The `chorus` command: an adapter over `chorus-node` for the terminal.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use chorus_node::{
    AskRequest, BenchOptions, BenchReport, Completion, GenerationEvent, Node, NodeConfig, NodeError, SamplingParams,
};
use clap::{Args, Parser, Subcommand};

mod demo;

/// Chorus: private, on-device AI with specialist models.
#[derive(Debug, Parser)]
#[command(name = "chorus", version, about)]
struct Cli {
    /// Show what happens inside (tracing at info level; RUST_LOG overrides).
    #[arg(short, long, global = true)]
    verbose: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Ask a question; the answer streams from the model on this device.
    Ask(AskArgs),
    /// Measure prompt and generation speed, load time and peak memory.
    Bench(BenchArgs),
    /// A tour of what runs on this device, on the embedded model.
    Demo(ModelArgs),
}

#[derive(Debug, Args)]
struct ModelArgs {
    /// A GGUF model file (default: the embedded SmolLM2-135M-Instruct).
    #[arg(long)]
    model: Option<PathBuf>,
    /// CPU threads (default: the physical cores).
    #[arg(long)]
    threads: Option<usize>,
}

#[derive(Debug, Args)]
struct AskArgs {
    #[command(flatten)]
    model: ModelArgs,
    /// The question; `-` reads it from standard input.
    #[arg(required = true)]
    question: Vec<String>,
    /// A system prompt instead of Chorus's default.
    #[arg(long)]
    system: Option<String>,
    /// Most tokens in the answer.
    #[arg(long, default_value_t = 512)]
    max_tokens: u32,
    /// Sampling temperature (0 = greedy).
    #[arg(long)]
    temperature: Option<f32>,
    /// Random seed.
    #[arg(long)]
    seed: Option<u32>,
    /// Write one JSON event per line instead of text.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
struct BenchArgs {
    #[command(flatten)]
    model: ModelArgs,
    /// Prompt length in tokens.
    #[arg(long, default_value_t = 128)]
    prompt_tokens: u32,
    /// Tokens generated per run.
    #[arg(long, default_value_t = 64)]
    gen_tokens: u32,
    /// Runs averaged, after one warm-up.
    #[arg(long, default_value_t = 3)]
    repetitions: u32,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    json: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing(cli.verbose);
    let result = match cli.command {
        Command::Ask(args) => ask(args),
        Command::Bench(args) => bench(&args),
        Command::Demo(args) => start(&args).and_then(|node| demo::run(&node)),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            // Bad input (empty or over-long prompt, bad settings) is a usage error.
            let usage = error.downcast_ref::<NodeError>().is_some_and(|error| {
                matches!(error, NodeError::Generate(_) | NodeError::InvalidBench(_) | NodeError::ModelNotFound { .. })
            });
            if usage { ExitCode::from(2) } else { ExitCode::FAILURE }
        }
    }
}

fn init_tracing(verbose: bool) {
    // llama.cpp's own logs arrive as targets `llama.cpp` and `ggml`: silent
    // unless asked for (e.g. RUST_LOG=llama.cpp=debug).
    let default = if verbose { "info,llama.cpp=warn,ggml=warn" } else { "warn,llama.cpp=off,ggml=off" };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).init();
}

fn start(args: &ModelArgs) -> anyhow::Result<Node> {
    let config = NodeConfig {
        model: args.model.clone(),
        threads: args.threads,
        ..NodeConfig::default()
    };
    Ok(Node::start(config)?)
}

fn ask(args: AskArgs) -> anyhow::Result<()> {
    let mut question = args.question.join(" ");
    if question == "-" {
        question.clear();
        std::io::stdin().read_to_string(&mut question).context("reading the question from standard input")?;
    }
    let mut sampling = SamplingParams {
        max_tokens: args.max_tokens,
        ..SamplingParams::default()
    };
    if let Some(temperature) = args.temperature {
        sampling.temperature = temperature;
    }
    if let Some(seed) = args.seed {
        sampling.seed = seed;
    }
    let node = start(&args.model)?;
    let request = AskRequest {
        question,
        system: args.system,
        sampling,
    };
    let mut generation = match node.ask(request) {
        Ok(generation) => generation,
        Err(error) if args.json => {
            print_json(&error_event(&error));
            return Err(error.into());
        }
        Err(error) => return Err(error.into()),
    };
    let mut stdout = std::io::stdout().lock();
    while let Some(event) = generation.blocking_next_event() {
        match event {
            GenerationEvent::Token(text) if args.json => {
                print_json(&serde_json::json!({"event": "token", "text": text}));
            }
            GenerationEvent::Token(text) => {
                write!(stdout, "{text}")?;
                stdout.flush()?;
            }
            GenerationEvent::Done(completion) if args.json => print_json(&done_event(&completion)),
            GenerationEvent::Done(_) => writeln!(stdout)?,
            GenerationEvent::Failed(error) => {
                let error = NodeError::Generate(error);
                if args.json {
                    print_json(&error_event(&error));
                }
                return Err(error.into());
            }
        }
    }
    Ok(())
}

fn print_json(value: &serde_json::Value) {
    println!("{value}");
}

fn done_event(completion: &Completion) -> serde_json::Value {
    serde_json::json!({
        "event": "done",
        "text": completion.text,
        "finish_reason": completion.finish_reason,
        "prompt_tokens": completion.prompt_tokens,
        "completion_tokens": completion.completion_tokens,
        "time_to_first_token_ms": completion.time_to_first_token_ms,
        "prompt_ms": completion.prompt_ms,
        "generation_ms": completion.generation_ms,
    })
}

fn error_event(error: &NodeError) -> serde_json::Value {
    serde_json::json!({"event": "error", "code": error_code(error), "message": error.to_string()})
}

/// Stable codes for errors, so scripts branch on codes, not messages.
fn error_code(error: &NodeError) -> &'static str {
    use chorus_node::NodeError as E;
    match error {
        E::ModelNotFound { .. } => "model_not_found",
        E::Engine(_) => "engine",
        E::Load(_) => "load_failed",
        E::Generate(inner) => generate_code(inner),
        E::InvalidBench(_) => "invalid_bench",
        _ => "internal",
    }
}

fn generate_code(error: &chorus_node::GenerateError) -> &'static str {
    use chorus_node::GenerateError as G;
    match error {
        G::EmptyPrompt => "empty_prompt",
        G::PromptTooLong { .. } => "prompt_too_long",
        G::InvalidSampling(_) => "invalid_sampling",
        G::InvalidConstraint(_) => "invalid_constraint",
        G::Busy(_) => "busy",
        _ => "generation_failed",
    }
}

fn bench(args: &BenchArgs) -> anyhow::Result<()> {
    let node = start(&args.model)?;
    let options = BenchOptions {
        prompt_tokens: args.prompt_tokens,
        gen_tokens: args.gen_tokens,
        repetitions: args.repetitions,
        ..BenchOptions::default()
    };
    let report = node.bench(&options)?;
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        print_report(&report);
    }
    Ok(())
}

fn print_report(report: &BenchReport) {
    println!("model                {}", report.model);
    println!("threads              {}", report.threads);
    println!("load                 {:.0} ms", report.load_ms);
    println!(
        "prompt (pp{})        {:.1} tokens/s",
        report.prompt_tokens, report.prompt_tokens_per_s
    );
    println!("generation (tg{})    {:.1} tokens/s", report.gen_tokens, report.gen_tokens_per_s);
    println!("time to first token  {:.0} ms", report.time_to_first_token_ms);
    println!(
        "JSON-constrained     {:.1} tokens/s vs {:.1} free ({:.2}x)",
        report.grammar.constrained_tokens_per_s, report.grammar.unconstrained_tokens_per_s, report.grammar.ratio
    );
    println!(
        "{} sequences batched {:.0} ms vs {:.0} ms one by one ({:.2}x faster)",
        report.batch.sequences, report.batch.batched_ms, report.batch.sequential_ms, report.batch.speedup
    );
    println!("peak memory (RSS)    {:.1} MiB", report.peak_rss_bytes as f64 / 1048576.0);
}
