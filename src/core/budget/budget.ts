import { type ConversationRef, conversationKey } from '../conversation.ts';

/**
 * Budgets: limits in tokens and money per channel, workspace (Slack team, Discord guild) and user,
 * per UTC day or month. Money is counted in micro-dollars so Redis can add it atomically as whole
 * numbers; limits are written and shown in dollars.
 */
export const SCOPE_KINDS = ['channel', 'workspace', 'user'] as const;
export type ScopeKind = (typeof SCOPE_KINDS)[number];

export const BUDGET_UNITS = ['tokens', 'usd'] as const;
export type BudgetUnit = (typeof BUDGET_UNITS)[number];

export const BUDGET_PERIODS = ['day', 'month'] as const;
export type BudgetPeriod = (typeof BUDGET_PERIODS)[number];

export const LIMIT_KEYS = ['tokensPerDay', 'tokensPerMonth', 'usdPerDay', 'usdPerMonth'] as const;
export type LimitKey = (typeof LIMIT_KEYS)[number];

/** A scope's limits; a missing key means no limit of that kind. USD amounts are dollars. */
export type ScopeLimits = Partial<Record<LimitKey, number>>;

export type DefaultLimits = Readonly<Record<ScopeKind, ScopeLimits>>;

export const NO_LIMITS: DefaultLimits = Object.freeze({ channel: {}, workspace: {}, user: {} });

export function limitKey(unit: BudgetUnit, period: BudgetPeriod): LimitKey {
  return `${unit}Per${period === 'day' ? 'Day' : 'Month'}`;
}

export function splitLimitKey(key: LimitKey): { unit: BudgetUnit; period: BudgetPeriod } {
  return {
    unit: key.startsWith('usd') ? 'usd' : 'tokens',
    period: key.endsWith('Day') ? 'day' : 'month',
  };
}

/** One budget holder: `id` is stable across processes and is what the store keys on. */
export interface BudgetScope {
  readonly kind: ScopeKind;
  readonly id: string;
}

/** Who pays for a model call: the conversation it serves and the person who asked. */
export interface ChargeTo {
  readonly conversation: ConversationRef;
  readonly userId: string;
}

/** The channel, its workspace and the person, in that order (the order reports are shown in). */
export function scopesFor(charge: ChargeTo): BudgetScope[] {
  const { platform, tenantId, channelId } = charge.conversation;
  const channel = { platform, tenantId, channelId, threadId: null };
  return [
    { kind: 'channel', id: conversationKey(channel) },
    { kind: 'workspace', id: `${platform}:${tenantId}` },
    { kind: 'user', id: `${platform}:${tenantId}:${charge.userId}` },
  ];
}

/** Tokens and micro-dollars: what a call is expected to cost, or did. */
export interface Amount {
  readonly tokens: number;
  readonly microUsd: number;
}

export const MICRO_PER_USD = 1_000_000;

export const toMicroUsd = (usd: number): number => Math.round(usd * MICRO_PER_USD);

/** A limit that is used up. `used` and `limit` are in the limit's unit (dollars for usd). */
export interface Exhaustion {
  readonly scope: ScopeKind;
  readonly unit: BudgetUnit;
  readonly period: BudgetPeriod;
  readonly used: number;
  readonly limit: number;
  /** Epoch ms when the period ends and the limit starts over. */
  readonly resetsAt: number;
}

const DAY_MS = 86_400_000;
// Every model call asks for its buckets several times; the day rarely changes between calls.
let cachedDay = Number.NaN;
let cachedIso = '';

/** The bucket a moment falls in: `2026-11-22` for a day, `2026-11` for a month (UTC). */
export function periodBucket(period: BudgetPeriod, now: number): string {
  const day = Math.floor(now / DAY_MS);
  if (day !== cachedDay) {
    cachedDay = day;
    cachedIso = new Date(day * DAY_MS).toISOString();
  }
  return period === 'day' ? cachedIso.slice(0, 10) : cachedIso.slice(0, 7);
}

/** The start of the next period (UTC midnight, or the first of next month). */
export function periodEnd(period: BudgetPeriod, now: number): number {
  const date = new Date(now);
  return period === 'day'
    ? Date.UTC(date.getUTCFullYear(), date.getUTCMonth(), date.getUTCDate() + 1)
    : Date.UTC(date.getUTCFullYear(), date.getUTCMonth() + 1, 1);
}

export function describePeriod(period: BudgetPeriod): string {
  return period === 'day' ? 'daily' : 'monthly';
}

export function formatAmount(unit: BudgetUnit, value: number): string {
  if (unit === 'tokens') return `${Math.round(value).toLocaleString('en-US')} tokens`;
  return `$${value.toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: value < 1 ? 4 : 2 })}`;
}

function owner(scope: ScopeKind, platform: string): string {
  if (scope === 'user') return 'Your';
  if (scope === 'channel') return "This channel's";
  return platform === 'discord' ? "This server's" : "This workspace's";
}

function whenUtc(at: number, now: number): string {
  const iso = new Date(at).toISOString();
  const minutes = Math.max(Math.ceil((at - now) / 60_000), 0);
  const within =
    minutes < 120
      ? `${minutes}m`
      : minutes < 2_880
        ? `${Math.round(minutes / 60)}h`
        : `${Math.round(minutes / 1_440)}d`;
  return `${iso.slice(0, 10)} ${iso.slice(11, 16)} UTC (in ${within})`;
}

/** The command that raises the limit, as an admin would type it. */
export function raiseCommand(exhaustion: Exhaustion): string {
  const scope = exhaustion.scope === 'user' ? 'user @someone' : exhaustion.scope;
  return `/steward budget set ${scope} ${exhaustion.unit} <amount> ${exhaustion.period}`;
}

/** Which limit, how much was used, when it resets and how an admin raises it. */
export function describeExhaustion(exhaustion: Exhaustion, platform: string, now: number): string {
  const { unit } = exhaustion;
  return [
    `${owner(exhaustion.scope, platform)} ${describePeriod(exhaustion.period)} ${unit === 'usd' ? 'spending' : 'token'} budget is used up:`,
    `${formatAmount(unit, exhaustion.used)} of ${formatAmount(unit, exhaustion.limit)}.`,
    `It resets ${whenUtc(exhaustion.resetsAt, now)}.`,
    `An admin can raise it with \`${raiseCommand(exhaustion)}\`.`,
  ].join(' ');
}
