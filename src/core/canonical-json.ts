import { createHash } from 'node:crypto';

/** JSON with object keys sorted, so equal arguments hash equally whatever order the model wrote. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

export function hashArguments(toolName: string, args: unknown): string {
  return createHash('sha256').update(toolName).update('\0').update(canonicalJson(args)).digest('hex');
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value === null || typeof value !== 'object') return value;
  const entries = Object.entries(value).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return Object.fromEntries(entries.map(([key, field]) => [key, sortKeys(field)]));
}
