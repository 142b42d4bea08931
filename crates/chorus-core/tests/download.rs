//! Downloads over real HTTP on loopback (the server is in `common`): the
//! file is verified by size and sha256, a bad or short file never replaces
//! a good one, a good file in place is not fetched again, and HTTP errors
//! and a full disk are typed. Resuming is in `download_resume.rs`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use chorus_core::{DownloadError, DownloadRequest};
use common::*;
use tokio_util::sync::CancellationToken;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn downloads_and_verifies_the_real_model() {
    bounded(async {
        let server = Server::start(&[Route::model("/smollm2.gguf", Behaviour::Honest)]).await;
        let dir = tempfile::tempdir().expect("temp dir");
        let request = model_request(&server, "/smollm2.gguf", dir.path());
        let mut reports = Vec::new();
        let started = Instant::now();
        let outcome = downloader()
            .download(&request, |progress| reports.push(progress), CancellationToken::new())
            .await
            .expect("download");
        eprintln!("98 MB over loopback in {:?}, {} progress reports", started.elapsed(), reports.len());

        assert_eq!(outcome.path, request.dest);
        assert_eq!(outcome.bytes, MODEL_SIZE);
        assert_eq!(outcome.sha256, MODEL_SHA256);
        assert!(outcome.verified);
        assert!(!outcome.resumed);
        assert!(!outcome.already_present);
        assert_the_model_is_at(&request.dest);
        assert!(!request.partial_path().exists(), "the partial file is left behind");

        assert_monotonic(&reports);
        assert!(reports.iter().all(|progress| progress.total == Some(MODEL_SIZE)));
        let last = reports.last().expect("a final report");
        assert_eq!(last.downloaded, MODEL_SIZE);
        assert_eq!(last.eta_seconds, Some(0.0));
        assert!(reports.iter().any(|progress| progress.bytes_per_second > 0.0));
        assert_eq!(server.seen(), [Seen::plain("/smollm2.gguf")]);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_cut_short_every_time_fails_after_bounded_retries() {
    bounded(async {
        let server = Server::start(&[Route::model("/cut.gguf", Behaviour::Truncated { available: HALF })]).await;
        let dir = tempfile::tempdir().expect("temp dir");
        let request = model_request(&server, "/cut.gguf", dir.path());
        let result = downloader().download(&request, |_| {}, CancellationToken::new()).await;

        // One attempt that made progress, then max_retries + 1 that did not.
        let Err(DownloadError::Network { attempts, downloaded, .. }) = result else {
            panic!("expected a network error, got {result:?}");
        };
        assert_eq!(attempts, 5);
        assert_eq!(downloaded, HALF as u64);
        assert!(!request.dest.exists(), "something was put at dest");
        // What did arrive is kept for a later resume.
        assert_eq!(file_len(&request.partial_path()), Some(HALF as u64));
        let seen = server.seen();
        assert_eq!(seen.len(), 5);
        assert_eq!(seen[0].range, None);
        let resume = format!("bytes={HALF}-");
        assert!(seen[1..].iter().all(|request| request.range.as_deref() == Some(resume.as_str())), "{seen:?}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shorter_file_is_rejected_by_size_or_hash() {
    bounded(async {
        let server = Server::start(&[Route::prefix("/short.gguf", Behaviour::Honest, 3 * MIB)]).await;
        let dir = tempfile::tempdir().expect("temp dir");

        // With the size known, the announced length is enough to refuse it.
        let request = model_request(&server, "/short.gguf", dir.path());
        let result = downloader().download(&request, |_| {}, CancellationToken::new()).await;
        assert!(
            matches!(result, Err(DownloadError::SizeMismatch { expected: MODEL_SIZE, actual }) if actual == 3 * MIB as u64),
            "{result:?}"
        );
        assert!(!request.dest.exists());
        assert!(!request.partial_path().exists());

        // With only the hash known, the whole (short) file is fetched and refused.
        let request = DownloadRequest { expected_size: None, ..request };
        let result = downloader().download(&request, |_| {}, CancellationToken::new()).await;
        assert!(
            matches!(&result, Err(DownloadError::HashMismatch { expected, .. }) if expected == MODEL_SHA256),
            "{result:?}"
        );
        assert!(!request.dest.exists());
        assert!(!request.partial_path().exists());
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_corrupted_file_is_rejected_by_hash() {
    bounded(async {
        let offset = 40 * MIB + 7;
        let server = Server::start(&[Route::model("/corrupt.gguf", Behaviour::Corrupt { offset })]).await;
        let dir = tempfile::tempdir().expect("temp dir");
        let request = model_request(&server, "/corrupt.gguf", dir.path());
        let result = downloader().download(&request, |_| {}, CancellationToken::new()).await;
        let Err(DownloadError::HashMismatch { expected, actual }) = result else {
            panic!("expected a hash mismatch, got {result:?}");
        };
        assert_eq!(expected, MODEL_SHA256);
        assert_ne!(actual, MODEL_SHA256);
        assert_eq!(actual.len(), 64);
        assert!(!request.dest.exists(), "a corrupt file was put at dest");
        assert!(!request.partial_path().exists(), "the corrupt partial file is kept");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_download_leaves_the_previous_file_alone() {
    bounded(async {
        let server = Server::start(&[Route::prefix("/corrupt.gguf", Behaviour::Corrupt { offset: 5 }, PREFIX)]).await;
        let dir = tempfile::tempdir().expect("temp dir");
        let request = prefix_request(&server, "/corrupt.gguf", dir.path());
        write_file(&request.dest, b"an older model");
        let result = downloader().download(&request, |_| {}, CancellationToken::new()).await;
        assert!(matches!(result, Err(DownloadError::HashMismatch { .. })), "{result:?}");
        assert_eq!(std::fs::read(&request.dest).expect("dest"), b"an older model");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_file_is_replaced_once_the_new_one_verifies() {
    bounded(async {
        let server = Server::start(&[Route::prefix("/prefix.gguf", Behaviour::Honest, PREFIX)]).await;
        let dir = tempfile::tempdir().expect("temp dir");
        let request = prefix_request(&server, "/prefix.gguf", dir.path());
        write_file(&request.dest, b"an older model");
        let outcome = downloader().download(&request, |_| {}, CancellationToken::new()).await.expect("download");
        assert!(outcome.verified && !outcome.already_present);
        assert_the_prefix_is_at(&request.dest, PREFIX);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_good_file_already_in_place_is_not_fetched_again() {
    bounded(async {
        let server = Server::start(&[Route::model("/smollm2.gguf", Behaviour::Honest)]).await;
        let dir = tempfile::tempdir().expect("temp dir");
        let request = model_request(&server, "/smollm2.gguf", dir.path());
        write_file(&request.dest, &model());
        let outcome = downloader().download(&request, |_| {}, CancellationToken::new()).await.expect("download");
        assert!(outcome.already_present && outcome.verified && !outcome.resumed);
        assert_eq!(outcome.bytes, MODEL_SIZE);
        assert_eq!(outcome.sha256, MODEL_SHA256);
        assert!(server.seen().is_empty(), "a request was made: {:?}", server.seen());
        assert!(!request.partial_path().exists());
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_errors_are_typed_with_their_status() {
    bounded(async {
        let server = Server::start(&[Route::model("/broken", Behaviour::Status(500)), Route::model("/busy", Behaviour::Status(503))]).await;
        let dir = tempfile::tempdir().expect("temp dir");
        for (path, status, requests) in [("/missing.gguf", 404, 1), ("/broken", 500, 1), ("/busy", 503, 4)] {
            let request = model_request(&server, path, dir.path());
            let result = downloader().download(&request, |_| {}, CancellationToken::new()).await;
            assert!(
                matches!(&result, Err(DownloadError::HttpStatus { status: got, url }) if *got == status && url.ends_with(path)),
                "{path}: {result:?}"
            );
            assert_eq!(result.map_err(|error| error.code()).err(), Some("http_status"));
            assert_eq!(server.seen().iter().filter(|seen| seen.path == path).count(), requests, "{path}");
            assert!(!request.dest.exists());
            assert!(!request.partial_path().exists(), "{path}: an empty partial file is left behind");
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn insufficient_space_is_reported_before_any_body_is_fetched() {
    bounded(async {
        let server = Server::start(&[Route::model("/smollm2.gguf", Behaviour::Honest)]).await;
        let dir = tempfile::tempdir().expect("temp dir");
        let probed = Arc::new(Mutex::new(Vec::<PathBuf>::new()));
        let probes = probed.clone();
        let full_disk = downloader().with_free_space(move |path| {
            probes.lock().unwrap().push(path.to_path_buf());
            Ok(1000)
        });

        // Size known: refused before any request.
        let request = model_request(&server, "/smollm2.gguf", dir.path());
        let result = full_disk.download(&request, |_| {}, CancellationToken::new()).await;
        assert!(
            matches!(&result, Err(DownloadError::InsufficientSpace { needed: MODEL_SIZE, available: 1000, path })
                if path == &dir.path().join("models")),
            "{result:?}"
        );
        assert!(server.seen().is_empty());
        assert!(!request.dest.exists() && !request.partial_path().exists());
        assert_eq!(*probed.lock().unwrap(), [dir.path().join("models")]);

        // A partial file counts: only the rest is needed.
        write_file(&request.partial_path(), &model()[..HALF]);
        let result = full_disk.download(&request, |_| {}, CancellationToken::new()).await;
        let rest = MODEL_SIZE - HALF as u64;
        assert!(matches!(result, Err(DownloadError::InsufficientSpace { needed, .. }) if needed == rest), "{result:?}");
        assert!(server.seen().is_empty());
        assert_eq!(file_len(&request.partial_path()), Some(HALF as u64));
        std::fs::remove_file(request.partial_path()).expect("remove partial");

        // Size unknown: refused on the announced length, before the body.
        let request = DownloadRequest { expected_size: None, ..request };
        let mut reports = Vec::new();
        let result = full_disk.download(&request, |progress| reports.push(progress), CancellationToken::new()).await;
        assert!(matches!(result, Err(DownloadError::InsufficientSpace { needed: MODEL_SIZE, .. })), "{result:?}");
        assert_eq!(server.seen().len(), 1);
        assert!(reports.is_empty(), "body progress was reported: {reports:?}");
        assert!(!request.dest.exists() && !request.partial_path().exists());
    })
    .await;
}
