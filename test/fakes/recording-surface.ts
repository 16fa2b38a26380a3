import type { ConversationRef } from '../../src/core/conversation.ts';
import type { Surface } from '../../src/core/conversation-service.ts';

export type Posted =
  | { kind: 'answer'; target: ConversationRef; text: string }
  | { kind: 'notice'; target: ConversationRef; text: string; onlyFor: string | undefined }
  | { kind: 'approval'; target: ConversationRef; approvalId: string; toolName: string; args: unknown }
  | { kind: 'escalation'; target: ConversationRef; reason: string; summary: string | null }
  | { kind: 'decided'; approvalId: string; decision: string; by: string }
  | { kind: 'working'; target: ConversationRef };

/** A Surface that records what a platform would have shown, for tests to assert on. */
export function createRecordingSurface(): Surface & { posted: Posted[] } {
  const posted: Posted[] = [];
  return {
    posted,
    postAnswer: async (target, text) => {
      posted.push({ kind: 'answer', target, text });
    },
    postNotice: async (target, text, onlyFor) => {
      posted.push({ kind: 'notice', target, text, onlyFor });
    },
    requestApproval: async (target, approval) => {
      posted.push({
        kind: 'approval',
        target,
        approvalId: approval.approvalId,
        toolName: approval.toolName,
        args: approval.displayArgs,
      });
    },
    postEscalation: async (target, escalation) => {
      posted.push({ kind: 'escalation', target, reason: escalation.reason, summary: escalation.summary });
    },
    showWorking: async (target) => {
      posted.push({ kind: 'working', target });
    },
    showApprovalDecided: async (_target, approval, outcome) => {
      posted.push({
        kind: 'decided',
        approvalId: approval.approvalId,
        decision: outcome.decision,
        by: outcome.by,
      });
    },
  };
}
