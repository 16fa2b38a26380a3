import { randomUUID } from 'node:crypto';
import type { AgentProfile } from './agent-profile.ts';
import type { AuditEventBody } from './audit-events.ts';
import { describeExhaustion } from './budget/budget.ts';
import type { ConversationRef } from './conversation.ts';
import { carveLimits } from './delegation.ts';
import {
  ApprovalNotFoundError,
  BudgetExhaustedError,
  ModelCallError,
  StateUnavailableError,
  StewardError,
} from './errors.ts';
import { checkDeadline, checkIterations, checkTokens, firstTripped } from './guards.ts';
import { lazyChild } from './lazy-logger.ts';
import type { RunLimits } from './limits.ts';
import { DEFAULT_MAX_TOOL_OUTPUT_CHARS } from './limits.ts';
import { addUsage, type ChatMessage, type ToolCallRequest } from './messages.ts';
import { checkAnswer, toolsForStep, withReminder } from './plan-and-check.ts';
import type { Planner } from './planner.ts';
import { type AuditSink, type Clock, type Logger, type ModelClient, systemClock } from './ports.ts';
import { createRedactor, type Redactor } from './redaction.ts';
import type { ApprovalDecision, RunContext } from './run-context.ts';
import { newRunState, type RunOutcome, type RunState, type TurnResult } from './run-state.ts';
import { runToolBatch, trip } from './step-runner.ts';
import type { NotesStore, RunStore } from './stores.ts';
import type { ToolExecutor } from './tools/tool-executor.ts';
import type { ToolRegistry } from './tools/tool-registry.ts';

export interface AgentRunnerOptions {
  readonly model: ModelClient;
  readonly registry: ToolRegistry;
  readonly executor: ToolExecutor;
  readonly audit: AuditSink;
  readonly logger: Logger;
  readonly agents: ReadonlyMap<string, AgentProfile>;
  readonly approvalTtlMs: number;
  readonly clock?: Clock;
  readonly redact?: Redactor;
  readonly maxToolOutputChars?: number;
  readonly newId?: () => string;
  /** The channel notes tools read and write. */
  readonly notes: NotesStore;
  /** Plans each step for agents configured with a planner (plan–execute–observe). */
  readonly planner?: Planner;
  /** Where checkpoints go (the run store); without it a run lives only in this process. */
  readonly checkpoints?: Pick<RunStore, 'saveCheckpoint'>;
}

export interface StartRunInput {
  readonly agent: string;
  readonly text: string;
  readonly requestedBy: string;
  readonly conversation: ConversationRef;
  /** Earlier turns of this conversation, oldest first, without a system message. */
  readonly history?: readonly ChatMessage[];
  readonly channelAllowlist?: readonly string[] | undefined;
  readonly signal?: AbortSignal;
  readonly runId?: string;
  /** Raises the agent's iteration, token and time limits (a retry after an escalation). */
  readonly limitsScale?: number;
  /** Sees every audit event of this turn as it happens (progress for status messages). */
  readonly onEvent?: (event: AuditEventBody) => void;
}

export interface ResumeRunInput {
  readonly decision: ApprovalDecision;
  readonly channelAllowlist?: readonly string[] | undefined;
  readonly signal?: AbortSignal;
  readonly onEvent?: (event: AuditEventBody) => void;
}

export interface AgentRunner {
  start(input: StartRunInput): Promise<TurnResult>;
  /** Continues a run that was awaiting approval, from its checkpoint. */
  resume(state: RunState, input: ResumeRunInput): Promise<TurnResult>;
  /**
   * Continues a run from its checkpoint after the process driving it died. A call with a side
   * effect that was started but not confirmed is not run again: the run escalates instead.
   */
  continue(state: RunState, input: ContinueRunInput): Promise<TurnResult>;
}

export interface ContinueRunInput {
  readonly channelAllowlist?: readonly string[] | undefined;
  readonly signal?: AbortSignal;
  readonly onEvent?: (event: AuditEventBody) => void;
}

/**
 * The guarded tool loop: ask the model, run its tool calls in order under policy, apply the
 * guards, repeat until it answers, escalates, fails, or needs a person.
 */
export function createAgentRunner(options: AgentRunnerOptions): AgentRunner {
  const clock = options.clock ?? systemClock;
  const newId = options.newId ?? randomUUID;
  const redact = options.redact ?? createRedactor([]);

  const agentNamed = (name: string): AgentProfile => {
    const agent = options.agents.get(name);
    if (!agent) throw new TypeError(`no agent named "${name}" is configured`);
    return agent;
  };

  const contextFor = (
    state: RunState,
    agent: AgentProfile,
    input: {
      channelAllowlist?: readonly string[] | undefined;
      signal?: AbortSignal;
      onEvent?: (event: AuditEventBody) => void;
    },
    decision: ApprovalDecision | null,
    checkpoint?: () => Promise<void>,
  ): RunContext => {
    const logger = lazyChild(options.logger, {
      runId: state.runId,
      traceId: state.traceId,
      agent: agent.name,
    });
    const tree = state.parentRunId ? { parentRunId: state.parentRunId, rootRunId: state.rootRunId } : {};
    let unsaved: Promise<void> | undefined;
    const ctx: RunContext = {
      state,
      agent: scaled(agent, state.limitsScale),
      channelAllowlist: input.channelAllowlist,
      signal: input.signal ?? new AbortController().signal,
      decision,
      registry: options.registry,
      executor: options.executor,
      clock,
      logger,
      redact,
      maxToolOutputChars: options.maxToolOutputChars ?? DEFAULT_MAX_TOOL_OUTPUT_CHARS,
      approvalTtlMs: options.approvalTtlMs,
      newId,
      notes: options.notes,
      // A sub-agent is saved inside the top run's checkpoint, so the whole tree resumes together.
      checkpoint: checkpoint ?? (() => options.checkpoints?.saveCheckpoint(state) ?? Promise.resolve()),
      checkpointLater: () => {
        const saving = Promise.all([unsaved, ctx.checkpoint()]).then(() => undefined);
        // Observed here so a failure is not unhandled; savedCheckpoints() reports it.
        saving.catch(() => undefined);
        unsaved = saving;
      },
      savedCheckpoints: async () => {
        const saving = unsaved;
        unsaved = undefined;
        await saving;
      },
      audit: (event: AuditEventBody) => {
        options.audit.record({
          ...event,
          ...tree,
          runId: state.runId,
          traceId: state.traceId,
          at: clock.now(),
        });
        input.onEvent?.(event);
      },
      childLimits: (target) => carveLimits(state, ctx.agent.limits, agentNamed(target).limits, clock.now()),
      runChild: (call, target, task, limits) => runChild(ctx, input, call, agentNamed(target), task, limits),
    };
    return ctx;
  };

  /** A sub-agent's turn inside the parent's: started fresh, resumed with a decision, or continued. */
  const runChild = async (
    parent: RunContext,
    input: {
      channelAllowlist?: readonly string[] | undefined;
      signal?: AbortSignal;
      onEvent?: (event: AuditEventBody) => void;
    },
    call: ToolCallRequest,
    target: AgentProfile,
    task: string,
    limits: RunLimits,
  ): Promise<TurnResult> => {
    const { state } = parent;
    const existing = state.child?.callId === call.id ? state.child.state : undefined;
    const now = clock.now();
    const childState =
      existing ??
      newRunState({
        runId: `${state.runId}.${call.id}`,
        traceId: state.traceId,
        agent: target.name,
        requestedBy: state.requestedBy,
        conversation: state.conversation,
        startedAt: now,
        deadlineAt: Math.min(state.deadlineAt, now + limits.timeoutMs),
        messages: [
          { role: 'system', content: target.instructions },
          { role: 'user', content: task },
        ],
        rootRunId: state.rootRunId,
        parentRunId: state.runId,
        chain: [...state.chain, target.name],
      });
    state.child = { callId: call.id, state: childState };
    const carved = existing
      ? carveLimits(state, parent.agent.limits, target.limits, now)
      : { ok: true as const, limits };
    const childLimits = carved.ok
      ? carved.limits
      : { ...target.limits, maxIterations: childState.iterations };
    // The decision for a child's approval travels down to the child that asked for it.
    const decision =
      parent.decision && childState.pendingApproval?.approvalId === parent.decision.approvalId
        ? parent.decision
        : null;
    if (decision) {
      parent.decision = null;
      state.pendingApproval = null;
    }
    const childCtx = contextFor(childState, { ...target, limits: childLimits }, input, decision, () =>
      parent.checkpoint(),
    );
    if (!existing) {
      childCtx.audit({
        type: 'run.started',
        agent: target.name,
        requestedBy: state.requestedBy,
        conversation: state.conversation,
      });
    }
    const result = existing && !decision ? await continueFrom(childCtx) : await drive(childCtx);
    if (result.outcome.status === 'awaiting_approval') {
      state.child = { callId: call.id, state: result.state };
    } else {
      state.child = null;
      state.usage = addUsage(state.usage, result.state.usage);
      state.iterations += result.state.iterations;
    }
    return result;
  };

  /** Carries on from a checkpoint: the shared part of `continue` and a resumed sub-agent. */
  const continueFrom = async (ctx: RunContext): Promise<TurnResult> => {
    const { state } = ctx;
    if (state.inFlight) {
      const { tool, callId, startedAt } = state.inFlight;
      const reason = `the outcome of ${tool} is unknown: call ${callId} started at ${new Date(startedAt).toISOString()} and its process stopped before it finished, so it was not run again`;
      return endRun(ctx, trip(ctx, { tripped: true, guard: 'unknown_outcome', reason }));
    }
    if (state.pendingApproval) {
      return {
        outcome: { status: 'awaiting_approval', approval: state.pendingApproval },
        state: structuredClone(state),
      };
    }
    const last = state.messages.at(-1);
    if (!state.batch && !state.child && last?.role === 'assistant' && !last.toolCalls?.length) {
      // The answer was in hand when the process stopped; do not ask the model again.
      return endRun(ctx, { status: 'completed', text: last.content ?? '' });
    }
    return drive(ctx);
  };

  const drive = async (ctx: RunContext): Promise<TurnResult> => {
    const { state, agent } = ctx;
    const end = async (outcome: RunOutcome) => {
      await ctx.savedCheckpoints();
      return endRun(ctx, outcome);
    };

    for (;;) {
      if (ctx.signal.aborted) return end({ status: 'cancelled', reason: 'the run was cancelled' });
      const batch = await runToolBatch(ctx);
      if (batch.kind === 'stop') return end(batch.outcome);

      const guard = firstTripped(
        checkDeadline(state, agent.limits, clock.now()),
        checkIterations(state, agent.limits),
        checkTokens(state, agent.limits),
      );
      if (guard.tripped) return end(trip(ctx, guard));

      const started = clock.now();
      let response: Awaited<ReturnType<ModelClient['complete']>>;
      try {
        const tools = await toolsForStep(ctx, options.planner, visibleTools(ctx));
        response = await options.model.complete(
          {
            model: agent.model,
            messages: withReminder(state.messages, agent),
            tools,
            maxCompletionTokens: agent.limits.maxCompletionTokens,
          },
          {
            signal: ctx.signal,
            deadlineAt: state.deadlineAt,
            charge: { conversation: state.conversation, userId: state.requestedBy },
          },
        );
        // The batch's checkpoint went out with the reservation; it must be stored before going on.
        await ctx.savedCheckpoints();
      } catch (error) {
        if (error instanceof StateUnavailableError) throw error;
        if (ctx.signal.aborted) return end({ status: 'cancelled', reason: 'the run was cancelled' });
        if (error instanceof BudgetExhaustedError) return end(stopForBudget(ctx, error));
        const late = checkDeadline(state, agent.limits, clock.now());
        if (late.tripped) return end(trip(ctx, late));
        const reason = describeModelFailure(error);
        const code = error instanceof StewardError ? error.code : 'UNKNOWN';
        ctx.audit({ type: 'model.failed', error: reason, code });
        ctx.logger.error({ err: error }, 'model call failed');
        return end({ status: 'failed', reason });
      }

      state.iterations += 1;
      state.usage = addUsage(state.usage, response.usage);
      ctx.audit({
        type: 'model.called',
        model: response.model,
        promptTokens: response.usage.promptTokens,
        completionTokens: response.usage.completionTokens,
        latencyMs: clock.now() - started,
        toolCalls: response.toolCalls.length,
      });
      const hasCalls = response.toolCalls.length > 0;
      state.messages.push({
        role: 'assistant',
        content: response.content,
        ...(hasCalls ? { toolCalls: response.toolCalls } : {}),
      });
      if (!hasCalls) {
        const text = response.content ?? '';
        const checked = checkAnswer(ctx, text);
        // An accepted answer is not checkpointed: the run's ending writes follow at once, and a crash
        // in between costs one model call on recovery (the answer was not yet posted, or is posted
        // again as it would be from a checkpoint). A retry or an escalation does go on from here.
        if (checked.kind === 'ok') return end({ status: 'completed', text });
        await ctx.checkpoint();
        if (checked.kind === 'retry') continue;
        return end(trip(ctx, { tripped: true, guard: 'fabricated_output', reason: checked.reason }));
      }

      const overBudget = checkTokens(state, agent.limits);
      if (overBudget.tripped) return end(trip(ctx, overBudget));
      state.batch = { calls: response.toolCalls, next: 0 };
      // Stored with the settlement and the audit events in one round trip; the batch waits for it.
      // A batch of calls that are safe to repeat needs no checkpoint of its own: after a crash the
      // run resumes from the last one and asks the model again, and the calls may run again.
      if (!response.toolCalls.every((call) => isRepeatable(ctx, call.name))) ctx.checkpointLater();
    }
  };

  return {
    async start(input) {
      const agent = agentNamed(input.agent);
      const now = clock.now();
      const state = newRunState({
        runId: input.runId ?? newId(),
        traceId: newId(),
        agent: agent.name,
        requestedBy: input.requestedBy,
        conversation: input.conversation,
        startedAt: now,
        deadlineAt: now + agent.limits.timeoutMs * (input.limitsScale ?? 1),
        limitsScale: input.limitsScale ?? 1,
        messages: [
          { role: 'system', content: agent.instructions },
          ...(input.history ?? []),
          { role: 'user', content: input.text },
        ],
      });
      const ctx = contextFor(state, agent, input, null);
      ctx.audit({
        type: 'run.started',
        agent: agent.name,
        requestedBy: input.requestedBy,
        conversation: input.conversation,
      });
      return drive(ctx);
    },

    async resume(checkpoint, input) {
      const pending = checkpoint.pendingApproval;
      if (!pending || pending.approvalId !== input.decision.approvalId) {
        throw new ApprovalNotFoundError(input.decision.approvalId, 'this run is not waiting for it');
      }
      if (clock.now() >= pending.expiresAt) {
        throw new ApprovalNotFoundError(pending.approvalId, 'it has expired');
      }
      const state = structuredClone(checkpoint);
      return drive(contextFor(state, agentNamed(state.agent), input, input.decision));
    },

    async continue(checkpoint, input) {
      const state = structuredClone(checkpoint);
      return continueFrom(contextFor(state, agentNamed(state.agent), input, null));
    },
  };
}

function scaled(agent: AgentProfile, scale: number): AgentProfile {
  if (scale === 1) return agent;
  const { limits } = agent;
  return {
    ...agent,
    limits: {
      ...limits,
      maxIterations: Math.round(limits.maxIterations * scale),
      maxTokens: Math.round(limits.maxTokens * scale),
      timeoutMs: Math.round(limits.timeoutMs * scale),
    },
  };
}

function endRun(ctx: RunContext, outcome: RunOutcome): TurnResult {
  const { state } = ctx;
  if (outcome.status !== 'awaiting_approval') {
    ctx.audit({
      type: 'run.ended',
      outcome: outcome.status,
      ...(outcome.status === 'completed' ? {} : { reason: outcome.reason }),
      iterations: state.iterations,
      promptTokens: state.usage.promptTokens,
      completionTokens: state.usage.completionTokens,
    });
  }
  // The run's context ends here (its checkpoints were awaited), so nothing changes the state after
  // this: handing it over as is spares a deep copy of the whole conversation at every run's end.
  return { outcome, state };
}

/**
 * A budget ran out mid-run: no further model call, and the person gets what the run has so far
 * (the model's last words and the tools that ran) with the reason it stopped.
 */
function stopForBudget(ctx: RunContext, error: BudgetExhaustedError): RunOutcome {
  const { state } = ctx;
  const why = describeExhaustion(error.exhaustion, state.conversation.platform, ctx.clock.now());
  ctx.audit({ type: 'guard.tripped', guard: 'budget', reason: why });
  const asked = state.messages.findLastIndex((message) => message.role === 'user');
  const since = state.messages.slice(asked + 1);
  const said = since
    .flatMap((message) =>
      message.role === 'assistant' && message.content?.trim() ? [message.content.trim()] : [],
    )
    .at(-1);
  const ran = since.flatMap((message) => (message.role === 'assistant' ? (message.toolCalls ?? []) : []));
  const lines = [`I stopped before finishing. ${why}`];
  if (said) lines.push('', `Where I got to: ${said}`);
  if (ran.length > 0) lines.push('', `Steps done so far: ${ran.map((call) => call.name).join(', ')}.`);
  return { status: 'completed', text: lines.join('\n') };
}

/** A read-only or idempotent tool (not a delegation, whose sub-run must resume where it was). */
function isRepeatable(ctx: RunContext, name: string): boolean {
  const tool = ctx.registry.get(name);
  return tool !== undefined && tool.category !== 'delegation' && (tool.idempotent || tool.risk === 'read');
}

/** The model only sees tools this agent has and this channel allows; policy re-checks anyway. */
function visibleTools(ctx: RunContext) {
  const allowed = ctx.agent.tools.filter(
    (name) => !ctx.channelAllowlist || ctx.channelAllowlist.includes(name),
  );
  return ctx.registry.specsFor(allowed);
}

function describeModelFailure(error: unknown): string {
  if (error instanceof ModelCallError) return `the model service failed: ${error.message}`;
  const message = error instanceof Error ? error.message : String(error);
  return `the model call failed: ${message}`;
}
