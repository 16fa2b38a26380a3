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
  );

/** Take over: a person owns the thread and Steward stays quiet there until released. */
export type EscalationChoice = 'take_over' | 'release' | 'retry' | 'dismiss';

export function conversationKey(ref: ConversationRef): string {
  return [ref.platform, ref.tenantId, ref.channelId, ref.threadId ?? '-'].join(':');
}
