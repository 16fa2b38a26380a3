import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { newApprovalId } from '../../../src/core/run-state.ts';
import type { WorkItem } from '../../../src/core/work.ts';
import {
  createTimerSweeper,
  parseTimerMember,
  scheduleTimer,
  type TimerSweeperOptions,
  timerMember,
  timersKey,
} from '../../../src/jobs/run-timers.ts';
import { connectTestRedis, type TestRedis } from '../../support/redis.ts';
import { recordingLogger } from './queue-harness.ts';

let env: TestRedis;
const logger = recordingLogger();

beforeEach(async () => {
  env = await connectTestRedis({ name: 'run-timers' });
  logger.entries.length = 0;
});

afterEach(async () => {
  await env.cleanup();
});

function expireItem(n: number): WorkItem {
  return {
    kind: 'expire',
    itemId: `expire:a${n}`,
    runId: `run-${n}`,
    conversationKey: `slack:T1:C1:${n}`,
    approvalId: `a${n}`,
  };
}

/** A sweeper over the test's timers that records what it enqueues. */
function recordingSweeper(
  options: Partial<Omit<TimerSweeperOptions, 'redis' | 'prefix' | 'enqueue' | 'logger'>> = {},
) {
  const enqueued: WorkItem[] = [];
  const sweeper = createTimerSweeper({
    redis: env.redis,
    prefix: env.prefix,
    enqueue: async (item) => {
      enqueued.push(item);
    },
    logger,
    ...options,
  });
  return { sweeper, enqueued };
}

describe('run timers', () => {
  it('enqueues an item once it is due, not before, and forgets it after', async () => {
    let clock = 1_000;
    const { sweeper, enqueued } = recordingSweeper({ now: () => clock });
    await scheduleTimer(env.redis, env.prefix, expireItem(1), 2_000);
    await scheduleTimer(env.redis, env.prefix, expireItem(2), 5_000);

    expect(await sweeper.sweep()).toBe(0);
    clock = 2_000;
    expect(await sweeper.sweep()).toBe(1);
    expect(enqueued).toEqual([expireItem(1)]);
    expect(await sweeper.sweep()).toBe(0);
    expect(await env.redis.zcard(timersKey(env.prefix))).toBe(1);
  });

  it('the same item scheduled twice fires once', async () => {
    const { sweeper, enqueued } = recordingSweeper({ now: () => 10_000 });
    await scheduleTimer(env.redis, env.prefix, expireItem(1), 1_000);
    await scheduleTimer(env.redis, env.prefix, expireItem(1), 1_500);
    await sweeper.sweep();
    expect(enqueued).toHaveLength(1);
  });

  it('two sweepers sweeping at once enqueue each of 500 due items exactly once', async () => {
    const counts = new Map<string, number>();
    const sweepers = [0, 1].map(() =>
      createTimerSweeper({
        redis: env.redis,
        prefix: env.prefix,
        enqueue: async (item) => {
          counts.set(item.itemId, (counts.get(item.itemId) ?? 0) + 1);
        },
        logger,
        batch: 50,
      }),
    );
    for (let n = 0; n < 500; n += 1)
      await scheduleTimer(env.redis, env.prefix, expireItem(n), Date.now() - 1);

    const [a, b] = await Promise.all(sweepers.map((sweeper) => sweeper.sweep()));
    expect((a ?? 0) + (b ?? 0)).toBe(500);
    expect(counts.size).toBe(500);
    expect([...counts.values()].every((count) => count === 1)).toBe(true);
    expect(await env.redis.zcard(timersKey(env.prefix))).toBe(0);
  });

  it('an item whose enqueue failed is enqueued again once its lease ends', async () => {
    let clock = 10_000;
    let failing = true;
    const enqueued: WorkItem[] = [];
    const sweeper = createTimerSweeper({
      redis: env.redis,
      prefix: env.prefix,
      enqueue: async (item) => {
        if (failing) throw new Error('redis went away');
        enqueued.push(item);
      },
      logger,
      leaseMs: 30_000,
      now: () => clock,
    });
    await scheduleTimer(env.redis, env.prefix, expireItem(1), 9_000);

    await expect(sweeper.sweep()).rejects.toThrow('redis went away');
    failing = false;
    clock = 20_000;
    expect(await sweeper.sweep()).toBe(0);
    clock = 40_001;
    expect(await sweeper.sweep()).toBe(1);
    expect(enqueued).toEqual([expireItem(1)]);
  });

  it('keeps a pending expiry as a member under 100 bytes, and still fires members written as item JSON', async () => {
    const { sweeper, enqueued } = recordingSweeper({ now: () => 10_000 });
    const runId = 'b9c97560-7e8f-455c-a1d6-7f2d5f90a9a8';
    const approvalId = newApprovalId(runId, '6cf9e5bf-d6ec-41b7-8442-83273f51931d');
    const expiry: WorkItem = {
      kind: 'expire',
      itemId: `expire:${approvalId}`,
      runId,
      conversationKey: 'slack:T1:CB0000:1700000000.000000',
      approvalId,
    };
    // An approval id of an earlier release does not name its run.
    const olderExpiry: WorkItem = { ...expiry, itemId: 'expire:a-uuid', approvalId: 'a-uuid' };
    await scheduleTimer(env.redis, env.prefix, expiry, 1_000);
    const [member] = await env.redis.zrange(timersKey(env.prefix), 0, -1);
    expect(Buffer.byteLength(member ?? '')).toBeLessThan(100);
    expect(Buffer.byteLength(member ?? '')).toBeLessThan(JSON.stringify(expiry).length * 0.4);
    await scheduleTimer(env.redis, env.prefix, olderExpiry, 1_000);
    // Scheduled by an earlier release: the whole item as JSON.
    await env.redis.zadd(timersKey(env.prefix), 1_000, JSON.stringify(expireItem(7)));

    expect(await sweeper.sweep()).toBe(3);
    expect(enqueued).toEqual(expect.arrayContaining([expiry, olderExpiry, expireItem(7)]));
    expect(await env.redis.zcard(timersKey(env.prefix))).toBe(0);
  });

  it('keeps an item the compact form cannot rebuild whole', async () => {
    const { sweeper, enqueued } = recordingSweeper({ now: () => 10_000 });
    const click: WorkItem = { ...expireItem(3), itemId: 'expired-click:a3' };
    await scheduleTimer(env.redis, env.prefix, click, 1_000);
    expect(timerMember(click)).toBe(JSON.stringify(click));
    expect(parseTimerMember('["x","a",1,"k"]')).toBeUndefined();
    expect(parseTimerMember('["x","a"')).toBeUndefined();
    expect(parseTimerMember('["e","no-run-named","k"]')).toBeUndefined();
    expect(parseTimerMember('["e","r_1"]')).toBeUndefined();
    expect(parseTimerMember('[]')).toBeUndefined();
    await sweeper.sweep();
    expect(enqueued).toEqual([click]);
  });

  it('drops an unreadable member with an error in the log, and goes on', async () => {
    const { sweeper, enqueued } = recordingSweeper();
    await env.redis.zadd(timersKey(env.prefix), 1, '{"kind":"nonsense"}');
    await scheduleTimer(env.redis, env.prefix, expireItem(1), 2);

    expect(await sweeper.sweep()).toBe(1);
    expect(enqueued).toEqual([expireItem(1)]);
    expect(await env.redis.zcard(timersKey(env.prefix))).toBe(0);
    expect(
      logger.entries.some((e) => e.level === 'error' && e.msg === 'run timers: unreadable item dropped'),
    ).toBe(true);
  });

  it('started, it sweeps on its own; closed, it stops', async () => {
    const { sweeper, enqueued } = recordingSweeper({ sweepIntervalMs: 20 });
    sweeper.start();
    await scheduleTimer(env.redis, env.prefix, expireItem(1), Date.now() + 50);
    const deadline = Date.now() + 2_000;
    while (enqueued.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    expect(enqueued).toEqual([expireItem(1)]);

    await sweeper.close();
    await scheduleTimer(env.redis, env.prefix, expireItem(2), Date.now());
    await new Promise((r) => setTimeout(r, 100));
    expect(enqueued).toHaveLength(1);
  });
});
