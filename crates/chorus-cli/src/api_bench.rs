//! `chorus bench --api`: the OpenAI-compatible server's cost to a request
//! and four clients at once, as a table or one JSON object (README.md
//! documents the fields).

use chorus_bench::{ApiBenchReport, Distribution};

/// Prints the report.
pub(crate) fn print(report: &ApiBenchReport, json: bool) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string(report)?);
        return Ok(());
    }
    println!("model      {} (specialist {})", report.model, report.specialist);
    println!(
        "machine    {} cores, load average {:?} before, {:?} after; {:.0} s",
        report.cores, report.load_before, report.load_after, report.elapsed_s
    );
    println!("time to first token, same request, greedy, alternating:");
    row("engine (Node::chat_with_specialist)", &report.engine_first_token);
    row("API (HTTP on loopback, streamed)", &report.api_first_token);
    println!(
        "  API / engine median: {:.3}× ({:+.2} ms); goal ≤ 1.05× + 2 ms: {}",
        report.first_token_ratio,
        report.first_token_overhead_ms,
        if report.first_token_within_goal { "met" } else { "NOT met" }
    );
    println!("{} clients × {} tokens, {} rounds:", report.clients, report.tokens, report.rounds.len());
    for (index, round) in report.rounds.iter().enumerate() {
        println!(
            "  round {:>2}: API one after another {:>6.0} ms, at once {:>6.0} ms (tokens {:?} / {:?}); engine {:>6.0} / {:>6.0} ms",
            index + 1,
            round.sequential_ms,
            round.concurrent_ms,
            round.sequential_tokens,
            round.concurrent_tokens,
            round.engine_sequential_ms,
            round.engine_concurrent_ms
        );
    }
    println!(
        "  median, API: one after another {:.0} ms, at once {:.0} ms: {:.2}× faster at once",
        report.sequential_ms, report.concurrent_ms, report.speedup
    );
    println!(
        "  median, engine directly: {:.0} ms and {:.0} ms: {:.2}×; API at once / engine at once {:.3}×",
        report.engine_sequential_ms,
        report.engine_concurrent_ms,
        report.engine_speedup,
        report.concurrent_ms / report.engine_concurrent_ms
    );
    Ok(())
}

fn row(name: &str, figure: &Distribution) {
    println!(
        "  {name:<38} p50 {:>8.2}  p90 {:>8.2}  p99 {:>8.2}  min {:>8.2} ms ({} samples)",
        figure.p50_ms, figure.p90_ms, figure.p99_ms, figure.min_ms, figure.samples
    );
}
