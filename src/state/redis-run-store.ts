import type { Redis } from 'ioredis';
import { type ConversationRef, conversationKey } from '../core/conversation.ts';
import { IllegalTransitionError } from '../core/errors.ts';
import { isRecord, isStringRecord } from '../core/is-record.ts';
import { type Clock, systemClock } from '../core/ports.ts';
import type { RunOutcome, RunState } from '../core/run-state.ts';
import {
  RUN_TRANSITIONS,
  type RunRecord,
  type RunStatus,
  type RunStore,
  TERMINAL_RUN_STATUSES,
} from '../core/stores.ts';
import { createCheckpointJournal, isJournal, readJournal } from './checkpoint-journal.ts';
import { packJson, unpackJson } from './packed-json.ts';
import { defineScript, wrapUnavailable } from './redis-connection.ts';
import { channelKeyOf, type RedisKeys } from './redis-keys.ts';

export interface RedisRunStoreOptions {
  readonly redis: Redis;
  readonly keys: RedisKeys;
  /** How long a run record and its checkpoint outlive their last change. */
  readonly runTtlSeconds?: number;
  readonly clock?: Clock;
}

const DEFAULT_RUN_TTL_SECONDS = 30 * 24 * 60 * 60;
const DEFAULT_LIMITS_SCALE = 1;

// KEYS: run hash, channel index. ARGV: ttl, createdAt, runId, then the record's field/value pairs.
// Creates the hash only when the run does not exist yet: a retried create never resets a run.
// The channel index is written in the same step, so a run is never active without being listed.
const CREATE_SCRIPT = `
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV, 4))
redis.call('EXPIRE', KEYS[1], ARGV[1])
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[3])
redis.call('EXPIRE', KEYS[2], ARGV[1])
return 1
`;

// KEYS: run hash, channel index. ARGV: to, updatedAt, ttl, hasOutcome ('1'/'0'), outcome JSON,
// runId, terminal ('1'/'0'), then every status `to` may follow.
// Returns {1, field, value, ...} (the record after the move) or {0, currentStatus or ''}.
// A run leaves the channel index when it ends; a run that does not end is (re)added, which also
// indexes runs created before the index existed.
const TRANSITION_SCRIPT = `
local status = redis.call('HGET', KEYS[1], 'status')
if not status then return {0, ''} end
local legal = false
for i = 8, #ARGV do
  if ARGV[i] == status then legal = true break end
end
if not legal then return {0, status} end
redis.call('HSET', KEYS[1], 'status', ARGV[1], 'updatedAt', ARGV[2])
if ARGV[4] == '1' then redis.call('HSET', KEYS[1], 'outcome', ARGV[5]) end
redis.call('EXPIRE', KEYS[1], ARGV[3])
if ARGV[7] == '1' then
  redis.call('ZREM', KEYS[2], ARGV[6])
else
  redis.call('ZADD', KEYS[2], redis.call('HGET', KEYS[1], 'createdAt') or '0', ARGV[6])
  redis.call('EXPIRE', KEYS[2], ARGV[3])
end
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

/**
 * Runs as Redis hashes (one field per record field, JSON for the nested ones) plus one checkpoint
 * key each, and per channel a sorted set of the ids of runs that have not ended (score createdAt).
 */
export function createRedisRunStore(options: RedisRunStoreOptions): RunStore {
  const { redis, keys } = options;
  const ttl = options.runTtlSeconds ?? DEFAULT_RUN_TTL_SECONDS;
  const clock = options.clock ?? systemClock;
  const channelRunsKey = (ref: ConversationRef) => keys.channelRuns(channelKeyOf(ref));
  const journal = createCheckpointJournal();

  const storedConversation = async (runId: string): Promise<ConversationRef | null> => {
    const fields = ['platform', 'tenantId', 'channelId', 'threadId', 'conversation'] as const;
    const values = await redis.hmget(keys.run(runId), ...fields);
    const hash: Record<string, string> = {};
    fields.forEach((field, i) => {
      const value = values[i];
      if (typeof value === 'string') hash[field] = value;
    });
    return Object.keys(hash).length === 0 ? null : conversationOf(hash);
  };

  return {
    create: (run) =>
      wrapUnavailable('run.create', async () => {
        const fields = toHash({
          ...run,
          status: 'queued',
          updatedAt: run.createdAt,
          outcome: null,
          limitsScale: run.limitsScale ?? DEFAULT_LIMITS_SCALE,
        });
        await createScript.run(
          redis,
          [keys.run(run.runId), channelRunsKey(run.conversation)],
          [ttl, run.createdAt, run.runId, ...fields],
        );
      }),

    get: (runId) =>
      wrapUnavailable('run.get', async () => {
        const hash = await redis.hgetall(keys.run(runId));
        return Object.keys(hash).length === 0 ? undefined : fromHash(hash, runId);
      }),

    transition: (runId, to, patch) =>
      wrapUnavailable('run.transition', async () => {
        // A run's conversation never changes after create, so reading it before the atomic move
        // names the right channel index without making the move itself less atomic.
        const conversation = patch?.conversation ?? (await storedConversation(runId));
        if (conversation === null) throw new IllegalTransitionError(runId, null, to);
        const outcome = patch?.outcome;
        const reply = await transitionScript.run(
          redis,
          [keys.run(runId), channelRunsKey(conversation)],
          [
            to,
            clock.now(),
            ttl,
            outcome === undefined ? '0' : '1',
            JSON.stringify(outcome ?? null),
            runId,
            TERMINAL_RUN_STATUSES.includes(to) ? '1' : '0',
            ...legalSources(to),
          ],
        );
        if (!Array.isArray(reply) || reply.length < 2) throw new Error(`run.transition: unexpected reply`);
        const [moved, ...rest] = reply.map(String);
        if (moved !== '1') throw new IllegalTransitionError(runId, rest[0] || null, to);
        return fromHash(pairsToRecord(rest), runId);
      }),

    activeInChannel: (channel) =>
      wrapUnavailable('run.activeInChannel', async () => {
        const indexKey = channelRunsKey(channel);
        const runIds = await redis.zrange(indexKey, 0, -1);
        if (runIds.length === 0) return [];
        const pipeline = redis.pipeline();
        for (const runId of runIds) pipeline.hgetall(keys.run(runId));
        const replies = (await pipeline.exec()) ?? [];
        const active: RunRecord[] = [];
        const stale: string[] = [];
        runIds.forEach((runId, index) => {
          const [error, hash] = replies[index] ?? [new Error('no reply'), null];
          if (error) throw error;
          if (!isStringRecord(hash) || Object.keys(hash).length === 0) {
            // The record expired before the index did.
            stale.push(runId);
            return;
          }
          const record = fromHash(hash, runId);
          if (TERMINAL_RUN_STATUSES.includes(record.status)) stale.push(runId);
          else active.push(record);
        });
        if (stale.length > 0) await redis.zrem(indexKey, ...stale);
        return active;
      }),

    saveCheckpoint: (state) =>
      wrapUnavailable('run.saveCheckpoint', async () => {
        const key = keys.checkpoint(state.runId);
        if (isWaiting(state)) {
          // A run waiting for a person may wait for days: packed whole, it is as small as it gets.
          journal.forget(state);
          await redis.set(key, packJson(state), 'EX', ttl);
          return;
        }
        // A running run's steps add to its journal (see checkpoint-journal.ts).
        const write = journal.encode(state);
        try {
          if (write.mode === 'set') {
            await redis.set(key, write.value, 'EX', ttl);
            return;
          }
          const length = await redis.append(key, write.value);
          // Nothing was stored to add to (the key expired or was deleted): store it whole again.
          if (length === Buffer.byteLength(write.value)) {
            await redis.set(key, journal.encode(state, { whole: true }).value, 'EX', ttl);
          }
        } catch (error) {
          journal.forget(state);
          throw error;
        }
      }),

    loadCheckpoint: (runId) =>
      wrapUnavailable('run.loadCheckpoint', async () => {
        const raw = await redis.getBuffer(keys.checkpoint(runId));
        if (raw === null) return undefined;
        const parsed = isJournal(raw) ? readJournal(raw) : unpackJson(raw);
        if (!isRunState(parsed)) throw new Error(`checkpoint of run ${runId} is not a run state`);
        // Checkpoints saved before these fields existed: plain limits, a run of its own, no sub-agent.
        return {
          ...parsed,
          limitsScale: parsed.limitsScale ?? DEFAULT_LIMITS_SCALE,
          rootRunId: parsed.rootRunId ?? parsed.runId,
          parentRunId: parsed.parentRunId ?? null,
          chain: parsed.chain ?? [parsed.agent],
          child: parsed.child ?? null,
        };
      }),
  };
}

/**
 * Every value short and flat (the conversation as its parts, no outcome until there is one), so
 * Redis keeps the hash as a listpack: about 400 bytes instead of 1.1 KB as a hashtable, which it
 * switches to once any value passes 64 bytes (a long message text still does that). What the key
 * and the other fields already say is left out (a run may wait days for a person): the run id
 * (the key's), the conversation key when it is the conversation's own, the plain limits scale.
 * Records of earlier releases have those fields, and read the same.
 */
function toHash(record: RunRecord): string[] {
  const { platform, tenantId, channelId, threadId } = record.conversation;
  const derivedKey = conversationKey(record.conversation);
  return [
    'platform',
    platform,
    'tenantId',
    tenantId,
    'channelId',
    channelId,
    ...(threadId === null ? [] : ['threadId', threadId]),
    ...(record.conversationKey === derivedKey ? [] : ['conversationKey', record.conversationKey]),
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
    ...(record.outcome === null ? [] : ['outcome', JSON.stringify(record.outcome)]),
    ...(record.limitsScale === DEFAULT_LIMITS_SCALE ? [] : ['limitsScale', String(record.limitsScale)]),
  ];
}

function fromHash(hash: Record<string, string>, runId: string): RunRecord {
  const status = hash.status;
  if (!RUN_STATUSES.includes(status as RunStatus)) throw new Error(`run ${runId}: bad status ${status}`);
  const conversation = conversationOf(hash);
  return {
    runId,
    conversation,
    conversationKey: hash.conversationKey ?? conversationKey(conversation),
    requestedBy: hash.requestedBy ?? '',
    agent: hash.agent ?? '',
    text: hash.text ?? '',
    eventId: hash.eventId ?? '',
    status: status as RunStatus,
    createdAt: Number(hash.createdAt),
    updatedAt: Number(hash.updatedAt),
    outcome: JSON.parse(hash.outcome ?? 'null') as RunOutcome | null,
    limitsScale: parseLimitsScale(hash.limitsScale),
  };
}

function conversationOf(hash: Record<string, string>): ConversationRef {
  // Records written before the parts were fields kept the conversation as JSON.
  if (hash.platform === undefined) return JSON.parse(hash.conversation ?? 'null') as ConversationRef;
  return {
    platform: hash.platform,
    tenantId: hash.tenantId ?? '',
    channelId: hash.channelId ?? '',
    threadId: hash.threadId ?? null,
  };
}

// Records written before limitsScale existed have no field: they ran with the plain limits.
function parseLimitsScale(raw: string | undefined): number {
  const value = raw === undefined ? Number.NaN : Number(raw);
  return Number.isFinite(value) && value > 0 ? value : DEFAULT_LIMITS_SCALE;
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

/** A run (or a sub-agent it waits on) parked on an approval. */
function isWaiting(state: RunState): boolean {
  return state.pendingApproval !== null || (state.child !== null && isWaiting(state.child.state));
}
