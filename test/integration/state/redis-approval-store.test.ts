import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ConversationRef } from '../../../src/core/conversation.ts';
import {
  newApprovalId,
  newRunState,
  type PendingApproval,
  type RunState,
} from '../../../src/core/run-state.ts';
import type { ApprovalStore, RunStore } from '../../../src/core/stores.ts';
import { packJson } from '../../../src/state/packed-json.ts';
import { createRedisApprovalStore } from '../../../src/state/redis-approval-store.ts';
import { createKeys, type RedisKeys } from '../../../src/state/redis-keys.ts';
import { createRedisRunStore } from '../../../src/state/redis-run-store.ts';
import { connectTestRedis, type TestRedis } from '../../support/redis.ts';

const conversation: ConversationRef = {
  platform: 'slack',
  tenantId: 'T1',
  channelId: 'C1',
  threadId: '1700.1',
};
const CONVERSATION_KEY = 'slack:T1:C1:1700.1';

/** The id a run `run-<name>` gives its approval (see newApprovalId). */
const idOf = (name: string) => newApprovalId(`run-${name}`, name);

function approval(
  name: string,
  createdAt: number,
  expiresAt = createdAt + 60_000,
  where: ConversationRef = conversation,
): PendingApproval {
  return {
    approvalId: idOf(name),
    runId: `run-${name}`,
    agent: 'support',
    toolName: 'refund_order',
    callId: 'call-1',
    displayArgs: { order_id: '55', tags: [] },
    argsHash: 'abc123',
    risk: 'write',
    reason: 'refunds need a lead',
    requestedBy: 'U012',
    conversation: where,
    createdAt,
    expiresAt,
  };
}

function parkedState(pending: PendingApproval): RunState {
  return {
    ...newRunState({
      runId: pending.runId,
      traceId: 'trace-1',
      agent: 'support',
      requestedBy: pending.requestedBy,
      conversation: pending.conversation,
      startedAt: pending.createdAt,
      deadlineAt: pending.createdAt + 60_000,
      messages: [{ role: 'user', content: 'refund order 55' }],
    }),
    pendingApproval: pending,
  };
}

describe('redis approval store', () => {
  let first: TestRedis;
  let second: TestRedis;
  let keys: RedisKeys;
  let runs: RunStore;
  let store: ApprovalStore;

  /** As the run processor parks a run: its record and checkpoint first, then the approval. */
  const park = async (pending: PendingApproval, state: RunState = parkedState(pending)): Promise<void> => {
    await runs.create({
      runId: pending.runId,
      conversation: pending.conversation,
      conversationKey: [
        pending.conversation.platform,
        pending.conversation.tenantId,
        pending.conversation.channelId,
        pending.conversation.threadId ?? '-',
      ].join(':'),
      requestedBy: pending.requestedBy,
      agent: pending.agent,
      text: 'refund order 55',
      eventId: `ev-${pending.runId}`,
      createdAt: pending.createdAt,
    });
    await runs.transition(pending.runId, 'running');
    await runs.saveCheckpoint(state);
    await store.create(pending);
    await runs.transition(pending.runId, 'awaiting_approval');
  };

  beforeEach(async () => {
    first = await connectTestRedis({ name: 'approvals' });
    second = await connectTestRedis({ name: 'approvals-2' });
    keys = createKeys(first.prefix);
    runs = createRedisRunStore({ redis: first.redis, keys });
    store = createRedisApprovalStore({ redis: first.redis, keys, runs, retainSeconds: 600 });
  });
  afterEach(async () => {
    await first.cleanup();
    await second.cleanup();
  });

  it('keeps a waiting approval in no key of its own: its run checkpoint holds it, and its id names the run', async () => {
    const runId = 'b9c97560-7e8f-455c-a1d6-7f2d5f90a9a8';
    const pending = { ...approval('x', 1_000), runId, approvalId: newApprovalId(runId, randomUUID()) };
    expect(pending.approvalId).toMatch(/^[0-9a-f-]{36}_[0-9a-f]{12}$/);
    const before = await first.redis.keys(`${first.prefix}*`);
    await park(pending);
    const added = (await first.redis.keys(`${first.prefix}*`)).filter((key) => !before.includes(key));
    expect(added.sort()).toEqual([keys.channelRuns('slack:T1:C1'), keys.checkpoint(runId), keys.run(runId)]);
    expect(await store.get(pending.approvalId)).toEqual({ approval: pending, decided: null });
    expect(await store.get('nope')).toBeUndefined();
    expect(await store.get(`${runId}_000000000000`)).toBeUndefined();
  });

  it('keeps a decision for the approval lifetime + the retention, so a late click learns who decided', async () => {
    await park(approval('a', 1_000));
    await store.decide(idOf('a'), { decision: 'approve', by: 'U1', at: 1_500 }, 1_500);
    const ttlMs = await first.redis.pttl(keys.approval(idOf('a')));
    expect(ttlMs).toBeGreaterThan(600_000 + 50_000);
    expect(ttlMs).toBeLessThanOrEqual(660_000);
  });

  it('finds the approval a sub-agent asked for inside its top run checkpoint', async () => {
    const pending = approval('child-asks', 1_000);
    const child = { ...parkedState(pending), runId: `${pending.runId}.call-7`, parentRunId: pending.runId };
    const top: RunState = {
      ...parkedState(pending),
      pendingApproval: null,
      child: { callId: 'call-7', state: child },
    };
    await park(pending, top);
    expect(await store.get(idOf('child-asks'))).toEqual({ approval: pending, decided: null });
    expect(await store.listPending(conversation, 2_000)).toEqual([pending]);
  });

  it('reads, lists and decides approvals stored whole by earlier releases, plain JSON or packed', async () => {
    const old = (id: string) => ({ ...approval(id, 1_000), approvalId: id });
    for (const [id, stored] of [
      ['3f3c96e1-5dff-42e2-848d-3ff2d5272b95', (a: PendingApproval) => JSON.stringify(a)],
      ['6cf9e5bf-d6ec-41b7-8442-83273f51931d', (a: PendingApproval) => packJson(a)],
    ] as const) {
      await first.redis.hset(keys.approval(id), {
        approval: stored(old(id)),
        expiresAt: '61000',
        conversationKey: CONVERSATION_KEY,
      });
      await first.redis.zadd(keys.pendingApprovals(CONVERSATION_KEY), 1_000, id);
      expect(await store.get(id)).toEqual({ approval: old(id), decided: null });
      expect(await store.decide(id, { decision: 'approve', by: 'U9', at: 2_000 }, 2_000)).toEqual({
        status: 'decided',
        approval: old(id),
      });
      expect(await store.get(id)).toEqual({
        approval: old(id),
        decided: { decision: 'approve', by: 'U9', at: 2_000 },
      });
    }
    // Asked for before, parked again after an upgrade (its worker died): still found, and listed.
    const parkedBefore = old('0d9a3c43-4f0b-4e0c-9b55-1b1f5b3bd0aa');
    await park(parkedBefore);
    expect(await first.redis.hget(keys.approval(parkedBefore.approvalId), 'runId')).toBe(parkedBefore.runId);
    expect(await store.listPending(conversation, 2_000)).toEqual([parkedBefore]);
    expect(
      await store.decide(parkedBefore.approvalId, { decision: 'reject', by: 'U9', at: 70_000 }, 70_000),
    ).toEqual({
      status: 'expired',
    });
  });

  it('gives exactly one of 20 racing deciders on two connections the decision; the rest learn the winner', async () => {
    await park(approval('a1', 1_000));
    const other = createRedisApprovalStore({
      redis: second.redis,
      keys,
      runs: createRedisRunStore({ redis: second.redis, keys }),
      retainSeconds: 600,
    });
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        (i % 2 === 0 ? store : other).decide(
          idOf('a1'),
          { decision: i % 3 === 0 ? 'reject' : 'approve', by: `U${i}`, at: 2_000 + i },
          2_000,
        ),
      ),
    );
    const winners = results.filter((r) => r.status === 'decided');
    expect(winners).toHaveLength(1);
    expect(winners[0]).toEqual({ status: 'decided', approval: approval('a1', 1_000) });
    const stored = await store.get(idOf('a1'));
    const decided = stored?.decided;
    expect(decided).not.toBeNull();
    const losers = results.filter((r) => r.status !== 'decided');
    expect(losers).toHaveLength(19);
    for (const loser of losers) expect(loser).toEqual({ status: 'already_decided', decided });
    expect(await store.listPending(conversation, 2_000)).toEqual([]);
  });

  it('still tells a late click who decided once the run has moved on from the approval', async () => {
    const pending = approval('a1', 1_000);
    await park(pending);
    await store.decide(idOf('a1'), { decision: 'reject', by: 'U3', at: 1_500 }, 1_500);
    // The resumed run no longer waits on it.
    await runs.saveCheckpoint({ ...parkedState(pending), pendingApproval: null });
    expect(await store.get(idOf('a1'))).toEqual({
      approval: undefined,
      decided: { decision: 'reject', by: 'U3', at: 1_500 },
    });
    expect(await store.decide(idOf('a1'), { decision: 'approve', by: 'U4', at: 1_600 }, 1_600)).toEqual({
      status: 'already_decided',
      decided: { decision: 'reject', by: 'U3', at: 1_500 },
    });
  });

  it('treats an undecided approval its run no longer holds as gone', async () => {
    const pending = approval('a1', 1_000);
    await park(pending);
    await runs.saveCheckpoint({ ...parkedState(pending), pendingApproval: null });
    expect(await store.get(idOf('a1'))).toBeUndefined();
    expect(await store.decide(idOf('a1'), { decision: 'approve', by: 'U4', at: 1_600 }, 1_600)).toEqual({
      status: 'not_found',
    });
    expect(await first.redis.exists(keys.approval(idOf('a1')))).toBe(0);
  });

  it('refuses a decision at or after expiry and records nothing', async () => {
    await park(approval('a1', 1_000, 5_000));
    expect(await store.decide(idOf('a1'), { decision: 'approve', by: 'U1', at: 5_000 }, 5_000)).toEqual({
      status: 'expired',
    });
    expect((await store.get(idOf('a1')))?.decided).toBeNull();
    expect(await first.redis.exists(keys.approval(idOf('a1')))).toBe(0);
  });

  it('answers not_found for an unknown approval', async () => {
    expect(await store.decide('ghost', { decision: 'approve', by: 'U1', at: 1 }, 1)).toEqual({
      status: 'not_found',
    });
    expect(await store.decide('run-ghost_ghost', { decision: 'approve', by: 'U1', at: 1 }, 1)).toEqual({
      status: 'not_found',
    });
  });

  it('lists the pending approvals of a conversation oldest first, without decided or expired ones', async () => {
    await park(approval('late', 3_000));
    await park(approval('early', 1_000));
    await park(approval('short', 2_000, 4_000));
    await park(approval('decided', 2_500));
    const channelWide = { ...conversation, threadId: null };
    await park(approval('elsewhere', 1_500, 61_500, channelWide));
    await store.decide(idOf('decided'), { decision: 'reject', by: 'U9', at: 2_600 }, 2_600);

    const ids = async (now: number) => (await store.listPending(conversation, now)).map((a) => a.approvalId);
    expect(await ids(3_500)).toEqual(['early', 'short', 'late'].map(idOf));
    expect(await ids(4_000)).toEqual(['early', 'late'].map(idOf));
    expect(await store.listPending(channelWide, 3_500)).toEqual([
      approval('elsewhere', 1_500, 61_500, channelWide),
    ]);
    // A run that ended is no longer waiting on anything.
    await runs.transition('run-early', 'cancelled');
    expect(await ids(3_500)).toEqual(['short', 'late'].map(idOf));
  });

  it('does not let a second create erase a decision', async () => {
    await park(approval('a1', 1_000));
    await store.decide(idOf('a1'), { decision: 'approve', by: 'U1', at: 1_500 }, 1_500);
    await store.create(approval('a1', 1_000));
    expect((await store.get(idOf('a1')))?.decided).toEqual({ decision: 'approve', by: 'U1', at: 1_500 });
  });
});
