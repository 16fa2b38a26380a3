import type { Redis } from 'ioredis';
import { MICRO_PER_USD } from '../core/budget/budget.ts';
import type {
  BreakerStore,
  CostSpikeSettings,
  ErrorRateSettings,
  GlobalPause,
  SpendSummary,
} from '../core/budget/budget-store.ts';
import { isRecord } from '../core/is-record.ts';
import { DEFAULT_BREAKERS } from '../core/limits.ts';
import { defineScript, wrapUnavailable } from './redis-connection.ts';
import type { RedisKeys } from './redis-keys.ts';

export interface RedisBreakerStoreOptions {
  readonly redis: Redis;
  readonly keys: RedisKeys;
  readonly errorRate?: ErrorRateSettings;
  readonly costSpike?: Pick<CostSpikeSettings, 'baselineHours'>;
}

// Two sorted sets of run ids scored by when they ended: all of them, and the escalated or failed.
// The alert key makes the alert fire once per window however many runs keep failing.
const RECORD_END_SCRIPT = `
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
redis.call('ZADD', KEYS[1], now, ARGV[3])
if ARGV[4] == '1' then redis.call('ZADD', KEYS[2], now, ARGV[3]) end
local total, bad = 0, 0
for i = 1, 2 do
  redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', now - window)
  redis.call('PEXPIRE', KEYS[i], window * 2)
end
total = redis.call('ZCARD', KEYS[1])
bad = redis.call('ZCARD', KEYS[2])
local alert = 0
if total >= tonumber(ARGV[5]) and bad * 1000 > tonumber(ARGV[6]) * total then
  if redis.call('SET', KEYS[3], '1', 'PX', window, 'NX') then alert = 1 end
end
return {total, bad, alert}
`;
const recordEndScript = defineScript(RECORD_END_SCRIPT);

const BAD_ENDINGS = new Set(['escalated', 'failed']);
const HOUR_MS = 3_600_000;

/** The system-wide breakers' state on Redis: the global pause, recent run endings, hourly spend. */
export function createRedisBreakerStore(options: RedisBreakerStoreOptions): BreakerStore {
  const { redis, keys } = options;
  const rate = options.errorRate ?? {
    threshold: DEFAULT_BREAKERS.errorRateThreshold,
    windowMs: DEFAULT_BREAKERS.errorRateWindowMs,
    minRuns: DEFAULT_BREAKERS.errorRateMinRuns,
  };
  const baselineHours = options.costSpike?.baselineHours ?? DEFAULT_BREAKERS.costSpikeBaselineHours;
  const pauseKey = keys.pause('global');

  return {
    globalPause: () =>
      wrapUnavailable('breakers.globalPause', async () => pauseOf(await redis.hgetall(pauseKey))),

    resumeGlobally: (by, now) =>
      wrapUnavailable('breakers.resumeGlobally', async () => {
        const [[error, before] = [null, {}]] =
          (await redis
            .multi()
            .hgetall(pauseKey)
            .hset(pauseKey, 'paused', '0', 'resumedAt', String(now), 'resumedBy', by)
            .exec()) ?? [];
        if (error) throw error;
        return pauseOf(before);
      }),

    recordRunEnd: (runId, status, now) =>
      wrapUnavailable('breakers.recordRunEnd', async () => {
        const reply = await recordEndScript.run(
          redis,
          [keys.runEnds('all'), keys.runEnds('bad'), keys.alert('error-rate')],
          [
            now,
            rate.windowMs,
            runId,
            BAD_ENDINGS.has(status) ? '1' : '0',
            rate.minRuns,
            Math.round(rate.threshold * 1000),
          ],
        );
        const [total = 0, bad = 0, alert = 0] = Array.isArray(reply) ? reply.map(Number) : [];
        return { total, bad, windowMs: rate.windowMs, alert: alert === 1 };
      }),

    errorRate: (now) =>
      wrapUnavailable('breakers.errorRate', async () => {
        const since = now - rate.windowMs;
        const replies =
          (await redis
            .pipeline()
            .zcount(keys.runEnds('all'), `(${since}`, '+inf')
            .zcount(keys.runEnds('bad'), `(${since}`, '+inf')
            .exec()) ?? [];
        const [total = 0, bad = 0] = replies.map(([error, value]) => {
          if (error) throw error;
          return Number(value);
        });
        return { total, bad, windowMs: rate.windowMs };
      }),

    spend: (now) =>
      wrapUnavailable('breakers.spend', async (): Promise<SpendSummary> => {
        const hour = Math.floor(now / HOUR_MS);
        const fields = ['since', String(hour), String(hour - 1)];
        for (let h = hour - 1 - baselineHours; h <= hour - 2; h += 1) fields.push(String(h));
        const values = (await redis.hmget(keys.spend('hourly'), ...fields)).map((value) =>
          Number(value ?? 0),
        );
        const [since = 0, current = 0, previous = 0, ...history] = values;
        const gone = (now % HOUR_MS) / HOUR_MS;
        const lastHour = current + previous * (1 - gone);
        const first = Math.max(hour - 1 - baselineHours, since);
        const counted = history.filter((_, index) => hour - 1 - baselineHours + index >= first);
        const baseline =
          since === 0 || hour - 2 < first
            ? null
            : counted.reduce((sum, value) => sum + value, 0) / counted.length;
        return {
          lastHourUsd: lastHour / MICRO_PER_USD,
          baselineUsd: baseline === null ? null : baseline / MICRO_PER_USD,
        };
      }),
  };
}

function pauseOf(hash: unknown): GlobalPause | null {
  if (!isRecord(hash)) return null;
  const fields = hash;
  if (fields.paused !== '1') return null;
  return {
    reason: typeof fields.reason === 'string' ? fields.reason : '',
    at: Number(fields.at ?? 0),
    by: typeof fields.by === 'string' ? fields.by : '',
  };
}
