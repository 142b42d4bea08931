use crate::catalog::{Catalog, FALLBACK_SPECIALIST};
use crate::text::fold;

use super::clauses::{Boundary, split_pieces};
use super::requests::{is_request_sentence, names_a_deliverable, starts_request};
use super::{AllSpecialists, Analysis, QueryKind, Router, analyse, rank_specialists};

fn catalog() -> Catalog {
    Catalog::bundled().expect("bundled catalog")
}

fn pieces(query: &str) -> Vec<(String, Boundary, usize)> {
    let folded = fold(query);
    split_pieces(&folded, &[])
        .pieces
        .into_iter()
        .map(|piece| (folded[piece.start..piece.end].to_owned(), piece.boundary, piece.sentence))
        .collect()
}

fn piece_texts(query: &str) -> Vec<String> {
    pieces(query).into_iter().map(|(text, _, _)| text).collect()
}

fn top(query: &str) -> String {
    rank_specialists(&catalog(), query, &AllSpecialists)
        .first()
        .map(|score| score.specialist_id.clone())
        .unwrap_or_default()
}

#[test]
fn clauses_split_at_separators() {
    assert_eq!(
        piece_texts("Write a marketing plan for a budgeting app, with pricing maths and a Spanish tagline"),
        ["write a marketing plan for a budgeting app", "with pricing maths", "a spanish tagline"]
    );
    assert_eq!(piece_texts("Plan my trip. Also, find a hotel!"), ["plan my trip.", "also", "find a hotel!"]);
    assert_eq!(piece_texts("Fix this; then test it"), ["fix this", "then test it"]);
    assert_eq!(piece_texts("Budget as well as taxes"), ["budget", "taxes"]);
    assert_eq!(piece_texts("sand and brand"), ["sand", "brand"]);
    assert_eq!(piece_texts("Android Studio"), ["android studio"]);
}

#[test]
fn clauses_keep_quotes_numbers_abbreviations_and_protected_phrases() {
    assert_eq!(
        piece_texts("Translate 'apples, pears and plums' into French"),
        ["translate 'apples, pears and plums' into french"]
    );
    assert_eq!(piece_texts("It costs 1,250.50 dollars"), ["it costs 1,250.50 dollars"]);
    assert_eq!(piece_texts("Use tools, e.g. grep"), ["use tools", "e.g. grep"]);
    assert_eq!(piece_texts("I don't know and can't tell"), ["i don't know", "can't tell"]);
    let folded = fold("Review the terms and conditions");
    let span = folded.find("terms and conditions").expect("present");
    let kept = split_pieces(&folded, &[(span, span + "terms and conditions".len())]);
    assert_eq!(kept.pieces.len(), 1);
}

#[test]
fn clauses_follow_lists_and_sentences() {
    let listed = pieces("Three things:\n1. a slogan\n2) a budget\n- an Instagram caption");
    let texts: Vec<&str> = listed.iter().map(|(text, _, _)| text.as_str()).collect();
    assert_eq!(texts, ["three things", "a slogan", "a budget", "an instagram caption"]);
    assert!(listed.iter().skip(1).all(|(_, boundary, _)| *boundary == Boundary::Strong));
    let inline = piece_texts("Do two things: 1) a slogan 2) a budget");
    assert_eq!(inline, ["do two things", "a slogan", "a budget"]);
    let sentences = pieces("Is it safe? Tell me why, and how.");
    assert_eq!(sentences.iter().map(|(_, _, s)| *s).collect::<Vec<_>>(), [0, 1, 1]);
    let split = split_pieces(&fold("Is it safe? Tell me why."), &[]);
    assert_eq!(split.questions, [true, false]);
}

#[test]
fn requests_and_context_are_told_apart() {
    assert!(starts_request("also, write a poem"));
    assert!(starts_request("how do i fix it"));
    assert!(!starts_request("a spanish tagline"));
    assert!(is_request_sentence("i need a logo", false));
    assert!(is_request_sentence("my app is slow", true));
    assert!(!is_request_sentence("we are launching a budgeting app next month.", false));
}

#[test]
fn multi_word_phrases_outweigh_single_words() {
    assert_eq!(top("Write a job description for a backend engineer"), "hr.recruiting");
    assert_eq!(top("Translate 'did you sleep well?' into Spanish"), "translate.es");
    assert_eq!(top("Explain the causes of the First World War"), "education.history");
    let ranking = rank_specialists(&catalog(), "borrow checker errors in my rust code", &AllSpecialists);
    assert_eq!(ranking[0].specialist_id, "software.rust");
    assert_eq!(ranking[0].matched, ["borrow checker", "rust"]);
    assert!((ranking[0].score - 3.0).abs() < 1e-9);
}

#[test]
fn ties_go_to_the_earliest_match() {
    assert_eq!(top("Plan a 5-day itinerary for Lisbon on a budget"), "lifestyle.travel");
    assert_eq!(top("pricing maths"), "finance.pricing");
    assert_eq!(top("maths for pricing"), "education.math-tutor");
}

#[test]
fn only_reachable_specialists_are_candidates() {
    let catalog = catalog();
    let reachable = ["general.assistant", "finance.pricing"];
    let ranking = rank_specialists(&catalog, "write a rust function for pricing", &reachable);
    let ids: Vec<&str> = ranking.iter().map(|score| score.specialist_id.as_str()).collect();
    assert_eq!(ids, ["finance.pricing"]);
    let analysis = analyse(&catalog, "borrow checker help", &reachable);
    assert_eq!(analysis.kind, QueryKind::Simple { specialist_id: "general.assistant".into() });
    let nothing: Vec<String> = Vec::new();
    let analysis = analyse(&catalog, "borrow checker help", &nothing);
    assert_eq!(analysis.specialist_ids(), ["general.assistant"]);
    let only_multilingual = vec!["general.multilingual"];
    let analysis = analyse(&catalog, "why is the sky blue", &only_multilingual);
    assert_eq!(analysis.specialist_ids(), ["general.multilingual"]);
}

#[test]
fn the_examples_of_the_issue() {
    let catalog = catalog();
    let simple = analyse(&catalog, "Translate 'good morning' into Spanish", &AllSpecialists);
    assert_eq!(simple.kind, QueryKind::Simple { specialist_id: "translate.es".into() });
    assert!(simple.reason.starts_with("simple"), "{}", simple.reason);

    let percent = analyse(&catalog, "What is 15% of 80?", &AllSpecialists);
    assert_eq!(percent.kind, QueryKind::Simple { specialist_id: "finance.pricing".into() });

    let composite = analyse(
        &catalog,
        "Write a marketing plan for a budgeting app, with pricing maths and a Spanish tagline",
        &AllSpecialists,
    );
    let QueryKind::Composite { specialist_ids } = &composite.kind else {
        panic!("expected composite: {composite:?}");
    };
    for id in ["marketing.strategy", "finance.pricing", "translate.es"] {
        assert!(specialist_ids.iter().any(|chosen| chosen == id), "{id} missing from {specialist_ids:?}");
    }
    assert_eq!(composite.clauses.len(), 3);
    let tagline = &composite.clauses[2];
    assert_eq!(tagline.text, "a Spanish tagline");
    assert_eq!(tagline.translator.as_deref(), Some("translate.es"));
    assert!(composite.reason.contains("'with pricing maths' → finance.pricing"), "{}", composite.reason);
}

#[test]
fn nothing_matched_goes_to_the_general_assistant() {
    let analysis = analyse(&catalog(), "Why is the sky blue?", &AllSpecialists);
    assert_eq!(analysis.kind, QueryKind::Simple { specialist_id: FALLBACK_SPECIALIST.into() });
    assert!(analysis.ranking.is_empty());
    assert!(analysis.reason.contains("no specialist"), "{}", analysis.reason);
    let empty = analyse(&catalog(), "   ", &AllSpecialists);
    assert_eq!(empty.specialist_ids(), [FALLBACK_SPECIALIST]);
    assert!(empty.clauses.is_empty());
}

#[test]
fn context_sentences_do_not_make_a_query_composite() {
    let analysis = analyse(
        &catalog(),
        "We are launching a budgeting app next month. Write three taglines for it.",
        &AllSpecialists,
    );
    assert_eq!(analysis.kind, QueryKind::Simple { specialist_id: "marketing.copywriting".into() });
    assert!(analysis.clauses[0].context);
    assert!(!analysis.clauses[1].context);
}

#[test]
fn same_domain_parts_join_unless_they_are_separate_requests() {
    let catalog = catalog();
    let joined = analyse(&catalog, "Suggest a colour palette and font pairing for a meditation app", &AllSpecialists);
    assert!(!joined.is_composite(), "{joined:?}");
    let separate = analyse(&catalog, "Draft a logo brief, and write the Instagram bio", &AllSpecialists);
    assert!(separate.is_composite(), "{separate:?}");
    let languages = analyse(&catalog, "Translate our return policy into German and Italian", &AllSpecialists);
    assert_eq!(
        languages.kind,
        QueryKind::Composite { specialist_ids: vec!["translate.de".into(), "translate.it".into()] }
    );
}

#[test]
fn clause_texts_come_from_the_original_query() {
    let analysis = analyse(&catalog(), "Größe: Draft a CV, and translate it into GERMAN", &AllSpecialists);
    let texts: Vec<&str> = analysis.clauses.iter().map(|clause| clause.text.as_str()).collect();
    assert_eq!(texts, ["Größe: Draft a CV", "translate it into GERMAN"]);
    assert!(analysis.is_composite());
}

#[test]
fn analysis_serialises_for_the_cli() {
    let analysis = analyse(&catalog(), "Translate 'hello' into French", &AllSpecialists);
    let json = serde_json::to_value(&analysis).expect("json");
    assert_eq!(json["kind"]["kind"], "simple");
    assert_eq!(json["kind"]["specialist_id"], "translate.fr");
    assert_eq!(json["ranking"][0]["domain"], "translation");
    let back: Analysis = serde_json::from_value(json).expect("round trip");
    assert_eq!(back, analysis);
}

#[test]
fn the_router_routes_as_the_free_functions_do() {
    let catalog = std::sync::Arc::new(catalog());
    let router = Router::new(std::sync::Arc::clone(&catalog));
    assert_eq!(router.catalog(), &*catalog);
    for query in [
        "Translate 'good morning' into Spanish",
        "Write a marketing plan for a budgeting app, with pricing maths and a Spanish tagline",
        "We are launching a budgeting app next month. Write three taglines for it.",
        "Why is the sky blue?",
    ] {
        assert_eq!(router.analyse(query, &AllSpecialists), analyse(&catalog, query, &AllSpecialists));
        let reachable = ["general.assistant", "finance.pricing"];
        assert_eq!(router.rank_specialists(query, &reachable), rank_specialists(&catalog, query, &reachable));
    }
}

/// The request clauses of a query: (text, best specialist).
fn requests(query: &str) -> (Analysis, Vec<(String, Option<String>)>) {
    let analysis = analyse(&catalog(), query, &AllSpecialists);
    let requests = analysis
        .clauses
        .iter()
        .filter(|clause| !clause.context)
        .map(|clause| (clause.text.clone(), clause.best.as_ref().map(|best| best.specialist_id.clone())))
        .collect();
    (analysis, requests)
}

#[test]
fn a_request_of_its_own_stays_a_clause_even_for_the_same_specialist_or_none() {
    // Two requests for one specialist: simple, but two clauses.
    let (analysis, parts) = requests("Write a haiku about autumn; then explain the rules of the haiku form.");
    assert!(!analysis.is_composite(), "{analysis:?}");
    assert_eq!(parts.len(), 2, "{parts:?}");
    assert_eq!(parts[0].1, parts[1].1, "{parts:?}");
    // A request that matches no keyword but stands alone.
    let (_, parts) =
        requests("Draft a polite email to my landlord about the broken heating; also explain how to bleed a radiator.");
    assert_eq!(parts.len(), 2, "{parts:?}");
    assert!(parts[0].1.is_some() && parts[1].1.is_none(), "{parts:?}");
    assert!(parts[1].0.contains("radiator"), "{parts:?}");
    // A request that points back stays with what it points at; a greeting
    // is no request of its own.
    for query in [
        "Write a Python function that sorts a list, and explain its complexity.",
        "Hi there, write a Python function.",
        // A new sentence without "also" or "then" goes on with the one before.
        "How do I reverse a list in Python? Explain three ways in detail, each with a full example program.",
        "Write a Python function that parses CSV. Make it handle quoted fields in Python.",
    ] {
        let (_, parts) = requests(query);
        assert_eq!(parts.len(), 1, "{query}: {parts:?}");
    }
}

#[test]
fn lists_semicolons_and_further_questions_make_requests_of_their_own() {
    // The items of a list a request introduces are requests, even as
    // phrases; the introduction is their context.
    let (_, parts) = requests(
        "For our charity's board meeting next week I need:\n- an agenda for a 90-minute meeting\n- a short summary of \
         what trustees are legally responsible for\n- ideas to thank our longest-serving volunteers",
    );
    let texts: Vec<&str> = parts.iter().map(|(text, _)| text.as_str()).collect();
    assert_eq!(texts.len(), 3, "{parts:?}");
    assert!(texts[0].starts_with("an agenda") && texts[2].starts_with("ideas to thank"), "{parts:?}");
    // A list of facts under a statement stays context.
    let (_, parts) = requests("My setup:\n- Ubuntu 22.04\n- 8 GB of memory\nWhy is my Python script so slow?");
    assert_eq!(parts.len(), 1, "{parts:?}");
    // Inline numbered items count 1, 2, …; a lone "2." ends a sentence.
    assert_eq!(
        piece_texts("Three things: 1. a packing list, 2. a dinner idea, 3. a game for the car."),
        ["three things", "a packing list", "a dinner idea", "a game for the car."]
    );
    assert_eq!(piece_texts("I have 2. Why?"), ["i have 2.", "why?"]);
    // A request after a semicolon, a question after a question, "another".
    for query in [
        "Write a haiku about autumn; recommend a few poetry collections for beginners.",
        "How do I check my tyre pressure myself? And how often should wiper blades be replaced?",
        "Write a SQL query that returns the top 5 customers by revenue, and another one that finds customers who \
         never ordered.",
    ] {
        let (_, parts) = requests(query);
        assert_eq!(parts.len(), 2, "{query}: {parts:?}");
    }
    // "between … and" pairs two things within one request.
    assert_eq!(piece_texts("What is the difference between a list and a tuple in Python?").len(), 1);
}

#[test]
fn requests_in_other_languages_are_split_too() {
    for query in [
        "¿Cómo hago una tortilla de patatas? Y también, ¿qué ejercicios puedo hacer para el dolor de espalda?",
        "Erklär mir bitte den Unterschied zwischen Aktien und ETFs, und gib mir ein Rezept für einen Apfelkuchen.",
        "Comment configurer le contrôle parental sur la tablette ? Et quels livres conseilles-tu pour un enfant ?",
    ] {
        let (analysis, parts) = requests(query);
        assert_eq!(parts.len(), 2, "{query}: {parts:?}");
        // With no specialist writing the language, the multilingual
        // assistant answers every part.
        assert_eq!(analysis.kind, QueryKind::Simple { specialist_id: "general.multilingual".into() }, "{query}");
    }
    assert!(starts_request(&fold("Gib mir ein Rezept")) && starts_request(&fold("¿Qué puedo hacer?")));
}

#[test]
fn things_named_after_a_request_pronoun_verbs_and_mixed_lists_are_requests_too() {
    // A second thing to make, named after "and": a request of its own,
    // even within one domain; an ingredient is not.
    assert!(names_a_deliverable(&fold("and a short free-verse poem about my grandfather's garden")));
    assert!(names_a_deliverable(&fold("un consejo para que mi gato deje de arañar el sofá")));
    assert!(!names_a_deliverable(&fold("a little sugar")) && !names_a_deliverable(&fold("a gift for a poem lover")));
    let (_, parts) = requests(
        "Write a limerick about my lazy cat, and a short free-verse poem about my grandfather's vegetable garden.",
    );
    assert_eq!(parts.len(), 2, "{parts:?}");
    let (_, parts) = requests("Make a pancake batter with flour, milk and a little sugar.");
    assert_eq!(parts.len(), 1, "{parts:?}");
    // A French verb after its pronoun starts a request.
    assert!(starts_request(&fold("et aussi me donner des idées de sorties")));
    assert!(starts_request(&fold("m'expliquer les intérêts composés")));
    // A bare list of phrases and questions: each item is a request, and
    // no item is another's context.
    let (_, parts) = requests(
        "Four things before the weekend:\n- a shopping list for a barbecue for 15 people\n- how to clean the grill \
         grates properly\n- what to do if someone gets stung by a wasp",
    );
    let texts: Vec<&str> = parts.iter().map(|(text, _)| text.as_str()).collect();
    assert_eq!(texts.len(), 3, "{parts:?}");
    assert!(texts[0].starts_with("a shopping list") && texts[2].starts_with("what to do"), "{parts:?}");
}
