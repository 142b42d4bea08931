import { describe, expect, it } from 'vitest';
import { PLACEHOLDER_KINDS, redactedText, splitPlaceholders } from './redaction';

const join = (text: string) =>
  splitPlaceholders(text)
    .map((segment) => segment.text)
    .join('');

describe('splitPlaceholders', () => {
  it('marks the placeholders the gate writes, in order, between plain text', () => {
    expect(splitPlaceholders('Write to [EMAIL_1] or call [PHONE_12].')).toEqual([
      { kind: 'text', text: 'Write to ' },
      { kind: 'placeholder', text: '[EMAIL_1]', tag: 'EMAIL', stoodFor: 'an e-mail address' },
      { kind: 'text', text: ' or call ' },
      { kind: 'placeholder', text: '[PHONE_12]', tag: 'PHONE', stoodFor: 'a phone number' },
      { kind: 'text', text: '.' },
    ]);
  });

  it('knows every kind of docs/PRIVACY.md', () => {
    for (const tag of ['EMAIL', 'PHONE', 'CARD', 'IBAN', 'IP', 'SSN', 'NINO', 'AADHAAR', 'PAN', 'SECRET', 'ADDRESS', 'DOB', 'NAME']) {
      expect(PLACEHOLDER_KINDS[tag]).toBeTruthy();
      expect(splitPlaceholders(`[${tag}_3]`)).toEqual([
        { kind: 'placeholder', text: `[${tag}_3]`, tag, stoodFor: PLACEHOLDER_KINDS[tag] },
      ]);
    }
  });

  it('handles placeholders side by side, at both ends, and text without any', () => {
    expect(splitPlaceholders('[NAME_1][NAME_2]').map((segment) => segment.kind)).toEqual(['placeholder', 'placeholder']);
    expect(splitPlaceholders('nothing personal')).toEqual([{ kind: 'text', text: 'nothing personal' }]);
    expect(splitPlaceholders('')).toEqual([]);
  });

  it('leaves alone what only looks like one: unknown tags, other cases, no number, bent forms', () => {
    for (const text of ['[TODO_1]', '[email_1]', '[EMAIL]', '[EMAIL 1]', 'EMAIL_1', '[EMAIL_1', '[EMAIL_x]']) {
      expect(splitPlaceholders(text)).toEqual([{ kind: 'text', text }]);
    }
  });

  it('gives the text back exactly when joined', () => {
    for (const text of ['a [IBAN_1] b\n\n[DOB_2]', '  [SECRET_1]  ', 'Ünïcode [NAME_1] 😀 [CARD_9]!', '[[EMAIL_1]]']) {
      expect(join(text)).toBe(text);
    }
  });
});

describe('redactedText', () => {
  it('says how many details were replaced, calmly', () => {
    expect(redactedText(0)).toBe('nothing personal to replace');
    expect(redactedText(1)).toBe('1 personal detail replaced');
    expect(redactedText(3)).toBe('3 personal details replaced');
  });
});
