//! `chorus api`: an OpenAI-compatible HTTP server over a running Chorus
//! [`Node`](chorus_node::Node), so editors, notebooks, chat front ends and
//! agent frameworks that speak OpenAI's chat API can use Chorus as a model.
//!
//! * `GET /health` (no key): `ready` or `loading`.
//! * `GET /v1/models`, `GET /v1/models/{id}`: `chorus` (the conductor) and
//!   each specialist that runs on this device.
//! * `POST /v1/chat/completions`: streamed (server-sent events) or not;
//!   `chorus` goes through the conductor, a specialist id straight to that
//!   specialist with the whole conversation.
//!
//! Every `/v1` route needs `Authorization: Bearer <key>`, the key of
//! `<data-dir>/api.key` (made on first start, mode 0600), unless the
//! server runs without auth (loopback only). Errors come in OpenAI's
//! envelope, `{"error": {"message", "type", "param", "code"}}`.
//!
//! Dependencies added for this crate: `axum` (the HTTP server, on hyper
//! and tokio), `async-openai` with only its `chat-completion-types` and
//! `model-types` features (OpenAI's request and response types as serde
//! structs, without its HTTP client), `getrandom` (the key's random bytes).
//!
//! ```no_run
//! use chorus_api::{ApiConfig, ApiServer};
//! use chorus_node::{Node, NodeConfig};
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let node = Node::start(NodeConfig::default())?;
//! let server = ApiServer::bind(node, ApiConfig::default()).await?;
//! println!("{} (key in {:?})", server.url(), server.key_file());
//! server.run(async { let _ = tokio::signal::ctrl_c().await; }).await?;
//! # Ok(())
//! # }
//! ```

mod conductor;
mod error;
mod http;
mod key;
mod request;
mod response;
mod server;
mod specialist;
mod state;

pub use error::ApiError;
pub use key::{KEY_FILE, KeyError, load_or_create as load_or_create_key};
pub use request::CONDUCTOR_MODEL;
pub use server::{ApiConfig, ApiServer, DEFAULT_BODY_LIMIT, DEFAULT_LISTEN, DEFAULT_SLOTS, NodeSwap, StartError};
