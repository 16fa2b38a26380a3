/**
 * A running run's checkpoint as a journal, so a step stores what it added instead of the whole
 * conversation again: a save sends the state's small header (everything but the messages) and the
 * messages added since this process last saved that state, appended to the stored value. Without
 * it every step re-sent every message and tool result so far, so a run's checkpoint traffic grew
 * with the square of its length.
 *
 * Format: a marker byte (0x02), then lines: `h` + header JSON (with `n`, the message count as of
 * that save), `u` + the header fields that changed since the save before (with `n`), or `m` + one
 * message's JSON. JSON text never holds a raw newline. The last `h` and the `u` lines after it make
 * the header; the messages are all `m` lines in order, and must number the header's `n`. Most of a
 * header (ids, the conversation, the deadline) never changes: restated on every step it was most of
 * what a step appended.
 *
 * A process knows what it saved per state object (a run is driven by one worker at a time); a
 * state it has not saved, a message list replaced rather than grown, a header field gone, or a
 * failed write starts the value over whole. Fields are compared by their JSON, since a run's state
 * is changed in place.
 */
import { isRecord } from '../core/is-record.ts';
import type { ChatMessage } from '../core/messages.ts';
import type { RunState } from '../core/run-state.ts';

export const JOURNAL_MARKER = 0x02;
const MARKER = String.fromCharCode(JOURNAL_MARKER);

export interface JournalWrite {
  /** `set` replaces the stored value; `append` adds to it. */
  readonly mode: 'set' | 'append';
  readonly value: string;
}

export interface CheckpointJournal {
  /** What to send for this save; assumes it lands (call `forget` when it does not). */
  encode(state: RunState, options?: { readonly whole?: boolean }): JournalWrite;
  /** The next save of this state starts the value over (a write failed, or it was stored another way). */
  forget(state: RunState): void;
}

interface Saved {
  readonly messages: readonly ChatMessage[];
  readonly count: number;
  /** Each header field's JSON as last saved. */
  readonly fields: ReadonlyMap<string, string>;
}

export function createCheckpointJournal(): CheckpointJournal {
  const saved = new WeakMap<RunState, Saved>();
  return {
    encode(state, options) {
      const { messages, ...header } = state;
      const before = options?.whole ? undefined : saved.get(state);
      const from =
        before !== undefined && before.messages === messages && before.count <= messages.length
          ? before.count
          : 0;
      const fields = new Map<string, string>();
      let whole = '';
      let changed = '';
      // Fields the last save had that this one still has: fewer means one is gone.
      let kept = 0;
      for (const [name, value] of Object.entries(header)) {
        const json = JSON.stringify(value);
        // JSON.stringify leaves out a field holding undefined; so does this.
        if (json === undefined) continue;
        fields.set(name, json);
        const entry = `${JSON.stringify(name)}:${json},`;
        whole += entry;
        const last = before?.fields.get(name);
        if (last !== undefined) kept += 1;
        if (last !== json) changed += entry;
      }
      const delta = from > 0 && before !== undefined && kept === before.fields.size;
      saved.set(state, { messages, count: messages.length, fields });
      let value = delta ? `\nu{${changed}"n":${messages.length}}` : `\nh{${whole}"n":${messages.length}}`;
      for (let index = from; index < messages.length; index += 1)
        value += `\nm${JSON.stringify(messages[index])}`;
      return from === 0 ? { mode: 'set', value: MARKER + value } : { mode: 'append', value };
    },
    forget(state) {
      saved.delete(state);
    },
  };
}

export function isJournal(stored: Buffer): boolean {
  return stored[0] === JOURNAL_MARKER;
}

/** The state a journal holds (unchecked: the caller validates it as any stored checkpoint). */
export function readJournal(stored: Buffer): unknown {
  const lines = stored.toString('utf8').split('\n');
  let header: Record<string, unknown> | undefined;
  const messages: unknown[] = [];
  for (let index = 1; index < lines.length; index += 1) {
    const line = lines[index] ?? '';
    if (line.startsWith('m')) messages.push(JSON.parse(line.slice(1)));
    else if (line.startsWith('h') || line.startsWith('u')) {
      const parsed: unknown = JSON.parse(line.slice(1));
      if (!isRecord(parsed)) throw new Error(`checkpoint journal: header on line ${index} is not an object`);
      if (line.startsWith('h')) header = parsed;
      else if (header === undefined)
        throw new Error(`checkpoint journal: header update on line ${index} before a header`);
      else header = { ...header, ...parsed };
    } else throw new Error(`checkpoint journal: unreadable line ${index}`);
  }
  if (header === undefined) throw new Error('checkpoint journal: no header');
  const { n, ...state } = header;
  if (n !== messages.length) {
    throw new Error(`checkpoint journal: ${messages.length} messages stored, the header counts ${String(n)}`);
  }
  return { ...state, messages };
}
