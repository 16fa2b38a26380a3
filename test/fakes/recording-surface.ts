import type { BudgetLimitRef, ConversationRef } from '../../src/core/conversation.ts';
import type { Surface } from '../../src/core/conversation-service.ts';

export type Posted =
  | { kind: 'answer'; target: ConversationRef; text: string }
  | { kind: 'notice'; target: ConversationRef; text: string; onlyFor: string | undefined }
  | { kind: 'approval'; target: ConversationRef; approvalId: string; toolName: string; args: unknown }
  | { kind: 'escalation'; target: ConversationRef; reason: string; summary: string | null }
  | { kind: 'decided'; approvalId: string; decision: string; by: string | null }
  | { kind: 'working'; target: ConversationRef }
  | { kind: 'budget_refusal'; target: ConversationRef; text: string; limit: BudgetLimitRef; onlyFor: string }
  | {
      kind: 'admin_request';
      target: ConversationRef;
      requestedBy: string;
      text: string;
      mentions: readonly string[];
    };

export interface RecordingSurface extends Surface {
  readonly posted: Posted[];
  /** Resolves with the first post (already made or still to come) that matches; rejects after the timeout. */
  waitFor<K extends Posted['kind']>(
    kind: K,
    match?: (post: Extract<Posted, { kind: K }>) => boolean,
    timeoutMs?: number,
  ): Promise<Extract<Posted, { kind: K }>>;
}

/** A Surface that records what a platform would have shown, for tests to assert on. */
export function createRecordingSurface(): RecordingSurface {
  const posted: Posted[] = [];
  const listeners = new Set<() => void>();
  const push = (post: Posted) => {
    posted.push(post);
    for (const listener of listeners) listener();
  };
  return {
    posted,
    waitFor(kind, match = () => true, timeoutMs = 10_000) {
      type Wanted = Extract<Posted, { kind: typeof kind }>;
      const find = () => posted.find((p): p is Wanted => p.kind === kind && match(p as Wanted));
      return new Promise((resolve, reject) => {
        const check = () => {
          const found = find();
          if (!found) return;
          cleanup();
          resolve(found);
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(
            new Error(`no ${kind} was posted within ${timeoutMs} ms; posted: ${JSON.stringify(posted)}`),
          );
        }, timeoutMs);
        const cleanup = () => {
          clearTimeout(timer);
          listeners.delete(check);
        };
        listeners.add(check);
        check();
      });
    },
    postAnswer: async (target, text) => push({ kind: 'answer', target, text }),
    postNotice: async (target, text, onlyFor) => push({ kind: 'notice', target, text, onlyFor }),
    requestApproval: async (target, approval) =>
      push({
        kind: 'approval',
        target,
        approvalId: approval.approvalId,
        toolName: approval.toolName,
        args: approval.displayArgs,
      }),
    postEscalation: async (target, escalation) =>
      push({ kind: 'escalation', target, reason: escalation.reason, summary: escalation.summary }),
    showWorking: async (target) => push({ kind: 'working', target }),
    postBudgetRefusal: async (target, refusal, onlyFor) =>
      push({ kind: 'budget_refusal', target, text: refusal.text, limit: refusal.limit, onlyFor }),
    postAdminRequest: async (target, request) => push({ kind: 'admin_request', target, ...request }),
    showApprovalDecided: async (_target, approval, outcome) =>
      push({ kind: 'decided', approvalId: approval.approvalId, decision: outcome.decision, by: outcome.by }),
  };
}
