import {
  BrokenCircuitError,
  type CircuitBreakerPolicy,
  ConsecutiveBreaker,
  circuitBreaker,
  ExponentialBackoff,
  handleType,
  handleWhen,
  type RetryPolicy,
  retry,
  TaskCancelledError,
  type TimeoutPolicy,
  TimeoutStrategy,
  timeout,
} from 'cockatiel';
import { CircuitOpenError, ToolExecutionError, ToolTimeoutError } from '../errors.ts';
import { DEFAULT_BREAKER } from '../limits.ts';
import { type Clock, systemClock } from '../ports.ts';
import type { Tool, ToolContext } from './define-tool.ts';
import { failure, type ToolResult } from './tool-result.ts';

export interface ToolExecution {
  readonly result: ToolResult;
  readonly attempts: number;
  readonly durationMs: number;
}

export interface ToolExecutor {
  execute(tool: Tool, input: unknown, ctx: ToolContext): Promise<ToolExecution>;
}

export interface ToolExecutorOptions {
  readonly breaker?: { readonly failureThreshold: number; readonly cooldownMs: number };
  readonly clock?: Clock;
}

/** Carries a retryable error result through cockatiel, which reacts to thrown errors. */
class RetryableFailure extends Error {
  readonly result: ToolResult;
  constructor(result: ToolResult) {
    super(result.status === 'error' ? result.error : 'retryable failure');
    this.result = result;
  }
}

/**
 * Runs one tool call with its timeout, retry policy and circuit breaker (cockatiel). Breakers are
 * per tool and per process: a tool that keeps failing is rested for a cooldown instead of being
 * hammered, and callers get an answer at once while it rests.
 */
export function createToolExecutor(options: ToolExecutorOptions = {}): ToolExecutor {
  const clock = options.clock ?? systemClock;
  const breakerOptions = options.breaker ?? DEFAULT_BREAKER;
  const policies = new Map<
    string,
    { retry: RetryPolicy; breaker: CircuitBreakerPolicy; deadline: TimeoutPolicy }
  >();

  const policiesFor = (tool: Tool) => {
    let entry = policies.get(tool.name);
    if (!entry) {
      // Repeating a call is only safe when it cannot do a side effect twice.
      const safeToRepeat = tool.idempotent || tool.risk === 'read';
      entry = {
        retry: retry(
          handleWhen((error) => safeToRepeat && error instanceof RetryableFailure),
          {
            maxAttempts: Math.max(0, tool.retry.maxAttempts - 1),
            backoff: new ExponentialBackoff({
              initialDelay: tool.retry.initialDelayMs,
              maxDelay: tool.retry.maxDelayMs,
            }),
          },
        ),
        breaker: circuitBreaker(handleType(RetryableFailure), {
          halfOpenAfter: breakerOptions.cooldownMs,
          breaker: new ConsecutiveBreaker(breakerOptions.failureThreshold),
        }),
        // The signal is aborted when the time is up, not after every successful call: a call is
        // over when it returns, and an abort per call costs an exception object each time.
        deadline: timeout(tool.timeoutMs, { strategy: TimeoutStrategy.Aggressive, abortOnReturn: false }),
      };
      policies.set(tool.name, entry);
    }
    return entry;
  };

  return {
    async execute(tool, input, ctx) {
      const { retry: retryPolicy, breaker, deadline } = policiesFor(tool);
      const started = clock.now();
      let attempts = 0;

      const attempt = async (): Promise<ToolResult> => {
        attempts += 1;
        let result: ToolResult;
        try {
          result = await deadline.execute(
            (_context, signal) => tool.execute(input, { ...ctx, signal }),
            ctx.signal,
          );
        } catch (error) {
          result = errorToResult(tool, error, ctx.signal);
        }
        if (result.status === 'error' && result.retryable) throw new RetryableFailure(result);
        return result;
      };

      let result: ToolResult;
      try {
        result = await retryPolicy.execute(() => breaker.execute(attempt), ctx.signal);
      } catch (error) {
        if (error instanceof RetryableFailure) result = error.result;
        else if (error instanceof BrokenCircuitError)
          result = failure(new CircuitOpenError(tool.name).message, true);
        else result = errorToResult(tool, error, ctx.signal);
      }
      return { result, attempts, durationMs: clock.now() - started };
    },
  };
}

function errorToResult(tool: Tool, error: unknown, runSignal: AbortSignal): ToolResult {
  if (runSignal.aborted) return failure('the run was cancelled', false);
  if (error instanceof TaskCancelledError) {
    const message = new ToolTimeoutError(tool.name, tool.timeoutMs).message;
    if (tool.idempotent || tool.risk === 'read') return failure(message, true);
    // A write that timed out may have happened; the model must not simply fire it again.
    return failure(`${message}; it may or may not have taken effect, so check before repeating it`, false);
  }
  if (error instanceof ToolExecutionError) return failure(error.message, error.retryable);
  const message = error instanceof Error ? error.message : String(error);
  return failure(`${tool.name} failed: ${message}`, false);
}
