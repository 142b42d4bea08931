#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::restore::{scan_for_tests, unsafe_tail_for_tests};
use super::*;

fn redactor(names: &[&str]) -> Redactor {
    Redactor::new(Recogniser::new(&names.iter().map(|name| (*name).to_owned()).collect::<Vec<_>>()))
}

#[test]
fn the_same_value_gets_the_same_placeholder_in_every_text_of_a_question() {
    let redactor = redactor(&[]);
    let first = redactor.redact("Mail priya@example.com and bob@example.org.");
    assert_eq!(first.text, "Mail [EMAIL_1] and [EMAIL_2].");
    assert_eq!(first.items.len(), 2);
    let second = redactor.redact("Reply to PRIYA@example.com only");
    assert_eq!(second.text, "Reply to [EMAIL_1] only");
    assert_eq!(redactor.len(), 2);
    // Another question starts afresh.
    let other = super::Redactor::new(Recogniser::new(&[]));
    assert_eq!(other.redact("bob@example.org").text, "[EMAIL_1]");
}

#[test]
fn restoration_puts_the_values_back_also_in_bent_forms() {
    let redactor = redactor(&[]);
    let _ = redactor.redact("priya@example.com, bob@example.org");
    for (written, expected) in [
        ("Write to [EMAIL_1].", "Write to priya@example.com."),
        ("Write to [EMAIL 1].", "Write to priya@example.com."),
        ("Write to [Email_2]!", "Write to bob@example.org!"),
        ("Write to [ email-2 ]", "Write to bob@example.org"),
        ("Write to EMAIL_1 today", "Write to priya@example.com today"),
        ("(email_2)", "(bob@example.org)"),
        ("[EMAIL_1 lost its bracket", "priya@example.com lost its bracket"),
    ] {
        assert_eq!(redactor.restore(written), expected, "{written}");
    }
}

#[test]
fn restoration_leaves_prose_and_unknown_placeholders_alone() {
    let redactor = redactor(&[]);
    let _ = redactor.redact("priya@example.com");
    for text in [
        "Email 1: the welcome message",
        "[EMAIL_7] was never issued",
        "[PHONE_1] was never issued",
        "MYEMAIL_1 is another word",
        "EMAIL_1x is another word",
        "[EMAIL 1 is not closed",
    ] {
        assert_eq!(redactor.restore(text), text, "{text}");
    }
}

#[test]
fn the_scanner_finds_placeholders_with_their_spans() {
    assert_eq!(scan_for_tests("a [NAME_1] b"), vec![(2, 10, "NAME", 1)]);
    assert_eq!(scan_for_tests("x IBAN_12."), vec![(2, 9, "IBAN", 12)]);
    assert_eq!(scan_for_tests("[dob 3]"), vec![(0, 7, "DOB", 3)]);
    assert!(scan_for_tests("[NAMES_1] NAME1 [NAME_]").is_empty());
}

#[test]
fn a_stream_is_restored_even_when_a_placeholder_is_split_across_pieces() {
    let redactor = redactor(&[]);
    let _ = redactor.redact("priya@example.com");
    for pieces in [
        vec!["Dear ", "[EM", "AIL", "_1", "], hello"],
        vec!["Dear [", "EMAIL_", "1", "]", ", hello"],
        vec!["Dear EMAIL", "_1", ", hello"],
        vec!["Dear [Email 1]", ", hello"],
        vec!["Dear ¡", "EMAIL_1", ", hello"],
    ] {
        let mut restorer = redactor.restorer();
        let mut out = String::new();
        for piece in &pieces {
            out.push_str(&restorer.push(piece));
        }
        out.push_str(&restorer.finish());
        assert_eq!(out.replace('¡', ""), "Dear priya@example.com, hello", "{pieces:?}");
    }
}

#[test]
fn a_stream_holds_back_only_what_could_still_become_a_placeholder() {
    assert_eq!(unsafe_tail_for_tests("hello world"), "hello world".len());
    assert_eq!(unsafe_tail_for_tests("see [EM"), 4);
    assert_eq!(unsafe_tail_for_tests("see EMAIL_"), 4);
    assert_eq!(unsafe_tail_for_tests("see [NAME_1] and"), "see [NAME_1] and".len());
    assert_eq!(unsafe_tail_for_tests("multi-byte é ["), "multi-byte é ".len());
    // A word after a multi-byte character (a Spanish answer): no slicing
    // inside the character.
    assert_eq!(unsafe_tail_for_tests("¡EM"), "¡".len());
    assert_eq!(unsafe_tail_for_tests("¡Hola"), "¡Hola".len());
    assert_eq!(unsafe_tail_for_tests("año¿"), "año¿".len());
}

#[test]
fn listed_names_are_replaced_and_restored() {
    let redactor = redactor(&["Priya"]);
    let sent = redactor.redact("Priya wants a birthday poem for Priya");
    assert_eq!(sent.text, "[NAME_1] wants a birthday poem for [NAME_1]");
    assert_eq!(sent.counts().get(&PiiKind::Name), Some(&2));
    assert_eq!(redactor.restore("Happy birthday, [NAME_1]!"), "Happy birthday, Priya!");
}

#[test]
fn the_debug_form_never_shows_a_value() {
    let redactor = redactor(&[]);
    let _ = redactor.redact("priya@example.com");
    let shown = format!("{redactor:?}");
    assert!(!shown.contains("priya"), "{shown}");
    assert!(shown.contains("placeholders: 1"), "{shown}");
}

#[test]
fn marked_identifiers_that_nothing_replaced_are_reported() {
    assert!(residual_personal_data("My passport number is X1234567, renew it").is_some());
    assert!(residual_personal_data("account no. 12345678").is_some());
    assert!(residual_personal_data("Kontonummer: 98765432").is_some());
    assert!(residual_personal_data("My account [IBAN_1] is new").is_none());
    assert!(residual_personal_data("an account with 3 users").is_none());
    assert!(residual_personal_data("order number 123456").is_none());
}

#[test]
fn the_context_share_counts_the_question_words_a_text_carries() {
    assert!((context_share("a b c d", "a b c d and more") - 1.0).abs() < 1e-9);
    assert!((context_share("a b c d", "c d") - 0.5).abs() < 1e-9);
    assert!((context_share("a a b", "a") - 1.0 / 3.0).abs() < 1e-9);
    assert!(context_share("", "x").abs() < 1e-9);
    assert_eq!(word_count("Hello, world! 42"), 3);
}

#[test]
fn a_stream_cut_anywhere_restores_as_the_whole_text_does() {
    let redactor = redactor(&["Priya"]);
    let _ = redactor.redact("Priya priya@example.com");
    let texts = [
        "¡Hola [NAME_1]! Tu correo: [EMAIL_1]. Año 2024 — «EMAIL_1» ok",
        "日本語 [Email 1] と NAME_1、[ name-1 ] [EMAIL_9] [EMAIL_1",
        "emoji 🎉[NAME_1]🎉 EMAIL_ EMAIL_1x IP_ [",
    ];
    for text in texts {
        let whole = redactor.restore(text);
        let boundaries: Vec<usize> = (0..=text.len()).filter(|&at| text.is_char_boundary(at)).collect();
        // Every cut into two pieces, and one piece per character.
        for &cut in &boundaries {
            let mut restorer = redactor.restorer();
            let mut out = restorer.push(&text[..cut]);
            out.push_str(&restorer.push(&text[cut..]));
            out.push_str(&restorer.finish());
            assert_eq!(out, whole, "cut at {cut} of {text:?}");
        }
        let mut restorer = redactor.restorer();
        let mut out = String::new();
        for pair in boundaries.windows(2) {
            out.push_str(&restorer.push(&text[pair[0]..pair[1]]));
        }
        out.push_str(&restorer.finish());
        assert_eq!(out, whole, "char by char: {text:?}");
    }
}
