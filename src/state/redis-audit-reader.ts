import type { Redis } from 'ioredis';
import { formatTimeline, readRunAudit } from './redis-audit-sink.ts';
import type { RedisKeys } from './redis-keys.ts';

export interface RedisAuditReaderOptions {
  readonly redis: Redis;
  readonly keys: RedisKeys;
}

/** Reads one run's audit trail as people read it; what `/steward audit` shows. */
export interface RedisAuditReader {
  /** One line per event, oldest first; empty when the run has no events (or they expired). */
  timeline(runId: string): Promise<string[]>;
}

export function createRedisAuditReader(options: RedisAuditReaderOptions): RedisAuditReader {
  const { redis, keys } = options;
  return {
    timeline: async (runId) => formatTimeline(await readRunAudit(redis, keys, runId)),
  };
}
