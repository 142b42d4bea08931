//! Unit tests of the parsers, the progress meter, request validation and
//! the retry decisions.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::policy::{Refusal, check_redirect, check_url, is_loopback};
use super::progress::{ProgressMeter, eta_seconds, smoothed_rate};
use super::retry::{
    Answer, ContentRange, Failure, GiveUp, Next, RestartReason, Retries, RetryCause, RetryPolicy, Step, backoff,
    body_ended, judge_answer, parse_content_range,
};
use super::validator::Validator;
use super::*;

#[test]
fn parses_content_ranges() {
    let table: &[(&str, Option<ContentRange>)] = &[
        ("bytes 0-99/100", Some(ContentRange::Bytes { start: 0, end: 99, total: Some(100) })),
        ("bytes 50-99/*", Some(ContentRange::Bytes { start: 50, end: 99, total: None })),
        (" bytes  7-7/8 ", Some(ContentRange::Bytes { start: 7, end: 7, total: Some(8) })),
        ("bytes */1234", Some(ContentRange::Unsatisfied { total: 1234 })),
        ("bytes=10-19/20", Some(ContentRange::Bytes { start: 10, end: 19, total: Some(20) })),
        ("bytes */*", None),
        ("bytes 10-5/20", None),
        ("bytes 0-100/100", None),
        ("bytes -5/10", None),
        ("bytes 0-+5/10", None),
        ("items 0-1/2", None),
        ("bytes 0-1", None),
        ("", None),
    ];
    for (value, expected) in table {
        assert_eq!(parse_content_range(value), *expected, "{value:?}");
    }
}

#[test]
fn eta_needs_a_total_and_a_rate() {
    assert_eq!(eta_seconds(0, None, 100.0), None);
    assert_eq!(eta_seconds(0, Some(1000), 0.0), None);
    assert_eq!(eta_seconds(0, Some(1000), f64::NAN), None);
    assert_eq!(eta_seconds(250, Some(1000), 100.0), Some(7.5));
    assert_eq!(eta_seconds(1000, Some(1000), 0.0), Some(0.0));
    assert_eq!(eta_seconds(1200, Some(1000), 5.0), Some(0.0));
}

#[test]
fn rate_is_smoothed() {
    assert!((smoothed_rate(None, 1000, 0.5) - 2000.0).abs() < 1e-9);
    let next = smoothed_rate(Some(2000.0), 0, 1.0);
    assert!((next - 1400.0).abs() < 1e-9);
    assert!((smoothed_rate(Some(10.0), 5, 0.0) - 10.0).abs() < 1e-9);
    assert!(smoothed_rate(None, 5, 0.0).abs() < 1e-9);
}

#[test]
fn backoff_doubles_up_to_the_cap() {
    let initial = Duration::from_millis(100);
    let max = Duration::from_secs(1);
    let pauses: Vec<u128> = (0..7).map(|failures| backoff(initial, max, failures).as_millis()).collect();
    assert_eq!(pauses, [100, 100, 200, 400, 800, 1000, 1000]);
    assert_eq!(backoff(initial, Duration::MAX, u32::MAX), initial * (1 << 16));
}

#[test]
fn sha256_is_normalized() {
    let upper = "B179C9523D0E6A0F98A330C7562B682750A6F8C8C15E5BC70EA373728110DB53";
    assert_eq!(normalize_sha256(upper).as_deref(), Some(upper.to_ascii_lowercase().as_str()));
    assert_eq!(normalize_sha256("abc"), None);
    assert_eq!(normalize_sha256(&"g".repeat(64)), None);
}

#[test]
fn partial_sits_next_to_dest() {
    let request = DownloadRequest::new("http://127.0.0.1/m.gguf", "/models/m.gguf");
    assert_eq!(request.partial_path(), PathBuf::from("/models/m.gguf.partial"));
    assert_eq!(partial_path_for(Path::new("m.gguf")), PathBuf::from("m.gguf.partial"));
}

#[test]
fn rejects_bad_requests() {
    let bad = [
        DownloadRequest::new("not a url", "/tmp/x"),
        DownloadRequest::new("ftp://127.0.0.1/x", "/tmp/x"),
        DownloadRequest::new("http://127.0.0.1/x", "/"),
        DownloadRequest::new("http://127.0.0.1/x", "/tmp/x").with_sha256("abc"),
    ];
    for request in &bad {
        assert!(matches!(Plan::new(request), Err(DownloadError::InvalidRequest { .. })), "{request:?}");
    }
    assert!(Plan::new(&DownloadRequest::new("http://127.0.0.1/x", "x").with_sha256("A".repeat(64))).is_ok());
    let over_cap = DownloadRequest::new("https://example.org/x", "x").with_size(11).with_max_size(10);
    assert!(matches!(Plan::new(&over_cap), Err(DownloadError::InvalidRequest { .. })));
}

#[test]
fn plain_http_is_refused_beyond_this_machine() {
    for url in
        ["http://example.org/m.gguf", "http://192.0.2.1/m.gguf", "http://[2001:db8::1]/m", "http://10.0.0.1:8080/m"]
    {
        let result = Plan::new(&DownloadRequest::new(url, "/tmp/m.gguf"));
        assert!(
            matches!(&result, Err(DownloadError::InsecureUrl { url: refused }) if refused == url),
            "{url}: {result:?}"
        );
    }
    let error = DownloadError::InsecureUrl { url: "http://example.org/m".into() };
    assert_eq!(error.code(), "insecure_url");
    assert!(error.to_string().contains("only https://"), "{error}");
    for url in [
        "https://example.org/m.gguf",
        "http://127.0.0.1:9/m",
        "http://127.8.9.10/m",
        "http://localhost/m",
        "http://[::1]:80/m",
    ] {
        assert!(Plan::new(&DownloadRequest::new(url, "/tmp/m.gguf")).is_ok(), "{url}");
    }
}

fn url(text: &str) -> reqwest::Url {
    reqwest::Url::parse(text).expect("a URL")
}

#[test]
fn loopback_hosts_are_this_machine_only() {
    let table = [
        ("http://localhost/", true),
        ("http://LOCALHOST./", true),
        ("http://a.localhost:8080/", true),
        ("http://127.0.0.1/", true),
        ("http://127.255.0.9/", true),
        ("http://[::1]/", true),
        ("http://localhost.example.org/", false),
        ("http://128.0.0.1/", false),
        ("http://[::ffff:127.0.0.1]/", false),
        ("http://0.0.0.0/", false),
        ("file:///etc/passwd", false),
    ];
    for (text, loopback) in table {
        assert_eq!(is_loopback(&url(text)), loopback, "{text}");
    }
}

#[test]
fn redirects_are_held_to_https_and_counted() {
    let https = url("https://models.example.org/m.gguf");
    let cdn = url("https://cdn.example.net/blob");
    let local = url("http://127.0.0.1:8000/m.gguf");
    let table: &[(&[&reqwest::Url], &str, Result<(), Refusal>)] = &[
        (&[&https], "https://cdn.example.net/blob", Ok(())),
        (&[&https, &cdn], "https://cdn2.example.net/x", Ok(())),
        (&[&https], "http://cdn.example.net/blob", Err(Refusal::NotHttps)),
        (&[&https], "http://127.0.0.1/blob", Err(Refusal::Downgrade)),
        (&[&https, &cdn], "http://localhost/blob", Err(Refusal::Downgrade)),
        (&[&local], "http://127.0.0.1:8001/m", Ok(())),
        (&[&local], "https://cdn.example.net/blob", Ok(())),
        (&[&local], "http://192.0.2.1/m", Err(Refusal::NotHttps)),
        (&[&local], "ftp://127.0.0.1/m", Err(Refusal::NotHttps)),
        (&[&https, &cdn, &cdn, &cdn, &cdn], "https://cdn.example.net/blob", Ok(())),
        (&[&https, &cdn, &cdn, &cdn, &cdn, &cdn], "https://cdn.example.net/blob", Err(Refusal::TooMany)),
    ];
    for (previous, next, expected) in table {
        let previous: Vec<reqwest::Url> = previous.iter().map(|url| (*url).clone()).collect();
        assert_eq!(check_redirect(&previous, &url(next)), *expected, "{previous:?} → {next}");
    }
    assert_eq!(check_url(&url("https://example.org/m")), Ok(()));
    assert_eq!(check_url(&url("http://example.org/m")), Err(Refusal::NotHttps));
    assert_eq!(Refusal::TooMany.to_string(), format!("more than {MAX_REDIRECTS} redirects"));
}

fn headers(pairs: &[(&'static str, &str)]) -> reqwest::header::HeaderMap {
    let mut map = reqwest::header::HeaderMap::new();
    for (name, value) in pairs {
        map.insert(*name, value.parse().expect("a header value"));
    }
    map
}

#[test]
fn the_validator_is_a_strong_etag_else_the_date() {
    let date = "Wed, 21 Oct 2015 07:28:00 GMT";
    let both = Validator::of_response("u", &headers(&[("etag", "\"v1\""), ("last-modified", date)])).expect("one");
    assert_eq!(both.if_range(), Some("\"v1\""));
    let weak = Validator::of_response("u", &headers(&[("etag", "W/\"v1\""), ("last-modified", date)])).expect("one");
    assert_eq!(weak.if_range(), Some(date), "a weak ETag may not be used in If-Range");
    assert_eq!(Validator::of_response("u", &headers(&[("etag", "W/\"v1\"")])), None);
    assert_eq!(Validator::of_response("u", &headers(&[])), None);

    // A 206 of another file contradicts it; one that says nothing does not.
    assert!(!both.contradicted_by(&headers(&[("etag", "\"v1\"")])));
    assert!(both.contradicted_by(&headers(&[("etag", "\"v2\"")])));
    assert!(!both.contradicted_by(&headers(&[])));
    assert!(!weak.contradicted_by(&headers(&[("last-modified", date)])));
    assert!(weak.contradicted_by(&headers(&[("last-modified", "Thu, 22 Oct 2015 07:28:00 GMT")])));
}

#[test]
fn progress_is_rate_limited() {
    let mut meter = ProgressMeter::new(Duration::from_secs(3600), 0);
    let mut seen = Vec::new();
    let mut emit = |progress: DownloadProgress| seen.push(progress);
    meter.report(10, Some(100), &mut emit);
    meter.report(20, Some(100), &mut emit);
    meter.report(30, Some(100), &mut emit);
    meter.finish(100, Some(100), &mut emit);
    let downloaded: Vec<u64> = seen.iter().map(|progress| progress.downloaded).collect();
    assert_eq!(downloaded, [10, 100]);
    assert_eq!(seen.last().and_then(|progress| progress.eta_seconds), Some(0.0));
}

#[test]
fn errors_have_codes() {
    let error = DownloadError::HttpStatus { url: "http://127.0.0.1/x".into(), status: 404 };
    assert_eq!(error.code(), "http_status");
    assert_eq!(error.to_string(), "http://127.0.0.1/x answered HTTP 404");
    let error = DownloadError::TooLarge { limit: 10, actual: 11 };
    assert_eq!(error.code(), "too_large");
    let error = DownloadError::RedirectRefused { url: "a".into(), to: "b".into(), reason: "c".into() };
    assert_eq!(error.code(), "redirect_refused");
}

/// What [`judge_answer`] decided, in a form a table can compare.
fn judged(status: u16, offset: u64, content_range: Option<ContentRange>, content_length: Option<u64>) -> String {
    let status = reqwest::StatusCode::from_u16(status).unwrap_or(reqwest::StatusCode::IM_A_TEAPOT);
    match judge_answer("http://127.0.0.1/m", status, offset, content_range, content_length) {
        Answer::Body { declared_end, total } => format!("body end={declared_end:?} total={total:?}"),
        Answer::Ended(Step::Complete { total }) => format!("complete total={total:?}"),
        Answer::Ended(Step::Restart { reason }) => format!("restart: {reason}"),
        Answer::Failed(Failure::Retry(cause)) => format!("retry: {cause}"),
        Answer::Failed(Failure::Fatal(error)) => format!("fatal: {}", error.code()),
    }
}

/// Status, offset, `Content-Range`, `Content-Length`, the verdict.
type AnswerRow = (u16, u64, Option<ContentRange>, Option<u64>, &'static str);

#[test]
fn answers_are_judged_by_status_and_range() {
    let bytes = |start, end, total| Some(ContentRange::Bytes { start, end, total });
    let unsatisfied = |total| Some(ContentRange::Unsatisfied { total });
    let table: &[AnswerRow] = &[
        (200, 0, None, Some(100), "body end=Some(100) total=Some(100)"),
        (200, 0, None, None, "body end=None total=None"),
        (
            200,
            40,
            None,
            Some(100),
            "restart: the server sent the whole file, not the range (it changed, or ignores ranges)",
        ),
        (206, 40, bytes(40, 99, Some(100)), Some(60), "body end=Some(100) total=Some(100)"),
        (206, 40, bytes(40, 99, None), None, "body end=Some(100) total=None"),
        (206, 40, bytes(0, 99, Some(100)), None, "restart: the server answered a range request with the wrong range"),
        (206, 40, None, None, "restart: the server answered a range request with the wrong range"),
        (416, 100, unsatisfied(100), None, "complete total=Some(100)"),
        (416, 100, bytes(0, 99, Some(100)), None, "complete total=Some(100)"),
        (416, 40, unsatisfied(100), None, "restart: the server cannot satisfy the range (the file changed?)"),
        (416, 40, None, None, "restart: the server cannot satisfy the range (the file changed?)"),
        (416, 0, None, None, "fatal: http_status"),
        (206, 0, bytes(0, 99, Some(100)), None, "fatal: http_status"),
        (503, 0, None, None, "retry: HTTP 503"),
        (429, 40, None, None, "retry: HTTP 429"),
        (408, 0, None, None, "retry: HTTP 408"),
        (404, 0, None, None, "fatal: http_status"),
        (500, 0, None, None, "fatal: http_status"),
    ];
    for (status, offset, range, length, expected) in table {
        assert_eq!(judged(*status, *offset, *range, *length), *expected, "{status} at {offset} {range:?} {length:?}");
    }
}

#[test]
fn a_body_that_ends_early_is_retried() {
    let complete = |result: Result<Step, Failure>| matches!(result, Ok(Step::Complete { total: Some(100) }));
    assert!(complete(body_ended(100, Some(100), None, Some(100))));
    assert!(complete(body_ended(100, None, Some(100), Some(100))));
    assert!(complete(body_ended(7, None, None, Some(100))), "no declared or expected end: a clean end");
    match body_ended(60, Some(100), Some(100), Some(100)) {
        Err(Failure::Retry(cause)) => assert_eq!(cause.to_string(), "body ended at byte 60 of 100"),
        other => panic!("{other:?}"),
    }
    assert!(matches!(body_ended(60, None, Some(100), None), Err(Failure::Retry(_))));
}

fn policy(max_retries: u32, max_attempts: u32) -> RetryPolicy {
    RetryPolicy {
        max_retries,
        max_attempts,
        initial_backoff: Duration::from_millis(100),
        max_backoff: Duration::from_millis(300),
    }
}

fn transport(reason: &str) -> RetryCause {
    RetryCause::Transport(reason.to_owned())
}

#[test]
fn failures_without_progress_back_off_then_give_up() {
    let mut retries = Retries::new(policy(3, 100));
    let mut decisions = Vec::new();
    for _ in 0..4 {
        assert!(retries.start(), "ranges stay allowed");
        decisions.push(retries.failed(&transport("reset"), false));
    }
    let pause = |ms| Next::Pause(Duration::from_millis(ms));
    assert_eq!(
        decisions,
        [pause(100), pause(200), pause(300), Next::GiveUp(GiveUp::Network { attempts: 4, reason: "reset".into() })]
    );
}

#[test]
fn progress_resets_the_failure_count_but_not_the_attempt_cap() {
    let mut retries = Retries::new(policy(1, 4));
    let _ = retries.start();
    assert_eq!(retries.failed(&transport("cut"), false), Next::Pause(Duration::from_millis(100)));
    let _ = retries.start();
    assert_eq!(retries.failed(&transport("cut"), true), Next::Pause(Duration::from_millis(100)));
    let _ = retries.start();
    assert_eq!(retries.failed(&transport("cut"), true), Next::Pause(Duration::from_millis(100)));
    let _ = retries.start();
    assert_eq!(
        retries.failed(&transport("cut"), true),
        Next::GiveUp(GiveUp::Network { attempts: 4, reason: "cut".into() }),
        "max_attempts caps even progressing attempts"
    );
}

#[test]
fn a_transient_status_that_persists_gives_up_with_the_status() {
    let mut retries = Retries::new(policy(0, 100));
    let _ = retries.start();
    assert_eq!(retries.failed(&RetryCause::Status(503), false), Next::GiveUp(GiveUp::Status(503)));
}

#[test]
fn restarts_do_not_pause_and_a_wrong_range_disables_ranges() {
    let mut retries = Retries::new(policy(5, 3));
    assert!(retries.start());
    assert_eq!(retries.restarted(RestartReason::RangeIgnored), Next::Again);
    assert!(retries.start(), "an ignored range does not disable ranges");
    assert_eq!(retries.restarted(RestartReason::BadContentRange), Next::Again);
    assert!(!retries.start(), "a wrong range does");
    assert_eq!(
        retries.restarted(RestartReason::NoRanges),
        Next::GiveUp(GiveUp::Network { attempts: 3, reason: RestartReason::NoRanges.to_string() })
    );
    assert_eq!(retries.attempts(), 3);
}
