import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { BudgetScope } from '../../../src/core/budget/budget.ts';
import type { BudgetStore } from '../../../src/core/budget/budget-store.ts';
import { createRedisBudgetStore } from '../../../src/state/redis-budget-store.ts';
import { createKeys, type RedisKeys } from '../../../src/state/redis-keys.ts';
import { connectTestRedis, type TestRedis } from '../../support/redis.ts';

const NOW = Date.UTC(2026, 10, 22, 10, 0, 0);
const DAY_END = Date.UTC(2026, 10, 23);
const MONTH_END = Date.UTC(2026, 11, 1);
const DAY_MS = 86_400_000;
const channel: BudgetScope = { kind: 'channel', id: 'slack:T1:C1:-' };
const user: BudgetScope = { kind: 'user', id: 'slack:T1:U1' };

describe('redis budget store: usage', () => {
  let test: TestRedis;
  let keys: RedisKeys;
  let store: BudgetStore;

  beforeEach(async () => {
    test = await connectTestRedis({ name: 'budget' });
    keys = createKeys(test.prefix);
    store = createRedisBudgetStore({
      redis: test.redis,
      keys,
      defaults: { channel: { tokensPerDay: 1_000 }, workspace: {}, user: {} },
    });
  });
  afterEach(() => test.cleanup());

  const usage = (scope: BudgetScope, bucket: string) =>
    test.redis.hgetall(keys.budgetUsage(`${scope.kind}:${scope.id}:${bucket}`));
  const expiresAt = (scope: BudgetScope, bucket: string) =>
    test.redis.pexpiretime(keys.budgetUsage(`${scope.kind}:${scope.id}:${bucket}`));

  it('reserves then settles to actual usage, each bucket expiring a while after its period', async () => {
    const reserved = await store.reserve([channel, user], { tokens: 500, microUsd: 0 }, NOW);
    if (!reserved.ok) throw new Error('refused');
    await store.settle(reserved.reservation, { tokens: 120, microUsd: 0 }, NOW + 1_000);
    const again = await store.reserve([channel, user], { tokens: 300, microUsd: 2_500 }, NOW + 2_000);
    if (!again.ok) throw new Error('refused');
    await store.settle(again.reservation, { tokens: 80, microUsd: 1_000 }, NOW + 3_000);

    for (const scope of [channel, user]) {
      expect(await usage(scope, '2026-11-22')).toEqual({ tokens: '200', usd: '1000' });
      expect(await usage(scope, '2026-11')).toEqual({ tokens: '200', usd: '1000' });
      expect(await expiresAt(scope, '2026-11-22')).toBe(DAY_END + 2 * DAY_MS);
      expect(await expiresAt(scope, '2026-11')).toBe(MONTH_END + 7 * DAY_MS);
    }
  });

  it('sends a settlement and the next reservation of the same scopes as one call, settlement first', async () => {
    const client = test.redis.duplicate();
    const sendCommand = vi.spyOn(client, 'sendCommand');
    const budgets = createRedisBudgetStore({
      redis: client,
      keys,
      defaults: { channel: { tokensPerDay: 1_000 }, workspace: {}, user: {} },
    });
    const scopes = [channel, user];
    const first = await budgets.reserve(scopes, { tokens: 1_000, microUsd: 0 }, NOW);
    if (!first.ok) throw new Error('refused');
    sendCommand.mockClear();

    // As the app does it: the settlement is handed over, and the next reservation follows at once.
    // With the 1,000 reserved still counted, 1,000 tokens a day would refuse any more.
    const settled = budgets.settle(first.reservation, { tokens: 100, microUsd: 0 }, NOW + 1_000);
    const second = await budgets.reserve(scopes, { tokens: 200, microUsd: 0 }, NOW + 1_000);
    await settled;

    expect(second.ok).toBe(true);
    // One script call: its source the first time this connection runs it, its SHA after.
    expect(sendCommand.mock.calls.map(([command]) => command.name)).toEqual(['eval']);
    expect(await usage(channel, '2026-11-22')).toEqual({ tokens: '300' });
    // A settlement with no reservation after it still goes, at the end of the tick.
    if (!second.ok) return;
    await budgets.settle(second.reservation, { tokens: 50, microUsd: 0 }, NOW + 2_000);
    expect(await usage(channel, '2026-11-22')).toEqual({ tokens: '150' });
    client.disconnect();
  });

  it('writes no usd field while calls cost nothing (an unpriced model)', async () => {
    const reserved = await store.reserve([channel], { tokens: 50, microUsd: 0 }, NOW);
    if (!reserved.ok) throw new Error('refused');
    await store.settle(reserved.reservation, { tokens: 40, microUsd: 0 }, NOW);
    expect(await usage(channel, '2026-11-22')).toEqual({ tokens: '40' });
  });

  it('gives a bucket an expiry even when a settlement lands after it expired', async () => {
    const reserved = await store.reserve([channel], { tokens: 50, microUsd: 0 }, NOW);
    if (!reserved.ok) throw new Error('refused');
    await test.redis.del(keys.budgetUsage(`channel:${channel.id}:2026-11-22`));
    await store.settle(reserved.reservation, { tokens: 70, microUsd: 0 }, NOW);
    expect(await usage(channel, '2026-11-22')).toEqual({ tokens: '20' });
    expect(await expiresAt(channel, '2026-11-22')).toBe(DAY_END + 2 * DAY_MS);
  });

  it('refuses a scope id with a line break rather than charge the wrong keys', async () => {
    const odd = { kind: 'user' as const, id: 'slack:T1:U1\nchannel:x' };
    await expect(store.reserve([odd], { tokens: 1, microUsd: 0 }, NOW)).rejects.toThrow(/line break/);
  });

  it('refuses a reservation once the limit is used up, naming it', async () => {
    const first = await store.reserve([channel], { tokens: 1_000, microUsd: 0 }, NOW);
    expect(first.ok).toBe(true);
    const second = await store.reserve([channel], { tokens: 1, microUsd: 0 }, NOW);
    expect(second).toMatchObject({
      ok: false,
      exhaustion: { scope: 'channel', unit: 'tokens', period: 'day', used: 1_000, limit: 1_000 },
    });
  });
});
