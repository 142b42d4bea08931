//! `chorus bench --routing`: routing time and memory at the bundled
//! catalog's size and at future sizes, as a table per size or one JSON
//! object (README.md documents the fields).

use chorus_bench::{Distribution, RoutingBenchOptions, RoutingBenchReport, SizeFigures};

/// Runs the bench and prints it.
pub(crate) fn run(json: bool) -> anyhow::Result<()> {
    let report = chorus_bench::bench_routing(&RoutingBenchOptions::default())?;
    if json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        print_report(&report);
    }
    Ok(())
}

fn row(name: &str, figure: &Distribution, base: Option<&Distribution>) {
    let ratio = base.map_or(String::new(), |base| format!("  ({:.1}× bundled p99)", figure.p99_ms / base.p99_ms));
    println!(
        "  {name:<38} p50 {:>8.3}  p99 {:>8.3}  max {:>8.3} ms{ratio}",
        figure.p50_ms, figure.p99_ms, figure.max_ms
    );
}

// MiB figures for display.
#[allow(clippy::cast_precision_loss)]
fn print_report(report: &RoutingBenchReport) {
    println!(
        "routing on {} thread (sentence model threads: RAYON_NUM_THREADS={}); {} cores, load average {:?} before, \
         {:?} after; {} questions per size",
        report.threads,
        report.embed_threads.as_deref().unwrap_or("unset"),
        report.cores,
        report.load_before,
        report.load_after,
        report.questions
    );
    match (&report.semantic_model, report.specialist_vectors_ms) {
        (Some(model), Some(ms)) => {
            println!("sentence model {model}; the bundled specialists' vectors embedded in {ms:.0} ms");
        }
        _ => println!("semantic routing not measured: no sentence model (models/all-MiniLM-L6-v2) found"),
    }
    let first: Option<&SizeFigures> = report.sizes.first();
    for size in &report.sizes {
        let base = first.filter(|first| !std::ptr::eq(*first, size));
        println!(
            "\n{} specialists ({} generated), {} keywords ({} distinct)",
            size.specialists, size.generated, size.keywords, size.distinct_keywords
        );
        println!(
            "  catalog made and validated in {:.1} ms (+{:.1} MiB); Router::new {:.1} ms (+{:.1} MiB)",
            size.catalog_ms, size.catalog_rss_mib, size.router_build_ms, size.router_rss_mib
        );
        row("keywords: analyse per question", &size.keyword, base.map(|base| &base.keyword));
        if let Some(semantic) = &size.semantic {
            println!(
                "  semantic index built in {:.2} ms (+{:.1} MiB resident, {:.1} MiB of vectors)",
                semantic.index_build_ms,
                semantic.index_rss_mib,
                semantic.vector_bytes as f64 / (1024.0 * 1024.0)
            );
            let base = base.and_then(|base| base.semantic.as_ref());
            row("semantic: analyse per question", &semantic.total, base.map(|base| &base.total));
            row("  of it, embedding the question", &semantic.embedding, base.map(|base| &base.embedding));
            row("  the rest (scan, blend, keywords)", &semantic.rest, base.map(|base| &base.rest));
        }
    }
}
