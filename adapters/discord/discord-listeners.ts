import {
  type ButtonInteraction,
  type ChatInputCommandInteraction,
  type Client,
  type Interaction,
  type Message,
  MessageFlags,
  PermissionFlagsBits,
} from 'discord.js';
import type { CommandRouter } from '../../src/core/commands/command-types.ts';
import {
  type ButtonAction,
  type ConversationRef,
  conversationKey,
  type EscalationChoice,
  parseBudgetLimitId,
} from '../../src/core/conversation.ts';
import type { ConversationService } from '../../src/core/conversation-service.ts';
import type { Logger } from '../../src/core/ports.ts';
import type { MessageRefStore } from '../../src/core/stores.ts';
import { stewardCommandText } from './discord-commands.ts';
import { type CustomIdKind, parseCustomId } from './discord-format.ts';
import type { InteractionReplies } from './discord-surface.ts';

export interface DiscordListenerOptions {
  readonly client: Client;
  readonly service: ConversationService;
  readonly router: CommandRouter;
  readonly refs: MessageRefStore;
  readonly replies: InteractionReplies;
  readonly logger: Logger;
}

/** DMs have no guild; the core still needs a tenant, and this one cannot clash with a guild id. */
export const DM_TENANT = '@me';

const ESCALATION_CHOICES: Readonly<Partial<Record<CustomIdKind, EscalationChoice>>> = {
  take_over: 'take_over',
  release: 'release',
  retry: 'retry',
  dismiss: 'dismiss',
};

/**
 * Turns discord.js events into the core's normalized input. Every message and interaction id is
 * claimed in Redis before anything is done with it, so several processes logged in with the same
 * token act on each event once; interactions are acknowledged at once (Discord's 3 seconds).
 */
export function registerDiscordListeners(options: DiscordListenerOptions): void {
  const { client, logger } = options;

  client.on('messageCreate', (message) => {
    onMessage(message, options).catch((error: unknown) =>
      logger.error({ err: error }, 'a Discord message failed'),
    );
  });
  client.on('interactionCreate', (interaction) => {
    onInteraction(interaction, options).catch((error: unknown) =>
      logger.error({ err: error }, 'a Discord interaction failed'),
    );
  });
}

async function onMessage(message: Message, options: DiscordListenerOptions): Promise<void> {
  const { client, service, refs } = options;
  const botId = client.user?.id;
  if (!botId || message.author.bot || message.author.id === botId || message.system) return;
  const text = message.content
    .replace(new RegExp(`<@!?${botId}>`, 'g'), '')
    .replace(/\s+/g, ' ')
    .trim();
  const eventId = `discord:${message.id}`;

  if (!message.guildId) {
    if (!(await service.claim(eventId))) return;
    const ref: ConversationRef = {
      platform: 'discord',
      tenantId: DM_TENANT,
      channelId: message.channelId,
      threadId: null,
    };
    await service.handleMessage(
      { ...ref, userId: message.author.id, text, isDirect: true, eventId },
      { claimed: true },
    );
    return;
  }

  const channel = message.channel;
  const mentioned = message.mentions.users.has(botId);
  if (channel.isThread()) {
    const ref: ConversationRef = {
      platform: 'discord',
      tenantId: message.guildId,
      channelId: channel.parentId ?? channel.id,
      threadId: channel.id,
    };
    if (!mentioned && !(await service.isFollowUp(ref))) return;
    if (!(await service.claim(eventId))) return;
    await service.handleMessage(
      { ...ref, userId: message.author.id, text, isDirect: false, eventId },
      { claimed: true },
    );
    return;
  }
  if (!mentioned || !(await service.claim(eventId))) return;

  // The answer goes in a thread on the mention when the channel allows one, else as a reply to it.
  let ref: ConversationRef = {
    platform: 'discord',
    tenantId: message.guildId,
    channelId: message.channelId,
    threadId: null,
  };
  try {
    const thread = await message.startThread({ name: threadName(text) });
    ref = { ...ref, threadId: thread.id };
  } catch {
    await refs.put(`discord:reply:${conversationKey(ref)}`, message.id, 24 * 60 * 60);
  }
  await service.handleMessage(
    { ...ref, userId: message.author.id, text, isDirect: false, eventId },
    { claimed: true },
  );
}

async function onInteraction(interaction: Interaction, options: DiscordListenerOptions): Promise<void> {
  const { service } = options;
  if (interaction.isButton()) {
    if (!(await service.claim(`discord:interaction:${interaction.id}`))) return;
    // Acknowledged before anything slow: the card is updated later through the channel, which does
    // not depend on the interaction token (it expires after 15 minutes).
    await interaction.deferUpdate();
    await onButton(interaction, options);
    return;
  }
  if (interaction.isChatInputCommand() && interaction.commandName === 'steward') {
    if (!(await service.claim(`discord:interaction:${interaction.id}`))) return;
    await interaction.deferReply({ flags: MessageFlags.Ephemeral });
    await onCommand(interaction, options);
  }
}

function toAction(
  parsed: { readonly kind: CustomIdKind; readonly id: string },
  base: Omit<ButtonAction, 'kind' | 'approvalId' | 'decision' | 'runId' | 'choice' | 'limit'>,
): ButtonAction | undefined {
  if (parsed.kind === 'approve' || parsed.kind === 'reject') {
    return { ...base, kind: 'approval', approvalId: parsed.id, decision: parsed.kind };
  }
  if (parsed.kind === 'budget_request') {
    const limit = parseBudgetLimitId(parsed.id);
    return limit ? { ...base, kind: 'budget_request', limit } : undefined;
  }
  return {
    ...base,
    kind: 'escalation',
    runId: parsed.id,
    choice: ESCALATION_CHOICES[parsed.kind] ?? 'dismiss',
  };
}

async function onButton(interaction: ButtonInteraction, options: DiscordListenerOptions): Promise<void> {
  const parsed = parseCustomId(interaction.customId);
  if (!parsed) {
    await interaction.followUp({
      content: 'That button is not one of Steward’s.',
      flags: MessageFlags.Ephemeral,
    });
    return;
  }
  const channel = interaction.channel;
  const inThread = channel?.isThread() ?? false;
  const base = {
    platform: 'discord',
    tenantId: interaction.guildId ?? DM_TENANT,
    channelId:
      inThread && channel?.isThread() ? (channel.parentId ?? interaction.channelId) : interaction.channelId,
    threadId: inThread ? interaction.channelId : null,
    userId: interaction.user.id,
    eventId: `discord:interaction:${interaction.id}`,
  };
  const action = toAction(parsed, base);
  if (!action) {
    await interaction.followUp({
      content: 'That button is not one of Steward’s.',
      flags: MessageFlags.Ephemeral,
    });
    return;
  }
  const clicker = {
    memberships: rolesOf(interaction),
    isPlatformAdmin: interaction.memberPermissions?.has(PermissionFlagsBits.ManageGuild) ?? false,
  };
  // A refusal the core posts for this user is sent as an ephemeral follow-up of this interaction.
  await options.replies.during(interaction.user.id, base.threadId ?? base.channelId, interaction, () =>
    options.service.handleAction(action, clicker),
  );
}

async function onCommand(
  interaction: ChatInputCommandInteraction,
  options: DiscordListenerOptions,
): Promise<void> {
  const { options: values } = interaction;
  const text = stewardCommandText({
    group: values.getSubcommandGroup(false),
    subcommand: values.getSubcommand(false),
    string: (name) => values.getString(name, false),
    boolean: (name) => values.getBoolean(name, false),
    // The raw id: a user option without resolved data (an old client) still names the person.
    user: (name) => {
      const value = values.get(name, false)?.value;
      return typeof value === 'string' ? value : null;
    },
  });
  const channel = interaction.channel;
  const channelId = channel?.isThread() ? (channel.parentId ?? interaction.channelId) : interaction.channelId;
  const reply = await options.router.handle({
    channel: { platform: 'discord', tenantId: interaction.guildId ?? DM_TENANT, channelId, threadId: null },
    userId: interaction.user.id,
    text,
    // Checked here again: server admins can change who sees the command.
    isPlatformAdmin: interaction.memberPermissions?.has(PermissionFlagsBits.ManageGuild) ?? false,
  });
  await interaction.editReply({ content: reply.text, allowedMentions: { parse: [] } });
}

function rolesOf(interaction: ButtonInteraction): string[] {
  const member = interaction.member;
  if (!member) return [];
  const roles = member.roles;
  return Array.isArray(roles) ? [...roles] : [...roles.cache.keys()];
}

function threadName(text: string): string {
  const name = text.slice(0, 60).trim();
  return name === '' ? 'Steward' : name;
}
