//! `cargo bench -p chorus-embed`: the embedder on the real model.
//!
//! Times one short question (15 words) and a batch of 32 specialist
//! descriptions, each with one thread and with candle's default (every
//! physical core), and reports the load time and how much resident memory
//! loading and running the model adds. candle reads its thread count from
//! the environment once per process, so each setting runs in a child
//! process of this one.

use std::error::Error;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use chorus_embed::Embedder;

const CHILD: &str = "CHORUS_EMBED_BENCH_CHILD";

const QUESTION: &str = "How do I temper dark chocolate at home so that my bonbons stay glossy and snap?";

const DESCRIPTIONS: [&str; 32] = [
    "Rust engineer: Writes, explains and fixes Rust code: ownership, borrowing, lifetimes, traits, async and Cargo.",
    "Python developer: Writes and debugs Python: scripts, packages, typing, virtual environments and the standard library.",
    "SQL & database engineer: Designs schemas and writes, explains and tunes SQL for PostgreSQL, MySQL and SQLite.",
    "DevOps & cloud engineer: Helps with CI/CD, containers, Kubernetes, infrastructure as code, monitoring and cloud deployment.",
    "Statistician: Explains and applies statistics: descriptive stats, distributions, hypothesis tests, confidence intervals.",
    "Machine learning engineer: Helps choose, train, evaluate and debug machine learning models, from classic ML to neural networks.",
    "Marketing strategist: Builds marketing strategies: positioning, target segments, channels, budgets and measurable goals.",
    "Copywriter: Writes persuasive copy: headlines, landing pages, ads, product descriptions and calls to action.",
    "SEO specialist: Improves search visibility: keyword research, on-page SEO, technical SEO, content briefs and links.",
    "Personal budgeting coach: Helps build a household budget, track spending, set savings goals and pay down debt.",
    "Accounting assistant: Explains bookkeeping and accounting: journal entries, financial statements, accruals and reconciliations.",
    "Loans & mortgage calculator: Calculates loan and mortgage payments, interest, amortisation and the cost of credit.",
    "General health information: Explains symptoms, conditions, tests and how the healthcare system works, in plain language.",
    "Nutrition information: Explains nutrition: macronutrients, balanced diets, food labels and evidence behind popular diets.",
    "Fitness coach: Designs general workout plans and explains exercise technique, progression, warm-up and recovery.",
    "Contract research assistant: Explains contract clauses, common terms and risks, and helps structure contract drafts.",
    "Tenancy & housing law research assistant: Explains renting rules: leases, deposits, repairs, rent increases and eviction.",
    "UX designer: Improves user experience: user research, journeys, information architecture, usability and wireframes.",
    "Accessibility specialist: Makes products accessible: WCAG, screen readers, keyboard navigation, contrast and inclusive design.",
    "Editor & proofreader: Edits and proofreads text for grammar, clarity, concision, tone and consistency.",
    "Technical writer: Writes documentation: READMEs, how-to guides, API references, release notes and tutorials.",
    "Speechwriter: Writes speeches and talks: wedding toasts, keynotes, eulogies, presentations and pitches.",
    "Math tutor: Tutors mathematics from arithmetic to calculus step by step, checking understanding along the way.",
    "History tutor: Explains historical events, causes and consequences, and helps with essays and source analysis.",
    "Spanish translator: Translates between English and Spanish in both directions, keeping meaning, tone and formatting.",
    "German translator: Translates between English and German in both directions, keeping meaning, tone and formatting.",
    "Product manager: Helps with product discovery, roadmaps, prioritisation, user stories, PRDs and product metrics.",
    "Negotiation coach: Prepares negotiations: goals, BATNA, anchors, concessions and scripts for salaries, deals and suppliers.",
    "Recruiter: Helps hire: job descriptions, sourcing, screening questions, structured interviews and candidate communication.",
    "Customer support agent: Drafts helpful, empathetic customer support replies and macros for email, chat and tickets.",
    "Travel planner: Plans trips: itineraries, budgets, routes, packing lists and local tips.",
    "Cooking assistant: Suggests recipes, adapts them to ingredients and diets, scales quantities and explains techniques.",
];

fn main() -> Result<(), Box<dyn Error>> {
    if std::env::var_os(CHILD).is_some() {
        return measure();
    }
    println!("chorus-embed bench: all-MiniLM-L6-v2 on candle (CPU), {} cores online", cores());
    for (label, threads) in [("1 thread", Some("1")), ("default threads", None)] {
        let mut command = Command::new(std::env::current_exe()?);
        command.env(CHILD, label);
        match threads {
            Some(n) => command.env("RAYON_NUM_THREADS", n).env("CANDLE_NUM_THREADS", n),
            None => command.env_remove("RAYON_NUM_THREADS").env_remove("CANDLE_NUM_THREADS"),
        };
        let status = command.status()?;
        if !status.success() {
            return Err(format!("the {label} run failed: {status}").into());
        }
    }
    Ok(())
}

fn measure() -> Result<(), Box<dyn Error>> {
    let label = std::env::var(CHILD)?;
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../models/all-MiniLM-L6-v2");
    let rss_before = memory("VmRSS:");
    let start = Instant::now();
    let embedder = Embedder::load(&dir).map_err(|error| format!("{error} (run scripts/setup.sh)"))?;
    let load = start.elapsed();
    let rss_loaded = memory("VmRSS:");
    println!("\n[{label}] load {:.0} ms; resident memory +{} MiB after load", ms(load), mib(rss_loaded - rss_before));

    let words = QUESTION.split_whitespace().count();
    let single = time(200, Duration::from_secs(20), || embedder.embed(&[QUESTION]).map(drop))?;
    report(&format!("1 question ({words} words)"), &single, 1);
    let batch = time(30, Duration::from_secs(60), || embedder.embed(&DESCRIPTIONS).map(drop))?;
    report("batch of 32 descriptions", &batch, DESCRIPTIONS.len());
    let rss_after = memory("VmRSS:");
    let peak = memory("VmHWM:");
    println!(
        "[{label}] resident memory +{} MiB after the runs (peak {} MiB for the whole process)",
        mib(rss_after - rss_before),
        mib(peak)
    );
    Ok(())
}

/// Runs `work` a few times unmeasured, then up to `runs` times (or until
/// `budget` is spent, at least 10 runs), and returns the sorted durations.
fn time<E: Error + 'static>(
    runs: usize,
    budget: Duration,
    mut work: impl FnMut() -> Result<(), E>,
) -> Result<Vec<Duration>, Box<dyn Error>> {
    for _ in 0..3 {
        work()?;
    }
    let started = Instant::now();
    let mut durations = Vec::with_capacity(runs);
    while durations.len() < runs && (durations.len() < 10 || started.elapsed() < budget) {
        let start = Instant::now();
        work()?;
        durations.push(start.elapsed());
    }
    durations.sort();
    Ok(durations)
}

fn report(what: &str, sorted: &[Duration], texts: usize) {
    let label = std::env::var(CHILD).unwrap_or_default();
    let median = sorted[sorted.len() / 2];
    let p99 = sorted[((sorted.len() * 99).div_ceil(100)).saturating_sub(1)];
    println!(
        "[{label}] {what}: median {:.2} ms, p99 {:.2} ms, min {:.2} ms over {} runs ({:.0} texts/s at the median)",
        ms(median),
        ms(p99),
        ms(sorted[0]),
        sorted.len(),
        texts as f64 / median.as_secs_f64()
    );
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

fn mib(kib: i64) -> i64 {
    kib / 1024
}

/// A line of /proc/self/status in KiB (0 where there is no /proc).
fn memory(key: &str) -> i64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|line| line.strip_prefix(key).and_then(|rest| rest.split_whitespace().next()?.parse().ok()))
        })
        .unwrap_or(0)
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}
