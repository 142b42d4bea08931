//! Where a download may go and how much it may take, over real HTTP and
//! HTTPS on loopback (the servers are in `common`): plain http only to this
//! machine, at most five redirects, never from https down to http, and the
//! size cap for servers that announce no size or too large a one.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use chorus_core::{DownloadError, DownloadRequest, Downloader, MAX_REDIRECTS};
use common::*;
use tokio_util::sync::CancellationToken;

/// `/hop1` → `/hop2` → … → `/hop5` → `/prefix.gguf`: five redirects.
/// `/hop0` → `/hop1` makes six.
fn chain() -> Vec<Route> {
    const HOPS: [(&str, &str); 6] = [
        ("/hop0", "/hop1"),
        ("/hop1", "/hop2"),
        ("/hop2", "/hop3"),
        ("/hop3", "/hop4"),
        ("/hop4", "/hop5"),
        ("/hop5", "/prefix.gguf"),
    ];
    let mut routes: Vec<Route> =
        HOPS.iter().map(|&(path, location)| Route::prefix(path, Behaviour::Redirect { location }, 0)).collect();
    routes.push(Route::prefix("/prefix.gguf", Behaviour::Honest, PREFIX));
    routes
}

fn request_to(url: String, dir: &std::path::Path) -> DownloadRequest {
    DownloadRequest::new(url, dir.join("models").join("prefix.gguf"))
        .with_size(PREFIX as u64)
        .with_sha256(prefix_sha256(PREFIX))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_redirects_are_followed_and_a_sixth_is_refused() {
    bounded(async {
        assert_eq!(MAX_REDIRECTS, 5);
        let server = Server::start(&chain()).await;
        let dir = tempfile::tempdir().expect("temp dir");

        let five = request_to(server.url("/hop1"), dir.path());
        let outcome = downloader().download(&five, |_| {}, CancellationToken::new()).await.expect("five redirects");
        assert!(outcome.verified);
        assert_the_prefix_is_at(&five.dest, PREFIX);
        std::fs::remove_file(&five.dest).expect("remove");

        let before = server.seen().len();
        let six = request_to(server.url("/hop0"), dir.path());
        let result = downloader().download(&six, |_| {}, CancellationToken::new()).await;
        let Err(DownloadError::RedirectRefused { url, to, reason }) = &result else {
            panic!("expected a refused redirect, got {result:?}");
        };
        assert_eq!(url, &server.url("/hop0"));
        assert_eq!(to, &server.url("/prefix.gguf"));
        assert_eq!(reason, "more than 5 redirects");
        assert_eq!(result.as_ref().map_err(DownloadError::code).err(), Some("redirect_refused"));
        let paths: Vec<String> = server.seen()[before..].iter().map(|seen| seen.path.clone()).collect();
        assert_eq!(paths, ["/hop0", "/hop1", "/hop2", "/hop3", "/hop4", "/hop5"], "one request per hop, no retry");
        assert!(!six.dest.exists() && !six.partial_path().exists());
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redirect_to_plain_http_on_another_host_is_refused_before_connecting() {
    bounded(async {
        // 192.0.2.1 is TEST-NET-1: nothing answers there, so following the
        // redirect would only time out.
        let routes = [Route::prefix("/away", Behaviour::Redirect { location: "http://192.0.2.1/m.gguf" }, 0)];
        let server = Server::start(&routes).await;
        let dir = tempfile::tempdir().expect("temp dir");
        let request = request_to(server.url("/away"), dir.path());
        let started = Instant::now();
        let result = downloader().download(&request, |_| {}, CancellationToken::new()).await;
        let Err(DownloadError::RedirectRefused { to, reason, .. }) = &result else {
            panic!("expected a refused redirect, got {result:?}");
        };
        assert_eq!(to, "http://192.0.2.1/m.gguf");
        assert!(reason.contains("only https://"), "{reason}");
        assert!(started.elapsed() < Duration::from_secs(1), "took {:?}", started.elapsed());
        assert_eq!(server.seen(), [Seen::plain("/away")]);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_http_to_another_host_is_refused_without_a_request() {
    bounded(async {
        let dir = tempfile::tempdir().expect("temp dir");
        let request = DownloadRequest::new("http://192.0.2.1/m.gguf", dir.path().join("m.gguf"));
        let result = downloader().download(&request, |_| {}, CancellationToken::new()).await;
        assert!(
            matches!(&result, Err(DownloadError::InsecureUrl { url }) if url == "http://192.0.2.1/m.gguf"),
            "{result:?}"
        );
        assert!(!request.dest.exists() && !request.partial_path().exists());
    })
    .await;
}

fn trusting(certificate: Vec<u8>) -> Downloader {
    let mut options = options();
    options.extra_root_certificates = vec![certificate];
    Downloader::with_options(options).expect("client")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_redirects_are_followed_but_never_down_to_http() {
    bounded(async {
        let plain = Server::start(&[Route::prefix("/prefix.gguf", Behaviour::Honest, PREFIX)]).await;
        let down: &'static str = Box::leak(plain.url("/prefix.gguf").into_boxed_str());
        let routes = [
            Route::prefix("/prefix.gguf", Behaviour::Honest, PREFIX),
            Route::prefix("/moved", Behaviour::Redirect { location: "/prefix.gguf" }, 0),
            Route::prefix("/down", Behaviour::Redirect { location: down }, 0),
        ];
        let (tls, certificate) = Server::start_tls(&routes).await;
        let downloader = trusting(certificate);
        let dir = tempfile::tempdir().expect("temp dir");

        // https → https on this machine: followed.
        let moved = request_to(tls.url("/moved"), dir.path());
        assert!(moved.url.starts_with("https://127.0.0.1:"), "{}", moved.url);
        let outcome = downloader.download(&moved, |_| {}, CancellationToken::new()).await.expect("https download");
        assert!(outcome.verified);
        assert_the_prefix_is_at(&moved.dest, PREFIX);
        std::fs::remove_file(&moved.dest).expect("remove");

        // https → http, even to this machine: refused, and never asked.
        let downgrade = request_to(tls.url("/down"), dir.path());
        let result = downloader.download(&downgrade, |_| {}, CancellationToken::new()).await;
        let Err(DownloadError::RedirectRefused { to, reason, .. }) = &result else {
            panic!("expected a refused redirect, got {result:?}");
        };
        assert_eq!(to, down);
        assert!(reason.contains("down to plain http://"), "{reason}");
        assert!(plain.seen().is_empty(), "the http server was asked: {:?}", plain.seen());
        assert!(!downgrade.dest.exists());
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_announces_no_size_is_cut_at_the_cap() {
    bounded(async {
        let server = Server::start(&[Route::prefix("/endless.gguf", Behaviour::NoLength, PREFIX)]).await;
        let dir = tempfile::tempdir().expect("temp dir");
        let cap = (PREFIX / 2) as u64;
        let request = DownloadRequest::new(server.url("/endless.gguf"), dir.path().join("m.gguf")).with_max_size(cap);
        let result = downloader().download(&request, |_| {}, CancellationToken::new()).await;
        let Err(DownloadError::TooLarge { limit, actual }) = result else {
            panic!("expected too_large, got {result:?}");
        };
        assert_eq!(limit, cap);
        assert!(actual > cap && actual <= cap + MIB as u64, "stopped at {actual}");
        // A file too large is no use to resume: nothing is kept.
        assert!(!request.dest.exists());
        assert!(!request.partial_path().exists());
        assert!(!request.validator_path().exists());
        assert_eq!(server.seen().len(), 1, "not retried");

        // Under the cap, the same server is fine.
        let roomy = request.clone().with_max_size(PREFIX as u64);
        let outcome = downloader().download(&roomy, |_| {}, CancellationToken::new()).await.expect("under the cap");
        assert_eq!(outcome.bytes, PREFIX as u64);
        assert!(!outcome.verified);
        assert_the_prefix_is_at(&roomy.dest, PREFIX);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_announced_size_over_the_cap_is_refused_before_the_body() {
    bounded(async {
        let server = Server::start(&[Route::prefix("/big.gguf", Behaviour::Honest, PREFIX)]).await;
        let dir = tempfile::tempdir().expect("temp dir");
        let cap = PREFIX as u64 - 1;
        let request = DownloadRequest::new(server.url("/big.gguf"), dir.path().join("m.gguf")).with_max_size(cap);
        let mut reports = Vec::new();
        let result = downloader().download(&request, |progress| reports.push(progress), CancellationToken::new()).await;
        assert!(
            matches!(result, Err(DownloadError::TooLarge { limit, actual }) if limit == cap && actual == PREFIX as u64),
            "{result:?}"
        );
        assert!(reports.iter().all(|progress| progress.downloaded == 0), "{reports:?}");
        assert!(!request.partial_path().exists() && !request.dest.exists());
    })
    .await;
}
