import { once } from 'node:events';
import { connect } from 'node:net';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import type { WorkItem } from '../../../src/core/work.ts';
import { createRunQueue, jobIdFor } from '../../../src/jobs/run-queue.ts';
import { createRunWorker } from '../../../src/jobs/run-worker.ts';
import { type FoundRedis, findOrStartRedis } from '../../support/redis.ts';
import { recordingHandler, recordingLogger, startItem, waitFor } from './queue-harness.ts';

/**
 * A Redis of the test's own: its script cache starts empty and the test flushes it, which on the
 * shared server would disturb the tests running beside this one.
 */
const NOTHING_LISTENS = 'redis://127.0.0.1:1';
const PREFIX = 'order:';

const toClose: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const close of toClose.splice(0).reverse()) await close();
});

/**
 * Every command the server runs, scripts' own calls included, in the order it ran them: MONITOR on a
 * plain socket (ioredis's monitor() trips over its own ready check). Arguments stay as MONITOR quotes
 * them, which is enough to find a key or an item id.
 */
async function watchCommands(url: string): Promise<string[][]> {
  const { hostname, port } = new URL(url);
  const socket = connect({ host: hostname, port: Number(port) });
  toClose.push(async () => socket.destroy());
  await once(socket, 'connect');
  const seen: string[][] = [];
  let started = false;
  let buffered = '';
  socket.setEncoding('utf8');
  socket.on('data', (chunk: string) => {
    const lines = (buffered + chunk).split('\r\n');
    buffered = lines.pop() ?? '';
    for (const line of lines) {
      if (line === '+OK') {
        started = true;
        continue;
      }
      const quoted = line.slice(line.indexOf('] ') + 2);
      seen.push([...quoted.matchAll(/"((?:[^"\\]|\\.)*)"/g)].map((match) => match[1] ?? ''));
    }
  });
  socket.write('MONITOR\r\n');
  await waitFor('MONITOR to start', () => started, 2_000);
  return seen;
}

function landingOrder(seen: readonly string[][], item: WorkItem): { pushedAt: number; jobAt: number } {
  const pushedAt = seen.findIndex(
    ([command, , value]) => command?.toUpperCase() === 'RPUSH' && value?.includes(item.itemId) === true,
  );
  const jobKey = `:${jobIdFor(item.itemId)}`;
  const jobAt = seen.findIndex(([, key]) => key?.endsWith(jobKey) === true);
  return { pushedAt, jobAt };
}

describe('enqueue on an empty script cache', () => {
  let server: FoundRedis;

  it('lands the lane push before the job that drains it, so no message is stranded', async () => {
    server = await findOrStartRedis({ url: NOTHING_LISTENS });
    toClose.push(() => server.stop());
    const admin = new Redis(server.url);
    const connection = new Redis(server.url, { maxRetriesPerRequest: null });
    toClose.push(
      async () => admin.disconnect(),
      async () => connection.disconnect(),
    );
    const logger = recordingLogger();
    const queue = createRunQueue({ connection, prefix: PREFIX, logger });
    toClose.push(() => queue.close());
    const seen = await watchCommands(server.url);

    // A fresh server, then one whose cache was flushed under a live connection (SCRIPT FLUSH, or a
    // failover behind a proxy) and where another process has added a job since, so BullMQ's script
    // is cached again and the push's is not.
    const fresh = startItem('order', 0);
    await queue.enqueue(fresh);
    await admin.script('FLUSH');
    const otherProcess = new Queue('elsewhere', { connection: admin, prefix: `${PREFIX}bull` });
    toClose.push(() => otherProcess.close());
    await otherProcess.add('job', {});
    const flushed = startItem('order', 1);
    await queue.enqueue(flushed);
    await waitFor('both jobs seen by MONITOR', () => landingOrder(seen, flushed).jobAt >= 0, 5_000);

    for (const item of [fresh, flushed]) {
      const { pushedAt, jobAt } = landingOrder(seen, item);
      expect(pushedAt, `${item.itemId} pushed`).toBeGreaterThanOrEqual(0);
      expect(pushedAt, `${item.itemId} pushed before its job`).toBeLessThan(jobAt);
    }

    const { handler, handled } = recordingHandler(async () => {});
    const worker = createRunWorker({ connection, commands: connection, prefix: PREFIX, handler, logger });
    toClose.push(() => worker.close());
    await waitFor(
      'both messages handled',
      () => handled.filter((entry) => entry.endedAt).length === 2,
      10_000,
    );
    expect(handled.map((entry) => entry.itemId)).toEqual([fresh.itemId, flushed.itemId]);
  });
});
