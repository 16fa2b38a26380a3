import type { Redis } from 'ioredis';
import { z } from 'zod';
import type { AdminAuditLog, AdminChange } from '../core/admin-audit.ts';
import { wrapUnavailable } from './redis-connection.ts';
import { channelKeyOf, type RedisKeys } from './redis-keys.ts';

export interface RedisAdminAuditOptions {
  readonly redis: Redis;
  readonly keys: RedisKeys;
  /** Approximate cap of each workspace's stream (MAXLEN ~). */
  readonly maxLen?: number;
}

const changeSchema = z.object({
  setting: z.string(),
  scope: z.string(),
  old: z.unknown(),
  new: z.unknown(),
  by: z.string(),
  at: z.number(),
  platform: z.string(),
  tenantId: z.string(),
  channelId: z.string(),
});

/** Admin changes as a capped Redis Stream per workspace; no TTL, so the record outlives runs. */
export function createRedisAdminAudit(options: RedisAdminAuditOptions): AdminAuditLog {
  const { redis, keys } = options;
  const maxLen = String(options.maxLen ?? 10_000);
  const keyOf = (tenant: { platform: string; tenantId: string }) =>
    keys.auditAdmin(channelKeyOf({ platform: tenant.platform, tenantId: tenant.tenantId, channelId: '-' }));
  return {
    record: (change) =>
      wrapUnavailable('adminAudit.record', async () => {
        await redis.xadd(keyOf(change), 'MAXLEN', '~', maxLen, '*', 'change', JSON.stringify(change));
      }),
    recent: (tenant, limit) =>
      wrapUnavailable('adminAudit.recent', async () => {
        const entries = await redis.xrevrange(keyOf(tenant), '+', '-', 'COUNT', limit);
        return entries.flatMap(([, fields]): AdminChange[] => {
          const raw = fields[fields.indexOf('change') + 1];
          if (raw === undefined) return [];
          try {
            const parsed = changeSchema.safeParse(JSON.parse(raw));
            return parsed.success ? [parsed.data] : [];
          } catch {
            return [];
          }
        });
      }),
  };
}
