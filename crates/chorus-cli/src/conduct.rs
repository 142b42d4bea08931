//! `chorus ask`, `chorus route` and `chorus history` (`show`, `rm`): the
//! conductor and its journal in a terminal.

use std::io::Write;

use chorus_node::core::{ConductorEvent, QueryId, QueryKind, SubtaskStatus};
use chorus_node::{Continues, ErrorCode, ErrorReply, Node};
use clap::{Args, Subcommand};

/// A mistake in what was asked (exit code 2).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(crate) struct UsageError(pub(crate) String);

/// `chorus route`.
#[derive(Debug, Args)]
pub(crate) struct RouteArgs {
    /// The question.
    #[arg(required = true)]
    question: Vec<String>,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
}

/// `chorus history`.
#[derive(Debug, Args)]
pub(crate) struct HistoryArgs {
    #[command(subcommand)]
    action: Option<HistoryAction>,
    /// Most queries listed.
    #[arg(long, default_value_t = 20)]
    limit: usize,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Subcommand)]
enum HistoryAction {
    /// One query in full: plan, sub-task results, timings, answer, events.
    Show {
        /// Its id (as listed, e.g. q12).
        id: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// The conversations, the most recently continued first: id, turns,
    /// the last turn's status, the first question.
    Conversations {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// One conversation, every turn's question and answer in order (ID is
    /// any of its queries).
    Conversation {
        /// A query of it (e.g. q12).
        id: String,
        /// Print JSON: the full record of each turn, as `show --json`.
        #[arg(long)]
        json: bool,
    },
    /// Delete one past question (`rm q12`), its whole conversation (`rm
    /// --conversation q12`) or all of them (`rm --all`): the question,
    /// plan, answer, events and sub-task results.
    Rm {
        /// Its id (as listed, e.g. q12).
        #[arg(required_unless_present = "all", conflicts_with = "all")]
        id: Option<String>,
        /// Delete every question of the conversation ID belongs to.
        #[arg(long, conflicts_with = "all")]
        conversation: bool,
        /// Delete every past question.
        #[arg(long)]
        all: bool,
        /// Print one JSON object: `{"event":"deleted","ids":["q12"]}`.
        #[arg(long)]
        json: bool,
    },
}

/// Runs a query through the conductor and shows it as it happens.
/// How `ask` prints: JSON events or text, and in text whether each
/// peer's received text is shown.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Output {
    pub(crate) json: bool,
    pub(crate) show_sent: bool,
}

pub(crate) async fn ask(
    node: &Node,
    question: &str,
    continues: Continues,
    output: Output,
    on_device_only: bool,
) -> anyhow::Result<()> {
    semantic_routing(node).await;
    let json = output.json;
    if question.trim().is_empty() {
        if json {
            println!("{}", ErrorReply::empty_prompt().to_event());
        }
        return Err(UsageError(ErrorReply::empty_prompt().message).into());
    }
    {
        let continuing = !matches!(continues, Continues::Nothing);
        let mut conversation = node.conduct_in(question, continues, on_device_only)?;
        if json {
            println!(
                "{}",
                serde_json::json!({
                    "event": "query",
                    "query_id": conversation.query_id.to_string(),
                    "conversation": conversation.conversation.to_string(),
                })
            );
        } else if continuing {
            eprintln!("· {} continues conversation {}", conversation.query_id, conversation.conversation);
        }
        let mut failure = None;
        let mut stdout = std::io::stdout().lock();
        while let Some(event) = conversation.events.recv().await {
            if json {
                writeln!(stdout, "{}", serde_json::to_string(&event)?)?;
                stdout.flush()?;
            } else {
                show(&mut stdout, &event, output.show_sent)?;
            }
            if let ConductorEvent::Error { code, message } = event {
                failure = Some((code, message));
            }
        }
        match failure {
            Some((code, message)) if code == "empty_prompt" => Err(UsageError(message).into()),
            Some((_, message)) => Err(anyhow::anyhow!(message)),
            None => Ok(()),
        }
    }
}

/// Human output: the answer on stdout, what happens on stderr.
fn show(stdout: &mut impl Write, event: &ConductorEvent, show_sent: bool) -> anyhow::Result<()> {
    match event {
        ConductorEvent::Context { reason, resolved, .. } => {
            eprintln!("· {reason}");
            if let Some(resolved) = resolved {
                eprintln!("  read as: {resolved}");
            }
        }
        ConductorEvent::Analysis { kind, reason, specialists } => {
            eprintln!("· {kind} query → {} ({reason})", specialists.join(", "));
        }
        ConductorEvent::Plan { source, subtasks, repairs, not_planned } => {
            eprintln!("· plan ({}):", serde_json::to_value(source)?.as_str().unwrap_or("?"));
            for step in subtasks {
                let after = if step.depends_on.is_empty() {
                    String::new()
                } else {
                    let numbers: Vec<String> = step.depends_on.iter().map(|d| (d + 1).to_string()).collect();
                    format!(" (after {})", numbers.join(", "))
                };
                eprintln!("  {}. [{}] {}{after}", step.index + 1, step.specialist, step.task);
            }
            for repair in repairs {
                eprintln!("  (repair: {repair})");
            }
            for part in not_planned {
                eprintln!("  (not done: {:?}: {})", part.part, part.reason);
            }
        }
        ConductorEvent::SubtaskStarted {
            index,
            specialist,
            executor,
            attempt,
            left_device,
            redacted,
            sent,
            kept_on_device,
            ..
        } => {
            let retry = if *attempt > 1 { format!(", attempt {attempt}") } else { String::new() };
            if *left_device {
                let items = match redacted {
                    0 => "nothing to redact".to_owned(),
                    1 => "1 item redacted".to_owned(),
                    n => format!("{n} items redacted"),
                };
                eprintln!("· {}. {specialist} started on peer {executor}{retry} ({items})", index + 1);
                if let Some(sent) = sent.as_ref().filter(|_| show_sent) {
                    eprintln!("  the peer received:");
                    for line in sent.prompt.lines() {
                        eprintln!("  │ {line}");
                    }
                }
            } else {
                let why = kept_on_device.as_ref().map(|why| format!(", kept here: {why}")).unwrap_or_default();
                eprintln!("· {}. {specialist} started on this device{retry}{why}", index + 1);
            }
        }
        ConductorEvent::SubtaskDone { index, tokens, ms, .. } => {
            eprintln!("· {}. done: {tokens} tokens in {:.1} s", index + 1, *ms as f64 / 1000.0);
        }
        ConductorEvent::SubtaskFailed { index, error, will_retry, .. } => {
            let next = if *will_retry { ", retrying" } else { "" };
            eprintln!("· {}. failed: {error}{next}", index + 1);
        }
        ConductorEvent::SubtaskQueued { index, specialist, timeout_s, .. } => {
            eprintln!("· {}. {specialist}: no device can run it now; queued for up to {timeout_s} s", index + 1);
        }
        ConductorEvent::AnswerReset { .. } => {
            writeln!(stdout)?;
            eprintln!("· (the text above came from a failed attempt; the answer starts again)");
        }
        ConductorEvent::SubtaskSkipped { index, reason } => eprintln!("· {}. skipped: {reason}", index + 1),
        ConductorEvent::SubtaskToken { .. } => {}
        ConductorEvent::Token { text } => {
            write!(stdout, "{text}")?;
            stdout.flush()?;
        }
        ConductorEvent::Error { message, .. } => eprintln!("· failed: {message}"),
        ConductorEvent::Done { subtasks, ms, coverage, timings, .. } => {
            writeln!(stdout)?;
            let done = subtasks.iter().filter(|s| s.status == SubtaskStatus::Done).count();
            eprintln!("· {done}/{} sub-tasks done, {:.1} s in all", subtasks.len(), *ms as f64 / 1000.0);
            if subtasks.len() > 1 {
                let kept: Vec<String> =
                    coverage.iter().map(|part| format!("{}. {:.0} %", part.index + 1, part.coverage * 100.0)).collect();
                eprintln!("· the answer keeps of each part's words: {}", kept.join(", "));
                eprintln!("· {}", timings_line(timings));
            }
        }
    }
    Ok(())
}

/// "analyse 0.1 s, plan 0.0 s, first part at 0.2 s, slowest part 5.1 s,
/// synthesis 0.3 s": the stages a question went through.
fn timings_line(timings: &chorus_node::core::Timings) -> String {
    let seconds = |ms: u64| format!("{:.1} s", ms as f64 / 1000.0);
    let stages = [
        ("analyse", Some(timings.analyse_ms)),
        ("plan", timings.plan_ms),
        ("first part at", timings.first_part_started_ms),
        ("slowest part", timings.slowest_part_ms),
        ("synthesis", timings.synthesis_ms),
    ];
    let parts: Vec<String> =
        stages.iter().filter_map(|(name, ms)| ms.map(|ms| format!("{name} {}", seconds(ms)))).collect();
    parts.join(", ")
}

/// `chorus route`: the analysis, and the plan for a composite query.
pub(crate) async fn route(node: &Node, args: &RouteArgs) -> anyhow::Result<()> {
    semantic_routing(node).await;
    let question = args.question.join(" ");
    let conductor = node.conductor();
    let analysis = conductor.analyse(&question).await.map_err(|error| UsageError(error.to_string()))?;
    let plan = match analysis.kind {
        QueryKind::Composite { .. } => Some(conductor.plan(&question, &analysis).await?),
        QueryKind::Simple { .. } => None,
    };
    if args.json {
        let value = serde_json::json!({
            "query": question,
            "kind": if analysis.is_composite() { "composite" } else { "simple" },
            "specialists": analysis.specialist_ids(),
            "reason": analysis.reason,
            "ranking": analysis.ranking.iter().take(5).collect::<Vec<_>>(),
            "clauses": analysis.clauses,
            "plan": plan,
        });
        println!("{value}");
        return Ok(());
    }
    println!(
        "{} query → {}",
        if analysis.is_composite() { "composite" } else { "simple" },
        analysis.specialist_ids().join(", ")
    );
    println!("why: {}", analysis.reason);
    for score in analysis.ranking.iter().take(5) {
        println!("  {:<32} {:>5.2}  {}", score.specialist_id, score.score, score.matched.join(", "));
    }
    if let Some(plan) = plan {
        println!("plan ({:?}):", plan.source);
        for step in &plan.subtasks {
            println!("  {}. [{}] {}", step.index + 1, step.specialist, step.task);
        }
    }
    Ok(())
}

/// `chorus history`, `chorus history show ID` and `chorus history rm`.
pub(crate) fn history(node: &Node, args: &HistoryArgs) -> anyhow::Result<()> {
    let store = node.store();
    match &args.action {
        Some(HistoryAction::Rm { id, conversation, all, json }) => {
            let scope = if *all {
                Deleting::All
            } else if *conversation {
                Deleting::Conversation
            } else {
                Deleting::Query
            };
            return history_rm(node, id.as_deref(), scope, *json || args.json);
        }
        Some(HistoryAction::Conversations { json }) => {
            let conversations = store.list_conversations(args.limit)?;
            if *json || args.json {
                println!("{}", serde_json::to_string(&conversations)?);
                return Ok(());
            }
            if conversations.is_empty() {
                println!("no conversations yet");
            }
            for conversation in conversations {
                let text: String = conversation.title.chars().take(60).collect();
                let turns = format!("{} turn{}", conversation.turns, if conversation.turns == 1 { "" } else { "s" });
                println!("{:<6} {turns:<9} {:<12} {text}", conversation.id.to_string(), conversation.status.as_str());
            }
        }
        Some(HistoryAction::Conversation { id, json }) => {
            let id: QueryId = id.parse().map_err(|_| UsageError(format!("{id:?} is not a query id (e.g. q3)")))?;
            let Some(root) = store.conversation_of(id)? else {
                return Err(UsageError(format!("no query {id} in the journal")).into());
            };
            let turns = store.conversation(root)?;
            if *json || args.json {
                println!("{}", serde_json::to_string(&turns)?);
                return Ok(());
            }
            println!("conversation {root}: {} turn(s)", turns.len());
            for turn in &turns {
                println!("\n{} [{}] {}", turn.id, turn.status.as_str(), turn.text);
                if let Some(answer) = &turn.answer {
                    println!("{answer}");
                }
            }
        }
        None => {
            let queries = store.list_queries(args.limit, 0)?;
            if args.json {
                println!("{}", serde_json::to_string(&queries)?);
                return Ok(());
            }
            if queries.is_empty() {
                println!("no queries yet");
            }
            for query in queries {
                let text: String = query.text.chars().take(70).collect();
                let within = if query.conversation == query.id {
                    String::new()
                } else {
                    format!("(in {}) ", query.conversation)
                };
                println!("{:<6} {:<12} {within}{text}", query.id.to_string(), query.status.as_str());
            }
        }
        Some(HistoryAction::Show { id, json }) => {
            let id: QueryId = id.parse().map_err(|_| UsageError(format!("{id:?} is not a query id (e.g. q3)")))?;
            let Some(record) = store.query(id)? else {
                return Err(UsageError(format!("no query {id} in the journal")).into());
            };
            if *json || args.json {
                println!("{}", serde_json::to_string(&record)?);
                return Ok(());
            }
            println!("query {}: {}", record.id, record.text);
            println!("status: {}", record.status.as_str());
            for subtask in &record.subtasks {
                println!(
                    "  {}. [{}] on {}: {} ({} tokens, {} ms, {} attempt(s)){}",
                    subtask.index + 1,
                    subtask.specialist,
                    subtask.executor,
                    subtask.status,
                    subtask.tokens,
                    subtask.elapsed_ms,
                    subtask.attempts,
                    subtask.error.as_ref().map(|e| format!(" — {e}")).unwrap_or_default()
                );
            }
            if let Some(answer) = &record.answer {
                println!("answer:\n{answer}");
            }
            if let Some(error) = &record.error {
                println!("error: {error}");
            }
        }
    }
    Ok(())
}

/// `chorus history rm ID` and `chorus history rm --all`: prints what was
/// deleted (with `--json`, `{"event":"deleted","ids":[…]}`). A malformed or
/// unknown id is a usage error (exit code 2; with `--json` an `error`
/// event with code `unknown_query`).
/// What `chorus history rm` deletes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Deleting {
    Query,
    Conversation,
    All,
}

fn history_rm(node: &Node, id: Option<&str>, scope: Deleting, json: bool) -> anyhow::Result<()> {
    let all = scope == Deleting::All;
    let fail = |reply: ErrorReply| -> anyhow::Result<()> {
        if json {
            println!("{}", reply.to_event());
        }
        if reply.code == ErrorCode::UnknownQuery {
            Err(UsageError(reply.message).into())
        } else {
            Err(anyhow::Error::new(reply))
        }
    };
    let deleted = match (id, all) {
        (_, true) => match node.delete_history() {
            Ok(ids) => ids,
            Err(error) => return fail(error.into()),
        },
        (Some(text), false) => {
            let Ok(id) = text.parse::<QueryId>() else {
                return fail(ErrorReply::new(ErrorCode::UnknownQuery, format!("{text:?} is not a query id (e.g. q3)")));
            };
            let deleted = if scope == Deleting::Conversation {
                node.delete_conversation(id)
            } else {
                node.delete_query(id).map(|()| vec![id])
            };
            match deleted {
                Ok(ids) => ids,
                Err(error) => return fail(error.into()),
            }
        }
        (None, false) => return Err(UsageError("name a query (e.g. q3) or give --all".to_owned()).into()),
    };
    let ids: Vec<String> = deleted.iter().map(ToString::to_string).collect();
    if json {
        println!("{}", serde_json::json!({"event": "deleted", "ids": ids}));
    } else if ids.is_empty() {
        println!("no past questions to delete");
    } else if all {
        println!("deleted {} past question(s): {}", ids.len(), ids.join(", "));
    } else {
        println!("deleted {}", ids.join(", "));
    }
    Ok(())
}

/// Gives semantic routing the time to get ready (loading the sentence model
/// and its cached specialist vectors takes well under a second; computing
/// the vectors the first time, tens of seconds): a command routes the same
/// way every time. Without the model, it routes by keywords at once.
pub(crate) async fn semantic_routing(node: &Node) {
    let node = node.clone();
    let ready = tokio::task::spawn_blocking(move || node.wait_for_semantic_routing(SEMANTIC_WAIT)).await;
    if !matches!(ready, Ok(true)) {
        tracing::info!("routing by keywords: semantic routing is not ready");
    }
}

/// The longest a command waits for semantic routing.
pub(crate) const SEMANTIC_WAIT: std::time::Duration = std::time::Duration::from_secs(90);
