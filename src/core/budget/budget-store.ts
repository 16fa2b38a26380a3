import type { Amount, BudgetScope, Exhaustion, LimitKey, ScopeLimits } from './budget.ts';

/** A reserved amount, settled against the same period buckets it was taken from. */
export interface Reservation {
  readonly scopes: readonly BudgetScope[];
  readonly amount: Amount;
  /** When the reservation was taken: settling uses this moment's day and month. */
  readonly at: number;
}

export type ReserveResult =
  | { readonly ok: true; readonly reservation: Reservation }
  | { readonly ok: false; readonly exhaustion: Exhaustion };

/** New runs are refused everywhere until an admin resumes (a cost spike, or an admin's choice). */
export interface GlobalPause {
  readonly reason: string;
  readonly at: number;
  /** `cost_spike` when the breaker tripped, otherwise the admin who paused. */
  readonly by: string;
}

export type Admission =
  | { readonly status: 'admitted' }
  | { readonly status: 'paused'; readonly pause: GlobalPause }
  | { readonly status: 'rate_limited'; readonly retryAfterMs: number; readonly perMinute: number }
  | { readonly status: 'exhausted'; readonly exhaustion: Exhaustion };

export interface AdmitInput {
  readonly scopes: readonly BudgetScope[];
  /** The sender's scope (the rate limit is per person). */
  readonly user: BudgetScope;
  /** Makes a retried delivery of one message count once against the rate. */
  readonly eventId: string;
  readonly userMessagesPerMinute: number;
  readonly now: number;
}

/** One limit of one scope: what was used this period and the limit in force. */
export interface LimitUsage {
  readonly key: LimitKey;
  /** In the limit's unit: tokens, or dollars. */
  readonly used: number;
  readonly limit: number | null;
  readonly source: 'default' | 'override' | null;
  readonly resetsAt: number;
}

export interface ScopeReport {
  readonly scope: BudgetScope;
  readonly limits: readonly LimitUsage[];
}

/** Limits set per scope (overriding the config defaults) and the usage counted against them. */
export interface BudgetStore {
  /** One atomic check at the front door: global pause, the sender's rate, exhausted limits. */
  admit(input: AdmitInput): Promise<Admission>;
  /**
   * Reserves `amount` against every scope at once, unless one of their limits is already used up.
   * Atomic across processes, so concurrent runs overshoot a limit by at most one reservation.
   */
  reserve(scopes: readonly BudgetScope[], amount: Amount, now: number): Promise<ReserveResult>;
  /** Replaces a reservation with what the call actually used; reports a cost spike it tripped. */
  settle(
    reservation: Reservation,
    actual: Amount,
    now: number,
  ): Promise<{ readonly tripped: GlobalPause | null }>;
  report(scopes: readonly BudgetScope[], now: number): Promise<ScopeReport[]>;
  /** Sets (or with null removes) one override; returns the override it replaced. */
  setLimit(scope: BudgetScope, key: LimitKey, value: number | null): Promise<{ readonly old: number | null }>;
  /** Removes every override of a scope, returning them. */
  clearLimits(scope: BudgetScope): Promise<ScopeLimits>;
}

export interface ErrorRate {
  /** Runs that ended within the window, and those that ended escalated or failed. */
  readonly total: number;
  readonly bad: number;
  readonly windowMs: number;
}

export interface SpendSummary {
  readonly lastHourUsd: number;
  /** Average hourly spend over the trailing baseline window; null while there is no history yet. */
  readonly baselineUsd: number | null;
}

/** The system-wide breakers' state. */
export interface BreakerStore {
  globalPause(): Promise<GlobalPause | null>;
  /** Clears the pause; returns the pause that was lifted, or null when none was set. */
  resumeGlobally(by: string, now: number): Promise<GlobalPause | null>;
  /** Counts a run's end; `alert` is true once per window when the rate crosses the threshold. */
  recordRunEnd(runId: string, status: string, now: number): Promise<ErrorRate & { readonly alert: boolean }>;
  errorRate(now: number): Promise<ErrorRate>;
  spend(now: number): Promise<SpendSummary>;
}

/** The cost-spike breaker: last hour's spend over `factor` × the trailing average hour, and over the floor. */
export interface CostSpikeSettings {
  readonly factor: number;
  readonly baselineHours: number;
  readonly minHourlyUsd: number;
}

/** The error-rate alert: over `threshold` of the runs that ended in the window, once `minRuns` ended. */
export interface ErrorRateSettings {
  readonly threshold: number;
  readonly windowMs: number;
  readonly minRuns: number;
}
