/**
 * Turns YAML and schema failures into one line per problem that names the key path, so a person
 * can find the mistake in their file without reading a stack of validator output.
 */
import type { YAMLError } from 'yaml';
import { z } from 'zod';

export type KeyPath = readonly PropertyKey[];

/** `.limits`, `[0]`, or `["X Weird"]` for a key that needs quoting. */
export function formatKey(key: PropertyKey): string {
  if (typeof key === 'number') return `[${key}]`;
  if (typeof key === 'string' && /^[A-Za-z_$][\w$-]*$/.test(key)) return `.${key}`;
  return `[${JSON.stringify(String(key))}]`;
}

/** `agents.support.limits`, `tools[0].url`: the same spelling a person would use to find the key. */
export function formatPath(path: KeyPath): string {
  const out = path.map(formatKey).join('').replace(/^\./, '');
  return out === '' ? '(top level)' : out;
}

/** A short rendering of a value for "got ..."; long strings are cut so a line stays a line. */
export function describeValue(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'an empty value';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  if (typeof value === 'string') {
    return JSON.stringify(value.length > 60 ? `${value.slice(0, 57)}...` : value);
  }
  return String(value);
}

export function valueAt(root: unknown, path: KeyPath): unknown {
  let current = root;
  for (const key of path) {
    if (current === null || typeof current !== 'object') return undefined;
    current = (current as Record<PropertyKey, unknown>)[key];
  }
  return current;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1);
      row.push(Math.min((previous[j] ?? 0) + 1, (row[j - 1] ?? 0) + 1, substitution));
    }
    previous = row;
  }
  return previous[b.length] ?? 0;
}

/** The closest candidate to a likely typo, or undefined when nothing is close enough to guess. */
export function closest(input: string, candidates: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestDistance = Math.max(2, Math.floor(input.length / 3)) + 1;
  for (const candidate of candidates) {
    const distance = editDistance(input.toLowerCase(), candidate.toLowerCase());
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best;
}

/** Follows a key path through the schema to find which keys a strict object accepts there. */
function knownKeysAt(schema: z.ZodType, path: KeyPath): string[] {
  let current: unknown = schema;
  const step = (node: unknown): unknown => {
    if (node instanceof z.ZodDefault || node instanceof z.ZodPrefault || node instanceof z.ZodOptional) {
      return step(node.unwrap());
    }
    return node;
  };
  for (const key of path) {
    current = step(current);
    if (current instanceof z.ZodObject) current = (current.shape as Record<string, unknown>)[String(key)];
    else if (current instanceof z.ZodRecord) current = current.valueType;
    else if (current instanceof z.ZodArray) current = current.element;
    else return [];
  }
  current = step(current);
  return current instanceof z.ZodObject ? Object.keys(current.shape) : [];
}

/**
 * One line per issue. Messages set on the schema are phrased as "what was expected"; the value is
 * looked up in the raw input because zod does not report it.
 */
export function formatSchemaIssues(
  issues: readonly z.core.$ZodIssue[],
  raw: unknown,
  schema: z.ZodType,
): string[] {
  const problems: string[] = [];
  for (const issue of issues) {
    if (issue.code === 'unrecognized_keys') {
      const known = knownKeysAt(schema, issue.path);
      for (const key of issue.keys) {
        const guess = closest(key, known);
        const hint = guess !== undefined ? `did you mean "${guess}"?` : `expected one of ${known.join(', ')}`;
        problems.push(`${formatPath([...issue.path, key])}: unknown key (${hint})`);
      }
      continue;
    }
    const value = valueAt(raw, issue.path);
    const where = formatPath(issue.path);
    problems.push(
      value === undefined
        ? `${where}: missing; expected ${issue.message}`
        : `${where}: expected ${issue.message}, got ${describeValue(value)}`,
    );
  }
  return problems;
}

/** `line 3, column 5: Map keys must be unique`, without yaml's multi-line code frame. */
export function formatYamlError(error: YAMLError): string {
  const headline = error.message.split('\n')[0] ?? error.message;
  const message = headline.replace(/ at line \d+, column \d+:?$/, '');
  const position = error.linePos?.[0];
  return position === undefined ? message : `line ${position.line}, column ${position.col}: ${message}`;
}
