//! `chorus api`: the OpenAI-compatible HTTP server (`chorus-api`) over this
//! device's node, until interrupted.

use std::net::{SocketAddr, ToSocketAddrs as _};
use std::time::Duration;

use chorus_api::{ApiConfig, ApiServer, StartError};
use clap::Args;

use crate::conduct::UsageError;
use crate::network::NetArgs;

/// `chorus api`.
#[derive(Debug, Args)]
pub(crate) struct ApiArgs {
    /// Address and port to serve on; port 0 picks a free one.
    #[arg(long, default_value = chorus_api::DEFAULT_LISTEN, value_name = "ADDR:PORT")]
    listen: String,
    /// Print one JSON line once listening:
    /// `{"event":"listening","url":"http://…/v1","key_file":"…"}`.
    #[arg(long)]
    json: bool,
    /// Accept requests without the key (loopback addresses only).
    #[arg(long)]
    no_auth: bool,
    /// Generations at once (the conductor's and specialists' together);
    /// one more is answered 429.
    #[arg(long, default_value_t = chorus_api::DEFAULT_SLOTS)]
    slots: usize,
    /// A web origin whose pages may call the API from a browser
    /// (`http://localhost:3000`; repeatable). Without it no CORS headers
    /// are sent, so pages of other origins cannot.
    #[arg(long, value_name = "ORIGIN")]
    cors: Vec<String>,
    /// Let the conductor (`chorus`) run sub-tasks on peers (default:
    /// on-device only; the network is not even started).
    #[arg(long)]
    network: bool,
    /// With --network: a peer to join through, `/ip4/…/tcp/…/p2p/<peer id>`
    /// (repeatable; also $CHORUS_BOOTSTRAP, comma-separated).
    #[arg(long, requires = "network")]
    bootstrap: Vec<String>,
    /// With --network: a multiaddr to listen on for peers (repeatable;
    /// default: every interface, TCP and QUIC, ports chosen by the system).
    #[arg(long, requires = "network", value_name = "MULTIADDR")]
    p2p_listen: Vec<String>,
    /// With --network: do not look for peers on the local network (mDNS).
    #[arg(long, requires = "network")]
    no_mdns: bool,
    /// Specialists this device runs itself, comma-separated, or `none` to
    /// leave every sub-task of `chorus` to peers (default: all it can);
    /// only these are listed as models of their own.
    #[arg(long, value_delimiter = ',')]
    local_specialists: Vec<String>,
}

/// `ADDR:PORT`, or `localhost:PORT`.
fn listen_address(text: &str) -> anyhow::Result<SocketAddr> {
    if let Ok(address) = text.trim().parse::<SocketAddr>() {
        return Ok(address);
    }
    text.trim()
        .to_socket_addrs()
        .ok()
        .and_then(|mut addresses| addresses.next())
        .ok_or_else(|| UsageError(format!("--listen {text:?} is not ADDR:PORT")).into())
}

pub(crate) fn run(globals: &crate::Globals, model: &crate::ModelArgs, args: ApiArgs) -> anyhow::Result<()> {
    let listen = listen_address(&args.listen)?;
    if args.no_auth && !listen.ip().is_loopback() {
        return Err(UsageError(format!(
            "--no-auth is only allowed on a loopback address (127.0.0.1, ::1), not {listen}: anyone who reaches it could use this device"
        ))
        .into());
    }
    if args.slots == 0 {
        return Err(UsageError("--slots must be at least 1".to_owned()).into());
    }
    let mut config = crate::node_config(globals, model);
    config.local_specialists = crate::local_specialists(&args.local_specialists);
    let node = crate::start_with(config)?;
    crate::runtime()?.block_on(async move {
        if args.network {
            let net = NetArgs::for_api(args.bootstrap, args.p2p_listen, args.no_mdns);
            node.join_network(net.settings()?).await?;
            crate::network::wait_for_a_peer(&node, Duration::from_secs(5)).await?;
        }
        let config =
            ApiConfig { listen, auth: !args.no_auth, slots: args.slots, cors: args.cors, ..ApiConfig::default() };
        let server = ApiServer::bind(node.clone(), config).await.map_err(|error| match error {
            StartError::Cors(_) => anyhow::Error::new(UsageError(format!("--cors {error}"))),
            other => other.into(),
        })?;
        let key_file = server.key_file().map(|path| path.display().to_string());
        if args.json {
            println!("{}", serde_json::json!({"event": "listening", "url": server.url(), "key_file": key_file}));
        } else {
            println!("OpenAI-compatible API at {}", server.url());
            match &key_file {
                Some(path) => println!("key: {path} (send it as `Authorization: Bearer <key>`)"),
                None => println!("no key required (--no-auth)"),
            }
        }
        server.run(shutdown()).await?;
        if let Some(network) = node.network() {
            network.shutdown();
        }
        Ok(())
    })
}

/// Ctrl-C or SIGTERM.
async fn shutdown() {
    match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(mut terminate) => {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = terminate.recv() => {}
            }
        }
        Err(error) => {
            tracing::warn!(%error, "no SIGTERM handler: Ctrl-C only");
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
