//! `chorus demo`: what runs on this device, step by step, on the real model.

use std::io::Write;
use std::time::Instant;

use std::collections::BTreeSet;
use std::path::PathBuf;

use chorus_node::{
    ChatMessage, Constraint, GenerateRequest, GenerationEvent, Node, NodeConfig, SamplingParams, start_cluster,
};
use clap::Args;

use crate::{Globals, ModelArgs};

const PLAN_SCHEMA: &str = r#"{
  "type": "object",
  "properties": {
    "title": {"type": "string", "maxLength": 60},
    "steps": {"type": "array", "items": {"type": "string", "maxLength": 80}, "minItems": 2, "maxItems": 4}
  },
  "required": ["title", "steps"],
  "additionalProperties": false
}"#;

const SIMPLE: &str = "How do I reverse a list in Python?";
const COMPOSITE: &str = "Write a short marketing plan for a new budgeting app, with the pricing maths for three tiers and a Spanish tagline.";
const TWO_REQUESTS: &str = "Write a short polite email to my landlord asking to fix the heating, and give me a Python function that checks whether a string is a palindrome.";

const TOGETHER: [&str; 3] = [
    "Give one tip for saving money on groceries.",
    "Name a good first programming language and say why.",
    "Suggest a name for a friendly robot.",
];

/// `chorus demo`.
#[derive(Debug, Args)]
pub(crate) struct DemoArgs {
    /// Print the requester's events as JSON lines (the `chorus ask --json` format).
    #[arg(long)]
    json: bool,
    /// The tour of what runs on one device instead (streaming, grammar,
    /// batching, the conductor on this device alone).
    #[arg(long)]
    on_device: bool,
}

/// Runs the demo.
pub(crate) fn run(globals: &Globals, model: &ModelArgs, args: &DemoArgs) -> anyhow::Result<()> {
    if args.on_device {
        let node = crate::start(globals, model)?;
        return tour(&node);
    }
    let mut base = crate::node_config(globals, model);
    // Four engines share two cores: one thread each, a small context.
    base.threads = base.threads.or(Some(1));
    base.context = 2048;
    base.parallel = 2;
    let root = std::env::temp_dir().join(format!("chorus-demo-{}", std::process::id()));
    let outcome = crate::runtime()?.block_on(network_demo(base, root.clone(), args.json));
    let _ = std::fs::remove_dir_all(&root);
    outcome
}

/// Which node serves what: each specialist of the composite question on
/// its own node, so the plan's sub-tasks spread over the network.
const SERVERS: [(&str, &[&str]); 3] = [
    ("node-a", &["marketing.strategy", "general.assistant"]),
    ("node-b", &["marketing.copywriting", "writing.editing"]),
    ("node-c", &["finance.pricing", "finance.forecasting"]),
];

async fn network_demo(base: NodeConfig, root: PathBuf, json: bool) -> anyhow::Result<()> {
    let say = |line: String| if json { eprintln!("{line}") } else { println!("{line}") };
    say("== Chorus demo: three nodes on loopback serve specialists; a fourth, holding none, asks ==".to_owned());
    let servers = SERVERS
        .iter()
        .map(|(name, ids)| ((*name).to_owned(), ids.iter().map(|id| (*id).to_owned()).collect::<BTreeSet<String>>()))
        .collect();
    let started = Instant::now();
    let cluster = start_cluster(&base, root, servers).await?;
    for member in &cluster.servers {
        say(format!(
            "{} {} serves {}",
            member.name,
            member.peer_id,
            member.specialists.iter().cloned().collect::<Vec<_>>().join(", ")
        ));
    }
    say(format!(
        "requester {} serves nothing itself; it asks as {} (a separate identity, replaced daily)",
        cluster.requester_id, cluster.asking_id
    ));
    say(format!("[network formed and specialists found in the DHT in {:.1} s]", started.elapsed().as_secs_f64()));
    say(format!("\n> {COMPOSITE}"));
    crate::conduct::ask(
        &cluster.requester,
        COMPOSITE,
        chorus_node::Continues::Nothing,
        crate::conduct::Output { json, show_sent: false },
        false,
    )
    .await?;
    if let Some(summary) = cluster.requester.store().list_queries(1, 0)?.first()
        && let Some(record) = cluster.requester.store().query(summary.id)?
    {
        say("\nwho served what:".to_owned());
        for subtask in &record.subtasks {
            let name = cluster.name_of(&subtask.executor).unwrap_or("?");
            say(format!(
                "  {}. {:<24} on {name} ({}) {}: {} tokens in {:.1} s, {} attempt(s)",
                subtask.index + 1,
                subtask.specialist,
                subtask.executor,
                subtask.status,
                subtask.tokens,
                subtask.elapsed_ms as f64 / 1000.0,
                subtask.attempts
            ));
        }
    }
    for member in &cluster.servers {
        if let Some(network) = member.node.network() {
            network.shutdown();
        }
    }
    Ok(())
}

fn tour(node: &Node) -> anyhow::Result<()> {
    let model = node.default_model()?;
    let info = model.info();
    println!("== Chorus demo: everything below runs on this device ==");
    println!(
        "model: {} ({}, {:.0} MB, {} parameters), loaded in {:.0} ms, {} threads, context {}",
        info.name.as_deref().unwrap_or("unnamed"),
        info.architecture,
        info.file_size as f64 / 1e6,
        info.parameters,
        model.load_ms(),
        info.threads,
        info.context,
    );

    println!("\n-- 1. A streamed answer --");
    let question = "What are three benefits of running AI models on your own device?";
    println!("> {question}");
    let request = GenerateRequest::chat(vec![ChatMessage::user(question)])
        .with_sampling(SamplingParams { temperature: 0.3, ..SamplingParams::default() })
        .with_max_tokens(160);
    let mut generation = model.generate(request)?;
    let mut stdout = std::io::stdout().lock();
    while let Some(event) = generation.blocking_next_event() {
        match event {
            GenerationEvent::Token(text) => {
                write!(stdout, "{text}")?;
                stdout.flush()?;
            }
            GenerationEvent::Done(done) => writeln!(
                stdout,
                "\n[{} tokens, first after {:.0} ms, {:.1} tokens/s]",
                done.completion_tokens,
                done.time_to_first_token_ms,
                done.generation_tokens_per_s()
            )?,
            GenerationEvent::Failed(error) => return Err(error.into()),
        }
    }
    drop(stdout);

    println!("\n-- 2. JSON forced by a grammar (what the conductor's planner will use) --");
    let request = GenerateRequest::chat(vec![ChatMessage::user(
        "Make a short plan to learn to cook, as JSON with a title and steps.",
    )])
    .with_sampling(SamplingParams { temperature: 0.5, ..SamplingParams::default() })
    .with_max_tokens(200)
    .with_constraint(Constraint::JsonSchema(PLAN_SCHEMA.to_owned()));
    let plan = model.generate(request)?.blocking_complete()?;
    let parsed: serde_json::Value = serde_json::from_str(&plan.text)?;
    println!("{}", serde_json::to_string_pretty(&parsed)?);

    println!("\n-- 3. Three questions decoded together in one batch --");
    let started = Instant::now();
    let running = TOGETHER
        .iter()
        .map(|question| {
            model.generate(
                GenerateRequest::chat(vec![ChatMessage::user(*question)])
                    .with_sampling(SamplingParams::greedy())
                    .with_max_tokens(60),
            )
        })
        .collect::<Result<Vec<_>, _>>()?;
    for (question, generation) in TOGETHER.iter().zip(running) {
        let answer = generation.blocking_complete()?;
        println!("> {question}\n{}\n", answer.text.trim());
    }
    println!("[all three in {:.1} s]", started.elapsed().as_secs_f64());

    println!("\n-- 4. The conductor: a simple question goes straight to one specialist --");
    println!("> {SIMPLE}");
    crate::runtime()?.block_on(crate::conduct::ask(
        node,
        SIMPLE,
        chorus_node::Continues::Nothing,
        crate::conduct::Output::default(),
        true,
    ))?;

    println!("\n-- 5. The conductor: a composite question is analysed, planned, run in parallel and composed --");
    println!("> {COMPOSITE}");
    crate::runtime()?.block_on(crate::conduct::ask(
        node,
        COMPOSITE,
        chorus_node::Continues::Nothing,
        crate::conduct::Output::default(),
        true,
    ))?;

    println!("\n-- 6. Two requests in one sentence, for two specialists: both are answered --");
    println!("> {TWO_REQUESTS}");
    crate::runtime()?.block_on(crate::conduct::ask(
        node,
        TWO_REQUESTS,
        chorus_node::Continues::Nothing,
        crate::conduct::Output::default(),
        true,
    ))?;
    println!(
        "\nDone. Next: `chorus ask \"…\"`, `chorus route \"…\"`, `chorus history`, `chorus models list`, `chorus bench`."
    );
    Ok(())
}
