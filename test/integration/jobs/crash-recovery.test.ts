import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { afterEach, beforeEach, expect, inject, it } from 'vitest';
import { createRunQueue } from '../../../src/jobs/run-queue.ts';
import { createRunWorker } from '../../../src/jobs/run-worker.ts';
import { connectTestRedis, type TestRedis } from '../../support/redis.ts';
import { recordingHandler, recordingLogger, startItem, waitFor } from './queue-harness.ts';

let env: TestRedis;
let child: ChildProcess | undefined;
const toClose: Array<() => Promise<void>> = [];

beforeEach(async () => {
  env = await connectTestRedis({ name: 'run-queue-crash' });
});

afterEach(async () => {
  if (child) killGroup(child);
  child = undefined;
  for (const close of toClose.splice(0).reverse()) await close();
  await env.cleanup();
});

/** Starts the fixture worker process; `lines` collects what it writes to stdout. */
function startWorkerProcess(): { lines: string[]; process: ChildProcess } {
  const started = spawn('node_modules/.bin/tsx', ['test/fixtures/queue-worker-process.ts'], {
    env: { ...process.env, REDIS_URL: inject('redisUrl'), QUEUE_PREFIX: env.prefix },
    stdio: ['ignore', 'pipe', 'inherit'],
    // Its own process group: tsx runs the script in a child node process, and SIGKILL is not relayed.
    detached: true,
  });
  const lines: string[] = [];
  if (started.stdout) createInterface({ input: started.stdout }).on('line', (line) => lines.push(line));
  return { lines, process: started };
}

/** SIGKILL the fixture and the node process tsx started for it. */
function killGroup(target: ChildProcess): void {
  if (target.pid === undefined || target.exitCode !== null || target.signalCode !== null) return;
  try {
    process.kill(-target.pid, 'SIGKILL');
  } catch {
    // Already gone.
  }
}

it('hands the item of a SIGKILLed worker to another worker as a recovery, then the next item', async () => {
  const logger = recordingLogger();
  const queue = createRunQueue({ connection: env.redis, prefix: env.prefix, logger });
  toClose.push(() => queue.close());
  const crashing = startWorkerProcess();
  child = crashing.process;
  await waitFor('the worker process to be ready', () => crashing.lines.includes('ready'), 15_000);

  await queue.enqueue(startItem('crash', 0));
  await queue.enqueue(startItem('crash', 1));
  await waitFor('the first item to start', () => crashing.lines.some((l) => l.includes('crash-0')), 5_000);
  killGroup(crashing.process);
  const killedAt = Date.now();

  const { handler, handled } = recordingHandler();
  const worker = createRunWorker({
    connection: env.redis,
    commands: env.redis,
    prefix: env.prefix,
    handler,
    logger,
  });
  toClose.push(() => worker.close());
  await worker.ready();

  await waitFor('the recovered item', () => handled.length >= 1, 20_000);
  const recoveryMs = (handled[0]?.startedAt ?? Number.POSITIVE_INFINITY) - killedAt;
  expect(handled[0]).toMatchObject({ itemId: 'start:crash-0', recovering: true });
  expect(recoveryMs).toBeLessThan(20_000);
  console.info(`recovered ${recoveryMs} ms after SIGKILL`);

  await waitFor('the next item', () => handled.filter((e) => e.endedAt).length === 2, 5_000);
  expect(handled[1]).toMatchObject({ itemId: 'start:crash-1', recovering: false });
  expect(handled[1]?.startedAt).toBeGreaterThanOrEqual(handled[0]?.endedAt ?? Number.POSITIVE_INFINITY);
  // The crashed worker only ever began the first item.
  expect(crashing.lines.filter((l) => l.startsWith('started'))).toHaveLength(1);
}, 40_000);
