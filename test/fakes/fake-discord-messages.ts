/**
 * Message and thread payloads for the fake Discord: what REST answers when the bot posts, and what the
 * gateway dispatches when a "user" writes. Built from the world model in fake-discord-payloads.ts and
 * typed with discord-api-types (re-exported by discord.js).
 */
import {
  type APIGuildMemberNoUser,
  type APIMessage,
  type APIThreadChannel,
  type APIUser,
  type ChannelFlags,
  ChannelType,
  GatewayIntentBits,
  type GatewayMessageCreateDispatchData,
  type MessageFlags,
  type MessageType,
} from 'discord.js';
import { isRecord } from './fake-discord-gateway.ts';
import type { DiscordWorld, UserInput } from './fake-discord-payloads.ts';

export interface DispatchMessageInput {
  id?: string;
  channel_id: string;
  /** Default: the fake guild. `null`: a DM (channel_type 1). */
  guild_id?: string | null;
  author: UserInput;
  content: string;
  mentions?: Array<{ id: string }>;
  type?: 0;
  /** Makes it a reply (type 19) to that message. */
  message_reference?: { message_id: string };
}

const str = (value: unknown): string | undefined => (typeof value === 'string' ? value : undefined);

/**
 * A message authored by the bot from a create/edit body (`content`, `embeds`, `components`, `flags`,
 * `message_reference`); with `base` it is an edit of that message. Stored in the world either way.
 */
export function botMessage(
  world: DiscordWorld,
  channelId: string,
  body: Record<string, unknown>,
  base?: APIMessage,
): APIMessage {
  const reference = isRecord(body.message_reference) ? body.message_reference : undefined;
  const referenceId = str(reference?.message_id);
  const message: APIMessage = {
    ...base,
    id: base?.id ?? world.nextId(),
    channel_id: channelId,
    author: base?.author ?? world.botUser,
    content: str(body.content) ?? base?.content ?? '',
    timestamp: base?.timestamp ?? new Date().toISOString(),
    edited_timestamp: base ? new Date().toISOString() : null,
    tts: body.tts === true,
    mention_everyone: false,
    mentions: base?.mentions ?? [],
    mention_roles: [],
    attachments: base?.attachments ?? [],
    embeds: Array.isArray(body.embeds) ? (body.embeds as APIMessage['embeds']) : (base?.embeds ?? []),
    components: Array.isArray(body.components)
      ? (body.components as NonNullable<APIMessage['components']>)
      : (base?.components ?? []),
    pinned: false,
    type: referenceId === undefined ? (base?.type ?? 0) : 19,
    flags: (typeof body.flags === 'number' ? body.flags : (base?.flags ?? 0)) as MessageFlags,
    ...(referenceId !== undefined && {
      message_reference: {
        type: 0,
        message_id: referenceId,
        channel_id: channelId,
        ...(world.channel(channelId).type !== ChannelType.DM && { guild_id: world.guildId }),
      },
      referenced_message: world.messages.get(referenceId) ?? null,
    }),
  };
  // Not part of a real message: echoed so tests can read what the client asked for off the result.
  if (body.allowed_mentions !== undefined) Reflect.set(message, 'allowed_mentions', body.allowed_mentions);
  world.messages.set(message.id, message);
  return message;
}

/** A thread in the guild; started from a message it takes the message's id, as on Discord. */
export function createThread(
  world: DiscordWorld,
  parentId: string,
  body: Record<string, unknown>,
  id: string,
): APIThreadChannel {
  const thread = {
    id,
    // Discord's default when `type` is omitted is a private thread; discord.js always sends one.
    type: (typeof body.type === 'number' ? body.type : ChannelType.PrivateThread) as APIThreadChannel['type'],
    guild_id: world.guildId,
    parent_id: parentId,
    owner_id: world.botUser.id,
    name: str(body.name) ?? 'thread',
    last_message_id: null,
    rate_limit_per_user: 0,
    message_count: 0,
    member_count: 1,
    total_message_sent: 0,
    flags: 0 as ChannelFlags,
    thread_metadata: {
      archived: false,
      auto_archive_duration: (typeof body.auto_archive_duration === 'number'
        ? body.auto_archive_duration
        : 1440) as 60,
      archive_timestamp: new Date().toISOString(),
      locked: false,
    },
  } satisfies APIThreadChannel;
  world.channels.set(thread.id, thread);
  return thread;
}

/** MESSAGE_CREATE data for a user's message; the author becomes a guild member (or gets a DM channel). */
export function incomingMessage(
  world: DiscordWorld,
  input: DispatchMessageInput,
): GatewayMessageCreateDispatchData {
  const guildId = input.guild_id === undefined ? world.guildId : input.guild_id;
  const author = world.rememberUser(input.author);
  if (guildId !== null && !world.joinedAt.has(author.id))
    world.joinedAt.set(author.id, new Date().toISOString());
  const channel =
    guildId === null ? world.dmChannelFor(author, input.channel_id) : world.channel(input.channel_id);
  // Guild messages carry the author's and each mentioned user's member object, minus `user`.
  const memberOf = (user: APIUser): { member?: APIGuildMemberNoUser } => {
    const found = guildId === null ? undefined : world.member(user.id);
    if (!found) return {};
    const { user: _user, ...member } = found;
    return { member: { ...member, joined_at: member.joined_at ?? new Date().toISOString() } };
  };
  const reference = input.message_reference;
  const payload: GatewayMessageCreateDispatchData = {
    id: input.id ?? world.nextId(),
    channel_id: input.channel_id,
    ...(guildId !== null && { guild_id: guildId }),
    author,
    ...memberOf(author),
    content: input.content,
    timestamp: new Date().toISOString(),
    edited_timestamp: null,
    tts: false,
    mention_everyone: false,
    mentions: (input.mentions ?? []).map(({ id }) => {
      const user = world.users.get(id) ?? world.rememberUser({ id });
      return { ...user, ...memberOf(user) };
    }),
    mention_roles: [],
    attachments: [],
    embeds: [],
    components: [],
    pinned: false,
    type: (reference ? 19 : (input.type ?? 0)) as MessageType,
    flags: 0 as MessageFlags,
    // discord.js 14.28 only builds an uncached DM channel when the event says it is one.
    channel_type: channel.type as NonNullable<GatewayMessageCreateDispatchData['channel_type']>,
    ...(reference && {
      message_reference: { type: 0, message_id: reference.message_id, channel_id: input.channel_id },
      referenced_message: world.messages.get(reference.message_id) ?? null,
    }),
  };
  world.messages.set(payload.id, payload);
  return payload;
}

/**
 * What one session receives of a MESSAGE_CREATE: nothing without GuildMessages / DirectMessages, and
 * without Message Content a guild message that neither mentions the bot nor is its own comes blanked.
 */
export function messageCreateFor(
  world: DiscordWorld,
  payload: GatewayMessageCreateDispatchData,
  intents: number,
): GatewayMessageCreateDispatchData | undefined {
  const inGuild = payload.guild_id !== undefined;
  const needed = inGuild ? GatewayIntentBits.GuildMessages : GatewayIntentBits.DirectMessages;
  if ((intents & needed) === 0) return undefined;
  const visible =
    (intents & GatewayIntentBits.MessageContent) !== 0 ||
    !inGuild ||
    payload.author.id === world.botUser.id ||
    payload.mentions.some((user) => user.id === world.botUser.id);
  return visible ? payload : { ...payload, content: '', embeds: [], attachments: [], components: [] };
}
