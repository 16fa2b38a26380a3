import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createRedisEventDedupe } from '../../../src/state/redis-event-dedupe.ts';
import { createKeys } from '../../../src/state/redis-keys.ts';
import { connectTestRedis, type TestRedis } from '../../support/redis.ts';

describe('redis event dedupe', () => {
  let first: TestRedis;
  let second: TestRedis;

  beforeEach(async () => {
    first = await connectTestRedis({ name: 'dedupe' });
    second = await connectTestRedis({ name: 'dedupe-2' });
  });
  afterEach(async () => {
    await first.cleanup();
    await second.cleanup();
  });

  it('lets exactly one claim win across two connections (two processes)', async () => {
    const keys = createKeys(first.prefix);
    const a = createRedisEventDedupe({ redis: first.redis, keys });
    const b = createRedisEventDedupe({ redis: second.redis, keys });
    const claims = await Promise.all(
      Array.from({ length: 10 }, (_, i) => (i % 2 === 0 ? a : b).claim('Ev:123')),
    );
    expect(claims.filter(Boolean)).toHaveLength(1);
    expect(await a.claim('Ev:123')).toBe(false);
    expect(await b.claim('Ev:124')).toBe(true);
  });

  it('remembers an event for at least a day, not forever', async () => {
    const keys = createKeys(first.prefix);
    const dedupe = createRedisEventDedupe({ redis: first.redis, keys });
    await dedupe.claim('Ev:1');
    const ttl = await first.redis.ttl(keys.dedupe('Ev:1'));
    expect(ttl).toBeGreaterThanOrEqual(24 * 60 * 60);
    expect(ttl).toBeLessThanOrEqual(2 * 24 * 60 * 60);
  });
});
