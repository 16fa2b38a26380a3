/**
 * The producer side of the run queue. An immediate item is pushed to its conversation lane (see
 * conversation-lanes.ts) and then gets a BullMQ job that wakes a worker to drain that lane; a
 * delayed item waits in the timers set (run-timers.ts) until a worker's sweep enqueues it.
 */
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { StateUnavailableError } from '../core/errors.ts';
import { isRecord } from '../core/is-record.ts';
import type { Logger } from '../core/ports.ts';
import type { EnqueueOptions, RunQueue, WorkItem } from '../core/work.ts';
import { createConversationLanes } from './conversation-lanes.ts';
import { scheduleTimer } from './run-timers.ts';

export const DEFAULT_RUN_QUEUE_NAME = 'runs';
export const RUN_JOB_NAME = 'drain-lane';
/** Give up on an enqueue after this long, so callers can refuse work instead of hanging. */
export const DEFAULT_ENQUEUE_TIMEOUT_MS = 5_000;

/**
 * What a job carries. `item` was set only by releases that made delayed items BullMQ delayed jobs;
 * such a job still left in Redis pushes its item when it fires.
 */
export interface RunJobData {
  readonly conversationKey: string;
  readonly itemId: string;
  readonly item?: string;
}

/** BullMQ keys live under Steward's prefix too, e.g. `steward:bull:runs:wait`. */
export function bullPrefix(prefix: string): string {
  return `${prefix}bull`;
}

/**
 * BullMQ job ids may not contain ':' nor be integers, and item ids look like `start:<runId>`:
 * escape reversibly behind a fixed prefix, so equal item ids map to equal job ids.
 */
export function jobIdFor(itemId: string): string {
  return `item-${itemId.replaceAll('%', '%25').replaceAll(':', '%3A')}`;
}

export function parseJobData(value: unknown): RunJobData | undefined {
  if (!isRecord(value)) return undefined;
  const { conversationKey, itemId, item } = value;
  if (typeof conversationKey !== 'string' || typeof itemId !== 'string') return undefined;
  if (item !== undefined && typeof item !== 'string') return undefined;
  return item === undefined ? { conversationKey, itemId } : { conversationKey, itemId, item };
}

/** Completed jobs are only wake-ups; keep a few for inspection, never an unbounded history. */
export const JOB_RETENTION = {
  removeOnComplete: { age: 60 * 60, count: 100 },
  removeOnFail: { age: 7 * 24 * 60 * 60, count: 10_000 },
} as const;

/**
 * BullMQ's event stream feeds QueueEvents listeners, which Steward has none of; its default cap of
 * 10,000 entries (about 4.7 MB) would be a large share of an idle deployment's memory.
 */
export const EVENT_STREAM_MAX_LEN = 100;

/**
 * Logs connection errors without flooding: while Redis is away ioredis reports every reconnect
 * attempt, so repeat errors within `quietMs` are counted and summarised in the next line.
 */
export function createErrorReporter(
  logger: Logger,
  message: string,
  quietMs = 10_000,
): (error: Error) => void {
  let lastAt = Number.NEGATIVE_INFINITY;
  let suppressed = 0;
  return (error) => {
    const now = Date.now();
    if (now - lastAt < quietMs) {
      suppressed += 1;
      return;
    }
    logger.error({ err: error, suppressed }, message);
    lastAt = now;
    suppressed = 0;
  };
}

export interface RunQueueOptions {
  /** Used for the lane commands and shared by BullMQ's Queue; not closed by close(). */
  readonly connection: Redis;
  readonly prefix: string;
  readonly queueName?: string;
  readonly logger: Logger;
  readonly enqueueTimeoutMs?: number;
}

export function createRunQueue(options: RunQueueOptions): RunQueue & { close(): Promise<void> } {
  const { connection, prefix, logger } = options;
  const timeoutMs = options.enqueueTimeoutMs ?? DEFAULT_ENQUEUE_TIMEOUT_MS;
  const queue = new Queue<RunJobData, void, string>(options.queueName ?? DEFAULT_RUN_QUEUE_NAME, {
    connection,
    prefix: bullPrefix(prefix),
    defaultJobOptions: JOB_RETENTION,
    streams: { events: { maxLen: EVENT_STREAM_MAX_LEN } },
  });
  // Without a listener an 'error' event would crash the process during a Redis outage.
  queue.on('error', createErrorReporter(logger, 'run queue: redis error'));
  // The lock TTL is irrelevant on the producer side: it only pushes.
  const lanes = createConversationLanes({ redis: connection, prefix, lockTtlMs: 0 });

  const add = async (item: WorkItem, delayMs: number): Promise<void> => {
    if (delayMs > 0) {
      await scheduleTimer(connection, prefix, item, Date.now() + delayMs);
      return;
    }
    const base = { conversationKey: item.conversationKey, itemId: item.itemId };
    const jobId = jobIdFor(item.itemId);
    // Lane first: a job that runs before its item is in the lane would find nothing to do. Both go
    // out in one write on the one connection, so Redis runs the push first; a crash or a failed push
    // leaves at worst an item without a job (the caller's retry, same item id, adds it) or a job
    // that finds its lane empty (it ends at once).
    await Promise.all([lanes.push(item), queue.add(RUN_JOB_NAME, base, { jobId })]);
  };

  return {
    async enqueue(item, enqueueOptions?: EnqueueOptions) {
      // Commands sent while disconnected would wait in ioredis's offline queue: refuse at once
      // instead, which also keeps memory bounded however many callers keep trying.
      if (connection.status !== 'ready') {
        throw new StateUnavailableError('enqueue a work item', {
          cause: new Error(`redis connection is ${connection.status}`),
        });
      }
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer from redis within ${timeoutMs} ms`)), timeoutMs);
      });
      try {
        await Promise.race([add(item, enqueueOptions?.delayMs ?? 0), timeout]);
      } catch (error) {
        throw new StateUnavailableError('enqueue a work item', { cause: error });
      } finally {
        clearTimeout(timer);
      }
    },
    async close() {
      await queue.close();
    },
  };
}
