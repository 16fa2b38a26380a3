import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ConversationRef } from '../../../src/core/conversation.ts';
import type { PendingApproval } from '../../../src/core/run-state.ts';
import type { ApprovalStore } from '../../../src/core/stores.ts';
import { createRedisApprovalStore } from '../../../src/state/redis-approval-store.ts';
import { createKeys, type RedisKeys } from '../../../src/state/redis-keys.ts';
import { connectTestRedis, type TestRedis } from '../../support/redis.ts';

const conversation: ConversationRef = {
  platform: 'slack',
  tenantId: 'T1',
  channelId: 'C1',
  threadId: '1700.1',
};
const CONVERSATION_KEY = 'slack:T1:C1:1700.1';

function approval(approvalId: string, createdAt: number, expiresAt = createdAt + 60_000): PendingApproval {
  return {
    approvalId,
    runId: `run-${approvalId}`,
    agent: 'support',
    toolName: 'refund_order',
    callId: 'call-1',
    displayArgs: { order_id: '55', tags: [] },
    argsHash: 'abc123',
    risk: 'write',
    reason: 'refunds need a lead',
    requestedBy: 'U012',
    conversation,
    createdAt,
    expiresAt,
  };
}

describe('redis approval store', () => {
  let first: TestRedis;
  let second: TestRedis;
  let keys: RedisKeys;
  let store: ApprovalStore;

  beforeEach(async () => {
    first = await connectTestRedis({ name: 'approvals' });
    second = await connectTestRedis({ name: 'approvals-2' });
    keys = createKeys(first.prefix);
    store = createRedisApprovalStore({ redis: first.redis, keys, retainSeconds: 600 });
  });
  afterEach(async () => {
    await first.cleanup();
    await second.cleanup();
  });

  it('stores a pending approval exactly as given, kept past its expiry for late clicks', async () => {
    await store.create(approval('a:1', 1_000));
    expect(await store.get('a:1')).toEqual({ approval: approval('a:1', 1_000), decided: null });
    expect(await store.get('nope')).toBeUndefined();
    const ttlMs = await first.redis.pttl(keys.approval('a:1'));
    expect(ttlMs).toBeGreaterThan(600_000 + 50_000);
    expect(ttlMs).toBeLessThanOrEqual(660_000);
  });

  it('reads an approval stored as plain JSON by an earlier release', async () => {
    await first.redis.hset(keys.approval('old'), {
      approval: JSON.stringify(approval('old', 1_000)),
      expiresAt: '61000',
      conversationKey: CONVERSATION_KEY,
    });
    expect(await store.get('old')).toEqual({ approval: approval('old', 1_000), decided: null });
    expect(await store.decide('old', { decision: 'approve', by: 'U9', at: 2_000 }, 2_000)).toEqual({
      status: 'decided',
      approval: approval('old', 1_000),
    });
  });

  it('gives exactly one of 20 racing deciders on two connections the decision; the rest learn the winner', async () => {
    await store.create(approval('a1', 1_000));
    const other = createRedisApprovalStore({ redis: second.redis, keys, retainSeconds: 600 });
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        (i % 2 === 0 ? store : other).decide(
          'a1',
          { decision: i % 3 === 0 ? 'reject' : 'approve', by: `U${i}`, at: 2_000 + i },
          2_000,
        ),
      ),
    );
    const winners = results.filter((r) => r.status === 'decided');
    expect(winners).toHaveLength(1);
    expect(winners[0]).toEqual({ status: 'decided', approval: approval('a1', 1_000) });
    const stored = await store.get('a1');
    const decided = stored?.decided;
    expect(decided).not.toBeNull();
    const losers = results.filter((r) => r.status !== 'decided');
    expect(losers).toHaveLength(19);
    for (const loser of losers) expect(loser).toEqual({ status: 'already_decided', decided });
    expect(await store.listPending(CONVERSATION_KEY, 2_000)).toEqual([]);
  });

  it('refuses a decision at or after expiry and records nothing', async () => {
    await store.create(approval('a1', 1_000, 5_000));
    expect(await store.decide('a1', { decision: 'approve', by: 'U1', at: 5_000 }, 5_000)).toEqual({
      status: 'expired',
    });
    expect((await store.get('a1'))?.decided).toBeNull();
  });

  it('answers not_found for an unknown approval', async () => {
    expect(await store.decide('ghost', { decision: 'approve', by: 'U1', at: 1 }, 1)).toEqual({
      status: 'not_found',
    });
  });

  it('lists the pending approvals of a conversation oldest first, without decided or expired ones', async () => {
    await store.create(approval('late', 3_000));
    await store.create(approval('early', 1_000));
    await store.create(approval('short', 2_000, 4_000));
    await store.create(approval('decided', 2_500));
    await store.create({
      ...approval('elsewhere', 1_500),
      conversation: { ...conversation, threadId: null },
    });
    await store.decide('decided', { decision: 'reject', by: 'U9', at: 2_600 }, 2_600);

    const ids = async (now: number) =>
      (await store.listPending(CONVERSATION_KEY, now)).map((a) => a.approvalId);
    expect(await ids(3_500)).toEqual(['early', 'short', 'late']);
    expect(await ids(4_000)).toEqual(['early', 'late']);
    expect(await first.redis.zrange(keys.pendingApprovals(CONVERSATION_KEY), 0, -1)).not.toContain('decided');
    expect(await store.listPending('slack:T1:C1:-', 3_500)).toEqual(
      [approval('elsewhere', 1_500)].map((a) => ({
        ...a,
        conversation: { ...conversation, threadId: null },
      })),
    );
  });

  it('does not let a second create erase a decision', async () => {
    await store.create(approval('a1', 1_000));
    await store.decide('a1', { decision: 'approve', by: 'U1', at: 1_500 }, 1_500);
    await store.create(approval('a1', 1_000));
    expect((await store.get('a1'))?.decided).toEqual({ decision: 'approve', by: 'U1', at: 1_500 });
  });
});
