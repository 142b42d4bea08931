//! `chorus bench --privacy`: what privacy costs and how much of a question
//! a peer gets. Redaction and restoration are timed on 2 KB texts full of
//! personal data (one core, the conductor's own code); the context share is
//! measured on a set of multi-part questions planned by the real conductor
//! model: for each, the share of the question's words that its largest
//! sub-task carries.

use std::time::Instant;

use chorus_core::{Recogniser, Redactor, context_share};
use chorus_node::{Node, NodeConfig, NodeError};
use serde::Serialize;

use crate::stats::percentile;

/// Multi-part questions, none of them in the routing tests: two to four
/// parts each, some with personal data and context sentences.
pub const COMPOSITE_SET: &[&str] = &[
    "Write a short marketing plan for my bakery, with the pricing maths for three cake sizes and a Spanish tagline.",
    "I'm launching a budgeting app next month. Write the landing page copy, and give me a Python function that \
     rounds amounts to cents.",
    "Draft a polite email to my landlord about the broken heating; also explain how to bleed a radiator.",
    "Plan a three-day trip to Lisbon for two, and write a short Instagram caption for the first day.",
    "My name is Priya Raman. Summarise the GDPR rules on storing customer e-mail addresses, and write a SQL query \
     that deletes customers inactive for two years.",
    "Create a weekly meal plan for a vegetarian family of four; then write a shopping list as a spreadsheet layout.",
    "Explain what a p-value is, and give me a Python function that runs a t-test on two lists.",
    "Write a cover letter for a junior data analyst job, and suggest three questions to ask at the interview.",
    "Outline a 10-slide pitch deck for a solar panel startup, with a revenue forecast for three years.",
    "Translate 'the meeting moved to Friday' into French, and write a short apology to the client for the delay.",
    "Review this Rust snippet for bugs: fn add(a: i32, b: i32) -> i32 { a - b }; also write unit tests for it.",
    "Give me a beginner workout plan for three days a week, and a simple high-protein breakfast recipe.",
    "Write a product description for handmade soap, an SEO title for it, and a price that leaves a 40% margin on a \
     cost of 3 euros.",
    "Explain how compound interest works, and write a JavaScript function that computes it monthly.",
    "Write a haiku about autumn; then explain the rules of the haiku form.",
];

/// Options of the privacy bench.
#[derive(Debug, Clone)]
pub struct PrivacyBenchOptions {
    /// The node whose conductor plans the questions.
    pub node: NodeConfig,
    /// Timed rounds of redaction and restoration (after one warm-up).
    pub repetitions: u32,
}

impl Default for PrivacyBenchOptions {
    fn default() -> Self {
        Self { node: NodeConfig::default(), repetitions: 200 }
    }
}

/// One multi-part question: its parts and the largest share a part carries.
#[derive(Debug, Clone, Serialize)]
pub struct QuestionShare {
    /// The question.
    pub question: String,
    /// `composite`, `split` (a simple question that asks several things, split
    /// by request for peers) or `simple` (one part: it goes whole).
    pub kind: String,
    /// Sub-tasks of its plan.
    pub parts: usize,
    /// The share of the question's words its largest sub-task carries, 0–1.
    pub largest_share: f64,
}

/// What `chorus bench --privacy` reports.
#[derive(Debug, Clone, Serialize)]
pub struct PrivacyReport {
    /// Bytes of each timed text.
    pub text_bytes: usize,
    /// Values replaced in each timed text.
    pub values_per_text: usize,
    /// Redaction of one text, microseconds: median and p99.
    pub redact_us_p50: f64,
    /// p99 of the same.
    pub redact_us_p99: f64,
    /// Restoration of the redacted text, microseconds: median.
    pub restore_us_p50: f64,
    /// The reference, timed in the same rounds: one e-mail regex scanning
    /// the same text, microseconds, median.
    pub reference_us_p50: f64,
    /// Questions of the set the conductor answers as one part: they go
    /// whole (redacted) to one executor.
    pub planned_simple: usize,
    /// Simple questions that ask several things: split by request when a
    /// peer runs them, each part a task of its own.
    pub split_for_peers: usize,
    /// Each question of the set.
    pub questions: Vec<QuestionShare>,
    /// The median over the questions sent in parts (composite and split)
    /// of their largest share.
    pub median_largest_share: f64,
    /// Questions sent in parts whose largest sub-task carries the whole
    /// question (share ≥ 0.95).
    pub whole_question_sent: usize,
}

/// A 2 KB text with personal data of every kind, as a person might paste.
fn sample_text() -> String {
    let block = "Hi, I'm Priya Raman (priya.raman@example.com, +44 7911 123456). My card is 4111 1111 1111 1111 \
and my IBAN DE89 3704 0044 0532 0130 00. Server 203.0.113.24, token ghp_4Qw8Zr2Lk9Tn7Vb3Xc6Md1Fs5Hj0Gp8Ya2Ue. \
Please review the quarterly plan and tell me what to cut from the marketing budget this year. ";
    let mut text = String::new();
    while text.len() + block.len() <= 2048 {
        text.push_str(block);
    }
    text
}

/// Runs the bench.
///
/// # Errors
/// [`NodeError::InvalidBench`] for zero repetitions; any error of starting
/// the node or of the conductor model.
pub fn bench_privacy(options: &PrivacyBenchOptions) -> Result<PrivacyReport, NodeError> {
    if options.repetitions == 0 {
        return Err(NodeError::InvalidBench("repetitions must be ≥1".to_owned()));
    }
    let text = sample_text();
    let recogniser = Recogniser::new(&["Priya Raman".to_owned()]);
    let mut redact = Vec::new();
    let mut restore = Vec::new();
    let mut reference = Vec::new();
    let mut values = 0;
    // The reference: the cheapest scan there is, one e-mail regex over the
    // same text, timed in the same rounds.
    let email = regex::Regex::new(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
        .map_err(|error| NodeError::InvalidBench(error.to_string()))?;
    for round in 0..=options.repetitions {
        let started = Instant::now();
        let emails = email.find_iter(&text).count();
        let scanned_in = started.elapsed();
        if emails == 0 {
            return Err(NodeError::InvalidBench("the reference scan found no e-mail".to_owned()));
        }
        let redactor = Redactor::new(recogniser.clone());
        let started = Instant::now();
        let redaction = redactor.redact(&text);
        let redacted_in = started.elapsed();
        let started = Instant::now();
        let restored = redactor.restore(&redaction.text);
        let restored_in = started.elapsed();
        if restored.len() < redaction.text.len() / 2 {
            return Err(NodeError::InvalidBench("restoration lost the text".to_owned()));
        }
        values = redaction.items.len();
        if round > 0 {
            reference.push(scanned_in.as_secs_f64() * 1e6);
            redact.push(redacted_in.as_secs_f64() * 1e6);
            restore.push(restored_in.as_secs_f64() * 1e6);
        }
    }
    redact.sort_by(f64::total_cmp);
    restore.sort_by(f64::total_cmp);
    reference.sort_by(f64::total_cmp);

    let node = Node::start(options.node.clone())?;
    let conductor = node.on_device_conductor();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|error| NodeError::InvalidBench(error.to_string()))?;
    let mut questions = Vec::new();
    for question in COMPOSITE_SET {
        let question = question.split_whitespace().collect::<Vec<_>>().join(" ");
        let analysis = runtime.block_on(conductor.analyse(&question))?;
        let (kind, tasks) = match analysis.kind {
            chorus_core::QueryKind::Composite { .. } => {
                let plan = runtime.block_on(conductor.plan(&question, &analysis))?;
                ("composite", plan.subtasks.into_iter().map(|step| step.task).collect::<Vec<_>>())
            }
            // A simple question that asks several things is split when a
            // peer runs it (as in this bench: the shares are of what a peer
            // would receive); one that asks one thing goes whole.
            chorus_core::QueryKind::Simple { .. } => match conductor.split_for_peers(&question, &analysis) {
                Some(plan) => ("split", plan.subtasks.into_iter().map(|step| step.task).collect::<Vec<_>>()),
                None => ("simple", vec![question.clone()]),
            },
        };
        let largest = tasks.iter().map(|task| context_share(&question, task)).fold(0.0, f64::max);
        questions.push(QuestionShare { question, kind: kind.to_owned(), parts: tasks.len(), largest_share: largest });
    }
    let mut composite: Vec<f64> =
        questions.iter().filter(|share| share.kind != "simple").map(|share| share.largest_share).collect();
    composite.sort_by(f64::total_cmp);
    Ok(PrivacyReport {
        text_bytes: text.len(),
        values_per_text: values,
        redact_us_p50: percentile(&redact, 0.5).unwrap_or(0.0),
        redact_us_p99: percentile(&redact, 0.99).unwrap_or(0.0),
        restore_us_p50: percentile(&restore, 0.5).unwrap_or(0.0),
        reference_us_p50: percentile(&reference, 0.5).unwrap_or(0.0),
        planned_simple: questions.iter().filter(|share| share.kind == "simple").count(),
        split_for_peers: questions.iter().filter(|share| share.kind == "split").count(),
        whole_question_sent: composite.iter().filter(|share| **share >= 0.95).count(),
        median_largest_share: percentile(&composite, 0.5).unwrap_or(0.0),
        questions,
    })
}
