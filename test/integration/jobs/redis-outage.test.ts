import { Redis } from 'ioredis';
import { afterEach, beforeEach, expect, inject, it } from 'vitest';
import { StateUnavailableError } from '../../../src/core/errors.ts';
import { itemMarkerKey } from '../../../src/jobs/conversation-lanes.ts';
import { createRunQueue } from '../../../src/jobs/run-queue.ts';
import { createRunWorker } from '../../../src/jobs/run-worker.ts';
import { connectTestRedis, type TestRedis } from '../../support/redis.ts';
import {
  type RedisProxy,
  recordingHandler,
  recordingLogger,
  startItem,
  startRedisProxy,
  waitFor,
} from './queue-harness.ts';

let env: TestRedis;
let proxy: RedisProxy;
const toClose: Array<() => Promise<void>> = [];

beforeEach(async () => {
  env = await connectTestRedis({ name: 'run-queue-outage' });
  proxy = await startRedisProxy(inject('redisUrl'));
});

afterEach(async () => {
  proxy.restore();
  for (const close of toClose.splice(0).reverse()) await close();
  await proxy.close();
  await env.cleanup();
});

it('refuses new work while Redis is away and resumes when it is back', async () => {
  const logger = recordingLogger();
  // Reconnect quickly so the test does not wait on ioredis's default back-off.
  const redis = new Redis(proxy.url, { maxRetriesPerRequest: 1, retryStrategy: () => 100 });
  toClose.push(async () => {
    redis.disconnect();
  });
  const queue = createRunQueue({ connection: redis, prefix: env.prefix, logger, enqueueTimeoutMs: 1_000 });
  toClose.push(() => queue.close());
  const { handler, handled } = recordingHandler();
  const worker = createRunWorker({ connection: redis, commands: redis, prefix: env.prefix, handler, logger });
  toClose.push(() => worker.close());
  await worker.ready();

  await queue.enqueue(startItem('outage', 0));
  await waitFor('the first item', () => handled.length === 1);
  // Cut only once the worker has marked it finished: an item cut off before that is handed over
  // again as a recovery, which the next test covers.
  const marker = itemMarkerKey(env.prefix, 'start:outage-0');
  for (let tries = 0; (await env.redis.get(marker)) !== 'done'; tries += 1) {
    if (tries > 200) throw new Error('the first item was never marked finished');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }

  proxy.cut();
  await waitFor('the connection to notice', () => redis.status !== 'ready');
  await expect(queue.enqueue(startItem('outage', 1))).rejects.toBeInstanceOf(StateUnavailableError);
  await new Promise((resolve) => setTimeout(resolve, 500));

  proxy.restore();
  await waitFor('the connection to come back', () => redis.status === 'ready', 5_000);
  await queue.enqueue(startItem('outage', 2));
  await waitFor('the item after the outage', () => handled.length === 2, 10_000);

  expect(handled.map((entry) => entry.itemId)).toEqual(['start:outage-0', 'start:outage-2']);
  expect(logger.entries.some((entry) => entry.level === 'error' && /redis error/.test(entry.msg ?? ''))).toBe(
    true,
  );
});

it('hands an item interrupted by an outage over again as a recovery once Redis is back', async () => {
  const logger = recordingLogger();
  const redis = new Redis(proxy.url, { maxRetriesPerRequest: 1, retryStrategy: () => 100 });
  toClose.push(async () => {
    redis.disconnect();
  });
  const queue = createRunQueue({ connection: redis, prefix: env.prefix, logger });
  toClose.push(() => queue.close());
  const { handler, handled } = recordingHandler(() => new Promise((resolve) => setTimeout(resolve, 300)));
  // Short locks so the test does not wait out the 10 s default before the lane is free again.
  const worker = createRunWorker({
    connection: redis,
    commands: redis,
    prefix: env.prefix,
    handler,
    logger,
    lockDurationMs: 2_000,
    stalledIntervalMs: 1_000,
  });
  toClose.push(() => worker.close());
  await worker.ready();

  await queue.enqueue(startItem('cut', 0));
  await queue.enqueue(startItem('cut', 1));
  await waitFor('the first item to start', () => handled.length === 1);
  // Redis goes away while the handler runs, so its item cannot be marked handled.
  proxy.cut();
  await new Promise((resolve) => setTimeout(resolve, 1_000));
  proxy.restore();

  await waitFor('both items after the outage', () => handled.filter((e) => e.endedAt).length === 3, 10_000);
  expect(handled.map((entry) => [entry.itemId, entry.recovering])).toEqual([
    ['start:cut-0', false],
    ['start:cut-0', true],
    ['start:cut-1', false],
  ]);
});
