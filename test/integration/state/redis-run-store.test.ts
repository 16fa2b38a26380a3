import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { ConversationRef } from '../../../src/core/conversation.ts';
import { IllegalTransitionError } from '../../../src/core/errors.ts';
import type { RunState } from '../../../src/core/run-state.ts';
import type { NewRun, RunStore } from '../../../src/core/stores.ts';
import { createKeys, type RedisKeys } from '../../../src/state/redis-keys.ts';
import { createRedisRunStore } from '../../../src/state/redis-run-store.ts';
import { connectTestRedis, type TestRedis } from '../../support/redis.ts';

const conversation: ConversationRef = {
  platform: 'slack',
  tenantId: 'T1',
  channelId: 'C1',
  threadId: '1700.1',
};

function newRun(runId: string, text = 'refund order 55', extra: Partial<NewRun> = {}): NewRun {
  return {
    runId,
    conversation,
    conversationKey: 'slack:T1:C1:1700.1',
    requestedBy: 'U012',
    agent: 'support',
    text,
    eventId: `ev-${runId}`,
    createdAt: 1_000,
    ...extra,
  };
}

const channel: ConversationRef = { ...conversation, threadId: null };
const otherChannel: ConversationRef = { ...conversation, channelId: 'C2', threadId: null };

function checkpoint(runId: string, iterations: number): RunState {
  return {
    runId,
    traceId: 'trace-1',
    agent: 'support',
    requestedBy: 'U012',
    conversation,
    startedAt: 1_000,
    deadlineAt: 61_000,
    messages: [{ role: 'user', content: 'refund order 55' }],
    iterations,
    usage: { promptTokens: 10, completionTokens: 2 },
    callCounts: { 'refund_order:abc': 1 },
    consecutiveFailures: 0,
    tainted: false,
    batch: null,
    pendingApproval: null,
    inFlight: { callId: 'c1', tool: 'refund_order', startedAt: 2_000 },
    limitsScale: 2,
    rootRunId: runId,
    parentRunId: null,
    chain: ['support'],
    child: null,
  };
}

describe('redis run store', () => {
  let test: TestRedis;
  let keys: RedisKeys;
  let store: RunStore;
  let now = 5_000;

  beforeEach(async () => {
    test = await connectTestRedis({ name: 'run-store' });
    keys = createKeys(test.prefix);
    now = 5_000;
    store = createRedisRunStore({ redis: test.redis, keys, runTtlSeconds: 3_600, clock: { now: () => now } });
  });
  afterEach(() => test.cleanup());

  it('creates a queued run with every field, and a second create does not overwrite it', async () => {
    await store.create(newRun('r:1'));
    await store.create(newRun('r:1', 'something else'));
    expect(await store.get('r:1')).toEqual({
      ...newRun('r:1'),
      status: 'queued',
      updatedAt: 1_000,
      outcome: null,
      limitsScale: 1,
    });
    const ttl = await test.redis.ttl(keys.run('r:1'));
    expect(ttl).toBeGreaterThan(3_500);
    expect(ttl).toBeLessThanOrEqual(3_600);
    expect(await store.get('missing')).toBeUndefined();
  });

  it('keeps a run record of short values in under 400 bytes of Redis, DMs (no thread) included', async () => {
    const dm = {
      ...newRun('44f56225-2816-4624-bb4e-d85b8223ff96'),
      conversation: { ...conversation, threadId: null },
      conversationKey: 'slack:T1:C1:-',
    };
    await store.create(dm);
    await store.transition(dm.runId, 'running');
    await store.transition(dm.runId, 'awaiting_approval');
    // 470 bytes while the record repeated its run id (the key's) and its conversation key.
    expect(Number(await test.redis.memory('USAGE', keys.run(dm.runId)))).toBeLessThan(400);
    expect(await test.redis.hmget(keys.run(dm.runId), 'runId', 'conversationKey', 'limitsScale')).toEqual([
      null,
      null,
      null,
    ]);
    expect(await store.get(dm.runId)).toMatchObject({
      runId: dm.runId,
      conversation: dm.conversation,
      conversationKey: 'slack:T1:C1:-',
      outcome: null,
    });
  });

  it('reads and moves a record written when the conversation was one JSON field', async () => {
    await test.redis.hset(keys.run('old'), {
      runId: 'old',
      conversation: JSON.stringify(conversation),
      conversationKey: 'slack:T1:C1:1700.1',
      requestedBy: 'U012',
      agent: 'support',
      text: 'refund order 55',
      eventId: 'ev-old',
      status: 'queued',
      createdAt: '1000',
      updatedAt: '1000',
      outcome: 'null',
    });
    expect(await store.get('old')).toMatchObject({ conversation, outcome: null, status: 'queued' });
    expect(await store.transition('old', 'running')).toMatchObject({ conversation, status: 'running' });
    expect(await store.activeInChannel(channel)).toHaveLength(1);
  });

  it('moves through the legal path and stores the outcome', async () => {
    await store.create(newRun('r1'));
    now = 6_000;
    expect((await store.transition('r1', 'running')).status).toBe('running');
    await store.transition('r1', 'awaiting_approval');
    await store.transition('r1', 'running');
    now = 9_000;
    const done = await store.transition('r1', 'completed', {
      outcome: { status: 'completed', text: 'Refunded.' },
    });
    expect(done).toMatchObject({
      runId: 'r1',
      status: 'completed',
      updatedAt: 9_000,
      createdAt: 1_000,
      outcome: { status: 'completed', text: 'Refunded.' },
    });
    expect(await store.get('r1')).toEqual(done);
  });

  it('refuses completed -> running and changes nothing', async () => {
    await store.create(newRun('r1'));
    await store.transition('r1', 'running');
    await store.transition('r1', 'completed', { outcome: { status: 'completed', text: 'ok' } });
    const before = await store.get('r1');
    now = 99_000;

    const error = await store.transition('r1', 'running').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(IllegalTransitionError);
    expect(error).toMatchObject({
      runId: 'r1',
      from: 'completed',
      to: 'running',
      code: 'RUN_ILLEGAL_TRANSITION',
    });
    expect(await store.get('r1')).toEqual(before);
  });

  it('refuses queued -> completed (a run must run first)', async () => {
    await store.create(newRun('r1'));
    await expect(store.transition('r1', 'completed')).rejects.toMatchObject({
      from: 'queued',
      to: 'completed',
    });
    expect((await store.get('r1'))?.status).toBe('queued');
  });

  it('refuses to move a run that does not exist, and creates nothing', async () => {
    const error = await store.transition('ghost', 'running').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(IllegalTransitionError);
    expect(error).toMatchObject({ runId: 'ghost', from: null, to: 'running' });
    expect(await test.redis.exists(keys.run('ghost'))).toBe(0);
  });

  it('lets exactly one of many racing workers end a run', async () => {
    await store.create(newRun('r1'));
    await store.transition('r1', 'running');
    const targets = ['completed', 'failed', 'escalated', 'cancelled'] as const;
    const results = await Promise.allSettled(
      Array.from({ length: 20 }, (_, i) => store.transition('r1', targets[i % targets.length] ?? 'failed')),
    );
    const won = results.filter((r) => r.status === 'fulfilled');
    expect(won).toHaveLength(1);
    for (const lost of results.filter((r) => r.status === 'rejected')) {
      expect(lost.reason).toBeInstanceOf(IllegalTransitionError);
    }
  });

  it('lists the runs of a channel that have not ended, oldest first, across threads', async () => {
    await store.create(newRun('late', 'b', { createdAt: 3_000 }));
    await store.create(
      newRun('early', 'a', { createdAt: 2_000, conversation: { ...conversation, threadId: '1700.9' } }),
    );
    await store.create(newRun('elsewhere', 'c', { conversation: { ...otherChannel, threadId: '1' } }));
    expect((await store.activeInChannel(channel)).map((run) => run.runId)).toEqual(['early', 'late']);

    await store.transition('early', 'running');
    await store.transition('early', 'awaiting_approval');
    expect(await store.activeInChannel(channel)).toMatchObject([
      { runId: 'early', status: 'awaiting_approval' },
      { runId: 'late', status: 'queued' },
    ]);

    await store.transition('early', 'cancelled');
    await store.transition('late', 'running');
    await store.transition('late', 'completed', { outcome: { status: 'completed', text: 'ok' } });
    expect(await store.activeInChannel(channel)).toEqual([]);
    expect(await test.redis.zcard(keys.channelRuns('slack:T1:C1'))).toBe(0);
    expect((await store.activeInChannel(otherChannel)).map((run) => run.runId)).toEqual(['elsewhere']);
  });

  it('keeps an ended run out of the index even when a refused move is tried after', async () => {
    await store.create(newRun('r1'));
    await store.transition('r1', 'running');
    await store.transition('r1', 'failed');
    await expect(store.transition('r1', 'running')).rejects.toBeInstanceOf(IllegalTransitionError);
    expect(await store.activeInChannel(channel)).toEqual([]);
  });

  it('skips and forgets index entries whose run record expired', async () => {
    await store.create(newRun('gone'));
    await store.create(newRun('kept', 'x', { createdAt: 2_000 }));
    await test.redis.del(keys.run('gone'));
    expect((await store.activeInChannel(channel)).map((run) => run.runId)).toEqual(['kept']);
    expect(await test.redis.zrange(keys.channelRuns('slack:T1:C1'), 0, -1)).toEqual(['kept']);
    const ttl = await test.redis.ttl(keys.channelRuns('slack:T1:C1'));
    expect(ttl).toBeGreaterThan(3_500);
    expect(ttl).toBeLessThanOrEqual(3_600);
  });

  it('indexes a run created before the index existed once it moves', async () => {
    await store.create(newRun('old'));
    await test.redis.del(keys.channelRuns('slack:T1:C1'));
    await store.transition('old', 'running');
    expect(await store.activeInChannel(channel)).toMatchObject([{ runId: 'old', status: 'running' }]);
  });

  it("keeps a conversation key that is not the conversation's own", async () => {
    await store.create(newRun('odd', 'x', { conversationKey: 'console:local' }));
    expect((await store.get('odd'))?.conversationKey).toBe('console:local');
    expect((await store.transition('odd', 'running')).conversationKey).toBe('console:local');
  });

  it('round-trips limitsScale, and reads 1 when it was not given or the record predates it', async () => {
    await store.create(newRun('raised', 'retry', { limitsScale: 2 }));
    expect((await store.get('raised'))?.limitsScale).toBe(2);
    expect((await store.transition('raised', 'running')).limitsScale).toBe(2);

    await store.create(newRun('plain'));
    expect((await store.get('plain'))?.limitsScale).toBe(1);

    await test.redis.hdel(keys.run('plain'), 'limitsScale');
    expect((await store.get('plain'))?.limitsScale).toBe(1);
    expect((await store.transition('plain', 'running')).limitsScale).toBe(1);
  });

  it('keeps the latest checkpoint per run with the run TTL', async () => {
    expect(await store.loadCheckpoint('r1')).toBeUndefined();
    await store.saveCheckpoint(checkpoint('r1', 1));
    await store.saveCheckpoint(checkpoint('r1', 2));
    expect(await store.loadCheckpoint('r1')).toEqual(checkpoint('r1', 2));
    expect(await test.redis.ttl(keys.checkpoint('r1'))).toBeGreaterThan(3_500);
  });

  it('packs the checkpoint of a run waiting for approval to a fraction of its JSON, and reads it back', async () => {
    const waiting: RunState = {
      ...checkpoint('r-wait', 1),
      runId: '44f56225-2816-4624-bb4e-d85b8223ff96',
      inFlight: null,
      messages: [
        { role: 'system', content: 'You refund orders.' },
        { role: 'user', content: 'refund order 55' },
        {
          role: 'assistant',
          content: null,
          toolCalls: [{ id: 'call_1', name: 'refund_order', arguments: '{"order_id":"55"}' }],
        },
      ],
      pendingApproval: {
        approvalId: '3f3c96e1-5dff-42e2-848d-3ff2d5272b95',
        runId: '44f56225-2816-4624-bb4e-d85b8223ff96',
        agent: 'support',
        toolName: 'refund_order',
        callId: 'call_1',
        displayArgs: { order_id: '55' },
        argsHash: 'e0c769f2f87d1db01a2172c81d0920f792bdeea4eef0a67cfd9de6980dbb65c7',
        risk: 'write',
        reason: 'refund_order is configured to need approval',
        requestedBy: 'U012',
        conversation,
        createdAt: 1_000,
        expiresAt: 901_000,
      },
    };
    await store.saveCheckpoint(waiting);
    const stored = await test.redis.strlen(keys.checkpoint(waiting.runId));
    expect(stored).toBeLessThan(JSON.stringify(waiting).length / 2.5);
    expect(await store.loadCheckpoint(waiting.runId)).toEqual(waiting);

    // Once it runs again the checkpoint is a journal of plain JSON (packing costs CPU on every step).
    const running = { ...waiting, pendingApproval: null };
    await store.saveCheckpoint(running);
    expect(await test.redis.get(keys.checkpoint(waiting.runId))).toContain(
      '"role":"user","content":"refund order 55"',
    );
    expect(await store.loadCheckpoint(waiting.runId)).toEqual(running);
  });

  it('stores a running run’s steps as what each added, and reads back the whole state', async () => {
    const state: RunState = {
      ...checkpoint('r-journal', 0),
      messages: [
        { role: 'system', content: 'You look things up.' },
        { role: 'user', content: 'look up five items' },
      ],
    };
    // What each save sends to Redis, seen on the client the store writes with.
    const client = test.redis.duplicate();
    const sendCommand = vi.spyOn(client, 'sendCommand');
    const journaled = createRedisRunStore({ redis: client, keys });
    const sentBytes = () => {
      const bytes = sendCommand.mock.calls.reduce(
        (sum, [command]) =>
          sum + command.args.reduce<number>((n, arg) => n + Buffer.byteLength(String(arg)), 0),
        0,
      );
      sendCommand.mockClear();
      return bytes;
    };
    await journaled.saveCheckpoint(state);
    const sent = [sentBytes()];
    for (let step = 0; step < 5; step += 1) {
      const output = `{"id":"${step}","value":"${'x'.repeat(2_000)}"}`;
      state.messages.push(
        {
          role: 'assistant',
          content: null,
          toolCalls: [{ id: `call_${step}`, name: 'lookup', arguments: '{}' }],
        },
        { role: 'tool', toolCallId: `call_${step}`, content: output },
      );
      state.iterations = step + 1;
      await journaled.saveCheckpoint(state);
      sent.push(sentBytes());
      expect(await store.loadCheckpoint(state.runId)).toEqual(state);
    }
    client.disconnect();
    // Each step sent about its own 2 KB, not the 2–10 KB of everything so far.
    expect(JSON.stringify(state).length).toBeGreaterThan(10_000);
    expect(Math.max(...sent.slice(1))).toBeLessThan(3_000);
  });

  it('starts a journal over when the messages were replaced, or the stored value is gone', async () => {
    const state: RunState = {
      ...checkpoint('r-restart', 0),
      messages: [{ role: 'user', content: 'first' }],
    };
    await store.saveCheckpoint(state);
    state.messages = [{ role: 'user', content: 'replaced' }];
    await store.saveCheckpoint(state);
    expect(await store.loadCheckpoint(state.runId)).toEqual(state);

    await test.redis.del(keys.checkpoint(state.runId));
    state.messages.push({ role: 'assistant', content: 'answer' });
    await store.saveCheckpoint(state);
    expect(await store.loadCheckpoint(state.runId)).toEqual(state);
    expect(await test.redis.ttl(keys.checkpoint(state.runId))).toBeGreaterThan(0);
  });

  it('refuses a journal whose messages do not add up rather than resuming a run without some', async () => {
    const key = keys.checkpoint('r-broken');
    const header = JSON.stringify({ ...checkpoint('r-broken', 0), messages: undefined, n: 2 });
    await test.redis.set(key, `\u0002\nh${header}\nm{"role":"user","content":"only one"}`);

    await expect(store.loadCheckpoint('r-broken')).rejects.toThrow(/1 messages stored, the header counts 2/);
  });

  it('reads limitsScale 1 from a checkpoint saved before it existed', async () => {
    const { limitsScale: _dropped, ...old } = checkpoint('r1', 3);
    await test.redis.set(keys.checkpoint('r1'), JSON.stringify(old));
    expect(await store.loadCheckpoint('r1')).toEqual({ ...old, limitsScale: 1 });
  });
});
