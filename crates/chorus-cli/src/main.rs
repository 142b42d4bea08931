//! The `chorus` command: an adapter over `chorus-node` for the terminal.

use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use chorus_bench::{BenchOptions, BenchReport};
use chorus_node::{Node, NodeConfig, NodeError};
use clap::{Args, Parser, Subcommand};

mod api;
mod api_bench;
mod conduct;
mod demo;
mod eval;
mod models;
mod network;
mod routing_bench;
mod sim;

/// Chorus: private, on-device AI with specialist models.
#[derive(Debug, Parser)]
#[command(name = "chorus", version, about)]
struct Cli {
    /// Show what happens inside (tracing at info level; RUST_LOG overrides).
    #[arg(short, long, global = true)]
    verbose: bool,
    /// Where the journal and installed models live (default: $CHORUS_DATA_DIR,
    /// else ~/.local/share/chorus).
    #[arg(long, global = true)]
    data_dir: Option<PathBuf>,
    /// A specialist catalog file instead of the built-in one.
    #[arg(long, global = true)]
    catalog: Option<PathBuf>,
    /// Keep this many days of history (1-36500): older past questions are
    /// deleted at start (and daily while `serve` runs). `forever`, the
    /// default, deletes nothing.
    #[arg(long, global = true, value_name = "DAYS|forever", value_parser = parse_history_days)]
    history_days: Option<HistoryDays>,
    #[command(flatten)]
    model: ModelArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Ask a question: the conductor picks specialists, plans, runs them and
    /// streams one answer.
    Ask(AskArgs),
    /// Show how a question would be routed (and planned), without running it.
    Route(conduct::RouteArgs),
    /// Past questions, their plans, results and timings.
    History(conduct::HistoryArgs),
    /// List, recommend, install (pull) and remove models.
    Models(models::ModelsArgs),
    /// Measure routing, planning and answers against the labelled
    /// evaluation sets (or a `--set` file).
    Eval(eval::EvalArgs),
    /// Measure prompt and generation speed, load time and peak memory.
    Bench(BenchArgs),
    /// Serve specialists to peers: join the network, announce them, answer
    /// tasks within the limits given, until interrupted.
    Serve(network::ServeArgs),
    /// Join the network and list the peers found: addresses, specialists,
    /// round-trip time, status and standing.
    Peers(network::PeersArgs),
    /// The whole pipeline: three nodes on loopback serve different
    /// specialists; a fourth, holding none, asks a composite question.
    Demo(demo::DemoArgs),
    /// Serve the OpenAI chat API on this device (`/v1/chat/completions`,
    /// `/v1/models`, `/health`) until interrupted.
    Api(api::ApiArgs),
    /// Simulate a network of many real nodes in this process (memory
    /// transport): provider lookups before and after crashes and hangs.
    Sim(sim::SimArgs),
}

/// Options every command shares.
#[derive(Debug)]
pub(crate) struct Globals {
    data_dir: Option<PathBuf>,
    catalog: Option<PathBuf>,
    history_days: Option<u32>,
}

/// `--history-days`: a number of days, or `forever` (`None`).
#[derive(Debug, Clone, Copy)]
struct HistoryDays(Option<u32>);

fn parse_history_days(text: &str) -> Result<HistoryDays, String> {
    let text = text.trim();
    if text.eq_ignore_ascii_case("forever") {
        return Ok(HistoryDays(None));
    }
    match text.parse::<u32>() {
        Ok(days) if (1..=chorus_node::MAX_HISTORY_DAYS).contains(&days) => Ok(HistoryDays(Some(days))),
        _ => Err(format!("expected a number of days from 1 to {} or `forever`", chorus_node::MAX_HISTORY_DAYS)),
    }
}

#[derive(Debug, Args)]
pub(crate) struct ModelArgs {
    /// A GGUF model file for the conductor (default: the embedded SmolLM2-135M-Instruct),
    /// used as given once its header passes the GGUF check.
    #[arg(long, global = true)]
    model: Option<PathBuf>,
    /// CPU threads (default: the physical cores).
    #[arg(long, global = true)]
    threads: Option<usize>,
}

#[derive(Debug, Args)]
struct AskArgs {
    /// The question; `-` reads it from standard input.
    #[arg(required_unless_present = "continue_conversation")]
    question: Vec<String>,
    /// Continue a conversation: the latest one, or the one the query ID
    /// (e.g. q12, as `chorus history` lists it) belongs to. The earlier
    /// turns stay on this device.
    #[arg(long = "continue", value_name = "ID", num_args = 0..=1, default_missing_value = "")]
    continue_conversation: Option<String>,
    /// Write one JSON event per line instead of text.
    #[arg(long)]
    json: bool,
    /// Let sub-tasks run on peers (default: on-device only; the network is
    /// not even started).
    #[arg(long)]
    network: bool,
    #[command(flatten)]
    net: network::NetArgs,
    /// Specialists this device runs itself, comma-separated, or `none` to
    /// leave every sub-task to peers (default: all it can).
    #[arg(long, value_delimiter = ',')]
    local_specialists: Vec<String>,
    /// Seconds a sub-task that no device can run waits for one to appear
    /// (network mode).
    #[arg(long, default_value_t = 120)]
    queue_timeout: u64,
    /// Names to redact from what leaves this device (yours, family,
    /// clients), comma-separated; every other kind of personal data is
    /// found without a list.
    #[arg(long, value_delimiter = ',')]
    private_names: Vec<String>,
    /// Let sub-tasks of sensitive specialists (health, personal legal and
    /// money matters) run on peers, redacted (default: they stay on this
    /// device).
    #[arg(long)]
    share_sensitive: bool,
    /// In text output, show exactly what each peer received.
    #[arg(long)]
    show_sent: bool,
}

#[derive(Debug, Args)]
struct BenchArgs {
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
    /// Measure the network instead: dispatch overhead per sub-task over
    /// loopback TCP, and k sub-tasks on k peers (real nodes, real model).
    #[arg(long)]
    network: bool,
    /// With --network: requests per dispatch variant (a tenth as many over
    /// first connections; default 1000); with --api: first-token samples
    /// per path (default 50).
    #[arg(long)]
    requests: Option<u32>,
    /// With --network: token cap of each dispatch request (the first token is timed).
    #[arg(long, default_value_t = 2)]
    dispatch_tokens: u32,
    /// With --network: rounds of the k-peers figure; with --api: rounds of
    /// the clients-at-once figure (medians reported).
    #[arg(long, default_value_t = 10)]
    rounds: u32,
    /// Measure privacy instead: redaction and restoration time per 2 KB of
    /// text, and how much of a multi-part question its largest sub-task
    /// carries (plans by the real conductor model).
    #[arg(long, conflicts_with = "network")]
    privacy: bool,
    /// Measure routing at scale instead: router build, time per question
    /// and memory at the bundled catalog's size and at 1,000 and 10,000
    /// specialists (generated), with keywords and, when the sentence model
    /// is found, semantic routing; one thread.
    #[arg(long, conflicts_with_all = ["network", "privacy"])]
    routing: bool,
    /// Measure the OpenAI-compatible API instead: time to first token
    /// through a real `chorus api` server on loopback vs the engine
    /// (--requests samples each, alternating), and four clients at once vs
    /// one after another (--gen-tokens each, --rounds rounds).
    #[arg(long, conflicts_with_all = ["network", "privacy", "routing"])]
    api: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing(cli.verbose);
    let globals = Globals {
        data_dir: cli.data_dir,
        catalog: cli.catalog,
        history_days: cli.history_days.and_then(|days| days.0),
    };
    let result = match cli.command {
        Command::Ask(args) => ask(&globals, &cli.model, args),
        Command::Route(args) => start(&globals, &cli.model)
            .and_then(|node| runtime().and_then(|runtime| runtime.block_on(conduct::route(&node, &args)))),
        Command::History(args) => start(&globals, &cli.model).and_then(|node| conduct::history(&node, &args)),
        Command::Models(args) => start(&globals, &cli.model).and_then(|node| models::run(&node, args)),
        Command::Eval(args) => start(&globals, &cli.model).and_then(|node| eval::run(&node, &args)),
        Command::Bench(args) => bench(&globals, &cli.model, &args),
        Command::Serve(args) => start(&globals, &cli.model)
            .and_then(|node| runtime().and_then(|runtime| runtime.block_on(network::serve(node, args)))),
        Command::Peers(args) => start(&globals, &cli.model)
            .and_then(|node| runtime().and_then(|runtime| runtime.block_on(network::peers(node, args)))),
        Command::Api(args) => api::run(&globals, &cli.model, args),
        Command::Demo(args) => demo::run(&globals, &cli.model, &args),
        Command::Sim(args) => sim::run(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            // Bad input (empty or over-long prompt, bad settings) is a usage error.
            let usage = error.downcast_ref::<NodeError>().is_some_and(|error| {
                matches!(
                    error,
                    NodeError::Generate(_)
                        | NodeError::InvalidBench(_)
                        | NodeError::ModelNotFound { .. }
                        | NodeError::InvalidModel(_)
                        | NodeError::Models(
                            chorus_node::ModelsError::Recommend(_)
                                | chorus_node::ModelsError::UnknownModel { .. }
                                | chorus_node::ModelsError::Unverified { .. }
                        )
                )
            }) || error.downcast_ref::<conduct::UsageError>().is_some();
            if usage { ExitCode::from(2) } else { ExitCode::FAILURE }
        }
    }
}

fn init_tracing(verbose: bool) {
    // llama.cpp's own logs arrive as targets `llama.cpp` and `ggml`: silent
    // unless asked for (e.g. RUST_LOG=llama.cpp=debug).
    // libp2p's Kademlia warns when it has no peer to refresh from yet: normal
    // for the first node of a network.
    let default =
        if verbose { "info,llama.cpp=warn,ggml=warn" } else { "warn,llama.cpp=off,ggml=off,libp2p_kad=error" };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).init();
}

/// The async runtime the node's network and conductor run on.
pub(crate) fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?)
}

/// The node settings the global options give.
pub(crate) fn node_config(globals: &Globals, args: &ModelArgs) -> NodeConfig {
    NodeConfig {
        model: args.model.clone(),
        threads: args.threads,
        data_dir: globals.data_dir.clone(),
        catalog: globals.catalog.clone(),
        history_days: globals.history_days,
        ..NodeConfig::default()
    }
}

/// `--local-specialists`: `None` when not given (every one it can run);
/// `none` names none.
pub(crate) fn local_specialists(ids: &[String]) -> Option<std::collections::BTreeSet<String>> {
    (!ids.is_empty())
        .then(|| ids.iter().map(|id| id.trim().to_owned()).filter(|id| !id.is_empty() && id != "none").collect())
}

pub(crate) fn start(globals: &Globals, args: &ModelArgs) -> anyhow::Result<Node> {
    start_with(node_config(globals, args))
}

pub(crate) fn start_with(config: NodeConfig) -> anyhow::Result<Node> {
    let node = Node::start(config)?;
    for query in node.interrupted() {
        eprintln!("note: query {} did not finish (interrupted): {:?}", query.id, query.text);
    }
    Ok(node)
}

fn ask(globals: &Globals, model: &ModelArgs, args: AskArgs) -> anyhow::Result<()> {
    let (continue_from, words) = continue_from(args.continue_conversation.as_deref(), &args.question);
    let mut question = words.join(" ");
    if question == "-" {
        question.clear();
        std::io::stdin().read_to_string(&mut question).context("reading the question from standard input")?;
    }
    let mut config = node_config(globals, model);
    config.local_specialists = local_specialists(&args.local_specialists);
    if args.network {
        config.conductor.queue_timeout = std::time::Duration::from_secs(args.queue_timeout);
    }
    config.conductor.private_names =
        args.private_names.iter().map(|name| name.trim().to_owned()).filter(|name| !name.is_empty()).collect();
    config.conductor.keep_sensitive_on_device = !args.share_sensitive;
    let node = start_with(config)?;
    runtime()?.block_on(async {
        if args.network {
            node.join_network(args.net.settings()?).await?;
            network::wait_for_a_peer(&node, std::time::Duration::from_secs(5)).await?;
        }
        let continues = match continue_from {
            None => chorus_node::Continues::Nothing,
            Some(Some(id)) => match node.store().conversation_of(id)? {
                Some(conversation) => chorus_node::Continues::Conversation(conversation),
                None => return Err(conduct::UsageError(format!("no query {id} in the journal to continue")).into()),
            },
            Some(None) => match node.store().latest_conversation()? {
                Some(id) => chorus_node::Continues::Conversation(id),
                None => return Err(conduct::UsageError("there is no conversation to continue yet".to_owned()).into()),
            },
        };
        conduct::ask(&node, &question, continues, conduct::Output { json: args.json, show_sent: args.show_sent }, false)
            .await
    })
}

/// `--continue [ID]`: `None` without it, `Some(None)` for the latest
/// conversation, `Some(Some(id))` for a query id written `q12`. A value that
/// is not such an id is the question's first word (`--continue make it
/// shorter`), and the latest conversation is continued.
fn continue_from(
    value: Option<&str>,
    question: &[String],
) -> (Option<Option<chorus_node::core::QueryId>>, Vec<String>) {
    let Some(value) = value else {
        return (None, question.to_vec());
    };
    let id = value.strip_prefix('q').filter(|digits| !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()));
    match id.and_then(|_| value.parse().ok()) {
        Some(id) => (Some(Some(id)), question.to_vec()),
        None if value.is_empty() => (Some(None), question.to_vec()),
        None => (Some(None), std::iter::once(value.to_owned()).chain(question.iter().cloned()).collect()),
    }
}

fn bench(globals: &Globals, model: &ModelArgs, args: &BenchArgs) -> anyhow::Result<()> {
    if args.routing {
        return routing_bench::run(args.json);
    }
    if args.api {
        let options = chorus_bench::ApiBenchOptions {
            node: node_config(globals, model),
            requests: args.requests.unwrap_or(50),
            tokens: args.gen_tokens,
            rounds: args.rounds,
        };
        return api_bench::print(&chorus_bench::bench_api(&options)?, args.json);
    }
    if args.privacy {
        let options = chorus_bench::PrivacyBenchOptions {
            node: node_config(globals, model),
            ..chorus_bench::PrivacyBenchOptions::default()
        };
        let report = chorus_bench::bench_privacy(&options)?;
        if args.json {
            println!("{}", serde_json::to_string(&report)?);
            return Ok(());
        }
        println!(
            "redaction of {} bytes ({} values): p50 {:.0} µs, p99 {:.0} µs; restoration p50 {:.0} µs; \
             reference (one e-mail regex over the same text) p50 {:.1} µs: {:.0}×",
            report.text_bytes,
            report.values_per_text,
            report.redact_us_p50,
            report.redact_us_p99,
            report.restore_us_p50,
            report.reference_us_p50,
            report.redact_us_p50 / report.reference_us_p50.max(f64::MIN_POSITIVE)
        );
        for share in &report.questions {
            println!(
                "{:>5.0} % of the question in its largest part ({}, {} parts): {}",
                share.largest_share * 100.0,
                share.kind,
                share.parts,
                share.question
            );
        }
        println!(
            "median over the questions sent in parts: {:.0} %; sent whole among them: {}; split by request \
             for peers: {}; one part (sent whole): {} of {}",
            report.median_largest_share * 100.0,
            report.whole_question_sent,
            report.split_for_peers,
            report.planned_simple,
            report.questions.len()
        );
        return Ok(());
    }
    if args.network {
        let options = chorus_bench::NetworkBenchOptions {
            node: node_config(globals, model),
            requests: args.requests.unwrap_or(1000),
            dispatch_tokens: args.dispatch_tokens,
            first_connections: (args.requests.unwrap_or(1000) / 10).max(1),
            rounds: args.rounds,
            ..chorus_bench::NetworkBenchOptions::default()
        };
        let report = chorus_bench::bench_network(&options)?;
        if args.json {
            println!("{}", serde_json::to_string(&report)?);
            return Ok(());
        }
        let row = |name: &str, figure: &chorus_bench::Distribution| {
            println!(
                "  {name:<34} p50 {:>8.3}  p90 {:>8.3}  p99 {:>8.3}  max {:>8.3} ms",
                figure.p50_ms, figure.p90_ms, figure.p99_ms, figure.max_ms
            );
        };
        let dispatch = &report.dispatch;
        println!("model      {}", report.model);
        println!("transport  {}", report.transport);
        println!(
            "machine    {} cores, load average {:?} before, {:?} after; {:.0} s",
            report.cores, report.load_before, report.load_after, report.elapsed_s
        );
        println!(
            "dispatch overhead: {:?} to {} (max {} tokens), requester first token minus executor first token",
            dispatch.prompt, dispatch.specialist, dispatch.max_tokens
        );
        for figures in [&dispatch.warm, &dispatch.warm_precise, &dispatch.no_inference, &dispatch.first_connection] {
            println!("{} ({} requests, {} waited)", figures.variant, figures.requests, figures.waited);
            row("requester first token", &figures.requester_first_token);
            row("executor first token", &figures.executor_first_token);
            row("overhead", &figures.overhead);
        }
        row("first connection: dial alone", &dispatch.first_connection_dial);
        row("status probe round trip", &dispatch.status_round_trip);
        let parallel = &report.parallel;
        println!(
            "{} sub-tasks on {} peers ({} thread each, up to {} tokens), median of {} rounds:",
            parallel.peers, parallel.peers, parallel.threads_per_peer, parallel.max_tokens, parallel.rounds
        );
        println!("  slowest alone      {:>8.0} ms", parallel.slowest_alone_ms);
        println!(
            "  all at once        {:>8.0} ms  ({:.2}x the slowest alone; the process got {:.2} cores meanwhile)",
            parallel.parallel_ms, parallel.parallel_vs_slowest, parallel.parallel_cpu_cores
        );
        println!(
            "  one after another  {:>8.0} ms on one peer  ({:.2}x slower than at once)",
            parallel.sequential_ms, parallel.speedup_vs_one_device
        );
        println!("  network's share    {:>8.0} ms of the all-at-once wall time", parallel.parallel_network_ms);
        if let (Some(ratio), Some(speedup)) =
            (parallel.full_core_parallel_vs_slowest, parallel.full_core_speedup_vs_one_device)
        {
            println!(
                "  in the {} rounds that got {} cores: {ratio:.2}x the slowest alone, {speedup:.2}x faster than one device",
                parallel.full_core_rounds, parallel.peers
            );
        }
        return Ok(());
    }
    let node = start(globals, model)?;
    let options = BenchOptions {
        prompt_tokens: args.prompt_tokens,
        gen_tokens: args.gen_tokens,
        repetitions: args.repetitions,
        ..BenchOptions::default()
    };
    let report = chorus_bench::bench(&node, &options)?;
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
    println!("prompt (pp{})        {:.1} tokens/s", report.prompt_tokens, report.prompt_tokens_per_s);
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
    println!(
        "conductor TTFT       {:.0} ms vs {:.0} ms on the bare engine ({:.2}x), simple query to {}",
        report.conductor.conductor_first_token_ms,
        report.conductor.engine_first_token_ms,
        report.conductor.ratio,
        report.conductor.specialist
    );
    println!("peak memory (RSS)    {:.1} MiB", report.peak_rss_bytes as f64 / 1048576.0);
}
