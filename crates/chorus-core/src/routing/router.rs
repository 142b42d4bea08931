//! The router: a catalog with its keywords compiled once, for routing many
//! queries. The conductor owns one.

use std::fmt;
use std::sync::Arc;

use crate::catalog::Catalog;

use super::analyse::analyse_with;
use super::compiled::{CompiledCatalog, rank_with};
use super::reachable::Reachable;
use super::results::{Analysis, SpecialistScore};
use super::semantic::SemanticSlot;

/// A catalog and its keywords and tags compiled for matching, once, when
/// the router is made: what routes many queries (the conductor owns one).
/// [`analyse`](super::analyse) and [`rank_specialists`](super::rank_specialists)
/// do the same for one query, compiling the catalog on every call.
///
/// ```
/// use std::sync::Arc;
/// use chorus_core::{AllSpecialists, Catalog, QueryKind, Router};
/// let router = Router::new(Arc::new(Catalog::bundled()?));
/// let analysis = router.analyse("Translate 'good morning' into Spanish", &AllSpecialists);
/// assert_eq!(analysis.kind, QueryKind::Simple { specialist_id: "translate.es".into() });
/// # Ok::<(), chorus_core::CatalogError>(())
/// ```
pub struct Router {
    catalog: Arc<Catalog>,
    compiled: CompiledCatalog,
    semantic: SemanticSlot,
}

impl Router {
    /// Compiles `catalog` for routing.
    #[must_use]
    pub fn new(catalog: Arc<Catalog>) -> Router {
        Router::with_semantic(catalog, SemanticSlot::default())
    }

    /// Compiles `catalog` for routing, blending in the semantic index in
    /// `slot` once it is ready.
    #[must_use]
    pub fn with_semantic(catalog: Arc<Catalog>, slot: SemanticSlot) -> Router {
        let compiled = CompiledCatalog::new(&catalog);
        Router { catalog, compiled, semantic: slot }
    }

    /// The catalog, shared.
    pub(crate) fn shared_catalog(&self) -> &Arc<Catalog> {
        &self.catalog
    }

    /// Where its semantic index is (or will be).
    #[must_use]
    pub fn semantic(&self) -> &SemanticSlot {
        &self.semantic
    }

    /// The catalog it routes over.
    #[must_use]
    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    /// [`analyse`](super::analyse) over the compiled catalog.
    #[must_use]
    pub fn analyse<R: Reachable + ?Sized>(&self, query: &str, reachable: &R) -> Analysis {
        analyse_with(&self.catalog, &self.compiled, self.semantic.get().map(AsRef::as_ref), query, reachable)
    }

    /// [`rank_specialists`](super::rank_specialists) over the compiled
    /// catalog.
    #[must_use]
    pub fn rank_specialists<R: Reachable + ?Sized>(&self, query: &str, reachable: &R) -> Vec<SpecialistScore> {
        rank_with(&self.catalog, &self.compiled, query, reachable)
    }
}

impl fmt::Debug for Router {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Router").field("specialists", &self.catalog.specialists().len()).finish_non_exhaustive()
    }
}
