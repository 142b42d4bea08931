//! `chorus demo`: what runs on this device, step by step, on the real model.

use std::io::Write;
use std::time::Instant;

use chorus_node::{ChatMessage, Constraint, GenerateRequest, GenerationEvent, Node, SamplingParams};

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
const COMPOSITE: &str =
    "Write a short marketing plan for a new budgeting app, with the pricing maths for three tiers and a Spanish tagline.";

const TOGETHER: [&str; 3] = [
    "Give one tip for saving money on groceries.",
    "Name a good first programming language and say why.",
    "Suggest a name for a friendly robot.",
];

pub(crate) fn run(node: &Node) -> anyhow::Result<()> {
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
    crate::conduct::ask(node, SIMPLE, false)?;

    println!("\n-- 5. The conductor: a composite question is analysed, planned, run in parallel and synthesised --");
    println!("> {COMPOSITE}");
    crate::conduct::ask(node, COMPOSITE, false)?;
    println!("\nDone. Next: `chorus ask \"…\"`, `chorus route \"…\"`, `chorus history`, `chorus models list`, `chorus bench`.");
    Ok(())
}
