//! The HTTP server: routes, the key check, limits, start and shutdown.

use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_openai::types::models::{ListModelResponse, Model};
use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{HeaderValue, Method, StatusCode, Uri, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chorus_node::Node;
use tower_http::cors::{AllowOrigin, CorsLayer};

use crate::error::ApiError;
use crate::http::json_response;
use crate::key::KeyError;
use crate::request::{self, CONDUCTOR_MODEL};
use crate::state::{Readiness, Shared};

/// How `chorus api` serves.
#[derive(Debug, Clone)]
pub struct ApiConfig {
    /// The address to listen on; port 0 picks a free one.
    pub listen: SocketAddr,
    /// Require the bearer key of `<data-dir>/api.key` (false is
    /// `--no-auth`, refused on an address other than loopback).
    pub auth: bool,
    /// Generations at once; one more is answered 429.
    pub slots: usize,
    /// Largest request body in bytes; a larger one is answered 413.
    pub body_limit: usize,
    /// Web origins (`http://localhost:3000`) whose pages may call the API
    /// from a browser (CORS); none by default, so no page of another
    /// origin can.
    pub cors: Vec<String>,
}

/// The default address: loopback, port 11435 (Ollama's is 11434).
pub const DEFAULT_LISTEN: &str = "127.0.0.1:11435";

/// Generations at once by default: the engine's parallel sequences per model.
pub const DEFAULT_SLOTS: usize = 4;

/// The largest request body by default: 1 MiB.
pub const DEFAULT_BODY_LIMIT: usize = 1 << 20;

impl Default for ApiConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 11435)),
            auth: true,
            slots: DEFAULT_SLOTS,
            body_limit: DEFAULT_BODY_LIMIT,
            cors: Vec::new(),
        }
    }
}

/// Why the server did not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// `--no-auth` on an address other people can reach.
    #[error("--no-auth is only allowed on a loopback address (127.0.0.1, ::1), not {0}")]
    NoAuthNotLoopback(SocketAddr),
    /// No generation slots.
    #[error("slots must be at least 1")]
    NoSlots,
    /// The key file.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// A `cors` entry that is not a web origin.
    #[error("{0:?} is not a web origin such as http://localhost:3000 (scheme, host and port only)")]
    Cors(String),
    /// The address could not be bound.
    #[error("cannot listen on {address}: {source}")]
    Bind {
        /// The address.
        address: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
}

/// A bound server, not yet serving: its URL and key file are known, so a
/// shell can print them before [`ApiServer::run`].
#[derive(Debug)]
pub struct ApiServer {
    listener: tokio::net::TcpListener,
    shared: Arc<Shared>,
    local: SocketAddr,
    key_file: Option<PathBuf>,
    cors: Arc<Vec<HeaderValue>>,
}

/// See [`ApiServer::node_swap`].
#[derive(Debug, Clone)]
pub struct NodeSwap(Arc<Shared>);

impl NodeSwap {
    /// Requests from now on go to `node`; those under way finish where
    /// they started.
    pub fn set(&self, node: Node) {
        self.0.set_node(node);
    }
}

impl ApiServer {
    /// Binds `config.listen`, makes or reads the key, and starts loading
    /// the default model on a thread of its own (`/health` says `loading`
    /// until it is in). Must be called inside a tokio runtime.
    ///
    /// # Errors
    /// [`StartError`].
    pub async fn bind(node: Node, config: ApiConfig) -> Result<Self, StartError> {
        if !config.auth && !config.listen.ip().is_loopback() {
            return Err(StartError::NoAuthNotLoopback(config.listen));
        }
        if config.slots == 0 {
            return Err(StartError::NoSlots);
        }
        let cors = config.cors.iter().map(|origin| cors_origin(origin)).collect::<Result<Vec<_>, _>>()?;
        let (key, key_file) = if config.auth {
            let (key, path) = crate::key::load_or_create(node.data_dir())?;
            (Some(key), Some(path))
        } else {
            (None, None)
        };
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .map_err(|source| StartError::Bind { address: config.listen, source })?;
        let local = listener.local_addr().map_err(|source| StartError::Bind { address: config.listen, source })?;
        let shared = Arc::new(Shared::new(node, key, config.slots, config.body_limit));
        let cors = Arc::new(cors);
        let loading = Arc::clone(&shared);
        tokio::task::spawn_blocking(move || match loading.node().default_model() {
            Ok(_) => loading.set_readiness(Readiness::Ready),
            Err(error) => {
                tracing::error!(%error, "the default model could not be loaded");
                loading.set_readiness(Readiness::Failed(error.to_string()));
            }
        });
        Ok(Self { listener, shared, local, key_file, cors })
    }

    /// The address it listens on.
    #[must_use]
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// The base URL clients use: `http://ADDR:PORT/v1` (an unspecified
    /// address such as 0.0.0.0 shown as loopback).
    #[must_use]
    pub fn url(&self) -> String {
        let mut shown = self.local;
        if shown.ip().is_unspecified() {
            shown.set_ip(if shown.is_ipv4() {
                std::net::Ipv4Addr::LOCALHOST.into()
            } else {
                std::net::Ipv6Addr::LOCALHOST.into()
            });
        }
        format!("http://{shown}/v1")
    }

    /// A handle that points later requests at another node: a shell whose
    /// node joins or leaves the network passes the node as it now is (a
    /// clone of a node keeps the network it had when cloned).
    #[must_use]
    pub fn node_swap(&self) -> NodeSwap {
        NodeSwap(Arc::clone(&self.shared))
    }

    /// The key file, unless `--no-auth`.
    #[must_use]
    pub fn key_file(&self) -> Option<&Path> {
        self.key_file.as_deref()
    }

    /// Serves until `shutdown` completes, then stops taking connections
    /// and waits for the requests under way.
    ///
    /// # Errors
    /// An I/O error of the listener.
    pub async fn run(self, shutdown: impl Future<Output = ()> + Send + 'static) -> std::io::Result<()> {
        let mut routes = router(self.shared);
        if !self.cors.is_empty() {
            // Outermost: a preflight (OPTIONS, no key) is answered here.
            routes = routes.layer(
                CorsLayer::new()
                    .allow_origin(AllowOrigin::list(self.cors.iter().cloned()))
                    .allow_methods([Method::GET, Method::POST])
                    .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE]),
            );
        }
        axum::serve(self.listener, routes).with_graceful_shutdown(shutdown).await
    }
}

/// A web origin as a header value: `scheme://host[:port]`, nothing after.
fn cors_origin(text: &str) -> Result<HeaderValue, StartError> {
    let origin = text.trim().trim_end_matches('/');
    let valid = origin.split_once("://").is_some_and(|(scheme, rest)| {
        matches!(scheme, "http" | "https") && !rest.is_empty() && !rest.contains(['/', '?', '#', '@', ' '])
    });
    if !valid {
        return Err(StartError::Cors(text.to_owned()));
    }
    HeaderValue::from_str(origin).map_err(|_| StartError::Cors(text.to_owned()))
}

/// Every route.
fn router(shared: Arc<Shared>) -> Router {
    let limit = shared.body_limit;
    let v1 = Router::new()
        .route("/v1/models", get(models))
        .route("/v1/models/{id}", get(model))
        .route("/v1/chat/completions", post(chat))
        .route_layer(axum::middleware::from_fn_with_state(Arc::clone(&shared), authorise));
    Router::new()
        .route("/health", get(health))
        .merge(v1)
        .fallback(unknown_route)
        .method_not_allowed_fallback(wrong_method)
        .layer(DefaultBodyLimit::max(limit))
        .with_state(shared)
}

/// The bearer key check of every `/v1` route.
async fn authorise(State(shared): State<Arc<Shared>>, request: Request, next: Next) -> Response {
    if let Some(key) = &shared.key {
        let given = request
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.strip_prefix("Bearer ").or_else(|| value.strip_prefix("bearer ")))
            .map(str::trim);
        if !given.is_some_and(|given| crate::key::same(given.as_bytes(), key.as_bytes())) {
            return ApiError::unauthorized().into_response();
        }
    }
    next.run(request).await
}

async fn health(State(shared): State<Arc<Shared>>) -> Response {
    let (status, code) = match shared.readiness() {
        Readiness::Ready => ("ready", StatusCode::OK),
        Readiness::Loading => ("loading", StatusCode::SERVICE_UNAVAILABLE),
        Readiness::Failed(_) => ("failed", StatusCode::SERVICE_UNAVAILABLE),
    };
    let semantic = shared.node().wait_for_semantic_routing(std::time::Duration::ZERO);
    let body = serde_json::json!({
        "status": status,
        "slots": shared.max_slots,
        "free_slots": shared.free_slots(),
        "semantic_routing": if semantic { "ready" } else { "keywords" },
    });
    (code, json_response(body.to_string())).into_response()
}

/// `chorus` and the specialists that run on this device.
fn model_list(shared: &Shared) -> Vec<Model> {
    let entry = |id: &str| Model {
        id: id.to_owned(),
        object: "model".to_owned(),
        created: shared.started,
        owned_by: "chorus".to_owned(),
        shutdown_date: None,
    };
    std::iter::once(entry(CONDUCTOR_MODEL))
        .chain(shared.node().local_specialists().iter().map(|specialist| entry(&specialist.id)))
        .collect()
}

async fn models(State(shared): State<Arc<Shared>>) -> Response {
    let list = ListModelResponse { object: "list".to_owned(), data: model_list(&shared) };
    json_response(serde_json::to_string(&list).unwrap_or_default())
}

async fn model(State(shared): State<Arc<Shared>>, axum::extract::Path(id): axum::extract::Path<String>) -> Response {
    match model_list(&shared).into_iter().find(|model| model.id == id) {
        Some(model) => json_response(serde_json::to_string(&model).unwrap_or_default()),
        None => ApiError::unknown_model(&id).into_response(),
    }
}

async fn chat(State(shared): State<Arc<Shared>>, body: Result<Bytes, BytesRejection>) -> Response {
    match answer(shared, body).await {
        Ok(response) => response,
        Err(error) => error.into_response(),
    }
}

async fn answer(shared: Arc<Shared>, body: Result<Bytes, BytesRejection>) -> Result<Response, ApiError> {
    let body = body.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::too_large(shared.body_limit)
        } else {
            ApiError::bad_json(rejection.body_text())
        }
    })?;
    let plan = request::plan(request::parse(&body)?)?;
    let conductor = plan.model == CONDUCTOR_MODEL;
    if !conductor && !crate::specialist::runs_here(&shared, &plan.model) {
        return Err(ApiError::unknown_model(&plan.model));
    }
    shared.ready()?;
    let slot = shared.slot()?;
    if conductor {
        crate::conductor::respond(shared, plan, slot).await
    } else {
        crate::specialist::respond(shared, plan, slot).await
    }
}

async fn unknown_route(method: Method, uri: Uri) -> Response {
    ApiError::unknown_route(method.as_str(), uri.path()).into_response()
}

async fn wrong_method(method: Method, uri: Uri) -> Response {
    ApiError::method_not_allowed(method.as_str(), uri.path()).into_response()
}

#[cfg(test)]
mod tests {
    use super::cors_origin;

    #[test]
    fn cors_takes_web_origins_only() {
        assert_eq!(cors_origin("http://localhost:3000").unwrap(), "http://localhost:3000");
        assert_eq!(cors_origin(" https://chat.example.org/ ").unwrap(), "https://chat.example.org");
        for wrong in ["localhost:3000", "ftp://host", "http://", "http://host/path", "http://a b", "*", "http://u@host"]
        {
            assert!(cors_origin(wrong).is_err(), "{wrong} is not an origin");
        }
    }
}
