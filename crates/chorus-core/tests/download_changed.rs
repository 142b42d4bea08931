//! A file that changes on the server between two attempts of a download,
//! over real HTTP on loopback (the server is in `common`): a resumed
//! request carries `If-Range` with the first answer's `ETag`, kept in
//! memory within a call and in `<dest>.partial.validator` between calls, so
//! the result is the new file whole, never the old head spliced onto the
//! new tail.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use chorus_core::{DownloadError, DownloadRequest, Downloader};
use common::*;
use tokio_util::sync::CancellationToken;

const CUT: usize = 3 * MIB + 7;

/// The changed file the server has from its second request on.
fn assert_the_changed_prefix_is_at(path: &std::path::Path) {
    let bytes = std::fs::read(path).expect("read the downloaded file");
    assert_eq!(bytes.len(), PREFIX);
    let changed = changed_model();
    assert!(bytes[..CUT] == changed[..CUT], "the head is the old file's: the download was spliced");
    assert!(bytes[..] == changed[..PREFIX], "{} is not the changed file", path.display());
}

fn unverified(server: &Server, path: &str, dir: &std::path::Path) -> DownloadRequest {
    DownloadRequest::new(server.url(path), dir.join("models").join("changing.gguf")).with_size(PREFIX as u64)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_that_changed_during_the_download_arrives_whole_not_spliced() {
    bounded(async {
        let behaviour = Behaviour::ChangesAfterFirst { after: CUT, if_range: true };
        let server = Server::start(&[Route::prefix("/changing.gguf", behaviour, PREFIX)]).await;
        let dir = tempfile::tempdir().expect("temp dir");
        let request = unverified(&server, "/changing.gguf", dir.path());
        let outcome = downloader().download(&request, |_| {}, CancellationToken::new()).await.expect("download");
        assert!(!outcome.resumed, "the kept bytes were of the old file");
        assert!(!outcome.verified);
        assert_the_changed_prefix_is_at(&request.dest);
        assert!(!request.partial_path().exists() && !request.validator_path().exists());
        assert_eq!(
            server.seen(),
            [
                Seen::plain("/changing.gguf"),
                // The server has another file now: it answers 200, the
                // download starts over.
                Seen::ranged("/changing.gguf", CUT, Some("\"a\"")),
                Seen::plain("/changing.gguf"),
            ]
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_verified_download_of_a_file_that_changed_is_the_new_file_whole() {
    bounded(async {
        let behaviour = Behaviour::ChangesAfterFirst { after: CUT, if_range: true };
        let server = Server::start(&[Route::prefix("/changing.gguf", behaviour, PREFIX)]).await;
        let dir = tempfile::tempdir().expect("temp dir");
        let changed_sha256 = {
            use sha2::Digest as _;
            let digest = sha2::Sha256::digest(&changed_model()[..PREFIX]);
            digest.iter().map(|byte| format!("{byte:02x}")).collect::<String>()
        };
        let request = unverified(&server, "/changing.gguf", dir.path()).with_sha256(changed_sha256);
        let outcome = downloader().download(&request, |_| {}, CancellationToken::new()).await.expect("download");
        assert!(outcome.verified);
        assert_the_changed_prefix_is_at(&request.dest);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_ignores_if_range_is_caught_by_its_etag() {
    bounded(async {
        // It sends the range of its new file (206) with the new tag.
        let behaviour = Behaviour::ChangesAfterFirst { after: CUT, if_range: false };
        let server = Server::start(&[Route::prefix("/careless.gguf", behaviour, PREFIX)]).await;
        let dir = tempfile::tempdir().expect("temp dir");
        let request = unverified(&server, "/careless.gguf", dir.path());
        let outcome = downloader().download(&request, |_| {}, CancellationToken::new()).await.expect("download");
        assert!(!outcome.resumed);
        assert_the_changed_prefix_is_at(&request.dest);
        let seen = server.seen();
        assert_eq!(seen.len(), 3, "{seen:?}");
        assert_eq!(seen[2], Seen::plain("/careless.gguf"));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_etag_is_kept_between_calls_and_sent_on_resume() {
    bounded(async {
        let behaviour = Behaviour::ChangesAfterFirst { after: CUT, if_range: true };
        let server = Server::start(&[Route::prefix("/changing.gguf", behaviour, PREFIX)]).await;
        let dir = tempfile::tempdir().expect("temp dir");
        let request = unverified(&server, "/changing.gguf", dir.path());

        // One attempt only: the call ends with the cut, keeping the bytes.
        let mut options = options();
        options.max_attempts = 1;
        let once = Downloader::with_options(options).expect("client");
        let result = once.download(&request, |_| {}, CancellationToken::new()).await;
        assert!(
            matches!(result, Err(DownloadError::Network { downloaded, .. }) if downloaded == CUT as u64),
            "{result:?}"
        );
        assert_eq!(file_len(&request.partial_path()), Some(CUT as u64));
        let saved = std::fs::read_to_string(request.validator_path()).expect("the validator is kept");
        assert!(saved.contains(r#""etag":"\"a\"""#), "{saved}");

        // The next call resumes with `If-Range: "a"`; the file changed, so
        // it gets the new one whole.
        let outcome = downloader().download(&request, |_| {}, CancellationToken::new()).await.expect("download");
        assert!(!outcome.resumed);
        assert_the_changed_prefix_is_at(&request.dest);
        assert_eq!(server.seen()[1], Seen::ranged("/changing.gguf", CUT, Some("\"a\"")));
        assert!(!request.validator_path().exists());
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unidentified_bytes_of_an_unverified_file_are_not_continued() {
    bounded(async {
        let server = Server::start(&[Route::prefix("/prefix.gguf", Behaviour::Honest, PREFIX)]).await;
        let dir = tempfile::tempdir().expect("temp dir");
        let request = DownloadRequest::new(server.url("/prefix.gguf"), dir.path().join("m.gguf"));
        // Bytes from an earlier run with no validator beside them, and no
        // sha256 to check a splice: the download starts from zero.
        write_file(&request.partial_path(), &vec![0u8; 2 * MIB]);
        let outcome = downloader().download(&request, |_| {}, CancellationToken::new()).await.expect("download");
        assert!(!outcome.resumed);
        assert_the_prefix_is_at(&request.dest, PREFIX);
        assert_eq!(server.seen(), [Seen::plain("/prefix.gguf")]);
    })
    .await;
}
