import { type ButtonInteraction, type Client, MessageFlags, Routes } from 'discord.js';
import { type ConversationRef, conversationKey } from '../../src/core/conversation.ts';
import { isRecord } from '../../src/core/is-record.ts';
import type { Logger } from '../../src/core/ports.ts';
import type { MessageRefStore } from '../../src/core/stores.ts';
import type { Surface } from '../../src/core/surface.ts';
import { adminRequestCard, budgetRefusalCard } from './discord-budget-cards.ts';
import {
  approvalCard,
  approvalDecidedCard,
  approvalHandlingCard,
  type DiscordMessagePayload,
  escalationCard,
  escalationResolvedCard,
  toApiBody,
} from './discord-cards.ts';
import { neutralizeMentions, splitForDiscord } from './discord-format.ts';

/**
 * Refusals the core posts while a click is being handled go back to the clicker as an ephemeral
 * follow-up of that click; Discord has no other way to show a message to one person.
 */
export interface InteractionReplies {
  during<T>(
    userId: string,
    channelId: string,
    interaction: ButtonInteraction,
    work: () => Promise<T>,
  ): Promise<T>;
  take(userId: string, channelId: string): ButtonInteraction | undefined;
}

export function createInteractionReplies(): InteractionReplies {
  const live = new Map<string, ButtonInteraction>();
  return {
    async during(userId, channelId, interaction, work) {
      const key = `${userId}:${channelId}`;
      live.set(key, interaction);
      try {
        return await work();
      } finally {
        live.delete(key);
      }
    },
    take: (userId, channelId) => live.get(`${userId}:${channelId}`),
  };
}

export interface DiscordSurfaceOptions {
  readonly client: Client;
  readonly refs: MessageRefStore;
  readonly replies: InteractionReplies;
  readonly logger: Logger;
  /** Approver and escalation ids from the config that are roles (the rest are users). */
  readonly isRole: (id: string) => boolean;
  readonly approvers: readonly string[];
  readonly now?: () => number;
}

const REF_TTL_SECONDS = 8 * 24 * 60 * 60;
const TYPING_INTERVAL_MS = 8_000;

/**
 * The Surface on Discord's REST API through discord.js's REST client. Everything is posted to the
 * channel (or the run's thread) rather than through interaction webhooks, so results that arrive
 * after an interaction token expired still reach the thread, from whichever process has them. Every
 * message sets allowed_mentions: model text can never ping @everyone, @here or a role.
 */
export function createDiscordSurface(options: DiscordSurfaceOptions): Surface {
  const { client, refs, logger } = options;
  const now = options.now ?? Date.now;
  const lastTyping = new Map<string, number>();

  const channelOf = (target: ConversationRef) => target.threadId ?? target.channelId;
  const send = async (
    target: ConversationRef,
    payload: DiscordMessagePayload,
  ): Promise<{ channel: string; id: string }> => {
    const channel = channelOf(target);
    const replyTo = target.threadId ? undefined : await refs.get(`discord:reply:${conversationKey(target)}`);
    const body = {
      ...toApiBody(payload),
      ...(replyTo ? { message_reference: { message_id: replyTo, fail_if_not_exists: false } } : {}),
    };
    const created: unknown = await client.rest.post(Routes.channelMessages(channel), { body });
    return { channel, id: isRecord(created) && typeof created.id === 'string' ? created.id : '' };
  };
  const edit = (ref: { channel: string; id: string }, payload: DiscordMessagePayload) =>
    client.rest.patch(Routes.channelMessage(ref.channel, ref.id), { body: toApiBody(payload) });
  const typing = async (target: ConversationRef) => {
    const channel = channelOf(target);
    if (now() - (lastTyping.get(channel) ?? 0) < TYPING_INTERVAL_MS) return;
    lastTyping.set(channel, now());
    await client.rest.post(Routes.channelTyping(channel));
  };
  const plain = (content: string): DiscordMessagePayload => ({
    content,
    embeds: [],
    components: [],
    allowedMentions: { parse: [] },
  });
  const remember = (key: string, ref: { channel: string; id: string }, extra: Record<string, unknown> = {}) =>
    refs.put(key, JSON.stringify({ ...ref, ...extra }), REF_TTL_SECONDS);
  const recall = async (
    key: string,
  ): Promise<({ channel: string; id: string } & Record<string, unknown>) | undefined> => {
    const raw = await refs.get(key);
    const value: unknown = raw ? JSON.parse(raw) : undefined;
    return isRecord(value) && typeof value.channel === 'string' && typeof value.id === 'string'
      ? { ...value, channel: value.channel, id: value.id }
      : undefined;
  };

  return {
    showWorking: typing,
    showProgress: async (target) => typing(target),

    async postAnswer(target, text) {
      for (const chunk of splitForDiscord(neutralizeMentions(text))) await send(target, plain(chunk));
      lastTyping.delete(channelOf(target));
    },

    async postNotice(target, text, onlyFor) {
      const interaction = onlyFor ? options.replies.take(onlyFor, channelOf(target)) : undefined;
      if (interaction) {
        await interaction.followUp({
          content: neutralizeMentions(text),
          flags: MessageFlags.Ephemeral,
          allowedMentions: { parse: [] },
        });
        return;
      }
      // Without an interaction Discord cannot show a message to one person: reply, pinging only them.
      const content = onlyFor ? `<@${onlyFor}> ${neutralizeMentions(text)}` : neutralizeMentions(text);
      const allowedMentions = onlyFor ? { parse: [], users: [onlyFor] } : { parse: [] };
      await send(target, { content, embeds: [], components: [], allowedMentions });
    },

    async postBudgetRefusal(target, refusal, onlyFor) {
      const interaction = options.replies.take(onlyFor, channelOf(target));
      if (interaction) {
        await interaction.followUp({
          content: neutralizeMentions(refusal.text),
          flags: MessageFlags.Ephemeral,
          allowedMentions: { parse: [] },
        });
        return;
      }
      await send(target, budgetRefusalCard(refusal, onlyFor));
    },

    async postAdminRequest(target, request) {
      await send(target, adminRequestCard(request, options.isRole));
    },

    async requestApproval(target, approval) {
      const card = approvalCard(approval, {
        approvers: options.approvers,
        now: now(),
        isRole: options.isRole,
      });
      await remember(`discord:approval:${approval.approvalId}`, await send(target, card));
    },

    async showApprovalHandling(_target, approval, by) {
      const ref = await recall(`discord:approval:${approval.approvalId}`);
      if (ref) await edit(ref, approvalHandlingCard(approval, by));
    },

    async showApprovalDecided(_target, approval, outcome) {
      const ref = await recall(`discord:approval:${approval.approvalId}`);
      if (ref) await edit(ref, approvalDecidedCard(approval, outcome));
    },

    async postEscalation(target, escalation) {
      const card = escalationCard(escalation, { now: now(), isRole: options.isRole });
      const ref = await send(target, card);
      await remember(`discord:escalation:${escalation.runId}`, ref, {
        reason: escalation.reason,
        summary: escalation.summary,
      });
    },

    async showEscalationResolved(_target, runId, resolution) {
      const ref = await recall(`discord:escalation:${runId}`);
      if (!ref) return;
      const context = {
        runId,
        ...(typeof ref.reason === 'string' ? { reason: ref.reason } : {}),
        ...(typeof ref.summary === 'string' ? { summary: ref.summary } : {}),
      };
      await edit(ref, escalationResolvedCard(context, resolution)).catch((error: unknown) =>
        logger.warn({ err: error, runId }, 'could not update the escalation card'),
      );
    },
  };
}
