// The conversation on the chat screen as plain data: its turns, oldest first,
// each the chat state of one question (`plan.ts`), and the words the screen
// shows about a turn and about how the conductor used the conversation.

import { queryIdOf } from './api';
import { formatMs } from './format';
import { replay, type ChatState } from './plan';
import type { ContextEvent, ConversationSummary, QueryRecord } from './types';

export interface Turn {
  /** Stable while the turn is on screen (its id is not known until the node answers). */
  key: number;
  chat: ChatState;
}

export interface Thread {
  /** The conversation's id (its first question's), or null before its first question is journaled. */
  conversation: string | null;
  turns: Turn[];
}

let nextKey = 1;

export function newTurn(chat: ChatState): Turn {
  return { key: nextKey++, chat };
}

export function emptyThread(): Thread {
  return { conversation: null, turns: [] };
}

/** A conversation from the journal (`conversation_show`: oldest first), each turn replayed from its events. */
export function threadOf(records: QueryRecord[]): Thread {
  const turns = records.map((record) => newTurn(replay(record)));
  const first = records[0];
  return { conversation: first ? queryIdOf(first.conversation ?? first.id) : null, turns };
}

/** `thread` with the turn `key` changed by `change` (unchanged if it has no such turn). */
export function updateTurn(thread: Thread, key: number, change: (chat: ChatState) => ChatState): Thread {
  if (!thread.turns.some((turn) => turn.key === key)) return thread;
  return { ...thread, turns: thread.turns.map((turn) => (turn.key === key ? { ...turn, chat: change(turn.chat) } : turn)) };
}

/** `thread` with `chat` as a new last turn; turns the node never journaled (refused before they began) make way. */
export function withTurn(thread: Thread, turn: Turn): Thread {
  return { ...thread, turns: [...thread.turns.filter((known) => known.chat.queryId !== null), turn] };
}

/** `thread` without the question `queryId`; empty (a new conversation) once no journaled question is left. */
export function withoutTurn(thread: Thread, queryId: string): Thread {
  const turns = thread.turns.filter((turn) => turn.chat.queryId !== queryId);
  return turns.some((turn) => turn.chat.queryId !== null) ? { ...thread, turns } : emptyThread();
}

/**
 * The id to continue the conversation with: its latest journaled question
 * (any of its questions names it, and the latest is the one surely still
 * there); null for a new conversation.
 */
export function continuationId(thread: Thread): string | null {
  for (let at = thread.turns.length - 1; at >= 0; at--) {
    const id = thread.turns[at].chat.queryId;
    if (id) return id;
  }
  return null;
}

/** The journaled question ids of the thread, oldest first. */
export function turnIds(thread: Thread): string[] {
  return thread.turns.flatMap((turn) => (turn.chat.queryId ? [turn.chat.queryId] : []));
}

const STAGE_TEXT: Record<ChatState['stage'], string> = {
  idle: '',
  analysing: 'Analysing the question…',
  planning: 'Planning sub-tasks…',
  dispatching: 'Running the sub-tasks…',
  answering: 'Answering…',
  synthesising: 'Writing the answer from the results…',
  finished: '',
};

/** "Answering…", "Done in 1.2 s.", "Cancelled." */
export function statusText(chat: ChatState): string {
  if (chat.status === 'done') return `Done${chat.ms != null ? ` in ${formatMs(chat.ms)}` : ''}.`;
  if (chat.status === 'error') {
    if (chat.error?.code === 'cancelled') return 'Cancelled.';
    if (chat.error?.code === 'interrupted') return 'Interrupted: Chorus stopped before the answer was finished.';
    return 'The question could not be answered.';
  }
  return STAGE_TEXT[chat.stage];
}

/** "1 turn", "3 turns". */
export function countTurns(count: number): string {
  return `${count} turn${count === 1 ? '' : 's'}`;
}

export interface ContextNotice {
  /** What the conductor made of the question. */
  headline: string;
  /** Its reason, as a sentence. */
  reason: string;
  /** When earlier turns were not used, says so; null when all were. */
  notUsed: string | null;
  /** The self-contained question it was rewritten into, if it was. */
  resolved: string | null;
}

/** The words for a `context` event (a question that continues a conversation). */
export function contextNotice(context: Omit<ContextEvent, 'event'>): ContextNotice {
  const left = Math.max(0, context.turns - context.carried);
  const earlier = left === 1 ? '1 earlier turn was not used' : `${left} earlier turns were not used`;
  const reason = context.reason.trim();
  return {
    headline: context.follow_up
      ? context.resolved
        ? 'Read as a follow-up, and rewritten into a question of its own.'
        : 'Read as a follow-up of this conversation.'
      : 'Read as a question of its own: answered without the conversation.',
    reason: reason ? `Why: ${reason}${/[.!?]$/.test(reason) ? '' : '.'}` : '',
    notUsed:
      left === 0
        ? null
        : `${earlier}: ${context.follow_up ? 'only the last answer goes with a follow-up.' : 'this question was answered on its own.'}`,
    resolved: context.resolved?.trim() || null,
  };
}

/** The conversation's id as the UI writes it (`q3`). */
export function conversationIdOf(summary: ConversationSummary): string {
  return queryIdOf(summary.id);
}
