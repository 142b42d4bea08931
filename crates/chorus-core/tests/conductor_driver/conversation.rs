//! Questions that continue a conversation: a follow-up runs on this device
//! with the last turn carried, never on a peer; a question that stands on
//! its own is routed afresh without the history; a conductor that writes
//! freely rewrites the follow-up first.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use chorus_core::{
    Catalog, Conductor, ConductorConfig, ConductorError, ConductorEvent, ConductorWriting, ExecutorError,
    GenerationSpec, GenerationStream, SubtaskStatus, TextGenerator, Turn,
};
use tokio::sync::mpsc;

use super::scripted::{Behaviour, Scripted, answer};

/// Rewrites every follow-up into the same self-contained question, and
/// counts nothing else: the small-conductor tests never call it.
struct Rewriter;

impl TextGenerator for Rewriter {
    fn generate(&self, spec: GenerationSpec) -> Result<GenerationStream, ExecutorError> {
        if spec.system.contains("rewrite") {
            assert!(spec.prompt.contains("2. Rise"), "the rewriter sees the conversation: {}", spec.prompt);
            return Ok(answer("Rewritten: \"Tell me more about the bakery name Rise\"".to_owned()));
        }
        Ok(answer(format!("SYNTHESIS of: {}", spec.prompt)))
    }
}

fn conductor(writing: ConductorWriting, local: Arc<Scripted>, peer: Arc<Scripted>) -> Conductor {
    let catalog = Arc::new(Catalog::bundled().expect("catalog"));
    let config = ConductorConfig { writing, ..ConductorConfig::default() };
    Conductor::new(catalog, Arc::new(Rewriter), vec![peer, local], config)
}

fn bakery() -> Vec<Turn> {
    vec![Turn {
        question: "Give me three names for a small bakery".to_owned(),
        answer: "1. Crumb & Co\n2. Rise\n3. The Daily Loaf".to_owned(),
        specialists: vec!["marketing.branding".to_owned()],
    }]
}

async fn ask_after(conductor: &Conductor, query: &str, history: &[Turn]) -> Vec<ConductorEvent> {
    let (tx, mut rx) = mpsc::channel(256);
    let outcome: Result<ConductorEvent, ConductorError> = conductor.ask_after(query, history, &tx).await;
    assert!(matches!(outcome, Ok(ConductorEvent::Done { .. })), "{outcome:?}");
    drop(tx);
    let mut events = Vec::new();
    while let Some(event) = rx.recv().await {
        events.push(event);
    }
    events
}

#[tokio::test]
async fn a_follow_up_runs_here_with_the_last_turn_and_never_reaches_a_peer() {
    let local = Scripted::new("local", Behaviour::Echo);
    let peer = Scripted::new("peer-1", Behaviour::Answer);
    let conductor = conductor(ConductorWriting::Compose, local.clone(), peer.clone());
    let events = ask_after(&conductor, "What about the second option?", &bakery()).await;

    let Some(ConductorEvent::Context { follow_up, turns, carried, reason, .. }) = events.first() else {
        panic!("no context event first: {events:?}")
    };
    assert!(*follow_up && *turns == 1 && *carried == 1, "{reason}");
    assert!(
        matches!(&events[1], ConductorEvent::Analysis { specialists, .. } if specialists == &vec!["marketing.branding".to_owned()]),
        "the specialist of the last answer continues: {:?}",
        events[1]
    );
    assert_eq!(peer.calls.load(Ordering::SeqCst), 0, "the conversation never leaves this device");
    let seen = local.seen.lock().expect("lock").clone();
    assert_eq!(seen.len(), 1);
    assert!(seen[0].contains("three names for a small bakery") && seen[0].contains("2. Rise"), "{}", seen[0]);
    assert!(seen[0].ends_with("What about the second option?"), "{}", seen[0]);
    let Some(ConductorEvent::Done { answer, subtasks, .. }) = events.last() else { panic!("no done") };
    assert_eq!(subtasks[0].status, SubtaskStatus::Done);
    assert!(answer.contains("2. Rise"), "the answer is the specialist's: {answer}");
}

#[tokio::test]
async fn a_language_change_translates_the_last_answer() {
    let local = Scripted::new("local", Behaviour::Echo);
    let peer = Scripted::new("peer-1", Behaviour::Answer);
    let conductor = conductor(ConductorWriting::Compose, local.clone(), peer.clone());
    let events = ask_after(&conductor, "Now in Spanish, please", &bakery()).await;
    assert!(
        events.iter().any(|event| matches!(event, ConductorEvent::Analysis { specialists, .. } if specialists == &vec!["translate.es".to_owned()])),
        "{events:?}"
    );
    let seen = local.seen.lock().expect("lock").clone();
    assert_eq!(
        seen,
        vec!["1. Crumb & Co\n2. Rise\n3. The Daily Loaf".to_owned()],
        "the translator gets the answer alone"
    );
    assert_eq!(peer.calls.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn a_question_that_stands_alone_is_routed_afresh_without_the_history() {
    let local = Scripted::new("local", Behaviour::Echo);
    let peer = Scripted::new("peer-1", Behaviour::Echo);
    let conductor = conductor(ConductorWriting::Compose, local.clone(), peer.clone());
    let question = "Write a Python function that checks whether a string is a palindrome";
    let events = ask_after(&conductor, question, &bakery()).await;
    assert!(matches!(&events[0], ConductorEvent::Context { follow_up: false, carried: 0, .. }), "{:?}", events[0]);
    let mut seen = local.seen.lock().expect("lock").clone();
    seen.extend(peer.seen.lock().expect("lock").iter().cloned());
    assert!(!seen.is_empty());
    assert!(seen.iter().all(|prompt| !prompt.contains("bakery")), "no history went anywhere: {seen:?}");
}

#[tokio::test]
async fn a_free_writing_conductor_rewrites_the_follow_up_and_asks_that() {
    let local = Scripted::new("local", Behaviour::Echo);
    let peer = Scripted::new("peer-1", Behaviour::Echo);
    let conductor = conductor(ConductorWriting::Free, local.clone(), peer.clone());
    let events = ask_after(&conductor, "Tell me more about the second one", &bakery()).await;
    let Some(ConductorEvent::Context { follow_up: true, resolved: Some(resolved), .. }) = events.first() else {
        panic!("no rewritten context: {:?}", events.first())
    };
    assert_eq!(resolved, "Tell me more about the bakery name Rise");
    let mut seen = local.seen.lock().expect("lock").clone();
    seen.extend(peer.seen.lock().expect("lock").iter().cloned());
    assert!(seen.iter().any(|prompt| prompt.contains("bakery name Rise")), "{seen:?}");
    assert!(seen.iter().all(|prompt| !prompt.contains("Crumb")), "only the rewritten question went out: {seen:?}");
}

#[tokio::test]
async fn no_history_is_a_plain_question() {
    let local = Scripted::new("local", Behaviour::Answer);
    let peer = Scripted::new("peer-1", Behaviour::Answer);
    let conductor = conductor(ConductorWriting::Compose, local, peer);
    let events = ask_after(&conductor, "Make it shorter", &[]).await;
    assert!(!events.iter().any(|event| matches!(event, ConductorEvent::Context { .. })), "{events:?}");
}
