import { z } from 'zod';
import type { AgentProfile } from './agent-profile.ts';
import type { RunLimits } from './limits.ts';
import { totalTokens } from './messages.ts';
import type { RunState } from './run-state.ts';
import { defineTool, type Tool } from './tools/define-tool.ts';
import { failure } from './tools/tool-result.ts';

export const DELEGATE_PREFIX = 'ask_';

export function delegateToolName(agent: string): string {
  return `${DELEGATE_PREFIX}${agent}`;
}

export const delegationInput = z.object({
  task: z.string().min(1).max(4_000).describe('What the other agent should do, in words.'),
  context: z.string().max(8_000).optional().describe('Facts it needs that are not in the task.'),
});

export type DelegationInput = z.infer<typeof delegationInput>;

/**
 * How a parent sees another agent: as a tool whose result is the child's final answer. The child
 * is run by the runner (inside the parent's run, same thread and audit trail), not by `execute`.
 */
export function delegateTool(target: AgentProfile): Tool {
  return defineTool({
    name: delegateToolName(target.name),
    description: `Hand a task to the ${target.name} agent and get its answer back. ${firstLine(target.instructions)}`,
    whenToUse: `The task is ${target.name}'s specialty.`,
    whenNotToUse: 'You can do it with your own tools, or you are asked to do it yourself.',
    input: delegationInput,
    category: 'delegation',
    risk: 'read',
    // The child's own tools are governed one by one; the hand-off needs approval only when configured.
    approval: 'never',
    idempotent: true,
    execute: async () => failure('delegation is run by the agent runner', false),
  });
}

/** Why a hand-off may not happen, or undefined when it may. */
export function delegationRefusal(
  chain: readonly string[],
  target: string,
  maxDepth: number,
): string | undefined {
  const path = [...chain, target].join(' → ');
  if (chain.includes(target)) {
    return `delegation refused: ${target} is already working on this request (${path}); agents cannot call each other in a cycle`;
  }
  // The top agent is depth 0, so a chain of n agents hands off at depth n.
  if (chain.length > maxDepth) {
    return `delegation refused: ${path} would be ${chain.length} levels deep (limit ${maxDepth})`;
  }
  return undefined;
}

/**
 * The child's limits: its own, but never more tokens or model calls than the parent has left, nor
 * past the parent's deadline (the parent is charged for everything the child uses).
 */
export function carveLimits(
  parent: RunState,
  parentLimits: RunLimits,
  child: RunLimits,
  now: number,
): { readonly ok: true; readonly limits: RunLimits } | { readonly ok: false; readonly reason: string } {
  const tokensLeft = parentLimits.maxTokens - totalTokens(parent.usage);
  // One model call stays with the parent, to read the child's answer.
  const iterationsLeft = parentLimits.maxIterations - parent.iterations - 1;
  const timeLeft = parent.deadlineAt - now;
  if (tokensLeft <= 0 || iterationsLeft <= 0 || timeLeft <= 0) {
    return { ok: false, reason: 'delegation refused: this run has no budget left to give another agent' };
  }
  return {
    ok: true,
    limits: {
      ...child,
      maxTokens: Math.min(child.maxTokens, tokensLeft),
      maxIterations: Math.min(child.maxIterations, iterationsLeft),
      timeoutMs: Math.min(child.timeoutMs, timeLeft),
    },
  };
}

function firstLine(text: string): string {
  return text.trim().split('\n')[0]?.slice(0, 200) ?? '';
}
