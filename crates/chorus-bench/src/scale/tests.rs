#![allow(clippy::unwrap_used)]
use std::collections::HashSet;

use chorus_core::Catalog;

use super::*;

fn keyword_counts(catalog: &Catalog) -> (usize, usize) {
    let all: Vec<&str> =
        catalog.specialists().iter().flat_map(|specialist| specialist.keywords.iter().map(String::as_str)).collect();
    let distinct = all.iter().copied().collect::<HashSet<_>>().len();
    (all.len(), distinct)
}

#[test]
fn generated_catalogs_are_valid_of_the_asked_size_with_distinct_ids_and_growing_keywords() {
    let bundled = Catalog::bundled().unwrap();
    let (bundled_keywords, bundled_distinct) = keyword_counts(&bundled);
    let mut previous = (bundled_keywords, bundled_distinct);
    for size in [300, 1_000, 2_000] {
        // generated_catalog validates through Catalog::from_json.
        let catalog = generated_catalog(size, SEED).unwrap();
        assert_eq!(catalog.specialists().len(), size);
        let ids: HashSet<&str> = catalog.specialists().iter().map(|specialist| specialist.id.as_str()).collect();
        assert_eq!(ids.len(), size, "ids are distinct");
        let generated: Vec<_> =
            catalog.specialists().iter().filter(|specialist| specialist.id.contains(".gen-")).collect();
        assert_eq!(generated.len(), size - bundled.specialists().len());
        for specialist in &generated {
            let (domain, _) = specialist.id.split_once(".gen-").unwrap();
            assert_eq!(domain, specialist.domain.as_str());
            assert!(catalog.base_model(&specialist.base_model).is_some());
        }
        let (keywords, distinct) = keyword_counts(&catalog);
        assert!(keywords > previous.0 && distinct > previous.1, "{size}: {keywords} keywords, {distinct} distinct");
        // Nearly every generated keyword is new.
        assert!(distinct * 10 >= keywords * 8, "{size}: {keywords} keywords, {distinct} distinct");
        previous = (keywords, distinct);
    }
    assert_eq!(generated_catalog(300, SEED).unwrap(), generated_catalog(300, SEED).unwrap(), "deterministic");
    assert_eq!(generated_catalog(10, SEED).unwrap(), bundled, "at most the bundled size: the bundled catalog");
}

#[test]
fn the_bench_reports_each_size_with_positive_times() {
    let options = RoutingBenchOptions { sizes: vec![0, 300], semantic: false, ..RoutingBenchOptions::default() };
    let report = bench_routing(&options).unwrap();
    assert_eq!(report.threads, 1);
    assert!(report.questions > 100);
    assert_eq!(report.sizes.len(), 2);
    assert_eq!(report.sizes[1].specialists, 300);
    assert_eq!(report.sizes[1].generated, 300 - report.sizes[0].specialists);
    assert!(report.sizes[1].keywords > report.sizes[0].keywords);
    for size in &report.sizes {
        assert_eq!(size.keyword.samples, report.questions);
        assert!(size.router_build_ms > 0.0);
        assert!(size.keyword.p50_ms > 0.0 && size.keyword.p99_ms >= size.keyword.p50_ms);
        assert!(size.keyword.max_ms >= size.keyword.p99_ms);
        assert!(size.semantic.is_none());
    }
    let json = serde_json::to_value(&report).unwrap();
    assert!(json["sizes"][0]["keyword"]["p99_ms"].is_number());
}
