//! End-to-end tests of `chorus eval`, running the real binary: `routing`
//! and `plans` over the built-in sets (every question counted, every figure
//! a share), a malformed `--set` file (exit code 2, the line named), and
//! `answers` on the real model for one question.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod support;

use std::path::Path;
use std::process::Output;

use serde_json::Value;
use support::{base_args, chorus_bin, command};

const ROUTING_SET: &str = include_str!("../../chorus-bench/data/eval/routing.jsonl");
const PLAN_SET: &str = include_str!("../../chorus-bench/data/eval/plans.jsonl");

fn eval(data: &Path, args: &[&str]) -> Output {
    let mut all = base_args(data);
    all.push("eval".to_owned());
    all.extend(args.iter().map(|arg| (*arg).to_owned()));
    command(chorus_bin(), &all).output().expect("the chorus binary runs")
}

fn json_of(output: &Output) -> Value {
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "exit {:?}\nstdout:\n{stdout}\nstderr:\n{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(stdout.lines().count(), 1, "one JSON object on one line: {stdout}");
    serde_json::from_str(&stdout).expect("JSON")
}

fn count(value: &Value) -> usize {
    usize::try_from(value.as_u64().unwrap_or_else(|| panic!("a count: {value}"))).unwrap()
}

fn assert_share(value: &Value, name: &str) {
    let share = value[name].as_f64().unwrap_or_else(|| panic!("{name} is a number: {value}"));
    assert!((0.0..=1.0).contains(&share), "{name} = {share} is not a share");
}

#[test]
fn routing_scores_every_question_of_the_set() {
    let data = tempfile::tempdir().unwrap();
    let report = json_of(&eval(data.path(), &["routing", "--json"]));
    let lines = ROUTING_SET.lines().filter(|line| !line.trim().is_empty()).count();
    assert_eq!(report["set"], "built-in");
    assert_eq!(count(&report["questions"]), lines);
    let hits = count(&report["hits"]);
    assert!(hits <= lines);
    assert_share(&report, "accuracy");
    let misses = report["misses"].as_array().expect("misses");
    assert_eq!(misses.len(), lines - hits);
    for miss in misses {
        for field in ["id", "question", "variant", "domain", "kind", "chosen", "reason"] {
            assert!(miss[field].is_string(), "{field} in {miss}");
        }
        assert!(!miss["fits"].as_array().expect("fits").is_empty());
    }
    for groups in ["by_variant", "by_domain"] {
        let groups = report[groups].as_object().expect("groups");
        assert_eq!(groups.values().map(|group| count(&group["questions"])).sum::<usize>(), lines);
        assert_eq!(groups.values().map(|group| count(&group["hits"])).sum::<usize>(), hits);
        groups.values().for_each(|group| assert_share(group, "accuracy"));
    }
    for variant in ["plain", "paraphrase", "typo", "other-language", "translation"] {
        assert!(report["by_variant"][variant].is_object(), "variant {variant}");
    }
    let (p50, p99, max) =
        (report["route_ms_p50"].as_f64(), report["route_ms_p99"].as_f64(), report["route_ms_max"].as_f64());
    assert!(p50 <= p99 && p99 <= max && p50 > Some(0.0), "{p50:?} {p99:?} {max:?}");
}

#[test]
fn plans_score_every_part_of_the_set() {
    let data = tempfile::tempdir().unwrap();
    let report = json_of(&eval(data.path(), &["plans", "--json"]));
    let cases: Vec<Value> = PLAN_SET
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    let parts: usize = cases.iter().map(|case| case["parts"].as_array().unwrap().len()).sum();
    assert_eq!(count(&report["questions"]), cases.len());
    assert_eq!(count(&report["parts"]), parts);
    assert!(count(&report["recognised"]) <= cases.len() && count(&report["parts_covered"]) <= parts);
    for name in ["recognised_share", "parts_covered_share", "all_covered_share"] {
        assert_share(&report, name);
    }
    let styles = report["by_style"].as_object().expect("by_style");
    assert_eq!(styles.values().map(|group| count(&group["questions"])).sum::<usize>(), cases.len());
    assert_eq!(styles.values().map(|group| count(&group["parts"])).sum::<usize>(), parts);
    let misses = report["misses"].as_array().expect("misses");
    // A miss is a question not recognised or not wholly covered.
    assert!(misses.len() <= cases.len());
    assert!(misses.len() >= cases.len() - count(&report["all_covered"]));
    assert!(misses.len() >= cases.len() - count(&report["recognised"]));
    for miss in misses {
        assert!(miss["recognised"].is_boolean() && miss["request_clauses"].is_array());
        for part in miss["parts"].as_array().expect("parts") {
            assert!(part["covered"].is_boolean() && part["fits"].is_array() && part["text"].is_string(), "{part}");
        }
    }
}

#[test]
fn a_malformed_set_is_a_usage_error_naming_the_line() {
    let data = tempfile::tempdir().unwrap();
    let set = data.path().join("set.jsonl");
    let first = ROUTING_SET.lines().next().unwrap();
    std::fs::write(&set, format!("{first}\n{{\"id\": \"r2\", \"question\": \n")).unwrap();
    let output = eval(data.path(), &["routing", "--json", "--set", set.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("line 2"), "{stderr}");
    // The same file, cut to its good line, is a set of one.
    std::fs::write(&set, format!("{first}\n")).unwrap();
    let report = json_of(&eval(data.path(), &["routing", "--json", "--set", set.to_str().unwrap()]));
    assert_eq!((count(&report["questions"]), report["set"].as_str()), (1, set.to_str()));
    // A planning line is not a routing case.
    std::fs::write(&set, PLAN_SET.lines().next().unwrap()).unwrap();
    let output = eval(data.path(), &["routing", "--set", set.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(2));
}

/// One question through the real conductor model (about 10 s here).
#[test]
fn answers_report_the_coverage_of_each_done_part() {
    let data = tempfile::tempdir().unwrap();
    let report = json_of(&eval(data.path(), &["answers", "--json", "--limit", "1"]));
    assert_eq!((count(&report["questions"]), count(&report["failed"])), (1, 0));
    let answer = &report["answers"][0];
    assert_eq!(answer["id"], "p001");
    let coverage = answer["coverage"].as_array().expect("coverage");
    assert_eq!(coverage.len(), count(&answer["done_parts"]));
    assert!(count(&answer["parts"]) >= 1 && !coverage.is_empty(), "{answer}");
    for value in coverage {
        assert!((0.0..=1.0).contains(&value.as_f64().unwrap()), "{value}");
    }
    for name in ["covered_share", "mean_coverage"] {
        assert_share(&report, name);
    }
    assert_share(answer, "min_coverage");
    assert!(answer["seconds"].as_f64().unwrap() > 0.0);
}
