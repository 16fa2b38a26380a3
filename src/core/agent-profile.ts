import type { RunLimits } from './limits.ts';

/** One configured agent as the core needs it. */
export interface AgentProfile {
  readonly name: string;
  readonly model: string;
  readonly instructions: string;
  readonly tools: readonly string[];
  readonly limits: RunLimits;
}
