//! The scoring of `chorus eval` on tiny hand-made sets and analyses.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::float_cmp)]

use std::sync::Arc;

use chorus_core::{Analysis, Catalog, Clause, Domain, QueryKind, Router, SpecialistScore};

use super::plans::{locate, overlap, score_parts};
use super::{
    LabelledPart, PLAN_SET, PlanCase, ROUTING_SET, RoutingCase, chosen_specialist, evaluate_plans, evaluate_routing,
    parse_plan_set, parse_routing_set,
};

fn router() -> Router {
    Router::new(Arc::new(Catalog::bundled().expect("bundled catalog")))
}

fn clause(text: &str, best: Option<&str>, context: bool) -> Clause {
    Clause {
        text: text.to_owned(),
        best: best.map(|id| SpecialistScore {
            specialist_id: id.to_owned(),
            domain: Domain::Software,
            score: 1.0,
            matched: Vec::new(),
            semantic: None,
        }),
        context,
        translator: None,
    }
}

fn analysis(kind: QueryKind, clauses: Vec<Clause>) -> Analysis {
    Analysis { kind, reason: String::new(), ranking: Vec::new(), clauses }
}

fn composite(ids: &[&str]) -> QueryKind {
    QueryKind::Composite { specialist_ids: ids.iter().map(|id| (*id).to_owned()).collect() }
}

fn part(text: &str, fits: &[&str]) -> LabelledPart {
    LabelledPart { text: text.to_owned(), fits: fits.iter().map(|id| (*id).to_owned()).collect() }
}

const TWO_PARTS: &str =
    "We sell soap. Write a Python function that reverses a string, and translate 'good morning' into Spanish.";

fn two_parts_case() -> PlanCase {
    PlanCase {
        id: "t1".to_owned(),
        question: TWO_PARTS.to_owned(),
        parts: vec![
            part("Write a Python function that reverses a string", &["software.python"]),
            part("translate 'good morning' into Spanish", &["translate.es"]),
        ],
        style: "and".to_owned(),
    }
}

#[test]
fn the_built_in_sets_parse_whole() {
    assert_eq!(parse_routing_set(ROUTING_SET).expect("routing set").len(), ROUTING_SET.lines().count());
    assert_eq!(parse_plan_set(PLAN_SET).expect("plan set").len(), PLAN_SET.lines().count());
}

#[test]
fn a_malformed_line_is_named() {
    let good = r#"{"id":"r1","question":"Hi?","fits":["general.assistant"],"domain":"general","variant":"plain"}"#;
    let error = parse_routing_set(&format!("{good}\n\n{{\"id\": \"r2\"\n")).unwrap_err();
    assert_eq!(error.line, 3, "{error}");
    let no_fits = good.replace(r#"["general.assistant"]"#, "[]");
    assert_eq!(parse_routing_set(&no_fits).unwrap_err().line, 1);
    assert_eq!(parse_routing_set("\n").unwrap_err().message, "the set has no questions");
    let stray = r#"{"id":"p1","question":"Do a and b.","parts":[{"text":"do c","fits":["x"]}],"style":"and"}"#;
    let error = parse_plan_set(stray).unwrap_err();
    assert!(error.to_string().starts_with("line 1: part \"do c\" is not a substring"), "{error}");
}

#[test]
fn a_composite_goes_first_to_its_first_request() {
    let clauses = vec![clause("We sell soap.", Some("business.x"), true), clause("Write code", None, false)];
    assert_eq!(chosen_specialist(&analysis(composite(&["a.b", "c.d"]), clauses.clone())), "a.b");
    let mut clauses = clauses;
    clauses.push(clause("and more", Some("c.d"), false));
    clauses[1].best = Some(clauses[2].best.clone().unwrap());
    assert_eq!(chosen_specialist(&analysis(composite(&["a.b", "c.d"]), clauses)), "c.d");
    let simple = QueryKind::Simple { specialist_id: "software.rust".to_owned() };
    assert_eq!(chosen_specialist(&analysis(simple, Vec::new())), "software.rust");
}

#[test]
fn routing_counts_hits_per_variant_and_domain() {
    let question = "Write a Python script that renames all the .jpeg files in a folder to .jpg.";
    let case = |id: &str, fits: &str, variant: &str| RoutingCase {
        id: id.to_owned(),
        question: question.to_owned(),
        fits: vec![fits.to_owned()],
        domain: "software".to_owned(),
        variant: variant.to_owned(),
    };
    let cases = vec![
        case("a", "software.python", "plain"),
        case("b", "legal.contracts", "plain"),
        case("c", "software.python", "typo"),
    ];
    let report = evaluate_routing(&router(), &cases, "tiny");
    assert_eq!((report.questions, report.hits), (3, 2));
    assert!((report.accuracy - 2.0 / 3.0).abs() < 1e-9);
    assert_eq!((report.by_variant["plain"].questions, report.by_variant["plain"].hits), (2, 1));
    assert_eq!(report.by_variant["typo"].accuracy, 1.0);
    assert_eq!(report.by_domain["software"].hits, 2);
    assert_eq!(report.misses.len(), 1);
    assert_eq!((report.misses[0].id.as_str(), report.misses[0].chosen.as_str()), ("b", "software.python"));
    assert!(report.route_ms_p50 <= report.route_ms_p99 && report.route_ms_p99 <= report.route_ms_max);
}

#[test]
fn parts_follow_the_request_clause_that_overlaps_them_most() {
    let case = two_parts_case();
    let clauses = vec![
        clause("We sell soap.", Some("business.x"), true),
        clause("Write a Python function that reverses a string", Some("software.python"), false),
        clause("translate 'good morning' into Spanish", None, false),
    ];
    let parts = score_parts(&case, &analysis(composite(&["software.python", "general.assistant"]), clauses.clone()));
    assert_eq!(parts.iter().map(|part| part.covered).collect::<Vec<_>>(), [true, false]);
    assert_eq!(parts[1].specialist.as_deref(), Some("general.assistant"), "no best: the general assistant");
    // One merged clause over both parts: each part goes to its best.
    let merged = vec![clause(TWO_PARTS.trim_start_matches("We sell soap. "), Some("translate.es"), false)];
    let parts = score_parts(&case, &analysis(composite(&["translate.es", "software.python"]), merged));
    assert_eq!(parts.iter().map(|part| part.covered).collect::<Vec<_>>(), [false, true]);
    // A simple question: every part goes to its specialist.
    let simple = QueryKind::Simple { specialist_id: "software.python".to_owned() };
    let parts = score_parts(&case, &analysis(simple, clauses));
    assert_eq!(parts.iter().map(|part| part.covered).collect::<Vec<_>>(), [true, false]);
    // A part only a context clause overlaps reaches no one in a composite.
    let context_only = vec![clause("We sell soap.", Some("business.x"), true), clause("and", None, false)];
    let case = PlanCase { parts: vec![part("We sell soap", &["business.x"])], ..two_parts_case() };
    let parts = score_parts(&case, &analysis(composite(&["a.b", "c.d"]), context_only));
    assert_eq!((parts[0].covered, parts[0].specialist.as_deref()), (false, None));
}

#[test]
fn spans_are_found_in_order_and_measured_in_characters() {
    let text = "Größe and größe and more";
    let first = locate(text, "größe", 0).unwrap();
    assert_eq!(locate(text, "größe", first.end).unwrap(), first, "only one exact match");
    assert_eq!(locate(text, "and", 9).unwrap().start, text.rfind("and").unwrap());
    assert_eq!(locate(text, "and", 8).unwrap().start, 8);
    let whole = 0..text.len();
    assert_eq!(overlap(text, &whole, &(0.."Größe".len())), 5);
    assert_eq!(overlap(text, &(0..3), &(5..9)), 0);
}

#[test]
fn plans_count_recognised_and_covered_parts_per_style() {
    // A single request is not recognised as multi-part; its one part is
    // covered when the specialist fits.
    let one = PlanCase {
        id: "t2".to_owned(),
        question: "Write a Python script that renames all the .jpeg files in a folder to .jpg.".to_owned(),
        parts: vec![part("Write a Python script", &["software.python"])],
        style: "single".to_owned(),
    };
    let wrong =
        PlanCase { id: "t3".to_owned(), parts: vec![part("Write a Python script", &["legal.x"])], ..one.clone() };
    let report = evaluate_plans(&router(), &[one, wrong], "tiny");
    let overall = &report.overall;
    assert_eq!((overall.questions, overall.recognised, overall.parts, overall.parts_covered), (2, 0, 2, 1));
    assert_eq!((overall.all_covered, overall.all_covered_share), (1, 0.5));
    assert_eq!(report.by_style["single"], *overall);
    assert_eq!(report.misses.len(), 2, "both are not recognised");
    assert!(report.misses[1].parts[0].specialist.as_deref() == Some("software.python"));
}

#[test]
fn every_clause_of_the_built_in_questions_is_found_in_its_question() {
    let router = router();
    let cases = parse_plan_set(PLAN_SET).expect("plan set");
    let lost: Vec<String> = cases
        .iter()
        .flat_map(|case| {
            let analysis = router.analyse(&case.question, &chorus_core::AllSpecialists);
            analysis
                .clauses
                .into_iter()
                .filter(|clause| locate(&case.question, &clause.text, 0).is_none())
                .map(|clause| format!("{}: {:?}", case.id, clause.text))
                .collect::<Vec<_>>()
        })
        .collect();
    assert!(lost.is_empty(), "clauses not located: {lost:#?}");
}
