//! The executor side of the task protocol.
//!
//! Each inbound stream carries one request. The request must arrive within
//! a few seconds and within its size limit; it is checked, handed to the
//! [`TaskService`] (which admits it within the owner's limits or says
//! busy), and its tokens go back as they are generated. When the requester
//! goes away the service's receiver is dropped, which cancels the generation.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use futures::{AsyncReadExt as _, AsyncWriteExt as _, StreamExt as _};
use libp2p::identity::Keypair;
use libp2p::{PeerId, Stream};
use tokio::sync::{Semaphore, mpsc};
use tokio_util::sync::CancellationToken;

use crate::limits::RateLimiter;
use crate::streams::OpenStreams;
use crate::wire::{
    FrameError, MAX_REQUEST_BYTES, MAX_RESPONSE_FRAME_BYTES, MAX_RESULT_BYTES, PeerStatus, Receipt, TaskError,
    TaskErrorCode, TaskFrame, TaskRequest, TaskSummary, read_frame_bytes, write_frame,
};

/// How long a requester has to send its request once the stream is open.
pub const REQUEST_READ_TIMEOUT: Duration = Duration::from_secs(5);

/// Task streams one peer may hold open at once: beyond them its streams
/// are refused as busy, so silent or slow streams cost a stranger its own
/// places, not the node's capacity.
pub const MAX_TASK_STREAMS_PER_PEER: usize = 8;

/// What a running task reports to the network layer.
#[derive(Debug, Clone, PartialEq)]
pub enum ServiceEvent {
    /// Admitted, waiting for a free slot.
    Waiting,
    /// More text.
    Token(String),
    /// Finished.
    Done {
        /// Tokens in the prompt.
        prompt_tokens: u32,
        /// Tokens generated.
        tokens: u32,
    },
    /// Failed.
    Failed(TaskError),
}

/// The node behind the network: what it serves and how.
pub trait TaskService: Send + Sync + 'static {
    /// Live status for probes. Called on the network task: must be quick.
    fn status(&self) -> PeerStatus;

    /// Admits a validated request, or refuses it with a typed error
    /// (`busy`, `unknown_specialist`, `not_serving`, …). Must not block: the
    /// generation runs elsewhere and reports through the receiver; dropping
    /// the receiver cancels it.
    ///
    /// # Errors
    /// The refusal.
    fn start(&self, requester: PeerId, request: TaskRequest) -> Result<mpsc::Receiver<ServiceEvent>, TaskError>;

    /// A task for `requester` finished and its receipt went out.
    fn completed(&self, requester: PeerId, receipt: &Receipt) {
        let _ = (requester, receipt);
    }

    /// The requester went away (or could no longer be written to) after
    /// `tokens` token frames had gone out: the work was done for it all the
    /// same, so the caller charges it.
    fn abandoned(&self, requester: PeerId, tokens: u32) {
        let _ = (requester, tokens);
    }
}

pub(crate) async fn serve(
    mut incoming: libp2p_stream::IncomingStreams,
    service: Arc<dyn TaskService>,
    keypair: Keypair,
    limiter: RateLimiter,
    (max_streams, per_peer): (usize, OpenStreams),
    cancel: CancellationToken,
    drop_next: Arc<AtomicUsize>,
) {
    let streams = Arc::new(Semaphore::new(max_streams.max(1)));
    loop {
        let (peer, mut stream) = tokio::select! {
            biased;
            () = cancel.cancelled() => break,
            next = incoming.next() => match next {
                Some(next) => next,
                None => break,
            },
        };
        // Test hook: drop the stream unread, as libp2p-stream does with
        // one that arrives before the previous one was picked up.
        if drop_next.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).is_ok() {
            tracing::debug!(%peer, "dropping a task stream unread (test hook)");
            drop(stream);
            continue;
        }
        if !limiter.allow(&peer) {
            tokio::spawn(async move {
                refuse(&mut stream, TaskError::new(TaskErrorCode::RateLimited, "too many requests; slow down")).await;
            });
            continue;
        }
        let Some(place) = per_peer.enter(peer, MAX_TASK_STREAMS_PER_PEER) else {
            tokio::spawn(async move {
                let error = TaskError::new(TaskErrorCode::Busy, "too many open task streams from this peer");
                refuse(&mut stream, error).await;
            });
            continue;
        };
        let Ok(permit) = Arc::clone(&streams).try_acquire_owned() else {
            tokio::spawn(async move {
                refuse(&mut stream, TaskError::new(TaskErrorCode::Busy, "too many open task streams")).await;
            });
            continue;
        };
        let service = Arc::clone(&service);
        let keypair = keypair.clone();
        let cancel = cancel.clone();
        tokio::spawn(async move {
            tokio::select! {
                () = cancel.cancelled() => {}
                () = handle(peer, stream, service, keypair) => {}
            }
            drop(permit);
            drop(place);
        });
    }
}

async fn refuse(stream: &mut Stream, error: TaskError) {
    tracing::debug!(%error, "task refused");
    let _ = write_frame(stream, &TaskFrame::Error { error }, MAX_RESPONSE_FRAME_BYTES).await;
    let _ = stream.close().await;
}

async fn handle(peer: PeerId, mut stream: Stream, service: Arc<dyn TaskService>, keypair: Keypair) {
    let started = Instant::now();
    let request_bytes =
        match tokio::time::timeout(REQUEST_READ_TIMEOUT, read_frame_bytes(&mut stream, MAX_REQUEST_BYTES)).await {
            Err(_) => {
                let message = format!("the request did not arrive within {} s", REQUEST_READ_TIMEOUT.as_secs());
                return refuse(&mut stream, TaskError::new(TaskErrorCode::OverDeadline, message)).await;
            }
            Ok(Err(FrameError::TooLarge { length, limit })) => {
                let message = format!("request of {length} bytes is over the {limit}-byte limit");
                return refuse(&mut stream, TaskError::new(TaskErrorCode::TooLarge, message)).await;
            }
            Ok(Err(FrameError::Malformed(reason))) => {
                return refuse(
                    &mut stream,
                    TaskError::new(TaskErrorCode::BadRequest, format!("malformed request: {reason}")),
                )
                .await;
            }
            Ok(Err(error)) => {
                tracing::debug!(%peer, %error, "task stream broke before its request");
                return;
            }
            Ok(Ok(bytes)) => bytes,
        };
    let request: TaskRequest = match serde_json::from_slice(&request_bytes) {
        Ok(request) => request,
        Err(error) => {
            let error = TaskError::new(TaskErrorCode::BadRequest, format!("malformed request: {error}"));
            return refuse(&mut stream, error).await;
        }
    };
    if let Err(error) = request.validate() {
        return refuse(&mut stream, error).await;
    }
    let deadline = Duration::from_millis(request.deadline_ms);
    let mut events = match service.start(peer, request.clone()) {
        Ok(events) => events,
        Err(error) => return refuse(&mut stream, error).await,
    };
    let (mut reader, mut writer) = stream.split();
    // The requester sends nothing after its request: the read side ending
    // means it went away, and the generation is cancelled.
    let mut probe = [0_u8; 1];
    let hung_up = async {
        loop {
            match reader.read(&mut probe).await {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
    };
    tokio::pin!(hung_up);
    let sleep = tokio::time::sleep(deadline);
    tokio::pin!(sleep);
    let mut text = String::new();
    let mut first_token_ms = None;
    // Token frames written: what a requester that hangs up is charged.
    let mut streamed: u32 = 0;
    let charge = |tokens: u32| {
        if tokens > 0 {
            service.abandoned(peer, tokens);
        }
    };
    loop {
        let event = tokio::select! {
            () = &mut hung_up => {
                tracing::debug!(%peer, "requester went away; cancelling");
                return charge(streamed);
            }
            () = &mut sleep => Some(ServiceEvent::Failed(TaskError::new(
                TaskErrorCode::OverDeadline,
                format!("the deadline of {} ms passed", deadline.as_millis()),
            ))),
            event = events.recv() => event,
        };
        let frame = match event {
            None => TaskFrame::Error { error: TaskError::new(TaskErrorCode::Internal, "the generation stopped") },
            Some(ServiceEvent::Waiting) => TaskFrame::Waiting,
            Some(ServiceEvent::Token(piece)) => {
                if text.len() + piece.len() > MAX_RESULT_BYTES {
                    TaskFrame::Error { error: TaskError::new(TaskErrorCode::TooLarge, "result over the size limit") }
                } else {
                    first_token_ms.get_or_insert_with(|| millis(started.elapsed()));
                    text.push_str(&piece);
                    TaskFrame::Token { text: piece }
                }
            }
            Some(ServiceEvent::Done { prompt_tokens, tokens }) => {
                let receipt = Receipt::sign(&keypair, &peer, &request_bytes, &text, tokens);
                let summary = TaskSummary {
                    prompt_tokens,
                    tokens,
                    first_token_ms: first_token_ms.unwrap_or_else(|| millis(started.elapsed())),
                    total_ms: millis(started.elapsed()),
                };
                let frame = TaskFrame::Done { summary, receipt: receipt.clone() };
                if write_frame(&mut writer, &frame, MAX_RESPONSE_FRAME_BYTES).await.is_ok() {
                    service.completed(peer, &receipt);
                } else {
                    charge(streamed.min(tokens));
                }
                let _ = writer.close().await;
                return;
            }
            Some(ServiceEvent::Failed(error)) => TaskFrame::Error { error },
        };
        let last = matches!(frame, TaskFrame::Error { .. });
        let token = matches!(frame, TaskFrame::Token { .. });
        if write_frame(&mut writer, &frame, MAX_RESPONSE_FRAME_BYTES).await.is_err() {
            tracing::debug!(%peer, "requester unreachable; cancelling");
            return charge(streamed);
        }
        streamed = streamed.saturating_add(u32::from(token));
        if last {
            let _ = writer.close().await;
            return;
        }
    }
}

pub(crate) fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}
