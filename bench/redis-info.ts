/**
 * Redis for the benchmarks, and Redis's own figures (INFO) about it. Memory and command counts are
 * only meaningful on a server nothing else uses, so those benchmarks always start a throwaway
 * redis-server; the others prefer one too (a shared server's other clients add noise) and fall back
 * to REDIS_URL under a key prefix of their own when no redis-server binary is on PATH.
 */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { DEFAULT_REDIS_URL, deleteKeysWithPrefix, findOrStartRedis } from '../test/support/redis.ts';

/** A port nothing listens on: findOrStartRedis then always starts a throwaway server. */
const NOWHERE = 'redis://127.0.0.1:1';

export interface BenchRedis {
  readonly url: string;
  /** Steward's STEWARD_REDIS_PREFIX for this benchmark: unique, so a shared server stays clean. */
  readonly prefix: string;
  readonly redisVersion: string;
  /** A connection for INFO and inspection; closed by stop(). */
  readonly admin: Redis;
  /** Deletes this benchmark's keys (shared server) or stops the throwaway server. Idempotent. */
  stop(): Promise<void>;
}

export async function startBenchRedis(options: { isolated: boolean }): Promise<BenchRedis> {
  const found = await findOrStartRedis({ url: NOWHERE }).catch(async (error: unknown) => {
    if (options.isolated) throw error;
    return findOrStartRedis({ url: process.env.REDIS_URL?.trim() || DEFAULT_REDIS_URL });
  });
  const prefix = `bench:${randomBytes(4).toString('hex')}:`;
  const admin = new Redis(found.url, { maxRetriesPerRequest: 2 });
  const redisVersion = /^redis_version:(\S+)/m.exec(await admin.info('server'))?.[1] ?? 'unknown';
  let stopped: Promise<void> | undefined;
  return {
    url: found.url,
    prefix,
    redisVersion,
    admin,
    stop() {
      stopped ??= (async () => {
        if (!found.started) await deleteKeysWithPrefix(admin, prefix).catch(() => 0);
        await admin.quit().catch(() => admin.disconnect());
        await found.stop();
      })();
      return stopped;
    },
  };
}

/** One numeric field of INFO, e.g. infoNumber(redis, 'memory', 'used_memory'). */
export async function infoNumber(redis: Redis, section: string, field: string): Promise<number> {
  const info = await redis.info(section);
  const match = new RegExp(`^${field}:(\\d+)`, 'm').exec(info);
  if (!match) throw new Error(`INFO ${section} has no ${field}`);
  return Number(match[1]);
}

/** Calls per command from INFO commandstats. */
export async function commandstats(redis: Redis): Promise<Map<string, number>> {
  const info = await redis.info('commandstats');
  const stats = new Map<string, number>();
  for (const match of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm))
    stats.set(match[1] ?? '', Number(match[2]));
  return stats;
}
