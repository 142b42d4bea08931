use super::synthesis::shorten;

#[test]
fn shorten_cuts_at_a_word() {
    assert_eq!(shorten("short", 10), "short");
    assert_eq!(shorten("one two three four", 12), "one two…");
    assert_eq!(shorten("ééééééééé", 4), "éééé…");
}
