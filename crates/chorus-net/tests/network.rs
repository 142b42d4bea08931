//! Real libp2p nodes over the memory transport and TCP loopback: discovery
//! through a bootstrap peer, status probes, the task protocol and its
//! errors. The executor here is a small word-echo service, because this
//! crate knows no models; the tests on the real model live in chorus-node.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chorus_net::{
    ChatMessage, Keypair, Multiaddr, NetConfig, Network, PROTOCOL_VERSION, PeerId, PeerStatus, RemoteEvent, Sampling,
    ServiceEvent, TaskError, TaskErrorCode, TaskRequest, TaskService,
};
use futures::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::sync::{mpsc, oneshot};

/// Echoes the prompt word by word, one word per `delay`.
struct Echo {
    /// Holds the next task started after its first word (see [`Echo::hold_next`]).
    hold: Mutex<Option<oneshot::Receiver<()>>>,
    specialists: Vec<String>,
    slots: u32,
    running: Arc<AtomicU32>,
    cancelled: Arc<AtomicU32>,
    completed: Arc<AtomicU32>,
    /// Tokens charged to requesters that went away.
    abandoned: Arc<AtomicU32>,
    delay: Duration,
}

impl Echo {
    fn new(specialists: &[&str], slots: u32, delay: Duration) -> Arc<Self> {
        Arc::new(Self {
            hold: Mutex::new(None),
            specialists: specialists.iter().map(|s| (*s).to_owned()).collect(),
            slots,
            running: Arc::default(),
            cancelled: Arc::default(),
            completed: Arc::default(),
            abandoned: Arc::default(),
            delay,
        })
    }

    /// The next task started stops after its first word until the returned
    /// sender fires (or is dropped), or until its requester goes away: the
    /// test, not the clock, decides how long it runs.
    fn hold_next(&self) -> oneshot::Sender<()> {
        let (release, held) = oneshot::channel();
        *self.hold.lock().unwrap() = Some(held);
        release
    }
}

impl TaskService for Echo {
    fn status(&self) -> PeerStatus {
        let running = self.running.load(Ordering::SeqCst);
        PeerStatus {
            version: PROTOCOL_VERSION,
            specialists: self.specialists.clone(),
            free_slots: self.slots.saturating_sub(running),
            total_slots: self.slots,
            serving: true,
            max_tokens: 64,
            ..PeerStatus::default()
        }
    }

    fn start(&self, _requester: PeerId, request: TaskRequest) -> Result<mpsc::Receiver<ServiceEvent>, TaskError> {
        if !self.specialists.contains(&request.specialist) {
            return Err(TaskError::new(TaskErrorCode::UnknownSpecialist, request.specialist));
        }
        if self.running.fetch_add(1, Ordering::SeqCst) >= self.slots {
            self.running.fetch_sub(1, Ordering::SeqCst);
            return Err(TaskError::new(TaskErrorCode::Busy, "all slots taken"));
        }
        let (events, receiver) = mpsc::channel(4);
        let running = Arc::clone(&self.running);
        let cancelled = Arc::clone(&self.cancelled);
        let delay = self.delay;
        let words: Vec<String> = request.user().split_whitespace().map(|word| format!("{word} ")).collect();
        let mut hold = self.hold.lock().unwrap().take();
        tokio::spawn(async move {
            let mut sent = 0;
            for word in words {
                if sent > 0
                    && let Some(released) = hold.take()
                {
                    // Held until released, or until the requester goes away
                    // (then the next send fails: a cancellation).
                    tokio::select! {
                        _ = released => {}
                        () = events.closed() => {}
                    }
                }
                tokio::time::sleep(delay).await;
                if events.send(ServiceEvent::Token(word)).await.is_err() {
                    cancelled.fetch_add(1, Ordering::SeqCst);
                    running.fetch_sub(1, Ordering::SeqCst);
                    return;
                }
                sent += 1;
            }
            let _ = events.send(ServiceEvent::Done { prompt_tokens: 3, tokens: sent }).await;
            running.fetch_sub(1, Ordering::SeqCst);
        });
        Ok(receiver)
    }

    fn completed(&self, _requester: PeerId, _receipt: &chorus_net::Receipt) {
        self.completed.fetch_add(1, Ordering::SeqCst);
    }

    fn abandoned(&self, _requester: PeerId, tokens: u32) {
        self.abandoned.fetch_add(tokens, Ordering::SeqCst);
    }
}

fn request(specialist: &str, prompt: &str) -> TaskRequest {
    TaskRequest {
        version: PROTOCOL_VERSION,
        specialist: specialist.to_owned(),
        messages: vec![
            ChatMessage { role: "system".to_owned(), content: "You echo.".to_owned() },
            ChatMessage { role: "user".to_owned(), content: prompt.to_owned() },
        ],
        sampling: Sampling {
            temperature: 0.0,
            top_k: 1,
            top_p: 1.0,
            min_p: 0.0,
            repeat_penalty: 1.0,
            max_tokens: 32,
            seed: 1,
        },
        deadline_ms: 10_000,
        nonce: String::new(),
    }
}

fn memory_address() -> Multiaddr {
    format!("/memory/{}", rand_port()).parse().unwrap()
}

fn rand_port() -> u64 {
    static NEXT: AtomicU32 = AtomicU32::new(1);
    u64::from(std::process::id()) * 100_000 + u64::from(NEXT.fetch_add(1, Ordering::SeqCst))
}

async fn node(config: NetConfig, service: Option<Arc<dyn TaskService>>) -> Network {
    Network::start(Keypair::generate_ed25519(), config, service).await.unwrap()
}

async fn first_address(network: &Network) -> Multiaddr {
    network.listen_addrs().await.unwrap().into_iter().next().expect("a listen address")
}

/// Polls `find_providers` until it finds one (provider records spread
/// asynchronously), at most `tries` times.
async fn find(network: &Network, specialist: &str, tries: u32) -> Vec<PeerId> {
    for _ in 0..tries {
        let lookup = network.find_providers(specialist, 1).await.unwrap();
        if !lookup.providers.is_empty() {
            return lookup.providers;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Vec::new()
}

async fn collect(network: &Network, peer: PeerId, request: TaskRequest) -> Result<(String, u32), TaskError> {
    let mut task = network.start_task(peer, request).await?;
    let mut streamed = String::new();
    while let Some(event) = task.next().await {
        match event? {
            RemoteEvent::Waiting => {}
            RemoteEvent::Token(text) => streamed.push_str(&text),
            RemoteEvent::Done { summary, text, receipt } => {
                assert_eq!(text, streamed);
                assert_eq!(receipt.tokens, summary.tokens);
                return Ok((text, summary.tokens));
            }
        }
    }
    panic!("the task ended without a final frame");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_nodes_find_a_provider_through_a_bootstrap_peer_and_run_a_task() {
    let hub = node(NetConfig::memory(memory_address()), None).await;
    let hub_address = first_address(&hub).await;

    let echo = Echo::new(&["writing.echo"], 2, Duration::from_millis(5));
    let mut config = NetConfig::memory(memory_address());
    config.bootstrap = vec![hub_address.clone()];
    let server = node(config, Some(echo.clone())).await;

    let mut config = NetConfig::memory(memory_address());
    config.bootstrap = vec![hub_address];
    let client = node(config, None).await;

    // The server announces; the client never dialled it, so it can only
    // learn of it through the DHT.
    let mut reached = 0;
    for _ in 0..20 {
        reached = server.set_provided(BTreeSet::from(["writing.echo".to_owned()])).await.unwrap();
        if reached > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(reached, 1, "the announcement reached the DHT");
    let providers = find(&client, "writing.echo", 20).await;
    assert_eq!(providers, vec![server.peer_id()]);
    assert!(find(&client, "nobody.serves.this", 1).await.is_empty());

    let status = client.status(server.peer_id()).await.unwrap();
    assert_eq!(status.specialists, vec!["writing.echo".to_owned()]);
    assert_eq!(status.free_slots, 2);
    assert!(status.serving);

    let (text, tokens) =
        collect(&client, server.peer_id(), request("writing.echo", "one two three four")).await.unwrap();
    assert_eq!(text, "one two three four ");
    assert_eq!(tokens, 4);
    assert_eq!(echo.completed.load(Ordering::SeqCst), 1);

    let error = collect(&client, server.peer_id(), request("medicine.info", "hi")).await.unwrap_err();
    assert_eq!(error.code, TaskErrorCode::UnknownSpecialist);

    let peers = client.peers().await.unwrap();
    assert!(peers.iter().any(|peer| peer.peer_id == server.peer_id().to_string() && peer.connected));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tcp_loopback_serves_tasks_and_refuses_bad_requests_with_typed_errors() {
    let echo = Echo::new(&["writing.echo"], 1, Duration::from_millis(20));
    let mut config = NetConfig::tcp(vec!["/ip4/127.0.0.1/tcp/0".parse().unwrap()]);
    config.mdns = false;
    let server = node(config, Some(echo.clone())).await;
    let server_address = first_address(&server).await;

    let mut config = NetConfig::tcp(vec!["/ip4/127.0.0.1/tcp/0".parse().unwrap()]);
    config.mdns = false;
    let client = node(config, None).await;
    assert_eq!(client.dial(server_address).await.unwrap(), server.peer_id());
    let peer = server.peer_id();

    // Malformed: a length prefix and no JSON.
    let mut stream = client.open_task_stream(peer).await.unwrap();
    stream.write_all(&7_u32.to_be_bytes()).await.unwrap();
    stream.write_all(b"garbage").await.unwrap();
    assert_eq!(read_error(&mut stream).await.code, TaskErrorCode::BadRequest);

    // Oversized: announces 10 MB.
    let mut stream = client.open_task_stream(peer).await.unwrap();
    stream.write_all(&(10_000_000_u32).to_be_bytes()).await.unwrap();
    assert_eq!(read_error(&mut stream).await.code, TaskErrorCode::TooLarge);

    // Slow: opens the stream and sends nothing.
    let mut slow = client.open_task_stream(peer).await.unwrap();
    // Meanwhile the node keeps serving others.
    let (text, _) = collect(&client, peer, request("writing.echo", "still serving")).await.unwrap();
    assert_eq!(text, "still serving ");
    assert_eq!(read_error(&mut slow).await.code, TaskErrorCode::OverDeadline);

    // Invalid values inside well-formed JSON.
    let mut bad = request("writing.echo", "x");
    bad.sampling.temperature = 50.0;
    assert_eq!(collect(&client, peer, bad).await.unwrap_err().code, TaskErrorCode::BadRequest);

    // Busy: one slot, two tasks. The first is held after its first word
    // until this test lets it go, so it is still running when the second
    // arrives, however slow the machine.
    let release = echo.hold_next();
    let long = request("writing.echo", &"word ".repeat(20));
    let mut first = client.start_task(peer, long.clone()).await.unwrap();
    assert!(matches!(first.next().await, Some(Ok(RemoteEvent::Token(_)))));
    let error = collect(&client, peer, long).await.unwrap_err();
    assert_eq!(error.code, TaskErrorCode::Busy);

    // Dropping a running task cancels the generation on the peer.
    drop(first);
    for _ in 0..100 {
        if echo.cancelled.load(Ordering::SeqCst) == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(echo.cancelled.load(Ordering::SeqCst), 1, "the peer stopped generating");
    assert_eq!(echo.running.load(Ordering::SeqCst), 0);
    drop(release);
}

/// libp2p-stream drops (resets) an inbound stream that arrives while the
/// serving task has not yet picked up the previous one, which a busy peer
/// does. The requester sends such a task again, a bounded number of times.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_stream_the_peer_drops_unread_is_sent_again_a_bounded_number_of_times() {
    let echo = Echo::new(&["writing.echo"], 2, Duration::from_millis(5));
    let server = node(NetConfig::memory(memory_address()), Some(echo.clone())).await;
    let server_address = first_address(&server).await;
    let client = node(NetConfig::memory(memory_address()), None).await;
    assert_eq!(client.dial(server_address).await.unwrap(), server.peer_id());
    let peer = server.peer_id();

    // Two streams dropped unread: the third attempt is served, in full,
    // with a receipt that verifies (the request sent again is the same).
    server.drop_next_task_streams(2);
    let (text, tokens) = collect(&client, peer, request("writing.echo", "sent again")).await.unwrap();
    assert_eq!((text.as_str(), tokens), ("sent again ", 2));
    // The peer counts a task as completed once its receipt went out.
    for _ in 0..250 {
        if echo.completed.load(Ordering::SeqCst) == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(echo.completed.load(Ordering::SeqCst), 1, "one task ran");

    // Three: the requester gives up with `disconnected`, having run nothing.
    server.drop_next_task_streams(3);
    let error = collect(&client, peer, request("writing.echo", "given up")).await.unwrap_err();
    assert_eq!(error.code, TaskErrorCode::Disconnected, "{error}");
    assert_eq!(echo.running.load(Ordering::SeqCst), 0, "nothing ran");

    // The peer serves the next task at once.
    let (text, _) = collect(&client, peer, request("writing.echo", "served")).await.unwrap();
    assert_eq!(text, "served ");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_peer_ends_its_task_with_a_disconnected_error() {
    let echo = Echo::new(&["writing.echo"], 1, Duration::from_millis(30));
    let server = node(NetConfig::memory(memory_address()), Some(echo)).await;
    let address = first_address(&server).await;
    let client = node(NetConfig::memory(memory_address()), None).await;
    client.dial(address).await.unwrap();
    let mut task = client.start_task(server.peer_id(), request("writing.echo", &"w ".repeat(50))).await.unwrap();
    assert!(matches!(task.next().await, Some(Ok(RemoteEvent::Token(_)))));
    server.shutdown();
    let outcome = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match task.next().await {
                Some(Ok(_)) => {}
                Some(Err(error)) => return error,
                None => panic!("ended without an error"),
            }
        }
    })
    .await
    .expect("the loss is noticed within 10 s");
    assert_eq!(outcome.code, TaskErrorCode::Disconnected);
    let _ = PeerId::random();
}

async fn read_error(stream: &mut chorus_net::Stream) -> TaskError {
    let frame: chorus_net::TaskFrame =
        tokio::time::timeout(Duration::from_secs(15), chorus_net::read_frame(stream, 65536)).await.unwrap().unwrap();
    let mut rest = Vec::new();
    let _ = stream.read_to_end(&mut rest).await;
    match frame {
        chorus_net::TaskFrame::Error { error } => error,
        other => panic!("expected an error frame, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_behind_a_relay_serves_through_it() {
    let loopback = || vec!["/ip4/127.0.0.1/tcp/0".parse().unwrap()];
    let mut config = NetConfig::tcp(loopback());
    config.mdns = false;
    config.autonat = false;
    config.relay_server = true;
    let relay = node(config, None).await;
    let relay_address = first_address(&relay).await;

    // The serving node listens only through the relay (as a phone behind
    // NAT would).
    let echo = Echo::new(&["writing.echo"], 1, Duration::from_millis(5));
    let mut config = NetConfig::tcp(Vec::new());
    config.mdns = false;
    config.autonat = false;
    config.relays = vec![relay_address.clone()];
    let hidden = node(config, Some(echo)).await;
    let mut circuit = None;
    for _ in 0..50 {
        if let Some(address) =
            hidden.listen_addrs().await.unwrap().into_iter().find(|address| address.to_string().contains("p2p-circuit"))
        {
            circuit = Some(address);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let circuit = circuit.expect("a reservation on the relay");
    assert_eq!(hidden.reachability().await.unwrap(), chorus_net::Reachability::Relayed);

    let mut config = NetConfig::tcp(loopback());
    config.mdns = false;
    config.autonat = false;
    let client = node(config, None).await;
    assert_eq!(client.dial(circuit).await.unwrap(), hidden.peer_id());
    let (text, _) = collect(&client, hidden.peer_id(), request("writing.echo", "through the relay")).await.unwrap();
    assert_eq!(text, "through the relay ");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_requester_that_hangs_up_is_still_charged_for_what_it_got() {
    let echo = Echo::new(&["writing.echo"], 1, Duration::from_millis(5));
    let server = node(NetConfig::memory(memory_address()), Some(echo.clone())).await;
    let address = first_address(&server).await;
    let client = node(NetConfig::memory(memory_address()), None).await;
    client.dial(address).await.unwrap();
    let release = echo.hold_next(); // the task stops after its first word
    let mut task = client.start_task(server.peer_id(), request("writing.echo", "one two three four")).await.unwrap();
    assert!(matches!(task.next().await, Some(Ok(RemoteEvent::Token(_)))));
    drop(task); // hangs up before the receipt
    let mut charged = 0;
    for _ in 0..100 {
        charged = echo.abandoned.load(Ordering::SeqCst);
        if charged > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(charged, 1, "the one token it received is charged");
    assert_eq!(echo.completed.load(Ordering::SeqCst), 0, "no receipt went out");
    drop(release);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_holding_64_silent_streams_does_not_keep_another_peers_task_out() {
    let echo = Echo::new(&["writing.echo"], 2, Duration::from_millis(1));
    let server = node(NetConfig::memory(memory_address()), Some(echo.clone())).await;
    let address = first_address(&server).await;
    let hog = node(NetConfig::memory(memory_address()), None).await;
    hog.dial(address.clone()).await.unwrap();
    // 64 streams opened and never written to: the node's whole budget of
    // task streams, were it shared.
    let mut silent = Vec::new();
    for _ in 0..64 {
        silent.push(hog.open_task_stream(server.peer_id()).await.unwrap());
    }

    // Meanwhile another peer's task is served.
    let honest = node(NetConfig::memory(memory_address()), None).await;
    honest.dial(address).await.unwrap();
    let (text, tokens) = collect(&honest, server.peer_id(), request("writing.echo", "still served")).await.unwrap();
    assert_eq!((text.as_str(), tokens), ("still served ", 2));

    // What became of the hog's streams, told by what the node answered (not
    // by when): refused at once as busy, held until the request timeout, or
    // reset unread. It never held more than its own few places.
    let (mut busy, mut held, mut reset) = (0, 0, 0);
    for mut stream in silent {
        let frame = tokio::time::timeout(
            Duration::from_secs(15),
            chorus_net::read_frame::<_, chorus_net::TaskFrame>(&mut stream, 65536),
        )
        .await
        .expect("every stream is answered or closed within the request timeout");
        match frame {
            Ok(chorus_net::TaskFrame::Error { error }) if error.code == TaskErrorCode::Busy => busy += 1,
            Ok(chorus_net::TaskFrame::Error { error }) if error.code == TaskErrorCode::OverDeadline => held += 1,
            Ok(other) => panic!("unexpected frame {other:?}"),
            Err(_) => reset += 1,
        }
    }
    assert_eq!(busy + held + reset, 64);
    assert!(held <= chorus_net::MAX_TASK_STREAMS_PER_PEER, "the hog held {held} streams");
    assert!(busy >= 64 - chorus_net::MAX_TASK_STREAMS_PER_PEER - reset, "busy {busy}, held {held}, reset {reset}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_at_its_connection_limit_closes_the_least_used_to_reach_a_new_peer() {
    // A node allowed 8 connections asks 13 providers one after another;
    // each connection stays open (idle ones close only after 30 s). Without
    // closing some, the ninth dial is refused by the node's own limit.
    let echo = Echo::new(&["writing.echo"], 2, Duration::from_millis(1));
    let mut providers = Vec::new();
    for _ in 0..13 {
        providers.push(node(NetConfig::memory(memory_address()), Some(echo.clone())).await);
    }
    let config =
        NetConfig { max_connections: 8, connection_grace: Duration::ZERO, ..NetConfig::memory(memory_address()) };
    let asker = node(config, None).await;

    // The first provider's task stops after its first word while the others
    // are asked: the connection carrying it is the oldest, yet stays.
    let first = providers.first().unwrap();
    asker.dial(first_address(first).await).await.unwrap();
    let release = echo.hold_next();
    let mut held = asker.start_task(first.peer_id(), request("writing.echo", "held task")).await.unwrap();
    assert!(matches!(held.next().await, Some(Ok(RemoteEvent::Token(_)))));

    for (i, provider) in providers.iter().enumerate().skip(1) {
        let dialled = asker.dial(first_address(provider).await).await;
        assert_eq!(dialled.ok(), Some(provider.peer_id()), "provider {i} could not be dialled");
        let status = asker.status(provider.peer_id()).await.unwrap();
        assert_eq!(status.specialists, vec!["writing.echo".to_owned()]);
        let connected = asker.peers().await.unwrap().into_iter().filter(|peer| peer.connected).count();
        assert!(connected <= 8, "{connected} peers connected after provider {i}");
    }

    drop(release);
    let mut text = "held ".to_owned();
    loop {
        match held.next().await.expect("the held task ends with a final frame").unwrap() {
            RemoteEvent::Token(word) => text.push_str(&word),
            RemoteEvent::Done { .. } => break,
            RemoteEvent::Waiting => {}
        }
    }
    assert_eq!(text, "held task ");
    let peers = asker.peers().await.unwrap();
    let last = providers.last().unwrap().peer_id().to_string();
    assert!(peers.iter().any(|peer| peer.peer_id == last && peer.connected), "the last provider asked was closed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_4096_provider_records_neither_silences_the_victim_nor_grows_its_memory() {
    let victim = node(NetConfig::memory(memory_address()), Some(Echo::new(&["writing.echo"], 1, Duration::ZERO))).await;
    let address = first_address(&victim).await;
    let third = node(NetConfig { bootstrap: vec![address.clone()], ..NetConfig::memory(memory_address()) }, None).await;
    third.bootstrap().await.unwrap();
    // Four identities announce 1,024 random keys each (the most one node
    // may provide): 4,096 ADD_PROVIDER messages reach the victim.
    for flooder in 0..4 {
        let config = NetConfig { bootstrap: vec![address.clone()], ..NetConfig::memory(memory_address()) };
        let network = node(config, None).await;
        network.bootstrap().await.unwrap();
        let keys: BTreeSet<String> = (0..chorus_net::MAX_OWN_KEYS).map(|n| format!("flood-{flooder}-{n}")).collect();
        let reached = network.set_provided(keys).await.unwrap();
        assert!(reached > 0, "the flood reached no one");
    }
    let held = victim.stored_records().await.unwrap();
    assert!(
        held <= 4 * chorus_net::MAX_KEYS_PER_PROVIDER + chorus_net::MAX_KEYS_PER_PROVIDER,
        "the victim holds {held}"
    );

    // The victim still announces, and the third node still finds it.
    let reached = victim.set_provided(BTreeSet::from(["writing.echo".to_owned()])).await.unwrap();
    assert!(reached > 0);
    assert!(find(&third, "writing.echo", 25).await.contains(&victim.peer_id()));
}

fn tcp_on(listen: &[&str]) -> NetConfig {
    let listen = listen.iter().map(|address| address.parse().unwrap()).collect();
    NetConfig { mdns: false, autonat: false, ..NetConfig::tcp(listen) }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn identities_by_the_hundred_from_one_host_leave_room_for_others_and_for_dialling_out() {
    // The other host is this machine's IPv6 loopback: another address.
    if std::net::TcpListener::bind("[::1]:0").is_err() {
        eprintln!("SKIPPED: this machine has no IPv6 loopback, so no second address to come from");
        return;
    }
    let echo = Echo::new(&["writing.echo"], 2, Duration::from_millis(1));
    let victim = node(tcp_on(&["/ip4/127.0.0.1/tcp/0", "/ip6/::1/tcp/0"]), Some(echo)).await;
    let addresses = victim.listen_addrs().await.unwrap();
    let by_v4 = addresses.iter().find(|a| a.to_string().starts_with("/ip4/")).cloned().expect("an IPv4 address");
    let by_v6 = addresses.iter().find(|a| a.to_string().starts_with("/ip6/")).cloned().expect("an IPv6 address");
    // 130 identities from 127.0.0.1. A dial can come back established on
    // the hog's side just before the victim, over its limit, closes it: who
    // got in is what the victim holds.
    let mut hogs = Vec::new();
    for _ in 0..130 {
        let hog = node(tcp_on(&[]), None).await;
        let _ = hog.dial(by_v4.clone()).await;
        hogs.push(hog);
    }
    let hog_ids: BTreeSet<String> = hogs.iter().map(|hog| hog.peer_id().to_string()).collect();
    let held = victim.peers().await.unwrap();
    let connected = held.iter().filter(|peer| peer.connected && hog_ids.contains(&peer.peer_id)).count();
    let cap = usize::try_from(tcp_on(&[]).max_incoming_per_ip).unwrap();
    assert!(connected <= cap, "{connected} of 130 identities from one address got in");
    assert!(connected > 0);

    // A peer from another address still gets in and is served.
    let honest = node(tcp_on(&[]), None).await;
    assert_eq!(honest.dial(by_v6).await.unwrap(), victim.peer_id());
    let (text, _) = collect(&honest, victim.peer_id(), request("writing.echo", "room left")).await.unwrap();
    assert_eq!(text, "room left ");
    // And the victim can still dial out.
    let elsewhere = node(tcp_on(&["/ip4/127.0.0.1/tcp/0"]), None).await;
    let there = first_address(&elsewhere).await;
    assert_eq!(victim.dial(there).await.unwrap(), elsewhere.peer_id());
    for hog in hogs {
        hog.shutdown();
    }
}
