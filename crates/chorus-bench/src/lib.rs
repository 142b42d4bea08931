//! Chorus measured: the network simulation behind `chorus sim` and the
//! benchmarks behind `chorus bench` (the engine's speed and memory) and
//! `chorus bench --network` (what the network adds to a sub-task),
//! `chorus bench --routing` (routing time and memory at future catalog
//! sizes), `chorus bench --api` (what the OpenAI-compatible server adds to
//! a request, and several clients at once), and
//! `chorus eval` (routing, planning and answers against labelled sets). They
//! live here, not in the libraries they measure; `chorus-cli` prints what
//! they report (README.md documents the output and the `--json` fields).
//!
//! The simulation runs many real [`chorus_net::Network`]s in one process and
//! hangs some of them with the network's `test-hooks` feature
//! (`Network::freeze`), which this crate turns on.

mod api;
mod engine;
mod eval;
mod network;
mod privacy;
mod procfs;
mod scale;
mod sim;
mod stats;

pub use api::{API_BENCH_SPECIALIST, ApiBenchError, ApiBenchOptions, ApiBenchReport, ClientsRound, bench_api};
pub use engine::{BatchFigures, BenchOptions, BenchReport, ConductorFigures, GrammarFigures, bench};
pub use eval::{
    AnswerOutcome, AnswersReport, LabelledPart, LabelledPartOutcome, PLAN_SET, PlanCase, PlanGroup, PlanMiss,
    PlansReport, ROUTING_SET, RoutingCase, RoutingGroup, RoutingMiss, RoutingReport, SetError, chosen_specialist,
    evaluate_answers, evaluate_plans, evaluate_routing, parse_plan_set, parse_routing_set,
};
pub use network::{
    DispatchFigures, DispatchReport, Distribution, NetworkBenchOptions, NetworkBenchReport, ParallelFigures,
    ParallelRound, bench_network,
};
pub use privacy::{COMPOSITE_SET, PrivacyBenchOptions, PrivacyReport, QuestionShare, bench_privacy};
pub use scale::{
    RoutingBenchError, RoutingBenchOptions, RoutingBenchReport, SEED as ROUTING_BENCH_SEED, SemanticFigures,
    SizeFigures, bench_routing, generated_catalog,
};
pub use sim::{LookupSweep, Phase, PhaseReport, SimConfig, SimReport, TaskReport, run as simulate};
