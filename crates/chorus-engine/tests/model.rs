//! The engine on the real embedded model (SmolLM2-135M-Instruct Q4_1):
//! generation, JSON under a schema, cancellation, batching, broken files.
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod common;

use std::io::Write;
use std::time::{Duration, Instant};

use chorus_engine::{
    ChatMessage, Constraint, FinishReason, GenerateError, GenerateRequest, GenerationEvent, LoadError, ModelOptions,
    ModelPool, Prompt, SamplingParams,
};
use common::{engine, load, model_path};

fn ask(question: &str, max_tokens: u32) -> GenerateRequest {
    GenerateRequest::chat(vec![ChatMessage::user(question)])
        .with_sampling(SamplingParams::greedy())
        .with_max_tokens(max_tokens)
}

#[test]
fn generates_text_from_the_chat_template() {
    let model = load(&ModelOptions::default());
    assert!(model.info().has_chat_template, "SmolLM2 carries its own chat template");
    let rendered = model.render_chat(&[ChatMessage::system("Be brief."), ChatMessage::user("Hi")]).expect("renders");
    assert!(rendered.contains("<|im_start|>system\nBe brief."), "{rendered}");
    assert!(rendered.ends_with("<|im_start|>assistant\n"), "{rendered}");

    let mut generation = model.generate(ask("What is the capital of France?", 32)).expect("starts");
    let mut streamed = String::new();
    let mut tokens = 0;
    let completion = loop {
        match generation.blocking_next_event().expect("a terminal event") {
            GenerationEvent::Token(text) => {
                streamed.push_str(&text);
                tokens += 1;
            }
            GenerationEvent::Done(completion) => break completion,
            GenerationEvent::Failed(error) => panic!("generation failed: {error}"),
        }
    };
    assert!(!completion.text.trim().is_empty());
    assert_eq!(streamed, completion.text, "the stream and the completion agree");
    assert!(tokens > 1, "text arrived token by token");
    // An ASCII answer: every token shows text, and each is its own event
    // (the network protocol credits an executor one token a frame).
    assert_eq!(tokens, completion.completion_tokens, "one event a token: {:?}", completion.text);
    assert!(completion.completion_tokens >= 1 && completion.completion_tokens <= 32);
    assert!(completion.prompt_tokens > 5);
    assert!(completion.text.contains("Paris"), "greedy answer: {}", completion.text);
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct Person {
    name: String,
    age: u32,
    languages: Vec<String>,
    employed: bool,
}

#[test]
fn json_schema_output_is_valid_on_20_of_20_seeds() {
    let schema = r#"{
        "type": "object",
        "properties": {
            "name": {"type": "string", "minLength": 1, "maxLength": 40},
            "age": {"type": "integer", "minimum": 0, "maximum": 120},
            "languages": {"type": "array", "items": {"type": "string", "maxLength": 20}, "minItems": 1, "maxItems": 4},
            "employed": {"type": "boolean"}
        },
        "required": ["name", "age", "languages", "employed"],
        "additionalProperties": false
    }"#;
    let model = load(&ModelOptions::default());
    let mut generations = Vec::new();
    for seed in 1..=20u32 {
        let sampling = SamplingParams { temperature: 0.9, seed, max_tokens: 160, ..SamplingParams::default() };
        let request = GenerateRequest::chat(vec![ChatMessage::user(
            "Invent a person and describe them as JSON with name, age, languages and employed.",
        )])
        .with_sampling(sampling)
        .with_constraint(Constraint::JsonSchema(schema.to_owned()));
        generations.push((seed, model.generate(request).expect("starts")));
    }
    let mut distinct = std::collections::HashSet::new();
    for (seed, generation) in generations {
        let completion = generation.blocking_complete().expect("completes");
        assert_eq!(completion.finish_reason, FinishReason::EndOfText, "seed {seed}: {}", completion.text);
        let person: Person = serde_json::from_str(&completion.text)
            .unwrap_or_else(|error| panic!("seed {seed}: {error}: {}", completion.text));
        assert!(person.age <= 120 && !person.name.is_empty() && (1..=4).contains(&person.languages.len()));
        distinct.insert(completion.text);
    }
    assert!(distinct.len() > 1, "different seeds give different people");
}

#[test]
fn a_gbnf_grammar_constrains_the_answer() {
    let model = load(&ModelOptions::default());
    let request = ask("Is the sky green? Answer yes or no.", 8)
        .with_constraint(Constraint::Grammar(r#"root ::= "yes" | "no""#.to_owned()));
    let completion = model.generate(request).expect("starts").blocking_complete().expect("completes");
    assert!(completion.text == "yes" || completion.text == "no", "{:?}", completion.text);

    let bad = ask("x", 8).with_constraint(Constraint::Grammar("root ::= (".to_owned()));
    assert!(matches!(model.generate(bad), Err(GenerateError::InvalidConstraint(_))));
    let bad = ask("x", 8).with_constraint(Constraint::JsonSchema("{not json".to_owned()));
    assert!(matches!(model.generate(bad), Err(GenerateError::InvalidConstraint(_))));
}

#[test]
fn dropping_the_stream_cancels_within_a_few_tokens() {
    let model = load(&ModelOptions::default());
    let mut request = ask("Write a very long story about the sea.", 4000);
    request.ignore_eos = true;
    let mut generation = model.generate(request).expect("starts");
    let mut seen = 0;
    while seen < 5 {
        if let Some(GenerationEvent::Token(_)) = generation.blocking_next_event() {
            seen += 1;
        }
    }
    drop(generation);
    let at_drop = model.tokens_generated();
    // Wait until the counter stops moving (bounded).
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut last = at_drop;
    loop {
        std::thread::sleep(Duration::from_millis(150));
        let now = model.tokens_generated();
        if now == last || Instant::now() > deadline {
            last = now;
            break;
        }
        last = now;
    }
    assert!(last - at_drop <= 3, "{} tokens were generated after the drop", last - at_drop);
    // The sequence was freed: a new request runs at once.
    let completion = model.generate(ask("Say hi.", 4)).expect("starts").blocking_complete().expect("completes");
    assert!(completion.completion_tokens >= 1);
}

/// Length of the common prefix of two strings, in characters.
fn common_prefix(a: &str, b: &str) -> usize {
    a.chars().zip(b.chars()).take_while(|(x, y)| x == y).count()
}

#[test]
fn four_batched_prompts_answer_their_own_question() {
    let prompts = [
        "What is the capital of France?",
        "Write a haiku about snow.",
        "List three primary colours.",
        "Explain what a CPU does in one sentence.",
    ];
    let model = load(&ModelOptions { parallel: 4, ..ModelOptions::default() });
    let single: Vec<String> = prompts
        .iter()
        .map(|prompt| model.generate(ask(prompt, 48)).expect("starts").blocking_complete().expect("completes").text)
        .collect();
    // All four at once: they are decoded together in one batch.
    let generations = model.generate_many(prompts.iter().map(|prompt| ask(prompt, 48)).collect()).expect("starts");
    let batched: Vec<String> =
        generations.into_iter().map(|generation| generation.blocking_complete().expect("completes").text).collect();
    let mut identical = 0;
    for (index, text) in batched.iter().enumerate() {
        let own = common_prefix(text, &single[index]);
        eprintln!(
            "prompt {index}: batched == single: {}; common prefix {own} of {} chars",
            *text == single[index],
            single[index].chars().count()
        );
        if *text == single[index] {
            identical += 1;
        } else {
            eprintln!("  single:  {:?}\n  batched: {text:?}", single[index]);
        }
        // No cross-talk: each batched answer is closest to its own single run.
        for (other, other_text) in single.iter().enumerate() {
            if other != index {
                assert!(
                    own > common_prefix(text, other_text),
                    "answer {index} looks like answer {other}: {text:?} vs {other_text:?}"
                );
            }
        }
        assert!(own >= 12 || *text == single[index], "answer {index} drifted early: {text:?} vs {:?}", single[index]);
    }
    assert!(batched[0].contains("Paris"), "{}", batched[0]);
    eprintln!("{identical} of 4 batched answers are identical to their single runs");
}

#[test]
fn broken_files_are_typed_errors_and_the_process_goes_on() {
    let engine = engine();
    let dir = tempfile::tempdir().expect("temp dir");
    let real = std::fs::read(model_path()).expect("read model");

    let truncated = dir.path().join("truncated.gguf");
    std::fs::write(&truncated, &real[..real.len() / 2]).expect("write");
    let error = engine.load(&truncated, &ModelOptions::default()).expect_err("truncated");
    assert!(matches!(error, LoadError::InvalidFile(chorus_engine::GgufError::TensorPastEnd { .. })), "{error}");

    let random = dir.path().join("random.gguf");
    let mut file = std::fs::File::create(&random).expect("create");
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    let noise: Vec<u8> = (0..1 << 20)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state.to_le_bytes()[0]
        })
        .collect();
    file.write_all(&noise).expect("write");
    drop(file);
    let error = engine.load(&random, &ModelOptions::default()).expect_err("random");
    assert!(matches!(error, LoadError::InvalidFile(chorus_engine::GgufError::NotGguf { .. })), "{error}");

    let missing = dir.path().join("missing.gguf");
    let error = engine.load(&missing, &ModelOptions::default()).expect_err("missing");
    assert!(matches!(error, LoadError::InvalidFile(chorus_engine::GgufError::Open { .. })), "{error}");

    // A sound header naming an architecture llama.cpp does not know (its
    // keys renamed with it, so the header check finds what it needs).
    let mut alien = common::header::Header::real();
    let value = alien.entry("general.architecture").value_at() + 8; // after the string's length
    assert_eq!(&alien.bytes[value..value + 5], b"llama");
    alien.patch(value, b"zorgo");
    let keys: Vec<String> = alien.entries.iter().map(|entry| entry.key.clone()).collect();
    for key in keys.iter().filter(|key| key.starts_with("llama.")) {
        alien.rename_key(key, &key.replacen("llama.", "zorgo.", 1));
    }
    let alien_path = alien.write_with_data(dir.path(), "alien.gguf");
    let error = engine.load(&alien_path, &ModelOptions::default()).expect_err("alien");
    assert!(matches!(&error, LoadError::Rejected { architecture, .. } if architecture == "zorgo"), "{error}");

    // Still alive, and the real model still loads and answers.
    let model = engine.load(&model_path(), &ModelOptions::default()).expect("loads");
    let completion = model.generate(ask("Say hello.", 4)).expect("starts").blocking_complete().expect("completes");
    assert!(completion.completion_tokens >= 1);
}

#[test]
fn bad_requests_are_refused_clearly() {
    let model = load(&ModelOptions { context: 256, parallel: 1, ..ModelOptions::default() });
    assert!(matches!(model.generate(ask("   ", 8)), Err(GenerateError::EmptyPrompt)));
    let long = "word ".repeat(2000);
    assert!(matches!(model.generate(ask(&long, 8)), Err(GenerateError::PromptTooLong { limit: 255, .. })));
    let hot = ask("hi", 8).with_sampling(SamplingParams { temperature: f32::NAN, ..SamplingParams::default() });
    assert!(matches!(model.generate(hot), Err(GenerateError::InvalidSampling(_))));
    let mut bad_tokens = ask("hi", 8);
    bad_tokens.prompt = Prompt::Tokens(vec![1, -5]);
    assert!(matches!(model.generate(bad_tokens), Err(GenerateError::InvalidSampling(_))));
    // max_tokens past the context is lowered and reported.
    let mut request = ask("Count to one thousand.", 100_000);
    request.ignore_eos = true;
    let completion = model.generate(request).expect("starts").blocking_complete().expect("completes");
    assert_eq!(completion.finish_reason, FinishReason::ContextFull);
    assert_eq!(completion.prompt_tokens + completion.completion_tokens, 256);
}

#[test]
fn stop_strings_end_generation_without_showing_them() {
    let model = load(&ModelOptions::default());
    let free = model
        .generate(ask("Count from 1 to 20, separated by commas.", 64))
        .expect("starts")
        .blocking_complete()
        .expect("completes");
    assert!(free.text.contains('5'), "{}", free.text);
    let mut request = ask("Count from 1 to 20, separated by commas.", 64);
    request.sampling.stop = vec!["5".to_owned()];
    let stopped = model.generate(request).expect("starts").blocking_complete().expect("completes");
    assert_eq!(stopped.finish_reason, FinishReason::StopString);
    assert!(!stopped.text.contains('5'));
    assert!(free.text.starts_with(&stopped.text), "{:?} vs {:?}", stopped.text, free.text);
}

#[test]
fn the_pool_unloads_the_least_recently_used_model() {
    let dir = tempfile::tempdir().expect("temp dir");
    let first = model_path();
    let second = dir.path().join("second.gguf");
    std::os::unix::fs::symlink(&first, &second).expect("symlink");
    let file = std::fs::metadata(&first).expect("model").len();
    // Room for one model (its file, KV cache and buffers), not two.
    let pool = ModelPool::new(
        engine(),
        file * 2 + (16 << 20),
        ModelOptions { context: 512, parallel: 1, ..ModelOptions::default() },
    );
    pool.get(&first).expect("first loads");
    assert_eq!(pool.loaded().len(), 1);
    let model = pool.get(&second).expect("second loads");
    let loaded = pool.loaded();
    assert_eq!(loaded.len(), 1, "the first was unloaded");
    assert_eq!(loaded[0].path, second);
    assert!(pool.used() <= pool.budget());
    let completion = model.generate(ask("Hi", 4)).expect("starts").blocking_complete().expect("completes");
    assert!(completion.completion_tokens >= 1);
    let tiny = ModelPool::new(engine(), 1 << 20, ModelOptions::default());
    assert!(matches!(tiny.get(&first), Err(LoadError::OverBudget { .. })));
}

#[test]
fn unloading_a_model_ends_its_generations_and_its_thread() {
    let model = load(&ModelOptions::default());
    let mut request = ask("Write a very long story about the sea.", 4000);
    request.ignore_eos = true;
    let mut generation = model.generate(request).expect("starts");
    assert!(matches!(generation.blocking_next_event(), Some(GenerationEvent::Token(_))));
    let started = Instant::now();
    drop(model); // joins the inference thread
    assert!(started.elapsed() < Duration::from_secs(10));
    let mut last = None;
    while let Some(event) = generation.blocking_next_event() {
        last = Some(event);
    }
    assert_eq!(last, Some(GenerationEvent::Failed(GenerateError::WorkerGone)));
}

#[test]
fn llamas_own_loop_waits_for_running_generations_and_leaves_the_context_clean() {
    let model = load(&ModelOptions::default());
    let alone = model.generate(ask("What is the capital of France?", 24)).unwrap().blocking_complete().unwrap();
    // Asked while a generation runs, the bare loop waits for it to end; the
    // generation is not disturbed.
    let running = model.generate(ask("What is the capital of France?", 24)).unwrap();
    let rate = model.decode_only_tokens_per_s(64).expect("the bare loop runs");
    assert!(rate > 0.0, "{rate} tokens a second");
    assert_eq!(running.blocking_complete().unwrap().text, alone.text);
    // Twice more in a row, then a generation: every sequence starts empty.
    assert!(model.decode_only_tokens_per_s(64).unwrap() > 0.0);
    assert!(model.decode_only_tokens_per_s(64).unwrap() > 0.0);
    let after = model.generate(ask("What is the capital of France?", 24)).unwrap().blocking_complete().unwrap();
    assert_eq!(after.text, alone.text);
}
