//! "Local API for other apps": `chorus-api`'s OpenAI-compatible server (the
//! README's `chorus api`) inside the app, on loopback, while the setting
//! `local_api` is on. It serves the app's own node, so the conductor
//! (`chorus`) follows the privacy setting: on-device only unless the node is
//! on the network.

use std::net::{Ipv4Addr, SocketAddr};

use chorus_api::{ApiConfig, ApiServer, NodeSwap, StartError};
use chorus_node::{CancellationToken, Node};
use serde::Serialize;

/// The address it asks for first: the `chorus api` default.
const PREFERRED: SocketAddr = SocketAddr::new(std::net::IpAddr::V4(Ipv4Addr::LOCALHOST), 11435);

/// What the `local_api` command returns (ui/COMMANDS.md, `LocalApiInfo`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub(crate) struct LocalApiInfo {
    /// The setting.
    pub(crate) enabled: bool,
    /// Whether the server is serving.
    pub(crate) running: bool,
    /// Its base URL (`http://127.0.0.1:11435/v1`), while it runs.
    pub(crate) url: Option<String>,
    /// The bearer key clients send, while it runs.
    pub(crate) key: Option<String>,
    /// Why it could not start, if it could not.
    pub(crate) error: Option<String>,
}

/// A server that runs.
struct Serving {
    url: String,
    key: String,
    swap: NodeSwap,
    stop: CancellationToken,
}

/// The server, when it runs, or why it does not.
#[derive(Default)]
pub(crate) struct LocalApi {
    inner: tokio::sync::Mutex<(Option<Serving>, Option<String>)>,
}

impl LocalApi {
    /// Starts or stops the server as `wanted` says; while it runs, later
    /// requests go to `node` as it is now (it may have joined or left the
    /// network since the server started). A failure to start is kept for
    /// [`LocalApi::info`], not returned: the other settings still apply.
    pub(crate) async fn apply(&self, wanted: bool, node: Option<&Node>) {
        let mut inner = self.inner.lock().await;
        let (serving, error) = &mut *inner;
        match (wanted, serving.as_ref(), node) {
            (true, Some(running), Some(node)) => running.swap.set(node.clone()),
            (true, None, Some(node)) => match start(node).await {
                Ok(started) => {
                    tracing::info!(url = %started.url, "the local API serves other apps on this device");
                    *serving = Some(started);
                    *error = None;
                }
                Err(message) => {
                    tracing::warn!(%message, "the local API could not start");
                    *error = Some(message);
                }
            },
            (true, _, None) => *error = Some("the node did not start, so there is nothing to serve".to_owned()),
            (false, _, _) => {
                if let Some(running) = serving.take() {
                    running.stop.cancel();
                    tracing::info!("the local API stopped");
                }
                *error = None;
            }
        }
    }

    /// Where the server stands.
    pub(crate) async fn info(&self, enabled: bool) -> LocalApiInfo {
        let inner = self.inner.lock().await;
        let (serving, error) = &*inner;
        LocalApiInfo {
            enabled,
            running: serving.is_some(),
            url: serving.as_ref().map(|serving| serving.url.clone()),
            key: serving.as_ref().map(|serving| serving.key.clone()),
            error: error.clone(),
        }
    }
}

/// Binds port 11435 on loopback, or any free port there when another
/// program holds it, and serves until stopped.
async fn start(node: &Node) -> Result<Serving, String> {
    let config = |listen| ApiConfig { listen, ..ApiConfig::default() };
    let server = match ApiServer::bind(node.clone(), config(PREFERRED)).await {
        Err(StartError::Bind { address, source }) if source.kind() == std::io::ErrorKind::AddrInUse => {
            tracing::info!(%address, "taken: the local API takes another port");
            ApiServer::bind(node.clone(), config(SocketAddr::new(PREFERRED.ip(), 0))).await
        }
        other => other,
    }
    .map_err(|error| error.to_string())?;
    let (key, _) = chorus_api::load_or_create_key(node.data_dir()).map_err(|error| error.to_string())?;
    let stop = CancellationToken::new();
    let serving = Serving { url: server.url(), key, swap: server.node_swap(), stop: stop.clone() };
    tauri::async_runtime::spawn(async move {
        if let Err(error) = server.run(stop.cancelled_owned()).await {
            tracing::error!(%error, "the local API stopped with an error");
        }
    });
    Ok(serving)
}
