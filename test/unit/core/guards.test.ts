import { describe, expect, it } from 'vitest';
import {
  checkConsecutiveFailures,
  checkDeadline,
  checkIterations,
  checkRepetition,
  checkTokens,
  firstTripped,
} from '../../../src/core/guards.ts';
import { DEFAULT_RUN_LIMITS } from '../../../src/core/limits.ts';
import { newRunState, type RunState } from '../../../src/core/run-state.ts';

function state(overrides: Partial<RunState> = {}): RunState {
  const base = newRunState({
    runId: 'r',
    traceId: 't',
    agent: 'a',
    requestedBy: 'u',
    conversation: { platform: 'slack', tenantId: 'T', channelId: 'C', threadId: null },
    startedAt: 0,
    deadlineAt: 300_000,
    messages: [],
  });
  return { ...base, ...overrides };
}

describe('guards', () => {
  const limits = DEFAULT_RUN_LIMITS;

  it('use the documented defaults', () => {
    expect(limits).toMatchObject({
      maxIterations: 25,
      maxTokens: 50_000,
      maxRepeatedCalls: 3,
      maxConsecutiveFailures: 3,
    });
  });

  it('trip exactly at each limit, with a reason a person can read', () => {
    expect(checkIterations(state({ iterations: 24 }), limits).tripped).toBe(false);
    expect(checkIterations(state({ iterations: 25 }), limits)).toMatchObject({
      tripped: true,
      guard: 'iterations',
    });
    expect(
      checkTokens(state({ usage: { promptTokens: 49_000, completionTokens: 999 } }), limits).tripped,
    ).toBe(false);
    expect(
      checkTokens(state({ usage: { promptTokens: 49_000, completionTokens: 1_000 } }), limits),
    ).toMatchObject({
      reason: 'stopped: the run used 50000 tokens (limit 50000)',
    });
    expect(checkRepetition('get_order', 2, limits).tripped).toBe(false);
    expect(checkRepetition('get_order', 3, limits)).toMatchObject({
      reason: 'stopped: the same call to get_order was made 3 times',
    });
    expect(checkConsecutiveFailures(state({ consecutiveFailures: 3 }), limits)).toMatchObject({
      reason: 'stopped: 3 tool calls failed in a row',
    });
    expect(checkDeadline(state(), limits, 299_999).tripped).toBe(false);
    expect(checkDeadline(state(), limits, 300_000)).toMatchObject({
      reason: 'stopped: the run passed its deadline of 5 min',
    });
  });

  it('report the first guard that tripped', () => {
    const result = firstTripped(
      checkIterations(state(), limits),
      checkRepetition('x', 9, limits),
      checkTokens(state(), limits),
    );
    expect(result).toMatchObject({ guard: 'repeated_call' });
    expect(firstTripped(checkIterations(state(), limits)).tripped).toBe(false);
  });
});
