//! `chorus eval routing`: is the specialist a question goes to first one
//! of those that fit it? Overall, per variant and per domain, with the time
//! each analysis took.

use std::collections::BTreeMap;
use std::time::Instant;

use chorus_core::{AllSpecialists, Router};
use serde::Serialize;

use super::{RoutingCase, chosen_specialist, kind_name, share};
use crate::stats::{millis_f64, percentile};

/// Questions and hits of one variant or domain.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct RoutingGroup {
    /// Questions in the group.
    pub questions: usize,
    /// Those whose chosen specialist fits.
    pub hits: usize,
    /// `hits / questions`, 0–1.
    pub accuracy: f64,
}

/// A question whose chosen specialist does not fit.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RoutingMiss {
    /// Its id in the set.
    pub id: String,
    /// The question.
    pub question: String,
    /// Its variant.
    pub variant: String,
    /// Its domain.
    pub domain: String,
    /// `simple` or `composite`.
    pub kind: String,
    /// The specialist it went to first.
    pub chosen: String,
    /// The specialists that fit it.
    pub fits: Vec<String>,
    /// The router's reason.
    pub reason: String,
}

/// What `chorus eval routing` reports.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RoutingReport {
    /// Where the questions came from: `built-in` or the `--set` file.
    pub set: String,
    /// Questions evaluated.
    pub questions: usize,
    /// Questions whose chosen specialist is in their `fits`.
    pub hits: usize,
    /// `hits / questions`, 0–1.
    pub accuracy: f64,
    /// Per variant (`plain`, `paraphrase`, `typo`, …).
    pub by_variant: BTreeMap<String, RoutingGroup>,
    /// Per domain.
    pub by_domain: BTreeMap<String, RoutingGroup>,
    /// Questions the router found composite.
    pub composite: usize,
    /// One analysis (the router's `analyse`, every specialist reachable),
    /// milliseconds: median.
    pub route_ms_p50: f64,
    /// The same, 99th percentile.
    pub route_ms_p99: f64,
    /// The same, the slowest.
    pub route_ms_max: f64,
    /// Every miss, in set order.
    pub misses: Vec<RoutingMiss>,
}

/// Routes every case through `router` (every specialist reachable) and
/// scores it: a hit when the specialist the question goes to first is in
/// its `fits`.
#[must_use]
pub fn evaluate_routing(router: &Router, cases: &[RoutingCase], set: &str) -> RoutingReport {
    let mut times = Vec::with_capacity(cases.len());
    let mut hits = 0;
    let mut composite = 0;
    let mut by_variant: BTreeMap<String, RoutingGroup> = BTreeMap::new();
    let mut by_domain: BTreeMap<String, RoutingGroup> = BTreeMap::new();
    let mut misses = Vec::new();
    for case in cases {
        let started = Instant::now();
        let analysis = router.analyse(&case.question, &AllSpecialists);
        times.push(millis_f64(started.elapsed()));
        let chosen = chosen_specialist(&analysis);
        let hit = case.fits.contains(&chosen);
        composite += usize::from(analysis.is_composite());
        for group in
            [by_variant.entry(case.variant.clone()).or_default(), by_domain.entry(case.domain.clone()).or_default()]
        {
            group.questions += 1;
            group.hits += usize::from(hit);
        }
        if hit {
            hits += 1;
        } else {
            misses.push(RoutingMiss {
                id: case.id.clone(),
                question: case.question.clone(),
                variant: case.variant.clone(),
                domain: case.domain.clone(),
                kind: kind_name(&analysis).to_owned(),
                chosen,
                fits: case.fits.clone(),
                reason: analysis.reason.clone(),
            });
        }
    }
    for group in by_variant.values_mut().chain(by_domain.values_mut()) {
        group.accuracy = share(group.hits, group.questions);
    }
    times.sort_by(f64::total_cmp);
    RoutingReport {
        set: set.to_owned(),
        questions: cases.len(),
        hits,
        accuracy: share(hits, cases.len()),
        by_variant,
        by_domain,
        composite,
        route_ms_p50: percentile(&times, 0.5).unwrap_or(0.0),
        route_ms_p99: percentile(&times, 0.99).unwrap_or(0.0),
        route_ms_max: times.last().copied().unwrap_or(0.0),
        misses,
    }
}
