import type { Redis } from 'ioredis';
import type { ConversationFlagsStore } from '../core/stores.ts';
import { wrapUnavailable } from './redis-connection.ts';
import type { RedisKeys } from './redis-keys.ts';

export interface RedisConversationFlagsOptions {
  readonly redis: Redis;
  readonly keys: RedisKeys;
  /** How long a conversation stays active after Steward last took part in it. */
  readonly activeTtlSeconds?: number;
  /** How long a take-over lasts unless released, so a forgotten one does not silence Steward forever. */
  readonly takeoverTtlSeconds?: number;
}

const DEFAULT_ACTIVE_TTL_SECONDS = 7 * 24 * 60 * 60;
const DEFAULT_TAKEOVER_TTL_SECONDS = 30 * 24 * 60 * 60;

/** Each flag is one string key per conversation whose expiry is the flag's lifetime. */
export function createRedisConversationFlagsStore(
  options: RedisConversationFlagsOptions,
): ConversationFlagsStore {
  const { redis, keys } = options;
  const activeTtl = options.activeTtlSeconds ?? DEFAULT_ACTIVE_TTL_SECONDS;
  const takeoverTtl = options.takeoverTtlSeconds ?? DEFAULT_TAKEOVER_TTL_SECONDS;

  return {
    markActive: (conversationKey) =>
      wrapUnavailable('conversationFlags.markActive', async () => {
        // SET with EX rewrites the expiry, so every message Steward answers keeps the thread active.
        await redis.set(keys.conversationActive(conversationKey), '1', 'EX', activeTtl);
      }),

    isActive: (conversationKey) =>
      wrapUnavailable(
        'conversationFlags.isActive',
        async () => (await redis.exists(keys.conversationActive(conversationKey))) === 1,
      ),

    takenOverBy: (conversationKey) =>
      wrapUnavailable('conversationFlags.takenOverBy', () => redis.get(keys.takenOver(conversationKey))),

    setTakenOver: (conversationKey, userId) =>
      wrapUnavailable('conversationFlags.setTakenOver', async () => {
        const key = keys.takenOver(conversationKey);
        if (userId === null) await redis.del(key);
        else await redis.set(key, userId, 'EX', takeoverTtl);
      }),
  };
}
