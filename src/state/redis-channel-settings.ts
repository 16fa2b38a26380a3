import type { Redis } from 'ioredis';
import { z } from 'zod';
import { isStringRecord } from '../core/is-record.ts';
import { type ChannelSettings, type ChannelSettingsStore, DEFAULT_CHANNEL_SETTINGS } from '../core/stores.ts';
import { wrapUnavailable } from './redis-connection.ts';
import { channelKeyOf, type RedisKeys } from './redis-keys.ts';

export interface RedisChannelSettingsOptions {
  readonly redis: Redis;
  readonly keys: RedisKeys;
}

const toolAllowlistSchema = z.array(z.string());

/**
 * Settings as one hash per channel (fields agent, toolAllowlist as JSON, paused '1'/'0'). A missing
 * field means the default, so clearing a field is HDEL. No TTL: admin settings persist.
 */
export function createRedisChannelSettingsStore(options: RedisChannelSettingsOptions): ChannelSettingsStore {
  const { redis, keys } = options;
  return {
    get: (channel) =>
      wrapUnavailable('channelSettings.get', async () =>
        fromHash(await redis.hgetall(keys.channel(channelKeyOf(channel)))),
      ),

    update: (channel, patch) =>
      wrapUnavailable('channelSettings.update', async () => {
        const key = keys.channel(channelKeyOf(channel));
        const set: string[] = [];
        const clear: string[] = [];
        if (patch.agent !== undefined) {
          if (patch.agent === null) clear.push('agent');
          else set.push('agent', patch.agent);
        }
        if (patch.toolAllowlist !== undefined) {
          if (patch.toolAllowlist === null) clear.push('toolAllowlist');
          else set.push('toolAllowlist', JSON.stringify(patch.toolAllowlist));
        }
        if (patch.paused !== undefined) set.push('paused', patch.paused ? '1' : '0');
        // One transaction, so the settings returned are exactly the ones this update produced.
        const transaction = redis.multi();
        if (set.length > 0) transaction.hset(key, ...set);
        if (clear.length > 0) transaction.hdel(key, ...clear);
        transaction.hgetall(key);
        const replies = (await transaction.exec()) ?? [];
        const last = replies.at(-1);
        if (!last) throw new Error('channelSettings.update: the transaction was discarded');
        const [error, hash] = last;
        if (error) throw error;
        return fromHash(isStringRecord(hash) ? hash : {});
      }),
  };
}

function fromHash(hash: Record<string, string>): ChannelSettings {
  return {
    agent: hash.agent ?? DEFAULT_CHANNEL_SETTINGS.agent,
    toolAllowlist: parseAllowlist(hash.toolAllowlist),
    paused: hash.paused === undefined ? DEFAULT_CHANNEL_SETTINGS.paused : hash.paused === '1',
  };
}

function parseAllowlist(raw: string | undefined): readonly string[] | null {
  if (raw === undefined) return DEFAULT_CHANNEL_SETTINGS.toolAllowlist;
  // A damaged value must not silently widen access to every tool: allow none until an admin fixes it.
  try {
    const parsed = toolAllowlistSchema.safeParse(JSON.parse(raw));
    return parsed.success ? parsed.data : [];
  } catch {
    return [];
  }
}
