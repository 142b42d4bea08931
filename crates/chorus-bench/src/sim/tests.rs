use super::rng::Rng;

#[test]
fn the_generator_is_reproducible_and_shuffles_everything() {
    let mut a = Rng(7);
    let mut b = Rng(7);
    assert_eq!(a.next(), b.next());
    let mut items: Vec<usize> = (0..50).collect();
    a.shuffle(&mut items);
    let mut sorted = items.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, (0..50).collect::<Vec<_>>());
    assert_ne!(items, sorted);
}
