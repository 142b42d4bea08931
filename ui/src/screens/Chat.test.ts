import { render, screen, waitFor, within } from '@testing-library/svelte';
import userEvent from '@testing-library/user-event';
import { describe, expect, it, vi } from 'vitest';
import { createMockApi } from '../lib/mock';
import { PEER_A, PEER_B } from '../lib/scenarios';
import Chat from './Chat.svelte';

async function ask(question: string) {
  const user = userEvent.setup();
  await user.type(screen.getByLabelText('Your question'), question);
  await user.click(screen.getByTestId('send-button'));
  return user;
}

const finished = () =>
  waitFor(() => expect(screen.getByTestId('chat-status')).not.toHaveAttribute('data-status', 'running'), { timeout: 3000 });

/** Opens the latest turn's plan, collapsed once the turn is done. */
async function openPlan() {
  const toggles = screen.getAllByRole('button', { name: /^Plan/ });
  const toggle = toggles[toggles.length - 1];
  if (toggle.getAttribute('aria-expanded') !== 'true') await userEvent.setup().click(toggle);
  expect(screen.getByTestId('plan').parentElement).toBeVisible();
}

describe('Chat', () => {
  it('streams a simple answer on this device with the privacy switch on, and the plan card', async () => {
    const api = createMockApi({ delayMs: 1 });
    const askSpy = vi.spyOn(api, 'ask');
    render(Chat, { api, defaultPrivacy: 'on_device' });

    const toggle = screen.getByRole('switch', { name: 'On-device only' });
    expect(toggle).toBeChecked();
    expect(screen.getByTestId('send-button')).toBeDisabled();

    await ask('How do I split a bill three ways?');
    expect(askSpy).toHaveBeenCalledWith(
      'How do I split a bill three ways?',
      { onDeviceOnly: true, conversation: null },
      expect.any(Function),
    );

    await finished();
    expect(screen.getByTestId('chat-status')).toHaveAttribute('data-status', 'done');
    expect(screen.getByTestId('answer')).toHaveTextContent('Split the total by three');
    const card = screen.getByTestId('plan-card-0');
    expect(card).toHaveAttribute('data-state', 'done');
    expect(card).toHaveAttribute('data-executor', 'local');
    expect(within(card).getByTestId('plan-card-executor-0')).toHaveTextContent('this device');
    expect(within(card).getByTestId('plan-card-time-0')).toHaveTextContent('840 ms');
    expect(screen.getByTestId('plan-kind')).toHaveAttribute('data-kind', 'simple');
    // The question box is ready for the next one.
    expect(screen.getByLabelText('Your question')).toHaveValue('');
  });

  it('shows the answer while it streams', async () => {
    render(Chat, { api: createMockApi({ delayMs: 40 }), defaultPrivacy: 'on_device' });
    await ask('How do I split a bill?');
    await waitFor(() => expect(screen.getByTestId('answer')).toHaveTextContent('Split the'));
    expect(screen.getByTestId('chat-status')).toHaveAttribute('data-status', 'running');
    expect(screen.getByTestId('answer')).toHaveAttribute('aria-busy', 'true');
    expect(screen.getByTestId('plan-card-0')).toHaveAttribute('data-state', 'running');
    await finished();
  });

  it('overrides the default privacy for one question', async () => {
    const api = createMockApi({ delayMs: 1 });
    const askSpy = vi.spyOn(api, 'ask');
    render(Chat, { api, defaultPrivacy: 'on_device' });
    const user = userEvent.setup();
    await user.click(screen.getByRole('switch', { name: 'On-device only' }));
    expect(screen.getByRole('switch', { name: 'On-device only' })).not.toBeChecked();
    await ask('Write a marketing plan, with pricing and a Spanish tagline');
    expect(askSpy.mock.calls[0][1]).toEqual({ onDeviceOnly: false, conversation: null });
    await finished();
  });

  it('shows one card per sub-task, with the peer and its round-trip time', async () => {
    render(Chat, { api: createMockApi({ delayMs: 1 }), defaultPrivacy: 'network' });
    expect(screen.getByRole('switch', { name: 'On-device only' })).not.toBeChecked();
    await ask('Write a marketing plan, with pricing maths and a Spanish tagline');
    await finished();
    await openPlan();

    const cards = within(screen.getByTestId('plan')).getAllByRole('article');
    expect(cards).toHaveLength(3);
    expect(cards.map((card) => card.getAttribute('data-state'))).toEqual(['done', 'done', 'done']);
    expect(screen.getByTestId('plan-card-1')).toHaveAttribute('data-executor', PEER_A);
    await waitFor(() => expect(screen.getByTestId('plan-card-executor-1')).toHaveTextContent('12 ms round trip'));
    expect(screen.getByTestId('plan-card-executor-0')).toHaveTextContent('this device');
    expect(screen.getByTestId('answer')).toHaveTextContent('Ahorra juntos');
  });

  it('says on each card where the part ran, and shows what the peer saw on demand', async () => {
    render(Chat, { api: createMockApi({ delayMs: 1 }), defaultPrivacy: 'network' });
    await ask('Write a welcome e-mail for beta users, in English and Spanish');
    await finished();
    await openPlan();
    await waitFor(() =>
      expect(screen.getByTestId('plan-card-where-0')).toHaveTextContent(
        'Ran on peer 12D3KooWQm…XyH7a (12 ms round trip) · 2 personal details replaced',
      ),
    );
    expect(screen.getByTestId('plan-card-where-1')).toHaveTextContent(/^Ran on this device$/);
    const toggle = screen.getByTestId('plan-card-sent-toggle-0');
    expect(toggle).toHaveAttribute('aria-expanded', 'false');
    await userEvent.setup().click(toggle);
    expect(toggle).toHaveAttribute('aria-expanded', 'true');
    expect(screen.getByTestId('plan-card-sent-prompt-0-1')).toHaveTextContent('[EMAIL_1], [PHONE_1]');
    // What came back has the real values again.
    expect(screen.getByTestId('answer')).toHaveTextContent('priya.raman@example.com');
  });

  it('shows a simple question split by request for peers, and its parts joined in order', async () => {
    render(Chat, { api: createMockApi({ delayMs: 1 }), defaultPrivacy: 'network' });
    await ask('Write a haiku about autumn; then explain the rules of the haiku form.');
    await finished();
    await openPlan();
    expect(screen.getByTestId('plan-kind')).toHaveAttribute('data-kind', 'simple');
    expect(screen.getByTestId('plan-kind')).toHaveTextContent('no task carried the whole question');
    expect(within(screen.getByTestId('plan')).getAllByRole('article')).toHaveLength(2);
    expect(screen.getByTestId('plan-card-0')).toHaveAttribute('data-executor', PEER_A);
    expect(screen.getByTestId('plan-card-1')).toHaveAttribute('data-executor', PEER_B);
    const answer = screen.getByTestId('answer').textContent ?? '';
    expect(answer.indexOf('Red leaves')).toBeGreaterThanOrEqual(0);
    expect(answer.indexOf('Red leaves')).toBeLessThan(answer.indexOf('A haiku has three lines'));
  });

  it('keeps a health part on this device and says why', async () => {
    render(Chat, { api: createMockApi({ delayMs: 1 }), defaultPrivacy: 'network', keepSensitive: true });
    await ask('What does a high LDL blood result mean, and how do I say blood test in Spanish?');
    await finished();
    expect(screen.getByTestId('plan-card-where-0')).toHaveTextContent(
      'Kept on this device: General health information is a sensitive specialist',
    );
    expect(screen.getByTestId('plan-card-0')).toHaveAttribute('data-executor', 'local');
    expect(screen.getByTestId('plan-card-1')).toHaveAttribute('data-executor', PEER_A);
  });

  it('says what the network means for this question', async () => {
    render(Chat, { api: createMockApi({ delayMs: 1 }), defaultPrivacy: 'network', keepSensitive: true });
    const toggle = screen.getByRole('switch', { name: 'On-device only' });
    expect(toggle).toHaveAccessibleDescription(
      "For this question, peers may run parts, encrypted on the way and with the personal details Chorus recognises replaced; sensitive parts stay on this device. Peers see them come from the asking identity chosen in Settings and from this device's network address.",
    );
    await userEvent.setup().click(toggle);
    expect(toggle).toHaveAccessibleDescription('For this question nothing leaves this device.');
  });

  it('drops the text of a failed attempt and counts the retry', async () => {
    render(Chat, { api: createMockApi({ delayMs: 1 }), defaultPrivacy: 'network' });
    await ask('Why does my Python loop fail?');
    await finished();
    expect(screen.getByTestId('answer-restarted')).toBeInTheDocument();
    expect(screen.getByTestId('answer')).toHaveTextContent(/^Use a list comprehension/);
    expect(screen.getByTestId('answer')).not.toHaveTextContent('Python lists are');
    expect(screen.getByTestId('plan-card-retries-0')).toHaveTextContent('1');
    expect(screen.getByTestId('plan-card-0')).toHaveTextContent('Attempt 1 on peer');
  });

  it('shows a queued sub-task while it waits', async () => {
    render(Chat, { api: createMockApi({ delayMs: 40 }), defaultPrivacy: 'network' });
    await ask('Summarise GDPR and queue a French version');
    await waitFor(() => expect(screen.getByTestId('plan-card-1')).toHaveAttribute('data-state', 'queued'));
    expect(screen.getByTestId('plan-card-1')).toHaveTextContent('up to 120 s');
    await finished();
    expect(screen.getByTestId('plan-card-2')).toHaveAttribute('data-state', 'skipped');
  });

  it('shows an error the UI can branch on', async () => {
    render(Chat, { api: createMockApi({ delayMs: 1 }), defaultPrivacy: 'on_device' });
    await ask('nothing can answer this');
    const alert = await screen.findByTestId('chat-error');
    expect(alert).toHaveAttribute('role', 'alert');
    expect(alert).toHaveAttribute('data-code', 'nothing_reachable');
  });

  it('stops a running query', async () => {
    render(Chat, { api: createMockApi({ delayMs: 40 }), defaultPrivacy: 'on_device' });
    const user = await ask('Write a plan, with prices');
    await user.click(await screen.findByTestId('cancel-button'));
    await waitFor(() => expect(screen.getByTestId('chat-status')).toHaveTextContent('Cancelled.'));
    expect(screen.queryByTestId('chat-error')).not.toBeInTheDocument();
    expect(screen.queryByTestId('cancel-button')).not.toBeInTheDocument();
  });

  it('sends with Enter, not with Shift+Enter', async () => {
    const api = createMockApi({ delayMs: 1 });
    const askSpy = vi.spyOn(api, 'ask');
    render(Chat, { api, defaultPrivacy: 'on_device' });
    const user = userEvent.setup();
    const box = screen.getByLabelText('Your question');
    await user.type(box, 'first line{Shift>}{Enter}{/Shift}second');
    expect(askSpy).not.toHaveBeenCalled();
    expect(box).toHaveValue('first line\nsecond');
    await user.type(box, '{Enter}');
    expect(askSpy).toHaveBeenCalledWith('first line\nsecond', { onDeviceOnly: true, conversation: null }, expect.any(Function));
    await finished();
  });
});
