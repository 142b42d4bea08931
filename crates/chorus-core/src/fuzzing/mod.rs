//! The bodies of the fuzz targets over this crate (`fuzz/` at the
//! repository's root), behind the `fuzzing` feature: each takes the
//! fuzzer's bytes and panics when an invariant breaks. The crate's
//! `tests/fuzz_corpus.rs` replays the checked-in corpus through the same
//! functions on the stable toolchain.

mod admission;

use std::collections::BTreeSet;
use std::sync::Arc;

use crate::catalog::{Catalog, FALLBACK_SPECIALIST, Profile, recommend};
use crate::plan::{PlanRules, PlanSource, RawPlan, SubtaskStatus, next_actions, repair_plan};
use crate::routing::{AllSpecialists, QueryKind, Router};

pub use admission::admission_queue;

/// The fuzzer's bytes read front to back as small numbers and pieces; past
/// the end every read gives zero or nothing, so any input is a whole case.
#[derive(Debug, Clone)]
pub struct Input<'a> {
    bytes: &'a [u8],
}

impl<'a> Input<'a> {
    /// Reads `bytes`.
    #[must_use]
    pub fn new(bytes: &'a [u8]) -> Self {
        Self { bytes }
    }

    /// The next byte (0 past the end).
    pub fn byte(&mut self) -> u8 {
        let Some((&first, rest)) = self.bytes.split_first() else { return 0 };
        self.bytes = rest;
        first
    }

    /// The bytes up to the next `separator` (dropped), or all that is left.
    pub fn until(&mut self, separator: u8) -> &'a [u8] {
        match self.bytes.iter().position(|byte| *byte == separator) {
            Some(at) => {
                let (part, rest) = self.bytes.split_at(at);
                self.bytes = &rest[1..];
                part
            }
            None => self.rest(),
        }
    }

    /// Everything left.
    pub fn rest(&mut self) -> &'a [u8] {
        std::mem::take(&mut self.bytes)
    }

    /// Whether nothing is left.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }
}

/// `plan_repair`: the conductor model's output, whatever it is, through
/// the parse and the repair the conductor applies.
///
/// The input: one byte of `max_subtasks` (0–15), one of `min_specialists`
/// (0–3), the reachable specialist ids separated by `,` up to a newline,
/// then the model's text. Text that decodes as a [`RawPlan`] is repaired;
/// the re-router sends a task to the reachable specialist whose id it
/// contains, if any. A repaired plan keeps the rules it promises: numbered
/// in order, at most `max_subtasks` steps of reachable specialists, at
/// least `min_specialists` of them distinct (and at least one step), tasks
/// trimmed and not empty, no task twice for one specialist, dependencies
/// only on earlier steps, sorted and unique (so no cycle); a plan taken as
/// written has no repairs. [`next_actions`] then drives it to its end.
pub fn plan_repair(data: &[u8]) {
    let mut input = Input::new(data);
    let max_subtasks = usize::from(input.byte() % 16);
    let min_specialists = usize::from(input.byte() % 4);
    let reachable: BTreeSet<String> =
        String::from_utf8_lossy(input.until(b'\n')).split(',').filter(|id| !id.is_empty()).map(str::to_owned).collect();
    let text = String::from_utf8_lossy(input.rest());
    let Ok(raw) = serde_json::from_str::<RawPlan>(&text) else { return };
    let rules = PlanRules { reachable: &reachable, max_subtasks, min_specialists };
    let reroute = |task: &str| reachable.iter().find(|id| task.contains(id.as_str())).cloned();
    let Some(plan) = repair_plan(&raw, &rules, reroute) else { return };

    assert!(!plan.subtasks.is_empty(), "a plan has a step");
    assert!(plan.subtasks.len() <= max_subtasks, "at most max_subtasks steps: {plan:?}");
    let distinct: BTreeSet<&str> = plan.subtasks.iter().map(|step| step.specialist.as_str()).collect();
    assert!(distinct.len() >= min_specialists, "{plan:?}");
    let mut seen = BTreeSet::new();
    for (index, step) in plan.subtasks.iter().enumerate() {
        assert_eq!(step.index, index, "steps numbered in order");
        assert!(reachable.contains(&step.specialist), "a reachable specialist: {step:?}");
        assert!(!step.task.is_empty() && step.task.trim() == step.task, "a trimmed task: {step:?}");
        assert!(seen.insert((step.specialist.clone(), step.task.to_lowercase())), "no task twice: {step:?}");
        assert!(step.depends_on.windows(2).all(|pair| pair[0] < pair[1]), "sorted, unique: {step:?}");
        assert!(step.depends_on.iter().all(|&earlier| earlier < index), "earlier steps only: {step:?}");
    }
    assert_eq!(plan.source == PlanSource::Model, plan.repairs.is_empty(), "{plan:?}");

    // Every step either runs or is skipped, and the plan ends.
    let mut statuses = vec![SubtaskStatus::Pending; plan.subtasks.len()];
    for round in 0..=plan.subtasks.len() {
        let next = next_actions(&plan, &statuses);
        if next.finished {
            return;
        }
        assert!(!next.start.is_empty() || !next.skip.is_empty(), "a pending plan makes progress: {statuses:?}");
        for index in next.skip {
            statuses[index] = SubtaskStatus::Skipped;
        }
        for index in next.start {
            // Every third step fails, so skipping is exercised too.
            statuses[index] = if (index + round) % 3 == 2 { SubtaskStatus::Failed } else { SubtaskStatus::Done };
        }
    }
    panic!("the plan did not end in {} rounds: {statuses:?}", plan.subtasks.len() + 1);
}

/// `catalog`: any text as a catalog file, then what the app does with a
/// catalog it loaded.
///
/// The input: the catalog's text, then (after a zero byte) a question and
/// a profile's profession. A catalog [`Catalog::from_json`] accepts holds
/// what the loader promises: its version, the fallback specialist, unique
/// ids, every specialist's base model present, at most one embedded base
/// model. Recommending for a profile and routing a question over it do not
/// panic and name only specialists of the catalog.
pub fn catalog(data: &[u8]) {
    let mut input = Input::new(data);
    let text = String::from_utf8_lossy(input.until(0));
    let question = String::from_utf8_lossy(input.until(0)).into_owned();
    let profession = String::from_utf8_lossy(input.rest()).into_owned();
    let Ok(catalog) = Catalog::from_json(&text) else { return };

    assert_eq!(catalog.version(), crate::catalog::CATALOG_VERSION);
    assert!(catalog.specialist(FALLBACK_SPECIALIST).is_some(), "the fallback specialist is there");
    let base_ids: BTreeSet<&str> = catalog.base_models().iter().map(|base| base.id.as_str()).collect();
    assert_eq!(base_ids.len(), catalog.base_models().len(), "base model ids are unique");
    let specialist_ids: BTreeSet<&str> = catalog.specialists().iter().map(|s| s.id.as_str()).collect();
    assert_eq!(specialist_ids.len(), catalog.specialists().len(), "specialist ids are unique");
    for specialist in catalog.specialists() {
        assert!(catalog.base_model_of(specialist).is_some(), "{} has its base model", specialist.id);
        let _ = catalog.is_specialist_verified(specialist);
    }
    assert!(catalog.base_models().iter().filter(|base| base.embedded).count() <= 1, "one embedded model at most");
    let _ = catalog.embedded_base_model();
    for language in catalog.translation_languages() {
        assert!(catalog.translator_for(language).is_some(), "a translator for {language}");
    }

    let profile = Profile {
        profession: profession.clone(),
        skills: vec![question.clone()],
        languages: vec![profession],
        interests: Vec::new(),
        storage_budget_bytes: u64::MAX,
        memory_bytes: None,
    };
    if let Ok(recommended) = recommend(&catalog, &profile) {
        for recommendation in recommended {
            assert!(specialist_ids.contains(recommendation.specialist_id.as_str()), "{recommendation:?}");
        }
    }
    let specialist_ids: BTreeSet<String> = specialist_ids.into_iter().map(str::to_owned).collect();
    let router = Router::new(Arc::new(catalog));
    let analysis = router.analyse(&question, &AllSpecialists);
    let named = match &analysis.kind {
        QueryKind::Simple { specialist_id } => vec![specialist_id.clone()],
        QueryKind::Composite { specialist_ids } => specialist_ids.clone(),
    };
    for id in named.iter().chain(analysis.ranking.iter().map(|score| &score.specialist_id)) {
        assert!(specialist_ids.contains(id), "routed to {id}, not in the catalog");
    }
}
