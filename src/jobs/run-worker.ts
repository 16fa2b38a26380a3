/**
 * The consumer side of the run queue. A job is a wake-up for one conversation lane: the job that
 * takes the lane's lock drains it (recovering a crashed holder's item first); a job that finds the
 * lock taken parks itself as a delayed job until its item is handled, so a busy conversation holds
 * at most one worker slot and other conversations are not held up.
 */
import { randomUUID } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import { DelayedError, type Job, Worker } from 'bullmq';
import { Redis, type RedisOptions } from 'ioredis';
import { IllegalTransitionError, StateUnavailableError, StewardError } from '../core/errors.ts';
import { lazyChild } from '../core/lazy-logger.ts';
import type { Logger } from '../core/ports.ts';
import type { WorkHandler } from '../core/work.ts';
import {
  type AcquireResult,
  createConversationLanes,
  type FinishedItem,
  holdLaneLock,
  type LaneLease,
  parseWorkItem,
} from './conversation-lanes.ts';
import {
  bullPrefix,
  createErrorReporter,
  DEFAULT_RUN_QUEUE_NAME,
  parseJobData,
  type RunJobData,
} from './run-queue.ts';

export const RUN_WORKER_DEFAULTS = {
  concurrency: 4,
  /** BullMQ job lock and lane lock TTL: a dead worker's item is free again after at most this. */
  lockDurationMs: 8_000,
  /** How often live workers look for jobs whose worker died. */
  stalledIntervalMs: 3_000,
  /** How long close() lets in-flight handlers finish before aborting their signal. */
  graceMs: 10_000,
  /** A job whose worker died more often than this is failed (a lane's next item still recovers it). */
  maxStalledCount: 3,
} as const;

/** After aborting handlers at the end of the grace period, how long close() still waits for them. */
const ABORT_WAIT_MS = 1_000;
/** Slack added to a holder's lock TTL before a waiting job looks again. */
const LOCK_RETRY_SLACK_MS = 100;
/** Back-off before retrying a lane whose state store was unreachable. */
const UNAVAILABLE_RETRY_MS = 1_000;

/** The abort reason handlers see when the worker shuts down. */
export class WorkerShutdownError extends StewardError {
  readonly code = 'WORKER_SHUTDOWN';
  readonly graceMs: number;

  constructor(graceMs: number) {
    super(`the worker is shutting down (grace period of ${graceMs} ms ended)`);
    this.graceMs = graceMs;
  }
}

export interface RunWorkerOptions {
  /** For BullMQ; duplicated (an instance) or used (options) with maxRetriesPerRequest: null. */
  readonly connection: Redis | RedisOptions;
  /** For the lane commands; not closed by close(). */
  readonly commands: Redis;
  readonly prefix: string;
  readonly queueName?: string;
  readonly concurrency?: number;
  readonly lockDurationMs?: number;
  readonly stalledIntervalMs?: number;
  readonly maxStalledCount?: number;
  readonly graceMs?: number;
  readonly handler: WorkHandler;
  readonly logger: Logger;
}

export interface RunWorker {
  /** Stops taking work, lets handlers finish within the grace period, then aborts them. */
  close(): Promise<void>;
  /** Resolves once the worker is connected and taking jobs. */
  ready(): Promise<void>;
}

/** Why a drain ended: all done, someone else holds the lane, or we stopped with work left. */
type DrainResult =
  | { readonly kind: 'finished' }
  | { readonly kind: 'wait'; readonly retryInMs: number }
  | { readonly kind: 'stopped'; readonly retryInMs: number };
type Handled = 'done' | 'interrupted' | 'unavailable';

export function createRunWorker(options: RunWorkerOptions): RunWorker {
  const { logger, handler } = options;
  const lockTtlMs = options.lockDurationMs ?? RUN_WORKER_DEFAULTS.lockDurationMs;
  const graceMs = options.graceMs ?? RUN_WORKER_DEFAULTS.graceMs;
  const lanes = createConversationLanes({ redis: options.commands, prefix: options.prefix, lockTtlMs });
  const shutdown = new AbortController();
  // Every job in flight follows this signal; more than 10 at once is normal, not a leak.
  setMaxListeners(0, shutdown.signal);
  const leases = new Set<LaneLease>();
  let closing = false;

  const handle = async (
    raw: string,
    recovering: boolean,
    lockSignal: AbortSignal,
    log: Logger,
    settleLast: (write: Promise<unknown>) => void,
  ): Promise<Handled> => {
    const item = parseWorkItem(raw);
    if (!item) {
      log.error({ raw: raw.slice(0, 200) }, 'run worker: unreadable work item dropped');
      return 'done';
    }
    // The previous holder finished it but died before clearing "current".
    if (recovering && (await lanes.itemState(item.itemId)) === 'done') return 'done';
    const controller = new AbortController();
    const unlink = follow(controller, [lockSignal, shutdown.signal]);
    const itemLog = lazyChild(log, { itemId: item.itemId, runId: item.runId, kind: item.kind });
    try {
      await handler(item, { recovering, signal: controller.signal, settleLast });
    } catch (error) {
      if (!controller.signal.aborted) {
        // The handler says the state store is away: keep the item and hand it over again later.
        if (error instanceof StateUnavailableError) return 'unavailable';
        // The handler owns its run's state; a throwing item must not wedge the conversation.
        itemLog.error({ err: error, recovering }, 'run worker: handler failed; moving on');
      }
    } finally {
      unlink();
    }
    if (controller.signal.aborted) {
      itemLog.warn(
        { reason: String(controller.signal.reason) },
        'run worker: item interrupted; left for recovery',
      );
      return 'interrupted';
    }
    // Marked finished by the drain loop, together with popping the next item.
    return 'done';
  };

  const drain = async (
    conversationKey: string,
    token: string,
    taken: Extract<AcquireResult, { acquired: true }>,
    log: Logger,
  ): Promise<DrainResult> => {
    // Taking the lane popped its first item (or found it empty and let go) in the same step.
    let first = taken.stale === null ? taken.first : undefined;
    if (first?.kind === 'released') return { kind: 'finished' };
    const lease = holdLaneLock(lanes, conversationKey, token, lockTtlMs);
    leases.add(lease);
    // The last item's ending, sent by its handler and awaited here beside the lane's next step.
    let ending: Promise<unknown> | undefined;
    const settleLast = (write: Promise<unknown>): void => {
      ending = write;
    };
    const ended = async (): Promise<void> => {
      const write = ending;
      ending = undefined;
      await write?.catch((error: unknown) => {
        // Another process moved the run first (a duplicate delivery): that process owns its ending.
        if (error instanceof IllegalTransitionError)
          log.warn({ err: error }, 'run worker: run moved by another worker');
        else log.error({ err: error }, 'run worker: an item’s last write failed');
      });
    };
    const stopEarly = async (handled: Handled | 'closing'): Promise<DrainResult> => {
      await ended();
      // Not ours any more: whoever holds it now drains; look again once their lock would lapse.
      if (lease.signal.aborted) return { kind: 'wait', retryInMs: lockTtlMs + LOCK_RETRY_SLACK_MS };
      await lanes.release(conversationKey, token);
      return { kind: 'stopped', retryInMs: handled === 'unavailable' ? UNAVAILABLE_RETRY_MS : 0 };
    };
    const finishedItem = (raw: string): FinishedItem => ({ itemId: parseWorkItem(raw)?.itemId, raw });
    // The item handled last; it is marked finished in the same step that pops the next one.
    let finished: FinishedItem | undefined;
    try {
      if (taken.stale !== null) {
        log.warn({}, 'run worker: recovering an item whose worker stopped');
        const handled = await handle(taken.stale, true, lease.signal, log, settleLast);
        if (handled !== 'done') return await stopEarly(handled);
        finished = finishedItem(taken.stale);
      }
      for (;;) {
        if (closing) {
          if (finished)
            await Promise.all([lanes.finish(conversationKey, finished.itemId, finished.raw), ended()]);
          return await stopEarly('closing');
        }
        // Sent in the same tick as the handler's ending, so both go in one round trip.
        const [next] = await Promise.all([first ?? lanes.next(conversationKey, token, finished), ended()]);
        first = undefined;
        finished = undefined;
        if (next.kind === 'released') return { kind: 'finished' };
        if (next.kind === 'lost') return { kind: 'wait', retryInMs: lockTtlMs + LOCK_RETRY_SLACK_MS };
        const handled = await handle(next.raw, false, lease.signal, log, settleLast);
        if (handled !== 'done') return await stopEarly(handled);
        finished = finishedItem(next.raw);
      }
    } finally {
      lease.stop();
      leases.delete(lease);
    }
  };

  const lane = async (job: Job<RunJobData>): Promise<DrainResult> => {
    const data = parseJobData(job.data);
    if (!data) {
      logger.error({ jobId: job.id }, 'run worker: malformed job dropped');
      return { kind: 'finished' };
    }
    const log = lazyChild(logger, { conversationKey: data.conversationKey, jobItemId: data.itemId });
    if (data.item !== undefined) {
      const item = parseWorkItem(data.item);
      if (!item) {
        log.error({}, 'run worker: malformed delayed item dropped');
        return { kind: 'finished' };
      }
      // A delayed item joins its lane only now, behind whatever arrived meanwhile.
      await lanes.push(item);
    }
    const token = randomUUID();
    const taken = closing
      ? { acquired: false as const, lockTtlMs: 0 }
      : await lanes.acquire(data.conversationKey, token);
    const result: DrainResult = taken.acquired
      ? await drain(data.conversationKey, token, taken, log)
      : { kind: 'wait', retryInMs: Math.max(taken.lockTtlMs, 0) + LOCK_RETRY_SLACK_MS };
    // The holder drains the whole lane: once our item is handled this wake-up is spent.
    if (result.kind === 'wait' && (await lanes.itemState(data.itemId)) !== 'queued') {
      return { kind: 'finished' };
    }
    return result;
  };

  const processJob = async (job: Job<RunJobData>, jobToken?: string): Promise<void> => {
    if (jobToken === undefined) throw new Error('run worker: job arrived without a lock token');
    let result: DrainResult;
    try {
      result = await lane(job);
    } catch (error) {
      // Usually Redis going away mid-drain. Park the job rather than fail it: a failed job would
      // be a lost wake-up. The lane lock lapses on its own, and the next run recovers "current".
      logger.warn({ err: error, jobId: job.id }, 'run worker: lane step failed; retrying later');
      result = { kind: 'stopped', retryInMs: UNAVAILABLE_RETRY_MS };
    }
    if (result.kind === 'finished') return;
    // Parked as delayed, the job holds no worker slot while its conversation is busy elsewhere.
    await job.moveToDelayed(Date.now() + result.retryInMs, jobToken);
    throw new DelayedError();
  };

  const connection =
    options.connection instanceof Redis
      ? options.connection.duplicate({ maxRetriesPerRequest: null })
      : new Redis({ ...options.connection, maxRetriesPerRequest: null });
  const worker = new Worker<RunJobData, void, string>(
    options.queueName ?? DEFAULT_RUN_QUEUE_NAME,
    processJob,
    {
      connection,
      prefix: bullPrefix(options.prefix),
      concurrency: options.concurrency ?? RUN_WORKER_DEFAULTS.concurrency,
      lockDuration: lockTtlMs,
      stalledInterval: options.stalledIntervalMs ?? RUN_WORKER_DEFAULTS.stalledIntervalMs,
      maxStalledCount: options.maxStalledCount ?? RUN_WORKER_DEFAULTS.maxStalledCount,
    },
  );
  // Without a listener an 'error' event would crash the process during a Redis outage.
  worker.on('error', createErrorReporter(logger, 'run worker: redis error'));
  worker.on('failed', (job, error) => {
    logger.error({ err: error, jobId: job?.id }, 'run worker: job failed; its lane waits for its next item');
  });

  let closed: Promise<void> | undefined;
  return {
    async ready() {
      await worker.waitUntilReady();
    },
    close() {
      closed ??= (async () => {
        closing = true;
        const workerClosed = worker.close().catch((error: unknown) => {
          logger.warn({ err: error }, 'run worker: error while closing');
        });
        const graceTimer = setTimeout(() => shutdown.abort(new WorkerShutdownError(graceMs)), graceMs);
        const stopped = await settlesWithin(workerClosed, graceMs + ABORT_WAIT_MS);
        clearTimeout(graceTimer);
        if (!stopped) {
          logger.error(
            { graceMs },
            'run worker: handlers ignored the abort; their items are left for recovery',
          );
          // Stop renewing so the lane locks lapse and another worker recovers those items.
          for (const lease of leases) lease.stop();
          connection.disconnect();
          return;
        }
        await connection.quit().catch(() => connection.disconnect());
      })();
      return closed;
    },
  };
}

/** Aborts `controller` when any of `signals` aborts; returns the unlinking function. */
function follow(controller: AbortController, signals: readonly AbortSignal[]): () => void {
  const listeners = signals.map((signal) => {
    const onAbort = (): void => controller.abort(signal.reason);
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
    return () => signal.removeEventListener('abort', onAbort);
  });
  return () => {
    for (const unlink of listeners) unlink();
  };
}

async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([promise.then(() => true as const), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
