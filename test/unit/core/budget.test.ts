import { describe, expect, it } from 'vitest';
import { describeExhaustion, periodBucket, periodEnd, scopesFor } from '../../../src/core/budget/budget.ts';
import { createPriceTable } from '../../../src/core/budget/pricing.ts';

describe('budget periods', () => {
  it('buckets by UTC day and month and ends them at the next UTC midnight or first of month', () => {
    const lateNewYearsEve = Date.UTC(2026, 11, 31, 23, 59, 59);
    expect(periodBucket('day', lateNewYearsEve)).toBe('2026-12-31');
    expect(periodBucket('month', lateNewYearsEve)).toBe('2026-12');
    expect(periodEnd('day', lateNewYearsEve)).toBe(Date.UTC(2027, 0, 1));
    expect(periodEnd('month', lateNewYearsEve)).toBe(Date.UTC(2027, 0, 1));
    expect(periodEnd('month', Date.UTC(2028, 1, 29, 12))).toBe(Date.UTC(2028, 2, 1));
  });

  it('keeps a channel, its workspace and a person apart, across platforms', () => {
    const slack = scopesFor({
      conversation: { platform: 'slack', tenantId: 'T1', channelId: 'C1', threadId: '1.2' },
      userId: 'U1',
    });
    expect(slack).toEqual([
      { kind: 'channel', id: 'slack:T1:C1:-' },
      { kind: 'workspace', id: 'slack:T1' },
      { kind: 'user', id: 'slack:T1:U1' },
    ]);
  });

  it('says which limit, how much, when it resets and how to raise it, in the platform’s words', () => {
    const text = describeExhaustion(
      {
        scope: 'workspace',
        unit: 'usd',
        period: 'month',
        used: 200.5,
        limit: 200,
        resetsAt: Date.UTC(2026, 11, 1),
      },
      'discord',
      Date.UTC(2026, 10, 22, 12),
    );
    expect(text).toBe(
      "This server's monthly spending budget is used up: $200.50 of $200.00. It resets 2026-12-01 00:00 UTC (in 9d). An admin can raise it with `/steward budget set workspace usd <amount> month`.",
    );
  });
});

describe('price table', () => {
  const prices = createPriceTable({
    'gpt-4.1': { prompt: 2, completion: 8 },
    'gpt-4.1-mini': { prompt: 0.4, completion: 1.6 },
  });

  it('prices prompt and completion separately, in micro-dollars', () => {
    expect(prices.costMicroUsd('gpt-4.1-mini', { promptTokens: 1_000, completionTokens: 500 })).toBe(1_200);
  });

  it('matches a dated snapshot to the longest configured name it starts with', () => {
    expect(prices.costMicroUsd('gpt-4.1-mini-2025-04-14', { promptTokens: 1_000, completionTokens: 0 })).toBe(
      400,
    );
    expect(prices.costMicroUsd('gpt-4.1-2025-04-14', { promptTokens: 1_000, completionTokens: 0 })).toBe(
      2_000,
    );
  });

  it('counts an unpriced model as free, and says it has no price', () => {
    expect(prices.costMicroUsd('o3', { promptTokens: 1_000, completionTokens: 1_000 })).toBe(0);
    expect(prices.has('o3')).toBe(false);
    expect(prices.has('gpt-4.1-mini-2025-04-14')).toBe(true);
  });
});
