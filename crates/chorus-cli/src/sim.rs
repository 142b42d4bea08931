//! `chorus sim`: many real network nodes in this process, over libp2p's
//! memory transport; provider lookups on the healthy network, after a share
//! of the nodes crashed and after a further share hung; with `--hostile`,
//! strangers that provide everything and answer nothing, and tasks placed
//! as a node places them.

use std::time::Duration;

use anyhow::Context as _;
use chorus_bench::{SimConfig, simulate};
use clap::Args;

#[derive(Debug, Args)]
pub(crate) struct SimArgs {
    /// Nodes in the network, seeds included.
    #[arg(long, default_value_t = 200)]
    nodes: usize,
    /// Provider lookups measured in each phase.
    #[arg(long, default_value_t = 500)]
    lookups: usize,
    /// Distinct specialists announced in the DHT.
    #[arg(long, default_value_t = 20)]
    specialists: usize,
    /// Nodes announcing each specialist.
    #[arg(long, default_value_t = 3)]
    providers: usize,
    /// Share of the nodes that crash before the second phase (0–0.9).
    #[arg(long, default_value_t = 0.2)]
    crash: f64,
    /// Share of the nodes that hang before the third phase (0–0.9).
    #[arg(long, default_value_t = 0.2)]
    hang: f64,
    /// Kademlia requests in flight per lookup (α).
    #[arg(long)]
    alpha: Option<usize>,
    /// Share of the nodes other than the requesters that are hostile
    /// (0–0.9): they provide every specialist, lie in their status and
    /// answer every task with an error or by hanging.
    #[arg(long, default_value_t = 0.0)]
    hostile: f64,
    /// Hostile nodes state an honest provider's speed and slots instead of
    /// figures no device reaches (which the protocol's limits catch).
    #[arg(long)]
    hostile_plausible: bool,
    /// Providers each lookup of the placement phase asks for (default: what
    /// a node asks for).
    #[arg(long)]
    want: Option<usize>,
    /// Providers asked for their status per attempt (default: what a node
    /// asks).
    #[arg(long)]
    probes: Option<usize>,
    /// Seed of every random choice.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Print the report as one JSON object instead of a table.
    #[arg(long)]
    json: bool,
}

/// Seeds for a network of `nodes`: 4, fewer for small networks (the
/// requesters likewise: 10, fewer), and one per 50 nodes beyond 200. A seed
/// takes newcomers up to its limit of incoming connections, and those of
/// a network that joins within minutes are all still open (a connection
/// closes once idle for a while): with 4 seeds, a 400-node network left
/// nodes 220 to 400 without a single peer (BENCHMARKS.md). A real network
/// joins over weeks, and its devices know peers from earlier sessions.
fn seeds_for(nodes: usize) -> usize {
    (nodes / 50).max((nodes / 10).clamp(1, 4))
}

pub(crate) fn run(args: &SimArgs) -> anyhow::Result<()> {
    for (name, share) in [("--crash", args.crash), ("--hang", args.hang)] {
        anyhow::ensure!((0.0..=0.9).contains(&share), "{name} must be a share between 0 and 0.9, not {share}");
    }
    anyhow::ensure!(args.crash + args.hang <= 0.9, "--crash and --hang together must leave a tenth of the nodes up");
    anyhow::ensure!(args.lookups > 0, "--lookups must be at least 1");
    anyhow::ensure!(args.alpha != Some(0), "--alpha must be at least 1");
    anyhow::ensure!(
        (0.0..=0.9).contains(&args.hostile),
        "--hostile must be a share between 0 and 0.9, not {}",
        args.hostile
    );
    anyhow::ensure!(args.want != Some(0) && args.probes != Some(0), "--want and --probes must be at least 1");
    let mut config = SimConfig {
        nodes: args.nodes,
        seeds: seeds_for(args.nodes),
        requesters: (args.nodes / 4).clamp(1, 10),
        lookups_per_phase: args.lookups,
        specialists: args.specialists,
        providers_per_specialist: args.providers,
        crash_fraction: args.crash,
        hang_fraction: args.hang,
        hostile_fraction: args.hostile,
        hostile_plausible: args.hostile_plausible,
        seed: args.seed,
        ..SimConfig::default()
    };
    if let Some(alpha) = args.alpha {
        config.net.kad_parallelism = alpha;
    }
    if let Some(want) = args.want {
        config.providers_wanted = want;
    }
    if let Some(probes) = args.probes {
        config.probes = probes;
    }
    // Stop early, and loudly, rather than simulating for ever.
    let limit = Duration::from_secs(30 * 60);
    let report = crate::runtime()?
        .block_on(async { tokio::time::timeout(limit, simulate(config)).await })
        .context("the simulation took more than 30 minutes")??;
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        print!("{}", report.to_markdown());
    }
    if report.all_succeeded() { Ok(()) } else { anyhow::bail!("some lookups found no provider") }
}
