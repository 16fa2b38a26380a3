import {
  BUDGET_PERIODS,
  BUDGET_UNITS,
  type BudgetPeriod,
  type BudgetUnit,
  SCOPE_KINDS,
  type ScopeKind,
} from './budget/budget.ts';

/**
 * The normalized shapes every platform adapter produces and consumes, so the core never sees a
 * Slack or Discord payload.
 */
export interface ConversationRef {
  readonly platform: string;
  /** Slack workspace (team) id, Discord guild id, or a fixed value for DMs and the console. */
  readonly tenantId: string;
  readonly channelId: string;
  /** The thread the answer belongs in; null for a DM or a channel without threads. */
  readonly threadId: string | null;
}

export interface IncomingMessage extends ConversationRef {
  readonly userId: string;
  readonly text: string;
  readonly isDirect: boolean;
  /** The platform's id for this event, used to drop duplicates. */
  readonly eventId: string;
}

/** A click on one of Steward's buttons, normalized. */
export type ButtonAction = ConversationRef & {
  readonly userId: string;
  readonly eventId: string;
} & (
    | { readonly kind: 'approval'; readonly approvalId: string; readonly decision: 'approve' | 'reject' }
    | { readonly kind: 'escalation'; readonly runId: string; readonly choice: EscalationChoice }
    | { readonly kind: 'budget_request'; readonly limit: BudgetLimitRef }
  );

/** Which limit of which scope a "Request more" button asks about. */
export interface BudgetLimitRef {
  readonly scope: ScopeKind;
  readonly unit: BudgetUnit;
  readonly period: BudgetPeriod;
}

/** `channel-tokens-day`: safe in a Slack button value and a Discord custom_id. */
export function budgetLimitId(limit: BudgetLimitRef): string {
  return `${limit.scope}-${limit.unit}-${limit.period}`;
}

/** The limit a button names, or undefined for anything Steward did not produce. */
export function parseBudgetLimitId(id: string): BudgetLimitRef | undefined {
  const [scope, unit, period, ...rest] = id.split('-');
  const scopeKind = SCOPE_KINDS.find((kind) => kind === scope);
  const budgetUnit = BUDGET_UNITS.find((known) => known === unit);
  const budgetPeriod = BUDGET_PERIODS.find((known) => known === period);
  if (!scopeKind || !budgetUnit || !budgetPeriod || rest.length > 0) return undefined;
  return { scope: scopeKind, unit: budgetUnit, period: budgetPeriod };
}

/** Take over: a person owns the thread and Steward stays quiet there until released. */
export type EscalationChoice = 'take_over' | 'release' | 'retry' | 'dismiss';

export function conversationKey(ref: ConversationRef): string {
  return [ref.platform, ref.tenantId, ref.channelId, ref.threadId ?? '-'].join(':');
}
