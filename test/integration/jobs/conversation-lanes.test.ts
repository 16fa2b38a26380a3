import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  createConversationLanes,
  holdLaneLock,
  itemMarkerKey,
  LaneLockLostError,
  laneKeys,
  parseWorkItem,
} from '../../../src/jobs/conversation-lanes.ts';
import { createRunQueue } from '../../../src/jobs/run-queue.ts';
import { createRunWorker } from '../../../src/jobs/run-worker.ts';
import { connectTestRedis, type TestRedis } from '../../support/redis.ts';
import {
  recordingHandler,
  recordingLogger,
  sleepUnlessAborted,
  startItem,
  waitFor,
} from './queue-harness.ts';

let env: TestRedis;
const toClose: Array<() => Promise<void>> = [];

beforeEach(async () => {
  env = await connectTestRedis({ name: 'lanes' });
});

afterEach(async () => {
  for (const close of toClose.splice(0).reverse()) await close();
  await env.cleanup();
});

describe('conversation lanes', () => {
  it('pushes an item once, pops in order, and releases the lock only when the lane is empty', async () => {
    const lanes = createConversationLanes({ redis: env.redis, prefix: env.prefix, lockTtlMs: 5_000 });
    expect(await lanes.push(startItem('c', 0))).toBe(true);
    expect(await lanes.push(startItem('c', 0))).toBe(false);
    expect(await lanes.push(startItem('c', 1))).toBe(true);

    // Taking the lane hands over its first item in the same step.
    const taken = await lanes.acquire('c', 'a');
    const first = taken.acquired && taken.stale === null ? taken.first : undefined;
    expect(first?.kind === 'item' && parseWorkItem(first.raw)?.itemId).toBe('start:c-0');
    expect(await env.redis.get(laneKeys(env.prefix, 'c').current)).toBe(
      first?.kind === 'item' ? first.raw : '',
    );
    const blocked = await lanes.acquire('c', 'b');
    expect(blocked.acquired).toBe(false);
    if (!blocked.acquired) expect(blocked.lockTtlMs).toBeGreaterThan(4_000);
    expect(await lanes.next('c', 'b')).toEqual({ kind: 'lost' });

    if (first?.kind === 'item') await lanes.finish('c', 'start:c-0', first.raw);
    expect(await lanes.itemState('start:c-0')).toBe('done');
    expect(await lanes.itemState('start:c-1')).toBe('queued');
    expect(await env.redis.get(laneKeys(env.prefix, 'c').current)).toBeNull();

    const second = await lanes.next('c', 'a');
    expect(second.kind).toBe('item');
    expect(await env.redis.get(laneKeys(env.prefix, 'c').current)).not.toBeNull();
    // Finishing the item and popping the next happen in one step.
    const handled = second.kind === 'item' ? { itemId: 'start:c-1', raw: second.raw } : undefined;
    expect(await lanes.next('c', 'a', handled)).toEqual({ kind: 'released' });
    expect(await lanes.itemState('start:c-1')).toBe('done');
    expect(await env.redis.get(laneKeys(env.prefix, 'c').current)).toBeNull();
    expect(await env.redis.exists(laneKeys(env.prefix, 'c').lock)).toBe(0);
    expect(await lanes.itemState('never')).toBe('unknown');
    expect(await env.redis.pttl(itemMarkerKey(env.prefix, 'start:c-0'))).toBeGreaterThan(0);
  });

  it('lets go of an empty lane at once, and hands a stale item to the next holder', async () => {
    const lanes = createConversationLanes({ redis: env.redis, prefix: env.prefix, lockTtlMs: 5_000 });
    expect(await lanes.acquire('empty', 'a')).toEqual({
      acquired: true,
      stale: null,
      first: { kind: 'released' },
    });
    expect(await env.redis.exists(laneKeys(env.prefix, 'empty').lock)).toBe(0);

    await lanes.push(startItem('c', 0));
    await lanes.push(startItem('c', 1));
    const taken = await lanes.acquire('c', 'dies');
    const raw = taken.acquired && taken.stale === null && taken.first.kind === 'item' ? taken.first.raw : '';
    // Its holder dies: the lock lapses, the item stays in hand for whoever takes the lane next.
    await env.redis.del(laneKeys(env.prefix, 'c').lock);
    expect(await lanes.acquire('c', 'b')).toEqual({ acquired: true, stale: raw });
    const next = await lanes.next('c', 'b', { itemId: 'start:c-0', raw });
    expect(next.kind === 'item' && parseWorkItem(next.raw)?.itemId).toBe('start:c-1');
  });

  it('aborts a lease whose lock was taken by someone else', async () => {
    const lanes = createConversationLanes({ redis: env.redis, prefix: env.prefix, lockTtlMs: 300 });
    await lanes.acquire('c', 'mine');
    const lease = holdLaneLock(lanes, 'c', 'mine', 300);
    await env.redis.set(laneKeys(env.prefix, 'c').lock, 'theirs', 'PX', 1_000);
    await waitFor('the lease to notice', () => lease.signal.aborted, 2_000);
    expect(lease.signal.reason).toBeInstanceOf(LaneLockLostError);
    lease.stop();
  });

  it('reads back every kind of work item and rejects malformed ones', () => {
    const decision = { approvalId: 'a1', decision: 'approve', by: 'U1' } as const;
    const resume = {
      kind: 'resume',
      itemId: 'resume:a1',
      runId: 'r',
      conversationKey: 'c',
      decision,
    } as const;
    const expire = {
      kind: 'expire',
      itemId: 'expire:a1',
      runId: 'r',
      conversationKey: 'c',
      approvalId: 'a1',
    } as const;
    const start = {
      kind: 'start',
      itemId: 'start:r',
      runId: 'r',
      conversationKey: 'c',
      conversation: { platform: 'slack', tenantId: 'T1', channelId: 'C1', threadId: null },
    } as const;
    expect(parseWorkItem(JSON.stringify(start))).toEqual(start);
    // A start whose conversation is unreadable is still a start: the worker reads the record instead.
    const { conversation: _dropped, ...plainStart } = start;
    expect(parseWorkItem(JSON.stringify({ ...start, conversation: { platform: 'slack' } }))).toEqual(
      plainStart,
    );
    expect(parseWorkItem(JSON.stringify(resume))).toEqual(resume);
    expect(parseWorkItem(JSON.stringify(expire))).toEqual(expire);
    for (const bad of [
      'not json',
      '[]',
      JSON.stringify({ kind: 'start', itemId: 1, runId: 'r', conversationKey: 'c' }),
      JSON.stringify({ ...expire, approvalId: 3 }),
      JSON.stringify({ ...resume, decision: { ...decision, decision: 'maybe' } }),
      JSON.stringify({ ...resume, decision: { ...decision, by: null } }),
      JSON.stringify({ ...resume, kind: 'other' }),
    ]) {
      expect(parseWorkItem(bad)).toBeUndefined();
    }
  });

  it('aborts the handler when its conversation lock is lost, then recovers the item', async () => {
    const logger = recordingLogger();
    const queue = createRunQueue({ connection: env.redis, prefix: env.prefix, logger });
    toClose.push(() => queue.close());
    let calls = 0;
    const { handler, handled } = recordingHandler(async (_, signal) => {
      calls += 1;
      if (calls === 1) await sleepUnlessAborted(5_000, signal);
    });
    const worker = createRunWorker({
      connection: env.redis,
      commands: env.redis,
      prefix: env.prefix,
      handler,
      logger,
      lockDurationMs: 600,
      stalledIntervalMs: 500,
    });
    toClose.push(() => worker.close());
    await worker.ready();

    await queue.enqueue(startItem('stolen', 0));
    await waitFor('the item to start', () => handled.length === 1);
    // Another holder takes the lane (as if our lock had lapsed), for a little while.
    await env.redis.set(laneKeys(env.prefix, 'stolen').lock, 'intruder', 'PX', 800);

    await waitFor('the handler to be aborted', () => handled[0]?.signal.aborted === true, 2_000);
    expect(handled[0]?.signal.reason).toBeInstanceOf(LaneLockLostError);
    await waitFor('the recovery', () => handled.length === 2, 5_000);
    expect(handled[1]).toMatchObject({ itemId: 'start:stolen-0', recovering: true });
  });
});
