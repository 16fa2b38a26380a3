import { randomUUID } from 'node:crypto';
import { type ApproverRules, checkApprover } from '../policy/approvers.ts';
import {
  type ButtonAction,
  type ConversationRef,
  conversationKey,
  type IncomingMessage,
} from './conversation.ts';
import { StateUnavailableError } from './errors.ts';
import type { Clock, Logger } from './ports.ts';
import type { PendingApproval } from './run-state.ts';
import type { ApprovalStore, ChannelSettingsStore, EventDedupe, RunStore } from './stores.ts';
import type { RunQueue } from './work.ts';

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

export type ApprovalOutcome =
  | { readonly decision: 'approve' | 'reject'; readonly by: string; readonly at: number }
  | { readonly decision: 'expired'; readonly by: null; readonly at: number };

/** What became of an inbound message or click, for the adapter and for tests. */
export type Handled =
  | { readonly status: 'ignored'; readonly reason: 'duplicate' }
  | { readonly status: 'refused'; readonly reason: string }
  | { readonly status: 'queued'; readonly runId: string }
  | { readonly status: 'accepted'; readonly runId: string };

export interface ConversationServiceOptions {
  readonly surface: Surface;
  readonly runs: RunStore;
  readonly approvals: ApprovalStore;
  readonly dedupe: EventDedupe;
  readonly channels: ChannelSettingsStore;
  readonly queue: RunQueue;
  readonly logger: Logger;
  readonly clock: Clock;
  readonly defaultAgent: string;
  /** Agents that exist; a channel setting naming another one falls back to the default. */
  readonly agents: ReadonlySet<string>;
  readonly maxInputChars: number;
  readonly approverRules: (platform: string) => ApproverRules;
  readonly newId?: () => string;
}

export interface ConversationService {
  handleMessage(message: IncomingMessage): Promise<Handled>;
  handleAction(action: ButtonAction, memberships?: readonly string[]): Promise<Handled>;
  /** Approvals still waiting in a conversation, oldest first (e.g. after a restart). */
  pendingApprovals(conversation: ConversationRef): Promise<PendingApproval[]>;
}

export const STATE_UNAVAILABLE_NOTICE =
  'I cannot reach my state store right now, so I am not taking new requests. Please try again in a minute.';

/**
 * The front door: turns normalized platform input into durable work. It answers quickly (the
 * platforms want an answer within seconds) and leaves the running to the workers.
 */
export function createConversationService(options: ConversationServiceOptions): ConversationService {
  const { surface, runs, approvals, queue, clock } = options;
  const newId = options.newId ?? randomUUID;

  /** A store outage becomes a clear refusal, never a crash or a silently dropped request. */
  const guarded = async (
    target: ConversationRef,
    userId: string,
    work: () => Promise<Handled>,
  ): Promise<Handled> => {
    try {
      return await work();
    } catch (error) {
      if (!(error instanceof StateUnavailableError)) throw error;
      options.logger.warn({ err: error }, 'refused work while the state store is unreachable');
      await surface.postNotice(target, STATE_UNAVAILABLE_NOTICE, userId).catch(() => undefined);
      return { status: 'refused', reason: STATE_UNAVAILABLE_NOTICE };
    }
  };

  const refuse = async (target: ConversationRef, userId: string, reason: string): Promise<Handled> => {
    await surface.postNotice(target, reason, userId);
    return { status: 'refused', reason };
  };

  return {
    pendingApprovals: (conversation) => approvals.listPending(conversationKey(conversation), clock.now()),

    handleMessage: (message) =>
      guarded(message, message.userId, async () => {
        if (!(await options.dedupe.claim(message.eventId))) return { status: 'ignored', reason: 'duplicate' };
        const text = message.text.trim();
        if (text.length > options.maxInputChars) {
          const limit = options.maxInputChars.toLocaleString('en-US');
          return refuse(
            message,
            message.userId,
            `Your message is ${text.length.toLocaleString('en-US')} characters; the limit is ${limit}. Please shorten it and try again.`,
          );
        }
        const settings = await options.channels.get(message);
        if (settings.paused) {
          return refuse(
            message,
            message.userId,
            'Steward is paused in this channel. An admin can resume it.',
          );
        }
        const agent =
          settings.agent && options.agents.has(settings.agent) ? settings.agent : options.defaultAgent;
        const runId = newId();
        const key = conversationKey(message);
        const conversation: ConversationRef = {
          platform: message.platform,
          tenantId: message.tenantId,
          channelId: message.channelId,
          threadId: message.threadId,
        };
        await runs.create({
          runId,
          conversation,
          conversationKey: key,
          requestedBy: message.userId,
          agent,
          text,
          eventId: message.eventId,
          createdAt: clock.now(),
        });
        await queue.enqueue({ kind: 'start', itemId: `start:${runId}`, runId, conversationKey: key });
        await surface.showWorking?.(message);
        return { status: 'queued', runId };
      }),

    handleAction: (action, memberships = []) =>
      guarded(action, action.userId, async () => {
        const stored = await approvals.get(action.approvalId);
        if (!stored)
          return refuse(action, action.userId, 'This approval no longer exists; ask Steward again.');
        const { approval } = stored;
        if (stored.decided) {
          return refuse(action, action.userId, decidedAlready(stored.decided));
        }
        const check = checkApprover(
          action.userId,
          approval,
          options.approverRules(action.platform),
          memberships,
        );
        if (!check.ok) return refuse(action, action.userId, `You cannot decide this: ${check.reason}.`);

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
          return refuse(
            action,
            action.userId,
            'This approval has expired, so the run stopped. Ask Steward again.',
          );
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
      }),
  };
}

function decidedAlready(decided: { decision: 'approve' | 'reject'; by: string; at: number }): string {
  const verb = decided.decision === 'approve' ? 'approved' : 'rejected';
  return `Already ${verb} by ${decided.by} at ${new Date(decided.at).toISOString().slice(11, 16)} UTC.`;
}
