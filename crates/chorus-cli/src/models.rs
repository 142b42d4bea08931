//! `chorus models list|recommend|pull|rm`: the model manager in a terminal.

use std::io::Write;
use std::time::{Duration, Instant};

use anyhow::Context;
use chorus_node::core::{DownloadProgress, Profile};
use chorus_node::{CancellationToken, ModelListing, ModelRecommendation, Node, PullOptions, PullOutcome};
use clap::{Args, Subcommand};

/// Arguments of `chorus models`.
#[derive(Debug, Args)]
pub(crate) struct ModelsArgs {
    #[command(subcommand)]
    command: ModelsCommand,
}

#[derive(Debug, Subcommand)]
enum ModelsCommand {
    /// Every base model and specialist, and what is installed.
    List {
        /// Print one JSON object instead of tables.
        #[arg(long)]
        json: bool,
    },
    /// The 2–5 specialists that fit a profile, and why.
    Recommend(RecommendArgs),
    /// Download and verify a base model (or a specialist's base model).
    #[command(visible_alias = "install")]
    Pull {
        /// Base model or specialist id (see `chorus models list`).
        id: String,
        /// Install it even if the catalog has no sha256 for it: its file
        /// cannot be checked, so a changed or malicious file would run as
        /// it is. Its sha256 is recorded at this first install and any later
        /// change is refused.
        #[arg(long)]
        allow_unverified: bool,
        /// Progress and result as JSON lines on standard output.
        #[arg(long)]
        json: bool,
    },
    /// Delete an installed base model (or a specialist's base model).
    Rm {
        /// Base model or specialist id.
        id: String,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Args)]
struct RecommendArgs {
    /// Your profession, e.g. "marketer".
    #[arg(long)]
    profession: String,
    /// Skills, comma-separated.
    #[arg(long, value_delimiter = ',')]
    skills: Vec<String>,
    /// Languages you speak, comma-separated codes or names (en,es).
    #[arg(long, value_delimiter = ',')]
    languages: Vec<String>,
    /// Interests, comma-separated.
    #[arg(long, value_delimiter = ',')]
    interests: Vec<String>,
    /// Disk space for models, e.g. 500MB, 2GB, 1.5GiB.
    #[arg(long, default_value = "2GB", value_parser = parse_size)]
    storage: u64,
    /// Memory available to run a model, e.g. 4GB.
    #[arg(long, value_parser = parse_size)]
    memory: Option<u64>,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

/// Parses a size: a number with an optional unit, B, KB/MB/GB/TB (powers
/// of 1000, also K/M/G/T) or KiB/MiB/GiB/TiB (powers of 1024), any case.
fn parse_size(text: &str) -> Result<u64, String> {
    let trimmed = text.trim();
    let split = trimmed.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(trimmed.len());
    let (number, unit) = trimmed.split_at(split);
    let invalid = || format!("{text:?} is not a size; write e.g. 500MB, 2GB or 1.5GiB");
    let value: f64 = number.parse().map_err(|_| invalid())?;
    let multiplier: f64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "k" | "kb" => 1e3,
        "m" | "mb" => 1e6,
        "g" | "gb" => 1e9,
        "t" | "tb" => 1e12,
        "kib" => 1024.0,
        "mib" => 1024.0 * 1024.0,
        "gib" => 1024.0 * 1024.0 * 1024.0,
        "tib" => 1024.0 * 1024.0 * 1024.0 * 1024.0,
        _ => return Err(invalid()),
    };
    let bytes = value * multiplier;
    if !bytes.is_finite() || bytes < 1.0 || bytes >= u64::MAX as f64 {
        return Err(format!("{text:?} is not a usable size; write e.g. 500MB, 2GB or 1.5GiB"));
    }
    Ok(bytes.round() as u64)
}

/// Runs `chorus models …`.
pub(crate) fn run(node: &Node, args: ModelsArgs) -> anyhow::Result<()> {
    match args.command {
        ModelsCommand::List { json } => list(node, json),
        ModelsCommand::Recommend(args) => recommend(node, args),
        ModelsCommand::Pull { id, allow_unverified, json } => pull(node, &id, PullOptions { allow_unverified }, json),
        ModelsCommand::Rm { id, json } => remove(node, &id, json),
    }
}

/// A byte count for people: `98.4 MB`.
fn human_bytes(bytes: u64) -> String {
    let bytes = bytes as f64;
    if bytes >= 1e9 {
        format!("{:.2} GB", bytes / 1e9)
    } else if bytes >= 1e6 {
        format!("{:.1} MB", bytes / 1e6)
    } else if bytes >= 1e3 {
        format!("{:.1} kB", bytes / 1e3)
    } else {
        format!("{bytes:.0} B")
    }
}

fn verified_mark(verified: bool) -> &'static str {
    if verified { "verified" } else { "unverified" }
}

fn list(node: &Node, json: bool) -> anyhow::Result<()> {
    let listing = node.list_models()?;
    if json {
        println!("{}", serde_json::to_string(&listing)?);
        return Ok(());
    }
    print_listing(&listing);
    Ok(())
}

fn print_listing(listing: &ModelListing) {
    println!("Base models (install directory: {})", listing.install_dir.display());
    println!("{:<36} {:>10}  {:<10}  {:<30}  {:>5}  installed", "id", "size", "sha256", "licence", "used");
    for base in &listing.base_models {
        let installed = match (&base.installed_path, base.installed_verified) {
            (Some(path), Some(false)) => format!("{} (unverified download)", path.display()),
            (Some(path), _) => path.display().to_string(),
            (None, _) => "-".to_owned(),
        };
        println!(
            "{:<36} {:>10}  {:<10}  {:<30}  {:>5}  {}",
            base.id,
            human_bytes(base.size_bytes),
            verified_mark(base.verified),
            base.license,
            base.specialists,
            installed
        );
    }
    let runnable = listing.specialists.iter().filter(|s| s.runnable).count();
    println!();
    println!("Specialists ({} of {} runnable here)", runnable, listing.specialists.len());
    println!("{:<32} {:<36} {:>10}  {:<10}  runnable", "id", "base model", "size", "sha256");
    for specialist in &listing.specialists {
        println!(
            "{:<32} {:<36} {:>10}  {:<10}  {}",
            specialist.id,
            specialist.base_model,
            human_bytes(specialist.size_bytes),
            verified_mark(specialist.verified),
            if specialist.runnable { "yes" } else { "no (pull its base model)" }
        );
    }
}

fn recommend(node: &Node, args: RecommendArgs) -> anyhow::Result<()> {
    let clean = |values: Vec<String>| -> Vec<String> {
        values.into_iter().map(|v| v.trim().to_owned()).filter(|v| !v.is_empty()).collect()
    };
    let profile = Profile {
        profession: args.profession,
        skills: clean(args.skills),
        languages: clean(args.languages),
        interests: clean(args.interests),
        storage_budget_bytes: args.storage,
        memory_bytes: args.memory,
    };
    let recommendations = node.recommend_models(&profile)?;
    if args.json {
        println!("{}", serde_json::to_string(&recommendations)?);
        return Ok(());
    }
    print_recommendations(&recommendations);
    Ok(())
}

fn print_recommendations(recommendations: &[ModelRecommendation]) {
    for (rank, recommendation) in recommendations.iter().enumerate() {
        let install = if recommendation.installed {
            "installed".to_owned()
        } else {
            format!("needs {} download", human_bytes(recommendation.download_bytes))
        };
        println!(
            "{}. {} — {} [{}; {}; base {}]",
            rank + 1,
            recommendation.specialist_id,
            recommendation.name,
            verified_mark(recommendation.verified),
            install,
            recommendation.base_model
        );
        for reason in &recommendation.reasons {
            println!("     - {reason}");
        }
    }
}

/// Draws progress on stderr (or JSON lines on stdout), at most ten times
/// a second.
struct ProgressView {
    json: bool,
    last: Option<Instant>,
    drawn: bool,
}

impl ProgressView {
    const INTERVAL: Duration = Duration::from_millis(100);

    fn update(&mut self, progress: DownloadProgress) {
        let finished = progress.total.is_some_and(|total| progress.downloaded >= total);
        if !finished && self.last.is_some_and(|last| last.elapsed() < Self::INTERVAL) {
            return;
        }
        self.last = Some(Instant::now());
        if self.json {
            println!(
                "{}",
                serde_json::json!({
                    "event": "progress",
                    "downloaded": progress.downloaded,
                    "total": progress.total,
                    "bytes_per_second": progress.bytes_per_second,
                    "eta_seconds": progress.eta_seconds,
                })
            );
            return;
        }
        let rate = format!("{}/s", human_bytes(progress.bytes_per_second as u64));
        let eta = progress.eta_seconds.map_or_else(|| "--".to_owned(), format_eta);
        let line = match progress.total.filter(|total| *total > 0) {
            Some(total) => {
                let fraction = (progress.downloaded as f64 / total as f64).clamp(0.0, 1.0);
                let width = 30;
                let filled = (fraction * width as f64).round() as usize;
                format!(
                    "[{}{}] {:>5.1}%  {} / {}  {}  ETA {}",
                    "#".repeat(filled),
                    "-".repeat(width - filled),
                    fraction * 100.0,
                    human_bytes(progress.downloaded),
                    human_bytes(total),
                    rate,
                    eta
                )
            }
            None => format!("{}  {}", human_bytes(progress.downloaded), rate),
        };
        let mut stderr = std::io::stderr().lock();
        let _ = write!(stderr, "\r{line:<90}");
        let _ = stderr.flush();
        self.drawn = true;
    }

    fn finish(&mut self) {
        if self.drawn {
            eprintln!();
            self.drawn = false;
        }
    }
}

fn format_eta(seconds: f64) -> String {
    let seconds = seconds.max(0.0).round() as u64;
    if seconds >= 3600 {
        format!("{}h{:02}m", seconds / 3600, (seconds % 3600) / 60)
    } else if seconds >= 60 {
        format!("{}m{:02}s", seconds / 60, seconds % 60)
    } else {
        format!("{seconds}s")
    }
}

/// The warning printed before an unverified model is installed.
fn unverified_warning(node: &Node, id: &str) -> Option<String> {
    let catalog = node.catalog();
    let base = catalog.base_model(id).or_else(|| catalog.specialist(id).and_then(|s| catalog.base_model_of(s)))?;
    (!base.is_verified()).then(|| {
        format!(
            "WARNING: {} is unverified: the catalog has no sha256 for it, so nothing checks that the file is the \
             model it claims to be; a changed or malicious file would run as it is. Installing it because \
             --allow-unverified was given; its sha256 is recorded now, and a later change to it is refused.",
            base.id
        )
    })
}

fn pull(node: &Node, id: &str, options: PullOptions, json: bool) -> anyhow::Result<()> {
    if options.allow_unverified
        && let Some(warning) = unverified_warning(node, id)
    {
        eprintln!("{warning}");
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let cancel = CancellationToken::new();
    let mut view = ProgressView { json, last: None, drawn: false };
    let result = runtime.block_on(async {
        let on_ctrl_c = cancel.clone();
        let watcher = tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                on_ctrl_c.cancel();
            }
        });
        if !json {
            eprintln!("pulling {id} into {}", node.models_dir().display());
        }
        let result = node.pull(id, options, |progress| view.update(progress), cancel.clone()).await;
        watcher.abort();
        result
    });
    view.finish();
    let outcome = match result {
        Ok(outcome) => outcome,
        Err(error) => {
            if json {
                println!("{}", chorus_node::ErrorReply::new(error.code(), error.to_string()).to_event());
            }
            return Err(error.into());
        }
    };
    if json {
        let mut event = serde_json::to_value(&outcome)?;
        if let Some(object) = event.as_object_mut() {
            object.insert("event".to_owned(), "installed".into());
        }
        println!("{event}");
    } else {
        print_pulled(&outcome);
    }
    Ok(())
}

fn print_pulled(outcome: &PullOutcome) {
    let how = if outcome.already_present { "already installed" } else { "installed" };
    println!("{} {how}: {} ({})", outcome.id, outcome.path.display(), human_bytes(outcome.bytes));
    if outcome.verified {
        println!("verified: size and sha256 {} match the catalog", outcome.sha256);
    } else {
        println!(
            "UNVERIFIED: the catalog has no sha256 for {}, so the file could not be checked (sha256 {})",
            outcome.id, outcome.sha256
        );
    }
}

fn remove(node: &Node, id: &str, json: bool) -> anyhow::Result<()> {
    let removed = node.remove_model(id)?;
    if json {
        println!("{}", serde_json::to_string(&removed)?);
        return Ok(());
    }
    println!("removed {}", removed.id);
    for file in &removed.files {
        println!("  deleted {}", file.display());
    }
    if removed.registry_entry {
        println!("  forgot its entry in the installed registry");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_with_decimal_and_binary_units() {
        let cases = [
            ("500MB", 500_000_000),
            ("2GB", 2_000_000_000),
            ("2 gb", 2_000_000_000),
            ("1.5GiB", 1_610_612_736),
            ("1024", 1024),
            ("4G", 4_000_000_000),
            ("64KiB", 65_536),
        ];
        for (text, bytes) in cases {
            assert_eq!(parse_size(text), Ok(bytes), "{text}");
        }
        for text in ["", "lots", "GB", "-1GB", "2XB", "1.2.3GB", "0", "NaNGB"] {
            assert!(parse_size(text).is_err(), "{text} should be refused");
        }
    }

    #[test]
    fn eta_is_readable() {
        assert_eq!(format_eta(5.2), "5s");
        assert_eq!(format_eta(125.0), "2m05s");
        assert_eq!(format_eta(7300.0), "2h01m");
    }
}
