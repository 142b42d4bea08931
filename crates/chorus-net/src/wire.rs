//! What crosses the wire: the status protocol and the task protocol.
//!
//! Both are versioned. Task frames are a 4-byte big-endian length and a JSON
//! body; every length is checked against a limit before anything is read,
//! so a peer cannot make this node allocate more than the limits below.

use futures::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _};
use libp2p::StreamProtocol;
use serde::{Deserialize, Serialize};

/// The Kademlia protocol: Chorus runs its own DHT, not the IPFS one.
pub const KAD_PROTOCOL: StreamProtocol = StreamProtocol::new("/chorus/kad/1.0.0");
/// The live-status protocol (request-response).
pub const STATUS_PROTOCOL: StreamProtocol = StreamProtocol::new("/chorus/status/1");
/// The task protocol: one stream per inference.
pub const TASK_PROTOCOL: StreamProtocol = StreamProtocol::new("/chorus/task/1");
/// Version carried in status replies and task requests. Version 2: the
/// request carries a nonce, and a receipt signs the sha256 of the request
/// frame's bytes as they crossed the wire (docs/PROTOCOL.md).
pub const PROTOCOL_VERSION: u32 = 2;

/// Largest task request frame (messages and settings).
pub const MAX_REQUEST_BYTES: usize = 64 * 1024;
/// Largest response frame (one token, or the final record).
pub const MAX_RESPONSE_FRAME_BYTES: usize = 16 * 1024;
/// Most text one task may stream back.
pub const MAX_RESULT_BYTES: usize = 256 * 1024;
/// Most messages in a request.
pub const MAX_MESSAGES: usize = 16;
/// Largest status reply.
pub const MAX_STATUS_BYTES: u64 = 64 * 1024;
/// Largest status request.
pub const MAX_STATUS_REQUEST_BYTES: u64 = 1024;
/// The highest generation speed a status may state: more than any device
/// generates one sequence at (a small model on a large GPU makes a few
/// thousand tokens a second). A node states at most this; a higher figure is
/// a lie, and the reply breaks the protocol ([`PeerStatus::fault`]).
pub const MAX_STATUS_TOKENS_PER_S: f32 = 100_000.0;
/// The most task slots a status may state.
pub const MAX_STATUS_SLOTS: u32 = 1024;

/// What kind of device a peer is: a hint for routing and for people.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum DeviceClass {
    /// A desktop or server, usually plugged in.
    Desktop,
    /// A laptop.
    Laptop,
    /// A phone or tablet.
    Phone,
    /// Not said.
    #[default]
    Unknown,
}

/// A status request. Empty but versioned, so it can grow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusRequest {
    /// The requester's protocol version.
    pub version: u32,
}

/// A peer's live status, as it answers a probe.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct PeerStatus {
    /// Protocol version of the answering node.
    pub version: u32,
    /// Specialists it serves.
    pub specialists: Vec<String>,
    /// Task slots free now.
    pub free_slots: u32,
    /// Task slots in all.
    pub total_slots: u32,
    /// Tasks waiting for a slot.
    pub waiting: u32,
    /// Recent generation speed, tokens per second (0 when unknown).
    pub tokens_per_s: f32,
    /// The kind of device.
    pub device_class: DeviceClass,
    /// Whether it takes work now (the owner's limits may say no: not idle,
    /// not charging, serving switched off).
    pub serving: bool,
    /// Most tokens it generates for one task.
    pub max_tokens: u32,
}

impl PeerStatus {
    /// What makes this reply break the protocol, if anything: a speed that
    /// is not a number, negative or above [`MAX_STATUS_TOKENS_PER_S`], more
    /// than [`MAX_STATUS_SLOTS`] slots, or more slots free than in all. A
    /// peer that says such things says nothing a requester can use; the
    /// reference requester demotes it as it demotes a failed task.
    #[must_use]
    pub fn fault(&self) -> Option<String> {
        let speed = self.tokens_per_s;
        if !(0.0..=MAX_STATUS_TOKENS_PER_S).contains(&speed) {
            return Some(format!("tokens_per_s {speed} is outside 0 to {MAX_STATUS_TOKENS_PER_S}"));
        }
        if self.total_slots > MAX_STATUS_SLOTS {
            return Some(format!("total_slots {} is above {MAX_STATUS_SLOTS}", self.total_slots));
        }
        if self.free_slots > self.total_slots {
            return Some(format!("free_slots {} is above total_slots {}", self.free_slots, self.total_slots));
        }
        None
    }
}

/// One chat message of a task.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatMessage {
    /// `system` or `user`.
    pub role: String,
    /// The text.
    pub content: String,
}

/// Sampling settings of a task.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Sampling {
    /// Temperature, 0–2.
    pub temperature: f32,
    /// Top-k (0 disables it).
    pub top_k: u32,
    /// Top-p, in (0, 1].
    pub top_p: f32,
    /// Min-p, in [0, 1).
    pub min_p: f32,
    /// Repetition penalty, 1–2.
    pub repeat_penalty: f32,
    /// Token cap.
    pub max_tokens: u32,
    /// Random seed.
    pub seed: u32,
}

/// A task request: run `messages` as `specialist` within `deadline_ms`.
/// Fields this node does not know are ignored, so a newer peer may add
/// optional ones without a new version (docs/PROTOCOL.md, "Versions").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskRequest {
    /// Protocol version of the requester.
    pub version: u32,
    /// The specialist to run.
    pub specialist: String,
    /// The sub-task: a system message and one user message. Peers see a
    /// sub-task, never the conversation.
    pub messages: Vec<ChatMessage>,
    /// Sampling.
    pub sampling: Sampling,
    /// Time the requester gives the whole task, in milliseconds.
    pub deadline_ms: u64,
    /// 16 to 64 hex digits the requester makes up for this request alone:
    /// the receipt signs the request's bytes, so no two receipts are alike
    /// and none can be passed off as another's. [`Network::start_task`](crate::Network::start_task)
    /// fills it in when empty.
    #[serde(default)]
    pub nonce: String,
}

impl TaskRequest {
    /// Checks the request against the protocol's limits.
    ///
    /// # Errors
    /// A [`TaskError`] with code `bad_request` naming the first problem.
    pub fn validate(&self) -> Result<(), TaskError> {
        let bad = |message: String| Err(TaskError::new(TaskErrorCode::BadRequest, message));
        if self.version != PROTOCOL_VERSION {
            return bad(format!(
                "protocol version {} is not supported (this node speaks {PROTOCOL_VERSION})",
                self.version
            ));
        }
        if self.specialist.is_empty() || self.specialist.len() > 128 {
            return bad("specialist id must be 1 to 128 bytes".to_owned());
        }
        if self.messages.is_empty() || self.messages.len() > MAX_MESSAGES {
            return bad(format!("1 to {MAX_MESSAGES} messages are allowed"));
        }
        if let Some(message) = self.messages.iter().find(|message| message.role != "system" && message.role != "user") {
            return bad(format!("unknown message role {:?}", message.role));
        }
        if !self.messages.iter().any(|message| message.role == "user") {
            return bad("a user message is required".to_owned());
        }
        let sampling = &self.sampling;
        let sane = (0.0..=2.0).contains(&sampling.temperature)
            && sampling.top_p > 0.0
            && sampling.top_p <= 1.0
            && (0.0..1.0).contains(&sampling.min_p)
            && (1.0..=2.0).contains(&sampling.repeat_penalty)
            && sampling.top_k <= 1000
            && sampling.max_tokens >= 1;
        if !sane {
            return bad("sampling settings out of range".to_owned());
        }
        if self.deadline_ms == 0 {
            return bad("deadline must be positive".to_owned());
        }
        if !(16..=64).contains(&self.nonce.len()) || !self.nonce.bytes().all(|b| b.is_ascii_hexdigit()) {
            return bad("nonce must be 16 to 64 hex digits".to_owned());
        }
        Ok(())
    }

    /// The system message, if any.
    #[must_use]
    pub fn system(&self) -> &str {
        self.messages.iter().find(|message| message.role == "system").map_or("", |message| message.content.as_str())
    }

    /// The user messages joined.
    #[must_use]
    pub fn user(&self) -> String {
        let parts: Vec<&str> = self
            .messages
            .iter()
            .filter(|message| message.role == "user")
            .map(|message| message.content.as_str())
            .collect();
        parts.join("\n\n")
    }
}

/// Why a task failed: stable codes the requester branches on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum TaskErrorCode {
    /// Every slot and the waiting line are full; try another peer.
    Busy,
    /// The peer does not serve this specialist.
    UnknownSpecialist,
    /// The request broke the protocol or its limits.
    BadRequest,
    /// The request or a frame was larger than allowed.
    TooLarge,
    /// The deadline passed (or a frame was too slow to arrive).
    OverDeadline,
    /// The owner's limits say no now (not idle, not charging, off).
    NotServing,
    /// Too many requests from this peer.
    RateLimited,
    /// The generation failed on the peer.
    Internal,
    /// The connection broke before the task finished.
    Disconnected,
    /// The answer did not follow the protocol (bad frame, bad receipt).
    Protocol,
    /// A code this node does not know (a newer peer's): treated as a
    /// failure of the peer, like `internal`.
    #[serde(other)]
    Unknown,
}

impl TaskErrorCode {
    /// The code as it appears on the wire and in events.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Busy => "busy",
            Self::UnknownSpecialist => "unknown_specialist",
            Self::BadRequest => "bad_request",
            Self::TooLarge => "too_large",
            Self::OverDeadline => "over_deadline",
            Self::NotServing => "not_serving",
            Self::RateLimited => "rate_limited",
            Self::Internal => "internal",
            Self::Disconnected => "disconnected",
            Self::Protocol => "protocol",
            Self::Unknown => "unknown",
        }
    }
}

/// A typed task error.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{}: {message}", code.as_str())]
pub struct TaskError {
    /// What kind of failure.
    pub code: TaskErrorCode,
    /// Details for people.
    pub message: String,
}

impl TaskError {
    /// A new error.
    #[must_use]
    pub fn new(code: TaskErrorCode, message: impl Into<String>) -> Self {
        Self { code, message: message.into() }
    }
}

/// The record that ends a successful task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskSummary {
    /// Tokens in the prompt.
    pub prompt_tokens: u32,
    /// Tokens generated.
    pub tokens: u32,
    /// Milliseconds from the request to the first token, on the executor.
    pub first_token_ms: u64,
    /// Milliseconds the whole task took, on the executor.
    pub total_ms: u64,
}

/// One frame of a task's answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "frame", rename_all = "snake_case")]
pub enum TaskFrame {
    /// Admitted but waiting for a slot.
    Waiting,
    /// More text.
    Token {
        /// The text.
        text: String,
    },
    /// Finished: timings and the executor's signed receipt.
    Done {
        /// Token counts and timings.
        summary: TaskSummary,
        /// The receipt.
        receipt: Receipt,
    },
    /// Failed.
    Error {
        /// Why.
        error: TaskError,
    },
}

/// A signed receipt for one task (signed and checked in `receipt.rs`:
/// [`Receipt::sign`], [`Receipt::verify`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Receipt {
    /// The executor's peer id.
    pub executor: String,
    /// The requester's peer id.
    pub requester: String,
    /// Hex sha256 of the request as JSON.
    pub request_hash: String,
    /// Hex sha256 of the whole result text.
    pub result_hash: String,
    /// Tokens generated.
    pub tokens: u32,
    /// Hex of the executor's public key (libp2p protobuf encoding).
    pub public_key: String,
    /// Hex Ed25519 signature over [`Receipt::signed_bytes`].
    pub signature: String,
}

/// Writes one length-prefixed JSON frame.
///
/// # Errors
/// I/O errors, or `InvalidInput` when the frame is larger than `limit`.
pub async fn write_frame<W, T>(writer: &mut W, value: &T, limit: usize) -> std::io::Result<()>
where
    W: AsyncWrite + Unpin,
    T: Serialize,
{
    let body = serde_json::to_vec(value).map_err(std::io::Error::other)?;
    write_frame_bytes(writer, &body, limit).await
}

/// Why a frame could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FrameError {
    /// The stream ended cleanly before a frame began.
    #[error("the stream ended")]
    Closed,
    /// The frame announced more bytes than the limit.
    #[error("frame of {length} bytes is over the {limit}-byte limit")]
    TooLarge {
        /// Announced length.
        length: usize,
        /// The limit.
        limit: usize,
    },
    /// The body was not the expected JSON.
    #[error("malformed frame: {0}")]
    Malformed(String),
    /// The connection failed.
    #[error("connection: {0}")]
    Io(#[from] std::io::Error),
}

/// Reads one length-prefixed JSON frame of at most `limit` bytes.
///
/// # Errors
/// [`FrameError`].
pub async fn read_frame<R, T>(reader: &mut R, limit: usize) -> Result<T, FrameError>
where
    R: AsyncRead + Unpin,
    T: for<'de> Deserialize<'de>,
{
    let body = read_frame_bytes(reader, limit).await?;
    serde_json::from_slice(&body).map_err(|error| FrameError::Malformed(error.to_string()))
}

/// Writes one length-prefixed frame of bytes already encoded.
///
/// # Errors
/// I/O errors, or `InvalidInput` when the frame is larger than `limit`.
pub async fn write_frame_bytes<W>(writer: &mut W, body: &[u8], limit: usize) -> std::io::Result<()>
where
    W: AsyncWrite + Unpin,
{
    if body.len() > limit {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("frame of {} bytes is over the {limit}-byte limit", body.len()),
        ));
    }
    let length = u32::try_from(body.len()).map_err(std::io::Error::other)?;
    writer.write_all(&length.to_be_bytes()).await?;
    writer.write_all(body).await?;
    writer.flush().await
}

/// Reads one length-prefixed frame of at most `limit` bytes, as bytes.
///
/// # Errors
/// [`FrameError`] (never `Malformed`).
pub async fn read_frame_bytes<R>(reader: &mut R, limit: usize) -> Result<Vec<u8>, FrameError>
where
    R: AsyncRead + Unpin,
{
    let mut length = [0_u8; 4];
    let mut filled = 0;
    while filled < 4 {
        let read = reader.read(&mut length[filled..]).await?;
        if read == 0 {
            return Err(if filled == 0 {
                FrameError::Closed
            } else {
                FrameError::Io(std::io::ErrorKind::UnexpectedEof.into())
            });
        }
        filled += read;
    }
    let length = u32::from_be_bytes(length) as usize;
    if length > limit {
        return Err(FrameError::TooLarge { length, limit });
    }
    let mut body = vec![0_u8; length];
    reader.read_exact(&mut body).await?;
    Ok(body)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn request() -> TaskRequest {
        TaskRequest {
            version: PROTOCOL_VERSION,
            specialist: "general.assistant".to_owned(),
            messages: vec![ChatMessage { role: "user".to_owned(), content: "hi".to_owned() }],
            sampling: Sampling {
                temperature: 0.7,
                top_k: 40,
                top_p: 0.9,
                min_p: 0.05,
                repeat_penalty: 1.1,
                max_tokens: 64,
                seed: 1,
            },
            deadline_ms: 1000,
            nonce: "00112233445566778899aabbccddeeff".to_owned(),
        }
    }

    #[test]
    fn validation_names_the_problem() {
        assert!(request().validate().is_ok());
        type Change = Box<dyn Fn(&mut TaskRequest)>;
        let cases: Vec<(&str, Change)> = vec![
            ("version", Box::new(|r| r.version = 9)),
            ("specialist", Box::new(|r| r.specialist.clear())),
            ("messages", Box::new(|r| r.messages.clear())),
            ("role", Box::new(|r| r.messages[0].role = "tool".to_owned())),
            ("sampling", Box::new(|r| r.sampling.temperature = 9.0)),
            ("deadline", Box::new(|r| r.deadline_ms = 0)),
            ("no nonce", Box::new(|r| r.nonce.clear())),
            ("short nonce", Box::new(|r| r.nonce = "abc".to_owned())),
            ("nonce not hex", Box::new(|r| r.nonce = "z".repeat(32))),
        ];
        for (what, change) in cases {
            let mut bad = request();
            change(&mut bad);
            let error = bad.validate().unwrap_err();
            assert_eq!(error.code, TaskErrorCode::BadRequest, "{what}");
        }
    }

    #[test]
    fn a_status_beyond_any_device_breaks_the_protocol() {
        let honest = PeerStatus { free_slots: 2, total_slots: 4, tokens_per_s: 130.0, ..PeerStatus::default() };
        assert_eq!(honest.fault(), None);
        assert_eq!(PeerStatus { tokens_per_s: MAX_STATUS_TOKENS_PER_S, ..honest.clone() }.fault(), None);
        for (what, bad) in [
            ("a million tokens a second", PeerStatus { tokens_per_s: 1.0e6, ..honest.clone() }),
            ("not a number", PeerStatus { tokens_per_s: f32::NAN, ..honest.clone() }),
            ("infinite", PeerStatus { tokens_per_s: f32::INFINITY, ..honest.clone() }),
            ("negative", PeerStatus { tokens_per_s: -1.0, ..honest.clone() }),
            ("more free than in all", PeerStatus { free_slots: 5, ..honest.clone() }),
            ("slots beyond the limit", PeerStatus { free_slots: 0, total_slots: 4096, ..honest.clone() }),
        ] {
            assert!(bad.fault().is_some(), "{what}");
        }
    }

    #[test]
    fn an_error_code_this_node_does_not_know_is_read_not_refused() {
        let frame: TaskFrame =
            serde_json::from_str(r#"{"frame":"error","error":{"code":"quota_exceeded","message":"later"}}"#).unwrap();
        assert_eq!(frame, TaskFrame::Error { error: TaskError::new(TaskErrorCode::Unknown, "later") });
    }

    #[test]
    fn a_field_this_node_does_not_know_is_ignored() {
        // A newer peer's optional field: not a bad request.
        let mut json = serde_json::to_value(request()).unwrap();
        json["priority"] = serde_json::json!("high");
        let parsed: TaskRequest = serde_json::from_value(json).unwrap();
        assert_eq!(parsed, request());
        assert!(parsed.validate().is_ok());
    }

    #[tokio::test]
    async fn frames_round_trip_and_limits_hold() {
        let mut buffer = Vec::new();
        write_frame(&mut buffer, &request(), MAX_REQUEST_BYTES).await.unwrap();
        let back: TaskRequest = read_frame(&mut buffer.as_slice(), MAX_REQUEST_BYTES).await.unwrap();
        assert_eq!(back, request());
        let error = read_frame::<_, TaskRequest>(&mut buffer.as_slice(), 10).await.unwrap_err();
        assert!(matches!(error, FrameError::TooLarge { limit: 10, .. }));
        let mut garbage = 5_u32.to_be_bytes().to_vec();
        garbage.extend_from_slice(b"{nope");
        let error = read_frame::<_, TaskRequest>(&mut garbage.as_slice(), 100).await.unwrap_err();
        assert!(matches!(error, FrameError::Malformed(_)));
        let error = read_frame::<_, TaskRequest>(&mut &b""[..], 100).await.unwrap_err();
        assert!(matches!(error, FrameError::Closed));
        let mut big = request();
        big.messages[0].content = "x".repeat(MAX_REQUEST_BYTES);
        assert!(write_frame(&mut Vec::new(), &big, MAX_REQUEST_BYTES).await.is_err());
    }
}
