//! The analyse stage: clauses routed, merged and judged simple or
//! composite.

use std::collections::BTreeSet;

use crate::catalog::{Catalog, Domain, FALLBACK_SPECIALIST, Specialist};
use crate::text::{Text, fold};

use super::clauses::{Boundary, Piece, split_pieces};
use super::compiled::{CompiledCatalog, LANGUAGE_NAME_WEIGHT, MIN_CLAUSE_SCORE, Matcher, Ranked};
use super::reachable::Reachable;
use super::requests::{adds_request, asks_for_another, is_request_sentence, names_a_deliverable, starts_request};
use super::results::{Analysis, Clause, QueryKind};
use super::semantic::SemanticIndex;

/// A piece with its routing, before parts are merged.
struct RoutedPiece {
    start: usize,
    end: usize,
    best: Option<Ranked>,
    own_request: bool,
    /// A request of its own that names what it is about ("also explain how
    /// to bleed a radiator"), not one that points back ("explain its
    /// complexity"): it stays a part even when no keyword matches it.
    stands_alone: bool,
    /// It starts with a request verb or a question word.
    asks: bool,
    context: bool,
}

/// Words by which a request points back at an earlier part.
const BACK_REFERENCES: &[&str] =
    &["it", "its", "them", "they", "their", "these", "those", "this", "above", "previous", "same"];

/// A merged part of the query: byte span in the folded query.
struct Part {
    start: usize,
    end: usize,
    /// Catalog order of the part's best specialist.
    best: Option<usize>,
    own_request: bool,
    context: bool,
}

/// Maps byte offsets of the folded query back to the original (same chars,
/// possibly different UTF-8 lengths).
struct OffsetMap {
    pairs: Vec<(usize, usize)>,
}

impl OffsetMap {
    fn new(folded: &str, original: &str) -> OffsetMap {
        let mut pairs: Vec<(usize, usize)> =
            folded.char_indices().map(|(byte, _)| byte).zip(original.char_indices().map(|(byte, _)| byte)).collect();
        pairs.push((folded.len(), original.len()));
        OffsetMap { pairs }
    }

    fn original(&self, folded_byte: usize) -> usize {
        match self.pairs.binary_search_by_key(&folded_byte, |&(folded, _)| folded) {
            Ok(index) => self.pairs[index].1,
            Err(index) => self.pairs.get(index).map_or(0, |&(_, original)| original),
        }
    }
}

/// Decides whether a query is simple or composite, and routes it.
///
/// **The rule.** The query is cut into clauses at sentence ends, question
/// marks, semicolons, line breaks and list items (strong separators) and at
/// commas, "and", "plus", "as well as", "along with" (weak separators) —
/// never inside quotes or inside a keyword such as "terms and conditions".
/// When some sentences ask for something and others only state facts, the
/// statements are *context*, not requests (with semantic routing, a request
/// is read after them: they say what it is about). The items of a list a
/// request introduces, a request after a semicolon, a question after a
/// question and "another one that …" are requests of their own. Each
/// request clause is routed on its own (best specialist with score ≥ 0.9);
/// a clause that matches nothing joins its neighbour, and neighbours with
/// the same specialist merge (a later one that adds a request of its own — "…, and suggest …",
/// "…; also explain …" — stays a part, so a simple query can still have
/// several). The query is **composite** when two request parts route to
/// different specialists that cannot stand in for each other: different
/// domains, or two translators (each is tied to one language), or — within
/// one domain — a later part that is a request of its own (after a strong
/// separator, or starting with a verb or question word: "…; also write
/// tests"). Otherwise it is **simple**, answered by the best specialist for
/// the whole request; when nothing matches, by `general.assistant`.
///
/// So "Translate 'good morning' into Spanish" and "What is 15% of 80?" are
/// simple, while "Write a marketing plan for a budgeting app, with pricing
/// maths and a Spanish tagline" is composite (marketing, finance, and the
/// Spanish translator for the tagline — a part that names a language its
/// specialist does not write brings that language's translator along).
///
/// ```
/// use chorus_core::{AllSpecialists, Catalog, QueryKind, analyse};
/// let catalog = Catalog::bundled()?;
/// let analysis = analyse(&catalog, "Translate 'good morning' into Spanish", &AllSpecialists);
/// assert_eq!(analysis.kind, QueryKind::Simple { specialist_id: "translate.es".into() });
/// let plan = analyse(
///     &catalog,
///     "Write a marketing plan for a budgeting app, with pricing maths and a Spanish tagline",
///     &AllSpecialists,
/// );
/// assert!(plan.is_composite());
/// # Ok::<(), chorus_core::CatalogError>(())
/// ```
///
/// Compiles the catalog's keywords on every call: to route many queries,
/// make a [`Router`](super::Router) once.
#[must_use]
pub fn analyse<R: Reachable + ?Sized>(catalog: &Catalog, query: &str, reachable: &R) -> Analysis {
    analyse_with(catalog, &CompiledCatalog::new(catalog), None, query, reachable)
}

/// [`analyse`] with the catalog already compiled.
pub(super) fn analyse_with<R: Reachable + ?Sized>(
    catalog: &Catalog,
    compiled: &CompiledCatalog,
    semantic: Option<&SemanticIndex>,
    query: &str,
    reachable: &R,
) -> Analysis {
    let matcher = Matcher::new(catalog, compiled, reachable).with_semantic(semantic);
    let folded = fold(query);
    let offsets = OffsetMap::new(&folded, query);
    let original = |start: usize, end: usize| -> &str {
        query.get(offsets.original(start)..offsets.original(end)).unwrap_or_default().trim()
    };
    let split = split_pieces(&folded, &matcher.protected_spans(&folded));

    // Which sentences ask, and which only give context.
    let sentence_count = split.questions.len();
    let mut requests = vec![false; sentence_count];
    for (sentence, asks) in requests.iter_mut().enumerate() {
        let members: Vec<&Piece> = split.pieces.iter().filter(|piece| piece.sentence == sentence).collect();
        if let (Some(first), Some(last)) = (members.first(), members.last()) {
            let text = folded.get(first.start..last.end).unwrap_or_default();
            *asks = is_request_sentence(text, split.questions.get(sentence).copied().unwrap_or(false));
        }
    }
    // The items of a list that a request introduces ("I need: - an agenda
    // - a budget") are requests each, even when they are phrases; the
    // introduction is then their context. So are the items of a bare list
    // when nothing outside it asks ("Quick ones: - … - …").
    let listed = listed_requests(&split.pieces, &requests);
    for (piece, listed) in split.pieces.iter().zip(&listed) {
        if *listed && let Some(asks) = requests.get_mut(piece.sentence) {
            *asks = true;
        }
    }
    for (index, piece) in split.pieces.iter().enumerate() {
        let introduces = piece.colon && listed.get(index + 1).copied().unwrap_or(false);
        if introduces && let Some(asks) = requests.get_mut(piece.sentence) {
            *asks = false;
        }
    }
    let any_request = requests.iter().any(|asks| *asks);

    // With semantic routing, each piece is routed by meaning too (all
    // pieces embedded in one batch), so a request no keyword names is
    // still a part of its own rather than an appendix to its neighbour.
    if let Some(index) = matcher.semantic() {
        let pieces: Vec<&str> = split.pieces.iter().map(|piece| original(piece.start, piece.end)).collect();
        index.prepare(&pieces);
    }
    let routed: Vec<RoutedPiece> = split
        .pieces
        .iter()
        .zip(&listed)
        .map(|(piece, &listed)| {
            let raw = original(piece.start, piece.end);
            let piece_folded = folded.get(piece.start..piece.end).unwrap_or_default();
            let starts = starts_request(piece_folded);
            let asks = starts || listed || (piece.boundary == Boundary::Weak && names_a_deliverable(piece_folded));
            let question = split.questions.get(piece.sentence).copied().unwrap_or(false);
            // Meaning routes a piece that could be a request of its own
            // (a sentence, a list item, or one that starts asking): a
            // phrase after a comma or "and" ("the sky looks washed out")
            // is too short to say what it is about.
            let by_meaning = matcher.semantic().is_some() && (piece.boundary != Boundary::Weak || asks);
            let best = if by_meaning {
                matcher.rank_blended(raw).into_iter().next().filter(Ranked::routes)
            } else {
                matcher.rank(&Text::new(raw)).into_iter().next().filter(|best| best.score >= MIN_CLAUSE_SCORE)
            };
            let own_request = piece.boundary != Boundary::Weak || asks;
            let points_back =
                piece_folded.split(|c: char| !crate::text::is_word_char(c)).any(|word| BACK_REFERENCES.contains(&word));
            RoutedPiece {
                start: piece.start,
                end: piece.end,
                best,
                own_request,
                // Within a sentence ("…, and suggest …") or with an
                // additive word ("…; also explain …"); a new sentence
                // without one ("Explain three ways.") goes on with the
                // request before it.
                // So does a list item, a request after a semicolon, and a
                // question after another request ("… myself? And how often
                // should wiper blades be replaced?").
                stands_alone: asks
                    && !points_back
                    && (piece.boundary == Boundary::Weak
                        || (piece.boundary == Boundary::Strong
                            && (adds_request(piece_folded)
                                || listed
                                || (starts && (piece.list_item || piece.after_semicolon || question))))),
                asks,
                context: any_request && !requests.get(piece.sentence).copied().unwrap_or(true),
            }
        })
        .collect();

    let mut parts = merge_parts(&routed);
    // With meaning, a request part is read after the context sentences
    // ("I'm a nurse just promoted to ward manager. How do I run my first
    // one-on-ones?"): they say what it is about.
    let context: Vec<&str> =
        parts.iter().filter(|part| part.context).map(|part| original(part.start, part.end)).collect();
    // "…, and another one that finds …" is read after the request it asks
    // for one more of.
    let mut after: Vec<&str> = Vec::with_capacity(parts.len());
    let mut last_request = None;
    for part in &parts {
        let another = !part.context && asks_for_another(folded.get(part.start..part.end).unwrap_or_default());
        after.push(if another { last_request.unwrap_or_default() } else { "" });
        if !part.context {
            last_request = Some(original(part.start, part.end));
        }
    }
    let read_as = |index: usize, part: &Part| -> String {
        let text = original(part.start, part.end);
        if part.context || matcher.semantic().is_none() {
            return text.to_owned();
        }
        let before: Vec<&str> =
            context.iter().copied().chain(after.get(index).copied()).filter(|text| !text.is_empty()).collect();
        if before.is_empty() { text.to_owned() } else { format!("{} {text}", before.join(" ")) }
    };
    if let Some(index) = matcher.semantic() {
        // Each request part goes to the best blend of keywords and meaning
        // (the parts and the request embedded in one batch).
        let requests: Vec<String> = parts
            .iter()
            .enumerate()
            .filter(|(_, part)| !part.context)
            .map(|(index, part)| read_as(index, part))
            .collect();
        let joined = requests.join("\n");
        let mut texts: Vec<&str> = requests.iter().map(String::as_str).collect();
        texts.push(&joined);
        // A part is also read alone (see `Matcher::rank_read_as`).
        texts.extend(parts.iter().filter(|part| !part.context).map(|part| original(part.start, part.end)));
        index.prepare(&texts);
    }
    // One ranking per part: it picks the part's specialist (with meaning)
    // and gives its clause the evidence.
    // A part's keywords are its own (a keyword of the context would draw
    // every part to one specialist); its meaning is read with the context.
    let rankings: Vec<Vec<Ranked>> = parts
        .iter()
        .enumerate()
        .map(|(index, part)| matcher.rank_read_as(original(part.start, part.end), &read_as(index, part)))
        .collect();
    if matcher.semantic().is_some() {
        for (part, ranking) in parts.iter_mut().zip(&rankings).filter(|(part, _)| !part.context) {
            if let Some(top) = ranking.first().filter(|top| top.routes()) {
                part.best = Some(top.order);
            }
        }
    }
    let clauses: Vec<Clause> = parts
        .iter()
        .zip(&rankings)
        .map(|(part, ranking)| {
            let text = original(part.start, part.end).to_owned();
            let best = match part.best {
                Some(order) => ranking.iter().find(|entry| entry.order == order),
                None if part.context => ranking.first().filter(|entry| entry.routes()),
                None => None,
            };
            Clause { text, best: best.and_then(|entry| matcher.public(entry)), context: part.context, translator: None }
        })
        .collect();

    decide(catalog, &matcher, reachable, query, &parts, clauses)
}

/// Merges routed pieces into parts: unrouted pieces join a neighbour
/// (unless they are a request that stands alone), neighbours with the same
/// specialist merge unless the later one stands alone, context stays
/// apart.
fn merge_parts(routed: &[RoutedPiece]) -> Vec<Part> {
    let mut parts: Vec<Part> = Vec::new();
    // An unrouted stretch waiting for a part: start, end, whether it is a
    // request of its own, whether its first piece asks.
    let mut pending: Option<(usize, usize, bool, bool)> = None;
    for piece in routed {
        if piece.context {
            if let Some((start, end, own, _)) = pending.take() {
                parts.push(Part { start, end, best: None, own_request: own, context: false });
            }
            match parts.last_mut() {
                Some(last) if last.context => last.end = piece.end,
                _ => parts.push(Part {
                    start: piece.start,
                    end: piece.end,
                    best: None,
                    own_request: false,
                    context: true,
                }),
            }
            continue;
        }
        // An unrouted request that stands alone after another request is a
        // part of its own: it goes to whichever specialist fits it, not
        // along with its neighbour.
        if piece.best.is_none()
            && piece.stands_alone
            && let Some((start, end, own, _)) = pending.take()
        {
            parts.push(Part { start, end, best: None, own_request: own, context: false });
        }
        let own_part = piece.best.is_none() && piece.stands_alone && parts.last().is_some_and(|last| !last.context);
        if own_part {
            parts.push(Part { start: piece.start, end: piece.end, best: None, own_request: true, context: false });
            continue;
        }
        match &piece.best {
            None => match (parts.last_mut(), pending.as_mut()) {
                (_, Some(waiting)) => waiting.1 = piece.end,
                (Some(last), None) if !last.context => last.end = piece.end,
                _ => pending = Some((piece.start, piece.end, piece.own_request, piece.asks)),
            },
            Some(best) => {
                let (start, own) = match pending.take() {
                    // An unrouted request before a routed one that stands
                    // alone: two requests, two parts.
                    Some((start, end, _, true)) if piece.stands_alone => {
                        parts.push(Part { start, end, best: None, own_request: true, context: false });
                        (piece.start, true)
                    }
                    Some((start, _, own, _)) => (start, own || piece.own_request),
                    None => (piece.start, piece.own_request),
                };
                match parts.last_mut() {
                    // The same specialist again: one part, unless this piece
                    // is a request that stands alone ("…; then explain the
                    // form"), which stays a part of its own (it can become a
                    // task of its own and is the conductor's to split).
                    Some(last) if !last.context && last.best == Some(best.order) && !piece.stands_alone => {
                        last.end = piece.end;
                    }
                    Some(last) if !last.context && last.best.is_none() && !own => {
                        last.end = piece.end;
                        last.best = Some(best.order);
                    }
                    _ => parts.push(Part {
                        start,
                        end: piece.end,
                        best: Some(best.order),
                        own_request: own,
                        context: false,
                    }),
                }
            }
        }
    }
    if let Some((start, end, own, _)) = pending {
        parts.push(Part { start, end, best: None, own_request: own, context: false });
    }
    parts
}

/// Per piece: whether it is an item of a list of requests — a list whose
/// introduction (a piece ending with a colon) asks, or when nothing outside
/// the list asks (a bare list, "Four things: - a shopping list … - how to
/// clean the grill …", its phrases and questions alike). A list under a
/// statement, with a request elsewhere, is context ("My setup: - Ubuntu -
/// 8 GB of memory. Why is it slow?").
fn listed_requests(pieces: &[Piece], requests: &[bool]) -> Vec<bool> {
    let mut listed = vec![false; pieces.len()];
    let mut index = 0;
    while index < pieces.len() {
        let Some(intro) = pieces.get(index).filter(|piece| piece.colon) else {
            index += 1;
            continue;
        };
        // The list: its items, each with the phrases after its commas.
        let mut end = index + 1;
        while pieces
            .get(end)
            .is_some_and(|piece| piece.list_item || (end > index + 1 && piece.boundary == Boundary::Weak))
        {
            end += 1;
        }
        if end > index + 1 {
            let sentences = intro.sentence..=pieces[end - 1].sentence;
            let asks_elsewhere =
                requests.iter().enumerate().any(|(sentence, asks)| *asks && !sentences.contains(&sentence));
            if requests.get(intro.sentence).copied().unwrap_or(false) || !asks_elsewhere {
                for (flag, piece) in listed[index + 1..end].iter_mut().zip(&pieces[index + 1..end]) {
                    *flag = piece.list_item;
                }
            }
        }
        index = end;
    }
    listed
}

/// Applies the composite rule to the merged parts and writes the reason.
fn decide<R: Reachable + ?Sized>(
    catalog: &Catalog,
    matcher: &Matcher<'_>,
    reachable: &R,
    query: &str,
    parts: &[Part],
    mut clauses: Vec<Clause>,
) -> Analysis {
    let specialists = catalog.specialists();
    let routed: Vec<(usize, usize)> = parts
        .iter()
        .enumerate()
        .filter(|(_, part)| !part.context)
        .filter_map(|(index, part)| part.best.map(|order| (index, order)))
        .collect();

    let mut independent_pair: Option<(usize, usize, &'static str)> = None;
    'pairs: for (later, &(later_part, later_order)) in routed.iter().enumerate() {
        for &(earlier_part, earlier_order) in &routed[..later] {
            if earlier_order == later_order {
                continue;
            }
            let (Some(earlier), Some(current)) = (specialists.get(earlier_order), specialists.get(later_order)) else {
                continue;
            };
            let why = if earlier.domain != current.domain {
                Some("different domains")
            } else if earlier.domain == Domain::Translation {
                Some("different languages")
            } else if parts[later_part].own_request {
                Some("separate requests")
            } else {
                None
            };
            if let Some(why) = why {
                independent_pair = Some((earlier_part, later_part, why));
                break 'pairs;
            }
        }
    }

    // The request text: the query without its context sentences.
    let has_context = parts.iter().any(|part| part.context);
    let request_text: String = if has_context {
        clauses
            .iter()
            .filter(|clause| !clause.context)
            .map(|clause| clause.text.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    } else {
        query.to_owned()
    };
    let mut ranked = matcher.rank_blended(&request_text);
    let mut from_context = false;
    if has_context && (ranked.is_empty() || matcher.semantic().is_some()) {
        // The context says what the request is about ("People open our
        // app once and never come back. What can we try?"): with meaning,
        // the request is read with it; by keywords, only when the request
        // names nothing (a keyword in the context must not outweigh one
        // in the request).
        let with_context = matcher.rank_blended(query);
        let before = ranked.first().map(|entry| entry.order);
        if !with_context.is_empty() {
            from_context = with_context.first().map(|entry| entry.order) != before;
            ranked = with_context;
        }
    }
    let ranking = matcher.public_all(&ranked);

    if let Some((_, _, why)) = independent_pair {
        let mut ids: Vec<String> = Vec::new();
        let mut described = Vec::new();
        // A part that names a language needs its translator whether or
        // not one can be reached: the plan says so when none can.
        let every_translator = matcher.everything();
        for &(part_index, order) in &routed {
            let Some(specialist) = specialists.get(order) else { continue };
            if !ids.contains(&specialist.id) {
                ids.push(specialist.id.clone());
            }
            let translator = clauses
                .get(part_index)
                .and_then(|clause| needed_translator(&every_translator, specialist, &clause.text));
            let text = clauses.get(part_index).map_or("", |clause| clause.text.as_str());
            match &translator {
                Some(translator) => {
                    let reachable = specialists
                        .iter()
                        .position(|candidate| candidate.id == *translator)
                        .is_some_and(|order| matcher.is_reachable(order));
                    if reachable {
                        described.push(format!("'{}' → {}, then {}", shorten(text), specialist.id, translator));
                        if !ids.contains(translator) {
                            ids.push(translator.clone());
                        }
                    } else {
                        described.push(format!(
                            "'{}' → {} (its translator {} cannot be reached)",
                            shorten(text),
                            specialist.id,
                            translator
                        ));
                    }
                }
                None => described.push(format!("'{}' → {}", shorten(text), specialist.id)),
            }
            if let Some(clause) = clauses.get_mut(part_index) {
                clause.translator = translator;
            }
        }
        let reason = format!(
            "composite: {} requests need specialists that cannot stand in for each other ({why}): {}",
            routed.len(),
            described.join("; ")
        );
        return Analysis { kind: QueryKind::Composite { specialist_ids: ids }, reason, ranking, clauses };
    }

    let top = ranked.first().and_then(|entry| matcher.public(entry));
    let (specialist_id, reason) = match top {
        None if query.trim().is_empty() => {
            let fallback = fallback_id(catalog, reachable);
            (fallback.clone(), format!("simple: the query is empty; {fallback} answers"))
        }
        None => {
            let fallback = fallback_id(catalog, reachable);
            (fallback.clone(), format!("simple: no specialist's keywords match; {fallback} answers"))
        }
        Some(top) => {
            let evidence = evidence(&top);
            let reason = if from_context {
                format!("simple: the request read with its context: {evidence}")
            } else if routed.len() >= 2 {
                let domains: BTreeSet<&str> =
                    routed.iter().filter_map(|&(_, order)| specialists.get(order)).map(|s| s.domain.as_str()).collect();
                let domains: Vec<&str> = domains.into_iter().collect();
                format!(
                    "simple: {} parts, all within {} and joined as one request, so one specialist covers them: {evidence}",
                    routed.len(),
                    domains.join(", ")
                )
            } else {
                format!("simple: one request; {evidence}")
            };
            (top.specialist_id, reason)
        }
    };
    let (specialist_id, reason) = match in_its_language(catalog, reachable, query, &specialist_id) {
        Some((general, language)) => {
            (general.clone(), format!("{reason}; the question is in {language}, which {general} answers in"))
        }
        None => (specialist_id, reason),
    };
    Analysis { kind: QueryKind::Simple { specialist_id }, reason, ranking, clauses }
}

/// The translator a part needs: it names a language (a translator matched)
/// that its own specialist does not write.
fn needed_translator(matcher: &Matcher<'_>, specialist: &Specialist, text: &str) -> Option<String> {
    if specialist.domain == Domain::Translation {
        return None;
    }
    matcher
        .rank(&Text::new(text))
        .iter()
        .filter(|entry| entry.score >= LANGUAGE_NAME_WEIGHT)
        .filter_map(|entry| matcher.specialist(entry))
        .find(|candidate| candidate.translation_language().is_some_and(|language| !specialist.speaks(language)))
        .map(|translator| translator.id.clone())
}

/// A question written in another language than its specialist answers in
/// goes to a reachable general specialist who answers in it (the
/// multilingual assistant): `(that specialist, the language's code)`.
/// Translators are never replaced: they are chosen for a language.
fn in_its_language<R: Reachable + ?Sized>(
    catalog: &Catalog,
    reachable: &R,
    query: &str,
    specialist_id: &str,
) -> Option<(String, &'static str)> {
    let language = crate::text::guess_language(query).filter(|language| *language != "en")?;
    let chosen = catalog.specialist(specialist_id)?;
    if chosen.domain == Domain::Translation || chosen.speaks(language) {
        return None;
    }
    catalog
        .specialists()
        .iter()
        .find(|specialist| {
            specialist.domain == Domain::General
                && specialist.speaks(language)
                && reachable.is_reachable(&specialist.id)
        })
        .map(|general| (general.id.clone(), language))
}

/// `general.assistant` if reachable, else the first reachable general
/// specialist, else the first reachable one; `general.assistant` when
/// nothing is reachable (the conductor's own model can play it).
fn fallback_id<R: Reachable + ?Sized>(catalog: &Catalog, reachable: &R) -> String {
    if reachable.is_reachable(FALLBACK_SPECIALIST) {
        return FALLBACK_SPECIALIST.to_owned();
    }
    let reachable_ones = || catalog.specialists().iter().filter(|s| reachable.is_reachable(&s.id));
    reachable_ones()
        .find(|specialist| specialist.domain == Domain::General)
        .or_else(|| reachable_ones().next())
        .map_or_else(|| FALLBACK_SPECIALIST.to_owned(), |specialist| specialist.id.clone())
}

/// Why a specialist was chosen: "software.python matches 'python'", or
/// with semantic routing "software.python: semantic 0.71 + keywords
/// 'python'".
fn evidence(top: &crate::routing::SpecialistScore) -> String {
    match (top.semantic, top.matched.is_empty()) {
        (None, _) => format!("{} matches {}", top.specialist_id, quote_list(&top.matched)),
        (Some(similarity), true) => format!("{}: semantic {similarity:.2}", top.specialist_id),
        (Some(similarity), false) => {
            format!("{}: semantic {similarity:.2} + keywords {}", top.specialist_id, quote_list(&top.matched))
        }
    }
}

fn quote_list(items: &[String]) -> String {
    items.iter().map(|item| format!("'{item}'")).collect::<Vec<_>>().join(", ")
}

/// At most 60 chars of a clause, for reasons.
fn shorten(text: &str) -> String {
    const LIMIT: usize = 60;
    if text.chars().count() <= LIMIT {
        return text.to_owned();
    }
    let cut: String = text.chars().take(LIMIT - 1).collect();
    format!("{}…", cut.trim_end())
}
