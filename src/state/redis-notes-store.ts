import type { Redis } from 'ioredis';
import { isRecord } from '../core/is-record.ts';
import type { AddNoteResult, Note, NotesStore } from '../core/stores.ts';
import { defineScript, wrapUnavailable } from './redis-connection.ts';
import { channelKeyOf, type RedisKeys } from './redis-keys.ts';

export interface RedisNotesStoreOptions {
  readonly redis: Redis;
  readonly keys: RedisKeys;
  readonly maxNotes?: number;
  readonly maxChars?: number;
}

const DEFAULT_MAX_NOTES = 50;
const DEFAULT_MAX_CHARS = 500;

// Count and push in one step, so two agents adding at once cannot both squeeze past the cap.
const ADD_SCRIPT = `
local count = redis.call('LLEN', KEYS[1])
if count >= tonumber(ARGV[1]) then return {0, count} end
return {1, redis.call('RPUSH', KEYS[1], ARGV[2])}
`;

const addScript = defineScript(ADD_SCRIPT);

/** Notes as a list of JSON per channel, oldest first. No TTL: a note is kept until someone removes it. */
export function createRedisNotesStore(options: RedisNotesStoreOptions): NotesStore {
  const { redis, keys } = options;
  const maxNotes = options.maxNotes ?? DEFAULT_MAX_NOTES;
  const maxChars = options.maxChars ?? DEFAULT_MAX_CHARS;

  return {
    add: async (channel, note) => {
      // Shortening is the caller's decision (it knows what matters); here an oversize note is a bug.
      if (note.text.length > maxChars) {
        throw new RangeError(
          `a note may have at most ${maxChars} characters; this one has ${note.text.length}`,
        );
      }
      return wrapUnavailable('notes.add', async (): Promise<AddNoteResult> => {
        const stored: Note = { text: note.text, by: note.by, at: note.at };
        const reply = await addScript.run(
          redis,
          [keys.notes(channelKeyOf(channel))],
          [maxNotes, JSON.stringify(stored)],
        );
        if (!Array.isArray(reply)) throw new Error('notes.add: unexpected reply');
        const [added, count] = reply.map(Number);
        return added === 1 ? { status: 'added', count: count ?? 0 } : { status: 'full', limit: maxNotes };
      });
    },

    list: (channel) =>
      wrapUnavailable('notes.list', async () => {
        const raw = await redis.lrange(keys.notes(channelKeyOf(channel)), 0, -1);
        return raw.flatMap((item) => {
          const note = parseNote(item);
          return note ? [note] : [];
        });
      }),
  };
}

function parseNote(raw: string): Note | undefined {
  try {
    const value: unknown = JSON.parse(raw);
    if (!isRecord(value)) return undefined;
    const { text, by, at } = value;
    if (typeof text !== 'string' || typeof by !== 'string' || typeof at !== 'number') return undefined;
    return { text, by, at };
  } catch {
    return undefined;
  }
}
