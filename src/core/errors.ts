import { describePeriod, type Exhaustion } from './budget/budget.ts';

/**
 * One error hierarchy for Steward. Every error has a stable `code` that handlers and tests
 * switch on, and carries the data a handler needs; messages are for people.
 */
export abstract class StewardError extends Error {
  abstract readonly code: string;

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** A budget limit is used up, so a model call was not made (a run ends with what it has). */
export class BudgetExhaustedError extends StewardError {
  readonly code = 'BUDGET_EXHAUSTED';
  readonly exhaustion: Exhaustion;

  constructor(exhaustion: Exhaustion) {
    super(
      `the ${exhaustion.scope} ${describePeriod(exhaustion.period)} ${exhaustion.unit} budget is used up`,
    );
    this.exhaustion = exhaustion;
  }
}

/** A configuration value (environment or config file) is missing or invalid. */
export class ConfigError extends StewardError {
  readonly code = 'CONFIG_INVALID';
  readonly problems: readonly string[];

  constructor(source: string, problems: readonly string[]) {
    super(`${source} is invalid:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.problems = problems;
  }
}

/** The model service failed in a way that retrying within the run's deadline did not fix. */
export class ModelCallError extends StewardError {
  readonly code = 'MODEL_CALL_FAILED';
  readonly status: number | undefined;
  readonly retryable: boolean;
  readonly attempts: number;

  constructor(
    message: string,
    data: { status?: number | undefined; retryable: boolean; attempts: number; cause?: unknown },
  ) {
    super(message, { cause: data.cause });
    this.status = data.status;
    this.retryable = data.retryable;
    this.attempts = data.attempts;
  }
}

/** A tool ran past its timeout. Retryable: the next attempt may be faster. */
export class ToolTimeoutError extends StewardError {
  readonly code = 'TOOL_TIMEOUT';
  readonly toolName: string;
  readonly timeoutMs: number;

  constructor(toolName: string, timeoutMs: number) {
    super(`${toolName} did not finish within ${timeoutMs} ms`);
    this.toolName = toolName;
    this.timeoutMs = timeoutMs;
  }
}

/**
 * Thrown by a tool's execute() to report a failure with an explicit retry hint. Anything else a
 * tool throws is treated as not retryable, so a side effect is never repeated on a guess.
 */
export class ToolExecutionError extends StewardError {
  readonly code = 'TOOL_FAILED';
  readonly retryable: boolean;

  constructor(message: string, options: { retryable: boolean; cause?: unknown }) {
    super(message, { cause: options.cause });
    this.retryable = options.retryable;
  }
}

/** A tool's circuit breaker is open: it failed repeatedly and is resting. */
export class CircuitOpenError extends StewardError {
  readonly code = 'TOOL_CIRCUIT_OPEN';
  readonly toolName: string;

  constructor(toolName: string) {
    super(`${toolName} is temporarily unavailable after repeated failures; try again shortly`);
    this.toolName = toolName;
  }
}

/** An HTTP tool tried to reach a host outside `http.allowedHosts`. */
export class HostNotAllowedError extends StewardError {
  readonly code = 'HTTP_HOST_NOT_ALLOWED';
  readonly host: string;

  constructor(host: string) {
    super(`${host} is not in http.allowedHosts`);
    this.host = host;
  }
}

/** A button or approval id that does not exist, has expired, or was already decided. */
export class ApprovalNotFoundError extends StewardError {
  readonly code = 'APPROVAL_NOT_FOUND';
  readonly approvalId: string;

  constructor(approvalId: string, reason: string) {
    super(`approval ${approvalId}: ${reason}`);
    this.approvalId = approvalId;
  }
}

/** Wraps an unknown thrown value once, at the edge, so callers always see an Error. */
export function toError(value: unknown): Error {
  if (value instanceof Error) return value;
  return new Error(typeof value === 'string' ? value : JSON.stringify(value));
}

/** A run status change that RUN_TRANSITIONS does not allow; nothing was changed. */
export class IllegalTransitionError extends StewardError {
  readonly code = 'RUN_ILLEGAL_TRANSITION';
  readonly runId: string;
  readonly from: string | null;
  readonly to: string;

  constructor(runId: string, from: string | null, to: string) {
    super(`run ${runId} cannot move from ${from ?? '(missing)'} to ${to}`);
    this.runId = runId;
    this.from = from;
    this.to = to;
  }
}

/** The state store (Redis) cannot be reached; the operation changed nothing and may be retried. */
export class StateUnavailableError extends StewardError {
  readonly code = 'STATE_UNAVAILABLE';

  constructor(operation: string, options?: { cause?: unknown }) {
    super(`the state store is unreachable (${operation})`, options);
  }
}
