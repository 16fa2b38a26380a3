import type { AgentProfile } from './agent-profile.ts';
import { addUsage, type ChatMessage } from './messages.ts';
import { describeFabrications, fabricatedIdentifiers } from './output-checks.ts';
import { categoriesFor, isSimpleRequest, type Planner } from './planner.ts';
import type { ToolSpec } from './ports.ts';
import type { RunContext } from './run-context.ts';

/**
 * Plan–execute–observe: before an execution step, a cheaper model plans it, and the step sees only
 * the tools whose category fits the plan. Runs whose request looks simple (see isSimpleRequest)
 * skip planning altogether; so do agents without a planner.
 */
export async function toolsForStep(
  ctx: RunContext,
  planner: Planner | undefined,
  visible: ToolSpec[],
): Promise<ToolSpec[]> {
  const { state, agent } = ctx;
  if (!planner || !agent.planner || visible.length === 0) return visible;
  if (state.skipPlanner === undefined) {
    const asked = state.messages.findLast((message) => message.role === 'user');
    state.skipPlanner = asked ? isSimpleRequest(asked.content) : false;
  }
  if (state.skipPlanner) return visible;
  const tools = visible.map((spec) => ({
    name: spec.name,
    category: ctx.registry.get(spec.name)?.category ?? 'lookup',
    description: spec.description,
  }));
  const { plan, usage, valid } = await planner.plan({
    model: agent.planner.model,
    messages: state.messages,
    tools,
    deadlineAt: state.deadlineAt,
    signal: ctx.signal,
    charge: { conversation: state.conversation, userId: state.requestedBy },
  });
  // The planner's tokens are the run's tokens: they count against its budget like any call.
  state.usage = addUsage(state.usage, usage);
  ctx.audit({ type: 'plan.made', next: plan.next, why: plan.why, valid });
  const fits = new Set(categoriesFor(plan.next));
  return visible.filter((spec) => fits.has(ctx.registry.get(spec.name)?.category ?? 'lookup'));
}

export type AnswerCheck =
  | { readonly kind: 'ok' }
  | { readonly kind: 'retry' }
  | { readonly kind: 'escalate'; readonly reason: string };

/**
 * An answer citing an identifier no tool returned is fabricated: the model is asked once to
 * correct it; a second fabricated answer escalates. Each verdict goes to the audit trail.
 */
export function checkAnswer(ctx: RunContext, answer: string): AnswerCheck {
  const { state, agent } = ctx;
  if (!agent.outputChecks || agent.outputChecks.identifiers.length === 0) return { kind: 'ok' };
  const found = fabricatedIdentifiers(answer, state, agent);
  if (found.length === 0) {
    ctx.audit({ type: 'output.checked', check: 'identifiers', verdict: 'pass' });
    return { kind: 'ok' };
  }
  const detail = describeFabrications(found);
  ctx.audit({ type: 'output.checked', check: 'identifiers', verdict: 'fabricated', detail });
  if ((state.outputCorrections ?? 0) >= 1) {
    return { kind: 'escalate', reason: `stopped: the answer cited ${detail}, which no tool returned` };
  }
  state.outputCorrections = (state.outputCorrections ?? 0) + 1;
  state.messages.push({
    role: 'user',
    content: `Your answer mentions ${detail}, which no tool result in this conversation contains. Answer again using only identifiers that tools returned, or say you do not know.`,
  });
  return { kind: 'retry' };
}

/** Past this many messages, the agent's instructions are restated so they keep their weight. */
export const RESTATE_AFTER_MESSAGES = 16;

export function withReminder(messages: readonly ChatMessage[], agent: AgentProfile): readonly ChatMessage[] {
  if (messages.length <= RESTATE_AFTER_MESSAGES) return messages;
  return [...messages, { role: 'system', content: `Reminder of your instructions:\n${agent.instructions}` }];
}
