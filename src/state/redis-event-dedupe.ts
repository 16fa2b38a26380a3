import type { Redis } from 'ioredis';
import type { EventDedupe } from '../core/stores.ts';
import { wrapUnavailable } from './redis-connection.ts';
import type { RedisKeys } from './redis-keys.ts';

export interface RedisEventDedupeOptions {
  readonly redis: Redis;
  readonly keys: RedisKeys;
  /** How long an event id is remembered; platforms retry within minutes, so days are plenty. */
  readonly ttlSeconds?: number;
}

const DEFAULT_TTL_SECONDS = 2 * 24 * 60 * 60;

/** Event ids claimed with SET NX EX: one winner across every process sharing the Redis. */
export function createRedisEventDedupe(options: RedisEventDedupeOptions): EventDedupe {
  const { redis, keys } = options;
  const ttl = options.ttlSeconds ?? DEFAULT_TTL_SECONDS;
  return {
    claim: (eventId) =>
      wrapUnavailable('dedupe.claim', async () => {
        const reply = await redis.set(keys.dedupe(eventId), '1', 'EX', ttl, 'NX');
        return reply === 'OK';
      }),
  };
}
