import type { AgentProfile } from './agent-profile.ts';
import type { AuditEventBody } from './audit-events.ts';
import type { RunLimits } from './limits.ts';
import type { ToolCallRequest } from './messages.ts';
import type { Clock, Logger } from './ports.ts';
import type { Redactor } from './redaction.ts';
import type { RunState, TurnResult } from './run-state.ts';
import type { NotesStore } from './stores.ts';
import type { ToolExecutor } from './tools/tool-executor.ts';
import type { ToolRegistry } from './tools/tool-registry.ts';

/** A person's decision on a pending approval, already checked for who may make it. */
export interface ApprovalDecision {
  readonly approvalId: string;
  readonly decision: 'approve' | 'reject';
  readonly by: string;
}

/** What one turn of one run works with; built by the runner, read by the step runner. */
export interface RunContext {
  readonly state: RunState;
  readonly agent: AgentProfile;
  readonly channelAllowlist: readonly string[] | undefined;
  readonly signal: AbortSignal;
  /** The decision this turn resumes with; consumed by the call it belongs to. */
  decision: ApprovalDecision | null;
  readonly registry: ToolRegistry;
  readonly executor: ToolExecutor;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly redact: Redactor;
  readonly maxToolOutputChars: number;
  readonly approvalTtlMs: number;
  readonly newId: () => string;
  readonly notes: NotesStore;
  audit(event: AuditEventBody): void;
  /** Saves the run state so any process can continue it from here. */
  checkpoint(): Promise<void>;
  /**
   * Starts saving the run state without waiting, so the save travels with the next Redis call the
   * run makes (a budget reservation, a settlement). `savedCheckpoints()` waits for it.
   */
  checkpointLater(): void;
  /** Resolves when every checkpointLater() save is stored; rejects with the first failure. */
  savedCheckpoints(): Promise<void>;
  /**
   * Runs (or, when this call already has one, continues) a sub-agent for a delegation call, inside
   * this run; resolves with the child's outcome. Usage is charged to this run when the child ends.
   */
  runChild(call: ToolCallRequest, target: string, task: string, limits: RunLimits): Promise<TurnResult>;
  /** The limits a new sub-agent would get, carved out of what this run has left. */
  childLimits(
    target: string,
  ): { readonly ok: true; readonly limits: RunLimits } | { readonly ok: false; readonly reason: string };
}
