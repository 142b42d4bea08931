// The chat view as a pure fold over conductor events:
// `events.reduce(applyEvent, initialChat(question))`. The same reducer shows a
// live query and replays a journaled one. It never mutates its input.

import type {
  ConductorEvent,
  ContextEvent,
  ErrorInfo,
  QueryRecord,
  SentText,
  SubtaskReport,
  SubtaskStartedEvent,
  SubtaskStatus,
} from './types';
import { queryIdOf } from './api';

export type CardState = 'pending' | 'queued' | 'running' | 'done' | 'failed' | 'skipped';

/** `local` in the events; shown as "this device". */
export const LOCAL = 'local';

export interface FailedAttempt {
  attempt: number;
  executor: string;
  error: string;
}

/**
 * One started attempt of a sub-task: where it ran and what left this device
 * for it (the `subtask_started` event; docs/PRIVACY.md, "Shown to the user").
 */
export interface Attempt {
  /** 1 for the first. */
  attempt: number;
  /** `local` or a peer id. */
  executor: string;
  /** It ran on a peer, so the part left this device. */
  leftDevice: boolean;
  /** Personal details replaced by placeholders in what the peer received. */
  redacted: number;
  /** Exactly what the peer received; null when the part stayed here, or when the event did not record it. */
  sent: SentText | null;
  /** Why the part was kept on this device (it is sensitive), if it was. */
  keptOnDevice: string | null;
}

/** One sub-task of the plan, as a card beside the answer. */
export interface PlanCard {
  index: number;
  specialist: string;
  /** The sub-task's instruction (empty for a simple query). */
  task: string;
  dependsOn: number[];
  /** `local` or a peer id; null until it starts. */
  executor: string | null;
  state: CardState;
  /** The attempt running or last run (0 before the first). */
  attempt: number;
  /** Attempts after the first. */
  retries: number;
  /** Tokens streamed so far, the exact count once done. */
  tokens: number;
  /** Text streamed by the current attempt. */
  text: string;
  /** Milliseconds of the successful (or last) attempt. */
  ms: number | null;
  /** Why it failed or was skipped. */
  error: string | null;
  /** Earlier attempts that failed. */
  failures: FailedAttempt[];
  /** Longest wait in the queue, seconds, while queued. */
  queueTimeoutS: number | null;
  /** Every attempt that started, in order: a failed one on a peer still left the device. */
  attempts: Attempt[];
}

/** Where the conductor is: analyse → plan → dispatch → synthesise. */
export type Stage = 'idle' | 'analysing' | 'planning' | 'dispatching' | 'answering' | 'synthesising' | 'finished';

export interface ChatState {
  question: string;
  queryId: string | null;
  /** The conversation the query belongs to (its first question's id), once known. */
  conversation: string | null;
  /** How the conversation was used, for a question that continues one. */
  context: Omit<ContextEvent, 'event'> | null;
  status: 'idle' | 'running' | 'done' | 'error';
  stage: Stage;
  kind: 'simple' | 'composite' | null;
  reason: string;
  specialists: string[];
  planSource: 'analysis' | 'model' | 'repaired' | 'fallback' | 'split' | null;
  repairs: string[];
  cards: PlanCard[];
  /** The answer so far: the `token` text after the last `answer_reset`. */
  answer: string;
  /** How many times the answer restarted. */
  resets: number;
  error: ErrorInfo | null;
  /** Whole query, once done. */
  ms: number | null;
}

export function initialChat(question = ''): ChatState {
  return {
    question,
    queryId: null,
    conversation: null,
    context: null,
    status: question ? 'running' : 'idle',
    stage: question ? 'analysing' : 'idle',
    kind: null,
    reason: '',
    specialists: [],
    planSource: null,
    repairs: [],
    cards: [],
    answer: '',
    resets: 0,
    error: null,
    ms: null,
  };
}

function newCard(index: number, specialist: string, task = '', dependsOn: number[] = []): PlanCard {
  return {
    index,
    specialist,
    task,
    dependsOn,
    executor: null,
    state: 'pending',
    attempt: 0,
    retries: 0,
    tokens: 0,
    text: '',
    ms: null,
    error: null,
    failures: [],
    queueTimeoutS: null,
    attempts: [],
  };
}

/**
 * The attempt an event describes. A part whose executor is a peer left the
 * device even if the event does not say so: a journal written before the
 * privacy fields existed reads back with `left_device` false and no `sent`.
 */
export function attemptOf(event: SubtaskStartedEvent): Attempt {
  return {
    attempt: event.attempt,
    executor: event.executor,
    leftDevice: event.left_device === true || event.executor !== LOCAL,
    redacted: event.redacted ?? 0,
    sent: event.sent ?? null,
    keptOnDevice: event.kept_on_device || null,
  };
}

/** The attempt running now, or the last one that ran; null before the first. */
export function currentAttempt(card: PlanCard): Attempt | null {
  return card.attempts.length > 0 ? card.attempts[card.attempts.length - 1] : null;
}

/** The attempts whose part left this device, oldest first. */
export function attemptsThatLeft(card: PlanCard): Attempt[] {
  return card.attempts.filter((attempt) => attempt.leftDevice);
}

/** `attempts` with `next` in place of the attempt of the same number, or appended. */
function withAttempt(attempts: Attempt[], next: Attempt): Attempt[] {
  const at = attempts.findIndex((known) => known.attempt === next.attempt);
  return at >= 0 ? attempts.map((known, i) => (i === at ? next : known)) : [...attempts, next];
}

/** Returns `state` with card `index` replaced by `change(card)`; creates the card if the plan did not list it. */
function updateCard(
  state: ChatState,
  index: number,
  specialist: string | null,
  change: (card: PlanCard) => PlanCard,
): ChatState {
  const at = state.cards.findIndex((card) => card.index === index);
  const base = at >= 0 ? state.cards[at] : newCard(index, specialist ?? state.specialists[0] ?? '');
  const card = change(base);
  const cards = at >= 0 ? state.cards.map((old, i) => (i === at ? card : old)) : [...state.cards, card].sort((a, b) => a.index - b.index);
  return { ...state, cards };
}

function finished(card: PlanCard): boolean {
  return card.state === 'done' || card.state === 'failed' || card.state === 'skipped';
}

function stateOf(status: SubtaskStatus): CardState {
  switch (status) {
    case 'done':
      return 'done';
    case 'skipped':
      return 'skipped';
    default:
      return 'failed';
  }
}

function settle(card: PlanCard, report: SubtaskReport): PlanCard {
  const attempts = Math.max(report.attempts, card.attempt);
  return {
    ...card,
    specialist: report.specialist || card.specialist,
    executor: report.executor || card.executor,
    state: stateOf(report.status),
    attempt: attempts,
    retries: Math.max(0, attempts - 1),
    tokens: report.status === 'done' ? report.tokens : card.tokens,
    text: report.text || card.text,
    ms: report.ms || card.ms,
    error: report.status === 'done' ? null : (report.error ?? card.error ?? report.status),
    queueTimeoutS: null,
  };
}

export function applyEvent(state: ChatState, event: ConductorEvent): ChatState {
  switch (event.event) {
    case 'query':
      return {
        ...state,
        queryId: queryIdOf(event.query_id),
        conversation: event.conversation != null ? queryIdOf(event.conversation) : state.conversation,
        status: 'running',
      };
    case 'context': {
      const { follow_up, turns, carried, reason, resolved } = event;
      return { ...state, context: resolved ? { follow_up, turns, carried, reason, resolved } : { follow_up, turns, carried, reason } };
    }
    case 'analysis':
      return {
        ...state,
        status: 'running',
        kind: event.kind,
        reason: event.reason,
        specialists: event.specialists,
        stage: event.kind === 'composite' ? 'planning' : 'answering',
      };
    case 'plan':
      return {
        ...state,
        stage: 'dispatching',
        planSource: event.source,
        repairs: event.repairs,
        cards: event.subtasks.map((step) => {
          const known = state.cards.find((card) => card.index === step.index);
          return known
            ? { ...known, specialist: step.specialist, task: step.task, dependsOn: step.depends_on }
            : newCard(step.index, step.specialist, step.task, step.depends_on);
        }),
      };
    case 'subtask_queued':
      return updateCard(state, event.index, event.specialist, (card) => ({
        ...card,
        state: 'queued',
        queueTimeoutS: event.timeout_s,
      }));
    case 'subtask_started':
      return updateCard(state, event.index, event.specialist, (card) => ({
        ...card,
        specialist: event.specialist,
        executor: event.executor,
        state: 'running',
        attempt: event.attempt,
        retries: Math.max(0, event.attempt - 1),
        tokens: event.attempt === card.attempt ? card.tokens : 0,
        text: event.attempt === card.attempt ? card.text : '',
        error: null,
        queueTimeoutS: null,
        attempts: withAttempt(card.attempts, attemptOf(event)),
      }));
    case 'subtask_token':
      return updateCard(state, event.index, null, (card) => ({
        ...card,
        tokens: card.tokens + 1,
        text: card.text + event.text,
      }));
    case 'subtask_done':
      return updateCard(state, event.index, event.specialist, (card) => ({
        ...card,
        specialist: event.specialist,
        executor: event.executor,
        state: 'done',
        tokens: event.tokens,
        ms: event.ms,
        error: null,
      }));
    case 'subtask_failed':
      return updateCard(state, event.index, event.specialist, (card) => ({
        ...card,
        executor: event.executor,
        // Another attempt follows: the card waits for it rather than fail.
        state: event.will_retry ? 'pending' : 'failed',
        attempt: event.attempt,
        error: event.error,
        failures: [...card.failures, { attempt: event.attempt, executor: event.executor, error: event.error }],
      }));
    case 'subtask_skipped':
      return updateCard(state, event.index, null, (card) => ({ ...card, state: 'skipped', error: event.reason }));
    case 'token': {
      const next = { ...state, answer: state.answer + event.text };
      if (state.kind === 'simple') {
        // A simple query's specialist writes the answer itself: its card streams too.
        const running = state.cards.find((card) => card.state === 'running');
        return running
          ? updateCard(next, running.index, null, (card) => ({ ...card, tokens: card.tokens + 1, text: card.text + event.text }))
          : next;
      }
      const synthesising = state.cards.length > 0 && state.cards.every(finished);
      return synthesising ? { ...next, stage: 'synthesising' } : next;
    }
    case 'answer_reset':
      return { ...state, answer: '', resets: state.resets + 1 };
    case 'done': {
      let next: ChatState = { ...state, answer: event.answer, status: 'done', stage: 'finished', ms: event.ms };
      for (const report of event.subtasks) {
        next = updateCard(next, report.index, report.specialist, (card) => settle(card, report));
      }
      return next;
    }
    case 'error':
      return {
        ...state,
        status: 'error',
        stage: 'finished',
        error: { code: event.code, message: event.message },
        // Nothing more will happen to the parts still open.
        cards: state.cards.map((card) =>
          finished(card) ? card : { ...card, state: 'failed', error: card.error ?? event.code },
        ),
      };
    default:
      // A newer node may send events this UI does not know: they change nothing.
      return state;
  }
}

export function applyEvents(state: ChatState, events: ConductorEvent[]): ChatState {
  return events.reduce(applyEvent, state);
}

/** The chat view of a journaled query (its token events were not journaled; `done` carries the texts). */
export function replay(record: QueryRecord): ChatState {
  let state = applyEvents(
    {
      ...initialChat(record.text),
      queryId: queryIdOf(record.id),
      conversation: record.conversation != null ? queryIdOf(record.conversation) : null,
    },
    record.events.map((entry) => entry.event),
  );
  if (!state.answer && record.answer) state = { ...state, answer: record.answer };
  if (state.status === 'running' && record.status !== 'running') {
    // Interrupted (the process stopped) or cancelled before any final event.
    state = {
      ...state,
      status: record.status === 'done' ? 'done' : 'error',
      stage: 'finished',
      error:
        record.status === 'done'
          ? null
          : { code: record.status, message: record.error ?? `the query was ${record.status}` },
    };
  }
  return state;
}
