import type { Redis } from 'ioredis';
import type { ConversationRef } from '../core/conversation.ts';
import { IllegalTransitionError } from '../core/errors.ts';
import { isRecord } from '../core/is-record.ts';
import { type Clock, systemClock } from '../core/ports.ts';
import type { RunOutcome, RunState } from '../core/run-state.ts';
import { RUN_TRANSITIONS, type RunRecord, type RunStatus, type RunStore } from '../core/stores.ts';
import { defineScript, wrapUnavailable } from './redis-connection.ts';
import type { RedisKeys } from './redis-keys.ts';

export interface RedisRunStoreOptions {
  readonly redis: Redis;
  readonly keys: RedisKeys;
  /** How long a run record and its checkpoint outlive their last change. */
  readonly runTtlSeconds?: number;
  readonly clock?: Clock;
}

const DEFAULT_RUN_TTL_SECONDS = 30 * 24 * 60 * 60;

// Creates the hash only when the run does not exist yet: a retried create never resets a run.
const CREATE_SCRIPT = `
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV, 2))
redis.call('EXPIRE', KEYS[1], ARGV[1])
return 1
`;

// ARGV: to, updatedAt, ttl, hasOutcome ('1'/'0'), outcome JSON, then every status `to` may follow.
// Returns {1, field, value, ...} (the record after the move) or {0, currentStatus or ''}.
const TRANSITION_SCRIPT = `
local status = redis.call('HGET', KEYS[1], 'status')
if not status then return {0, ''} end
local legal = false
for i = 6, #ARGV do
  if ARGV[i] == status then legal = true break end
end
if not legal then return {0, status} end
redis.call('HSET', KEYS[1], 'status', ARGV[1], 'updatedAt', ARGV[2])
if ARGV[4] == '1' then redis.call('HSET', KEYS[1], 'outcome', ARGV[5]) end
redis.call('EXPIRE', KEYS[1], ARGV[3])
local result = {1}
for _, item in ipairs(redis.call('HGETALL', KEYS[1])) do table.insert(result, item) end
return result
`;

const createScript = defineScript(CREATE_SCRIPT);
const transitionScript = defineScript(TRANSITION_SCRIPT);

const RUN_STATUSES = Object.keys(RUN_TRANSITIONS) as RunStatus[];

/** The statuses from which `to` is a legal move, computed once from RUN_TRANSITIONS. */
function legalSources(to: RunStatus): RunStatus[] {
  return RUN_STATUSES.filter((from) => RUN_TRANSITIONS[from].includes(to));
}

/** Runs as Redis hashes (one field per record field, JSON for the nested ones) plus one checkpoint key each. */
export function createRedisRunStore(options: RedisRunStoreOptions): RunStore {
  const { redis, keys } = options;
  const ttl = options.runTtlSeconds ?? DEFAULT_RUN_TTL_SECONDS;
  const clock = options.clock ?? systemClock;

  return {
    create: (run) =>
      wrapUnavailable('run.create', async () => {
        const fields = toHash({ ...run, status: 'queued', updatedAt: run.createdAt, outcome: null });
        await createScript.run(redis, [keys.run(run.runId)], [ttl, ...fields]);
      }),

    get: (runId) =>
      wrapUnavailable('run.get', async () => {
        const hash = await redis.hgetall(keys.run(runId));
        return Object.keys(hash).length === 0 ? undefined : fromHash(hash);
      }),

    transition: (runId, to, patch) =>
      wrapUnavailable('run.transition', async () => {
        const outcome = patch?.outcome;
        const reply = await transitionScript.run(
          redis,
          [keys.run(runId)],
          [
            to,
            clock.now(),
            ttl,
            outcome === undefined ? '0' : '1',
            JSON.stringify(outcome ?? null),
            ...legalSources(to),
          ],
        );
        if (!Array.isArray(reply) || reply.length < 2) throw new Error(`run.transition: unexpected reply`);
        const [moved, ...rest] = reply.map(String);
        if (moved !== '1') throw new IllegalTransitionError(runId, rest[0] || null, to);
        return fromHash(pairsToRecord(rest));
      }),

    saveCheckpoint: (state) =>
      wrapUnavailable('run.saveCheckpoint', async () => {
        await redis.set(keys.checkpoint(state.runId), JSON.stringify(state), 'EX', ttl);
      }),

    loadCheckpoint: (runId) =>
      wrapUnavailable('run.loadCheckpoint', async () => {
        const raw = await redis.get(keys.checkpoint(runId));
        if (raw === null) return undefined;
        const parsed: unknown = JSON.parse(raw);
        if (!isRunState(parsed)) throw new Error(`checkpoint of run ${runId} is not a run state`);
        return parsed;
      }),
  };
}

function toHash(record: RunRecord): string[] {
  return [
    'runId',
    record.runId,
    'conversation',
    JSON.stringify(record.conversation),
    'conversationKey',
    record.conversationKey,
    'requestedBy',
    record.requestedBy,
    'agent',
    record.agent,
    'text',
    record.text,
    'eventId',
    record.eventId,
    'status',
    record.status,
    'createdAt',
    String(record.createdAt),
    'updatedAt',
    String(record.updatedAt),
    'outcome',
    JSON.stringify(record.outcome),
  ];
}

function fromHash(hash: Record<string, string>): RunRecord {
  const status = hash.status;
  if (!RUN_STATUSES.includes(status as RunStatus)) throw new Error(`run ${hash.runId}: bad status ${status}`);
  return {
    runId: hash.runId ?? '',
    conversation: JSON.parse(hash.conversation ?? 'null') as ConversationRef,
    conversationKey: hash.conversationKey ?? '',
    requestedBy: hash.requestedBy ?? '',
    agent: hash.agent ?? '',
    text: hash.text ?? '',
    eventId: hash.eventId ?? '',
    status: status as RunStatus,
    createdAt: Number(hash.createdAt),
    updatedAt: Number(hash.updatedAt),
    outcome: JSON.parse(hash.outcome ?? 'null') as RunOutcome | null,
  };
}

function pairsToRecord(flat: readonly string[]): Record<string, string> {
  const record: Record<string, string> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) record[flat[i] as string] = flat[i + 1] as string;
  return record;
}

// Checkpoints are written only by this store from a RunState; this guards against foreign data.
function isRunState(value: unknown): value is RunState {
  return isRecord(value) && typeof value.runId === 'string' && Array.isArray(value.messages);
}
