import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { StateUnavailableError } from '../../../src/core/errors.ts';
import type { WorkHandler } from '../../../src/core/work.ts';
import { createRunQueue } from '../../../src/jobs/run-queue.ts';
import { createTimerSweeper } from '../../../src/jobs/run-timers.ts';
import { createRunWorker, type RunWorkerOptions, WorkerShutdownError } from '../../../src/jobs/run-worker.ts';
import { connectTestRedis, type TestRedis } from '../../support/redis.ts';
import {
  type HandledItem,
  recordingHandler,
  recordingLogger,
  sleep,
  sleepUnlessAborted,
  startItem,
  waitFor,
} from './queue-harness.ts';

let env: TestRedis;
const toClose: Array<() => Promise<void>> = [];
const logger = recordingLogger();

beforeEach(async () => {
  env = await connectTestRedis({ name: 'run-queue' });
  logger.entries.length = 0;
});

afterEach(async () => {
  for (const close of toClose.splice(0).reverse()) await close();
  await env.cleanup();
});

function startQueue() {
  const queue = createRunQueue({ connection: env.redis, prefix: env.prefix, logger });
  toClose.push(() => queue.close());
  return queue;
}

async function startWorker(handler: WorkHandler, extra: Partial<RunWorkerOptions> = {}) {
  const worker = createRunWorker({
    connection: env.redis,
    commands: env.redis,
    prefix: env.prefix,
    handler,
    logger,
    ...extra,
  });
  toClose.push(() => worker.close());
  await worker.ready();
  return worker;
}

function of(handled: readonly HandledItem[], conversationKey: string): HandledItem[] {
  return handled.filter((entry) => entry.conversationKey === conversationKey);
}

function expectOneAtATimeInOrder(
  entries: readonly HandledItem[],
  conversationKey: string,
  count: number,
): void {
  expect(entries.map((entry) => entry.itemId)).toEqual(
    Array.from({ length: count }, (_, n) => `start:${conversationKey}-${n}`),
  );
  for (let n = 1; n < entries.length; n += 1) {
    const previousEnd = entries[n - 1]?.endedAt;
    expect(previousEnd).toBeDefined();
    expect(entries[n]?.startedAt).toBeGreaterThanOrEqual(previousEnd ?? Number.POSITIVE_INFINITY);
  }
}

describe('run queue on BullMQ', () => {
  it('handles one conversation one item at a time in order while another conversation proceeds', async () => {
    const queue = startQueue();
    const { handler, handled } = recordingHandler(() => sleep(20));
    await startWorker(handler, { concurrency: 4 });

    for (let n = 0; n < 30; n += 1) await queue.enqueue(startItem('busy', n));
    await queue.enqueue(startItem('other', 0));
    await waitFor('30 busy items', () => of(handled, 'busy').filter((e) => e.endedAt).length === 30, 10_000);

    const busy = of(handled, 'busy');
    expectOneAtATimeInOrder(busy, 'busy', 30);
    const [other] = of(handled, 'other');
    expect(other?.endedAt).toBeDefined();
    // The busy conversation held one worker slot; the other one did not wait behind its 30 items.
    expect(other?.endedAt).toBeLessThan(busy[29]?.startedAt ?? 0);
    expect(handled.every((entry) => !entry.recovering)).toBe(true);
  });

  it('takes the next item of a conversation only after the last one’s handed-over ending has landed', async () => {
    const queue = startQueue();
    const events: string[] = [];
    await startWorker(async (item, { settleLast }) => {
      events.push(`start ${item.itemId}`);
      const ending = sleep(150).then(() => events.push(`ended ${item.itemId}`));
      if (settleLast) settleLast(ending);
      else await ending;
    });

    await queue.enqueue(startItem('ends', 0));
    await queue.enqueue(startItem('ends', 1));
    await waitFor('both endings', () => events.length === 4, 5_000);

    expect(events).toEqual([
      'start start:ends-0',
      'ended start:ends-0',
      'start start:ends-1',
      'ended start:ends-1',
    ]);
  });

  it('logs an ending that failed and still counts its item as done', async () => {
    const queue = startQueue();
    const { handler, handled } = recordingHandler();
    await startWorker(async (item, work) => {
      await handler(item, work);
      if (item.itemId === 'start:fails-0') work.settleLast?.(Promise.reject(new Error('refused by redis')));
    });

    await queue.enqueue(startItem('fails', 0));
    await queue.enqueue(startItem('fails', 1));
    await waitFor('both items', () => handled.filter((entry) => entry.endedAt).length === 2, 5_000);
    await sleep(300);

    expect(handled.map((entry) => [entry.itemId, entry.recovering])).toEqual([
      ['start:fails-0', false],
      ['start:fails-1', false],
    ]);
    expect(logger.entries).toContainEqual(
      expect.objectContaining({ level: 'error', msg: 'run worker: an item’s last write failed' }),
    );
  });

  it('handles an item enqueued twice once', async () => {
    const queue = startQueue();
    const { handler, handled } = recordingHandler();
    await startWorker(handler);

    const item = startItem('dup', 0);
    await queue.enqueue(item);
    await queue.enqueue(item);
    await waitFor('the item', () => handled.length === 1);
    await queue.enqueue(item);
    await queue.enqueue(startItem('dup', 1));
    await waitFor('the next item', () => handled.length >= 2);
    await sleep(200);

    expect(handled.map((entry) => entry.itemId)).toEqual(['start:dup-0', 'start:dup-1']);
  });

  it('runs a delayed item after its delay and not before', async () => {
    const queue = startQueue();
    const { handler, handled } = recordingHandler();
    await startWorker(handler);
    const timers = createTimerSweeper({
      redis: env.redis,
      prefix: env.prefix,
      enqueue: (item) => queue.enqueue(item),
      logger,
      sweepIntervalMs: 50,
    });
    timers.start();
    toClose.push(() => timers.close());

    const enqueuedAt = Date.now();
    await queue.enqueue(startItem('later', 0), { delayMs: 700 });
    await sleep(450);
    expect(handled).toHaveLength(0);
    await waitFor('the delayed item', () => handled.length === 1, 3_000);

    expect(handled[0]?.startedAt).toBeGreaterThanOrEqual(enqueuedAt + 700);
    expect(handled[0]?.recovering).toBe(false);
  });

  it('moves on to the next item when the handler throws', async () => {
    const queue = startQueue();
    const { handler, handled } = recordingHandler(async (item) => {
      if (item.itemId.endsWith('-0')) throw new Error('tool exploded');
    });
    await startWorker(handler);

    await queue.enqueue(startItem('boom', 0));
    await queue.enqueue(startItem('boom', 1));
    await waitFor('both items', () => handled.filter((e) => e.endedAt).length === 2);

    expectOneAtATimeInOrder(handled, 'boom', 2);
    const failure = logger.entries.find((entry) => entry.level === 'error');
    expect(failure?.msg).toMatch(/handler failed/);
    expect(failure?.obj).toMatchObject({ itemId: 'start:boom-0' });
  });

  it('retries an item whose handler reports the state store unavailable, as a recovery', async () => {
    const queue = startQueue();
    let calls = 0;
    const { handler, handled } = recordingHandler(async () => {
      calls += 1;
      if (calls === 1) throw new StateUnavailableError('load run');
    });
    await startWorker(handler);

    await queue.enqueue(startItem('flaky', 0));
    await queue.enqueue(startItem('flaky', 1));
    await waitFor('both items', () => handled.filter((e) => e.endedAt).length === 3, 5_000);

    expect(handled.map((e) => [e.itemId, e.recovering])).toEqual([
      ['start:flaky-0', false],
      ['start:flaky-0', true],
      ['start:flaky-1', false],
    ]);
  });

  it('close() aborts a slow handler at the end of the grace period and leaves its item for recovery', async () => {
    const queue = startQueue();
    const slow = recordingHandler((_, signal) => sleepUnlessAborted(30_000, signal));
    const worker = await startWorker(slow.handler, { graceMs: 500 });
    await queue.enqueue(startItem('slow', 0));
    await waitFor('the slow item to start', () => slow.handled.length === 1);

    const closeStarted = Date.now();
    await worker.close();
    const closeMs = Date.now() - closeStarted;

    expect(closeMs).toBeGreaterThanOrEqual(450);
    expect(closeMs).toBeLessThan(500 + 1_000);
    const signal = slow.handled[0]?.signal;
    expect(signal?.aborted).toBe(true);
    expect(signal?.reason).toBeInstanceOf(WorkerShutdownError);

    // Another worker picks the interrupted item up as a recovery.
    const next = recordingHandler();
    await startWorker(next.handler);
    await waitFor('the recovered item', () => next.handled.length === 1, 5_000);
    expect(next.handled[0]).toMatchObject({ itemId: 'start:slow-0', recovering: true });
  });

  it('close() resolves after grace + 1 s even when a handler ignores the abort', async () => {
    const queue = startQueue();
    const stubborn = recordingHandler(() => sleep(2_500));
    const worker = await startWorker(stubborn.handler, { graceMs: 300 });
    await queue.enqueue(startItem('stubborn', 0));
    await waitFor('the stubborn item to start', () => stubborn.handled.length === 1);

    const closeStarted = Date.now();
    await worker.close();
    expect(Date.now() - closeStarted).toBeLessThan(300 + 1_300);
    expect(stubborn.handled[0]?.signal.aborted).toBe(true);
    expect(logger.entries.some((entry) => /ignored the abort/.test(entry.msg ?? ''))).toBe(true);
    await waitFor('the stubborn handler to return', () => stubborn.handled[0]?.endedAt !== undefined, 3_000);
  });

  it('never runs two items of one conversation at once across two workers', async () => {
    const queue = startQueue();
    const active = new Map<string, number>();
    let overlaps = 0;
    const { handler, handled } = recordingHandler(async (item) => {
      const now = (active.get(item.conversationKey) ?? 0) + 1;
      active.set(item.conversationKey, now);
      if (now > 1) overlaps += 1;
      await sleep(5 + Math.floor(Math.random() * 10));
      active.set(item.conversationKey, (active.get(item.conversationKey) ?? 1) - 1);
    });
    await startWorker(handler, { concurrency: 4 });
    await startWorker(handler, { concurrency: 4 });

    const conversations = ['c1', 'c2', 'c3'];
    for (let n = 0; n < 10; n += 1) {
      await Promise.all(conversations.map((key) => queue.enqueue(startItem(key, n))));
    }
    await waitFor('30 items', () => handled.filter((e) => e.endedAt).length === 30, 10_000);

    expect(overlaps).toBe(0);
    for (const key of conversations) expectOneAtATimeInOrder(of(handled, key), key, 10);
  });
});
