import type { PendingApproval } from '../core/run-state.ts';

export interface ApproverRules {
  /** User ids, or group / role ids the user belongs to, that may approve. */
  readonly approvers: readonly string[];
  readonly allowSelfApproval: boolean;
  /** Anyone may approve (the local console, where the operator is the only person). */
  readonly anyone?: boolean;
}

export type ApproverCheck = { readonly ok: true } | { readonly ok: false; readonly reason: string };

/**
 * Who may decide an approval. `memberships` are the clicker's group or role ids, as the platform
 * reports them, so a Slack user group or a Discord role in the approver list works.
 */
export function checkApprover(
  userId: string,
  approval: PendingApproval,
  rules: ApproverRules,
  memberships: readonly string[] = [],
): ApproverCheck {
  if (userId === approval.requestedBy && !rules.allowSelfApproval) {
    return { ok: false, reason: 'you asked for this run, so someone else has to approve its actions' };
  }
  if (rules.anyone) return { ok: true };
  if (rules.approvers.length === 0) {
    return { ok: false, reason: `no approvers are configured for ${approval.conversation.platform}` };
  }
  const allowed = [userId, ...memberships].some((id) => rules.approvers.includes(id));
  return allowed ? { ok: true } : { ok: false, reason: 'you are not one of the approvers for this action' };
}
