#![allow(clippy::unwrap_used)]
use super::*;

#[test]
fn percentiles_are_nearest_rank() {
    let values: Vec<f64> = (1..=1000).map(f64::from).collect();
    let figures = distribution(&values);
    assert_eq!(figures.samples, 1000);
    assert!((figures.p50_ms - 500.0).abs() < f64::EPSILON);
    assert!((figures.p99_ms - 990.0).abs() < f64::EPSILON);
    assert!((figures.max_ms - 1000.0).abs() < f64::EPSILON);
    assert!(distribution(&[]).p50_ms.is_nan());
}

#[test]
fn nonsense_options_are_refused() {
    let options = NetworkBenchOptions { requests: 0, ..NetworkBenchOptions::default() };
    assert!(matches!(bench_network(&options), Err(NodeError::InvalidBench(_))));
}
