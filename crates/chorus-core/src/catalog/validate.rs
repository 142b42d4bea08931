//! The rules a catalog is checked against at load.

use std::collections::HashSet;

use super::types::{BaseModel, ModelSource, Specialist, SpecialistSampling};
use super::{CATALOG_VERSION, CatalogError, CatalogFile, FALLBACK_SPECIALIST};

// ---------------------------------------------------------------------------
// Loading and validation
// ---------------------------------------------------------------------------

pub(super) fn validate(file: &CatalogFile) -> Result<(), CatalogError> {
    if file.version != CATALOG_VERSION {
        return Err(CatalogError::UnsupportedVersion { found: file.version });
    }
    let mut base_ids = HashSet::new();
    let mut embedded: Option<&str> = None;
    for base in &file.base_models {
        validate_base_model(base)?;
        if !base_ids.insert(base.id.as_str()) {
            return Err(CatalogError::DuplicateId { id: base.id.clone() });
        }
        if base.embedded {
            if let Some(first) = embedded {
                return Err(CatalogError::MultipleEmbedded { first: first.to_owned(), second: base.id.clone() });
            }
            embedded = Some(&base.id);
        }
    }
    let mut specialist_ids = HashSet::new();
    for specialist in &file.specialists {
        let Some(base) = file.base_models.iter().find(|base| base.id == specialist.base_model) else {
            validate_id(&specialist.id, true)?;
            return Err(CatalogError::UnknownBaseModel {
                specialist: specialist.id.clone(),
                base_model: specialist.base_model.clone(),
            });
        };
        validate_specialist(specialist, base)?;
        if !specialist_ids.insert(specialist.id.as_str()) {
            return Err(CatalogError::DuplicateId { id: specialist.id.clone() });
        }
    }
    if !specialist_ids.contains(FALLBACK_SPECIALIST) {
        return Err(CatalogError::MissingFallback);
    }
    Ok(())
}

/// Ids are `[a-z0-9._-]+`, start with a letter or digit; specialist ids are
/// dotted `<area>.<topic>` with no empty segment.
fn validate_id(id: &str, dotted: bool) -> Result<(), CatalogError> {
    let allowed = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-');
    let starts_well = id.chars().next().is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    let mut valid = starts_well && id.len() <= 128 && id.chars().all(allowed);
    if dotted {
        valid = valid && id.contains('.') && id.split('.').all(|segment| !segment.is_empty());
    }
    if valid { Ok(()) } else { Err(CatalogError::InvalidId { id: id.to_owned() }) }
}

fn validate_sha256(id: &str, sha256: Option<&String>) -> Result<(), CatalogError> {
    match sha256 {
        Some(value) if !is_sha256_hex(value) => {
            Err(CatalogError::InvalidSha256 { id: id.to_owned(), value: value.clone() })
        }
        _ => Ok(()),
    }
}

fn is_sha256_hex(value: &str) -> bool {
    value.len() == 64 && value.chars().all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c))
}

fn require_text(id: &str, field: &'static str, value: &str) -> Result<(), CatalogError> {
    if value.trim().is_empty() { Err(CatalogError::EmptyField { id: id.to_owned(), field }) } else { Ok(()) }
}

/// `https://` URLs only, except plain `http://` to a loopback host
/// (`127.0.0.1`, `localhost`, `[::1]`), which tests and local mirrors use.
pub(super) fn require_https(id: &str, url: &str) -> Result<(), CatalogError> {
    let host_and_path = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://").filter(|rest| is_loopback_authority(rest)))
        .unwrap_or_default();
    if host_and_path.is_empty() || url.chars().any(char::is_whitespace) {
        return Err(CatalogError::InvalidSource {
            id: id.to_owned(),
            reason: format!("{url:?} is not an https:// URL"),
        });
    }
    Ok(())
}

/// Whether the part after `http://` starts with a loopback host, followed
/// by a port, a path or nothing.
fn is_loopback_authority(rest: &str) -> bool {
    ["127.0.0.1", "localhost", "[::1]"]
        .iter()
        .any(|host| rest.strip_prefix(host).is_some_and(|after| after.is_empty() || after.starts_with([':', '/'])))
}

fn validate_base_model(base: &BaseModel) -> Result<(), CatalogError> {
    let id = base.id.as_str();
    validate_id(id, false)?;
    require_text(id, "name", &base.name)?;
    require_text(id, "family", &base.family)?;
    require_text(id, "license", &base.license)?;
    let plain_file_name =
        !base.file_name.is_empty() && !base.file_name.starts_with('.') && !base.file_name.contains(['/', '\\', '\0']);
    if !plain_file_name {
        return Err(CatalogError::InvalidFileName { id: id.to_owned(), file_name: base.file_name.clone() });
    }
    if base.size_bytes == 0 {
        return Err(CatalogError::SizeMismatch { id: id.to_owned(), expected: 1, found: 0 });
    }
    validate_sha256(id, base.sha256.as_ref())?;
    match &base.source {
        ModelSource::PypiWheel { package, version, member } => {
            require_text(id, "source.package", package)?;
            require_text(id, "source.version", version)?;
            require_text(id, "source.member", member)?;
        }
        ModelSource::PypiChunks { packages, .. } => {
            if packages.is_empty() {
                return Err(CatalogError::InvalidSource { id: id.to_owned(), reason: "no chunk packages".to_owned() });
            }
            for chunk in packages {
                require_text(id, "source.packages.package", &chunk.package)?;
                require_text(id, "source.packages.version", &chunk.version)?;
                require_text(id, "source.packages.member", &chunk.member)?;
            }
        }
        ModelSource::Url { url } => require_https(id, url)?,
    }
    if base.languages.is_empty() {
        return Err(CatalogError::EmptyField { id: id.to_owned(), field: "languages" });
    }
    Ok(())
}

fn validate_specialist(specialist: &Specialist, base: &BaseModel) -> Result<(), CatalogError> {
    let id = specialist.id.as_str();
    validate_id(id, true)?;
    require_text(id, "name", &specialist.name)?;
    require_text(id, "description", &specialist.description)?;
    require_text(id, "system_prompt", &specialist.system_prompt)?;
    require_text(id, "license", &specialist.license)?;
    if specialist.keywords.is_empty() {
        return Err(CatalogError::NoKeywords { id: id.to_owned() });
    }
    for keyword in &specialist.keywords {
        let normalised = keyword.trim() == keyword && keyword.to_lowercase() == *keyword;
        if keyword.is_empty() || !normalised {
            return Err(CatalogError::InvalidKeyword { id: id.to_owned(), keyword: keyword.clone() });
        }
    }
    for example in &specialist.examples {
        require_text(id, "examples", example)?;
    }
    if specialist.languages.is_empty() {
        return Err(CatalogError::UnsupportedLanguage { id: id.to_owned(), language: String::new() });
    }
    if let Some(language) = specialist.languages.iter().find(|language| !base.languages.contains(language)) {
        return Err(CatalogError::UnsupportedLanguage { id: id.to_owned(), language: language.clone() });
    }
    validate_sampling(id, &specialist.sampling, base)?;
    let mut expected = base.size_bytes;
    if let Some(lora) = &specialist.lora {
        validate_sha256(id, lora.sha256.as_ref())?;
        require_https(id, &lora.url)?;
        expected = expected.saturating_add(lora.size_bytes);
    }
    if specialist.size_bytes != expected {
        return Err(CatalogError::SizeMismatch { id: id.to_owned(), expected, found: specialist.size_bytes });
    }
    Ok(())
}

fn validate_sampling(id: &str, sampling: &SpecialistSampling, base: &BaseModel) -> Result<(), CatalogError> {
    let out_of_range =
        |field: &'static str, value: f64| CatalogError::SamplingOutOfRange { id: id.to_owned(), field, value };
    let checks: [(&'static str, f32, bool); 4] = [
        ("temperature", sampling.temperature, (0.0..=2.0).contains(&sampling.temperature)),
        ("top_p", sampling.top_p, sampling.top_p > 0.0 && sampling.top_p <= 1.0),
        ("min_p", sampling.min_p, (0.0..1.0).contains(&sampling.min_p)),
        ("repeat_penalty", sampling.repeat_penalty, (1.0..=2.0).contains(&sampling.repeat_penalty)),
    ];
    for (field, value, in_range) in checks {
        if !in_range {
            return Err(out_of_range(field, f64::from(value)));
        }
    }
    if sampling.top_k > 1000 {
        return Err(out_of_range("top_k", f64::from(sampling.top_k)));
    }
    if sampling.max_tokens == 0 || sampling.max_tokens > base.context_length {
        return Err(out_of_range("max_tokens", f64::from(sampling.max_tokens)));
    }
    Ok(())
}
