use std::collections::{BTreeMap, HashSet};

use super::recommend::{MAX_TRANSLATORS, human_bytes, resolve_language};
use super::validate::require_https;
use super::*;

const SMOLLM2_SHA256: &str = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53";
const GEMMA3_SHA256: &str = "a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818";

fn bundled() -> Catalog {
    Catalog::bundled().expect("the bundled catalog is valid")
}

#[test]
fn bundled_catalog_loads_and_validates() {
    let catalog = bundled();
    assert_eq!(catalog.version(), CATALOG_VERSION);
    assert!(catalog.specialists().len() >= 100, "{} specialists", catalog.specialists().len());
    assert!(catalog.specialist(FALLBACK_SPECIALIST).is_some());
    for specialist in catalog.specialists() {
        let count = specialist.keywords.len();
        assert!((8..=25).contains(&count), "{} has {count} keywords", specialist.id);
        assert!(catalog.base_model_of(specialist).is_some());
    }
    for domain in Domain::all() {
        assert!(catalog.specialists_in(*domain).next().is_some(), "no specialist in {domain}");
    }
}

#[test]
fn plain_http_is_accepted_only_for_loopback_hosts() {
    for url in
        ["https://example.org/m.gguf", "http://127.0.0.1:8080/m.gguf", "http://localhost/m.gguf", "http://[::1]:9/m"]
    {
        assert!(require_https("m", url).is_ok(), "{url} should be accepted");
    }
    for url in [
        "http://example.org/m.gguf",
        "http://127.0.0.1.example.org/m.gguf",
        "http://localhost.evil/m.gguf",
        "ftp://127.0.0.1/m.gguf",
        "http://",
        "https://",
    ] {
        assert!(matches!(require_https("m", url), Err(CatalogError::InvalidSource { .. })), "{url} should be refused");
    }
}

#[test]
fn bundled_catalog_has_at_least_fifteen_translation_languages() {
    let catalog = bundled();
    let languages = catalog.translation_languages();
    assert!(languages.len() >= 15, "{languages:?}");
    let distinct: HashSet<&str> = languages.iter().copied().collect();
    assert_eq!(distinct.len(), languages.len(), "one translator per language");
    assert_eq!(catalog.translator_for("es").map(|s| s.id.as_str()), Some("translate.es"));
}

#[test]
fn downloads_are_capped_at_the_catalog_size() {
    let catalog = bundled();
    let smollm2 = catalog.base_model("smollm2-135m-instruct-q4_1").expect("smollm2");
    assert_eq!(smollm2.max_download_bytes(), smollm2.size_bytes, "exact for a verified model");
    let qwen = catalog.base_model("qwen2.5-0.5b-instruct-q4_k_m").expect("qwen");
    assert_eq!(qwen.size_bytes, 398_000_000);
    assert_eq!(qwen.max_download_bytes(), 398_000_000 + 5 * 3_980_000, "the published size plus 5%");
    for base in catalog.base_models() {
        assert!(base.max_download_bytes() >= base.size_bytes, "{}", base.id);
        assert!(base.max_download_bytes() <= base.size_bytes / 100 * 106, "{}", base.id);
    }
}

#[test]
fn exactly_smollm2_and_gemma3_are_verified_with_the_known_hashes() {
    let catalog = bundled();
    let mut verified: Vec<(&str, &str)> = catalog
        .base_models()
        .iter()
        .filter(|base| base.is_verified())
        .map(|base| (base.id.as_str(), base.sha256.as_deref().unwrap_or_default()))
        .collect();
    verified.sort_unstable();
    assert_eq!(verified, vec![("gemma3-270m-q4_k_m", GEMMA3_SHA256), ("smollm2-135m-instruct-q4_1", SMOLLM2_SHA256)]);
    let embedded = catalog.embedded_base_model().expect("an embedded model");
    assert_eq!(embedded.size_bytes, crate::EMBEDDED_MODEL.size_bytes);
    assert_eq!(embedded.sha256.as_deref(), Some(crate::EMBEDDED_MODEL.sha256));
    assert_eq!(embedded.file_name, crate::EMBEDDED_MODEL.file_name);
    let gemma = catalog.base_model("gemma3-270m-q4_k_m").expect("gemma");
    assert_eq!(gemma.size_bytes, 253_113_024);
    assert!(matches!(&gemma.source, ModelSource::PypiChunks { packages, .. } if packages.len() == 4));
    let unverified = catalog.specialist("software.architecture").expect("architecture");
    assert!(!catalog.is_specialist_verified(unverified));
    assert!(catalog.is_specialist_verified(catalog.specialist("software.rust").expect("rust")));
}

#[test]
fn catalog_round_trips_through_serde() {
    let catalog = bundled();
    let json = serde_json::to_string(&catalog).expect("serialize");
    let again: Catalog = serde_json::from_str(&json).expect("deserialize validates");
    assert_eq!(again, catalog);
}

#[test]
fn domains_parse_and_print() {
    for domain in Domain::all() {
        assert_eq!(domain.as_str().parse::<Domain>(), Ok(*domain));
        let json = serde_json::to_string(domain).expect("serialize");
        assert_eq!(json, format!("\"{}\"", domain.as_str()));
    }
    assert_eq!(Domain::all().len(), 39);
    assert!(matches!("medicine".parse::<Domain>(), Err(ParseDomainError(_))));
}

// --- validation table -------------------------------------------------

fn base_json() -> serde_json::Value {
    serde_json::json!({
        "id": "tiny-q4", "name": "Tiny", "family": "llama", "parameters": "1M",
        "quantization": "Q4_0", "context_length": 2048, "file_name": "tiny.gguf",
        "size_bytes": 1000, "sha256": null, "license": "MIT",
        "source": {"kind": "url", "url": "https://example.org/tiny.gguf"},
        "languages": ["en", "es"], "min_ram_bytes": 5000, "embedded": true
    })
}

fn specialist_json(id: &str) -> serde_json::Value {
    serde_json::json!({
        "id": id, "name": "Assistant", "description": "Helps.", "domain": "general",
        "professions": ["anyone"], "skills": ["help"], "languages": ["en"], "interests": [],
        "keywords": ["help me"], "base_model": "tiny-q4",
        "system_prompt": "You help.",
        "sampling": {"temperature": 0.5, "top_k": 40, "top_p": 0.9, "min_p": 0.05,
                      "repeat_penalty": 1.1, "max_tokens": 256},
        "lora": null, "size_bytes": 1000, "license": "MIT", "sensitive": false
    })
}

fn catalog_json(edit: impl FnOnce(&mut serde_json::Value)) -> String {
    let mut value = serde_json::json!({
        "version": 1,
        "base_models": [base_json()],
        "specialists": [specialist_json("general.assistant"), specialist_json("writing.helper")]
    });
    edit(&mut value);
    value.to_string()
}

fn first_specialist(value: &mut serde_json::Value) -> &mut serde_json::Value {
    &mut value["specialists"][1]
}

#[test]
fn a_minimal_catalog_is_valid() {
    let catalog = Catalog::from_json(&catalog_json(|_| {})).expect("valid");
    assert_eq!(catalog.specialists().len(), 2);
    assert!(!catalog.base_models()[0].is_verified());
}

#[test]
#[allow(clippy::type_complexity)]
fn each_rule_has_its_error() {
    let cases: Vec<(&str, Box<dyn FnOnce(&mut serde_json::Value)>, fn(&CatalogError) -> bool)> = vec![
        (
            "duplicate specialist id",
            Box::new(|v| v["specialists"][1]["id"] = "general.assistant".into()),
            |e| matches!(e, CatalogError::DuplicateId { id } if id == "general.assistant"),
        ),
        (
            "duplicate base model id",
            Box::new(|v| {
                let mut second = base_json();
                second["embedded"] = false.into();
                if let Some(models) = v["base_models"].as_array_mut() {
                    models.push(second);
                }
            }),
            |e| matches!(e, CatalogError::DuplicateId { id } if id == "tiny-q4"),
        ),
        ("unknown base model", Box::new(|v| first_specialist(v)["base_model"] = "huge-q8".into()), |e| {
            matches!(e, CatalogError::UnknownBaseModel { specialist, base_model }
                    if specialist == "writing.helper" && base_model == "huge-q8")
        }),
        (
            "uppercase sha256",
            Box::new(|v| v["base_models"][0]["sha256"] = "AB".repeat(32).into()),
            |e| matches!(e, CatalogError::InvalidSha256 { id, .. } if id == "tiny-q4"),
        ),
        (
            "short sha256",
            Box::new(|v| v["base_models"][0]["sha256"] = "abc123".into()),
            |e| matches!(e, CatalogError::InvalidSha256 { id, value } if id == "tiny-q4" && value == "abc123"),
        ),
        (
            "lora sha256",
            Box::new(|v| {
                first_specialist(v)["lora"] = serde_json::json!(
                    {"url": "https://example.org/a.gguf", "sha256": "zz", "size_bytes": 10});
                first_specialist(v)["size_bytes"] = 1010.into();
            }),
            |e| matches!(e, CatalogError::InvalidSha256 { id, .. } if id == "writing.helper"),
        ),
        (
            "empty system prompt",
            Box::new(|v| first_specialist(v)["system_prompt"] = "  ".into()),
            |e| matches!(e, CatalogError::EmptyField { id, field: "system_prompt" } if id == "writing.helper"),
        ),
        (
            "empty name",
            Box::new(|v| first_specialist(v)["name"] = "".into()),
            |e| matches!(e, CatalogError::EmptyField { id, field: "name" } if id == "writing.helper"),
        ),
        (
            "no keywords",
            Box::new(|v| first_specialist(v)["keywords"] = serde_json::json!([])),
            |e| matches!(e, CatalogError::NoKeywords { id } if id == "writing.helper"),
        ),
        (
            "uppercase keyword",
            Box::new(|v| first_specialist(v)["keywords"] = serde_json::json!(["Essay"])),
            |e| matches!(e, CatalogError::InvalidKeyword { id, keyword } if id == "writing.helper" && keyword == "Essay"),
        ),
        ("temperature out of range", Box::new(|v| first_specialist(v)["sampling"]["temperature"] = 3.5.into()), |e| {
            matches!(e, CatalogError::SamplingOutOfRange { id, field: "temperature", .. }
                    if id == "writing.helper")
        }),
        ("top_p zero", Box::new(|v| first_specialist(v)["sampling"]["top_p"] = 0.0.into()), |e| {
            matches!(e, CatalogError::SamplingOutOfRange { field: "top_p", .. })
        }),
        (
            "repeat penalty below one",
            Box::new(|v| first_specialist(v)["sampling"]["repeat_penalty"] = 0.8.into()),
            |e| matches!(e, CatalogError::SamplingOutOfRange { field: "repeat_penalty", .. }),
        ),
        ("max_tokens beyond context", Box::new(|v| first_specialist(v)["sampling"]["max_tokens"] = 4096.into()), |e| {
            matches!(e, CatalogError::SamplingOutOfRange { field: "max_tokens", .. })
        }),
        ("size inconsistent with base model", Box::new(|v| first_specialist(v)["size_bytes"] = 999.into()), |e| {
            matches!(e, CatalogError::SizeMismatch { id, expected: 1000, found: 999 }
                    if id == "writing.helper")
        }),
        (
            "size ignores the lora",
            Box::new(|v| {
                first_specialist(v)["lora"] = serde_json::json!(
                    {"url": "https://example.org/a.gguf", "sha256": null, "size_bytes": 10});
            }),
            |e| matches!(e, CatalogError::SizeMismatch { expected: 1010, found: 1000, .. }),
        ),
        (
            "specialist id without area",
            Box::new(|v| first_specialist(v)["id"] = "helper".into()),
            |e| matches!(e, CatalogError::InvalidId { id } if id == "helper"),
        ),
        (
            "specialist id with uppercase",
            Box::new(|v| first_specialist(v)["id"] = "Writing.Helper".into()),
            |e| matches!(e, CatalogError::InvalidId { id } if id == "Writing.Helper"),
        ),
        (
            "base model id with a space",
            Box::new(|v| v["base_models"][0]["id"] = "tiny q4".into()),
            |e| matches!(e, CatalogError::InvalidId { id } if id == "tiny q4"),
        ),
        (
            "language the base model lacks",
            Box::new(|v| first_specialist(v)["languages"] = serde_json::json!(["en", "fr"])),
            |e| matches!(e, CatalogError::UnsupportedLanguage { id, language } if id == "writing.helper" && language == "fr"),
        ),
        (
            "file name with a path",
            Box::new(|v| v["base_models"][0]["file_name"] = "../tiny.gguf".into()),
            |e| matches!(e, CatalogError::InvalidFileName { id, .. } if id == "tiny-q4"),
        ),
        (
            "plain http source",
            Box::new(|v| v["base_models"][0]["source"]["url"] = "http://example.org/tiny.gguf".into()),
            |e| matches!(e, CatalogError::InvalidSource { id, .. } if id == "tiny-q4"),
        ),
        (
            "two embedded models",
            Box::new(|v| {
                let mut second = base_json();
                second["id"] = "other-q4".into();
                if let Some(models) = v["base_models"].as_array_mut() {
                    models.push(second);
                }
            }),
            |e| matches!(e, CatalogError::MultipleEmbedded { first, second } if first == "tiny-q4" && second == "other-q4"),
        ),
        ("no fallback", Box::new(|v| v["specialists"][0]["id"] = "general.other".into()), |e| {
            matches!(e, CatalogError::MissingFallback)
        }),
        ("future version", Box::new(|v| v["version"] = 2.into()), |e| {
            matches!(e, CatalogError::UnsupportedVersion { found: 2 })
        }),
        ("unknown field", Box::new(|v| first_specialist(v)["tags"] = serde_json::json!([])), |e| {
            matches!(e, CatalogError::Parse(_))
        }),
        (
            "unknown field in a source",
            Box::new(|v| v["base_models"][0]["source"]["mirror"] = "https://x.org".into()),
            |e| matches!(e, CatalogError::Parse(_)),
        ),
        (
            "missing nullable field",
            Box::new(|v| {
                v["base_models"][0].as_object_mut().map(|o| o.remove("sha256"));
            }),
            |e| matches!(e, CatalogError::Parse(_)),
        ),
        (
            "missing lora field",
            Box::new(|v| {
                first_specialist(v).as_object_mut().map(|o| o.remove("lora"));
            }),
            |e| matches!(e, CatalogError::Parse(_)),
        ),
        ("unknown domain", Box::new(|v| first_specialist(v)["domain"] = "astrology".into()), |e| {
            matches!(e, CatalogError::Parse(_))
        }),
        (
            "unknown source kind",
            Box::new(|v| v["base_models"][0]["source"] = serde_json::json!({"kind": "torrent", "url": "x"})),
            |e| matches!(e, CatalogError::Parse(_)),
        ),
    ];
    for (name, edit, expected) in cases {
        let result = Catalog::from_json(&catalog_json(edit));
        match result {
            Err(error) => assert!(expected(&error), "{name}: unexpected error {error:?}"),
            Ok(_) => panic!("{name}: accepted an invalid catalog"),
        }
    }
}

#[test]
fn load_reports_the_path() {
    let missing = Path::new("/nonexistent/chorus/catalog.json");
    assert!(matches!(Catalog::load(missing), Err(CatalogError::Io { path, .. }) if path == missing));
}

#[test]
fn load_reads_a_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("catalog.json");
    std::fs::write(&path, catalog_json(|_| {})).expect("write");
    assert_eq!(Catalog::load(&path).expect("load").specialists().len(), 2);
}

// --- profile matching -------------------------------------------------

const MB: u64 = 1_000_000;
const GB: u64 = 1_000_000_000;

fn profile(profession: &str, skills: &[&str], languages: &[&str], interests: &[&str], budget: u64) -> Profile {
    Profile {
        profession: profession.to_owned(),
        skills: skills.iter().map(|s| (*s).to_owned()).collect(),
        languages: languages.iter().map(|s| (*s).to_owned()).collect(),
        interests: interests.iter().map(|s| (*s).to_owned()).collect(),
        storage_budget_bytes: budget,
        memory_bytes: None,
    }
}

/// Distinct base model bytes of a recommendation.
fn storage_used(catalog: &Catalog, recommendations: &[Recommendation]) -> u64 {
    let mut bases = BTreeMap::new();
    for recommendation in recommendations {
        let specialist = catalog.specialist(&recommendation.specialist_id).expect("known id");
        let base = catalog.base_model_of(specialist).expect("base");
        bases.insert(base.id.clone(), base.size_bytes);
    }
    bases.values().sum()
}

#[test]
fn recommendation_table() {
    let catalog = bundled();
    struct Case {
        name: &'static str,
        profile: Profile,
        present: &'static [&'static str],
        absent: &'static [&'static str],
    }
    let mut small_memory = profile("marketer", &[], &["en", "es"], &[], 2 * GB);
    small_memory.memory_bytes = Some(300 * MB);
    let mut big_device = profile("founder", &["business strategy", "fundraising"], &["en"], &[], 5 * GB);
    big_device.memory_bytes = Some(8 * GB);
    let cases = vec![
        Case {
            name: "Spanish-speaking marketer",
            profile: profile("Marketer", &["copywriting"], &["en", "Spanish"], &["startups"], GB),
            present: &["marketing.copywriting", "translate.es"],
            absent: &["software.rust", "general.assistant"],
        },
        Case {
            name: "rust engineer who ships containers",
            profile: profile("software engineer", &["Rust", "docker"], &["en"], &["open source"], 500 * MB),
            present: &["software.rust", "software.devops"],
            absent: &["software.code-review", "software.architecture"],
        },
        Case {
            name: "student with a small phone",
            profile: profile("student", &[], &["en", "fr"], &["mathematics", "history"], 200 * MB),
            present: &["education.math-tutor", "education.history"],
            absent: &["translate.fr"],
        },
        Case {
            name: "nurse speaking French and German",
            profile: profile("nurse", &[], &["fr", "deutsch"], &["health"], 2 * GB),
            present: &["medical-info.pharmacology", "translate.fr", "translate.de"],
            absent: &["translate.es"],
        },
        Case {
            name: "marketer whose memory cannot run Gemma",
            profile: small_memory,
            present: &["marketing.strategy"],
            absent: &["translate.es"],
        },
        Case {
            name: "founder on a big laptop",
            profile: big_device,
            present: &["business.strategy", "finance.fundraising"],
            absent: &["translate.es"],
        },
        Case {
            name: "home cook",
            profile: profile("chef", &["baking"], &["en"], &["food"], GB),
            present: &["lifestyle.cooking"],
            absent: &["software.rust"],
        },
        Case {
            name: "data analyst",
            profile: profile("data analyst", &["sql", "excel"], &["en"], &["data"], GB),
            present: &["data-science.sql-analytics", "data-science.spreadsheets"],
            absent: &["software.java"],
        },
        Case {
            name: "profession nobody covers",
            profile: profile("astronaut", &[], &["en"], &[], GB),
            present: &["general.assistant"],
            absent: &["translate.es"],
        },
        Case {
            name: "Spanish marketer whose budget cannot hold two models",
            profile: profile("marketer", &[], &["es"], &[], 300 * MB),
            present: &["marketing.strategy"],
            absent: &["translate.es"],
        },
    ];
    for case in cases {
        let recommendations =
            recommend(&catalog, &case.profile).unwrap_or_else(|error| panic!("{}: {error}", case.name));
        let ids: Vec<&str> = recommendations.iter().map(|r| r.specialist_id.as_str()).collect();
        assert!((2..=5).contains(&ids.len()), "{}: {ids:?}", case.name);
        for id in case.present {
            assert!(ids.contains(id), "{}: {id} missing from {ids:?}", case.name);
        }
        for id in case.absent {
            assert!(!ids.contains(id), "{}: {id} should not be in {ids:?}", case.name);
        }
        let used = storage_used(&catalog, &recommendations);
        assert!(used <= case.profile.storage_budget_bytes, "{}: {used} bytes over budget", case.name);
        if let Some(memory) = case.profile.memory_bytes {
            for id in &ids {
                let specialist = catalog.specialist(id).expect("known");
                let base = catalog.base_model_of(specialist).expect("base");
                assert!(base.min_ram_bytes <= memory, "{}: {id} needs more memory", case.name);
            }
        }
        for recommendation in &recommendations {
            assert!(
                !recommendation.reasons.is_empty(),
                "{}: no reason for {}",
                case.name,
                recommendation.specialist_id
            );
        }
        let distinct: HashSet<&str> = ids.iter().copied().collect();
        assert_eq!(distinct.len(), ids.len(), "{}: duplicates", case.name);
    }
}

#[test]
fn reasons_are_human_readable() {
    let catalog = bundled();
    let recommendations = recommend(&catalog, &profile("marketer", &[], &["en", "es"], &[], GB)).expect("fits");
    let all_reasons: Vec<&str> = recommendations.iter().flat_map(|r| r.reasons.iter().map(String::as_str)).collect();
    assert!(all_reasons.iter().any(|r| r.contains("matches your profession 'marketer'")), "{all_reasons:?}");
    assert!(all_reasons.iter().any(|r| r.contains("speaks Spanish")), "{all_reasons:?}");
}

#[test]
fn unverified_picks_say_so() {
    let catalog = bundled();
    let mut founder = profile("founder", &["business strategy"], &["en"], &[], 5 * GB);
    founder.memory_bytes = Some(8 * GB);
    let recommendations = recommend(&catalog, &founder).expect("fits");
    let strategy = recommendations.iter().find(|r| r.specialist_id == "business.strategy").expect("picked");
    assert!(!strategy.verified);
    assert!(strategy.reasons.iter().any(|r| r.starts_with("unverified")), "{:?}", strategy.reasons);
}

#[test]
fn many_languages_bring_at_most_three_translators() {
    let catalog = bundled();
    let polyglot = profile("translator", &[], &["es", "fr", "de", "it", "pt", "ja"], &[], 2 * GB);
    let recommendations = recommend(&catalog, &polyglot).expect("fits");
    let translators = recommendations.iter().filter(|r| r.specialist_id.starts_with("translate.")).count();
    assert!(recommendations.len() <= 5);
    assert_eq!(translators, MAX_TRANSLATORS, "{recommendations:?}");
    let ids: Vec<&str> = recommendations.iter().map(|r| r.specialist_id.as_str()).collect();
    for id in ["translate.es", "translate.fr", "translate.de"] {
        assert!(ids.contains(&id), "{ids:?}");
    }
}

#[test]
fn recommendations_are_deterministic() {
    let catalog = bundled();
    let person = profile("product manager", &["roadmapping", "sql"], &["en", "ko"], &["design"], GB);
    let first = recommend(&catalog, &person).expect("fits");
    for _ in 0..3 {
        assert_eq!(recommend(&catalog, &person).expect("fits"), first);
    }
}

#[test]
fn nothing_fits_errors_carry_the_size_needed() {
    let catalog = bundled();
    let tiny_disk = profile("marketer", &[], &[], &[], 50 * MB);
    assert!(matches!(
        recommend(&catalog, &tiny_disk),
        Err(RecommendError::StorageTooSmall { budget_bytes, needed_bytes: 98_362_432 }) if budget_bytes == 50 * MB
    ));
    let mut tiny_memory = profile("marketer", &[], &[], &[], GB);
    tiny_memory.memory_bytes = Some(100 * MB);
    assert!(matches!(
        recommend(&catalog, &tiny_memory),
        Err(RecommendError::MemoryTooSmall { needed_bytes: 218_103_808, .. })
    ));
}

#[test]
fn languages_resolve_from_codes_and_names() {
    let catalog = bundled();
    assert_eq!(resolve_language(&catalog, "es").as_deref(), Some("es"));
    assert_eq!(resolve_language(&catalog, "Spanish").as_deref(), Some("es"));
    assert_eq!(resolve_language(&catalog, "español").as_deref(), Some("es"));
    assert_eq!(resolve_language(&catalog, "Deutsch").as_deref(), Some("de"));
    assert_eq!(resolve_language(&catalog, "klingon"), None);
    assert_eq!(human_bytes(98_362_432), "98.4 MB");
    assert_eq!(human_bytes(2_020_000_000), "2.02 GB");
}
