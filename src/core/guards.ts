import type { RunLimits } from './limits.ts';
import { totalTokens } from './messages.ts';
import type { RunState } from './run-state.ts';

/** A guard returns data; the loop decides what a trip means for the run. */
export type GuardResult =
  | { readonly tripped: false }
  | { readonly tripped: true; readonly guard: GuardName; readonly reason: string };

export type GuardName =
  | 'deadline'
  | 'iterations'
  | 'tokens'
  | 'repeated_call'
  | 'consecutive_failures'
  /** A side effect started before a crash and its outcome is not known. */
  | 'unknown_outcome'
  /** The answer cited an identifier no tool returned, twice. */
  | 'fabricated_output';

const OK: GuardResult = { tripped: false };

export function checkDeadline(state: RunState, limits: RunLimits, now: number): GuardResult {
  if (now < state.deadlineAt) return OK;
  return {
    tripped: true,
    guard: 'deadline',
    reason: `stopped: the run passed its deadline of ${formatDuration(limits.timeoutMs)}`,
  };
}

export function checkIterations(state: RunState, limits: RunLimits): GuardResult {
  if (state.iterations < limits.maxIterations) return OK;
  return {
    tripped: true,
    guard: 'iterations',
    reason: `stopped: ${state.iterations} model round trips without a final answer (limit ${limits.maxIterations})`,
  };
}

export function checkTokens(state: RunState, limits: RunLimits): GuardResult {
  const used = totalTokens(state.usage);
  if (used < limits.maxTokens) return OK;
  return {
    tripped: true,
    guard: 'tokens',
    reason: `stopped: the run used ${used} tokens (limit ${limits.maxTokens})`,
  };
}

/** `count` includes the call being proposed: the Nth identical call trips at N = maxRepeatedCalls. */
export function checkRepetition(toolName: string, count: number, limits: RunLimits): GuardResult {
  if (count < limits.maxRepeatedCalls) return OK;
  return {
    tripped: true,
    guard: 'repeated_call',
    reason: `stopped: the same call to ${toolName} was made ${count} times`,
  };
}

export function checkConsecutiveFailures(state: RunState, limits: RunLimits): GuardResult {
  if (state.consecutiveFailures < limits.maxConsecutiveFailures) return OK;
  return {
    tripped: true,
    guard: 'consecutive_failures',
    reason: `stopped: ${state.consecutiveFailures} tool calls failed in a row`,
  };
}

export function firstTripped(...results: GuardResult[]): GuardResult {
  return results.find((result) => result.tripped) ?? OK;
}

function formatDuration(ms: number): string {
  if (ms < 1_000) return `${ms} ms`;
  if (ms < 120_000) return `${Math.round(ms / 1_000)} s`;
  return `${Math.round(ms / 60_000)} min`;
}
