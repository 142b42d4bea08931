use super::*;
use crate::plan::{PlanSource, UnplannedPart};

fn step(index: usize, specialist: &str, part: &str, depends_on: Vec<usize>) -> PlanStep {
    PlanStep {
        index,
        specialist: specialist.into(),
        task: format!("task {index}"),
        depends_on,
        part: Some(part.into()),
    }
}

fn done(index: usize, specialist: &str, text: &str) -> SubtaskReport {
    SubtaskReport {
        index,
        specialist: specialist.into(),
        executor: "local".into(),
        status: SubtaskStatus::Done,
        attempts: 1,
        tokens: 10,
        ms: 1,
        text: text.into(),
        error: None,
    }
}

fn failed(index: usize, specialist: &str, error: &str) -> SubtaskReport {
    SubtaskReport {
        status: SubtaskStatus::Failed,
        text: String::new(),
        error: Some(error.into()),
        ..done(index, specialist, "")
    }
}

#[test]
fn every_part_is_kept_in_order_under_its_heading() {
    let catalog = Catalog::bundled().unwrap();
    let plan = Plan {
        subtasks: vec![
            step(0, "marketing.strategy", "Write a marketing plan for a budgeting app", vec![]),
            step(1, "finance.pricing", "with pricing maths", vec![]),
            step(2, "marketing.copywriting", "a Spanish tagline", vec![]),
            step(3, "translate.es", "a Spanish tagline", vec![2]),
        ],
        source: PlanSource::Analysis,
        repairs: vec![],
        not_planned: vec![],
    };
    let reports = vec![
        done(0, "marketing.strategy", "Sure! Here is a plan:\nTarget students on campus.\nRun referral rewards."),
        done(1, "finance.pricing", "At 4.99 per month, 1000 users bring 4990 a month."),
        done(2, "marketing.copywriting", "Budget smarter, live better."),
        done(3, "translate.es", "Presupuesta mejor, vive mejor."),
    ];
    let answer = compose(&plan, &reports, &catalog);
    let plan_at = answer.find("## Write a marketing plan").unwrap();
    let maths_at = answer.find("## With pricing maths").unwrap();
    let tagline_at = answer.find("## A Spanish tagline").unwrap();
    assert!(plan_at < maths_at && maths_at < tagline_at, "{answer}");
    assert!(!answer.contains("Sure!"), "{answer}");
    assert!(answer.contains("4990") && answer.contains("Presupuesta mejor"), "{answer}");
    // The translation joins its part's section instead of opening one.
    assert_eq!(answer.matches("## ").count(), 3, "{answer}");
    for report in &reports {
        assert!(coverage(&report.text, &answer) >= 0.9, "{} lost in {answer}", report.text);
    }
}

#[test]
fn a_failed_part_and_an_unplanned_part_are_named() {
    let catalog = Catalog::bundled().unwrap();
    let plan = Plan {
        subtasks: vec![
            step(0, "writing.correspondence", "Write an email to my landlord", vec![]),
            step(1, "software.python", "give me a palindrome function", vec![]),
        ],
        source: PlanSource::Analysis,
        repairs: vec![],
        not_planned: vec![UnplannedPart {
            part: "and a haiku".into(),
            reason: "the plan holds at most 2 parts".into(),
        }],
    };
    let reports = vec![
        done(0, "writing.correspondence", "Dear Ms Smith, the heating has failed."),
        failed(1, "software.python", "timed out"),
    ];
    let answer = compose(&plan, &reports, &catalog);
    assert!(answer.contains("Dear Ms Smith"), "{answer}");
    assert!(answer.contains("## Give me a palindrome function\n\n(This part could not be answered: timed out.)"));
    assert!(answer.ends_with("Not done:\n- and a haiku (the plan holds at most 2 parts)"), "{answer}");
}

#[test]
fn one_part_has_no_heading() {
    let catalog = Catalog::bundled().unwrap();
    let plan = Plan {
        subtasks: vec![step(0, "general.assistant", "Why is the sky blue?", vec![])],
        source: PlanSource::Split,
        repairs: vec![],
        not_planned: vec![],
    };
    let answer = compose(&plan, &[done(0, "general.assistant", "Rayleigh scattering.")], &catalog);
    assert_eq!(answer, "Rayleigh scattering.");
}

#[test]
fn cleaning_drops_loops_filler_and_a_cut_sentence() {
    let text = "Certainly!\nThe oven must be hot. The oven must be hot. Then bake.\n\
                The oven must be hot. Then bake.\n\nServe it warm with cream and then you can also add some";
    let cleaned = clean_part(text);
    assert_eq!(cleaned, "The oven must be hot. Then bake.");
    let code = "Here is the code:\n```python\ndef f():\n    return 1\n    return 1\n";
    let cleaned = clean_part(code);
    assert!(cleaned.ends_with("```"), "{cleaned}");
    assert_eq!(cleaned.matches("return 1").count(), 2, "code lines are never deduplicated: {cleaned}");
}

#[test]
fn coverage_counts_content_words_and_numbers() {
    assert_eq!(coverage("The price is 4.99 per month", "It costs 4.99 per month."), 0.75);
    assert_eq!(coverage("the and of", "anything"), 1.0);
    assert_eq!(coverage("Sourdough needs a starter", ""), 0.0);
}

#[test]
fn a_part_the_free_answer_lost_is_found() {
    let plan = Plan {
        subtasks: vec![step(0, "a.x", "part one", vec![]), step(1, "b.y", "part two", vec![])],
        source: PlanSource::Model,
        repairs: vec![],
        not_planned: vec![],
    };
    let reports = vec![
        done(0, "a.x", "Tempering chocolate needs 31 degrees."),
        done(1, "b.y", "Sourdough starter feeding daily."),
    ];
    let answer = "Tempering chocolate needs 31 degrees, as the pastry chef said.";
    let missing = missing_parts(&plan, &reports, answer);
    assert_eq!(missing.len(), 1);
    assert_eq!(missing[0].0.index, 1);
    assert!(added_back(&missing).contains("## Part two\n\nSourdough starter feeding daily."));
}
