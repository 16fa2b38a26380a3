import type { Tool } from '../core/tools/define-tool.ts';

export type Verdict =
  | { readonly kind: 'allow'; readonly reason: string }
  | { readonly kind: 'needs_approval'; readonly reason: string }
  | { readonly kind: 'deny'; readonly reason: string };

export interface PolicyInput {
  readonly tool: Tool;
  /** The tools the agent is configured with. */
  readonly agentTools: readonly string[];
  /** The channel's allowlist; undefined when the channel has none (every agent tool allowed). */
  readonly channelAllowlist: readonly string[] | undefined;
  /** The run has taken in output from outside (an HTTP tool, the web). */
  readonly tainted: boolean;
  /** Set when the config asks a person to approve this call (a delegation marked requiresApproval): the reason. */
  readonly approvalRequired?: string | undefined;
}

/**
 * Who may run what. Pure: the same input always gives the same verdict, so a verdict can be
 * re-checked right before a resumed call executes.
 */
export function decideToolCall(input: PolicyInput): Verdict {
  const { tool } = input;
  if (!input.agentTools.includes(tool.name)) {
    return { kind: 'deny', reason: `${tool.name} is not one of this agent's tools` };
  }
  if (input.channelAllowlist && !input.channelAllowlist.includes(tool.name)) {
    return { kind: 'deny', reason: `${tool.name} is not allowed in this channel` };
  }
  if (input.approvalRequired) return { kind: 'needs_approval', reason: input.approvalRequired };
  if (tool.risk === 'destructive') {
    return { kind: 'needs_approval', reason: `${tool.name} is destructive and always needs approval` };
  }
  if (tool.risk === 'write' && input.tainted) {
    return {
      kind: 'needs_approval',
      reason: `${tool.name} writes, and this run has read content from outside, so a person must approve`,
    };
  }
  if (tool.approval === 'required') {
    return { kind: 'needs_approval', reason: `${tool.name} is configured to need approval` };
  }
  return { kind: 'allow', reason: tool.risk === 'read' ? 'read-only tool' : 'configured approval: never' };
}
