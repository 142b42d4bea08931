//! Catalogs of a future size, made from the bundled one: each generated
//! specialist copies a bundled specialist's shape (base model, sampling,
//! languages, domain, tags, system prompt) under a new id
//! `<domain>.gen-<n>`, with keywords of its own made of its domain's real
//! keyword words joined to a pseudo-word or a numbered word, so the keyword
//! index grows as a real catalog's would (about 15 keywords each, nearly all
//! distinct). Deterministic: the same size and seed give the same catalog.

use std::collections::HashMap;

use chorus_core::{Catalog, CatalogError, Domain};

/// The seed of the benchmark's catalogs.
pub const SEED: u64 = 0x00c4_0a05_2026_0014;

/// Keywords per generated specialist.
const KEYWORDS_EACH: usize = 15;
/// Of them, plain words of its domain's real keywords (shared with the
/// bundled specialists, as a real catalog's common words are).
const SHARED_WORDS: usize = 2;

/// SplitMix64: a small, fixed pseudo-random sequence (no dependency).
pub(crate) struct Sequence(u64);

impl Sequence {
    pub(crate) fn new(seed: u64) -> Self {
        Self(seed)
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A value in `0..bound` (`bound` > 0).
    #[allow(clippy::cast_possible_truncation)]
    fn below(&mut self, bound: usize) -> usize {
        (self.next() % bound.max(1) as u64) as usize
    }

    /// A pronounceable made-up word of two to four syllables ("kavori").
    fn pseudo_word(&mut self) -> String {
        const CONSONANTS: &[u8] = b"bdfgklmnprstvz";
        const VOWELS: &[u8] = b"aeiou";
        let syllables = 2 + self.below(3);
        let mut word = String::with_capacity(syllables * 2);
        for _ in 0..syllables {
            word.push(char::from(CONSONANTS[self.below(CONSONANTS.len())]));
            word.push(char::from(VOWELS[self.below(VOWELS.len())]));
        }
        word
    }
}

/// The catalog of `size` specialists: the bundled ones, then generated
/// ones up to `size` (none when `size` is at most the bundled count).
///
/// # Errors
/// The catalog's validation error (none expected: the generated
/// specialists are checked like any catalog's).
pub fn generated_catalog(size: usize, seed: u64) -> Result<Catalog, CatalogError> {
    let bundled = Catalog::bundled()?;
    let templates = bundled.specialists();
    if size <= templates.len() || templates.is_empty() {
        return Ok(bundled);
    }
    // Each domain's keyword words (letters only, 3+ characters), in catalog order.
    let mut words: HashMap<Domain, Vec<String>> = HashMap::new();
    for specialist in templates {
        let domain_words = words.entry(specialist.domain).or_default();
        for keyword in &specialist.keywords {
            for word in keyword.split_whitespace() {
                let plain = word.len() >= 3 && word.chars().all(|c| c.is_ascii_lowercase());
                if plain && !domain_words.iter().any(|known| known == word) {
                    domain_words.push(word.to_owned());
                }
            }
        }
    }
    let mut value = serde_json::to_value(&bundled)?;
    let mut sequence = Sequence::new(seed);
    let mut generated = Vec::with_capacity(size - templates.len());
    for n in 0..size - templates.len() {
        let template = &templates[n % templates.len()];
        let mut specialist = template.clone();
        let domain_words = words.get(&template.domain).map_or(&[][..], Vec::as_slice);
        let word = |sequence: &mut Sequence| -> String {
            if domain_words.is_empty() {
                sequence.pseudo_word()
            } else {
                domain_words[sequence.below(domain_words.len())].clone()
            }
        };
        let own = sequence.pseudo_word();
        specialist.id = format!("{}.gen-{n}", template.domain.as_str());
        specialist.name = format!("{} {own} {n}", template.name);
        let mut keywords: Vec<String> = Vec::with_capacity(KEYWORDS_EACH);
        while keywords.len() < KEYWORDS_EACH {
            let keyword = match keywords.len() {
                index if index < SHARED_WORDS => word(&mut sequence),
                index if index % 2 == 0 => format!("{} {}", word(&mut sequence), sequence.pseudo_word()),
                _ => format!("{} {own}{n}", word(&mut sequence)),
            };
            if !keywords.contains(&keyword) {
                keywords.push(keyword);
            }
        }
        specialist.description = format!("{} Also {} and {} ({own}).", template.description, keywords[2], keywords[3]);
        specialist.examples = template
            .examples
            .iter()
            .map(|example| format!("{example} What about {} {}?", word(&mut sequence), sequence.pseudo_word()))
            .collect();
        specialist.keywords = keywords;
        generated.push(serde_json::to_value(&specialist)?);
    }
    if let Some(list) = value.get_mut("specialists").and_then(serde_json::Value::as_array_mut) {
        list.extend(generated);
    }
    // Through the JSON and the loader: the catalog is validated like a file.
    Catalog::from_json(&value.to_string())
}
