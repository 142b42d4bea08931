import { describe, expect, it } from 'vitest';
import { applyEvent, applyEvents, initialChat, replay, type ChatState } from './plan';
import {
  compositeScenario,
  errorScenario,
  failoverScenario,
  PEER_A,
  PEER_B,
  pieces,
  queuedScenario,
  simpleScenario,
} from './scenarios';
import type { ConductorEvent, QueryRecord } from './types';

const fold = (events: ConductorEvent[], question = 'q?') => applyEvents(initialChat(question), events);

/** The state after the first `count` events. */
const after = (events: ConductorEvent[], count: number) => fold(events.slice(0, count));

const tokenText = (events: ConductorEvent[]) =>
  events.map((event) => (event.event === 'token' ? event.text : '')).join('');

describe('applyEvent', () => {
  it('starts idle, or running with a question', () => {
    expect(initialChat()).toMatchObject({ status: 'idle', stage: 'idle', cards: [], answer: '' });
    expect(initialChat('hi')).toMatchObject({ status: 'running', stage: 'analysing', question: 'hi' });
  });

  it('simple query: one card on this device, the answer streams into it and the answer', () => {
    const events = simpleScenario('q7');
    const started = after(events, 3);
    expect(started.queryId).toBe('q7');
    expect(started.kind).toBe('simple');
    expect(started.stage).toBe('answering');
    expect(started.cards).toHaveLength(1);
    expect(started.cards[0]).toMatchObject({ index: 0, specialist: 'finance.personal-budgeting', executor: 'local', state: 'running', attempt: 1 });

    const streaming = after(events, 5);
    expect(streaming.answer).toBe(tokenText(events.slice(0, 5)));
    expect(streaming.cards[0].tokens).toBe(2);

    const end = fold(events);
    expect(end.status).toBe('done');
    expect(end.stage).toBe('finished');
    expect(end.answer).toBe(tokenText(events));
    expect(end.cards[0]).toMatchObject({ state: 'done', ms: 840, tokens: pieces(end.answer).length, retries: 0 });
    expect(end.ms).toBe(910);
  });

  it('composite query: the plan makes pending cards, sub-tasks run in parallel, then the synthesis', () => {
    const events = compositeScenario('q2');
    const planned = after(events, 3);
    expect(planned.stage).toBe('dispatching');
    expect(planned.planSource).toBe('repaired');
    expect(planned.repairs).toEqual(['sub-task 2 moved to translate.es']);
    expect(planned.cards.map((card) => card.state)).toEqual(['pending', 'pending', 'pending']);
    expect(planned.cards[2].dependsOn).toEqual([0]);
    expect(planned.cards[0].task).toBe('Write a marketing plan for a budgeting app.');

    const both = after(events, 5);
    expect(both.cards.map((card) => [card.state, card.executor])).toEqual([
      ['running', 'local'],
      ['running', PEER_A],
      ['pending', null],
    ]);

    // Sub-task tokens go to their cards, not to the answer.
    const streaming = after(events, 9);
    expect(streaming.answer).toBe('');
    expect(streaming.cards[0].tokens).toBe(2);
    expect(streaming.cards[1].tokens).toBe(2);
    expect(streaming.cards[0].text).toBe('Target young ');

    const firstSynthesis = events.findIndex((event, i) => event.event === 'token' && i > 0);
    const synthesising = after(events, firstSynthesis + 1);
    expect(synthesising.stage).toBe('synthesising');
    expect(synthesising.cards.every((card) => card.state === 'done')).toBe(true);
    expect(synthesising.answer).toBe('Reach ');

    const end = fold(events);
    expect(end.status).toBe('done');
    expect(end.cards[1]).toMatchObject({ state: 'done', executor: PEER_A, ms: 1450 });
    expect(end.answer).toContain('Ahorra juntos');
  });

  it('failover: answer_reset drops the failed attempt and the card counts the retry', () => {
    const events = failoverScenario('q3');
    const resetAt = events.findIndex((event) => event.event === 'answer_reset');

    const beforeReset = after(events, resetAt);
    expect(beforeReset.answer).toBe('Python lists are ');
    expect(beforeReset.cards[0]).toMatchObject({ state: 'pending', executor: PEER_B, error: 'disconnected' });
    expect(beforeReset.cards[0].failures).toEqual([{ attempt: 1, executor: PEER_B, error: 'disconnected' }]);

    const reset = after(events, resetAt + 1);
    expect(reset.answer).toBe('');
    expect(reset.resets).toBe(1);

    const retried = after(events, resetAt + 2);
    expect(retried.cards[0]).toMatchObject({ state: 'running', executor: 'local', attempt: 2, retries: 1, tokens: 0, text: '', error: null });

    const end = fold(events);
    expect(end.answer).toBe('Use a list comprehension: [x * 2 for x in numbers].');
    expect(end.answer).toBe(tokenText(events.slice(resetAt + 1)));
    expect(end.cards[0]).toMatchObject({ state: 'done', retries: 1, attempt: 2, executor: 'local' });
  });

  it('queued: a sub-task waits for a peer, then fails; its dependant is skipped', () => {
    const events = queuedScenario('q4');
    const queuedAt = events.findIndex((event) => event.event === 'subtask_queued');
    const queued = after(events, queuedAt + 1);
    expect(queued.cards[1]).toMatchObject({ state: 'queued', queueTimeoutS: 120, executor: null });

    const end = fold(events);
    expect(end.cards.map((card) => card.state)).toEqual(['done', 'failed', 'skipped']);
    expect(end.cards[1]).toMatchObject({ executor: PEER_A, error: 'over_deadline', queueTimeoutS: null });
    expect(end.cards[2].error).toBe('dependency failed');
    expect(end.answer).toContain('Note: some parts could not be answered');
    expect(end.status).toBe('done');
  });

  it('error: the query fails as a whole', () => {
    const end = fold(errorScenario('q5'));
    expect(end.status).toBe('error');
    expect(end.stage).toBe('finished');
    expect(end.error).toEqual({ code: 'nothing_reachable', message: 'no specialist can be reached: install a model or allow the network' });
    expect(end.cards).toEqual([]);
  });

  it('cancelled mid-way: open cards fail, finished ones stay', () => {
    const events = compositeScenario('q2');
    const doneAt = events.findIndex((event) => event.event === 'subtask_done');
    const cancelled = applyEvent(after(events, doneAt + 1), { event: 'error', code: 'cancelled', message: 'cancelled' });
    expect(cancelled.status).toBe('error');
    expect(cancelled.cards.map((card) => card.state)).toEqual(['done', 'failed', 'failed']);
    expect(cancelled.cards[1].error).toBe('cancelled');
  });

  it('ignores events it does not know and never mutates its input', () => {
    const state = after(compositeScenario(), 5);
    const frozen = JSON.stringify(state);
    const unknown = applyEvent(state, { event: 'something_new', value: 1 } as unknown as ConductorEvent);
    expect(unknown).toBe(state);
    const next = applyEvent(state, { event: 'subtask_token', index: 0, text: 'x' });
    expect(JSON.stringify(state)).toBe(frozen);
    expect(next).not.toBe(state);
    expect(next.cards[1]).toBe(state.cards[1]);
  });

  it('creates a card for an index the plan did not list', () => {
    const state: ChatState = applyEvent(initialChat('x'), {
      event: 'subtask_started',
      index: 2,
      specialist: 'writing.editing',
      executor: 'local',
      attempt: 1,
    });
    expect(state.cards).toHaveLength(1);
    expect(state.cards[0]).toMatchObject({ index: 2, specialist: 'writing.editing', state: 'running' });
  });

  it('accepts a numeric query id', () => {
    expect(applyEvent(initialChat('x'), { event: 'query', query_id: 12 as unknown as string }).queryId).toBe('q12');
  });
});

describe('replay', () => {
  const journaled = (events: ConductorEvent[]) =>
    events
      .filter((event) => event.event !== 'token' && event.event !== 'subtask_token' && event.event !== 'query')
      .map((event, seq) => ({ seq, at_ms: 1_700_000_000_000 + seq, event }));

  const record = (part: Partial<QueryRecord>): QueryRecord => ({
    id: 4,
    text: 'Plan and price it',
    mode: 'network',
    status: 'done',
    started_at_ms: 1_700_000_000_000,
    ended_at_ms: 1_700_000_005_000,
    plan: null,
    answer: null,
    error: null,
    subtasks: [],
    events: [],
    ...part,
  });

  it('rebuilds a finished query from its journal (no token events there)', () => {
    const state = replay(record({ events: journaled(compositeScenario('q4')) }));
    expect(state.queryId).toBe('q4');
    expect(state.question).toBe('Plan and price it');
    expect(state.status).toBe('done');
    expect(state.answer).toContain('Ahorra juntos');
    expect(state.cards.map((card) => card.state)).toEqual(['done', 'done', 'done']);
    expect(state.cards[0].text).toBe('Target young savers through short videos and a referral bonus.');
  });

  it('shows an interrupted query as finished with its partial answer', () => {
    const events = compositeScenario('q4').slice(0, 5);
    const state = replay(record({ status: 'interrupted', answer: 'partial', events: journaled(events) }));
    expect(state.status).toBe('error');
    expect(state.error?.code).toBe('interrupted');
    expect(state.answer).toBe('partial');
  });
});
