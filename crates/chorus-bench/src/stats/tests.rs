use super::*;

#[test]
fn percentiles_are_nearest_rank() {
    let values: Vec<u32> = (1..=100).collect();
    assert_eq!(percentile(&values, 0.50), Some(50));
    assert_eq!(percentile(&values, 0.99), Some(99));
    assert_eq!(percentile(&values, 1.0), Some(100));
    assert_eq!(percentile(&[7_u32], 0.99), Some(7));
    assert_eq!(percentile::<u32>(&[], 0.5), None);
}
