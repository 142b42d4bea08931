import { describe, expect, it } from 'vitest';
import { applyEvent, applyEvents, attemptsThatLeft, currentAttempt, initialChat, replay, type ChatState } from './plan';
import {
  compositeScenario,
  errorScenario,
  failoverScenario,
  PEER_A,
  PEER_B,
  pieces,
  queuedScenario,
  redactedScenario,
  sensitiveScenario,
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
      left_device: false,
      redacted: 0,
    });
    expect(state.cards).toHaveLength(1);
    expect(state.cards[0]).toMatchObject({ index: 2, specialist: 'writing.editing', state: 'running' });
  });

  it('accepts a numeric query id', () => {
    expect(applyEvent(initialChat('x'), { event: 'query', query_id: 12 as unknown as string }).queryId).toBe('q12');
  });
});

describe('conversations', () => {
  it('keeps the conversation the query event names, and the context of a follow-up', () => {
    const events: ConductorEvent[] = [
      { event: 'query', query_id: 'q12', conversation: 'q9' },
      { event: 'context', follow_up: true, turns: 3, carried: 1, reason: 'a follow-up (shorter): carries the last question and answer' },
      ...simpleScenario('q12').slice(1),
    ];
    const state = fold(events, 'Make it shorter.');
    expect(state).toMatchObject({ queryId: 'q12', conversation: 'q9', status: 'done' });
    expect(state.context).toEqual({
      follow_up: true,
      turns: 3,
      carried: 1,
      reason: 'a follow-up (shorter): carries the last question and answer',
    });
    // The context arrives before the analysis and changes nothing else.
    expect(after(events, 2)).toMatchObject({ stage: 'analysing', kind: null, cards: [] });
  });

  it('keeps the question the conductor rewrote a follow-up into', () => {
    const state = fold([
      { event: 'query', query_id: 4 as unknown as string, conversation: 2 as unknown as string },
      { event: 'context', follow_up: true, turns: 1, carried: 1, reason: 'rewritten', resolved: 'How do I split a bill four ways?' },
    ]);
    expect(state.queryId).toBe('q4');
    expect(state.conversation).toBe('q2');
    expect(state.context?.resolved).toBe('How do I split a bill four ways?');
  });

  it('has no conversation or context for a question without them', () => {
    const state = fold(simpleScenario('q1'));
    expect(state.conversation).toBeNull();
    expect(state.context).toBeNull();
  });
});

describe('what left the device', () => {
  it('a part on this device: nothing sent; a part on a peer: exactly what it received', () => {
    const end = fold(compositeScenario('q2'));
    expect(end.cards[0].attempts).toEqual([
      { attempt: 1, executor: 'local', leftDevice: false, redacted: 0, sent: null, keptOnDevice: null },
    ]);
    expect(end.cards[1].attempts).toEqual([
      {
        attempt: 1,
        executor: PEER_A,
        leftDevice: true,
        redacted: 0,
        sent: { system: 'You are a pricing analyst. Show the arithmetic step by step.', prompt: 'Work out the pricing maths for a budgeting app.' },
        keptOnDevice: null,
      },
    ]);
    expect(end.cards.map((card) => attemptsThatLeft(card).length)).toEqual([0, 1, 0]);
  });

  it('on-device only: no part left', () => {
    const end = fold(compositeScenario('q2', true));
    expect(end.cards.every((card) => attemptsThatLeft(card).length === 0)).toBe(true);
    expect(end.cards.every((card) => card.attempts.every((attempt) => attempt.sent === null))).toBe(true);
  });

  it('keeps the count of replaced details and the placeholders the peer saw; the answer has the values back', () => {
    const events = redactedScenario('q6');
    const startedAt = events.findIndex((event) => event.event === 'subtask_started');
    const running = after(events, startedAt + 1);
    expect(currentAttempt(running.cards[0])).toMatchObject({ executor: PEER_A, leftDevice: true, redacted: 2 });
    expect(currentAttempt(running.cards[0])?.sent?.prompt).toBe('Write a short welcome note for beta users; contact: [EMAIL_1], [PHONE_1].');
    expect(currentAttempt(running.cards[0])?.sent?.prompt).not.toContain('@');

    const end = fold(events);
    expect(end.cards[0].state).toBe('done');
    expect(currentAttempt(end.cards[0])?.redacted).toBe(2);
    expect(end.cards[0].text).toContain('priya.raman@example.com');
    expect(end.answer).toContain('+44 20 7946 0958');
    // The translation ran here: nothing of it was sent.
    expect(currentAttempt(end.cards[1])).toMatchObject({ executor: 'local', leftDevice: false, sent: null });
  });

  it('the same question on-device only sends nothing', () => {
    const end = fold(redactedScenario('q6', true));
    expect(end.cards.flatMap((card) => card.attempts).some((attempt) => attempt.leftDevice)).toBe(false);
  });

  it('a health part kept on this device says why; the other part goes to the peer', () => {
    const end = fold(sensitiveScenario('q7'));
    expect(currentAttempt(end.cards[0])).toEqual({
      attempt: 1,
      executor: 'local',
      leftDevice: false,
      redacted: 0,
      sent: null,
      keptOnDevice: 'General health information is a sensitive specialist',
    });
    expect(currentAttempt(end.cards[1])).toMatchObject({ executor: PEER_A, leftDevice: true, keptOnDevice: null });

    const shared = fold(sensitiveScenario('q7', false, false));
    expect(currentAttempt(shared.cards[0])).toMatchObject({ executor: PEER_A, leftDevice: true, keptOnDevice: null });
  });

  it('keeps every attempt: a failed one on a peer left the device even when the retry ran here', () => {
    const end = fold(failoverScenario('q3'));
    const card = end.cards[0];
    expect(card.attempts.map((attempt) => [attempt.attempt, attempt.executor, attempt.leftDevice])).toEqual([
      [1, PEER_B, true],
      [2, 'local', false],
    ]);
    expect(currentAttempt(card)?.executor).toBe('local');
    expect(attemptsThatLeft(card).map((attempt) => attempt.attempt)).toEqual([1]);
    expect(attemptsThatLeft(card)[0].sent?.prompt).toBe('How do I double every number in a Python list?');
  });

  it('a repeated start of the same attempt replaces it', () => {
    const start = {
      event: 'subtask_started',
      index: 0,
      specialist: 'translate.es',
      executor: PEER_A,
      attempt: 1,
      left_device: true,
      redacted: 1,
      sent: { system: 's', prompt: 'to [NAME_1]' },
    } as const;
    const state = fold([start, { ...start, redacted: 2 }]);
    expect(state.cards[0].attempts).toHaveLength(1);
    expect(state.cards[0].attempts[0].redacted).toBe(2);
  });

  it('an event without the privacy fields (an older journal): a peer executor still means the part left', () => {
    const old = { event: 'subtask_started', index: 0, specialist: 'translate.es', executor: PEER_A, attempt: 1 } as unknown as ConductorEvent;
    expect(currentAttempt(fold([old]).cards[0])).toEqual({
      attempt: 1,
      executor: PEER_A,
      leftDevice: true,
      redacted: 0,
      sent: null,
      keptOnDevice: null,
    });
    // As the node reads it back (serde defaults): left_device false, redacted 0.
    const defaulted = { ...(old as object), left_device: false, redacted: 0, kept_on_device: '' } as ConductorEvent;
    expect(currentAttempt(fold([defaulted]).cards[0])).toMatchObject({ leftDevice: true, sent: null, keptOnDevice: null });
  });

  it('never mutates the attempts of the state it folds', () => {
    const events = failoverScenario('q3');
    const resetAt = events.findIndex((event) => event.event === 'answer_reset');
    const before = after(events, resetAt + 1);
    const frozen = JSON.stringify(before);
    const next = applyEvent(before, events[resetAt + 1]);
    expect(JSON.stringify(before)).toBe(frozen);
    expect(next.cards[0].attempts).toHaveLength(2);
    expect(before.cards[0].attempts).toHaveLength(1);
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

  it('shows from the journal what left the device and what stayed', () => {
    const state = replay(record({ events: journaled(redactedScenario('q6')) }));
    expect(currentAttempt(state.cards[0])).toMatchObject({ leftDevice: true, redacted: 2 });
    expect(currentAttempt(state.cards[0])?.sent?.prompt).toContain('[EMAIL_1]');
    expect(currentAttempt(replay(record({ events: journaled(sensitiveScenario('q7')) })).cards[0])?.keptOnDevice).toBe(
      'General health information is a sensitive specialist',
    );
  });

  it('replays the context of a follow-up and its conversation', () => {
    const context: ConductorEvent = { event: 'context', follow_up: false, turns: 2, carried: 0, reason: 'the question stands on its own' };
    const state = replay(record({ conversation: 2, events: journaled([context, ...simpleScenario('q4')]) }));
    expect(state.conversation).toBe('q2');
    expect(state.context).toMatchObject({ follow_up: false, turns: 2, carried: 0 });
    expect(state.status).toBe('done');
  });

  it('shows an interrupted query as finished with its partial answer', () => {
    const events = compositeScenario('q4').slice(0, 5);
    const state = replay(record({ status: 'interrupted', answer: 'partial', events: journaled(events) }));
    expect(state.status).toBe('error');
    expect(state.error?.code).toBe('interrupted');
    expect(state.answer).toBe('partial');
  });
});
