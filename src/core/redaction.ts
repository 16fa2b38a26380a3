/**
 * Secrets must never reach logs, the audit trail or the model. Two nets: known secret values
 * (API keys, resolved header variables) are replaced wherever they appear in text, and argument
 * fields whose names say they hold a secret are masked before they are shown or recorded.
 */
export type Redactor = (text: string) => string;

export const REDACTED = '[redacted]';

/** Values shorter than this are not treated as secrets: replacing "1" everywhere would wreck text. */
const MIN_SECRET_LENGTH = 6;

export function createRedactor(secrets: readonly (string | undefined)[]): Redactor {
  const values = [...new Set(secrets.filter((s): s is string => !!s && s.length >= MIN_SECRET_LENGTH))].sort(
    (a, b) => b.length - a.length,
  );
  if (values.length === 0) return (text) => text;
  const pattern = new RegExp(values.map(escapeRegExp).join('|'), 'g');
  return (text) => text.replace(pattern, REDACTED);
}

const SECRET_KEY = /pass(word)?|secret|token|api[-_]?key|authorization|credential|cookie/i;

export function maskSecretFields(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(maskSecretFields);
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const [key, field] of Object.entries(value)) {
    out[key] = SECRET_KEY.test(key) ? REDACTED : maskSecretFields(field);
  }
  return out;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
