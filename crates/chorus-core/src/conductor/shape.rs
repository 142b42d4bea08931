//! The shape a part's answer should have, read from the part's words: a
//! tagline, slogan or headline is one line; maths and pricing show their
//! working. The shape adds one instruction to the part's task, caps a
//! one-line part's tokens, and keeps one line of its answer. Pure.

use crate::text::fold;

/// What a part asks for, as far as the answer's form goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PartShape {
    /// Anything else: the specialist's own form.
    Free,
    /// One line: the named thing alone (`tagline`, `slogan`, …).
    OneLine(&'static str),
    /// Numbers worked out: the steps, then the result.
    Working,
}

/// Words naming a one-line answer.
const ONE_LINE: &[&str] =
    &["tagline", "slogan", "headline", "motto", "catchphrase", "strapline", "one-liner", "subject line", "title"];

/// Words of a part whose answer is worked out.
const WORKING: &[&str] = &[
    "maths",
    "math",
    "calculate",
    "calculation",
    "compute",
    "work out",
    "how much",
    "how many",
    "percent",
    "percentage",
    "pricing",
    "break-even",
    "break even",
    "interest rate",
    "solve",
    "equation",
];

/// Most tokens of a one-line part (a long tagline is about 20).
pub(crate) const ONE_LINE_MAX_TOKENS: u32 = 48;

/// The shape of the part with these words.
pub(crate) fn part_shape(part: &str) -> PartShape {
    let folded = format!(
        " {} ",
        fold(part)
            .split(|c: char| !(c.is_alphanumeric() || c == '-'))
            .filter(|w| !w.is_empty())
            .collect::<Vec<_>>()
            .join(" ")
    );
    let has = |phrase: &str| folded.contains(&format!(" {phrase} ")) || folded.contains(&format!(" {phrase}s "));
    if let Some(what) = ONE_LINE.iter().find(|phrase| has(phrase)) {
        return PartShape::OneLine(what);
    }
    if WORKING.iter().any(|phrase| has(phrase)) {
        return PartShape::Working;
    }
    PartShape::Free
}

impl PartShape {
    /// The sentence added to the part's task, if any.
    pub(crate) fn instruction(self) -> Option<String> {
        match self {
            Self::Free => None,
            Self::OneLine(what) => Some(format!("Reply with the {what} alone, on one line.")),
            Self::Working => Some("Show the working step by step, then the result.".to_owned()),
        }
    }

    /// The part's token cap, if its shape sets one.
    pub(crate) fn max_tokens(self) -> Option<u32> {
        matches!(self, Self::OneLine(_)).then_some(ONE_LINE_MAX_TOKENS)
    }

    /// The answer in this shape: for one line, its first line with words
    /// (a label such as "Tagline:" and wrapping quotes removed); otherwise
    /// as it is.
    pub(crate) fn fit(self, text: &str) -> String {
        let Self::OneLine(what) = self else { return text.to_owned() };
        let Some(line) = text.lines().map(str::trim).find(|line| line.chars().any(char::is_alphanumeric)) else {
            return text.to_owned();
        };
        let line = line.trim_start_matches(['-', '*', '#', ' ']);
        let line = match line.split_once(':') {
            Some((label, rest)) if fold(label).contains(what) && !rest.trim().is_empty() => rest.trim(),
            _ => line,
        };
        line.trim_matches(['"', '\'', '*', '\u{201C}', '\u{201D}', ' ']).to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_are_shaped_by_what_they_ask() {
        assert_eq!(part_shape("a Spanish tagline"), PartShape::OneLine("tagline"));
        assert_eq!(part_shape("and two slogans for the launch"), PartShape::OneLine("slogan"));
        assert_eq!(part_shape("with pricing maths"), PartShape::Working);
        assert_eq!(part_shape("Work out how much I save at 3 percent"), PartShape::Working);
        assert_eq!(part_shape("Write a marketing plan for a new budgeting app"), PartShape::Free);
        assert_eq!(part_shape("a polite email to my landlord"), PartShape::Free);
    }

    #[test]
    fn a_one_line_answer_keeps_its_first_line_without_label_or_quotes() {
        let tagline = PartShape::OneLine("tagline");
        assert_eq!(tagline.fit("Tagline: \"Count every coin.\"\n\nThis tagline works because…"), "Count every coin.");
        assert_eq!(tagline.fit("\n- **Save smart, live free**\n- Budget better"), "Save smart, live free");
        assert_eq!(tagline.fit("Note: short is better"), "Note: short is better");
        assert_eq!(PartShape::Working.fit("1. a\n2. b"), "1. a\n2. b");
        assert_eq!(tagline.instruction().as_deref(), Some("Reply with the tagline alone, on one line."));
        assert_eq!((tagline.max_tokens(), PartShape::Working.max_tokens()), (Some(ONE_LINE_MAX_TOKENS), None));
    }
}
