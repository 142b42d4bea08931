//! `chorus eval routing|plans|answers`: the router, the planner's parts and
//! the answers measured against the labelled sets chorus-bench embeds (or a
//! `--set` file in the same format).

use std::io::Write;
use std::path::PathBuf;

use chorus_bench::{AnswersReport, PlanCase, PlansReport, RoutingReport};
use chorus_node::Node;
use clap::{Args, ValueEnum};

use crate::conduct::UsageError;

/// What `chorus eval` measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Measure {
    /// Is the specialist each question goes to first one that fits it?
    Routing,
    /// Are multi-part questions recognised, and does each part reach a
    /// specialist that fits it?
    Plans,
    /// Ask the first questions of the planning set (real model, on this
    /// device): how much of each part the answer keeps.
    Answers,
}

/// `chorus eval`.
#[derive(Debug, Args)]
pub(crate) struct EvalArgs {
    /// What to measure.
    measure: Measure,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    json: bool,
    /// A set file instead of the built-in one: JSON lines in the format of
    /// crates/chorus-bench/data/eval/routing.jsonl (for `routing`) or
    /// plans.jsonl (for `plans` and `answers`).
    #[arg(long, value_name = "FILE")]
    set: Option<PathBuf>,
    /// Only the first N questions of the set (`answers`: default 5; the
    /// others: all).
    #[arg(long, value_name = "N")]
    limit: Option<usize>,
}

/// Questions `answers` asks unless `--limit` says otherwise.
const DEFAULT_ANSWERS: usize = 5;
/// Misses listed in the text output.
const MISSES_SHOWN: usize = 15;

/// Runs `chorus eval`.
pub(crate) fn run(node: &Node, args: &EvalArgs) -> anyhow::Result<()> {
    if args.limit == Some(0) {
        return Err(UsageError("--limit must be at least 1".to_owned()).into());
    }
    let (text, name) = match &args.set {
        Some(path) => (
            std::fs::read_to_string(path)
                .map_err(|error| UsageError(format!("cannot read the set {}: {error}", path.display())))?,
            path.display().to_string(),
        ),
        None => {
            let built_in =
                if args.measure == Measure::Routing { chorus_bench::ROUTING_SET } else { chorus_bench::PLAN_SET };
            (built_in.to_owned(), "built-in".to_owned())
        }
    };
    let bad_set = |error: chorus_bench::SetError| UsageError(format!("the set {name}: {error}"));
    // Routing is measured as `chorus ask` routes: with semantic routing
    // when its model is here.
    if !node.wait_for_semantic_routing(crate::conduct::SEMANTIC_WAIT) {
        tracing::info!("routing by keywords: semantic routing is not ready");
    }
    let conductor = node.conductor();
    match args.measure {
        Measure::Routing => {
            let mut cases = chorus_bench::parse_routing_set(&text).map_err(bad_set)?;
            cases.truncate(args.limit.unwrap_or(usize::MAX));
            let report = chorus_bench::evaluate_routing(conductor.router(), &cases, &name);
            show(&report, args.json, print_routing)?;
        }
        Measure::Plans => {
            let mut cases = chorus_bench::parse_plan_set(&text).map_err(bad_set)?;
            cases.truncate(args.limit.unwrap_or(usize::MAX));
            let report = chorus_bench::evaluate_plans(conductor.router(), &cases, &name);
            show(&report, args.json, print_plans)?;
        }
        Measure::Answers => {
            let cases: Vec<PlanCase> = chorus_bench::parse_plan_set(&text).map_err(bad_set)?;
            let limit = args.limit.unwrap_or(DEFAULT_ANSWERS);
            if !args.json {
                eprintln!("asking {} question(s) on this device; each takes a while", limit.min(cases.len()));
            }
            let report = crate::runtime()?.block_on(chorus_bench::evaluate_answers(&conductor, &cases, limit, &name));
            show(&report, args.json, print_answers)?;
        }
    }
    Ok(())
}

/// Prints `report`: as one JSON object, or with `text`. A closed pipe
/// (`chorus eval routing | head`) ends the output quietly.
fn show<R: serde::Serialize>(
    report: &R,
    json: bool,
    text: fn(&mut dyn Write, &R) -> std::io::Result<()>,
) -> anyhow::Result<()> {
    let mut stdout = std::io::stdout().lock();
    let written = if json { writeln!(stdout, "{}", serde_json::to_string(report)?) } else { text(&mut stdout, report) };
    match written.and_then(|()| stdout.flush()) {
        Err(error) if error.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => Ok(other?),
    }
}

fn percent(share: f64) -> String {
    format!("{:5.1} %", share * 100.0)
}

/// `text` on one line, cut to `chars` characters.
fn shorten(text: &str, chars: usize) -> String {
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if text.chars().count() <= chars {
        return text;
    }
    let mut short: String = text.chars().take(chars.saturating_sub(1)).collect();
    short.push('…');
    short
}

fn print_routing(out: &mut dyn Write, report: &RoutingReport) -> std::io::Result<()> {
    writeln!(
        out,
        "routing ({} set): {} of {} questions go first to a specialist that fits: {}",
        report.set,
        report.hits,
        report.questions,
        percent(report.accuracy).trim()
    )?;
    writeln!(
        out,
        "analyse per question: p50 {:.3} ms, p99 {:.3} ms, max {:.3} ms; {} found composite",
        report.route_ms_p50, report.route_ms_p99, report.route_ms_max, report.composite
    )?;
    writeln!(out, "\n{:<16} {:>9} {:>6} {:>9}", "variant", "questions", "hits", "accuracy")?;
    for (variant, group) in &report.by_variant {
        writeln!(out, "{variant:<16} {:>9} {:>6} {:>9}", group.questions, group.hits, percent(group.accuracy))?;
    }
    writeln!(out, "\n{:<16} {:>9} {:>6} {:>9}", "domain", "questions", "hits", "accuracy")?;
    for (domain, group) in &report.by_domain {
        writeln!(out, "{domain:<16} {:>9} {:>6} {:>9}", group.questions, group.hits, percent(group.accuracy))?;
    }
    if report.misses.is_empty() {
        return Ok(());
    }
    writeln!(out, "\nfirst {} of {} misses:", report.misses.len().min(MISSES_SHOWN), report.misses.len())?;
    for miss in report.misses.iter().take(MISSES_SHOWN) {
        writeln!(
            out,
            "  {} [{}] → {} (fits {}): {}",
            miss.id,
            miss.variant,
            miss.chosen,
            miss.fits.join(", "),
            shorten(&miss.question, 90)
        )?;
    }
    Ok(())
}

fn print_plans(out: &mut dyn Write, report: &PlansReport) -> std::io::Result<()> {
    let overall = &report.overall;
    writeln!(out, "plans ({} set): {} questions, {} parts", report.set, overall.questions, overall.parts)?;
    writeln!(
        out,
        "recognised as multi-part {} ({}; {} composite), parts covered {} ({}), every part covered {} ({})",
        percent(overall.recognised_share).trim(),
        overall.recognised,
        report.composite,
        percent(overall.parts_covered_share).trim(),
        overall.parts_covered,
        percent(overall.all_covered_share).trim(),
        overall.all_covered
    )?;
    writeln!(
        out,
        "\n{:<16} {:>9} {:>10} {:>13} {:>12}",
        "style", "questions", "recognised", "parts covered", "all covered"
    )?;
    for (style, group) in &report.by_style {
        writeln!(
            out,
            "{style:<16} {:>9} {:>10} {:>13} {:>12}",
            group.questions,
            percent(group.recognised_share),
            percent(group.parts_covered_share),
            percent(group.all_covered_share)
        )?;
    }
    if report.misses.is_empty() {
        return Ok(());
    }
    writeln!(out, "\nfirst {} of {} misses:", report.misses.len().min(MISSES_SHOWN), report.misses.len())?;
    for miss in report.misses.iter().take(MISSES_SHOWN) {
        let recognised = if miss.recognised { "" } else { ", not recognised" };
        writeln!(out, "  {} [{}] {}{recognised}: {}", miss.id, miss.style, miss.kind, shorten(&miss.question, 80))?;
        for part in miss.parts.iter().filter(|part| !part.covered) {
            writeln!(
                out,
                "      {:?} → {} (fits {})",
                shorten(&part.text, 50),
                part.specialist.as_deref().unwrap_or("nothing"),
                part.fits.join(", ")
            )?;
        }
    }
    Ok(())
}

fn print_answers(out: &mut dyn Write, report: &AnswersReport) -> std::io::Result<()> {
    writeln!(out, "answers ({} set), {} questions on this device:", report.set, report.questions)?;
    writeln!(out, "{:<6} {:>5} {:>5} {:>9} {:>9} {:>8}", "id", "parts", "done", "min cov", "mean cov", "seconds")?;
    let coverage = |value: Option<f64>| value.map_or_else(|| "-".to_owned(), percent);
    for answer in &report.answers {
        writeln!(
            out,
            "{:<6} {:>5} {:>5} {:>9} {:>9} {:>8.1}{}",
            answer.id,
            answer.parts,
            answer.done_parts,
            coverage(answer.min_coverage),
            coverage(answer.mean_coverage),
            answer.seconds,
            answer.error.as_ref().map(|error| format!("  failed: {error}")).unwrap_or_default()
        )?;
    }
    writeln!(
        out,
        "done parts kept at ≥50 %: {} of {} ({}); mean coverage {}; {:.0} s in all",
        report.covered_parts,
        report.done_parts,
        percent(report.covered_share).trim(),
        percent(report.mean_coverage).trim(),
        report.seconds
    )?;
    Ok(())
}
