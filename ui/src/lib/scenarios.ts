// Scripted conductor event sequences, shaped exactly like `chorus ask --json`.
// The mock API plays them with timers; the reducer tests fold them.

import type { ConductorEvent, SubtaskReport, SubtaskStartedEvent } from './types';

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

/** What a sub-task is given: the specialist's system prompt and its part, as the peer would receive them. */
interface Part {
  system: string;
  prompt: string;
  /** Personal details the gate replaced in `system` and `prompt` (they hold the placeholders). */
  redacted?: number;
  /** Why the part stays on this device, if it does. */
  kept?: string;
  attempt?: number;
}

/**
 * A `subtask_started` event as the conductor's gate writes it: on a peer,
 * `left_device`, the count and exactly what was sent; on this device,
 * nothing was sent (and `kept_on_device` when it was kept here).
 */
function started(index: number, specialist: string, executor: string, part: Part): SubtaskStartedEvent {
  const left = executor !== 'local';
  return {
    event: 'subtask_started',
    index,
    specialist,
    executor,
    attempt: part.attempt ?? 1,
    left_device: left,
    redacted: left ? (part.redacted ?? 0) : 0,
    ...(left ? { sent: { system: part.system, prompt: part.prompt } } : {}),
    ...(part.kept ? { kept_on_device: part.kept } : {}),
  };
}

function report(part: Partial<SubtaskReport> & Pick<SubtaskReport, 'index' | 'specialist'>): SubtaskReport {
  return { executor: 'local', status: 'done', attempts: 1, tokens: 0, ms: 0, text: '', error: null, ...part };
}

/**
 * One specialist answers directly on this device. Personal budgeting is a
 * sensitive specialist: with "Keep sensitive parts on this device" on (the
 * default) the event says why it stayed here.
 */
export function simpleScenario(queryId = 'q1', keepSensitive = true): ConductorEvent[] {
  const answer = 'Split the total by three: each person pays a third, rounded to the cent.';
  return [
    { event: 'query', query_id: queryId },
    { event: 'analysis', kind: 'simple', reason: 'one part, matched by keywords', specialists: ['finance.personal-budgeting'] },
    started(0, 'finance.personal-budgeting', 'local', {
      system: 'You are a friendly personal budgeting coach.',
      prompt: 'How do I split a bill three ways?',
      kept: keepSensitive ? 'Personal budgeting coach is a sensitive specialist' : undefined,
    }),
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
    started(0, 'marketing.strategy', 'local', {
      system: 'You are a marketing strategist.',
      prompt: 'Write a marketing plan for a budgeting app.',
    }),
    started(1, 'finance.pricing', peer, {
      system: 'You are a pricing analyst. Show the arithmetic step by step.',
      prompt: 'Work out the pricing maths for a budgeting app.',
    }),
    ...interleave(tokens(strategy, 0), tokens(pricing, 1)),
    { event: 'subtask_done', index: 0, specialist: 'marketing.strategy', executor: 'local', tokens: pieces(strategy).length, ms: 1200 },
    { event: 'subtask_done', index: 1, specialist: 'finance.pricing', executor: peer, tokens: pieces(pricing).length, ms: 1450 },
    started(2, 'translate.es', 'local', {
      system: 'You translate into Spanish.',
      prompt: 'Write a Spanish tagline for a budgeting app.',
    }),
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

const PYTHON_SYSTEM = 'You are an experienced Python developer. Answer with short, correct code.';
const PYTHON_QUESTION = 'How do I double every number in a Python list?';

/** A simple query whose peer drops mid-answer: the answer resets and this device retries. */
export function failoverScenario(queryId = 'q3'): ConductorEvent[] {
  const lost = 'Python lists are ';
  const answer = 'Use a list comprehension: [x * 2 for x in numbers].';
  return [
    { event: 'query', query_id: queryId },
    { event: 'analysis', kind: 'simple', reason: 'one part, matched by keywords', specialists: ['software.python'] },
    started(0, 'software.python', PEER_B, { system: PYTHON_SYSTEM, prompt: PYTHON_QUESTION }),
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
    started(0, 'software.python', 'local', { system: PYTHON_SYSTEM, prompt: PYTHON_QUESTION, attempt: 2 }),
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
    started(0, 'legal-research.privacy', 'local', {
      system: 'You research privacy law and cite the articles.',
      prompt: 'What does GDPR require for user data?',
    }),
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
    started(1, 'translate.fr', PEER_A, { system: 'You translate into French.', prompt: 'Summarise it in French' }),
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

/**
 * A part goes to a peer with two personal details replaced: the peer sees
 * `[EMAIL_1]` and `[PHONE_1]`, and what it writes back has them restored.
 * On-device only, the same part runs here and nothing is sent.
 */
export function redactedScenario(queryId = 'q6', onDeviceOnly = false): ConductorEvent[] {
  const peer = onDeviceOnly ? 'local' : PEER_A;
  const note =
    'Welcome to the beta! We are glad you joined. If anything breaks, write to priya.raman@example.com or call +44 20 7946 0958.';
  const spanish =
    '¡Bienvenida a la beta! Nos alegra que te hayas unido. Si algo falla, escribe a priya.raman@example.com o llama al +44 20 7946 0958.';
  const synthesis = `English:\n${note}\n\nSpanish:\n${spanish}`;
  return [
    { event: 'query', query_id: queryId },
    {
      event: 'analysis',
      kind: 'composite',
      reason: 'two parts: writing and translation',
      specialists: ['marketing.copywriting', 'translate.es'],
    },
    {
      event: 'plan',
      source: 'model',
      subtasks: [
        {
          index: 0,
          specialist: 'marketing.copywriting',
          task: 'Write a short welcome note for beta users; contact: priya.raman@example.com, +44 20 7946 0958.',
          depends_on: [],
        },
        { index: 1, specialist: 'translate.es', task: 'Translate the welcome note into Spanish.', depends_on: [0] },
      ],
      repairs: [],
    },
    started(0, 'marketing.copywriting', peer, {
      system: 'You are a copywriter. Write clear, warm, concise text.',
      prompt: 'Write a short welcome note for beta users; contact: [EMAIL_1], [PHONE_1].',
      redacted: 2,
    }),
    ...tokens(note, 0),
    { event: 'subtask_done', index: 0, specialist: 'marketing.copywriting', executor: peer, tokens: pieces(note).length, ms: 1300 },
    started(1, 'translate.es', 'local', {
      system: 'You translate into Spanish.',
      prompt: `Translate the welcome note into Spanish.\n\n${note}`,
    }),
    ...tokens(spanish, 1),
    { event: 'subtask_done', index: 1, specialist: 'translate.es', executor: 'local', tokens: pieces(spanish).length, ms: 700 },
    ...tokens(synthesis),
    {
      event: 'done',
      answer: synthesis,
      ms: 2600,
      subtasks: [
        report({ index: 0, specialist: 'marketing.copywriting', executor: peer, tokens: pieces(note).length, ms: 1300, text: note }),
        report({ index: 1, specialist: 'translate.es', tokens: pieces(spanish).length, ms: 700, text: spanish }),
      ],
    },
  ];
}

/**
 * A health part stays on this device although a peer offers its specialist
 * (while "Keep sensitive parts on this device" is on); the other part goes
 * to the peer.
 */
export function sensitiveScenario(queryId = 'q7', onDeviceOnly = false, keepSensitive = true): ConductorEvent[] {
  const peer = onDeviceOnly ? 'local' : PEER_A;
  const healthPeer = keepSensitive ? 'local' : peer;
  const health =
    'LDL is the cholesterol that can build up in arteries. A high result is common and usually managed with diet, exercise and, if needed, medicine: your doctor will look at it with your other results.';
  const words = 'análisis de sangre';
  const synthesis = `${health} In Spanish, "blood test" is "${words}".`;
  return [
    { event: 'query', query_id: queryId },
    {
      event: 'analysis',
      kind: 'composite',
      reason: 'two parts: health information and translation',
      specialists: ['medical-info.general-health', 'translate.es'],
    },
    {
      event: 'plan',
      source: 'model',
      subtasks: [
        { index: 0, specialist: 'medical-info.general-health', task: 'Explain what a high LDL cholesterol result means.', depends_on: [] },
        { index: 1, specialist: 'translate.es', task: 'Translate "blood test" into Spanish.', depends_on: [] },
      ],
      repairs: [],
    },
    started(0, 'medical-info.general-health', healthPeer, {
      system: 'You are a careful health information assistant.',
      prompt: 'Explain what a high LDL cholesterol result means.',
      kept: keepSensitive ? 'General health information is a sensitive specialist' : undefined,
    }),
    started(1, 'translate.es', peer, {
      system: 'You translate into Spanish.',
      prompt: 'Translate "blood test" into Spanish.',
    }),
    ...interleave(tokens(health, 0), tokens(words, 1)),
    { event: 'subtask_done', index: 1, specialist: 'translate.es', executor: peer, tokens: pieces(words).length, ms: 350 },
    {
      event: 'subtask_done',
      index: 0,
      specialist: 'medical-info.general-health',
      executor: healthPeer,
      tokens: pieces(health).length,
      ms: 1900,
    },
    ...tokens(synthesis),
    {
      event: 'done',
      answer: synthesis,
      ms: 2800,
      subtasks: [
        report({ index: 0, specialist: 'medical-info.general-health', executor: healthPeer, tokens: pieces(health).length, ms: 1900, text: health }),
        report({ index: 1, specialist: 'translate.es', executor: peer, tokens: pieces(words).length, ms: 350, text: words }),
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

/**
 * A simple question that asks two things of one specialist, with peers
 * running it: split by request, each part a task of its own (here on two peers), the parts'
 * answers joined in order (no synthesis). On-device only it runs whole here.
 */
export function splitScenario(queryId = 'q8'): ConductorEvent[] {
  const system = 'You are a poet. Write vivid, concise poems.';
  const haiku = 'Red leaves drift and fall / the maple lets go softly / cold wind keeps the rest';
  const rules = 'A haiku has three lines of 5, 7 and 5 syllables and usually names a season.';
  const answer = `${haiku}\n\n${rules}`;
  return [
    { event: 'query', query_id: queryId },
    {
      event: 'analysis',
      kind: 'simple',
      reason: 'simple: 2 parts, all within writing; writing.poetry matches "haiku"',
      specialists: ['writing.poetry'],
    },
    {
      event: 'plan',
      source: 'split',
      subtasks: [
        { index: 0, specialist: 'writing.poetry', task: 'Write a haiku about autumn', depends_on: [] },
        { index: 1, specialist: 'writing.poetry', task: 'then explain the rules of the haiku form.', depends_on: [] },
      ],
      repairs: ['2 requests for one specialist, split so that no peer sees more than its own part'],
    },
    started(0, 'writing.poetry', PEER_A, { system, prompt: 'Write a haiku about autumn' }),
    started(1, 'writing.poetry', PEER_B, { system, prompt: 'then explain the rules of the haiku form.' }),
    ...tokens(haiku, 0),
    ...tokens(rules, 1),
    { event: 'subtask_done', index: 0, specialist: 'writing.poetry', executor: PEER_A, tokens: pieces(haiku).length, ms: 900 },
    { event: 'subtask_done', index: 1, specialist: 'writing.poetry', executor: PEER_B, tokens: pieces(rules).length, ms: 1100 },
    { event: 'token', text: answer },
    {
      event: 'done',
      answer,
      ms: 1200,
      subtasks: [
        report({ index: 0, specialist: 'writing.poetry', executor: PEER_A, tokens: pieces(haiku).length, ms: 900, text: haiku }),
        report({ index: 1, specialist: 'writing.poetry', executor: PEER_B, tokens: pieces(rules).length, ms: 1100, text: rules }),
      ],
    },
  ];
}
