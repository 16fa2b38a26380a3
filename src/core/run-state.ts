import type { ConversationRef } from './conversation.ts';
import { type ChatMessage, type TokenUsage, type ToolCallRequest, ZERO_USAGE } from './messages.ts';
import type { ToolRisk } from './tools/define-tool.ts';

/**
 * A new approval's id: `<rootRunId>_<12 characters of unique>`. It names the top run, whose
 * checkpoint holds the approval while it waits, so a click finds it without an index of its own.
 * Only [A-Za-z0-9_-] when the run id and `unique` are (a Discord custom_id carries it).
 */
export function newApprovalId(rootRunId: string, unique: string): string {
  return `${rootRunId}_${unique.replaceAll('-', '').slice(0, 12)}`;
}

/** The top run a newApprovalId names; undefined for ids of another shape (earlier releases' UUIDs). */
export function runIdOfApproval(approvalId: string): string | undefined {
  const cut = approvalId.lastIndexOf('_');
  return cut > 0 && cut < approvalId.length - 1 ? approvalId.slice(0, cut) : undefined;
}

/** A tool call waiting for a person, bound to the run, the tool and the exact arguments. */
export interface PendingApproval {
  readonly approvalId: string;
  readonly runId: string;
  readonly agent: string;
  readonly toolName: string;
  readonly callId: string;
  /** Arguments as shown to approvers: secret-looking fields masked. */
  readonly displayArgs: unknown;
  /** sha256 of the canonical arguments; re-checked right before the call executes. */
  readonly argsHash: string;
  readonly risk: ToolRisk;
  readonly reason: string;
  readonly requestedBy: string;
  readonly conversation: ConversationRef;
  readonly createdAt: number;
  readonly expiresAt: number;
}

/**
 * Everything needed to continue a run anywhere: plain JSON, checkpointed after every step. The
 * runner mutates its own copy during a turn and hands back a snapshot.
 */
export interface RunState {
  readonly runId: string;
  readonly traceId: string;
  readonly agent: string;
  readonly requestedBy: string;
  readonly conversation: ConversationRef;
  readonly startedAt: number;
  readonly deadlineAt: number;
  messages: ChatMessage[];
  iterations: number;
  usage: TokenUsage;
  /** Proposals per (tool, canonical arguments hash), for the repetition guard. */
  callCounts: Record<string, number>;
  consecutiveFailures: number;
  /** The run has taken in content from outside; writes now need a person. */
  tainted: boolean;
  /** The tool calls of the last model response still being worked through, in order. */
  batch: { readonly calls: readonly ToolCallRequest[]; next: number } | null;
  pendingApproval: PendingApproval | null;
  /**
   * A call with a side effect that was started and not yet confirmed. Recorded (and
   * checkpointed) before the call runs, so a run resumed after a crash knows its outcome is
   * unknown and does not run it again.
   */
  inFlight: { readonly callId: string; readonly tool: string; readonly startedAt: number } | null;
  /** Multiplies the agent's iteration, token and time limits (raised for a retry). */
  readonly limitsScale: number;
  /** The top run of a delegation tree (this run's own id at the top). Approvals name it. */
  readonly rootRunId: string;
  readonly parentRunId: string | null;
  /** Agents from the top run down to this one: the delegation chain, for depth and cycle guards. */
  readonly chain: readonly string[];
  /** A sub-agent working for this run, checkpointed inside it so a crash resumes it where it was. */
  child: { readonly callId: string; readonly state: RunState } | null;
  /** Answers sent back to the model for citing an identifier no tool returned (at most one). */
  outputCorrections?: number;
  /** The request looked simple, so this run takes the fast path with no planner. */
  skipPlanner?: boolean;
}

export type RunOutcome =
  | { readonly status: 'completed'; readonly text: string }
  | {
      readonly status: 'escalated';
      readonly reason: string;
      readonly summary: string | null;
      /** The guard that tripped, or null when the agent escalated on its own. */
      readonly guard: string | null;
    }
  | { readonly status: 'failed'; readonly reason: string }
  | { readonly status: 'awaiting_approval'; readonly approval: PendingApproval }
  | { readonly status: 'cancelled'; readonly reason: string };

export type RunOutcomeStatus = RunOutcome['status'];

export interface TurnResult {
  readonly outcome: RunOutcome;
  readonly state: RunState;
}

/** A run before its first step: no messages sent, nothing counted, nothing pending. */
export function newRunState(init: {
  readonly runId: string;
  readonly traceId: string;
  readonly agent: string;
  readonly requestedBy: string;
  readonly conversation: ConversationRef;
  readonly startedAt: number;
  readonly deadlineAt: number;
  readonly messages: ChatMessage[];
  readonly limitsScale?: number;
  readonly rootRunId?: string;
  readonly parentRunId?: string | null;
  readonly chain?: readonly string[];
}): RunState {
  return {
    ...init,
    limitsScale: init.limitsScale ?? 1,
    rootRunId: init.rootRunId ?? init.runId,
    parentRunId: init.parentRunId ?? null,
    chain: init.chain ?? [init.agent],
    child: null,
    iterations: 0,
    usage: ZERO_USAGE,
    callCounts: {},
    consecutiveFailures: 0,
    tainted: false,
    batch: null,
    pendingApproval: null,
    inFlight: null,
  };
}
