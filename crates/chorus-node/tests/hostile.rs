//! A stranger on the network lies: it provides `software.python`, says in
//! its status that it runs 100,000 tokens a second (the most the protocol
//! allows) with 64 free slots, and fails every task it gets; another claims
//! a million, which no device does. It is a real libp2p node (chorus-net with a
//! service of its own) on TCP loopback beside real Chorus nodes on the real
//! embedded model. What it says decides nothing:
//!
//! - a node that runs `software.python` itself keeps the question at home;
//! - a node with no specialists sends it at most one task: after that one
//!   fails, the stranger is demoted and an honest provider answers every
//!   question; the stranger claiming a million is demoted for its status
//!   alone and gets no task;
//! - a provider record alone (a stranger that announces a specialist its
//!   status does not serve) does not make the specialist reachable.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chorus_core::{ConductorEvent, SubtaskStatus};
use chorus_net::{
    DeviceClass, Keypair, NetConfig, Network, PeerId, PeerStatus, ServiceEvent, TaskError, TaskErrorCode, TaskRequest,
    TaskService,
};
use chorus_node::{Node, NodeConfig, start_cluster};
use tokio::sync::mpsc;

const SPECIALIST: &str = "software.python";

fn base() -> NodeConfig {
    let model = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../models/SmolLM2-135M-Instruct.Q4_1.gguf");
    assert!(model.exists(), "run scripts/setup.sh first: {} is missing", model.display());
    NodeConfig { model: Some(model), threads: Some(1), context: 2048, parallel: 2, ..NodeConfig::default() }
}

/// The lying service: records every request it gets and fails it. Its
/// status claims `speed` tokens a second: by default the most the protocol
/// lets a status say ([`chorus_net::MAX_STATUS_TOKENS_PER_S`], far beyond
/// this machine, which the ranking counts as 40 at most).
struct Liar {
    speed: f32,
    requests: Mutex<Vec<String>>,
}

impl Default for Liar {
    fn default() -> Self {
        Self { speed: chorus_net::MAX_STATUS_TOKENS_PER_S, requests: Mutex::default() }
    }
}

impl TaskService for Liar {
    fn status(&self) -> PeerStatus {
        PeerStatus {
            version: chorus_net::PROTOCOL_VERSION,
            specialists: vec![SPECIALIST.to_owned(), "general.assistant".to_owned()],
            free_slots: 64,
            total_slots: 64,
            waiting: 0,
            tokens_per_s: self.speed,
            device_class: DeviceClass::Desktop,
            serving: true,
            ..PeerStatus::default()
        }
    }

    fn start(&self, _requester: PeerId, request: TaskRequest) -> Result<mpsc::Receiver<ServiceEvent>, TaskError> {
        let text = request.messages.iter().map(|message| message.content.as_str()).collect::<Vec<_>>().join("\n");
        self.requests.lock().unwrap().push(text);
        Err(TaskError::new(TaskErrorCode::Internal, "it did not work out this time"))
    }
}

/// Answers every task with one word and a receipt signing `u32::MAX` tokens.
struct Boaster;

impl TaskService for Boaster {
    fn status(&self) -> PeerStatus {
        Liar::default().status()
    }

    fn start(&self, _requester: PeerId, _request: TaskRequest) -> Result<mpsc::Receiver<ServiceEvent>, TaskError> {
        let (events, receiver) = mpsc::channel(4);
        tokio::spawn(async move {
            let _ = events.send(ServiceEvent::Token("Sure.".to_owned())).await;
            let _ = events.send(ServiceEvent::Done { prompt_tokens: 1, tokens: u32::MAX }).await;
        });
        Ok(receiver)
    }
}

async fn ask(node: &Node, query: &str) -> Vec<ConductorEvent> {
    let mut conversation = node.conduct_with(query, false).expect("query starts");
    let mut events = Vec::new();
    while let Some(event) = conversation.events.recv().await {
        events.push(event);
    }
    events
}

/// A stranger with `service` joins through `through` and provides
/// [`SPECIALIST`].
async fn join(through: &Network, service: Arc<dyn TaskService>) -> Network {
    let config = NetConfig {
        bootstrap: through.listen_addrs().await.expect("addresses"),
        mdns: false,
        autonat: false,
        ..NetConfig::tcp(vec!["/ip4/127.0.0.1/tcp/0".parse().unwrap()])
    };
    let stranger = Network::start(Keypair::generate_ed25519(), config, Some(service)).await.expect("starts");
    stranger.bootstrap().await.expect("bootstrap");
    for _ in 0..40 {
        if stranger.set_provided(BTreeSet::from([SPECIALIST.to_owned()])).await.expect("provides") > 0 {
            return stranger;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    panic!("the stranger could not announce");
}

/// Waits (bounded) until `network` finds `provider` among the providers.
async fn finds(network: &Network, provider: PeerId) {
    for _ in 0..80 {
        let lookup = network.find_providers(SPECIALIST, 8).await.expect("lookup");
        if lookup.providers.contains(&provider) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    panic!("{provider} was never found as a provider");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_a_stranger_says_of_itself_buys_it_no_work() {
    let root = tempfile::tempdir().unwrap();
    let servers = vec![("honest".to_owned(), BTreeSet::from([SPECIALIST.to_owned(), "general.assistant".to_owned()]))];
    let cluster = start_cluster(&base(), root.path().to_path_buf(), servers).await.expect("cluster forms");
    let honest = &cluster.servers[0];
    let honest_network = honest.node.network().expect("joined");

    // The stranger joins through the honest node and provides the specialist.
    let liar = Arc::new(Liar::default());
    let stranger = join(&honest_network, liar.clone()).await;
    let requester_network = cluster.requester.network().expect("joined");
    finds(&honest_network, stranger.peer_id()).await;
    finds(&requester_network, stranger.peer_id()).await;
    let boaster = Arc::new(Liar { speed: 1e6, ..Liar::default() });
    let impossible = join(&honest_network, boaster.clone()).await;
    finds(&requester_network, impossible.peer_id()).await;

    // 1. A node that runs the specialist itself keeps the question at home,
    //    whatever speed the stranger claims.
    let question = "I'm Priya Raman (priya.raman@example.com). How do I reverse a list in Python?";
    let events = ask(&honest.node, question).await;
    let Some(ConductorEvent::Done { subtasks, .. }) = events.last() else { panic!("no done: {events:?}") };
    assert_eq!(subtasks.len(), 1, "{subtasks:?}");
    assert_eq!(subtasks[0].executor, "local", "{events:?}");
    assert!(liar.requests.lock().unwrap().is_empty(), "the stranger got the question");
    assert!(boaster.requests.lock().unwrap().is_empty(), "the stranger got the question");

    // 2. A node without specialists: the stranger gets at most one task;
    //    once that fails, the honest provider answers every question.
    let questions = [
        "How do I reverse a list in Python?",
        "How do I read a CSV file in Python?",
        "How do I sort a dictionary by value in Python?",
    ];
    for question in questions {
        let events = ask(&cluster.requester, question).await;
        let Some(ConductorEvent::Done { subtasks, .. }) = events.last() else { panic!("no done: {events:?}") };
        assert_eq!(subtasks.len(), 1, "{subtasks:?}");
        assert_eq!(subtasks[0].status, SubtaskStatus::Done, "{question}: {:?}", subtasks[0].error);
        assert_eq!(subtasks[0].executor, honest.peer_id, "{question}: {events:?}");
    }
    let got = liar.requests.lock().unwrap().len();
    assert!(got <= 1, "the stranger got {got} of {} tasks though it failed each", questions.len());
    // The million-token liar's status made the specialist suspect at the
    // first question: what the other stranger got was a trial task (a
    // public example question), never one of the person's.
    for request in liar.requests.lock().unwrap().iter() {
        assert!(!questions.iter().any(|question| request.contains(question)), "a person's question: {request}");
    }

    // The demotion is this device's own record, kept in its store.
    let record = cluster.requester.store().peer_record(&stranger.peer_id().to_string());
    assert_eq!(record.failed, u64::try_from(got).unwrap());
    if got == 1 {
        assert!(record.demoted(chorus_core::now_ms()), "{record:?}");
    }
    assert!(cluster.requester.store().peer_record(&honest.peer_id).succeeded >= 2);
    // A status beyond any device breaks the protocol: demoted unasked.
    assert!(boaster.requests.lock().unwrap().is_empty(), "the million-token stranger got a task");
    let record = cluster.requester.store().peer_record(&impossible.peer_id().to_string());
    assert!(record.failed >= 1 && record.demoted(chorus_core::now_ms()), "{record:?}");
    stranger.shutdown();
    impossible.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receipt_for_four_billion_tokens_is_credited_what_arrived() {
    let root = tempfile::tempdir().unwrap();
    // The honest node serves another specialist: the boaster is the only
    // provider of this one.
    let servers = vec![("honest".to_owned(), BTreeSet::from(["general.assistant".to_owned()]))];
    let cluster = start_cluster(&base(), root.path().to_path_buf(), servers).await.expect("cluster forms");
    let honest_network = cluster.servers[0].node.network().expect("joined");
    let boaster = join(&honest_network, Arc::new(Boaster)).await;
    finds(&cluster.requester.network().expect("joined"), boaster.peer_id()).await;

    let events = ask(&cluster.requester, "How do I reverse a list in Python?").await;
    let Some(ConductorEvent::Done { subtasks, .. }) = events.last() else { panic!("no done: {events:?}") };
    assert_eq!(subtasks[0].executor, boaster.peer_id().to_string(), "{events:?}");
    assert_eq!(subtasks[0].status, SubtaskStatus::Done);
    // Its receipt verified (it signed u32::MAX), and one token frame came.
    let ledger = cluster.requester.store().ledger(&boaster.peer_id().to_string()).unwrap();
    assert_eq!((ledger.tasks_received, ledger.tokens_received), (1, 1), "{ledger:?}");
    assert_eq!(subtasks[0].tokens, 1);
    boaster.shutdown();
}

/// Provides [`SPECIALIST`] in the DHT, but its status serves nothing.
struct Hollow;

impl TaskService for Hollow {
    fn status(&self) -> PeerStatus {
        PeerStatus { version: chorus_net::PROTOCOL_VERSION, serving: true, ..PeerStatus::default() }
    }

    fn start(&self, _requester: PeerId, request: TaskRequest) -> Result<mpsc::Receiver<ServiceEvent>, TaskError> {
        Err(TaskError::new(TaskErrorCode::UnknownSpecialist, request.specialist))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_record_alone_does_not_make_a_specialist_reachable() {
    let root = tempfile::tempdir().unwrap();
    let servers = vec![("honest".to_owned(), BTreeSet::from(["general.assistant".to_owned()]))];
    let cluster = start_cluster(&base(), root.path().to_path_buf(), servers).await.expect("cluster forms");
    let honest_network = cluster.servers[0].node.network().expect("joined");
    let requester_network = cluster.requester.network().expect("joined");
    let query = "How do I reverse a list in Python?";

    // Its record is found, but it does not say it serves the specialist:
    // the conductor does not plan with it.
    let hollow = join(&honest_network, Arc::new(Hollow)).await;
    finds(&requester_network, hollow.peer_id()).await;
    let reachable = cluster.requester.conductor().reachable(query).await;
    assert!(!reachable.contains(SPECIALIST), "a bare provider record counted: {reachable:?}");

    // A provider that answers for it does count.
    let boaster = join(&honest_network, Arc::new(Boaster)).await;
    finds(&requester_network, boaster.peer_id()).await;
    let mut counted = false;
    for _ in 0..20 {
        if cluster.requester.conductor().reachable(query).await.contains(SPECIALIST) {
            counted = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(counted, "a provider that serves the specialist was never counted");
    hollow.shutdown();
    boaster.shutdown();
}
