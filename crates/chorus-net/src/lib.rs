//! The Chorus peer-to-peer network, on rust-libp2p.
//!
//! One task owns the libp2p `Swarm` ([`Network::start`]); the rest of Chorus
//! holds a cloneable [`Network`] handle. The node runs TCP and QUIC with
//! Noise and Yamux, its own Kademlia DHT (`/chorus/kad/1.0.0`, a provider
//! key per specialist, see [`specialist_key`]), identify, ping, mDNS,
//! AutoNAT, the relay client with DCUtR and optionally a relay server; the
//! memory transport runs the same code for simulations.
//!
//! Two Chorus protocols ride on it: `/chorus/status/1` (request-response,
//! a peer's live [`PeerStatus`]) and `/chorus/task/1` (one stream per
//! inference: a [`TaskRequest`], then [`TaskFrame`]s as tokens are
//! generated, ending with a signed [`Receipt`]).
//!
//! chorus-net knows nothing of models: the executor side is a
//! [`TaskService`] that chorus-node implements.

mod behaviour;
mod client;
mod config;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
mod identity;
mod ip_limits;
mod key;
mod limits;
mod network;
mod receipt;
mod server;
mod store;
mod streams;
mod wire;

pub use client::{OPEN_TIMEOUT, RemoteEvent, RemoteTask};
pub use config::{NetConfig, TransportKind};
pub use identity::{
    IdentityError, KEY_FILE, REQUESTER_KEY_FILE, load_or_create as load_or_create_identity, requester_identity,
    rotation_due,
};
pub use key::specialist_key;
pub use libp2p::identity::Keypair;
pub use libp2p::{Multiaddr, PeerId, Stream};
pub use network::{NetError, Network, PeerInfo, ProviderLookup, Reachability};
pub use receipt::{ReceiptError, request_hash, result_hash};
pub use server::{MAX_TASK_STREAMS_PER_PEER, REQUEST_READ_TIMEOUT, ServiceEvent, TaskService};
pub use store::{MAX_KEYS_PER_PROVIDER, MAX_OTHER_RECORDS, MAX_OWN_KEYS, MAX_PROVIDERS_PER_KEY};
pub use wire::{
    ChatMessage, DeviceClass, FrameError, KAD_PROTOCOL, MAX_MESSAGES, MAX_REQUEST_BYTES, MAX_RESPONSE_FRAME_BYTES,
    MAX_RESULT_BYTES, MAX_STATUS_BYTES, MAX_STATUS_REQUEST_BYTES, MAX_STATUS_SLOTS, MAX_STATUS_TOKENS_PER_S,
    PROTOCOL_VERSION, PeerStatus, Receipt, STATUS_PROTOCOL, Sampling, StatusRequest, TASK_PROTOCOL, TaskError,
    TaskErrorCode, TaskFrame, TaskRequest, TaskSummary, read_frame, read_frame_bytes, write_frame, write_frame_bytes,
};
