/**
 * Conversation lanes: the per-conversation FIFO that keeps work items of one conversation strictly
 * one at a time, in arrival order, on top of a plain BullMQ queue (no BullMQ Pro groups).
 *
 * Keys, all under the configured prefix (this module owns them):
 *   `${prefix}lane:${conversationKey}:items`   list of item JSON, FIFO. TTL LANE_TTL_MS, refreshed on
 *                                              each push (a lane nobody drained for a week is abandoned).
 *   `${prefix}lane:${conversationKey}:lock`    the drainer's random token. TTL = the lock TTL (≈ BullMQ
 *                                              lockDuration), renewed while held, so a dead holder frees it.
 *   `${prefix}lane:${conversationKey}:current` JSON of the item being handled. TTL LANE_TTL_MS; deleted when
 *                                              the item is finished, so one left behind marks a crashed holder.
 *   `${prefix}lane-item:${itemId}`             'queued' (TTL QUEUED_MARKER_TTL_MS) then 'done'
 *                                              (TTL DONE_MARKER_TTL_MS): dedupes enqueue and tells a waiting
 *                                              job that a drainer already handled its item.
 */
import type { Redis } from 'ioredis';
import type { ConversationRef } from '../core/conversation.ts';
import { StewardError } from '../core/errors.ts';
import { isRecord } from '../core/is-record.ts';
import type { WorkItem } from '../core/work.ts';
import { defineScript } from '../state/redis-connection.ts';

export const LANE_TTL_MS = 7 * 24 * 60 * 60 * 1000;
export const QUEUED_MARKER_TTL_MS = 7 * 24 * 60 * 60 * 1000;
export const DONE_MARKER_TTL_MS = 24 * 60 * 60 * 1000;

export interface LaneKeys {
  readonly items: string;
  readonly lock: string;
  readonly current: string;
}

export function laneKeys(prefix: string, conversationKey: string): LaneKeys {
  const base = `${prefix}lane:${conversationKey}`;
  return { items: `${base}:items`, lock: `${base}:lock`, current: `${base}:current` };
}

export function itemMarkerKey(prefix: string, itemId: string): string {
  return `${prefix}lane-item:${itemId}`;
}

/**
 * Push once per item id: the marker's SET NX makes a retried enqueue a no-op. Sent in order: the run
 * queue sends the item's BullMQ job beside this push, and a job that lands first finds its lane
 * empty and ends, stranding the item.
 */
const PUSH = defineScript(
  `
if redis.call('SET', KEYS[1], 'queued', 'NX', 'PX', ARGV[2]) then
  redis.call('RPUSH', KEYS[2], ARGV[1])
  redis.call('PEXPIRE', KEYS[2], ARGV[3])
  return 1
end
return 0`,
  { inOrder: true },
);

/**
 * The lock holder's next step: pop the lane's next item into "current", or release the lock when
 * the lane is empty, in one step: an item pushed before the release is popped here, and one pushed
 * after it has its own job that finds the lock free. Doing these as two commands would lose that
 * item's wake-up.
 */
const POP_OR_RELEASE = `
local function pop_or_release(lock, items, current, ttl)
  local item = redis.call('LPOP', items)
  if item then
    redis.call('SET', current, item, 'PX', ttl)
    return {'item', item}
  end
  redis.call('DEL', lock)
  return {'released'}
end
`;

/**
 * Taken: {1, 'stale', item} when a previous holder left an item in "current", else {1, 'item',
 * item} or {1, 'released'} as pop_or_release says: taking a lane and its first item is one round
 * trip. Not taken: {0, PTTL of the holder's lock}.
 */
const ACQUIRE = defineScript(`${POP_OR_RELEASE}
if not redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return {0, redis.call('PTTL', KEYS[1])} end
local stale = redis.call('GET', KEYS[2])
if stale then return {1, 'stale', stale} end
local popped = pop_or_release(KEYS[1], KEYS[3], KEYS[2], ARGV[3])
return {1, popped[1], popped[2]}`);

const RENEW = defineScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0`);

/**
 * pop_or_release for the holder of the lock (else {'lost'}). The item just handled (ARGV[3], its
 * marker KEYS[4]) is finished first, as FINISH does, saving a round trip.
 */
const NEXT = defineScript(`${POP_OR_RELEASE}
if ARGV[3] ~= '' then
  if redis.call('GET', KEYS[3]) == ARGV[3] then redis.call('DEL', KEYS[3]) end
  if KEYS[4] then redis.call('SET', KEYS[4], 'done', 'PX', ARGV[4]) end
end
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return {'lost'} end
return pop_or_release(KEYS[1], KEYS[2], KEYS[3], ARGV[2])`);

/** Clear "current" only if it still holds this item (a new holder may have moved on). */
const FINISH = defineScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
if KEYS[2] then redis.call('SET', KEYS[2], 'done', 'PX', ARGV[2]) end
return 1`);

const RELEASE = defineScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`);

export type AcquireResult =
  /**
   * `stale`: the item a previous holder was handling when it stopped (handle it first, then call
   * next()). Otherwise `first` is the lane's first item, already in hand, or `released` when the lane
   * was empty (the lock is let go again).
   */
  | { readonly acquired: true; readonly stale: string }
  | { readonly acquired: true; readonly stale: null; readonly first: FirstItem }
  | { readonly acquired: false; readonly lockTtlMs: number };

/** An item handled and to be marked finished (itemId undefined only for unreadable JSON). */
export interface FinishedItem {
  readonly itemId: string | undefined;
  readonly raw: string;
}
export type NextResult =
  | { readonly kind: 'item'; readonly raw: string }
  | { readonly kind: 'released' }
  | { readonly kind: 'lost' };
export type ItemState = 'queued' | 'done' | 'unknown';
export type FirstItem = Exclude<NextResult, { readonly kind: 'lost' }>;

export interface ConversationLanes {
  /** Appends the item to its lane unless this item id was pushed before; true when pushed. */
  push(item: WorkItem): Promise<boolean>;
  acquire(conversationKey: string, token: string): Promise<AcquireResult>;
  /** False when the lock is no longer ours. */
  renew(conversationKey: string, token: string): Promise<boolean>;
  /** Pops the next item; `finished` is marked finished first, in the same step. */
  next(conversationKey: string, token: string, finished?: FinishedItem): Promise<NextResult>;
  /** Marks the item handled; `itemId` is undefined only for unreadable JSON. */
  finish(conversationKey: string, itemId: string | undefined, raw: string): Promise<void>;
  release(conversationKey: string, token: string): Promise<void>;
  itemState(itemId: string): Promise<ItemState>;
}

export function createConversationLanes(options: {
  redis: Redis;
  prefix: string;
  lockTtlMs: number;
}): ConversationLanes {
  const { redis, prefix, lockTtlMs } = options;
  const keys = (conversationKey: string) => laneKeys(prefix, conversationKey);
  return {
    async push(item) {
      const pushed = await PUSH.run(
        redis,
        [itemMarkerKey(prefix, item.itemId), keys(item.conversationKey).items],
        [JSON.stringify(item), QUEUED_MARKER_TTL_MS, LANE_TTL_MS],
      );
      return pushed === 1;
    },
    async acquire(conversationKey, token) {
      const { lock, current, items } = keys(conversationKey);
      const reply = await ACQUIRE.run(redis, [lock, current, items], [token, lockTtlMs, LANE_TTL_MS]);
      if (!Array.isArray(reply)) throw new Error(`unexpected lane acquire reply ${String(reply)}`);
      const [taken, kind, raw] = reply as unknown[];
      if (taken !== 1) return { acquired: false, lockTtlMs: typeof kind === 'number' ? kind : -2 };
      if (kind === 'stale' && typeof raw === 'string') return { acquired: true, stale: raw };
      if (kind === 'item' && typeof raw === 'string')
        return { acquired: true, stale: null, first: { kind, raw } };
      if (kind === 'released') return { acquired: true, stale: null, first: { kind } };
      throw new Error(`unexpected lane acquire reply ${String(kind)}`);
    },
    async renew(conversationKey, token) {
      return (await RENEW.run(redis, [keys(conversationKey).lock], [token, lockTtlMs])) === 1;
    },
    async next(conversationKey, token, finished) {
      const { lock, items, current } = keys(conversationKey);
      const scriptKeys = [lock, items, current];
      if (finished?.itemId !== undefined) scriptKeys.push(itemMarkerKey(prefix, finished.itemId));
      const reply = await NEXT.run(redis, scriptKeys, [
        token,
        LANE_TTL_MS,
        finished?.raw ?? '',
        DONE_MARKER_TTL_MS,
      ]);
      if (!Array.isArray(reply)) throw new Error(`unexpected lane next reply ${String(reply)}`);
      const [kind, raw] = reply as unknown[];
      if (kind === 'item' && typeof raw === 'string') return { kind, raw };
      if (kind === 'released' || kind === 'lost') return { kind };
      throw new Error(`unexpected lane next reply ${String(kind)}`);
    },
    async finish(conversationKey, itemId, raw) {
      const scriptKeys = [keys(conversationKey).current];
      if (itemId !== undefined) scriptKeys.push(itemMarkerKey(prefix, itemId));
      await FINISH.run(redis, scriptKeys, [raw, DONE_MARKER_TTL_MS]);
    },
    async release(conversationKey, token) {
      await RELEASE.run(redis, [keys(conversationKey).lock], [token]);
    },
    async itemState(itemId) {
      const state = await redis.get(itemMarkerKey(prefix, itemId));
      return state === 'queued' || state === 'done' ? state : 'unknown';
    },
  };
}

/** The abort reason a handler sees when its conversation lock could not be kept. */
export class LaneLockLostError extends StewardError {
  readonly code = 'LANE_LOCK_LOST';
  readonly conversationKey: string;

  constructor(conversationKey: string) {
    super(`lost the conversation lock for ${conversationKey}`);
    this.conversationKey = conversationKey;
  }
}

export interface LaneLease {
  /** Aborts (with a LaneLockLostError) once the lock is no longer ours. */
  readonly signal: AbortSignal;
  stop(): void;
}

/**
 * Keeps a taken lane lock alive, renewing it every third of its TTL. The lock counts as lost when
 * a renewal finds another token, or when no renewal succeeded for a whole TTL (Redis away): by then
 * another worker may have taken the lane.
 */
export function holdLaneLock(
  lanes: ConversationLanes,
  conversationKey: string,
  token: string,
  lockTtlMs: number,
): LaneLease {
  const lost = new AbortController();
  let lastRenewedAt = Date.now();
  let renewing = false;
  const lose = (): void => {
    clearInterval(timer);
    lost.abort(new LaneLockLostError(conversationKey));
  };
  const timer = setInterval(() => {
    // Checked before renewing: a renewal stuck on a dead connection would never settle.
    if (Date.now() - lastRenewedAt >= lockTtlMs) return lose();
    if (renewing) return;
    renewing = true;
    lanes
      .renew(conversationKey, token)
      .then(
        (ours) => {
          if (ours) lastRenewedAt = Date.now();
          else lose();
        },
        // Retried on the next tick; the TTL check above decides when to give up.
        () => undefined,
      )
      .finally(() => {
        renewing = false;
      });
  }, lockTtlMs / 3);
  return { signal: lost.signal, stop: () => clearInterval(timer) };
}

/** Reads an item back from Redis; undefined when it is not a well-formed WorkItem. */
export function parseWorkItem(raw: string): WorkItem | undefined {
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    return undefined;
  }
  if (!isRecord(value)) return undefined;
  const { kind, itemId, runId, conversationKey } = value;
  if (typeof itemId !== 'string' || typeof runId !== 'string' || typeof conversationKey !== 'string') {
    return undefined;
  }
  const base = { itemId, runId, conversationKey };
  if (kind === 'start') {
    const conversation = conversationOf(value.conversation);
    return conversation ? { kind, ...base, conversation } : { kind, ...base };
  }
  if (kind === 'expire') {
    return typeof value.approvalId === 'string' ? { kind, ...base, approvalId: value.approvalId } : undefined;
  }
  if (kind === 'resume' && isRecord(value.decision)) {
    const { approvalId, decision, by } = value.decision;
    if (typeof approvalId !== 'string' || typeof by !== 'string') return undefined;
    if (decision !== 'approve' && decision !== 'reject') return undefined;
    return { kind, ...base, decision: { approvalId, decision, by } };
  }
  return undefined;
}

function conversationOf(value: unknown): ConversationRef | undefined {
  if (!isRecord(value)) return undefined;
  const { platform, tenantId, channelId, threadId } = value;
  if (typeof platform !== 'string' || typeof tenantId !== 'string' || typeof channelId !== 'string')
    return undefined;
  if (threadId !== null && typeof threadId !== 'string') return undefined;
  return { platform, tenantId, channelId, threadId };
}
