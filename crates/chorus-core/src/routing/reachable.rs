//! Which specialists can run: the reachability filter of routing.

use std::collections::{BTreeSet, HashSet};
use std::hash::BuildHasher;

/// Which specialists can run right now: installed on this device or served
/// by a reachable peer. Only reachable specialists are routing candidates.
///
/// Implemented for [`AllSpecialists`], slices, vectors, arrays and sets of
/// ids.
pub trait Reachable {
    /// Whether the specialist with this id can run.
    fn is_reachable(&self, specialist_id: &str) -> bool;
}

/// Every specialist of the catalog is reachable (for `chorus route` and
/// tests).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AllSpecialists;

impl Reachable for AllSpecialists {
    fn is_reachable(&self, _specialist_id: &str) -> bool {
        true
    }
}

impl Reachable for [&str] {
    fn is_reachable(&self, specialist_id: &str) -> bool {
        self.contains(&specialist_id)
    }
}

impl Reachable for [String] {
    fn is_reachable(&self, specialist_id: &str) -> bool {
        self.iter().any(|id| id == specialist_id)
    }
}

impl<const N: usize> Reachable for [&str; N] {
    fn is_reachable(&self, specialist_id: &str) -> bool {
        self.contains(&specialist_id)
    }
}

impl Reachable for Vec<&str> {
    fn is_reachable(&self, specialist_id: &str) -> bool {
        self.contains(&specialist_id)
    }
}

impl Reachable for Vec<String> {
    fn is_reachable(&self, specialist_id: &str) -> bool {
        self.iter().any(|id| id == specialist_id)
    }
}

impl<S: BuildHasher> Reachable for HashSet<String, S> {
    fn is_reachable(&self, specialist_id: &str) -> bool {
        self.contains(specialist_id)
    }
}

impl<S: BuildHasher> Reachable for HashSet<&str, S> {
    fn is_reachable(&self, specialist_id: &str) -> bool {
        self.contains(specialist_id)
    }
}

impl Reachable for BTreeSet<String> {
    fn is_reachable(&self, specialist_id: &str) -> bool {
        self.contains(specialist_id)
    }
}

impl Reachable for BTreeSet<&str> {
    fn is_reachable(&self, specialist_id: &str) -> bool {
        self.contains(specialist_id)
    }
}

impl<R: Reachable + ?Sized> Reachable for &R {
    fn is_reachable(&self, specialist_id: &str) -> bool {
        (**self).is_reachable(specialist_id)
    }
}
