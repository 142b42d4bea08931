// The mock API's conversations: how the node groups journaled queries into
// conversations (`Store::list_conversations`), and a small stand-in for the
// conductor's follow-up reading (`follow_up_cue`), so a plain-browser run and
// the component tests continue conversations as the real node does.

import { queryIdOf } from './api';
import { pieces } from './scenarios';
import type { ConductorEvent, ContextEvent, ConversationSummary, QueryRecord } from './types';

/** The conversation a journaled query belongs to: its first question's id. */
export function rootOf(record: QueryRecord): string {
  return queryIdOf(record.conversation ?? record.id);
}

const numberOf = (id: string | number) => Number(queryIdOf(id).slice(1));

/** Oldest first, as the journal keeps them. */
function oldestFirst(records: QueryRecord[]): QueryRecord[] {
  return [...records].sort((a, b) => numberOf(a.id) - numberOf(b.id));
}

/** The conversations, the most recently continued first, at most `limit`. */
export function listConversations(records: QueryRecord[], limit: number): ConversationSummary[] {
  const byRoot = new Map<string, ConversationSummary>();
  for (const record of oldestFirst(records)) {
    const root = rootOf(record);
    const known = byRoot.get(root);
    if (known) {
      known.turns += 1;
      known.last = queryIdOf(record.id);
      known.status = record.status;
      known.last_at_ms = record.started_at_ms;
    } else {
      byRoot.set(root, {
        id: root,
        title: record.text,
        turns: 1,
        last: queryIdOf(record.id),
        status: record.status,
        started_at_ms: record.started_at_ms,
        last_at_ms: record.started_at_ms,
      });
    }
  }
  return [...byRoot.values()].sort((a, b) => numberOf(b.last) - numberOf(a.last)).slice(0, limit);
}

/** Every query of the conversation that `id` (any of its queries) belongs to, oldest first; empty if none. */
export function conversationRecords(records: QueryRecord[], id: string): QueryRecord[] {
  const found = records.find((record) => queryIdOf(record.id) === queryIdOf(id));
  if (!found) return [];
  const root = rootOf(found);
  return oldestFirst(records.filter((record) => rootOf(record) === root));
}

const OPENERS = ['and', 'also', 'but', 'so', 'then', 'now', 'why', 'more', 'shorter', 'longer', 'again', 'what about', 'how about'];
const EDIT_VERBS = ['make', 'rewrite', 'shorten', 'translate', 'summarise', 'summarize', 'explain', 'say', 'turn', 'change', 'fix'];
const BACK_OBJECTS = ['it', 'that', 'this', 'them', 'the answer', 'your answer'];
const PRONOUNS = ['it', 'that', 'this', 'them', 'those', 'these', 'they'];

/** Why a question reads as a follow-up, in words; null when it stands on its own (a few of the node's rules). */
export function followUpCue(question: string): string | null {
  const words = question.toLowerCase().split(/[^\p{L}\p{N}']+/u).filter(Boolean);
  if (words.length === 0) return null;
  const joined = ` ${words.join(' ')} `;
  const opener = OPENERS.find((start) => joined.startsWith(` ${start} `));
  if (opener) return `it opens with "${opener}"`;
  for (const [at, word] of words.entries()) {
    if (!EDIT_VERBS.includes(word)) continue;
    const after = ` ${words.slice(at + 1, at + 4).join(' ')} `;
    const object = BACK_OBJECTS.find((back) => after.startsWith(` ${back} `));
    if (object) return `"${word} ${object}" points back`;
  }
  const pronoun = words.length <= 6 ? words.find((word) => PRONOUNS.includes(word)) : undefined;
  return pronoun ? `a short question leaning on "${pronoun}"` : null;
}

/** The `context` event for `question` after the conversation's `earlier` turns (oldest first). */
export function contextFor(question: string, earlier: QueryRecord[]): ContextEvent {
  const turns = earlier.length;
  const answered = earlier.some((record) => (record.answer ?? '').trim());
  if (!answered) {
    return { event: 'context', follow_up: false, turns, carried: 0, reason: 'no earlier question of the conversation has an answer to go on' };
  }
  const cue = followUpCue(question);
  if (!cue) {
    return { event: 'context', follow_up: false, turns, carried: 0, reason: 'the question stands on its own: routed afresh, without the conversation' };
  }
  const older = turns - 1;
  const reason = `a follow-up (${cue}): carries the last question and answer${older > 0 ? `; ${older} earlier turn(s) not carried` : ''}`;
  return { event: 'context', follow_up: true, turns, carried: 1, reason };
}

/**
 * A follow-up answered on this device by the specialist that wrote the last
 * answer, with the last turn carried in its task (the node's
 * `ask_follow_up`): a short version of the last answer.
 */
export function followUpScenario(queryId: string, last: QueryRecord): ConductorEvent[] {
  const analysis = last.events.find((entry) => entry.event.event === 'analysis')?.event;
  const specialist = (analysis?.event === 'analysis' && analysis.specialists[0]) || 'general.assistant';
  const previous = (last.answer ?? '').trim().replace(/^In short: /, '');
  const first = previous.split(/(?<=[.!?])\s/)[0] ?? previous;
  const answer = `In short: ${first}`;
  const tokens = pieces(answer).length;
  return [
    { event: 'query', query_id: queryId },
    { event: 'analysis', kind: 'simple', reason: `a follow-up, continued by ${specialist} on this device`, specialists: [specialist] },
    {
      event: 'subtask_started',
      index: 0,
      specialist,
      executor: 'local',
      attempt: 1,
      left_device: false,
      redacted: 0,
      kept_on_device: 'a follow-up carries the conversation, which stays on this device',
    },
    ...pieces(answer).map((text): ConductorEvent => ({ event: 'token', text })),
    { event: 'subtask_done', index: 0, specialist, executor: 'local', tokens, ms: 520 },
    {
      event: 'done',
      answer,
      ms: 560,
      subtasks: [{ index: 0, specialist, executor: 'local', status: 'done', attempts: 1, tokens, ms: 520, text: answer, error: null }],
    },
  ];
}
