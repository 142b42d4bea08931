import { describe, expect, it } from 'vitest';
import { executorLabel, formatBytes, formatEta, formatMs, formatWhen, shortPeerId, splitList } from './format';
import { queryIdOf, toChorusError } from './api';
import { screenFromHash } from './screens';

describe('format', () => {
  it('writes a time today, a date another day', () => {
    const now = new Date(2026, 11, 5, 15, 0).getTime();
    const earlier = new Date(2026, 11, 5, 10, 54).getTime();
    expect(formatWhen(earlier, now)).toBe(new Date(earlier).toLocaleTimeString(undefined, { timeStyle: 'short' }));
    expect(formatWhen(earlier, now)).not.toContain('2026');
    expect(formatWhen(new Date(2026, 10, 30, 10, 54).getTime(), now)).toContain('2026');
  });

  it('writes sizes in decimal units, as the CLI does', () => {
    expect(formatBytes(98_362_432)).toBe('98.4 MB');
    expect(formatBytes(253_113_024)).toBe('253 MB');
    expect(formatBytes(2_020_000_000)).toBe('2.0 GB');
    expect(formatBytes(512)).toBe('512 B');
    expect(formatBytes(null)).toBe('?');
  });

  it('writes durations', () => {
    expect(formatMs(840)).toBe('840 ms');
    expect(formatMs(3100)).toBe('3.1 s');
    expect(formatMs(42_000)).toBe('42 s');
    expect(formatEta(75)).toBe('1 min 15 s');
    expect(formatEta(3725)).toBe('1 h 2 min');
  });

  it('names executors for people', () => {
    expect(executorLabel('local')).toBe('this device');
    expect(executorLabel(null)).toBe('not started');
    expect(executorLabel('12D3KooWQm5sZ8rAAvN6Zq1sWqvYtP3cYBJpLrRkXvB4tWgXyH7a')).toBe('peer 12D3KooWQm…XyH7a');
    expect(shortPeerId('short')).toBe('short');
  });

  it('splits comma or line separated lists', () => {
    expect(splitList(' python, email marketing ,,\nrust ')).toEqual(['python', 'email marketing', 'rust']);
  });

  it('normalises ids, errors and screen names', () => {
    expect(queryIdOf(3)).toBe('q3');
    expect(queryIdOf('q3')).toBe('q3');
    expect(toChorusError({ code: 'busy', message: 'later' })).toMatchObject({ code: 'busy', message: 'later' });
    expect(toChorusError(new Error('boom'))).toMatchObject({ code: 'internal', message: 'boom' });
    expect(toChorusError(undefined).code).toBe('internal');
    expect(screenFromHash('#/models')).toBe('models');
    expect(screenFromHash('#/nope')).toBeNull();
  });
});
