import type { Redis } from 'ioredis';
import type { MessageRefStore } from '../core/stores.ts';
import { wrapUnavailable } from './redis-connection.ts';
import type { RedisKeys } from './redis-keys.ts';

/** Platform message references (key kind `message-ref`, TTL set by the caller per kind). */
export function createRedisMessageRefs(options: { redis: Redis; keys: RedisKeys }): MessageRefStore {
  const { redis, keys } = options;
  const key = (id: string) => keys.messageRef(id);
  return {
    put: (id, value, ttlSeconds) =>
      wrapUnavailable('message-ref put', async () => {
        await redis.set(key(id), value, 'EX', ttlSeconds);
      }),
    get: (id) => wrapUnavailable('message-ref get', async () => (await redis.get(key(id))) ?? undefined),
    delete: (id) =>
      wrapUnavailable('message-ref delete', async () => {
        await redis.del(key(id));
      }),
  };
}
