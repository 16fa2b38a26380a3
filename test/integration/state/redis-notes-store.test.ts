import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Note } from '../../../src/core/stores.ts';
import { channelKeyOf, createKeys, type RedisKeys } from '../../../src/state/redis-keys.ts';
import { createRedisNotesStore } from '../../../src/state/redis-notes-store.ts';
import { connectTestRedis, type TestRedis } from '../../support/redis.ts';

const channel = { platform: 'discord', tenantId: 'G1', channelId: 'C1', threadId: null };
const note = (text: string, at = 1): Note => ({ text, by: 'U1', at });

describe('redis notes store', () => {
  let test: TestRedis;
  let keys: RedisKeys;

  beforeEach(async () => {
    test = await connectTestRedis({ name: 'notes' });
    keys = createKeys(test.prefix);
  });
  afterEach(() => test.cleanup());

  it('lists notes oldest first, shared by the threads of a channel', async () => {
    const store = createRedisNotesStore({ redis: test.redis, keys });
    expect(await store.list(channel)).toEqual([]);
    expect(await store.add(channel, note('first', 1))).toEqual({ status: 'added', count: 1 });
    expect(await store.add({ ...channel, threadId: 'T9' }, note('second', 2))).toEqual({
      status: 'added',
      count: 2,
    });
    expect(await store.list(channel)).toEqual([note('first', 1), note('second', 2)]);
    expect(await test.redis.ttl(keys.notes(channelKeyOf(channel)))).toBe(-1);
  });

  it('refuses a note beyond the cap, even when many are added at once', async () => {
    const store = createRedisNotesStore({ redis: test.redis, keys, maxNotes: 5 });
    const results = await Promise.all(
      Array.from({ length: 12 }, (_, i) => store.add(channel, note(`n${i}`))),
    );
    expect(results.filter((r) => r.status === 'added')).toHaveLength(5);
    expect(results.filter((r) => r.status === 'full')).toEqual(Array(7).fill({ status: 'full', limit: 5 }));
    expect(await store.list(channel)).toHaveLength(5);
  });

  it('rejects an oversize note with a clear RangeError and stores nothing', async () => {
    const store = createRedisNotesStore({ redis: test.redis, keys, maxChars: 10 });
    await expect(store.add(channel, note('x'.repeat(11)))).rejects.toThrow(
      new RangeError('a note may have at most 10 characters; this one has 11'),
    );
    expect(await store.add(channel, note('x'.repeat(10)))).toEqual({ status: 'added', count: 1 });
    expect(await store.list(channel)).toHaveLength(1);
  });
});
