//! The task protocol against a real `chorus serve`, from an
//! in-process chorus-net node.

use std::time::{Duration, Instant};

use chorus_net::{
    ChatMessage, Keypair, NetConfig, Network, PROTOCOL_VERSION, PeerId, RemoteEvent, Sampling, TaskError,
    TaskErrorCode, TaskFrame, TaskRequest,
};
use futures::{AsyncReadExt as _, AsyncWriteExt as _};

use super::{Server, serial};

fn request(specialist: &str, prompt: &str, max_tokens: u32) -> TaskRequest {
    TaskRequest {
        version: PROTOCOL_VERSION,
        specialist: specialist.to_owned(),
        messages: vec![
            ChatMessage { role: "system".to_owned(), content: "You are a helpful assistant.".to_owned() },
            ChatMessage { role: "user".to_owned(), content: prompt.to_owned() },
        ],
        sampling: Sampling {
            temperature: 0.3,
            top_k: 40,
            top_p: 0.9,
            min_p: 0.05,
            repeat_penalty: 1.1,
            max_tokens,
            seed: 7,
        },
        deadline_ms: 120_000,
        nonce: String::new(),
    }
}

/// Reads the one frame a refused stream gets: an error.
async fn read_error(stream: &mut chorus_net::Stream) -> TaskError {
    let frame: TaskFrame = tokio::time::timeout(
        Duration::from_secs(20),
        chorus_net::read_frame(stream, chorus_net::MAX_RESPONSE_FRAME_BYTES),
    )
    .await
    .expect("an answer within 20 s")
    .expect("a frame");
    let mut rest = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut rest)).await;
    match frame {
        TaskFrame::Error { error } => error,
        other => panic!("expected an error frame, got {other:?}"),
    }
}

/// Runs a task to its end: the text, the token count.
async fn run(client: &Network, peer: PeerId, request: TaskRequest) -> Result<(String, u32), TaskError> {
    let mut task = client.start_task(peer, request).await?;
    let mut streamed = String::new();
    let mut frames = 0;
    let outcome = tokio::time::timeout(Duration::from_secs(180), async {
        while let Some(event) = task.next().await {
            match event? {
                RemoteEvent::Waiting => {}
                RemoteEvent::Token(text) => {
                    frames += 1;
                    streamed.push_str(&text);
                }
                // `next` verified the signed receipt against the peer's
                // key, the request and the text received.
                RemoteEvent::Done { summary, text, receipt } => {
                    assert_eq!(text, streamed);
                    assert_eq!(receipt.tokens, summary.tokens);
                    assert!(frames == 0 || summary.tokens > 0, "{summary:?}");
                    return Ok((text, summary.tokens));
                }
            }
        }
        panic!("the task ended without a final frame");
    })
    .await;
    outcome.expect("the task ends within 180 s")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_serving_process_refuses_bad_requests_with_typed_errors_and_keeps_serving() {
    let _serial = serial();
    let dir = tempfile::tempdir().expect("temp dir");
    let mut server = Server::start("serve", dir.path(), "general.assistant", &[]);

    let mut config = NetConfig::tcp(vec!["/ip4/127.0.0.1/tcp/0".parse().unwrap()]);
    config.mdns = false;
    config.autonat = false;
    let client = Network::start(Keypair::generate_ed25519(), config, None).await.expect("the client starts");
    let peer = client.dial(server.address.parse().unwrap()).await.expect("dials the serve process");
    assert_eq!(peer.to_string(), server.peer_id);

    // Malformed: a length prefix and no JSON.
    let mut stream = client.open_task_stream(peer).await.expect("a task stream");
    stream.write_all(&7_u32.to_be_bytes()).await.unwrap();
    stream.write_all(b"garbage").await.unwrap();
    stream.flush().await.unwrap();
    let error = read_error(&mut stream).await;
    assert_eq!(error.code, TaskErrorCode::BadRequest, "{error}");

    // Oversized: announces 10 MB (the limit is 64 KiB); nothing more is read.
    let mut stream = client.open_task_stream(peer).await.expect("a task stream");
    stream.write_all(&10_000_000_u32.to_be_bytes()).await.unwrap();
    stream.flush().await.unwrap();
    let error = read_error(&mut stream).await;
    assert_eq!(error.code, TaskErrorCode::TooLarge, "{error}");

    // Well-formed JSON that breaks the protocol's limits.
    let mut bad = request("general.assistant", "hi", 16);
    bad.sampling.temperature = 50.0;
    let error = run(&client, peer, bad).await.unwrap_err();
    assert_eq!(error.code, TaskErrorCode::BadRequest, "{error}");

    // A specialist it does not serve (in the catalog, and not at all).
    for specialist in ["finance.pricing", "nobody.serves.this"] {
        let error = run(&client, peer, request(specialist, "hi", 16)).await.unwrap_err();
        assert_eq!(error.code, TaskErrorCode::UnknownSpecialist, "{specialist}: {error}");
    }

    // Slow: a stream that sends nothing. Meanwhile a real task is served
    // in full: real tokens from the model and a verified receipt.
    let slow_opened = Instant::now();
    let mut slow = client.open_task_stream(peer).await.expect("a task stream");
    let (text, tokens) = run(&client, peer, request("general.assistant", "Name three colours of the rainbow.", 32))
        .await
        .expect("a valid task is served while a slow one hangs");
    assert!(tokens > 0 && !text.trim().is_empty(), "{tokens} tokens: {text:?}");
    let error = read_error(&mut slow).await;
    let waited = slow_opened.elapsed();
    assert_eq!(error.code, TaskErrorCode::OverDeadline, "{error}");
    assert!(
        waited >= Duration::from_secs(4) && waited < Duration::from_secs(20),
        "the slow request was dropped after {waited:?} (expected ~5 s)"
    );

    // Still serving after all that.
    let (text, _) = run(&client, peer, request("general.assistant", "Say hello.", 16)).await.expect("served");
    assert!(!text.is_empty());
    assert!(server.proc.running(), "the serve process is alive\n{}", server.proc.context());
    client.shutdown();
}
