import {
  ActionRowBuilder,
  AllowedMentionsTypes,
  type APIActionRowComponent,
  type APIAllowedMentions,
  type APIButtonComponent,
  type APIEmbed,
  ButtonBuilder,
  ButtonStyle,
  EmbedBuilder,
  type MessageMentionOptions,
  type MessageMentionTypes,
} from 'discord.js';
import type { PendingApproval } from '../../src/core/run-state.ts';
import type { ApprovalOutcome, EscalationNotice, EscalationResolution } from '../../src/core/surface.ts';
import {
  type CustomIdKind,
  configuredMentions,
  customId,
  DISCORD_MESSAGE_LIMIT,
  discordTime,
  type IsRole,
  inlineCode,
  modelText,
  NO_MENTIONS,
  neutralizeMentions,
  plainText,
  truncateText,
  userMention,
} from './discord-format.ts';

/** Embed limits Discord rejects a message over (the builders check all but the total). */
export const DISCORD_EMBED_LIMITS = {
  title: 256,
  description: 4096,
  fieldValue: 1024,
  fields: 25,
  total: 6000,
} as const;

/**
 * A message body that `channel.send`, `message.edit` and `interaction.update` all accept. `content`
 * is always set, so an edit replaces the old text (and its mentions) instead of keeping it.
 */
export interface DiscordMessagePayload {
  readonly content: string;
  readonly embeds: readonly APIEmbed[];
  readonly components: readonly APIActionRowComponent<APIButtonComponent>[];
  readonly allowedMentions: MessageMentionOptions;
}

/** The same message as the raw REST body (`POST`/`PATCH /channels/{id}/messages`). */
export interface DiscordApiBody {
  readonly content: string;
  readonly embeds: APIEmbed[];
  readonly components: APIActionRowComponent<APIButtonComponent>[];
  readonly allowed_mentions: APIAllowedMentions;
}

const MENTION_TYPES: Record<MessageMentionTypes, AllowedMentionsTypes> = {
  everyone: AllowedMentionsTypes.Everyone,
  roles: AllowedMentionsTypes.Role,
  users: AllowedMentionsTypes.User,
};

/**
 * For callers that post through `client.rest` instead of a channel object. allowed_mentions is
 * always present, so a message sent this way never falls back to Discord's "ping everything".
 */
export function toApiBody(payload: DiscordMessagePayload): DiscordApiBody {
  const { parse = [], users, roles, repliedUser } = payload.allowedMentions;
  return {
    content: payload.content,
    embeds: [...payload.embeds],
    components: [...payload.components],
    allowed_mentions: {
      parse: parse.map((type) => MENTION_TYPES[type]),
      ...(users === undefined ? {} : { users: [...users] }),
      ...(roles === undefined ? {} : { roles: [...roles] }),
      replied_user: repliedUser ?? false,
    },
  };
}

export interface ApprovalCardOptions {
  /** User and role ids from config allowed to decide; they are pinged, and nobody else is. */
  readonly approvers: readonly string[];
  readonly now: number;
  readonly isRole: IsRole;
}

export type EscalationCardOptions = Pick<ApprovalCardOptions, 'now' | 'isRole'>;

/** What the resolved card needs; without reason and summary it shows only the outcome. */
export type ResolvedEscalation = Pick<EscalationNotice, 'runId'> &
  Partial<Pick<EscalationNotice, 'reason' | 'summary'>>;

const COLORS = {
  pending: 0xf1c40f,
  approved: 0x2ecc71,
  rejected: 0xe74c3c,
  closed: 0x95a5a6,
  alert: 0xe67e22,
} as const;

/** The sum Discord checks against the 6000-character embed total. */
export function embedLength(embed: APIEmbed): number {
  const fields = (embed.fields ?? []).reduce((sum, f) => sum + f.name.length + f.value.length, 0);
  const { title = '', description = '', footer, author } = embed;
  return title.length + description.length + fields + (footer?.text.length ?? 0) + (author?.name.length ?? 0);
}

type Field = { readonly name: string; readonly value: string; readonly inline?: boolean };

function embed(parts: {
  readonly title: string;
  readonly description?: string;
  readonly fields: readonly Field[];
  readonly color: number;
  readonly footer: string;
  readonly at: number;
}): APIEmbed {
  const builder = new EmbedBuilder()
    .setTitle(truncateText(parts.title, DISCORD_EMBED_LIMITS.title))
    .setColor(parts.color)
    .setFooter({ text: truncateText(parts.footer, 200) })
    .setTimestamp(parts.at);
  if (parts.description) builder.setDescription(parts.description);
  builder.addFields(
    parts.fields.map((f) => ({
      name: f.name,
      value: truncateText(f.value, DISCORD_EMBED_LIMITS.fieldValue),
      inline: f.inline ?? false,
    })),
  );
  const json = builder.toJSON();
  // The per-part caps below keep every card under the total; this catches a future change that doesn't.
  if (embedLength(json) > DISCORD_EMBED_LIMITS.total) throw new RangeError('embed over 6000 characters');
  return json;
}

/** One row of buttons for the same approval or run: [label, kind, style] each. */
export function buttons(
  id: string,
  ...row: readonly (readonly [string, CustomIdKind, ButtonStyle])[]
): APIActionRowComponent<APIButtonComponent> {
  const built = row.map(([label, kind, style]) =>
    new ButtonBuilder().setLabel(label).setCustomId(customId(kind, id)).setStyle(style),
  );
  return new ActionRowBuilder<ButtonBuilder>().addComponents(built).toJSON();
}

/** Pretty, masked arguments in a code block that the arguments themselves cannot close. */
function argumentsValue(args: unknown): string {
  let json: string;
  try {
    json = JSON.stringify(args, null, 2) ?? String(args);
  } catch {
    json = String(args);
  }
  const head = '```json\n';
  const tail = '\n```';
  // A zero-width space between backticks keeps a ``` inside an argument from ending the block.
  const body = neutralizeMentions(json).replace(/```/g, '`\u200b`\u200b`');
  return head + truncateText(body, DISCORD_EMBED_LIMITS.fieldValue - head.length - tail.length) + tail;
}

/**
 * The approval embed. Caps: title 256 + reason 2500 + arguments 1024 + approvers 1024 + short
 * fields and footer (< 800) stay under the 6000 total.
 */
function approvalEmbed(approval: PendingApproval, extra: readonly Field[], color: number): APIEmbed {
  return embed({
    title: `Approval needed: ${plainText(approval.toolName, 200)}`,
    description: modelText(approval.reason, 2500),
    fields: [
      { name: 'Arguments', value: argumentsValue(approval.displayArgs) },
      { name: 'Risk', value: plainText(approval.risk, 50), inline: true },
      { name: 'Requested by', value: userMention(approval.requestedBy), inline: true },
      { name: 'Agent', value: plainText(approval.agent, 100), inline: true },
      ...extra,
    ],
    color,
    footer: `Approval ${approval.approvalId} · run ${approval.runId}`,
    at: approval.createdAt,
  });
}

const approvalHeadline = (approval: PendingApproval): string =>
  `✋ **Approval needed:** Steward wants to run ${inlineCode(approval.toolName, 100)}`;

/** The live approval request: what, why, the masked arguments, and Approve/Reject buttons. */
export function approvalCard(approval: PendingApproval, options: ApprovalCardOptions): DiscordMessagePayload {
  const approvers = configuredMentions(options.approvers, options.isRole);
  const { expiresAt } = approval;
  const expires =
    expiresAt > options.now ? `${discordTime(expiresAt, 'R')} (${discordTime(expiresAt, 'f')})` : 'Expired';
  return {
    // Mentions only notify from content, never from an embed, so the approvers go here.
    content: truncateText(
      approvers.text ? `${approvalHeadline(approval)} · ${approvers.text}` : approvalHeadline(approval),
      DISCORD_MESSAGE_LIMIT,
    ),
    embeds: [
      approvalEmbed(
        approval,
        [
          { name: 'Who may approve', value: approvers.text || 'an admin' },
          { name: 'Expires', value: expires, inline: true },
        ],
        COLORS.pending,
      ),
    ],
    components: [
      buttons(
        approval.approvalId,
        ['Approve', 'approve', ButtonStyle.Success],
        ['Reject', 'reject', ButtonStyle.Danger],
      ),
    ],
    allowedMentions: approvers.allowed,
  };
}

/** Shown right after a click, so nobody clicks again while the decision is recorded. */
export function approvalHandlingCard(approval: PendingApproval, byUserId: string): DiscordMessagePayload {
  const line = `⏳ Handling ${userMention(byUserId)}'s decision…`;
  return {
    content: approvalHeadline(approval),
    embeds: [approvalEmbed(approval, [{ name: 'Status', value: line }], COLORS.pending)],
    components: [],
    allowedMentions: NO_MENTIONS,
  };
}

/** The decided request: buttons removed and the outcome recorded on the card itself. */
export function approvalDecidedCard(
  approval: PendingApproval,
  outcome: ApprovalOutcome,
): DiscordMessagePayload {
  const when = discordTime(outcome.at, 'f');
  const [line, color] =
    outcome.decision === 'approve'
      ? [`✅ Approved by ${userMention(outcome.by)} at ${when}`, COLORS.approved]
      : outcome.decision === 'reject'
        ? [`❌ Rejected by ${userMention(outcome.by)} at ${when}`, COLORS.rejected]
        : [`⌛ Expired at ${when}`, COLORS.closed];
  return {
    content: `${line} · ${inlineCode(approval.toolName, 100)}`,
    embeds: [approvalEmbed(approval, [{ name: 'Decision', value: line }], color)],
    components: [],
    // Edits do not notify, but the decider's mention must not ping if this is ever sent fresh.
    allowedMentions: NO_MENTIONS,
  };
}

/** Reason ≤ 1000 and the summary fill the 4096 description; with title and footer < 6000. */
function escalationDescription(escalation: ResolvedEscalation): string | undefined {
  const reason = escalation.reason ? `**Why it stopped**\n${modelText(escalation.reason, 1000)}` : '';
  const head = '**What was tried**\n';
  const room = DISCORD_EMBED_LIMITS.description - reason.length - head.length - 2;
  const summary = escalation.summary ? `${head}${modelText(escalation.summary, room)}` : '';
  const description = [reason, summary].filter(Boolean).join('\n\n');
  return description || undefined;
}

function escalationEmbed(
  escalation: ResolvedEscalation,
  fields: readonly Field[],
  color: number,
  at: number,
): APIEmbed {
  const description = escalationDescription(escalation);
  return embed({
    title: '🚨 Steward needs a person',
    ...(description === undefined ? {} : { description }),
    fields,
    color,
    footer: `Run ${escalation.runId}`,
    at,
  });
}

/** A run handed to people: why it stopped, what was tried, and what they can do next. */
export function escalationCard(
  escalation: EscalationNotice,
  options: EscalationCardOptions,
): DiscordMessagePayload {
  const who = configuredMentions(escalation.mentions, options.isRole);
  const headline = '🚨 **Steward needs a person**';
  return {
    content: truncateText(who.text ? `${headline} · ${who.text}` : headline, DISCORD_MESSAGE_LIMIT),
    embeds: [escalationEmbed(escalation, [], COLORS.alert, options.now)],
    components: [
      buttons(
        escalation.runId,
        ['Take over', 'take_over', ButtonStyle.Primary],
        ['Retry', 'retry', ButtonStyle.Secondary],
        ['Dismiss', 'dismiss', ButtonStyle.Secondary],
      ),
    ],
    allowedMentions: who.allowed,
  };
}

/** The escalation after someone chose; a take-over keeps a Release button to hand back. */
export function escalationResolvedCard(
  escalation: ResolvedEscalation,
  resolution: EscalationResolution,
): DiscordMessagePayload {
  const by = userMention(resolution.by);
  const when = discordTime(resolution.at, 'f');
  const lines: Record<EscalationResolution['choice'], string> = {
    take_over: `🙋 Taken over by ${by} at ${when}: Steward stays quiet in this thread`,
    retry: `🔁 Retried by ${by} at ${when}`,
    dismiss: `🗑️ Dismissed by ${by} at ${when}`,
    release: `↩️ Released by ${by} at ${when}: Steward answers here again`,
  };
  const line = lines[resolution.choice];
  const color = resolution.choice === 'take_over' ? COLORS.alert : COLORS.closed;
  return {
    content: line,
    embeds: [escalationEmbed(escalation, [{ name: 'Outcome', value: line }], color, resolution.at)],
    components:
      resolution.choice === 'take_over'
        ? [buttons(escalation.runId, ['Release', 'release', ButtonStyle.Secondary])]
        : [],
    allowedMentions: NO_MENTIONS,
  };
}
