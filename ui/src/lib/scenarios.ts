// Scripted conductor event sequences, shaped exactly like `chorus ask --json`.
// The mock API plays them with timers; the reducer tests fold them.

import type { ConductorEvent, SubtaskReport } from './types';

export const PEER_A = '12D3KooWQm5sZ8rAAvN6Zq1sWqvYtP3cYBJpLrRkXvB4tWgXyH7a';
export const PEER_B = '12D3KooWHv9F7nLMkzKb3vqX2dQyRZyHCgd2kfmUfWz8eLrTQp4b';

/** Splits text into token-sized pieces (a word and its following space). */
export function pieces(text: string): string[] {
  return text.match(/\S+\s*|\s+/g) ?? [];
}

function tokens(text: string, index?: number): ConductorEvent[] {
  return pieces(text).map((piece) =>
    index === undefined ? { event: 'token', text: piece } : { event: 'subtask_token', index, text: piece },
  );
}

function report(part: Partial<SubtaskReport> & Pick<SubtaskReport, 'index' | 'specialist'>): SubtaskReport {
  return { executor: 'local', status: 'done', attempts: 1, tokens: 0, ms: 0, text: '', error: null, ...part };
}

/** One specialist answers directly on this device. */
export function simpleScenario(queryId = 'q1'): ConductorEvent[] {
  const answer = 'Split the total by three: each person pays a third, rounded to the cent.';
  return [
    { event: 'query', query_id: queryId },
    { event: 'analysis', kind: 'simple', reason: 'one part, matched by keywords', specialists: ['finance.personal-budgeting'] },
    { event: 'subtask_started', index: 0, specialist: 'finance.personal-budgeting', executor: 'local', attempt: 1 },
    ...tokens(answer),
    { event: 'subtask_done', index: 0, specialist: 'finance.personal-budgeting', executor: 'local', tokens: pieces(answer).length, ms: 840 },
    {
      event: 'done',
      answer,
      ms: 910,
      subtasks: [report({ index: 0, specialist: 'finance.personal-budgeting', tokens: pieces(answer).length, ms: 840, text: answer })],
    },
  ];
}

/** Three sub-tasks, one of them on a peer (unless on-device only), then the synthesis. */
export function compositeScenario(queryId = 'q2', onDeviceOnly = false): ConductorEvent[] {
  const peer = onDeviceOnly ? 'local' : PEER_A;
  const strategy = 'Target young savers through short videos and a referral bonus.';
  const pricing = 'A free tier and 3.99 a month for shared budgets breaks even at 2,400 subscribers.';
  const tagline = 'Ahorra juntos, vive mejor.';
  const synthesis = 'Reach young savers with short videos and referrals; price at 3.99 a month after a free tier. Tagline: "Ahorra juntos, vive mejor."';
  return [
    { event: 'query', query_id: queryId },
    {
      event: 'analysis',
      kind: 'composite',
      reason: 'three parts for different domains',
      specialists: ['marketing.strategy', 'finance.pricing', 'translate.es'],
    },
    {
      event: 'plan',
      source: 'repaired',
      subtasks: [
        { index: 0, specialist: 'marketing.strategy', task: 'Write a marketing plan for a budgeting app.', depends_on: [] },
        { index: 1, specialist: 'finance.pricing', task: 'Work out the pricing maths for a budgeting app.', depends_on: [] },
        { index: 2, specialist: 'translate.es', task: 'Write a Spanish tagline for a budgeting app.', depends_on: [0] },
      ],
      repairs: ['sub-task 2 moved to translate.es'],
    },
    { event: 'subtask_started', index: 0, specialist: 'marketing.strategy', executor: 'local', attempt: 1 },
    { event: 'subtask_started', index: 1, specialist: 'finance.pricing', executor: peer, attempt: 1 },
    ...interleave(tokens(strategy, 0), tokens(pricing, 1)),
    { event: 'subtask_done', index: 0, specialist: 'marketing.strategy', executor: 'local', tokens: pieces(strategy).length, ms: 1200 },
    { event: 'subtask_done', index: 1, specialist: 'finance.pricing', executor: peer, tokens: pieces(pricing).length, ms: 1450 },
    { event: 'subtask_started', index: 2, specialist: 'translate.es', executor: 'local', attempt: 1 },
    ...tokens(tagline, 2),
    { event: 'subtask_done', index: 2, specialist: 'translate.es', executor: 'local', tokens: pieces(tagline).length, ms: 400 },
    ...tokens(synthesis),
    {
      event: 'done',
      answer: synthesis,
      ms: 3100,
      subtasks: [
        report({ index: 0, specialist: 'marketing.strategy', tokens: pieces(strategy).length, ms: 1200, text: strategy }),
        report({ index: 1, specialist: 'finance.pricing', executor: peer, tokens: pieces(pricing).length, ms: 1450, text: pricing }),
        report({ index: 2, specialist: 'translate.es', tokens: pieces(tagline).length, ms: 400, text: tagline }),
      ],
    },
  ];
}

/** A simple query whose peer drops mid-answer: the answer resets and this device retries. */
export function failoverScenario(queryId = 'q3'): ConductorEvent[] {
  const lost = 'Python lists are ';
  const answer = 'Use a list comprehension: [x * 2 for x in numbers].';
  return [
    { event: 'query', query_id: queryId },
    { event: 'analysis', kind: 'simple', reason: 'one part, matched by keywords', specialists: ['software.python'] },
    { event: 'subtask_started', index: 0, specialist: 'software.python', executor: PEER_B, attempt: 1 },
    ...tokens(lost),
    {
      event: 'subtask_failed',
      index: 0,
      specialist: 'software.python',
      executor: PEER_B,
      error: 'disconnected',
      attempt: 1,
      will_retry: true,
    },
    { event: 'answer_reset', attempt: 1 },
    { event: 'subtask_started', index: 0, specialist: 'software.python', executor: 'local', attempt: 2 },
    ...tokens(answer),
    { event: 'subtask_done', index: 0, specialist: 'software.python', executor: 'local', tokens: pieces(answer).length, ms: 650 },
    {
      event: 'done',
      answer,
      ms: 2300,
      subtasks: [
        report({ index: 0, specialist: 'software.python', attempts: 2, tokens: pieces(answer).length, ms: 650, text: answer }),
      ],
    },
  ];
}

/** A sub-task waits in the durable queue until a peer appears; a dependent one is skipped after a failure. */
export function queuedScenario(queryId = 'q4'): ConductorEvent[] {
  const law = 'Keep records of consent and let users delete their data.';
  const french = 'Le traitement des données exige un consentement explicite.';
  const synthesis = 'Record consent and honour deletion requests. The French summary could not be written.';
  const note = '\n\nNote: some parts could not be answered:\n- Summarise it in French (translate.fr): over_deadline';
  return [
    { event: 'query', query_id: queryId },
    { event: 'analysis', kind: 'composite', reason: 'two parts', specialists: ['legal-research.privacy', 'translate.fr'] },
    {
      event: 'plan',
      source: 'model',
      subtasks: [
        { index: 0, specialist: 'legal-research.privacy', task: 'What does GDPR require for user data?', depends_on: [] },
        { index: 1, specialist: 'translate.fr', task: 'Summarise it in French', depends_on: [] },
        { index: 2, specialist: 'translate.fr', task: 'Check the French summary', depends_on: [1] },
      ],
      repairs: [],
    },
    { event: 'subtask_started', index: 0, specialist: 'legal-research.privacy', executor: 'local', attempt: 1 },
    {
      event: 'subtask_queued',
      index: 1,
      specialist: 'translate.fr',
      system: 'You translate into French.',
      prompt: 'Summarise it in French',
      timeout_s: 120,
    },
    ...tokens(law, 0),
    { event: 'subtask_done', index: 0, specialist: 'legal-research.privacy', executor: 'local', tokens: pieces(law).length, ms: 900 },
    { event: 'subtask_started', index: 1, specialist: 'translate.fr', executor: PEER_A, attempt: 1 },
    ...tokens(french, 1),
    {
      event: 'subtask_failed',
      index: 1,
      specialist: 'translate.fr',
      executor: PEER_A,
      error: 'over_deadline',
      attempt: 1,
      will_retry: false,
    },
    { event: 'subtask_skipped', index: 2, reason: 'depends on sub-task 2, which failed' },
    ...tokens(synthesis),
    { event: 'token', text: note },
    {
      event: 'done',
      answer: synthesis + note,
      ms: 5200,
      subtasks: [
        report({ index: 0, specialist: 'legal-research.privacy', tokens: pieces(law).length, ms: 900, text: law }),
        report({ index: 1, specialist: 'translate.fr', executor: PEER_A, status: 'timed_out', ms: 3000, error: 'over_deadline' }),
        report({ index: 2, specialist: 'translate.fr', executor: '', status: 'skipped', attempts: 0, error: 'dependency failed' }),
      ],
    },
  ];
}

/** Nothing can answer: no specialist installed and no network. */
export function errorScenario(queryId = 'q5'): ConductorEvent[] {
  return [
    { event: 'query', query_id: queryId },
    {
      event: 'error',
      code: 'nothing_reachable',
      message: 'no specialist can be reached: install a model or allow the network',
    },
  ];
}

function interleave<T>(first: T[], second: T[]): T[] {
  const out: T[] = [];
  for (let i = 0; i < Math.max(first.length, second.length); i += 1) {
    if (i < first.length) out.push(first[i]);
    if (i < second.length) out.push(second[i]);
  }
  return out;
}
