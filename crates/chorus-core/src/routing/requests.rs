//! Requests and context: whether a clause or sentence asks for something.

use std::sync::OnceLock;

use crate::text::{Term, Text, is_word_char};

/// Words skipped before looking at how a clause starts (with the
/// [`ADDITIVE`] words).
const FILLERS: &[&str] = &[
    "please", "pls", "now", "so", "ok", "okay", "first", "second", "third", "hi", "hey", "hello", "oh", "kindly",
    "bitte",
];

/// Verbs that start a request ("write …", "translate …").
const REQUEST_VERBS: &[&str] = &[
    "write",
    "draft",
    "create",
    "make",
    "build",
    "design",
    "plan",
    "translate",
    "summarise",
    "summarize",
    "explain",
    "describe",
    "give",
    "list",
    "suggest",
    "recommend",
    "calculate",
    "compute",
    "work",
    "estimate",
    "find",
    "fix",
    "review",
    "check",
    "proofread",
    "edit",
    "rewrite",
    "compare",
    "analyse",
    "analyze",
    "generate",
    "compose",
    "come",
    "prepare",
    "outline",
    "help",
    "tell",
    "show",
    "teach",
    "add",
    "include",
    "flag",
    "convert",
    "turn",
    "put",
    "draw",
    "sketch",
    "propose",
    "set",
    "choose",
    "pick",
    "brainstorm",
    "research",
    "send",
    "respond",
    "reply",
    "answer",
    "improve",
    "optimise",
    "optimize",
    "debug",
    "refactor",
    "test",
    "plot",
    "develop",
    "implement",
    "organise",
    "organize",
    "schedule",
    "book",
    "advise",
    "assess",
    "evaluate",
    "identify",
    "define",
    "clarify",
    "simplify",
    "shorten",
    "expand",
    "polish",
    "format",
    "structure",
    "map",
    "solve",
    "balance",
    "derive",
    "prove",
    "name",
    "recap",
    "quiz",
    "rate",
    "rank",
    "sort",
    "convert",
    "say",
    "spell",
    "count",
    // Spanish (imperatives, "necesito", "quiero").
    "escribe",
    "escríbeme",
    "explica",
    "explícame",
    "explicame",
    "dame",
    "dime",
    "haz",
    "hazme",
    "recomienda",
    "recomiéndame",
    "sugiere",
    "traduce",
    "ayúdame",
    "ayudame",
    "necesito",
    "quiero",
    "prepara",
    "crea",
    "calcula",
    "corrige",
    "revisa",
    "resume",
    // French.
    "écris",
    "écrivez",
    "explique",
    "expliquez",
    "donne",
    "donnez",
    "peux",
    "pouvez",
    "pourrais",
    "pourriez",
    "aide",
    "aidez",
    "recommande",
    "conseille",
    "propose",
    "proposez",
    "traduis",
    "traduisez",
    "fais",
    "faites",
    "dis",
    "calcule",
    "résume",
    "prépare",
    // German.
    "schreib",
    "schreibe",
    "erklär",
    "erkläre",
    "gib",
    "hilf",
    "empfiehl",
    "übersetze",
    "übersetz",
    "nenne",
    "nenn",
    "zeig",
    "zeige",
    "mach",
    "mache",
    "berechne",
    "korrigiere",
    "erstelle",
    "kannst",
    "könntest",
    // Portuguese and Italian.
    "escreva",
    "ajude",
    "recomende",
    "sugira",
    "traduza",
    "faça",
    "preciso",
    "quero",
    "scrivi",
    "spiega",
    "spiegami",
    "dammi",
    "dimmi",
    "aiutami",
    "consigliami",
    "suggerisci",
    "traduci",
    "calcola",
];

/// Words that start a question, even without a question mark.
const QUESTION_WORDS: &[&str] = &[
    "what", "what's", "whats", "how", "how's", "why", "when", "where", "where's", "which", "who", "who's", "whom",
    "whose", "is", "are", "am", "was", "were", "can", "could", "should", "would", "will", "do", "does", "did", "may",
    "might", "shall", "any", "have", "has", // Spanish, French, German, Portuguese, Italian.
    "qué", "cómo", "cuál", "cuáles", "cuánto", "cuánta", "cuántos", "cuántas", "dónde", "cuándo", "quién", "puedo",
    "puedes", "comment", "quel", "quels", "quelle", "quelles", "pourquoi", "où", "quand", "combien", "wie", "warum",
    "wieso", "weshalb", "wo", "wann", "welche", "welcher", "welches", "wer", "kann", "können", "como", "qual", "quais",
    "quanto", "onde", "quando", "quem", "posso", "pode", "cosa", "perché", "quale", "quali", "dove", "puoi",
];

/// Phrases that make a sentence a request wherever they appear.
const REQUEST_PHRASES: &[&str] = &[
    "please",
    "help me",
    "need help",
    "help with",
    "i need",
    "i want",
    "i'd like",
    "i would like",
    "we need",
    "we want",
    "we'd like",
    "can you",
    "could you",
    "would you",
    "let's",
    "i'm looking for",
    "give me",
    "show me",
    "tell me",
    "i have to",
    "remind me",
    "i wonder",
    "any tips",
    "any ideas",
    "any advice",
    "necesito",
    "quiero",
    "me gustaría",
    "por favor",
    "j'ai besoin",
    "je voudrais",
    "je veux",
    "s'il te plaît",
    "s'il vous plaît",
    "ich brauche",
    "ich möchte",
    "bitte",
    "preciso",
    "ho bisogno",
    "vorrei",
    "per favore",
];

/// The first word of a clause that is not a filler.
fn leading_word(folded: &str) -> Option<&str> {
    folded
        .split(|c: char| !(is_word_char(c) || c == '\''))
        .map(|word| word.trim_matches('\''))
        .filter(|word| !word.is_empty())
        .find(|word| !FILLERS.contains(word) && !ADDITIVE.contains(word))
}

/// Whether a clause opens a request of its own (starts with a request verb
/// or a question word).
pub(super) fn starts_request(folded: &str) -> bool {
    leading_word(folded).is_some_and(|word| REQUEST_VERBS.contains(&word) || QUESTION_WORDS.contains(&word))
}

/// Whether a clause asks for one more of what the request before it asked
/// for ("…, and another one that finds …").
pub(super) fn asks_for_another(folded: &str) -> bool {
    leading_word(folded).is_some_and(|word| word == "another")
}

/// Words that add a request to the one before ("also …", "then …").
const ADDITIVE: &[&str] = &[
    "also",
    "then",
    "and",
    "plus",
    "next",
    "finally",
    "additionally",
    "lastly",
    "afterwards",
    "secondly",
    "thirdly",
    "y",
    "también",
    "además",
    "luego",
    "et",
    "aussi",
    "puis",
    "ensuite",
    "und",
    "auch",
    "außerdem",
    "dann",
    "e",
    "também",
    "depois",
    "anche",
    "poi",
];

/// Whether a clause adds a request of its own to the one before: an
/// additive word, then a request verb or question word ("also explain …",
/// "then write …").
pub(super) fn adds_request(folded: &str) -> bool {
    let first = folded.split(|c: char| !is_word_char(c)).find(|word| !word.is_empty());
    first.is_some_and(|word| ADDITIVE.contains(&word)) && starts_request(folded)
}

/// Whether a sentence asks for something: a question, a request verb or
/// question word at its start, or a request phrase ("I need", "can you").
pub(super) fn is_request_sentence(folded: &str, question: bool) -> bool {
    if question || starts_request(folded) {
        return true;
    }
    static PHRASES: OnceLock<Vec<Term>> = OnceLock::new();
    let phrases =
        PHRASES.get_or_init(|| REQUEST_PHRASES.iter().filter_map(|phrase| Term::keyword(phrase, 1.0)).collect());
    let text = Text::plain(folded);
    phrases.iter().any(|term| term.find(&text).is_some())
}
