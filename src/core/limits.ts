/**
 * Every behaviour-altering default lives here, so a reader can see the fence around a run in one
 * place. Agents override these per agent in the config file (`agents.<name>.limits`).
 */
export interface RunLimits {
  /** Model round trips per run. */
  readonly maxIterations: number;
  /** Prompt + completion tokens per run, as reported by the model service. */
  readonly maxTokens: number;
  /** The Nth call with the same tool and the same arguments trips the guard. */
  readonly maxRepeatedCalls: number;
  /** Consecutive failed tool calls (errors, invalid arguments, denials) before escalating. */
  readonly maxConsecutiveFailures: number;
  /** Wall-clock deadline for the whole run. */
  readonly timeoutMs: number;
  /** How deep agents may hand work to sub-agents (the top agent is depth 0). */
  readonly maxDelegationDepth: number;
  /** Cap on one model reply; also what a call reserves against budgets before it is made. */
  readonly maxCompletionTokens: number;
}

export const DEFAULT_RUN_LIMITS: RunLimits = Object.freeze({
  maxIterations: 25,
  maxTokens: 50_000,
  maxRepeatedCalls: 3,
  maxConsecutiveFailures: 3,
  timeoutMs: 300_000,
  maxDelegationDepth: 3,
  maxCompletionTokens: 4_096,
});

/** Budgets and system-wide breakers (config `budgets` and `breakers` override these). */
export const DEFAULT_BUDGETS = Object.freeze({
  /** Messages one person may send Steward per minute, across channels of a workspace. */
  userMessagesPerMinute: 10,
});

export const DEFAULT_BREAKERS = Object.freeze({
  /** Alert the ops channel when more than this share of recent runs ended escalated or failed… */
  errorRateThreshold: 0.2,
  /** …within this window… */
  errorRateWindowMs: 5 * 60_000,
  /** …once at least this many runs ended in it (a quiet hour's two failures are not an incident). */
  errorRateMinRuns: 10,
  /** Pause new runs everywhere when the last hour's spend is over this multiple of the baseline… */
  costSpikeFactor: 2,
  /** …the average hourly spend over this many trailing hours… */
  costSpikeBaselineHours: 24,
  /** …and over this many dollars (so pennies never pause anything). */
  costSpikeMinHourlyUsd: 1,
});

export const DEFAULT_TOOL_TIMEOUT_MS = 15_000;

/** Retry policy for a tool whose failure says it is retryable (and which is safe to repeat). */
export interface ToolRetryPolicy {
  readonly maxAttempts: number;
  readonly initialDelayMs: number;
  readonly maxDelayMs: number;
}

export const DEFAULT_TOOL_RETRY: ToolRetryPolicy = Object.freeze({
  maxAttempts: 3,
  initialDelayMs: 200,
  maxDelayMs: 2_000,
});

/** A per-tool breaker opens after this many consecutive failures and rests for the cooldown. */
export const DEFAULT_BREAKER = Object.freeze({ failureThreshold: 5, cooldownMs: 30_000 });

/** Tool output is cut to this many characters before the model sees it. */
export const DEFAULT_MAX_TOOL_OUTPUT_CHARS = 16_000;

/** A person's message over this many characters is refused before any model call. */
export const DEFAULT_MAX_INPUT_CHARS = 8_000;

/** Model client: per-call timeout and retries of 429 / 5xx / timeouts within the run's deadline. */
export const DEFAULT_MODEL_CALL = Object.freeze({
  timeoutMs: 60_000,
  maxAttempts: 4,
  initialDelayMs: 500,
  maxDelayMs: 8_000,
});
