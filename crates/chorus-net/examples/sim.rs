//! The network simulation: real Chorus nodes over libp2p's memory transport.
//!
//! ```sh
//! cargo run --release -p chorus-net --example sim -- --nodes 200 --lookups 500
//! ```
//!
//! Options (all optional): `--nodes`, `--seeds`, `--bootstrap-peers`,
//! `--specialists`, `--providers`, `--requesters`, `--lookups`,
//! `--concurrency`, `--phase-ms`, `--crash`, `--hang` (fractions), `--join-batch`,
//! `--join-interval-ms`, `--settle-ms`, `--quiet-cores`, `--failure-settle-ms`,
//! `--lookup-timeout-ms`, `--seed`, and the node settings `--alpha`
//! (Kademlia parallelism), `--idle-timeout-ms`, `--substream-timeout-ms`,
//! `--dial-timeout-ms`, `--ping-interval-ms`, `--quarantine-ms` (0: off).
//! Prints the Markdown table, then the
//! report as JSON. `RUST_LOG` turns on logs.

use std::time::Duration;

use chorus_net::sim::{self, SimConfig};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("off")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .init();
    let config = parse(std::env::args().skip(1))?;
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let report = runtime.block_on(sim::run(config))?;
    println!("{}", report.to_markdown());
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(())
}

fn parse(mut args: impl Iterator<Item = String>) -> Result<SimConfig, String> {
    let mut config = SimConfig::default();
    while let Some(flag) = args.next() {
        let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let number = || value.parse::<u64>().map_err(|error| format!("{flag} {value}: {error}"));
        let count = || number().map(|n| usize::try_from(n).unwrap_or(usize::MAX));
        let ms = || number().map(Duration::from_millis);
        let share = || value.parse::<f64>().map_err(|error| format!("{flag} {value}: {error}"));
        match flag.as_str() {
            "--nodes" => config.nodes = count()?,
            "--seeds" => config.seeds = count()?,
            "--bootstrap-peers" => config.bootstrap_peers = count()?,
            "--specialists" => config.specialists = count()?,
            "--providers" => config.providers_per_specialist = count()?,
            "--requesters" => config.requesters = count()?,
            "--lookups" => config.lookups_per_phase = count()?,
            "--concurrency" => config.lookup_concurrency = count()?,
            "--phase-ms" => config.phase_duration = ms()?,
            "--crash" => config.crash_fraction = share()?,
            "--hang" => config.hang_fraction = share()?,
            "--join-batch" => config.join_batch = count()?,
            "--join-interval-ms" => config.join_interval = ms()?,
            "--settle-ms" => config.settle = ms()?,
            "--quiet-cores" => config.quiet_cores = share()?,
            "--failure-settle-ms" => config.failure_settle = ms()?,
            "--lookup-timeout-ms" => config.lookup_timeout = ms()?,
            "--seed" => config.seed = number()?,
            "--alpha" => config.net.kad_parallelism = count()?,
            "--idle-timeout-ms" => config.net.idle_timeout = ms()?,
            "--substream-timeout-ms" => config.net.substream_timeout = ms()?,
            "--dial-timeout-ms" => config.net.dial_timeout = ms()?,
            "--ping-interval-ms" => config.net.ping_interval = ms()?,
            "--quarantine-ms" => config.net.quarantine = ms()?,
            other => return Err(format!("unknown option {other}")),
        }
    }
    Ok(config)
}
