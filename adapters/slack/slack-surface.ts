import type { KnownBlock } from '@slack/types';
import type { WebClient } from '@slack/web-api';
import { type ConversationRef, conversationKey } from '../../src/core/conversation.ts';
import { isRecord } from '../../src/core/is-record.ts';
import type { Logger } from '../../src/core/ports.ts';
import type { MessageRefStore } from '../../src/core/stores.ts';
import type { Surface } from '../../src/core/surface.ts';
import {
  adminRequestMessage,
  approvalCard,
  approvalDecidedCard,
  approvalPendingCard,
  budgetRefusalCard,
  escalationCard,
  escalationResolvedCard,
  statusText,
} from './slack-blocks.ts';
import { escapeSlackText, splitForSlack, toSlackMrkdwn } from './slack-format.ts';

export interface SlackSurfaceOptions {
  readonly client: WebClient;
  readonly refs: MessageRefStore;
  readonly logger: Logger;
  /** Who may approve, as shown on approval cards (Slack user or user-group ids). */
  readonly approvers: readonly string[];
  /** The shortest gap between two updates of one status message (Slack allows about 1 a second). */
  readonly progressIntervalMs?: number;
  readonly now?: () => number;
}

/** A card or status message: enough to update it from any process. */
interface MessageRef {
  readonly channel: string;
  readonly ts: string;
}

const REF_TTL_SECONDS = 8 * 24 * 60 * 60;
const STATUS_TTL_SECONDS = 24 * 60 * 60;

/**
 * The Surface on Slack's Web API. Runs show a status message in the thread that is updated as
 * tools run (throttled) and replaced by the answer; approval and escalation cards are Block Kit
 * messages whose buttons are replaced by the outcome. Every post is plain-text safe: model text is
 * converted to mrkdwn with every mention escaped.
 */
export function createSlackSurface(options: SlackSurfaceOptions): Surface {
  const { client, refs, logger } = options;
  const now = options.now ?? Date.now;
  const interval = options.progressIntervalMs ?? 1_200;
  const lastProgress = new Map<string, number>();
  const pendingProgress = new Map<string, ReturnType<typeof setTimeout>>();

  /**
   * Writes to one thread's status message run one after another: a progress update that Slack
   * rate-limits and the client retries must land before the answer, never after it.
   */
  const lanes = new Map<string, Promise<unknown>>();
  const inOrder = <T>(key: string, work: () => Promise<T>): Promise<T> => {
    const next = (lanes.get(key) ?? Promise.resolve()).then(work, work);
    const settled = next.catch(() => undefined);
    lanes.set(key, settled);
    void settled.then(() => {
      if (lanes.get(key) === settled) lanes.delete(key);
    });
    return next;
  };

  const threadOf = (target: ConversationRef) => (target.threadId ? { thread_ts: target.threadId } : {});
  const statusKey = (target: ConversationRef) => `slack:status:${conversationKey(target)}`;

  const remember = (key: string, ref: MessageRef, ttl = REF_TTL_SECONDS) =>
    refs.put(key, JSON.stringify(ref), ttl);
  const recall = async (key: string): Promise<MessageRef | undefined> => {
    const raw = await refs.get(key);
    if (!raw) return undefined;
    const parsed: unknown = JSON.parse(raw);
    return isMessageRef(parsed) ? parsed : undefined;
  };

  const post = async (
    target: ConversationRef,
    text: string,
    blocks?: readonly KnownBlock[],
  ): Promise<MessageRef> => {
    const response = await client.chat.postMessage({
      channel: target.channelId,
      text,
      ...(blocks ? { blocks: [...blocks] } : {}),
      ...threadOf(target),
      unfurl_links: false,
      unfurl_media: false,
    });
    return { channel: response.channel ?? target.channelId, ts: response.ts ?? '' };
  };

  const update = (ref: MessageRef, text: string, blocks?: readonly KnownBlock[]) =>
    client.chat.update({ channel: ref.channel, ts: ref.ts, text, blocks: [...(blocks ?? [])] });

  /** The status message, if the run still has one, is taken over by the final message. */
  const takeStatus = async (target: ConversationRef): Promise<MessageRef | undefined> => {
    const key = statusKey(target);
    clearTimeout(pendingProgress.get(key));
    pendingProgress.delete(key);
    const ref = await recall(key);
    if (ref) await refs.delete(key);
    return ref;
  };

  const replaceStatusOrPost = (target: ConversationRef, text: string, blocks?: readonly KnownBlock[]) =>
    inOrder(statusKey(target), async () => {
      const status = await takeStatus(target);
      if (status) {
        await update(status, text, blocks);
        return status;
      }
      return post(target, text, blocks);
    });

  return {
    async showWorking(target) {
      const ref = await post(target, 'Working on it…', statusText('Working on it…'));
      await remember(statusKey(target), ref, STATUS_TTL_SECONDS);
    },

    async showProgress(target, text) {
      const key = statusKey(target);
      const send = () =>
        inOrder(key, async () => {
          pendingProgress.delete(key);
          lastProgress.set(key, now());
          // Gone once the answer (or a card) has taken the status message over.
          const ref = await recall(key);
          if (ref) await update(ref, text, statusText(text));
        });
      const wait = (lastProgress.get(key) ?? 0) + interval - now();
      clearTimeout(pendingProgress.get(key));
      if (wait <= 0) return send();
      // Within the interval only the latest text is kept, and sent when the interval ends.
      pendingProgress.set(
        key,
        setTimeout(() => {
          send().catch((error: unknown) =>
            logger.warn({ err: error }, 'could not update the status message'),
          );
        }, wait),
      );
    },

    async postAnswer(target, text) {
      const [first = '', ...rest] = splitForSlack(toSlackMrkdwn(text));
      await replaceStatusOrPost(target, first);
      for (const chunk of rest) await post(target, chunk);
    },

    async postNotice(target, text, onlyFor) {
      const safe = escapeSlackText(text);
      if (onlyFor) {
        await client.chat.postEphemeral({
          channel: target.channelId,
          user: onlyFor,
          text: safe,
          ...threadOf(target),
        });
        return;
      }
      await replaceStatusOrPost(target, safe);
    },

    async postBudgetRefusal(target, refusal, onlyFor) {
      const card = budgetRefusalCard(refusal);
      await client.chat.postEphemeral({
        channel: target.channelId,
        user: onlyFor,
        text: card.text,
        blocks: card.blocks,
        ...threadOf(target),
      });
    },

    async postAdminRequest(target, request) {
      const message = adminRequestMessage(request);
      await client.chat.postMessage({
        channel: target.channelId,
        text: message.text,
        blocks: message.blocks,
        ...threadOf(target),
      });
    },

    async requestApproval(target, approval) {
      const card = approvalCard(approval, { approvers: options.approvers, now: now() });
      const ref = await replaceStatusOrPost(target, card.text, card.blocks);
      await remember(`slack:approval:${approval.approvalId}`, ref);
    },

    async showApprovalHandling(_target, approval, by) {
      const ref = await recall(`slack:approval:${approval.approvalId}`);
      const card = approvalPendingCard(approval, by);
      if (ref) await update(ref, card.text, card.blocks);
    },

    async showApprovalDecided(_target, approval, outcome) {
      const ref = await recall(`slack:approval:${approval.approvalId}`);
      const card = approvalDecidedCard(approval, outcome);
      if (ref) await update(ref, card.text, card.blocks);
    },

    async postEscalation(target, escalation) {
      const card = escalationCard(escalation, { now: now() });
      const ref = await replaceStatusOrPost(target, card.text, card.blocks);
      // The reason and summary travel with the reference, so the resolved card still shows them.
      const stored = { ...ref, reason: escalation.reason, summary: escalation.summary };
      await refs.put(`slack:escalation:${escalation.runId}`, JSON.stringify(stored), REF_TTL_SECONDS);
    },

    async showEscalationResolved(_target, runId, resolution) {
      const raw = await refs.get(`slack:escalation:${runId}`);
      const stored: unknown = raw ? JSON.parse(raw) : undefined;
      if (!isMessageRef(stored)) return;
      const context = {
        runId,
        ...(typeof stored.reason === 'string' ? { reason: stored.reason } : {}),
        ...(typeof stored.summary === 'string' || stored.summary === null ? { summary: stored.summary } : {}),
      };
      const card = escalationResolvedCard(context, resolution);
      await update(stored, card.text, card.blocks);
    },
  };
}

function isMessageRef(value: unknown): value is MessageRef & Record<string, unknown> {
  return isRecord(value) && typeof value.channel === 'string' && typeof value.ts === 'string';
}
