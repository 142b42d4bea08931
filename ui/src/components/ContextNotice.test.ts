import { render, screen } from '@testing-library/svelte';
import { describe, expect, it } from 'vitest';
import ContextNotice from './ContextNotice.svelte';

describe('ContextNotice', () => {
  it('shows the rewritten question, the reason and the turns left out', () => {
    // `props:` because `context` is also an option of Svelte's `mount`.
    render(ContextNotice, {
      props: {
        testid: 'turn-context-q7',
        context: { follow_up: true, turns: 3, carried: 1, reason: 'rewritten by the conductor model into a self-contained question', resolved: 'How do I split a bill four ways?' },
      },
    });
    const notice = screen.getByTestId('turn-context-q7');
    expect(notice).toHaveAttribute('data-follow-up', 'true');
    expect(notice).toHaveAttribute('data-turns', '3');
    expect(notice).toHaveAttribute('data-carried', '1');
    expect(notice).toHaveTextContent('Follow-up Read as a follow-up, and rewritten into a question of its own.');
    // A <q> quotes by style: the text itself has no quotation marks.
    expect(notice).toHaveTextContent('Asked as: How do I split a bill four ways?');
    expect(notice).toHaveTextContent('2 earlier turns were not used: only the last answer goes with a follow-up.');
    expect(notice).toHaveTextContent('Why: rewritten by the conductor model into a self-contained question.');
  });

  it('says nothing about unused turns when every earlier turn went with it', () => {
    render(ContextNotice, { props: { context: { follow_up: true, turns: 1, carried: 1, reason: 'a follow-up' } } });
    expect(screen.getByText('Read as a follow-up of this conversation.', { exact: false })).toBeInTheDocument();
    expect(screen.queryByText(/not used/)).not.toBeInTheDocument();
    expect(screen.queryByText(/Asked as/)).not.toBeInTheDocument();
  });
});
