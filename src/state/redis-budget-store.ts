import type { Redis } from 'ioredis';
import {
  type Amount,
  type BudgetPeriod,
  type BudgetScope,
  type DefaultLimits,
  type Exhaustion,
  LIMIT_KEYS,
  type LimitKey,
  MICRO_PER_USD,
  periodBucket,
  periodEnd,
  type ScopeLimits,
  splitLimitKey,
  toMicroUsd,
} from '../core/budget/budget.ts';
import type {
  Admission,
  BudgetStore,
  CostSpikeSettings,
  GlobalPause,
  ScopeReport,
} from '../core/budget/budget-store.ts';
import { isStringRecord } from '../core/is-record.ts';
import { DEFAULT_BREAKERS } from '../core/limits.ts';
import { ADMIT_SCRIPT, RESERVE_SCRIPT, SETTLE_SCRIPT } from './redis-budget-scripts.ts';
import { defineScript, wrapUnavailable } from './redis-connection.ts';
import type { RedisKeys } from './redis-keys.ts';

export interface RedisBudgetStoreOptions {
  readonly redis: Redis;
  readonly keys: RedisKeys;
  /** Limits from the config, per scope kind, used where a scope has no override. */
  readonly defaults: DefaultLimits;
  readonly costSpike?: CostSpikeSettings;
}

const admitScript = defineScript(ADMIT_SCRIPT);
const reserveScript = defineScript(RESERVE_SCRIPT);
const settleScript = defineScript(SETTLE_SCRIPT);

const RATE_WINDOW_MS = 60_000;
const MAX_CACHED_SHAPES = 10_000;
const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;
// Usage outlives its period a little, so yesterday's figures can still be looked at.
const KEEP_AFTER_PERIOD_MS: Readonly<Record<BudgetPeriod, number>> = { day: 2 * DAY_MS, month: 7 * DAY_MS };

/**
 * Budgets on Redis: usage per scope and period in small hashes, limits checked and reserved in one
 * Lua step across every scope of a call (so two processes can never both take the last of a limit
 * unseen), and the hourly spend the cost-spike breaker compares against its baseline.
 */
export function createRedisBudgetStore(options: RedisBudgetStoreOptions): BudgetStore {
  const { redis, keys, defaults } = options;
  const spike = options.costSpike ?? {
    factor: DEFAULT_BREAKERS.costSpikeFactor,
    baselineHours: DEFAULT_BREAKERS.costSpikeBaselineHours,
    minHourlyUsd: DEFAULT_BREAKERS.costSpikeMinHourlyUsd,
  };

  const scopeKey = (scope: BudgetScope) => `${scope.kind}:${scope.id}`;
  const usageKey = (scope: BudgetScope, period: BudgetPeriod, now: number) =>
    keys.budgetUsage(`${scopeKey(scope)}:${periodBucket(period, now)}`);
  const scopeKeys = (scope: BudgetScope, now: number) => [
    keys.budgetLimits(scopeKey(scope)),
    usageKey(scope, 'day', now),
    usageKey(scope, 'month', now),
  ];
  const expiries = (now: number) => [
    periodEnd('day', now) + KEEP_AFTER_PERIOD_MS.day,
    periodEnd('month', now) + KEEP_AFTER_PERIOD_MS.month,
  ];
  // Limits travel in stored units (micro-dollars for usd), -1 for none; computed once per kind.
  const storedDefaults = new Map(
    (['channel', 'workspace', 'user'] as const).map((kind) => [
      kind,
      LIMIT_KEYS.map((key) => toStored(key, defaults[kind][key]) ?? -1),
    ]),
  );
  const defaultArgs = (scopes: readonly BudgetScope[]) =>
    scopes.flatMap((scope) => storedDefaults.get(scope.kind) ?? []);

  // A run's calls charge the same scopes again and again: their keys and arguments are built once
  // per scope set and day.
  interface CallShape {
    readonly reserveKeys: string[];
    readonly settleKeys: string[];
    readonly expiries: number[];
    readonly limits: number[];
  }
  const shapes = new Map<string, CallShape>();
  const shapeOf = (scopes: readonly BudgetScope[], at: number): CallShape => {
    const day = periodBucket('day', at);
    let cacheKey = day;
    for (const scope of scopes) cacheKey += `|${scope.kind}:${scope.id}`;
    let shape = shapes.get(cacheKey);
    if (shape === undefined) {
      shape = {
        reserveKeys: scopes.flatMap((scope) => scopeKeys(scope, at)),
        settleKeys: scopes.flatMap((scope) => [usageKey(scope, 'day', at), usageKey(scope, 'month', at)]),
        expiries: expiries(at),
        limits: defaultArgs(scopes),
      };
      if (shapes.size >= MAX_CACHED_SHAPES) shapes.clear();
      shapes.set(cacheKey, shape);
    }
    return shape;
  };

  const exhaustionOf = (scopes: readonly BudgetScope[], reply: unknown[], now: number): Exhaustion => {
    const scope = scopes[Number(reply[1])];
    const key = LIMIT_KEYS[Number(reply[2]) - 1];
    if (!scope || !key) throw new Error(`budget script named an unknown limit: ${JSON.stringify(reply)}`);
    const { unit, period } = splitLimitKey(key);
    return {
      scope: scope.kind,
      unit,
      period,
      used: fromStored(key, Number(reply[3])),
      limit: fromStored(key, Number(reply[4])),
      resetsAt: periodEnd(period, now),
    };
  };

  return {
    admit: (input) =>
      wrapUnavailable('budget.admit', async (): Promise<Admission> => {
        const reply = asArray(
          await admitScript.run(
            redis,
            [
              keys.pause('global'),
              keys.rate(scopeKey(input.user)),
              ...input.scopes.flatMap((s) => scopeKeys(s, input.now)),
            ],
            [
              input.now,
              RATE_WINDOW_MS,
              input.userMessagesPerMinute,
              input.eventId,
              input.scopes.length,
              ...defaultArgs(input.scopes),
            ],
          ),
        );
        switch (reply[0]) {
          case 'paused':
            return {
              status: 'paused',
              pause: { reason: String(reply[1]), at: Number(reply[2]), by: String(reply[3]) },
            };
          case 'exhausted':
            return { status: 'exhausted', exhaustion: exhaustionOf(input.scopes, reply, input.now) };
          case 'rate_limited':
            return {
              status: 'rate_limited',
              retryAfterMs: Math.max(Number(reply[1]), 0),
              perMinute: input.userMessagesPerMinute,
            };
          default:
            return { status: 'admitted' };
        }
      }),

    reserve: (scopes, amount, now) =>
      wrapUnavailable('budget.reserve', async () => {
        const shape = shapeOf(scopes, now);
        const reply = asArray(
          await reserveScript.run(redis, shape.reserveKeys, [
            amount.tokens,
            amount.microUsd,
            ...shape.expiries,
            scopes.length,
            ...shape.limits,
          ]),
        );
        if (reply[0] === 'exhausted')
          return { ok: false as const, exhaustion: exhaustionOf(scopes, reply, now) };
        return { ok: true as const, reservation: { scopes, amount, at: now } };
      }),

    settle: (reservation, actual, now) =>
      wrapUnavailable('budget.settle', async () => {
        const { at, scopes } = reservation;
        const delta: Amount = {
          tokens: actual.tokens - reservation.amount.tokens,
          microUsd: actual.microUsd - reservation.amount.microUsd,
        };
        const shape = shapeOf(scopes, at);
        const reply = asArray(
          await settleScript.run(
            redis,
            [...shape.settleKeys, keys.spend('hourly'), keys.pause('global')],
            [
              delta.tokens,
              delta.microUsd,
              actual.microUsd,
              ...shape.expiries,
              scopes.length,
              Math.floor(now / HOUR_MS),
              Math.floor(((now % HOUR_MS) / HOUR_MS) * 1000),
              spike.factor,
              spike.baselineHours,
              toMicroUsd(spike.minHourlyUsd),
              now,
            ],
          ),
        );
        const tripped: GlobalPause | null =
          reply[0] === 'tripped' ? { reason: String(reply[1]), at: now, by: 'cost_spike' } : null;
        return { tripped };
      }),

    report: (scopes, now) =>
      wrapUnavailable('budget.report', async () => {
        // Plain commands, not an explicit pipeline: auto-pipelined, they leave after anything this
        // connection queued before them (a settlement just flushed), so the report includes it.
        const replies = await Promise.all(
          scopes.flatMap((scope) => scopeKeys(scope, now).map((key) => redis.hgetall(key))),
        );
        const hashes = replies.map((value) => (isStringRecord(value) ? value : {}));
        return scopes.map((scope, index): ScopeReport => {
          const [overrides = {}, day = {}, month = {}] = hashes.slice(index * 3, index * 3 + 3);
          return {
            scope,
            limits: LIMIT_KEYS.map((key) => {
              const { unit, period } = splitLimitKey(key);
              const usage = period === 'day' ? day : month;
              const override = overrides[key];
              const fallback = defaults[scope.kind][key];
              return {
                key,
                used: fromStored(key, Number(usage[unit] ?? 0)),
                limit: override !== undefined ? fromStored(key, Number(override)) : (fallback ?? null),
                source: override !== undefined ? 'override' : fallback !== undefined ? 'default' : null,
                resetsAt: periodEnd(period, now),
              };
            }),
          };
        });
      }),

    setLimit: (scope, key, value) =>
      wrapUnavailable('budget.setLimit', async () => {
        const hash = keys.budgetLimits(scopeKey(scope));
        const transaction = redis.multi().hget(hash, key);
        if (value === null) transaction.hdel(hash, key);
        else transaction.hset(hash, key, String(toStored(key, value)));
        const [[error, old] = [null, null]] = (await transaction.exec()) ?? [];
        if (error) throw error;
        return { old: typeof old === 'string' ? fromStored(key, Number(old)) : null };
      }),

    clearLimits: (scope) =>
      wrapUnavailable('budget.clearLimits', async () => {
        const hash = keys.budgetLimits(scopeKey(scope));
        const [[error, old] = [null, {}]] = (await redis.multi().hgetall(hash).del(hash).exec()) ?? [];
        if (error) throw error;
        return fromOverrides(isStringRecord(old) ? old : {});
      }),
  };
}

function toStored(key: LimitKey, value: number | undefined): number | undefined {
  if (value === undefined) return undefined;
  return key.startsWith('usd') ? toMicroUsd(value) : Math.round(value);
}

function fromStored(key: LimitKey, value: number): number {
  return key.startsWith('usd') ? value / MICRO_PER_USD : value;
}

function fromOverrides(hash: Record<string, string>): ScopeLimits {
  const limits: ScopeLimits = {};
  for (const key of LIMIT_KEYS) {
    const raw = hash[key];
    if (raw !== undefined && Number.isFinite(Number(raw))) limits[key] = fromStored(key, Number(raw));
  }
  return limits;
}

function asArray(reply: unknown): unknown[] {
  if (!Array.isArray(reply)) throw new Error(`unexpected budget script reply: ${String(reply)}`);
  return reply;
}
