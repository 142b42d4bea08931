import { describe, expect, it } from 'vitest';
import { countQuestions, describeKeep, keepChoices, keepLabel, keepValue, parseKeep } from './history';

describe('keep history', () => {
  it('reads forever by default and says so', () => {
    expect(keepLabel(null)).toBe('Forever (default)');
    expect(keepValue(null)).toBe('forever');
    expect(parseKeep('forever')).toBeNull();
    expect(describeKeep(null)).toContain('Forever');
    expect(describeKeep(null)).toContain('until you delete them');
  });

  it('turns days into values and back', () => {
    expect(keepValue(30)).toBe('30');
    expect(parseKeep('30')).toBe(30);
    expect(parseKeep('36500')).toBe(36500);
    for (const bad of ['0', '-3', '2.5', '36501', '', 'soon']) expect(parseKeep(bad)).toBeUndefined();
    expect(keepLabel(1)).toBe('1 day');
    expect(keepLabel(30)).toBe('30 days');
    expect(describeKeep(30)).toContain('more than 30 days ago are deleted');
  });

  it('offers the usual choices, and a stored one that is not among them', () => {
    expect(keepChoices(null)).toEqual([null, 7, 30, 90, 365]);
    expect(keepChoices(30)).toEqual([null, 7, 30, 90, 365]);
    expect(keepChoices(45)).toEqual([null, 7, 30, 45, 90, 365]);
    expect(keepChoices(1000)).toEqual([null, 7, 30, 90, 365, 1000]);
  });

  it('counts questions', () => {
    expect(countQuestions(1)).toBe('1 past question');
    expect(countQuestions(0)).toBe('0 past questions');
  });
});
