//! STUB (replaced by the recognisers branch): e-mail addresses only.

/// The kinds of personal data the recognisers find.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
#[allow(missing_docs)]
pub enum PiiKind {
    Email,
    Phone,
    Card,
    Iban,
    IpAddress,
    Ssn,
    UkNino,
    Aadhaar,
    Pan,
    Secret,
    Address,
    BirthDate,
    Name,
}

impl PiiKind {
    /// Every kind.
    pub const ALL: [PiiKind; 13] = [
        Self::Email,
        Self::Phone,
        Self::Card,
        Self::Iban,
        Self::IpAddress,
        Self::Ssn,
        Self::UkNino,
        Self::Aadhaar,
        Self::Pan,
        Self::Secret,
        Self::Address,
        Self::BirthDate,
        Self::Name,
    ];

    /// The placeholder tag.
    #[must_use]
    pub fn tag(self) -> &'static str {
        match self {
            Self::Email => "EMAIL",
            Self::Phone => "PHONE",
            Self::Card => "CARD",
            Self::Iban => "IBAN",
            Self::IpAddress => "IP",
            Self::Ssn => "SSN",
            Self::UkNino => "NINO",
            Self::Aadhaar => "AADHAAR",
            Self::Pan => "PAN",
            Self::Secret => "SECRET",
            Self::Address => "ADDRESS",
            Self::BirthDate => "DOB",
            Self::Name => "NAME",
        }
    }
}

/// One value found.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(missing_docs)]
pub struct Finding {
    pub kind: PiiKind,
    pub start: usize,
    pub end: usize,
}

/// The recognisers.
#[derive(Debug, Clone, Default)]
pub struct Recogniser {
    names: Vec<String>,
}

impl Recogniser {
    /// Recognisers with the user's listed names.
    #[must_use]
    pub fn new(listed_names: &[String]) -> Self {
        Self { names: listed_names.to_vec() }
    }

    /// Every value found.
    #[must_use]
    pub fn find(&self, text: &str) -> Vec<Finding> {
        let mut found = Vec::new();
        for (start, word) in text.split_whitespace().map(|w| (w.as_ptr() as usize - text.as_ptr() as usize, w)) {
            let word = word.trim_end_matches([',', '.', ')', ';']).trim_start_matches('(');
            let start = start + text[start..].find(word).unwrap_or(0);
            if word.contains('@') && word.contains('.') {
                found.push(Finding { kind: PiiKind::Email, start, end: start + word.len() });
            } else if self.names.iter().any(|name| name.split_whitespace().any(|part| part == word)) {
                found.push(Finding { kind: PiiKind::Name, start, end: start + word.len() });
            }
        }
        found
    }
}
