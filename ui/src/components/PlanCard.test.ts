import { render, screen, within } from '@testing-library/svelte';
import userEvent from '@testing-library/user-event';
import axe from 'axe-core';
import { describe, expect, it } from 'vitest';
import { applyEvents, initialChat, type PlanCard as Card } from '../lib/plan';
import { compositeScenario, failoverScenario, PEER_A, redactedScenario, sensitiveScenario } from '../lib/scenarios';
import type { ConductorEvent } from '../lib/types';
import PlanCard from './PlanCard.svelte';

const cardOf = (events: ConductorEvent[], index: number): Card => applyEvents(initialChat('q?'), events).cards[index];

/** The WCAG A/AA rules the end-to-end test runs; contrast needs a real layout engine, so it is left to that test. */
async function violations(container: HTMLElement) {
  const result = await axe.run(container, {
    runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] },
    rules: { 'color-contrast': { enabled: false } },
  });
  expect(result.passes.length).toBeGreaterThan(0);
  return result.violations.map((violation) => `${violation.id}: ${violation.nodes.map((node) => node.html).join(' | ')}`);
}

describe('PlanCard: where the part ran and what left the device', () => {
  it('a part on this device says so, and offers nothing to show', () => {
    render(PlanCard, { card: cardOf(compositeScenario('q2'), 0) });
    const where = screen.getByTestId('plan-card-where-0');
    expect(where).toHaveTextContent(/^Ran on this device$/);
    expect(where).toHaveAttribute('data-where', 'device');
    expect(screen.getByTestId('plan-card-executor-0')).toHaveTextContent('this device');
    expect(screen.queryByTestId('plan-card-redacted-0')).not.toBeInTheDocument();
    expect(screen.queryByTestId('plan-card-sent-toggle-0')).not.toBeInTheDocument();
  });

  it('a part on a peer: the peer, the round trip, how many details were replaced', () => {
    render(PlanCard, { card: cardOf(redactedScenario('q6'), 0), rttMs: 12 });
    const where = screen.getByTestId('plan-card-where-0');
    expect(where).toHaveAttribute('data-where', 'peer');
    expect(where).toHaveTextContent('Ran on peer 12D3KooWQm…XyH7a (12 ms round trip) · 2 personal details replaced');
    expect(screen.getByTestId('plan-card-executor-0')).toHaveTextContent('12 ms round trip');
    expect(screen.getByTestId('plan-card-redacted-0')).toHaveAttribute('data-redacted', '2');
    expect(within(where).getByTitle(PEER_A)).toBeInTheDocument();
  });

  it('says "nothing personal to replace" when the gate found nothing', () => {
    render(PlanCard, { card: cardOf(compositeScenario('q2'), 1) });
    expect(screen.getByTestId('plan-card-redacted-1')).toHaveTextContent('nothing personal to replace');
  });

  it('while it runs, "Running on"', () => {
    const events = redactedScenario('q6');
    const startedAt = events.findIndex((event) => event.event === 'subtask_started');
    render(PlanCard, { card: cardOf(events.slice(0, startedAt + 1), 0) });
    expect(screen.getByTestId('plan-card-where-0')).toHaveTextContent(/^Running on peer/);
  });

  it('a part kept on this device says why', () => {
    render(PlanCard, { card: cardOf(sensitiveScenario('q7'), 0) });
    const where = screen.getByTestId('plan-card-where-0');
    expect(where).toHaveAttribute('data-where', 'kept');
    expect(where).toHaveTextContent('Kept on this device: General health information is a sensitive specialist');
    expect(screen.getByTestId('plan-card-kept-0')).toHaveTextContent('General health information is a sensitive specialist');
    expect(screen.queryByTestId('plan-card-sent-toggle-0')).not.toBeInTheDocument();
  });

  it('before it starts, not started', () => {
    const events = compositeScenario('q2');
    render(PlanCard, { card: cardOf(events.slice(0, 3), 2) });
    expect(screen.getByTestId('plan-card-where-2')).toHaveTextContent('Not started yet');
    expect(screen.getByTestId('plan-card-where-2')).toHaveAttribute('data-where', 'none');
  });

  it('a part on a peer from an older journal, without the record of what was sent', () => {
    const old = { event: 'subtask_started', index: 0, specialist: 'translate.es', executor: PEER_A, attempt: 1 } as unknown as ConductorEvent;
    render(PlanCard, { card: cardOf([old], 0) });
    expect(screen.getByTestId('plan-card-where-0')).toHaveTextContent('Running on peer 12D3KooWQm…XyH7a · what it received was not recorded');
    expect(screen.queryByTestId('plan-card-sent-toggle-0')).not.toBeInTheDocument();
  });
});

describe('PlanCard: "What the peer saw"', () => {
  it('is a collapsed button that opens the exact text, placeholders marked, by mouse or keyboard', async () => {
    const user = userEvent.setup();
    const card = cardOf(redactedScenario('q6'), 0);
    render(PlanCard, { card });
    const toggle = screen.getByRole('button', { name: 'What the peer saw' });
    expect(toggle).toBe(screen.getByTestId('plan-card-sent-toggle-0'));
    expect(toggle).toHaveAttribute('aria-expanded', 'false');
    expect(toggle).toHaveAttribute('aria-controls', 'plan-card-sent-0');
    const panel = screen.getByTestId('plan-card-sent-0');
    expect(panel).toHaveAttribute('id', 'plan-card-sent-0');
    expect(panel).not.toBeVisible();

    await user.click(toggle);
    expect(toggle).toHaveAttribute('aria-expanded', 'true');
    expect(panel).toBeVisible();

    const prompt = screen.getByTestId('plan-card-sent-prompt-0-1');
    expect(prompt.tagName).toBe('PRE');
    expect(prompt.textContent).toBe('Write a short welcome note for beta users; contact: [EMAIL_1], [PHONE_1].');
    expect(prompt).toHaveAccessibleName('Sub-task 1, attempt 1: The text it received');
    expect(prompt).toHaveAttribute('tabindex', '0');
    const marks = [...prompt.querySelectorAll('mark')];
    expect(marks.map((mark) => [mark.textContent, mark.title])).toEqual([
      ['[EMAIL_1]', 'an e-mail address was here'],
      ['[PHONE_1]', 'a phone number was here'],
    ]);
    expect(screen.getByTestId('plan-card-sent-system-0-1').textContent).toBe('You are a copywriter. Write clear, warm, concise text.');
    expect(panel).toHaveTextContent(
      'Marked items such as [EMAIL_1] stand in for personal details Chorus replaced: the peer never received the details themselves, and this device put them back into its reply.',
    );

    // The keyboard: Tab reaches the button, Enter and Space toggle it.
    toggle.blur();
    await user.tab();
    expect(toggle).toHaveFocus();
    await user.keyboard('{Enter}');
    expect(toggle).toHaveAttribute('aria-expanded', 'false');
    expect(panel).not.toBeVisible();
    await user.keyboard(' ');
    expect(toggle).toHaveAttribute('aria-expanded', 'true');
    // The scrollable text takes the focus next, so it scrolls with the keys.
    await user.tab();
    expect(prompt).toHaveFocus();
  });

  it('shows what a failed attempt sent to a peer, although the retry ran here', async () => {
    const card = cardOf(failoverScenario('q3'), 0);
    render(PlanCard, { card });
    expect(screen.getByTestId('plan-card-where-0')).toHaveTextContent(/^Ran on this device$/);
    expect(screen.getByTestId('plan-card-earlier-0')).toHaveTextContent(
      'Attempt 1 went to peer 12D3KooWHv…TQp4b · nothing personal to replace',
    );
    await userEvent.setup().click(screen.getByTestId('plan-card-sent-toggle-0'));
    const panel = screen.getByTestId('plan-card-sent-0');
    expect(panel).toHaveTextContent('Attempt 1, peer 12D3KooWHv…TQp4b');
    expect(screen.getByTestId('plan-card-sent-prompt-0-1')).toHaveTextContent('How do I double every number in a Python list?');
    // No placeholder in it: no legend for them.
    expect(panel).not.toHaveTextContent('stand in for');
  });

  it('has no accessibility violations, closed or open', async () => {
    const { container } = render(PlanCard, { card: cardOf(redactedScenario('q6'), 0), rttMs: 12 });
    expect(await violations(container)).toEqual([]);
    await userEvent.setup().click(screen.getByTestId('plan-card-sent-toggle-0'));
    expect(await violations(container)).toEqual([]);
  });

  it('has no accessibility violations for a kept part and a retried one', async () => {
    const { container } = render(PlanCard, { card: cardOf(sensitiveScenario('q7'), 0) });
    expect(await violations(container)).toEqual([]);
    const second = render(PlanCard, { card: cardOf(failoverScenario('q3'), 0) });
    await userEvent.setup().click(within(second.container).getByTestId('plan-card-sent-toggle-0'));
    expect(await violations(second.container)).toEqual([]);
  });
});

describe('PlanCard: on an earlier turn', () => {
  it('carries no test ids, and prefixes its element ids so that several plans keep them unique', async () => {
    const { container } = render(PlanCard, { card: cardOf(redactedScenario('q6'), 0), testids: false, idPrefix: 'turn3-' });
    expect(container.querySelectorAll('[data-testid]')).toHaveLength(0);
    const toggle = screen.getByRole('button', { name: /What the peer saw/ });
    expect(toggle).toHaveAttribute('aria-controls', 'turn3-plan-card-sent-0');
    expect(container.querySelector('#turn3-plan-card-sent-0')).not.toBeNull();
    expect(container.querySelector('#plan-card-sent-0')).toBeNull();
    await userEvent.setup().click(toggle);
    expect(screen.getByRole('region', { name: /Sub-task 1, attempt 1: The text it received/ })).toHaveTextContent('[EMAIL_1]');
    expect(await violations(container)).toEqual([]);
  });
});
