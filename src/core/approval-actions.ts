import { checkApprover } from '../policy/approvers.ts';
import { type ButtonAction, conversationKey } from './conversation.ts';
import type { Clicker, ConversationServiceOptions, Handled, Refuse } from './conversation-service.ts';
import type { ApprovalDecisionRecord } from './stores.ts';

type ApprovalClick = ButtonAction & { readonly kind: 'approval' };

/**
 * An Approve / Reject click: checked against who may approve, decided once in one atomic step
 * (any process), and turned into the run's resume.
 */
export async function decideApproval(
  action: ApprovalClick,
  clicker: Clicker,
  deps: ConversationServiceOptions & { readonly refuse: Refuse },
): Promise<Handled> {
  const { approvals, queue, surface, clock, refuse } = deps;
  const stored = await approvals.get(action.approvalId);
  if (!stored) return refuse(action, action.userId, 'This approval no longer exists; ask Steward again.');
  if (stored.decided) return refuse(action, action.userId, decidedAlready(stored.decided));
  const { approval } = stored;
  const check = checkApprover(
    action.userId,
    approval,
    deps.approverRules(action.platform),
    clicker.memberships ?? [],
  );
  if (!check.ok) return refuse(action, action.userId, `You cannot decide this: ${check.reason}.`);

  await surface.showApprovalHandling?.(approval.conversation, approval, action.userId);
  const now = clock.now();
  const result = await approvals.decide(
    action.approvalId,
    { decision: action.decision, by: action.userId, at: now },
    now,
  );
  if (result.status === 'expired') {
    // End the run now rather than at the scheduled expiry; the handler ignores a run already ended.
    await queue.enqueue({
      kind: 'expire',
      itemId: `expired-click:${approval.approvalId}`,
      runId: approval.runId,
      conversationKey: conversationKey(approval.conversation),
      approvalId: approval.approvalId,
    });
    return refuse(action, action.userId, 'This approval has expired, so the run stopped. Ask Steward again.');
  }
  if (result.status === 'not_found') {
    return refuse(action, action.userId, 'This approval no longer exists; ask Steward again.');
  }
  if (result.status === 'already_decided')
    return refuse(action, action.userId, decidedAlready(result.decided));

  await surface.showApprovalDecided?.(approval.conversation, approval, {
    decision: action.decision,
    by: action.userId,
    at: now,
  });
  await queue.enqueue({
    kind: 'resume',
    itemId: `resume:${approval.approvalId}`,
    runId: approval.runId,
    conversationKey: conversationKey(approval.conversation),
    decision: { approvalId: approval.approvalId, decision: action.decision, by: action.userId },
  });
  return { status: 'accepted', runId: approval.runId };
}

function decidedAlready(decided: ApprovalDecisionRecord): string {
  const verb = decided.decision === 'approve' ? 'approved' : 'rejected';
  return `Already ${verb} by ${decided.by} at ${new Date(decided.at).toISOString().slice(11, 16)} UTC.`;
}
