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
import {
  ADMIT_SCRIPT,
  RESERVE_SCRIPT,
  SETTLE_AND_RESERVE_SCRIPT,
  SETTLE_SCRIPT,
} from './redis-budget-scripts.ts';
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
const settleAndReserveScript = defineScript(SETTLE_AND_RESERVE_SCRIPT);

const RATE_WINDOW_MS = 60_000;
const MAX_CACHED_SHAPES = 10_000;
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
  // The scripts expand this into scopeKeys of every scope (scope_keys in redis-budget-scripts.ts).
  const limitsStem = keys.budgetLimits('');
  const usageStem = keys.budgetUsage('');
  const keyShape = (scopes: readonly BudgetScope[], now: number): string => {
    let shape = `${limitsStem}\n${usageStem}\n${periodBucket('day', now)}\n${periodBucket('month', now)}`;
    for (const scope of scopes) {
      const key = scopeKey(scope);
      if (key.includes('\n')) throw new Error(`budget scope id has a line break: ${JSON.stringify(key)}`);
      shape += `\n${key}`;
    }
    return shape;
  };
  const spendAndPause = [keys.spend('hourly'), keys.pause('global')];
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
  const limitsArg = (scopes: readonly BudgetScope[]) =>
    [scopes.length, ...scopes.flatMap((scope) => storedDefaults.get(scope.kind) ?? [])].join(',');

  // A run's calls charge the same scopes again and again: their keys and arguments are built once
  // per scope set and day.
  interface CallShape {
    /** The scopes' keys, for the scripts to expand. */
    readonly keyShape: string;
    /** "day expiry,month expiry,scope count,limits…" (see redis-budget-scripts.ts). */
    readonly reserveShape: string;
    /** "day expiry,month expiry,scope count,factor,baseline hours,floor". */
    readonly settleShape: string;
  }
  const shapes = new Map<string, CallShape>();
  // The metered client hands the same scopes array to every call of a run: looked up by identity
  // first, the shape costs no key string per call.
  const byArray = new WeakMap<readonly BudgetScope[], { readonly day: number; readonly shape: CallShape }>();
  const shapeOf = (scopes: readonly BudgetScope[], at: number): CallShape => {
    const dayIndex = Math.floor(at / DAY_MS);
    const known = byArray.get(scopes);
    if (known?.day === dayIndex) return known.shape;
    let cacheKey = periodBucket('day', at);
    for (const scope of scopes) cacheKey += `|${scope.kind}:${scope.id}`;
    let shape = shapes.get(cacheKey);
    if (shape === undefined) {
      const until = expiries(at).join(',');
      shape = {
        keyShape: keyShape(scopes, at),
        reserveShape: `${until},${limitsArg(scopes)}`,
        settleShape: [
          until,
          scopes.length,
          spike.factor,
          spike.baselineHours,
          toMicroUsd(spike.minHourlyUsd),
        ].join(','),
      };
      if (shapes.size >= MAX_CACHED_SHAPES) shapes.clear();
      shapes.set(cacheKey, shape);
    }
    byArray.set(scopes, { day: dayIndex, shape });
    return shape;
  };

  /**
   * Settlements wait for the rest of the current tick: the app sends a run's settlement just before
   * its next reservation (same scopes), and the two then go as one script call. Any other is sent
   * on its own at the end of the tick, and anything that reads usage sends them all first. Redis
   * runs a connection's commands in order, so nothing reads a bucket past a settlement it missed.
   */
  interface HeldSettlement {
    readonly shape: CallShape;
    readonly args: readonly (string | number)[];
    readonly settled: (reply: unknown) => void;
    readonly failed: (error: unknown) => void;
  }
  let held: HeldSettlement[] = [];
  const sendHeld = (): void => {
    const batch = held;
    held = [];
    for (const entry of batch) {
      settleScript
        .run(redis, spendAndPause, [...entry.args, entry.shape.keyShape])
        .then(entry.settled, entry.failed);
    }
  };
  const trippedOf = (reply: unknown, now: number): GlobalPause | null => {
    const parts = asArray(reply);
    return parts[0] === 'tripped' ? { reason: String(parts[1]), at: now, by: 'cost_spike' } : null;
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
        sendHeld();
        const reply = asArray(
          await admitScript.run(
            redis,
            [keys.pause('global'), keys.rate(scopeKey(input.user))],
            [
              input.now,
              RATE_WINDOW_MS,
              input.userMessagesPerMinute,
              input.eventId,
              limitsArg(input.scopes),
              keyShape(input.scopes, input.now),
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
        const args = [amount.tokens, amount.microUsd, shape.reserveShape];
        const index = held.findIndex((entry) => entry.shape === shape);
        const settlement = held[index];
        let reply: unknown[];
        if (settlement === undefined) {
          reply = asArray(await reserveScript.run(redis, [], [...args, shape.keyShape]));
        } else {
          // Every other held settlement goes first, so this reservation sees them all, as before.
          held.splice(index, 1);
          sendHeld();
          const both = settleAndReserveScript.run(redis, spendAndPause, [
            ...settlement.args,
            ...args,
            shape.keyShape,
          ]);
          both.then((value) => settlement.settled(asArray(value)[1]), settlement.failed);
          reply = asArray(asArray(await both)[0]);
        }
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
        const args = [delta.tokens, delta.microUsd, actual.microUsd, now, shape.settleShape];
        const reply = await new Promise<unknown>((settled, failed) => {
          held.push({ shape, args, settled, failed });
          // Scheduled when the app hands the settlement over, which is before the write it rides
          // with is queued: this runs just ahead of that write's auto-pipelined flush.
          if (held.length === 1) setImmediate(sendHeld);
        });
        return { tripped: trippedOf(reply, now) };
      }),

    report: (scopes, now) =>
      wrapUnavailable('budget.report', async () => {
        sendHeld();
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
