import { decideToolCall } from '../policy/tool-policy.ts';
import { hashArguments } from './canonical-json.ts';
import { DELEGATE_PREFIX, delegationInput, delegationRefusal } from './delegation.ts';
import { checkConsecutiveFailures, checkRepetition, type GuardResult } from './guards.ts';
import { isRecord } from './is-record.ts';
import { lazyChild } from './lazy-logger.ts';
import type { ToolCallRequest } from './messages.ts';
import { maskSecretFields } from './redaction.ts';
import type { RunContext } from './run-context.ts';
import { newApprovalId, type PendingApproval, type RunOutcome } from './run-state.ts';
import type { Tool } from './tools/define-tool.ts';
import { renderToolResult } from './tools/render-result.ts';
import { failure, success, type ToolResult } from './tools/tool-result.ts';

/** How one tool call went, as far as the rest of its batch is concerned. */
type CallStep =
  | { readonly kind: 'ok' }
  | { readonly kind: 'failed' }
  | { readonly kind: 'rejected' }
  | { readonly kind: 'interrupt'; readonly approval: PendingApproval }
  | { readonly kind: 'end'; readonly outcome: RunOutcome };

export type BatchResult =
  | { readonly kind: 'continue' }
  | { readonly kind: 'stop'; readonly outcome: RunOutcome };

/**
 * Works through the model's tool calls strictly in order. A call that fails, is denied or is
 * rejected stops the batch, and the model is told which calls were skipped; a call that needs
 * approval pauses the run with the batch position checkpointed, so it resumes exactly there.
 */
export async function runToolBatch(ctx: RunContext): Promise<BatchResult> {
  const batch = ctx.state.batch;
  if (!batch) return { kind: 'continue' };
  // No call runs before the checkpoint that records the model asked for it is stored.
  await ctx.savedCheckpoints();
  while (batch.next < batch.calls.length) {
    const call = batch.calls[batch.next];
    if (!call) break;
    const step = await runCall(ctx, call);
    if (step.kind === 'interrupt')
      return { kind: 'stop', outcome: { status: 'awaiting_approval', approval: step.approval } };
    batch.next += 1;
    if (step.kind === 'end') return { kind: 'stop', outcome: step.outcome };
    if (step.kind === 'failed' || step.kind === 'rejected') {
      skipRest(ctx, call.name, step.kind);
      break;
    }
    // A finished call is never run again, even if this process dies before the batch ends.
    if (batch.next < batch.calls.length) await ctx.checkpoint();
  }
  ctx.state.batch = null;
  // Sent with the next model call's budget reservation; the runner waits for both.
  ctx.checkpointLater();
  const guard = checkConsecutiveFailures(ctx.state, ctx.agent.limits);
  return guard.tripped ? { kind: 'stop', outcome: trip(ctx, guard) } : { kind: 'continue' };
}

async function runCall(ctx: RunContext, call: ToolCallRequest): Promise<CallStep> {
  const tool = ctx.registry.get(call.name);
  if (!tool) {
    const available = ctx.agent.tools.join(', ') || 'none';
    return reject(ctx, call, `unknown tool "${call.name}"; the tools you may call are: ${available}`);
  }
  // A sub-agent already working for this call (after an approval or a crash): carry on with it.
  if (tool.category === 'delegation' && ctx.state.child?.callId === call.id) {
    return delegate(ctx, call, tool, undefined);
  }
  const parsed = parseArguments(tool, call.arguments);
  if (!parsed.ok) return reject(ctx, call, parsed.error);

  const args = parsed.value;
  const argsHash = hashArguments(tool.name, args);
  const pending = ctx.state.pendingApproval;
  // A resumed call was proposed and counted before the pause; it is not proposed again.
  const resuming = pending !== null && pending.callId === call.id;
  if (!resuming) {
    ctx.audit({ type: 'tool.proposed', tool: tool.name, callId: call.id, args: displayArgs(ctx, args) });
    const count = (ctx.state.callCounts[argsHash] ?? 0) + 1;
    ctx.state.callCounts[argsHash] = count;
    const guard = checkRepetition(tool.name, count, ctx.agent.limits);
    if (guard.tripped) return { kind: 'end', outcome: trip(ctx, guard) };
  }

  const verdict = decideToolCall({
    tool,
    agentTools: ctx.agent.tools,
    channelAllowlist: ctx.channelAllowlist,
    tainted: ctx.state.tainted,
    approvalRequired: handOffApproval(ctx, tool, args),
  });
  ctx.audit({
    type: 'policy.verdict',
    tool: tool.name,
    callId: call.id,
    verdict: verdict.kind,
    reason: verdict.reason,
  });
  if (verdict.kind === 'deny') {
    ctx.state.pendingApproval = null;
    return fail(ctx, call, tool, failure(`denied: ${verdict.reason}`, false));
  }
  if (verdict.kind === 'needs_approval') {
    if (!resuming || !ctx.decision) return interrupt(ctx, call, tool, args, argsHash, verdict.reason);
    const decision = ctx.decision;
    ctx.decision = null;
    ctx.state.pendingApproval = null;
    ctx.audit({
      type: 'approval.decided',
      approvalId: pending.approvalId,
      tool: tool.name,
      decision: decision.decision,
      by: decision.by,
    });
    if (pending.argsHash !== argsHash) {
      return fail(
        ctx,
        call,
        tool,
        failure('the arguments changed after approval was asked for; not run', false),
      );
    }
    if (decision.decision === 'reject') {
      respond(ctx, call, tool, failure(`${decision.by} rejected this call; do not try it again`, false));
      return { kind: 'rejected' };
    }
  } else if (resuming) {
    ctx.state.pendingApproval = null;
  }
  return execute(ctx, call, tool, args);
}

async function execute(ctx: RunContext, call: ToolCallRequest, tool: Tool, args: unknown): Promise<CallStep> {
  if (tool.category === 'delegation') return delegate(ctx, call, tool, args);
  const { state } = ctx;
  ctx.audit({ type: 'tool.started', tool: tool.name, callId: call.id });
  if (!tool.idempotent && tool.risk !== 'read') {
    // Recorded durably before the side effect, so a crash during the call is never answered by
    // running it again.
    state.inFlight = { callId: call.id, tool: tool.name, startedAt: ctx.clock.now() };
    await ctx.checkpoint();
  }
  const execution = await ctx.executor.execute(tool, args, {
    signal: ctx.signal,
    runId: state.runId,
    traceId: state.traceId,
    agent: state.agent,
    requestedBy: state.requestedBy,
    conversation: state.conversation,
    logger: lazyChild(ctx.logger, { tool: tool.name, callId: call.id }),
    idempotencyKey: `${state.runId}:${call.id}`,
    notes: ctx.notes,
  });
  state.inFlight = null;
  const { result } = execution;
  ctx.audit({
    type: 'tool.finished',
    tool: tool.name,
    callId: call.id,
    status: result.status,
    durationMs: execution.durationMs,
    attempts: execution.attempts,
    ...(result.status === 'error' ? { error: ctx.redact(result.error) } : {}),
  });
  if (tool.untrustedOutput && result.status !== 'error') state.tainted = true;
  if (result.status === 'error') return fail(ctx, call, tool, result, true);
  state.consecutiveFailures = 0;
  respond(ctx, call, tool, result, true);
  if (tool.category === 'escalation' && result.status === 'success') {
    return { kind: 'end', outcome: escalationFrom(result.data) };
  }
  return { kind: 'ok' };
}

function interrupt(
  ctx: RunContext,
  call: ToolCallRequest,
  tool: Tool,
  args: unknown,
  argsHash: string,
  reason: string,
): CallStep {
  const now = ctx.clock.now();
  const { state } = ctx;
  const approval: PendingApproval = {
    // Names the top run, whose checkpoint holds the approval while it waits (redis-approval-store).
    approvalId: newApprovalId(state.rootRunId, ctx.newId()),
    // The top run: it is what the queue resumes, whichever sub-agent asked.
    runId: state.rootRunId,
    agent: state.agent,
    toolName: tool.name,
    callId: call.id,
    displayArgs: displayArgs(ctx, args),
    argsHash,
    risk: tool.risk,
    reason,
    requestedBy: state.requestedBy,
    conversation: state.conversation,
    createdAt: now,
    expiresAt: now + ctx.approvalTtlMs,
  };
  state.pendingApproval = approval;
  ctx.audit({
    type: 'approval.requested',
    approvalId: approval.approvalId,
    tool: tool.name,
    callId: call.id,
  });
  return { kind: 'interrupt', approval };
}

/** Arguments the model cannot get right are never executed: it gets an error it can correct. */
function reject(ctx: RunContext, call: ToolCallRequest, reason: string): CallStep {
  ctx.audit({ type: 'tool.arguments_rejected', tool: call.name, callId: call.id, reason });
  ctx.state.consecutiveFailures += 1;
  appendToolMessage(ctx, call, JSON.stringify(failure(reason, true)));
  return { kind: 'failed' };
}

function fail(
  ctx: RunContext,
  call: ToolCallRequest,
  tool: Tool,
  result: ToolResult,
  fromTool = false,
): CallStep {
  ctx.state.consecutiveFailures += 1;
  respond(ctx, call, tool, result, fromTool);
  return { kind: 'failed' };
}

/** `fromTool`: the result is what the tool produced (fenced if untrusted), not Steward's own verdict. */
function respond(
  ctx: RunContext,
  call: ToolCallRequest,
  tool: Tool,
  result: ToolResult,
  fromTool = false,
): void {
  const content = renderToolResult(result, {
    toolName: tool.name,
    untrusted: fromTool && tool.untrustedOutput,
    maxChars: ctx.maxToolOutputChars,
    redact: ctx.redact,
  });
  appendToolMessage(ctx, call, content);
}

function appendToolMessage(ctx: RunContext, call: ToolCallRequest, content: string): void {
  ctx.state.messages.push({ role: 'tool', toolCallId: call.id, content });
}

/** Every call the model asked for gets an answer; the ones after a failure say why they did not run. */
function skipRest(ctx: RunContext, stoppedAt: string, why: 'failed' | 'rejected'): void {
  const batch = ctx.state.batch;
  if (!batch) return;
  const reason = `skipped: not run because the earlier call to ${stoppedAt} ${why === 'failed' ? 'failed' : 'was rejected'}`;
  for (const call of batch.calls.slice(batch.next)) {
    ctx.audit({ type: 'tool.skipped', tool: call.name, callId: call.id, reason });
    appendToolMessage(ctx, call, JSON.stringify(failure(reason, true)));
  }
  batch.next = batch.calls.length;
}

type Parsed = { readonly ok: true; readonly value: unknown } | { readonly ok: false; readonly error: string };

function parseArguments(tool: Tool, raw: string): Parsed {
  let json: unknown;
  try {
    json = raw.trim() === '' ? {} : JSON.parse(raw);
  } catch (error) {
    const detail = error instanceof Error ? error.message : String(error);
    return {
      ok: false,
      error: `arguments for ${tool.name} are not valid JSON (${detail}); send one JSON object`,
    };
  }
  const result = tool.input.safeParse(json);
  if (result.success) return { ok: true, value: result.data };
  const problems = result.error.issues.map((issue) => {
    const path = issue.path.length > 0 ? issue.path.join('.') : '(arguments)';
    return `${path}: ${issue.message}`;
  });
  return { ok: false, error: `arguments for ${tool.name} do not match its schema: ${problems.join('; ')}` };
}

function displayArgs(ctx: RunContext, args: unknown): unknown {
  return JSON.parse(ctx.redact(JSON.stringify(maskSecretFields(args) ?? null)));
}

export function trip(ctx: RunContext, guard: GuardResult & { tripped: true }): RunOutcome {
  ctx.audit({ type: 'guard.tripped', guard: guard.guard, reason: guard.reason });
  return { status: 'escalated', reason: guard.reason, summary: null, guard: guard.guard };
}

function escalationFrom(data: unknown): RunOutcome {
  const record = isRecord(data) ? data : {};
  const reason = typeof record.reason === 'string' ? record.reason : 'the agent asked for a person';
  const summary = typeof record.summary === 'string' ? record.summary : null;
  return { status: 'escalated', reason, summary, guard: null };
}

/**
 * A hand-off to another agent: refused with a reason the parent model reads (depth, cycle, no
 * budget left), or run inside this run. A child that needs a person pauses this run with the
 * child's approval; the decision later resumes the child, then this run.
 */
async function delegate(
  ctx: RunContext,
  call: ToolCallRequest,
  tool: Tool,
  args: unknown,
): Promise<CallStep> {
  const target = tool.name.slice(DELEGATE_PREFIX.length);
  const existing = ctx.state.child?.callId === call.id;
  let task = '';
  let limits = ctx.agent.limits;
  if (!existing) {
    const input = delegationInput.safeParse(args);
    task = input.success
      ? input.data.context
        ? `${input.data.task}\n\nContext: ${input.data.context}`
        : input.data.task
      : '';
    const refusal =
      delegationRefusal(ctx.state.chain, target, ctx.agent.limits.maxDelegationDepth) ??
      (() => {
        const carved = ctx.childLimits(target);
        if (!carved.ok) return carved.reason;
        limits = carved.limits;
        return undefined;
      })();
    if (refusal) {
      ctx.audit({ type: 'delegation.refused', tool: tool.name, callId: call.id, reason: refusal });
      return fail(ctx, call, tool, failure(refusal, false));
    }
  }
  const { outcome } = await ctx.runChild(call, target, task, limits);
  switch (outcome.status) {
    case 'awaiting_approval':
      ctx.state.pendingApproval = outcome.approval;
      return { kind: 'interrupt', approval: outcome.approval };
    case 'completed':
      ctx.state.consecutiveFailures = 0;
      respond(ctx, call, tool, success({ agent: target, answer: outcome.text }));
      return { kind: 'ok' };
    default:
      return fail(ctx, call, tool, failure(`${target} could not finish: ${outcome.reason}`, false));
  }
}

/** The approval reason when the config says a hand-off to this agent needs a person. */
function handOffApproval(ctx: RunContext, tool: Tool, args: unknown): string | undefined {
  if (tool.category !== 'delegation') return undefined;
  const target = tool.name.slice(DELEGATE_PREFIX.length);
  const entry = ctx.agent.delegates?.find((d) => d.agent === target);
  if (!entry?.requiresApproval) return undefined;
  const input = delegationInput.safeParse(args);
  return `${ctx.agent.name} wants ${target} to: ${input.success ? input.data.task.slice(0, 300) : 'take over a task'}`;
}
