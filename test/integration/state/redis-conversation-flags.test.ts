import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { StateUnavailableError } from '../../../src/core/errors.ts';
import type { ConversationFlagsStore } from '../../../src/core/stores.ts';
import { createRedisConnection } from '../../../src/state/redis-connection.ts';
import { createRedisConversationFlagsStore } from '../../../src/state/redis-conversation-flags.ts';
import { createKeys, type RedisKeys } from '../../../src/state/redis-keys.ts';
import { connectTestRedis, type TestRedis } from '../../support/redis.ts';
import { createRecordingLogger } from './recording-logger.ts';

const THREAD = 'slack:T1:C1:1700.1';
const OTHER_THREAD = 'slack:T1:C1:1700.2';

describe('redis conversation flags', () => {
  let test: TestRedis;
  let keys: RedisKeys;
  let flags: ConversationFlagsStore;

  beforeEach(async () => {
    test = await connectTestRedis({ name: 'conversation-flags' });
    keys = createKeys(test.prefix);
    flags = createRedisConversationFlagsStore({
      redis: test.redis,
      keys,
      activeTtlSeconds: 600,
      takeoverTtlSeconds: 3_600,
    });
  });
  afterEach(() => test.cleanup());

  it('marks a thread active for that thread only, with the idle TTL', async () => {
    expect(await flags.isActive(THREAD)).toBe(false);
    await flags.markActive(THREAD);
    expect(await flags.isActive(THREAD)).toBe(true);
    expect(await flags.isActive(OTHER_THREAD)).toBe(false);
    const ttl = await test.redis.ttl(keys.conversationActive(THREAD));
    expect(ttl).toBeGreaterThan(590);
    expect(ttl).toBeLessThanOrEqual(600);
  });

  it('refreshes the TTL on every markActive, and forgets an idle thread when it runs out', async () => {
    await flags.markActive(THREAD);
    await test.redis.expire(keys.conversationActive(THREAD), 5);
    await flags.markActive(THREAD);
    expect(await test.redis.ttl(keys.conversationActive(THREAD))).toBeGreaterThan(590);

    await test.redis.pexpire(keys.conversationActive(THREAD), 1);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(await flags.isActive(THREAD)).toBe(false);
  });

  it('records who took a thread over, and clears it with null', async () => {
    expect(await flags.takenOverBy(THREAD)).toBeNull();
    await flags.setTakenOver(THREAD, 'U0LEAD');
    expect(await flags.takenOverBy(THREAD)).toBe('U0LEAD');
    expect(await flags.takenOverBy(OTHER_THREAD)).toBeNull();
    const ttl = await test.redis.ttl(keys.takenOver(THREAD));
    expect(ttl).toBeGreaterThan(3_500);
    expect(ttl).toBeLessThanOrEqual(3_600);

    await flags.setTakenOver(THREAD, 'U0OTHER');
    expect(await flags.takenOverBy(THREAD)).toBe('U0OTHER');
    await flags.setTakenOver(THREAD, null);
    expect(await flags.takenOverBy(THREAD)).toBeNull();
    expect(await test.redis.exists(keys.takenOver(THREAD))).toBe(0);
    await flags.setTakenOver(THREAD, null);
  });

  it('uses 7 days active and 30 days take-over by default', async () => {
    const defaults = createRedisConversationFlagsStore({ redis: test.redis, keys });
    await defaults.markActive(THREAD);
    await defaults.setTakenOver(THREAD, 'U0LEAD');
    expect(await test.redis.ttl(keys.conversationActive(THREAD))).toBeGreaterThan(7 * 86_400 - 10);
    expect(await test.redis.ttl(keys.takenOver(THREAD))).toBeGreaterThan(30 * 86_400 - 10);
  });

  it('reports an unreachable Redis as StateUnavailableError', async () => {
    const down = createRedisConnection('redis://127.0.0.1:1', {
      logger: createRecordingLogger(),
      name: 'flags-outage',
      role: 'commands',
    });
    try {
      const offline = createRedisConversationFlagsStore({ redis: down, keys });
      for (const attempt of [
        () => offline.markActive(THREAD),
        () => offline.isActive(THREAD),
        () => offline.takenOverBy(THREAD),
        () => offline.setTakenOver(THREAD, 'U1'),
      ]) {
        await expect(attempt()).rejects.toBeInstanceOf(StateUnavailableError);
      }
    } finally {
      down.disconnect();
    }
  });
});
