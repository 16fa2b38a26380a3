import { randomUUID } from 'node:crypto';
import type { ApproverRules } from '../policy/approvers.ts';
import { decideApproval } from './approval-actions.ts';
import { admitMessage, type BudgetGate, requestMoreBudget } from './budget/admission.ts';
import {
  type ButtonAction,
  type ConversationRef,
  conversationKey,
  type IncomingMessage,
} from './conversation.ts';
import { StateUnavailableError } from './errors.ts';
import { resolveEscalation } from './escalation-actions.ts';
import type { Clock, Logger } from './ports.ts';
import type { PendingApproval } from './run-state.ts';
import type {
  ApprovalStore,
  ChannelSettingsStore,
  ConversationFlagsStore,
  EventDedupe,
  RunStore,
} from './stores.ts';
import type { Surface } from './surface.ts';
import type { RunQueue } from './work.ts';

export type { ApprovalOutcome, EscalationNotice, EscalationResolution, Surface } from './surface.ts';

/** What became of an inbound message or click, for the adapter and for tests. */
export type Handled =
  | { readonly status: 'ignored'; readonly reason: 'duplicate' | 'taken_over' }
  | { readonly status: 'refused'; readonly reason: string }
  | { readonly status: 'queued'; readonly runId: string }
  | { readonly status: 'accepted'; readonly runId: string }
  /** A click that did its job without a run: "Request more" pinged the admins. */
  | { readonly status: 'done'; readonly detail: string };

/** What the platform says about the person who clicked. */
export interface Clicker {
  /** Group or role ids the user belongs to (Slack user groups, Discord roles). */
  readonly memberships?: readonly string[];
  /** Workspace admin or owner (Slack), Manage Server (Discord). */
  readonly isPlatformAdmin?: boolean;
}

export interface ConversationServiceOptions {
  readonly surface: Surface;
  readonly runs: RunStore;
  readonly approvals: ApprovalStore;
  readonly dedupe: EventDedupe;
  readonly channels: ChannelSettingsStore;
  readonly flags: ConversationFlagsStore;
  readonly queue: RunQueue;
  readonly logger: Logger;
  readonly clock: Clock;
  readonly defaultAgent: string;
  /** Agents that exist; a channel setting naming another one falls back to the default. */
  readonly agents: ReadonlySet<string>;
  readonly maxInputChars: number;
  readonly approverRules: (platform: string) => ApproverRules;
  readonly admins: (platform: string) => readonly string[];
  readonly newId?: () => string;
  /** Budgets, the global pause and the per-person rate; without it every message is admitted. */
  readonly budgets?: BudgetGate;
}

export interface ConversationService {
  /**
   * Claims a platform event id once across processes. An adapter that must act before handing a
   * message over (create a reply thread, acknowledge an interaction) claims first and passes
   * `claimed: true`, so only one process acts.
   */
  claim(eventId: string): Promise<boolean>;
  handleMessage(message: IncomingMessage, options?: { readonly claimed?: boolean }): Promise<Handled>;
  handleAction(action: ButtonAction, clicker?: Clicker): Promise<Handled>;
  /** Approvals still waiting in a conversation, oldest first (e.g. after a restart). */
  pendingApprovals(conversation: ConversationRef): Promise<PendingApproval[]>;
  /** Steward takes part in this conversation, so a follow-up needs no mention. */
  isFollowUp(conversation: ConversationRef): Promise<boolean>;
}

export const STATE_UNAVAILABLE_NOTICE =
  'I cannot reach my state store right now, so I am not taking new requests. Please try again in a minute.';

/** Shared by the action handlers: a refusal is shown to the person alone and changes nothing. */
export type Refuse = (target: ConversationRef, userId: string, reason: string) => Promise<Handled>;

/**
 * The front door: turns normalized platform input into durable work. It answers quickly (the
 * platforms want an answer within seconds) and leaves the running to the workers.
 */
export function createConversationService(options: ConversationServiceOptions): ConversationService {
  const { surface, runs, queue, clock, flags } = options;
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

  const refuse: Refuse = async (target, userId, reason) => {
    await surface.postNotice(target, reason, userId);
    return { status: 'refused', reason };
  };

  return {
    pendingApprovals: (conversation) => options.approvals.listPending(conversation, clock.now()),
    isFollowUp: (conversation) => flags.isActive(conversationKey(conversation)),

    claim: (eventId) => options.dedupe.claim(eventId),

    handleMessage: (message, handling = {}) =>
      guarded(message, message.userId, async () => {
        const key = conversationKey(message);
        const text = message.text.trim();
        const tooLong = text.length > options.maxInputChars;
        // One round trip for everything the door checks. Admission counts the message against the
        // sender's rate (keyed by event id, so a duplicate counts once) even when a later check
        // refuses it.
        const [claimed, owner, settings, verdict] = await Promise.all([
          handling.claimed ? true : options.dedupe.claim(message.eventId),
          flags.takenOverBy(key),
          options.channels.get(message),
          options.budgets && !tooLong ? admitMessage(options.budgets, message, clock.now()) : undefined,
        ]);
        if (!claimed) return { status: 'ignored', reason: 'duplicate' };
        // A person owns this thread now; Steward stays quiet until they release it.
        if (owner) return { status: 'ignored', reason: 'taken_over' };
        if (tooLong) {
          const limit = options.maxInputChars.toLocaleString('en-US');
          return refuse(
            message,
            message.userId,
            `Your message is ${text.length.toLocaleString('en-US')} characters; the limit is ${limit}. Please shorten it and try again.`,
          );
        }
        if (settings.paused) {
          return refuse(
            message,
            message.userId,
            'Steward is paused in this channel. An admin can resume it.',
          );
        }
        if (verdict && !verdict.ok) {
          if (verdict.refusal && surface.postBudgetRefusal) {
            await surface.postBudgetRefusal(message, verdict.refusal, message.userId);
            return { status: 'refused', reason: verdict.text };
          }
          return refuse(message, message.userId, verdict.text);
        }
        const agent =
          settings.agent && options.agents.has(settings.agent) ? settings.agent : options.defaultAgent;
        const runId = newId();
        const conversation = {
          platform: message.platform,
          tenantId: message.tenantId,
          channelId: message.channelId,
          threadId: message.threadId,
        };
        await Promise.all([
          runs.create({
            runId,
            conversation,
            conversationKey: key,
            requestedBy: message.userId,
            agent,
            text,
            eventId: message.eventId,
            createdAt: clock.now(),
          }),
          flags.markActive(key),
          // In the same write as the record: a lane item whose record failed to save is dropped
          // by the worker as a run it does not know, and the sender gets the refusal either way.
          queue.enqueue({
            kind: 'start',
            itemId: `start:${runId}`,
            runId,
            conversationKey: key,
            conversation,
          }),
        ]);
        await surface.showWorking?.(message);
        return { status: 'queued', runId };
      }),

    handleAction: (action, clicker = {}) =>
      guarded(action, action.userId, async () => {
        if (action.kind === 'approval') {
          return decideApproval(action, clicker, { ...options, refuse });
        }
        if (action.kind === 'budget_request') {
          if (!options.budgets) return refuse(action, action.userId, 'Budgets are not kept here.');
          const request = await requestMoreBudget(action, { ...options, gate: options.budgets });
          if (!request.posted) return refuse(action, action.userId, request.text);
          await surface.postNotice(action, request.text, action.userId);
          return { status: 'done', detail: request.text };
        }
        return resolveEscalation(action, clicker, { ...options, refuse, newId });
      }),
  };
}
