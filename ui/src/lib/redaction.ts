// What a peer received, made readable: the placeholders the gate put in place
// of personal details (docs/PRIVACY.md, "Redaction"), and the words for how
// many there were. Pure helpers; the plan card renders them.

/**
 * The placeholder tags the gate writes (`[EMAIL_1]`, …), as chorus-core's
 * recognisers name them (`crates/chorus-core/src/recognise/mod.rs`), and what
 * each stood for, in words.
 */
export const PLACEHOLDER_KINDS: Readonly<Record<string, string>> = {
  EMAIL: 'an e-mail address',
  PHONE: 'a phone number',
  CARD: 'a card number',
  IBAN: 'a bank account number',
  IP: 'an IP address',
  SSN: 'a social security number',
  NINO: 'a National Insurance number',
  AADHAAR: 'an Aadhaar number',
  PAN: 'a PAN',
  SECRET: 'a password or key',
  ADDRESS: 'a postal address',
  DOB: 'a date of birth',
  NAME: 'a name',
};

export type SentSegment =
  | { kind: 'text'; text: string }
  /** `[EMAIL_1]`: `tag` is `EMAIL`, `stoodFor` is "an e-mail address". */
  | { kind: 'placeholder'; text: string; tag: string; stoodFor: string };

// Only the tags the gate issues: a bracketed word the person typed
// themselves (`[TODO_1]`) is their text, not a placeholder.
const PLACEHOLDER = new RegExp(`\\[(${Object.keys(PLACEHOLDER_KINDS).join('|')})_(\\d+)\\]`, 'g');

/**
 * Splits what a peer received into plain text and placeholders, in order;
 * joining the segments' `text` gives `sent` back exactly.
 */
export function splitPlaceholders(sent: string): SentSegment[] {
  const segments: SentSegment[] = [];
  let from = 0;
  for (const match of sent.matchAll(PLACEHOLDER)) {
    const at = match.index;
    if (at > from) segments.push({ kind: 'text', text: sent.slice(from, at) });
    segments.push({ kind: 'placeholder', text: match[0], tag: match[1], stoodFor: PLACEHOLDER_KINDS[match[1]] });
    from = at + match[0].length;
  }
  if (from < sent.length) segments.push({ kind: 'text', text: sent.slice(from) });
  return segments;
}

/** How many personal details were replaced in what left the device, in words. */
export function redactedText(count: number): string {
  if (count <= 0) return 'nothing personal to replace';
  return count === 1 ? '1 personal detail replaced' : `${count} personal details replaced`;
}
