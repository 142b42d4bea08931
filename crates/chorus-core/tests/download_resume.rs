//! Downloads over real HTTP on loopback (the server is in `common`):
//! resuming after a dropped connection or an earlier run, servers that
//! refuse or ignore ranges, cancellation, stalls, unreachable servers and
//! two downloads of one file.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use chorus_core::{DownloadError, DownloadRequest, Downloader};
use common::*;
use tokio_util::sync::CancellationToken;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_dropped_halfway_is_resumed_with_a_range_request() {
    bounded(async {
        let server = Server::start(&[Route::model("/flaky.gguf", Behaviour::DropFirst { after: HALF })]).await;
        let dir = tempfile::tempdir().expect("temp dir");
        let request = model_request(&server, "/flaky.gguf", dir.path());
        let mut reports = Vec::new();
        let outcome = downloader()
            .download(&request, |progress| reports.push(progress), CancellationToken::new())
            .await
            .expect("download");
        assert!(outcome.resumed);
        assert!(outcome.verified);
        assert_eq!(outcome.sha256, MODEL_SHA256);
        assert_the_model_is_at(&request.dest);
        assert!(!request.partial_path().exists());
        assert_monotonic(&reports);
        assert_eq!(reports.last().map(|progress| progress.downloaded), Some(MODEL_SIZE));
        assert_eq!(
            server.seen(),
            [
                Seen::plain("/flaky.gguf"),
                // The tag of the first answer says which file the bytes are of.
                Seen::ranged("/flaky.gguf", HALF, Some("\"a\"")),
            ]
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partial_file_from_an_earlier_run_is_rehashed_and_resumed() {
    bounded(async {
        let server = Server::start(&[Route::prefix("/prefix.gguf", Behaviour::Honest, PREFIX)]).await;
        let dir = tempfile::tempdir().expect("temp dir");
        let request = prefix_request(&server, "/prefix.gguf", dir.path());
        let kept = 3 * MIB + 5;
        write_file(&request.partial_path(), &model()[..kept]);
        let outcome = downloader().download(&request, |_| {}, CancellationToken::new()).await.expect("download");
        assert!(outcome.resumed && outcome.verified);
        assert_the_prefix_is_at(&request.dest, PREFIX);
        // Nothing says which file these bytes are of; the sha256 will check
        // the result, so they are continued (without `If-Range`).
        assert_eq!(server.seen(), [Seen::ranged("/prefix.gguf", kept, None)]);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_complete_partial_file_is_verified_without_a_request() {
    bounded(async {
        let server = Server::start(&[Route::prefix("/prefix.gguf", Behaviour::Honest, PREFIX)]).await;
        let dir = tempfile::tempdir().expect("temp dir");
        let request = prefix_request(&server, "/prefix.gguf", dir.path());
        write_file(&request.partial_path(), &model()[..PREFIX]);
        let outcome = downloader().download(&request, |_| {}, CancellationToken::new()).await.expect("download");
        assert!(outcome.resumed && outcome.verified && !outcome.already_present);
        assert_the_prefix_is_at(&request.dest, PREFIX);
        assert!(!request.partial_path().exists());
        assert!(server.seen().is_empty());
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn range_not_satisfiable_means_complete_or_start_over() {
    bounded(async {
        let server = Server::start(&[Route::prefix("/prefix.gguf", Behaviour::Honest, PREFIX)]).await;
        let dir = tempfile::tempdir().expect("temp dir");
        // No size given, so the downloader cannot tell the partial file is
        // complete: the server's 416 (`bytes */len`) tells it.
        let request = DownloadRequest { expected_size: None, ..prefix_request(&server, "/prefix.gguf", dir.path()) };
        write_file(&request.partial_path(), &model()[..PREFIX]);
        let outcome = downloader().download(&request, |_| {}, CancellationToken::new()).await.expect("download");
        assert!(outcome.resumed && outcome.verified);
        assert_the_prefix_is_at(&request.dest, PREFIX);
        assert_eq!(server.seen().len(), 1);

        // A partial file longer than the server's file: start over.
        std::fs::remove_file(&request.dest).expect("remove dest");
        write_file(&request.partial_path(), &model()[..PREFIX + 10]);
        let outcome = downloader().download(&request, |_| {}, CancellationToken::new()).await.expect("download");
        assert!(!outcome.resumed && outcome.verified);
        assert_the_prefix_is_at(&request.dest, PREFIX);
        let seen = server.seen();
        assert_eq!(seen.len(), 3, "{seen:?}");
        assert_eq!(seen[1].range, Some(format!("bytes={}-", PREFIX + 10)));
        assert_eq!(seen[2].range, None);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_ignores_ranges_makes_the_download_start_over() {
    bounded(async {
        let server = Server::start(&[Route::prefix("/noranges.gguf", Behaviour::IgnoreRanges, PREFIX)]).await;
        let dir = tempfile::tempdir().expect("temp dir");
        let request = prefix_request(&server, "/noranges.gguf", dir.path());
        // A partial file of the wrong bytes: if they were kept, the hash would fail.
        write_file(&request.partial_path(), &vec![0u8; 5 * MIB]);
        let outcome = downloader().download(&request, |_| {}, CancellationToken::new()).await.expect("download");
        assert!(!outcome.resumed && outcome.verified);
        assert_the_prefix_is_at(&request.dest, PREFIX);
        let seen = server.seen();
        assert_eq!(seen.len(), 2, "{seen:?}");
        assert_eq!(seen[0].range.as_deref(), Some("bytes=5242880-"));
        assert_eq!(seen[1].range, None);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancellation_keeps_the_partial_file_and_a_later_call_resumes() {
    bounded(async {
        let pause = Duration::from_millis(5);
        let server = Server::start(&[Route::model("/slow.gguf", Behaviour::Throttled { pause })]).await;
        let dir = tempfile::tempdir().expect("temp dir");
        let request = model_request(&server, "/slow.gguf", dir.path());
        let downloader = downloader();

        let cancel = CancellationToken::new();
        let mut cancelled_at = None;
        let result = downloader
            .download(
                &request,
                |progress| {
                    if progress.downloaded >= 16 * MIB as u64 && cancelled_at.is_none() {
                        cancelled_at = Some(Instant::now());
                        cancel.cancel();
                    }
                },
                cancel.clone(),
            )
            .await;
        let stopped_after = cancelled_at.expect("cancelled").elapsed();
        assert!(matches!(result, Err(DownloadError::Cancelled)), "{result:?}");
        assert!(stopped_after < Duration::from_secs(1), "took {stopped_after:?} to stop");
        assert!(!request.dest.exists());
        let kept = file_len(&request.partial_path()).expect("the partial file is kept");
        assert!(kept >= 16 * MIB as u64 && kept < MODEL_SIZE, "kept {kept} bytes");

        let mut reports = Vec::new();
        let outcome = downloader
            .download(&request, |progress| reports.push(progress), CancellationToken::new())
            .await
            .expect("resumed download");
        assert!(outcome.resumed && outcome.verified);
        assert_the_model_is_at(&request.dest);
        assert!(!request.partial_path().exists());
        assert_eq!(reports.first().map(|progress| progress.downloaded), Some(kept));
        assert_monotonic(&reports);
        let seen = server.seen();
        assert_eq!(seen.len(), 2);
        assert_eq!(seen[1].range, Some(format!("bytes={kept}-")));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_token_stops_before_any_request() {
    bounded(async {
        let server = Server::start(&[Route::model("/smollm2.gguf", Behaviour::Honest)]).await;
        let dir = tempfile::tempdir().expect("temp dir");
        let request = model_request(&server, "/smollm2.gguf", dir.path());
        let cancel = CancellationToken::new();
        cancel.cancel();
        let result = downloader().download(&request, |_| {}, cancel).await;
        assert!(matches!(result, Err(DownloadError::Cancelled)), "{result:?}");
        assert!(server.seen().is_empty());
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_transfer_times_out_and_is_retried() {
    bounded(async {
        let server = Server::start(&[Route::model("/stall.gguf", Behaviour::Stall { at: MIB })]).await;
        let dir = tempfile::tempdir().expect("temp dir");
        let request = model_request(&server, "/stall.gguf", dir.path());
        let mut options = options();
        options.read_timeout = Duration::from_millis(300);
        options.max_retries = 1;
        let downloader = Downloader::with_options(options).expect("client");
        let started = Instant::now();
        let result = downloader.download(&request, |_| {}, CancellationToken::new()).await;
        // Attempt 1 gets 1 MiB and times out; attempts 2 and 3 resume at
        // 1 MiB, get nothing and time out; max_retries = 1 ends it there.
        let Err(DownloadError::Network { reason, attempts, downloaded, .. }) = result else {
            panic!("expected a network error, got {result:?}");
        };
        assert!(reason.to_lowercase().contains("time"), "{reason}");
        assert_eq!(attempts, 3);
        assert_eq!(downloaded, MIB as u64);
        assert!(started.elapsed() < Duration::from_secs(30));
        assert!(!request.dest.exists());
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_server_is_a_network_error() {
    bounded(async {
        // A loopback port with nobody listening.
        let port = {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
            listener.local_addr().expect("addr").port()
        };
        let dir = tempfile::tempdir().expect("temp dir");
        let request = DownloadRequest::new(format!("http://127.0.0.1:{port}/m.gguf"), dir.path().join("m.gguf"));
        let result = downloader().download(&request, |_| {}, CancellationToken::new()).await;
        assert!(matches!(result, Err(DownloadError::Network { attempts: 4, downloaded: 0, .. })), "{result:?}");
        assert!(!request.dest.exists() && !request.partial_path().exists());
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_downloads_to_the_same_file_do_not_interleave() {
    bounded(async {
        let pause = Duration::from_millis(50);
        let server = Server::start(&[Route::prefix("/slow.gguf", Behaviour::Throttled { pause }, PREFIX)]).await;
        let dir = tempfile::tempdir().expect("temp dir");
        let request = prefix_request(&server, "/slow.gguf", dir.path());
        let downloader = downloader();
        let cancel = CancellationToken::new();
        let (started_tx, started_rx) = tokio::sync::oneshot::channel();
        let first = {
            let downloader = downloader.clone();
            let request = request.clone();
            let cancel = cancel.clone();
            tokio::spawn(async move {
                let mut started = Some(started_tx);
                downloader
                    .download(
                        &request,
                        move |progress| {
                            if let Some(started) = started.take_if(|_| progress.downloaded > 0) {
                                let _ = started.send(());
                            }
                        },
                        cancel,
                    )
                    .await
            })
        };
        started_rx.await.expect("first download started");
        let second = downloader.download(&request, |_| {}, CancellationToken::new()).await;
        assert!(matches!(&second, Err(DownloadError::Busy { path }) if path == &request.partial_path()), "{second:?}");
        cancel.cancel();
        let first = first.await.expect("join");
        assert!(matches!(first, Err(DownloadError::Cancelled)), "{first:?}");
        assert!(!request.dest.exists());
    })
    .await;
}
