//! Clause splitting: the query cut into pieces at separators, outside
//! quotes and separator-carrying keywords.

use crate::text::is_word_char;

/// What separates a piece from the one before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Boundary {
    /// The first piece.
    Start,
    /// A comma, "and", "plus", "as well as", "along with", "&".
    Weak,
    /// A sentence end, a question mark, a semicolon, a line break, a list item.
    Strong,
}

/// A piece of the query between separators: byte span in the folded text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Piece {
    pub(super) start: usize,
    pub(super) end: usize,
    pub(super) boundary: Boundary,
    pub(super) sentence: usize,
    /// It follows a list marker (`- `, `1. `, `a) `).
    pub(super) list_item: bool,
    /// It follows a semicolon.
    pub(super) after_semicolon: bool,
    /// It ends with a colon (it introduces what follows).
    pub(super) colon: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct Pieces {
    pub(super) pieces: Vec<Piece>,
    /// Per sentence: whether it ended with a question mark.
    pub(super) questions: Vec<bool>,
}

/// A separator found in the text: char indices `from..to` are dropped.
struct Cut {
    from: usize,
    to: usize,
    strength: Boundary,
    question: bool,
    kind: CutKind,
}

impl Cut {
    fn new(from: usize, to: usize, strength: Boundary, kind: CutKind) -> Cut {
        Cut { from, to, strength, question: false, kind }
    }
}

/// What a cut is, where it matters for the piece after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum CutKind {
    #[default]
    Other,
    ListMarker,
    Semicolon,
}

const SEPARATOR_PHRASES: &[&[&str]] = &[
    &["as", "well", "as"],
    &["along", "with"],
    &["together", "with"],
    &["and", "then"],
    &["and", "also"],
    &["and"],
    &["plus"],
    // Spanish, French, German, Portuguese, Italian: "and also", "and".
    &["y", "también"],
    &["y", "además"],
    &["et", "aussi"],
    &["et", "puis"],
    &["und", "auch"],
    &["und", "dann"],
    &["e", "também"],
    &["e", "anche"],
    &["y"],
    &["et"],
    &["und"],
];

/// Words after which "and" joins a pair ("between A and B", "entre A et
/// B", "zwischen A und B").
const PAIRING_WORDS: &[&str] = &["between", "entre", "zwischen", "tra", "fra"];

/// The separators a pairing word holds together.
const PAIRING_SEPARATORS: &[&str] = &["and", "y", "et", "und", "e"];

const ABBREVIATIONS: &[&str] = &[
    "e.g", "i.e", "etc", "vs", "mr", "mrs", "ms", "dr", "st", "approx", "inc", "ltd", "jr", "sr", "fig", "cf", "no",
    "al", "u.s", "u.k", "eg", "ie",
];

fn is_sentence_end(c: char) -> bool {
    matches!(c, '.' | '!' | '?' | '。' | '！' | '？')
}

/// Marks quoted text: nothing inside quotes is split.
fn mark_quotes(chars: &[(usize, char)], blocked: &mut [bool]) {
    let mut open: Option<(usize, char)> = None;
    for index in 0..chars.len() {
        let c = chars[index].1;
        let previous = index.checked_sub(1).map(|i| chars[i].1);
        let next = chars.get(index + 1).map(|&(_, c)| c);
        match open {
            None => {
                let closer = match c {
                    '"' => Some('"'),
                    '「' => Some('」'),
                    '『' => Some('』'),
                    '\'' if !previous.is_some_and(is_word_char) && next.is_some_and(|n| !n.is_whitespace()) => {
                        Some('\'')
                    }
                    _ => None,
                };
                if let Some(closer) = closer {
                    open = Some((index, closer));
                }
            }
            Some((start, closer)) => {
                let closes = c == closer && (closer != '\'' || !next.is_some_and(is_word_char));
                if closes {
                    for flag in &mut blocked[start..=index] {
                        *flag = true;
                    }
                    open = None;
                }
            }
        }
    }
}

/// Length in chars of a list marker at a line start (`- `, `* `, `• `,
/// `1. `, `2) `, `a) `), including the spaces after it.
fn list_marker_len(chars: &[(usize, char)], index: usize) -> Option<usize> {
    let at = |i: usize| chars.get(i).map(|&(_, c)| c);
    let spaces_after = |i: usize| {
        let mut end = i;
        while at(end).is_some_and(|c| c.is_whitespace() && c != '\n') {
            end += 1;
        }
        (end > i || at(i).is_none()).then_some(end)
    };
    let first = at(index)?;
    if matches!(first, '-' | '*' | '•' | '·' | '+' | '‣' | '◦') {
        return spaces_after(index + 1).map(|end| end - index);
    }
    let mut end = index;
    while at(end).is_some_and(|c| c.is_ascii_digit()) && end - index < 3 {
        end += 1;
    }
    if end == index && first.is_ascii_alphabetic() && at(index + 1) == Some(')') {
        end = index + 1;
    }
    if end > index && matches!(at(end), Some('.' | ')')) {
        if at(end) == Some('.') && end == index + 1 && first.is_ascii_alphabetic() {
            return None;
        }
        return spaces_after(end + 1).map(|after| after - index);
    }
    None
}

/// Inline numbered items ("… three things: 1. a packing list, 2. an easy
/// dinner, 3. …"): char index and length of each marker, for a run that
/// counts 1, 2, … with at least two items. A lone "2." ends a sentence.
fn inline_numbers(chars: &[(usize, char)], blocked: &[bool]) -> Vec<(usize, usize)> {
    let at = |i: usize| chars.get(i).map(|&(_, c)| c);
    let mut found: Vec<(usize, usize, u32)> = Vec::new();
    for index in 0..chars.len() {
        let starts = at(index).is_some_and(|c| c.is_ascii_digit())
            && (index == 0 || at(index - 1).is_some_and(char::is_whitespace))
            && !blocked[index];
        if !starts {
            continue;
        }
        let mut end = index;
        while at(end).is_some_and(|c| c.is_ascii_digit()) && end - index < 2 {
            end += 1;
        }
        if matches!(at(end), Some('.' | ')')) && at(end + 1).is_some_and(|c| c == ' ') {
            let number: u32 = chars[index..end].iter().filter_map(|&(_, c)| c.to_digit(10)).fold(0, |n, d| n * 10 + d);
            found.push((index, end + 2 - index, number));
        }
    }
    let mut markers = Vec::new();
    let mut run: Vec<(usize, usize)> = Vec::new();
    let mut next = 1;
    for (index, length, number) in found {
        if number == next {
            run.push((index, length));
            next += 1;
        } else if number == 1 {
            if run.len() >= 2 {
                markers.append(&mut run);
            }
            run = vec![(index, length)];
            next = 2;
        }
    }
    if run.len() >= 2 {
        markers.append(&mut run);
    }
    markers
}

/// Whether the `.` at `index` ends an abbreviation ("e.g.", "vs.") or an
/// initial rather than a sentence.
fn is_abbreviation(chars: &[(usize, char)], index: usize) -> bool {
    let mut start = index;
    while start > 0 && chars.get(start - 1).is_some_and(|&(_, c)| c.is_alphanumeric() || c == '.') {
        start -= 1;
    }
    let word: String = chars[start..index].iter().map(|&(_, c)| c).collect();
    ABBREVIATIONS.contains(&word.as_str()) || (word.chars().count() == 1 && word.chars().all(char::is_alphabetic))
}

/// Length in chars of a separator phrase ("and", "as well as") starting at
/// `index`, which starts a word.
fn separator_len(chars: &[(usize, char)], index: usize, blocked: &[bool]) -> Option<usize> {
    'phrases: for phrase in SEPARATOR_PHRASES {
        let mut position = index;
        for (number, word) in phrase.iter().enumerate() {
            if number > 0 {
                let spaces_start = position;
                while chars.get(position).is_some_and(|&(_, c)| c.is_whitespace() && c != '\n') {
                    position += 1;
                }
                if position == spaces_start {
                    continue 'phrases;
                }
            }
            for expected in word.chars() {
                match chars.get(position) {
                    Some(&(_, c)) if c == expected && !blocked[position] => position += 1,
                    _ => continue 'phrases,
                }
            }
        }
        if chars.get(position).is_some_and(|&(_, c)| is_word_char(c) || c == '\'') {
            continue;
        }
        return Some(position - index);
    }
    None
}

/// Cuts the folded query into pieces at separators, outside quotes and
/// separator-carrying keywords. Sentence ends stay with their sentence.
pub(super) fn split_pieces(folded: &str, protected: &[(usize, usize)]) -> Pieces {
    let chars: Vec<(usize, char)> = folded.char_indices().collect();
    let count = chars.len();
    let at = |i: usize| chars.get(i).map(|&(_, c)| c);
    let mut blocked = vec![false; count];
    for (index, &(byte, _)) in chars.iter().enumerate() {
        if protected.iter().any(|&(start, end)| byte >= start && byte < end) {
            blocked[index] = true;
        }
    }
    mark_quotes(&chars, &mut blocked);
    let numbered = inline_numbers(&chars, &blocked);

    let mut cuts: Vec<Cut> = Vec::new();
    // After "between" (and no cut since: the number of cuts then), the
    // next "and" pairs two things rather than separating requests.
    let mut pairing: Option<usize> = None;
    let mut index = 0;
    let mut line_start = true;
    while index < count {
        let c = chars[index].1;
        if c == '\n' || c == '\r' {
            cuts.push(Cut::new(index, index + 1, Boundary::Strong, CutKind::Other));
            line_start = true;
            index += 1;
            continue;
        }
        if line_start {
            if c.is_whitespace() {
                index += 1;
                continue;
            }
            line_start = false;
            if let Some(length) = list_marker_len(&chars, index) {
                cuts.push(Cut::new(index, index + length, Boundary::Strong, CutKind::ListMarker));
                index += length;
                continue;
            }
        }
        if blocked[index] {
            index += 1;
            continue;
        }
        if let Some(&(_, length)) = numbered.iter().find(|&&(at, _)| at == index) {
            cuts.push(Cut::new(index, index + length, Boundary::Strong, CutKind::ListMarker));
            index += length;
            continue;
        }
        match c {
            _ if is_sentence_end(c) => {
                let mut end = index;
                let mut question = false;
                while at(end).is_some_and(is_sentence_end) {
                    question |= matches!(at(end), Some('?' | '？'));
                    end += 1;
                }
                let unspaced_stop = matches!(c, '。' | '！' | '？');
                let ends = at(end).is_none_or(char::is_whitespace) || unspaced_stop;
                let abbreviation = c == '.' && end == index + 1 && is_abbreviation(&chars, index);
                if ends && !abbreviation {
                    cuts.push(Cut { from: end, to: end, strength: Boundary::Strong, question, kind: CutKind::Other });
                }
                index = end;
                continue;
            }
            ';' | '；' => cuts.push(Cut::new(index, index + 1, Boundary::Strong, CutKind::Semicolon)),
            ',' | '，' | '、' => {
                let between_digits = index > 0
                    && at(index - 1).is_some_and(|c| c.is_ascii_digit())
                    && at(index + 1).is_some_and(|c| c.is_ascii_digit());
                if !between_digits {
                    cuts.push(Cut::new(index, index + 1, Boundary::Weak, CutKind::Other));
                }
            }
            '&' => {
                let spaced = index > 0
                    && at(index - 1).is_some_and(char::is_whitespace)
                    && at(index + 1).is_some_and(char::is_whitespace);
                if spaced {
                    cuts.push(Cut::new(index, index + 1, Boundary::Weak, CutKind::Other));
                }
            }
            ')' => {
                // An inline list item: "… 1) a slogan 2) a budget".
                let mut start = index;
                while start > 0 && at(start - 1).is_some_and(|c| c.is_ascii_digit()) && index - start < 2 {
                    start -= 1;
                }
                if start == index && index > 0 && at(index - 1).is_some_and(|c| c.is_ascii_alphabetic()) {
                    start = index - 1;
                }
                let marker = start < index
                    && start > 0
                    && at(start - 1).is_some_and(char::is_whitespace)
                    && at(index + 1).is_some_and(char::is_whitespace)
                    && !blocked[start];
                if marker {
                    cuts.push(Cut::new(start, index + 1, Boundary::Strong, CutKind::ListMarker));
                }
            }
            _ if c.is_alphabetic() && (index == 0 || !at(index - 1).is_some_and(|c| is_word_char(c) || c == '\'')) => {
                let word: String = chars[index..].iter().map(|&(_, c)| c).take_while(|&c| is_word_char(c)).collect();
                if PAIRING_WORDS.contains(&word.as_str()) {
                    // "between a list and a tuple": the "and" pairs, it
                    // does not separate.
                    pairing = Some(cuts.len());
                    index += word.chars().count();
                    continue;
                }
                if let Some(length) = separator_len(&chars, index, &blocked) {
                    if pairing.take() == Some(cuts.len()) && PAIRING_SEPARATORS.contains(&word.as_str()) {
                        index += length;
                        continue;
                    }
                    cuts.push(Cut::new(index, index + length, Boundary::Weak, CutKind::Other));
                    index += length;
                    continue;
                }
            }
            _ => {}
        }
        index += 1;
    }

    let mut result = Pieces::default();
    let mut position = 0;
    // The strongest cut since the last piece, and whether a list marker or
    // a semicolon was among them.
    let mut pending: Option<Boundary> = None;
    let mut pending_kinds = (false, false);
    let byte = |i: usize| chars.get(i).map_or(folded.len(), |&(byte, _)| byte);
    let emit =
        |from: usize, to: usize, pending: &mut Option<Boundary>, kinds: &mut (bool, bool), result: &mut Pieces| {
            let trim = |c: char| c.is_whitespace() || matches!(c, ',' | ';' | ':' | '，' | '；' | '、');
            let mut start = from;
            let mut end = to.max(from);
            while start < end && at(start).is_some_and(trim) {
                start += 1;
            }
            while end > start && at(end - 1).is_some_and(trim) {
                end -= 1;
            }
            if !(start..end).any(|i| at(i).is_some_and(is_word_char)) {
                return;
            }
            let colon = (end..to.max(from)).any(|i| matches!(at(i), Some(':' | '：')));
            let boundary = if result.pieces.is_empty() { Boundary::Start } else { pending.unwrap_or(Boundary::Weak) };
            if result.pieces.is_empty() || boundary == Boundary::Strong {
                result.questions.push(false);
            }
            let sentence = result.questions.len() - 1;
            result.pieces.push(Piece {
                start: byte(start),
                end: byte(end),
                boundary,
                sentence,
                list_item: kinds.0,
                after_semicolon: kinds.1,
                colon,
            });
            *pending = None;
            *kinds = (false, false);
        };
    for cut in cuts {
        let from = cut.from.max(position);
        emit(position, from, &mut pending, &mut pending_kinds, &mut result);
        pending = Some(pending.map_or(cut.strength, |strength| strength.max(cut.strength)));
        pending_kinds.0 |= cut.kind == CutKind::ListMarker;
        pending_kinds.1 |= cut.kind == CutKind::Semicolon;
        if cut.question
            && let Some(last) = result.questions.last_mut()
        {
            *last = true;
        }
        position = cut.to.max(from);
    }
    emit(position, count, &mut pending, &mut pending_kinds, &mut result);
    result
}
