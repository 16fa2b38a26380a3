import { type ApproverRules, checkApprover } from '../policy/approvers.ts';
import type { AgentRunner } from './agent-runner.ts';
import {
  type ButtonAction,
  type ConversationRef,
  conversationKey,
  type IncomingMessage,
} from './conversation.ts';
import { ApprovalNotFoundError } from './errors.ts';
import type { Logger } from './ports.ts';
import type { PendingApproval, RunOutcome, TurnResult } from './run-state.ts';
import type { EventDedupe, RunStore, SessionStore } from './stores.ts';

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
  /** Show that work started (typing indicator, reaction, status message). */
  showWorking?(target: ConversationRef): Promise<void>;
  /** Replace an approval's buttons with its outcome, so the thread itself records it. */
  showApprovalDecided?(
    target: ConversationRef,
    approval: PendingApproval,
    decision: ApprovalOutcome,
  ): Promise<void>;
}

export interface EscalationNotice {
  readonly runId: string;
  readonly reason: string;
  readonly summary: string | null;
}

export interface ApprovalOutcome {
  readonly decision: 'approve' | 'reject';
  readonly by: string;
  readonly at: number;
}

/** What became of an inbound message or click, for the adapter and for tests. */
export type Handled =
  | { readonly status: 'ignored'; readonly reason: 'duplicate' }
  | { readonly status: 'refused'; readonly reason: string }
  | RunOutcome;

export interface ConversationServiceOptions {
  readonly runner: AgentRunner;
  readonly surface: Surface;
  readonly sessions: SessionStore;
  readonly runs: RunStore;
  readonly dedupe: EventDedupe;
  readonly logger: Logger;
  readonly defaultAgent: string;
  readonly maxInputChars: number;
  readonly approverRules: (platform: string) => ApproverRules;
  readonly clock?: { now(): number };
}

export interface ConversationService {
  handleMessage(message: IncomingMessage): Promise<Handled>;
  handleAction(action: ButtonAction, memberships?: readonly string[]): Promise<Handled>;
}

/** Turns normalized platform input into runs, and run outcomes into what the platform shows. */
export function createConversationService(options: ConversationServiceOptions): ConversationService {
  const { surface, sessions, runs, runner } = options;
  const now = () => (options.clock ?? Date).now();

  const deliver = async (target: ConversationRef, result: TurnResult): Promise<Handled> => {
    const { outcome, state } = result;
    switch (outcome.status) {
      case 'completed': {
        const text = outcome.text.trim() === '' ? '(no answer)' : outcome.text;
        await surface.postAnswer(target, text);
        // The session keeps the question and the answer; the tool trace stays in the audit trail.
        const asked = state.messages.findLast((message) => message.role === 'user');
        await sessions.append(conversationKey(target), [
          ...(asked ? [asked] : []),
          { role: 'assistant', content: text },
        ]);
        break;
      }
      case 'awaiting_approval':
        await runs.save(state);
        await surface.requestApproval(target, outcome.approval);
        break;
      case 'escalated':
        await surface.postEscalation(target, {
          runId: state.runId,
          reason: outcome.reason,
          summary: outcome.summary,
        });
        break;
      case 'failed':
        await surface.postNotice(target, `I could not finish this: ${outcome.reason}`);
        break;
      case 'cancelled':
        await surface.postNotice(target, 'This run was cancelled.');
        break;
    }
    return outcome;
  };

  return {
    async handleMessage(message) {
      if (!(await options.dedupe.claim(message.eventId))) return { status: 'ignored', reason: 'duplicate' };
      const text = message.text.trim();
      if (text.length > options.maxInputChars) {
        const reason = `Your message is ${text.length.toLocaleString('en-US')} characters; the limit is ${options.maxInputChars.toLocaleString('en-US')}. Please shorten it and try again.`;
        await surface.postNotice(message, reason, message.userId);
        return { status: 'refused', reason };
      }
      const history = await sessions.load(conversationKey(message));
      await surface.showWorking?.(message);
      const result = await runner.start({
        agent: options.defaultAgent,
        text,
        requestedBy: message.userId,
        conversation: message,
        history,
      });
      return deliver(message, result);
    },

    async handleAction(action, memberships = []) {
      const refuse = async (reason: string): Promise<Handled> => {
        await surface.postNotice(action, reason, action.userId);
        return { status: 'refused', reason };
      };
      const waiting = await runs.findByApproval(action.approvalId);
      const pending = waiting?.pendingApproval;
      if (!waiting || !pending)
        return refuse('This approval is no longer pending: it was decided or has expired.');
      if (now() >= pending.expiresAt) return refuse('This approval has expired; ask Steward again.');
      const check = checkApprover(
        action.userId,
        pending,
        options.approverRules(action.platform),
        memberships,
      );
      if (!check.ok) return refuse(`You cannot decide this: ${check.reason}.`);
      const claimed = await runs.claimApproval(action.approvalId);
      if (!claimed) return refuse('Someone else decided this approval first.');

      await surface.showApprovalDecided?.(pending.conversation, pending, {
        decision: action.decision,
        by: action.userId,
        at: now(),
      });
      try {
        const result = await runner.resume(claimed, {
          decision: { approvalId: action.approvalId, decision: action.decision, by: action.userId },
        });
        return deliver(pending.conversation, result);
      } catch (error) {
        if (error instanceof ApprovalNotFoundError) return refuse(error.message);
        throw error;
      }
    },
  };
}
