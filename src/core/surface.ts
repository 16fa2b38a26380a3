import type { BudgetLimitRef, ConversationRef, EscalationChoice } from './conversation.ts';
import type { PendingApproval } from './run-state.ts';

/**
 * What the core asks of a platform. Each adapter (console, Slack, Discord) implements it; the
 * optional members are capabilities a platform may not have.
 */
export interface Surface {
  postAnswer(target: ConversationRef, text: string): Promise<void>;
  /** Refusals and problems; `onlyFor` asks the platform to show it to that user alone where it can. */
  postNotice(target: ConversationRef, text: string, onlyFor?: string): Promise<void>;
  requestApproval(target: ConversationRef, approval: PendingApproval): Promise<void>;
  postEscalation(target: ConversationRef, escalation: EscalationNotice): Promise<void>;
  /** A budget refusal with a "Request more" button, shown to `onlyFor` alone where the platform can. */
  postBudgetRefusal?(target: ConversationRef, refusal: BudgetRefusal, onlyFor: string): Promise<void>;
  /** A message that pings people (the admins): someone asks for more budget. */
  postAdminRequest?(target: ConversationRef, request: AdminRequest): Promise<void>;
  /** Show that work started (typing indicator, reaction, status message). */
  showWorking?(target: ConversationRef): Promise<void>;
  /** Say what the run is doing now ("Running get_order (order_id: 1234)…"); platforms throttle. */
  showProgress?(target: ConversationRef, text: string): Promise<void>;
  /** An authorized click is being handled: the card says so until the outcome replaces it. */
  showApprovalHandling?(target: ConversationRef, approval: PendingApproval, by: string): Promise<void>;
  /** Replace an approval's buttons with its outcome, so the thread itself records it. */
  showApprovalDecided?(
    target: ConversationRef,
    approval: PendingApproval,
    decision: ApprovalOutcome,
  ): Promise<void>;
  /** Replace an escalation's buttons with what a person chose. */
  showEscalationResolved?(
    target: ConversationRef,
    runId: string,
    resolution: EscalationResolution,
  ): Promise<void>;
}

export interface BudgetRefusal {
  readonly text: string;
  /** The limit the button asks to raise. */
  readonly limit: BudgetLimitRef;
}

export interface AdminRequest {
  /** Who asks; the platform shows them as a mention before the text. */
  readonly requestedBy: string;
  readonly text: string;
  /** Platform ids to ping (the config's admins). */
  readonly mentions: readonly string[];
}

export interface EscalationNotice {
  readonly runId: string;
  readonly reason: string;
  readonly summary: string | null;
  /** People or groups to ping (platform ids from the config's escalation.notify). */
  readonly mentions: readonly string[];
}

export type ApprovalOutcome =
  | { readonly decision: 'approve' | 'reject'; readonly by: string; readonly at: number }
  | { readonly decision: 'expired'; readonly by: null; readonly at: number };

export interface EscalationResolution {
  readonly choice: EscalationChoice;
  readonly by: string;
  readonly at: number;
}

/** A short line for a status message while a tool runs. */
export function progressText(tool: string, args: unknown): string {
  const entries = args !== null && typeof args === 'object' ? Object.entries(args) : [];
  const shown = entries
    .filter(
      ([, value]) => typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean',
    )
    .slice(0, 3)
    .map(([key, value]) => `${key}: ${String(value).slice(0, 40)}`);
  return shown.length > 0 ? `Running ${tool} (${shown.join(', ')})…` : `Running ${tool}…`;
}
