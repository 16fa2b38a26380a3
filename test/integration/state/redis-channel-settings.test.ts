import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type ChannelSettingsStore, DEFAULT_CHANNEL_SETTINGS } from '../../../src/core/stores.ts';
import { createRedisChannelSettingsStore } from '../../../src/state/redis-channel-settings.ts';
import { channelKeyOf, createKeys, type RedisKeys } from '../../../src/state/redis-keys.ts';
import { connectTestRedis, type TestRedis } from '../../support/redis.ts';

const thread = { platform: 'slack', tenantId: 'T1', channelId: 'C1', threadId: '1700.1' };
const otherThread = { ...thread, threadId: '1800.2' };
const otherChannel = { ...thread, channelId: 'C2' };

describe('redis channel settings', () => {
  let test: TestRedis;
  let keys: RedisKeys;
  let store: ChannelSettingsStore;

  beforeEach(async () => {
    test = await connectTestRedis({ name: 'channel-settings' });
    keys = createKeys(test.prefix);
    store = createRedisChannelSettingsStore({ redis: test.redis, keys });
  });
  afterEach(() => test.cleanup());

  it('gives the defaults for a channel nobody configured', async () => {
    expect(await store.get(thread)).toEqual(DEFAULT_CHANNEL_SETTINGS);
  });

  it('merges updates, applies to every thread of the channel, and not to other channels', async () => {
    expect(await store.update(thread, { agent: 'billing' })).toEqual({
      agent: 'billing',
      toolAllowlist: null,
      paused: false,
    });
    const after = await store.update(otherThread, { toolAllowlist: ['lookup_order'], paused: true });
    expect(after).toEqual({ agent: 'billing', toolAllowlist: ['lookup_order'], paused: true });
    expect(await store.get(thread)).toEqual(after);
    expect(await store.get(otherChannel)).toEqual(DEFAULT_CHANNEL_SETTINGS);
  });

  it('clears a field with null and unpauses with false', async () => {
    await store.update(thread, { agent: 'billing', toolAllowlist: [], paused: true });
    expect(await store.get(thread)).toEqual({ agent: 'billing', toolAllowlist: [], paused: true });
    expect(await store.update(thread, { agent: null, toolAllowlist: null, paused: false })).toEqual(
      DEFAULT_CHANNEL_SETTINGS,
    );
    expect(await store.update(thread, {})).toEqual(DEFAULT_CHANNEL_SETTINGS);
  });

  it('keeps settings without expiry', async () => {
    await store.update(thread, { paused: true });
    expect(await test.redis.ttl(keys.channel(channelKeyOf(thread)))).toBe(-1);
  });

  it('treats a damaged allowlist as "no tools", never as "all tools"', async () => {
    await test.redis.hset(keys.channel(channelKeyOf(thread)), 'toolAllowlist', '{not json');
    expect((await store.get(thread)).toolAllowlist).toEqual([]);
  });
});
