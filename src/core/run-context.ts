import type { AgentProfile } from './agent-profile.ts';
import type { AuditEventBody } from './audit-events.ts';
import type { Clock, Logger } from './ports.ts';
import type { Redactor } from './redaction.ts';
import type { RunState } from './run-state.ts';
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
}
