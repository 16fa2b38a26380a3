/**
 * Work items due later (an approval's expiry), kept as members of one sorted set scored by their
 * due time instead of a BullMQ delayed job each: a delayed job is a hash of options and data of
 * about 1.4 KB plus event-stream entries, a member here about 250 bytes, and a run parked for
 * approval should cost its conversation almost nothing while it waits.
 *
 * Key (this module owns it): `${prefix}timers`, sorted set scored by due time in ms. No TTL: a member
 * leaves when its item has been enqueued. A member is the item in its smallest form (timerMember):
 * an approval's expiry, the only item scheduled today, is `["e",approvalId,conversationKey]` (about
 * 90 bytes; the approval's id names its run) instead of the whole item's JSON (about 240), or
 * `["x",approvalId,runId,conversationKey]` for an approval id that does not name its run; any other
 * item is its JSON. Members written as item JSON by earlier releases are still read.
 *
 * Every worker process sweeps. A sweep claims due members by moving their score a lease into the
 * future (one Lua step, so two sweepers never claim the same member at once), enqueues each item as
 * an immediate one, then removes it. A sweeper that dies between claim and removal leaves the member
 * to be claimed again when the lease ends; enqueueing twice is harmless because lanes take an item
 * id once.
 */
import type { Redis } from 'ioredis';
import type { Logger } from '../core/ports.ts';
import { runIdOfApproval } from '../core/run-state.ts';
import type { WorkItem } from '../core/work.ts';
import { defineScript } from '../state/redis-connection.ts';
import { parseWorkItem } from './conversation-lanes.ts';

export const RUN_TIMER_DEFAULTS = {
  /** How often each worker looks for due items; an expiry fires at most this late. */
  sweepIntervalMs: 1_000,
  /** A claimed item not enqueued within this long is claimed again (its sweeper died). */
  leaseMs: 30_000,
  /** Items claimed per sweep; a sweep that fills it sweeps again at once. */
  batch: 200,
} as const;

export function timersKey(prefix: string): string {
  return `${prefix}timers`;
}

// KEYS: timers. ARGV: now, lease until, batch size. Returns the claimed members.
const CLAIM = defineScript(`
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ARGV[3])
for _, member in ipairs(due) do redis.call('ZADD', KEYS[1], 'XX', ARGV[2], member) end
return due`);

/** Schedules `item` for `dueAt` (ms since the epoch). The same item scheduled twice is one timer. */
export async function scheduleTimer(
  redis: Redis,
  prefix: string,
  item: WorkItem,
  dueAt: number,
): Promise<void> {
  await redis.zadd(timersKey(prefix), dueAt, timerMember(item));
}

/** Tags of the compact forms of an expiry whose item id is `expire:<approvalId>`. */
const EXPIRY_OF_NAMED_RUN = 'e';
const EXPIRY = 'x';

/**
 * The member a timer is stored as. Deterministic, so the same item scheduled twice is one member.
 * Only an expiry whose item id the compact form can rebuild is compacted; anything else is its JSON.
 */
export function timerMember(item: WorkItem): string {
  if (item.kind !== 'expire' || item.itemId !== `expire:${item.approvalId}`) return JSON.stringify(item);
  if (runIdOfApproval(item.approvalId) === item.runId) {
    return JSON.stringify([EXPIRY_OF_NAMED_RUN, item.approvalId, item.conversationKey]);
  }
  return JSON.stringify([EXPIRY, item.approvalId, item.runId, item.conversationKey]);
}

/** The item a member stands for, compact or item JSON; undefined when it is neither. */
export function parseTimerMember(member: string): WorkItem | undefined {
  if (!member.startsWith('[')) return parseWorkItem(member);
  let value: unknown;
  try {
    value = JSON.parse(member);
  } catch {
    return undefined;
  }
  if (!Array.isArray(value) || !value.every((part) => typeof part === 'string')) return undefined;
  const parts = value as string[];
  const [tag, approvalId] = parts;
  if (approvalId === undefined) return undefined;
  const [runId, conversationKey] =
    tag === EXPIRY_OF_NAMED_RUN && parts.length === 3
      ? [runIdOfApproval(approvalId), parts[2]]
      : tag === EXPIRY && parts.length === 4
        ? [parts[2], parts[3]]
        : [];
  if (runId === undefined || conversationKey === undefined) return undefined;
  return { kind: 'expire', itemId: `expire:${approvalId}`, runId, conversationKey, approvalId };
}

export interface TimerSweeperOptions {
  readonly redis: Redis;
  readonly prefix: string;
  /** Enqueues a due item now (the run queue's immediate path). */
  readonly enqueue: (item: WorkItem) => Promise<void>;
  readonly logger: Logger;
  readonly sweepIntervalMs?: number;
  readonly leaseMs?: number;
  readonly batch?: number;
  /** Wall-clock time; injectable for tests. */
  readonly now?: () => number;
}

export interface TimerSweeper {
  /** One sweep: enqueues every due item; resolves to how many were enqueued. */
  sweep(): Promise<number>;
  start(): void;
  close(): Promise<void>;
}

export function createTimerSweeper(options: TimerSweeperOptions): TimerSweeper {
  const { redis, prefix, enqueue, logger } = options;
  const key = timersKey(prefix);
  const intervalMs = options.sweepIntervalMs ?? RUN_TIMER_DEFAULTS.sweepIntervalMs;
  const leaseMs = options.leaseMs ?? RUN_TIMER_DEFAULTS.leaseMs;
  const batch = options.batch ?? RUN_TIMER_DEFAULTS.batch;
  const now = options.now ?? Date.now;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<unknown> | undefined;
  let closed = false;

  const sweepOnce = async (): Promise<{ enqueued: number; full: boolean }> => {
    const at = now();
    const claimed = await CLAIM.run(redis, [key], [at, at + leaseMs, batch]);
    const members = Array.isArray(claimed) ? claimed.map(String) : [];
    // Side by side: a backlog (after an outage, say) must not wait two round trips per item.
    const done = await Promise.all(
      members.map(async (member) => {
        const item = parseTimerMember(member);
        if (item) {
          // A failure leaves the member claimed: it is tried again when the lease ends.
          await enqueue(item);
        } else {
          logger.error({ member: member.slice(0, 200) }, 'run timers: unreadable item dropped');
        }
        await redis.zrem(key, member);
        return item !== undefined;
      }),
    );
    return { enqueued: done.filter(Boolean).length, full: members.length >= batch };
  };

  const sweep = async (): Promise<number> => {
    let total = 0;
    for (;;) {
      const { enqueued, full } = await sweepOnce();
      total += enqueued;
      if (!full || closed) return total;
    }
  };

  const tick = (): void => {
    running = sweep()
      .catch((error: unknown) => logger.warn({ err: error }, 'run timers: sweep failed; trying again'))
      .finally(() => {
        running = undefined;
        if (!closed) timer = setTimeout(tick, intervalMs);
      });
  };

  return {
    sweep,
    start() {
      if (timer !== undefined || closed) return;
      timer = setTimeout(tick, intervalMs);
    },
    async close() {
      closed = true;
      clearTimeout(timer);
      await running;
    },
  };
}
