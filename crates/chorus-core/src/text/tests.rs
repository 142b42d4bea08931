use super::*;

fn words(text: &str) -> Vec<String> {
    Text::new(text).tokens.into_iter().map(|token| token.word).collect()
}

fn matches(keyword: &str, text: &str) -> bool {
    Term::keyword(keyword, 1.0).and_then(|term| term.find(&Text::new(text))).is_some()
}

#[test]
fn folding_lowercases_and_plains_punctuation() {
    assert_eq!(fold("Café “Quoted” – it’s ÄÖ"), "café \"quoted\" - it's äö");
    assert_eq!(fold("İstanbul").chars().count(), "İstanbul".chars().count());
}

#[test]
fn tokens_are_words_with_percent_and_cues() {
    assert_eq!(words("What's 15% of 80?"), ["what's", "15", "percent", "of", "80"]);
    assert_eq!(words("'good morning'"), ["good", "morning"]);
    assert_eq!(words("Solve 3x + 7 = 22").last().map(String::as_str), Some("equation"));
    assert_eq!(words("what is 12 * 7").last().map(String::as_str), Some("calculate"));
    assert_eq!(words("I love C++ and go-to-market"), ["i", "love", "c", "and", "go", "to", "market"]);
}

#[test]
fn keywords_match_whole_words_only() {
    assert!(!matches("ui", "how do I build this"));
    assert!(matches("ui", "my UI is slow"));
    assert!(matches("cell biology", "a question on cell biology"));
    assert!(!matches("cell biology", "cell phone biology"));
    assert!(matches("c++", "a C++ template"));
    assert!(matches("c#", "Is C#, or Java, faster?"));
    assert!(!matches("c#", "abc#"));
    assert!(matches("tl;dr", "give me a tl;dr"));
    assert!(matches("a/b test", "how long should A/B tests run"));
}

#[test]
fn keywords_match_inflections_determiners_and_one_skipped_word() {
    assert!(matches("budget", "our budgets"));
    assert!(matches("strategy", "three strategies"));
    assert!(matches("procrastinate", "I keep procrastinating"));
    assert!(matches("translate", "translated text"));
    assert!(matches("fix my sink", "fix the sink"));
    assert!(matches("write an email", "write a short email"));
    assert!(!matches("write an email", "write a very short email"));
    assert!(!matches("bar chart", "bar, chart"));
    assert!(!matches("write an email", "write a poem and email"));
    assert!(matches("go-to-market", "our go to market plan"));
    assert!(matches("front-end", "front-end work"));
    let gapped = Term::keyword("write an email", 1.0).expect("term");
    let found = gapped.find(&Text::new("write a short email")).expect("match");
    assert!((gapped.weight_of(found, 1.0) - 1.5).abs() < 1e-9, "two content words, minus half for the gap");
}

#[test]
fn unspaced_scripts_match_as_substrings() {
    assert!(matches("翻译", "请把这句话翻译成中文"));
    assert!(matches("번역", "이 문장을 번역해 주세요"));
    assert!(matches("แปล", "ช่วยแปลประโยคนี้"));
}
