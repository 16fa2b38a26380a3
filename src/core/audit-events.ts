import type { ConversationRef } from './conversation.ts';

/** Fields every audit event carries, so one run's decisions can be pulled out of any sink. */
interface AuditBase {
  readonly runId: string;
  readonly traceId: string;
  readonly at: number;
  /** Set on a sub-agent's events: the run that delegated to it, and the top run of the tree. */
  readonly parentRunId?: string;
  readonly rootRunId?: string;
}

export type AuditEventBody =
  | {
      readonly type: 'run.started';
      readonly agent: string;
      readonly requestedBy: string;
      readonly conversation: ConversationRef;
    }
  | {
      readonly type: 'model.called';
      readonly model: string;
      readonly promptTokens: number;
      readonly completionTokens: number;
      readonly latencyMs: number;
      readonly toolCalls: number;
    }
  | { readonly type: 'model.failed'; readonly error: string; readonly code: string }
  | {
      readonly type: 'tool.proposed';
      readonly tool: string;
      readonly callId: string;
      readonly args: unknown;
    }
  | {
      readonly type: 'tool.arguments_rejected';
      readonly tool: string;
      readonly callId: string;
      readonly reason: string;
    }
  | {
      readonly type: 'policy.verdict';
      readonly tool: string;
      readonly callId: string;
      readonly verdict: 'allow' | 'needs_approval' | 'deny';
      readonly reason: string;
    }
  | {
      readonly type: 'approval.requested';
      readonly approvalId: string;
      readonly tool: string;
      readonly callId: string;
    }
  | {
      readonly type: 'approval.decided';
      readonly approvalId: string;
      readonly tool: string;
      readonly decision: 'approve' | 'reject';
      readonly by: string;
    }
  | { readonly type: 'tool.started'; readonly tool: string; readonly callId: string }
  | {
      readonly type: 'tool.finished';
      readonly tool: string;
      readonly callId: string;
      readonly status: 'success' | 'not_found' | 'error';
      readonly durationMs: number;
      readonly attempts: number;
      readonly error?: string;
    }
  | { readonly type: 'tool.skipped'; readonly tool: string; readonly callId: string; readonly reason: string }
  | { readonly type: 'guard.tripped'; readonly guard: string; readonly reason: string }
  | {
      readonly type: 'delegation.refused';
      readonly tool: string;
      readonly callId: string;
      readonly reason: string;
    }
  | {
      readonly type: 'output.checked';
      readonly check: string;
      readonly verdict: 'pass' | 'fabricated';
      readonly detail?: string;
    }
  | { readonly type: 'plan.made'; readonly next: string; readonly why: string; readonly valid: boolean }
  | {
      readonly type: 'run.ended';
      readonly outcome: 'completed' | 'escalated' | 'failed' | 'awaiting_approval' | 'cancelled';
      readonly reason?: string;
      readonly iterations: number;
      readonly promptTokens: number;
      readonly completionTokens: number;
    };

export type AuditEvent = AuditBase & AuditEventBody;
export type AuditEventType = AuditEvent['type'];
