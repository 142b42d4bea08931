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
    "correct",
    "rephrase",
    "paraphrase",
    "walk",
    "break",
    "guide",
    "update",
    "adapt",
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
    // French infinitives after a pronoun ("et aussi me donner …").
    "donner",
    "expliquer",
    "écrire",
    "aider",
    "recommander",
    "conseiller",
    "proposer",
    "traduire",
    "faire",
    "dire",
    "calculer",
    "résumer",
    "préparer",
    "suggérer",
    "trouver",
    "montrer",
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

/// Object pronouns that come before a French verb ("et aussi me donner
/// des idées", "m'expliquer"): the verb after them says what is asked.
const CLITICS: &[&str] = &["me", "m'", "te", "t'", "nous", "vous", "lui", "leur"];

/// The first word of a clause that is not a filler (nor a pronoun before
/// its verb).
fn leading_word(folded: &str) -> Option<&str> {
    folded
        .split(|c: char| !(is_word_char(c) || c == '\''))
        .map(|word| word.trim_matches('\''))
        .filter(|word| !word.is_empty())
        .map(|word| ["m'", "t'"].iter().find_map(|clitic| word.strip_prefix(clitic)).unwrap_or(word))
        .find(|word| !FILLERS.contains(word) && !ADDITIVE.contains(word) && !CLITICS.contains(word))
}

/// Whether a clause asks for one more of what the request before it asked
/// for ("…, and another one that finds …").
pub(super) fn asks_for_another(folded: &str) -> bool {
    leading_word(folded) == Some("another")
}

/// Words that start a noun phrase naming a thing: articles and small
/// numbers (English, Spanish, French, German, Portuguese, Italian).
const DETERMINERS: &[&str] = &[
    "a", "an", "one", "two", "three", "four", "five", "some", "un", "una", "unos", "unas", "une", "des", "ein", "eine",
    "einen", "einige", "um", "uma", "uno", "dos", "tres", "deux", "trois", "zwei", "drei",
];

/// Things a request asks to be made: a phrase naming one after another
/// request ("Write a limerick about my cat, and a short poem about my
/// grandfather's garden") asks for it too.
const DELIVERABLES: &[&str] = &[
    "poem",
    "limerick",
    "haiku",
    "sonnet",
    "song",
    "lyrics",
    "story",
    "email",
    "e-mail",
    "letter",
    "message",
    "note",
    "tweet",
    "post",
    "caption",
    "slogan",
    "tagline",
    "headline",
    "title",
    "bio",
    "speech",
    "toast",
    "essay",
    "summary",
    "outline",
    "report",
    "description",
    "list",
    "checklist",
    "plan",
    "schedule",
    "timetable",
    "budget",
    "recipe",
    "menu",
    "itinerary",
    "agenda",
    "function",
    "script",
    "program",
    "query",
    "regex",
    "formula",
    "spreadsheet",
    "table",
    "chart",
    "flyer",
    "poster",
    "invitation",
    "card",
    "quiz",
    "workout",
    "routine",
    "playlist",
    "resume",
    "cv",
    "proposal",
    "pitch",
    "template",
    "policy",
    "announcement",
    "joke",
    "riddle",
    "tips",
    "ideas",
    "suggestions",
    "advice",
    "explanation", // Spanish, French, German, Portuguese, Italian.
    "poema",
    "lista",
    "receta",
    "carta",
    "correo",
    "mensaje",
    "consejo",
    "consejos",
    "liste",
    "poème",
    "recette",
    "lettre",
    "conseil",
    "conseils",
    "idées",
    "gedicht",
    "rezept",
    "brief",
    "tipps",
    "ideen",
    "receita",
    "dicas",
    "ricetta",
    "lettera",
    "consigli",
    "idee",
];

/// Words that end the head of a noun phrase ("a list *of* …").
const PHRASE_ENDS: &[&str] = &[
    "of", "for", "about", "on", "with", "to", "that", "which", "who", "in", "from", "de", "para", "pour", "sur",
    "sobre", "für", "über", "von", "per", "di", "que", "qui", "che",
];

/// Whether a clause names a thing to be made — a determiner, then within
/// four words, before a preposition, a deliverable ("a short free-verse
/// poem about …", "un consejo para …") — or asks for one more of what the
/// request before it asked for ("…, and another one that finds …").
pub(super) fn names_a_deliverable(folded: &str) -> bool {
    let mut words = folded
        .split(|c: char| !(is_word_char(c) || c == '\''))
        .filter(|word| !word.is_empty())
        .skip_while(|word| FILLERS.contains(word) || ADDITIVE.contains(word));
    let deliverable = |word: &str| {
        DELIVERABLES.contains(&word) || word.strip_suffix('s').is_some_and(|one| DELIVERABLES.contains(&one))
    };
    if asks_for_another(folded) {
        return true;
    }
    match words.next() {
        Some(first) if DETERMINERS.contains(&first) => {
            words.take(4).take_while(|word| !PHRASE_ENDS.contains(word)).any(deliverable)
        }
        _ => false,
    }
}

/// Whether a clause opens a request of its own (starts with a request verb
/// or a question word).
pub(super) fn starts_request(folded: &str) -> bool {
    leading_word(folded).is_some_and(|word| REQUEST_VERBS.contains(&word) || QUESTION_WORDS.contains(&word))
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
