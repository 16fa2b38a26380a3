import type { RunLimits } from './limits.ts';

/** One configured agent as the core needs it. */
export interface AgentProfile {
  readonly name: string;
  readonly model: string;
  readonly instructions: string;
  readonly tools: readonly string[];
  readonly limits: RunLimits;
  /** Agents this one may hand work to (each shown as an `ask_<agent>` tool in `tools`). */
  readonly delegates?: readonly { readonly agent: string; readonly requiresApproval: boolean }[];
  /** A cheaper model that plans each step; absent: no planning. */
  readonly planner?: { readonly model: string };
  /** Identifiers an answer may only cite when a tool result of the run contains them. */
  readonly outputChecks?: {
    readonly identifiers: readonly { readonly name: string; readonly pattern: string }[];
  };
}
