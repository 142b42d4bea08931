import { render, screen, waitFor, within } from '@testing-library/svelte';
import userEvent from '@testing-library/user-event';
import axe from 'axe-core';
import { describe, expect, it, vi } from 'vitest';
import { createMockApi } from '../lib/mock';
import Chat from './Chat.svelte';

const user = () => userEvent.setup();

async function ask(question: string) {
  await user().type(screen.getByLabelText('Your question'), question);
  await user().click(screen.getByTestId('send-button'));
}

/** Waits until the latest turn (the one with `chat-status`) has ended. */
const finished = () =>
  waitFor(() => expect(screen.getByTestId('chat-status')).not.toHaveAttribute('data-status', 'running'), { timeout: 3000 });

function setup(delayMs = 1) {
  const api = createMockApi({ delayMs });
  const askSpy = vi.spyOn(api, 'ask');
  render(Chat, { api, defaultPrivacy: 'on_device' });
  return { api, askSpy };
}

/** Two conversations: q1 → q2 (a follow-up), then q3 on its own. */
async function twoConversations() {
  const setupResult = setup();
  await ask('How do I split a bill three ways?');
  await finished();
  await ask('Make it shorter.');
  await finished();
  await user().click(screen.getByTestId('new-conversation'));
  await ask('Write a plan, with prices');
  await finished();
  await waitFor(() => expect(screen.getByTestId('conversation-item-q3')).toBeInTheDocument());
  return setupResult;
}

describe('Chat: a conversation', () => {
  it('continues the conversation: the second question goes with the first one’s id, and both turns show', async () => {
    const { askSpy } = setup();
    expect(screen.getByTestId('thread')).not.toHaveAttribute('data-conversation');
    await ask('How do I split a bill three ways?');
    await finished();
    expect(screen.getByTestId('thread')).toHaveAttribute('data-conversation', 'q1');

    await ask('Make it shorter.');
    expect(askSpy).toHaveBeenLastCalledWith('Make it shorter.', { onDeviceOnly: true, conversation: 'q1' }, expect.any(Function));
    await finished();

    const turns = within(screen.getByTestId('thread')).getAllByTestId(/^turn-q\d+$/);
    expect(turns.map((turn) => turn.dataset.testid)).toEqual(['turn-q1', 'turn-q2']);
    expect(screen.getByTestId('turn-question-q1')).toHaveTextContent('How do I split a bill three ways?');
    expect(screen.getByTestId('turn-question-q2')).toHaveTextContent('Make it shorter.');
    expect(screen.getByTestId('turn-answer-q1')).toHaveTextContent(/^Split the total by three/);
    expect(screen.getByTestId('turn-answer-q2')).toHaveTextContent(/^In short: Split the total/);
    expect(screen.getByTestId('turn-status-q1')).toHaveAttribute('data-status', 'done');
    expect(screen.getByTestId('thread')).toHaveAttribute('data-conversation', 'q1');

    // The chat's own ids are on the latest turn only, once each.
    for (const testid of ['chat-status', 'answer', 'plan', 'plan-kind', 'plan-card-0']) {
      expect(screen.getAllByTestId(testid)).toHaveLength(1);
      expect(within(screen.getByTestId('turn-q2')).getByTestId(testid)).toBeInTheDocument();
    }
    expect(document.querySelectorAll('#answer')).toHaveLength(1);

    const context = screen.getByTestId('turn-context-q2');
    expect(context).toHaveAttribute('data-follow-up', 'true');
    expect(context).toHaveAttribute('data-turns', '1');
    expect(context).toHaveAttribute('data-carried', '1');
    expect(context).toHaveTextContent('Read as a follow-up of this conversation.');
    expect(context).not.toHaveTextContent('not used');
    expect(screen.queryByTestId('turn-context-q1')).not.toBeInTheDocument();
  });

  it('says plainly which earlier turns a follow-up did not use', async () => {
    setup();
    await ask('How do I split a bill three ways?');
    await finished();
    await ask('Make it shorter.');
    await finished();
    await ask('Make it shorter.');
    await finished();
    const context = screen.getByTestId('turn-context-q3');
    expect(context).toHaveAttribute('data-turns', '2');
    expect(context).toHaveAttribute('data-carried', '1');
    expect(context).toHaveTextContent('1 earlier turn was not used: only the last answer goes with a follow-up.');
    expect(context).toHaveTextContent('Why: a follow-up ("make it" points back): carries the last question and answer; 1 earlier turn(s) not carried.');

    // A question that stands on its own is routed afresh, and says so.
    await ask('How do I split a bill four ways?');
    await finished();
    const fresh = screen.getByTestId('turn-context-q4');
    expect(fresh).toHaveAttribute('data-follow-up', 'false');
    expect(fresh).toHaveTextContent('Read as a question of its own');
    expect(fresh).toHaveTextContent('3 earlier turns were not used: this question was answered on its own.');
  });

  it('opens the plan while a turn runs and collapses it once done; the toggle opens it again', async () => {
    setup(30);
    await ask('How do I split a bill?');
    const toggle = await screen.findByTestId('turn-plan-toggle-q1');
    expect(toggle).toHaveAttribute('aria-expanded', 'true');
    expect(screen.getByTestId('turn-plan-q1')).toBeVisible();
    expect(toggle).toHaveAttribute('aria-controls', screen.getByTestId('turn-plan-q1').id);
    await finished();

    expect(toggle).toHaveAttribute('aria-expanded', 'false');
    expect(screen.getByTestId('turn-plan-q1')).not.toBeVisible();
    await user().click(toggle);
    expect(toggle).toHaveAttribute('aria-expanded', 'true');
    expect(screen.getByTestId('turn-plan-q1')).toBeVisible();
    expect(within(screen.getByTestId('turn-plan-q1')).getByRole('article')).toHaveAttribute('data-state', 'done');
    await user().click(toggle);
    expect(screen.getByTestId('turn-plan-q1')).not.toBeVisible();
  });

  it('copies an answer', async () => {
    setup();
    await ask('How do I split a bill three ways?');
    await finished();
    const session = userEvent.setup();
    const copy = screen.getByTestId('turn-copy-q1');
    await session.click(copy);
    expect(copy).toHaveTextContent('Copied.');
    await expect(navigator.clipboard.readText()).resolves.toBe(
      'Split the total by three: each person pays a third, rounded to the cent.',
    );
    await waitFor(() => expect(copy).toHaveTextContent('Copy answer'), { timeout: 3000 });
  });

  it('starts a new conversation, and cannot while a question runs', async () => {
    const { askSpy } = setup(30);
    await ask('How do I split a bill?');
    expect(screen.getByTestId('new-conversation')).toBeDisabled();
    await finished();
    expect(screen.getByTestId('new-conversation')).toBeEnabled();

    await user().click(screen.getByTestId('new-conversation'));
    expect(screen.queryByTestId('turn-q1')).not.toBeInTheDocument();
    expect(screen.getByTestId('thread')).not.toHaveAttribute('data-conversation');
    expect(screen.getByLabelText('Your question')).toHaveFocus();
    await ask('Write a plan, with prices');
    expect(askSpy).toHaveBeenLastCalledWith('Write a plan, with prices', { onDeviceOnly: true, conversation: null }, expect.any(Function));
    await finished();
    expect(screen.getByTestId('thread')).toHaveAttribute('data-conversation', 'q2');
    expect(screen.queryByTestId('turn-context-q2')).not.toBeInTheDocument();
  });
});

describe('Chat: the conversations', () => {
  it('lists conversations, most recent first, and opens one from the journal', async () => {
    await twoConversations();
    const list = screen.getByTestId('conversation-list');
    await waitFor(() =>
      expect(within(list).getAllByTestId(/^conversation-item-/).map((item) => item.dataset.testid)).toEqual([
        'conversation-item-q3',
        'conversation-item-q1',
      ]),
    );
    const item = screen.getByTestId('conversation-item-q1');
    expect(item).toHaveAttribute('data-turns', '2');
    expect(item).toHaveAttribute('data-status', 'done');
    expect(item).toHaveTextContent('How do I split a bill three ways?');
    expect(item).toHaveTextContent('2 turns');
    expect(screen.getByTestId('conversation-item-q3')).toHaveAttribute('aria-current', 'true');
    expect(item).not.toHaveAttribute('aria-current');

    await user().click(item);
    await waitFor(() => expect(screen.getByTestId('thread')).toHaveAttribute('data-conversation', 'q1'));
    expect(item).toHaveAttribute('aria-current', 'true');
    expect(screen.getByRole('heading', { level: 2, name: 'How do I split a bill three ways?' })).toHaveFocus();
    expect(screen.getByTestId('turn-answer-q1')).toHaveTextContent(/^Split the total by three/);
    expect(screen.getByTestId('turn-answer-q2')).toHaveTextContent(/^In short:/);
    // Rebuilt from the journal: the context, the plan, finished turns collapsed.
    expect(screen.getByTestId('turn-context-q2')).toHaveAttribute('data-follow-up', 'true');
    expect(screen.getByTestId('turn-plan-toggle-q2')).toHaveAttribute('aria-expanded', 'false');
    expect(screen.getByTestId('chat-status')).toHaveAttribute('data-status', 'done');
    expect(within(screen.getByTestId('turn-q2')).getByTestId('plan-card-0')).toHaveAttribute('data-executor', 'local');
  });

  it('continues an opened conversation', async () => {
    const { askSpy } = await twoConversations();
    await user().click(screen.getByTestId('conversation-item-q1'));
    await waitFor(() => expect(screen.getByTestId('turn-q2')).toBeInTheDocument());
    await ask('And in fewer words?');
    // Its latest question names the conversation.
    expect(askSpy).toHaveBeenLastCalledWith('And in fewer words?', { onDeviceOnly: true, conversation: 'q2' }, expect.any(Function));
    await finished();
    expect(screen.getByTestId('turn-q4')).toBeInTheDocument();
    expect(screen.getByTestId('thread')).toHaveAttribute('data-conversation', 'q1');
    await waitFor(() => expect(screen.getByTestId('conversation-item-q1')).toHaveAttribute('data-turns', '3'));
    const items = within(screen.getByTestId('conversation-list')).getAllByTestId(/^conversation-item-/);
    expect(items[0]).toHaveAttribute('data-testid', 'conversation-item-q1');
  });

  it('deletes a conversation after a confirmation, and takes it off the screen', async () => {
    const { api } = await twoConversations();
    await user().click(screen.getByTestId('conversation-item-q1'));
    await waitFor(() => expect(screen.getByTestId('turn-q2')).toBeInTheDocument());

    await user().click(screen.getByTestId('conversation-delete-q1'));
    expect(screen.getByRole('group', { name: /^Confirm: Delete the conversation/ })).toHaveTextContent(
      'Delete this conversation and all its answers from this device?',
    );
    expect(screen.getByTestId('conversation-delete-cancel-q1')).toHaveFocus();
    await user().click(screen.getByTestId('conversation-delete-cancel-q1'));
    expect(screen.getByTestId('conversation-item-q1')).toBeInTheDocument();
    expect(screen.getByTestId('conversation-delete-q1')).toHaveFocus();

    await user().click(screen.getByTestId('conversation-delete-q1'));
    await user().click(screen.getByTestId('conversation-delete-confirm-q1'));
    await waitFor(() => expect(screen.queryByTestId('conversation-item-q1')).not.toBeInTheDocument());
    expect(screen.queryByTestId('turn-q1')).not.toBeInTheDocument();
    expect(screen.getByTestId('thread')).not.toHaveAttribute('data-conversation');
    await expect(api.historyShow('q2')).rejects.toHaveProperty('code', 'unknown_query');

    await user().click(screen.getByTestId('conversation-delete-q3'));
    await user().click(screen.getByTestId('conversation-delete-confirm-q3'));
    expect(await screen.findByTestId('conversations-empty')).toHaveTextContent('No conversations yet.');
  });

  it('does not delete the conversation of the question running now, and says why a deletion failed', async () => {
    const { api } = setup(40);
    await ask('How do I split a bill?');
    await waitFor(() => expect(screen.getByTestId('conversation-item-q1')).toBeInTheDocument());
    expect(screen.getByTestId('conversation-delete-q1')).toBeDisabled();
    await finished();
    await waitFor(() => expect(screen.getByTestId('conversation-delete-q1')).toBeEnabled());

    vi.spyOn(api, 'conversationDelete').mockRejectedValueOnce({ code: 'query_running', message: 'query q1 is still running' });
    await user().click(screen.getByTestId('conversation-delete-q1'));
    await user().click(screen.getByTestId('conversation-delete-confirm-q1'));
    const alert = await screen.findByTestId('conversation-error');
    expect(alert).toHaveAttribute('data-code', 'query_running');
    expect(alert).toHaveTextContent('stop it, then delete the conversation');
    expect(screen.getByTestId('conversation-item-q1')).toBeInTheDocument();
  });

  it('says why a conversation could not be opened', async () => {
    const { api } = await twoConversations();
    vi.spyOn(api, 'conversationShow').mockRejectedValueOnce({ code: 'store', message: 'the journal is locked' });
    await user().click(screen.getByTestId('conversation-item-q1'));
    const alert = await screen.findByTestId('conversation-error');
    expect(alert).toHaveAttribute('data-code', 'store');
    expect(alert).toHaveTextContent('the journal is locked');
    // What was on screen stays.
    expect(screen.getByTestId('thread')).toHaveAttribute('data-conversation', 'q3');
  });
});

describe('Chat: deleting one question', () => {
  it('deletes a turn after a confirmation; the rest of the conversation stays', async () => {
    const { api } = setup();
    await ask('How do I split a bill three ways?');
    await finished();
    await ask('Make it shorter.');
    await finished();

    await user().click(screen.getByTestId('turn-delete-q1'));
    expect(screen.getByRole('group', { name: /^Confirm: Delete the question/ })).toHaveTextContent(
      'Delete this question and its answer from this device?',
    );
    await user().click(screen.getByTestId('turn-delete-cancel-q1'));
    expect(screen.getByTestId('turn-q1')).toBeInTheDocument();

    await user().click(screen.getByTestId('turn-delete-q1'));
    await user().click(screen.getByTestId('turn-delete-confirm-q1'));
    await waitFor(() => expect(screen.queryByTestId('turn-q1')).not.toBeInTheDocument());
    expect(screen.getByTestId('turn-q2')).toBeInTheDocument();
    await expect(api.historyShow('q1')).rejects.toHaveProperty('code', 'unknown_query');
    await waitFor(() => expect(screen.getByTestId('conversation-item-q1')).toHaveAttribute('data-turns', '1'));

    // The last one gone, the conversation is too: the next question begins one.
    await user().click(screen.getByTestId('turn-delete-q2'));
    await user().click(screen.getByTestId('turn-delete-confirm-q2'));
    await waitFor(() => expect(screen.queryByTestId('turn-q2')).not.toBeInTheDocument());
    expect(screen.getByTestId('thread')).not.toHaveAttribute('data-conversation');
    expect(await screen.findByTestId('conversations-empty')).toBeInTheDocument();
  });

  it('does not offer to delete the question running now, and says why a deletion failed', async () => {
    const { api } = setup(40);
    await ask('How do I split a bill?');
    await waitFor(() => expect(screen.getByTestId('turn-delete-q1')).toBeDisabled());
    await finished();
    expect(screen.getByTestId('turn-delete-q1')).toBeEnabled();

    vi.spyOn(api, 'historyDelete').mockRejectedValueOnce({ code: 'query_running', message: 'query q1 is still running' });
    await user().click(screen.getByTestId('turn-delete-q1'));
    await user().click(screen.getByTestId('turn-delete-confirm-q1'));
    const alert = await screen.findByTestId('history-error');
    expect(alert).toHaveAttribute('data-code', 'query_running');
    expect(alert).toHaveTextContent('stop it, then delete it');
    expect(screen.getByTestId('turn-q1')).toBeInTheDocument();
  });
});

describe('Chat: accessibility', () => {
  it('has no WCAG A/AA violation with a conversation of two turns, a plan open and the list', async () => {
    await twoConversations();
    await user().click(screen.getByTestId('conversation-item-q1'));
    await waitFor(() => expect(screen.getByTestId('turn-q2')).toBeInTheDocument());
    await user().click(screen.getByTestId('turn-plan-toggle-q1'));
    await user().click(screen.getByTestId('turn-delete-q2'));
    const result = await axe.run(document.body, {
      runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] },
      rules: { 'color-contrast': { enabled: false } },
    });
    expect(result.passes.length).toBeGreaterThan(0);
    expect(result.violations.map((violation) => `${violation.id}: ${violation.nodes.map((node) => node.html).join(' | ')}`)).toEqual([]);
    // Element ids are unique on the page.
    const ids = [...document.querySelectorAll('[id]')].map((element) => element.id);
    expect(ids.filter((id, at) => ids.indexOf(id) !== at)).toEqual([]);
  });
});
