use super::{DIMENSIONS, Embedding, cosine};

fn unit(index: usize) -> Embedding {
    let mut vector = [0.0; DIMENSIONS];
    vector[index] = 1.0;
    vector
}

#[test]
fn cosine_of_orthogonal_same_and_opposite_vectors() {
    let a = unit(0);
    let b = unit(1);
    let minus_a = a.map(|x| -x);
    assert_eq!(cosine(&a, &b), 0.0);
    assert!((cosine(&a, &a) - 1.0).abs() < 1e-6);
    assert!((cosine(&a, &minus_a) + 1.0).abs() < 1e-6);
}

#[test]
fn cosine_ignores_length_and_is_zero_for_a_zero_vector() {
    let mut a = unit(3);
    a[4] = 1.0;
    let doubled = a.map(|x| 2.0 * x);
    assert!((cosine(&a, &doubled) - 1.0).abs() < 1e-6);
    assert!((cosine(&a, &unit(3)) - std::f32::consts::FRAC_1_SQRT_2).abs() < 1e-6);
    assert_eq!(cosine(&a, &[0.0; DIMENSIONS]), 0.0);
}
