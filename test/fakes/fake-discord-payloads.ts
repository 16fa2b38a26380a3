/**
 * The fake Discord's "world" (users, members, roles, channels, messages) and the payload builders both
 * the gateway and the REST side serve from it. Shapes follow discord-api-types (re-exported by discord.js)
 * so a payload missing a field the real API always sends fails typechecking here, not at runtime in
 * discord.js.
 */
import {
  type APIChannel,
  type APIDMChannel,
  type APIGuildMember,
  type APIMessage,
  type APIRole,
  type APITextChannel,
  type APIThreadChannel,
  type APIUser,
  type ChannelFlags,
  ChannelType,
  type GatewayGuildCreateDispatchData,
  GatewayIntentBits,
  type GuildMemberFlags,
  type GuildSystemChannelFlags,
  PermissionFlagsBits,
  type RoleFlags,
  type UserFlags,
} from 'discord.js';

/** Discord's epoch (2015-01-01) — snowflakes encode milliseconds since it in their top 42 bits. */
const DISCORD_EPOCH = 1_420_070_400_000n;

/** What a plain member may do, used for @everyone and for members without explicit permissions. */
export const DEFAULT_MEMBER_PERMISSIONS = (
  PermissionFlagsBits.ViewChannel |
  PermissionFlagsBits.SendMessages |
  PermissionFlagsBits.SendMessagesInThreads |
  PermissionFlagsBits.CreatePublicThreads |
  PermissionFlagsBits.ReadMessageHistory |
  PermissionFlagsBits.AddReactions |
  PermissionFlagsBits.EmbedLinks |
  PermissionFlagsBits.AttachFiles |
  PermissionFlagsBits.UseApplicationCommands
).toString();

/** The bot additionally manages threads and messages, so thread creation and edits are plausible. */
export const BOT_PERMISSIONS = (
  BigInt(DEFAULT_MEMBER_PERMISSIONS) |
  PermissionFlagsBits.ManageThreads |
  PermissionFlagsBits.ManageMessages
).toString();

export interface FakeDiscordMember {
  roles?: string[];
  /** Computed permission bitfield (decimal string) sent as `member.permissions` in interactions. */
  permissions?: string;
  username?: string;
}

export interface FakeDiscordRole {
  name?: string;
  permissions?: string;
}

export interface WorldOptions {
  botUserId: string;
  applicationId: string;
  guildId: string;
  ownerId: string;
  textChannelId: string;
  members: Record<string, FakeDiscordMember>;
  roles: Record<string, FakeDiscordRole>;
}

export interface UserInput {
  id: string;
  username?: string;
  bot?: boolean;
}

export interface DiscordWorld extends WorldOptions {
  readonly botUser: APIUser;
  readonly users: Map<string, APIUser>;
  readonly joinedAt: Map<string, string>;
  /** Guild channels: the text channel plus threads created through REST. */
  readonly channels: Map<string, APITextChannel | APIThreadChannel>;
  /** DM channels by channel id (opened via POST /users/@me/channels or seen in a dispatched DM). */
  readonly dmChannels: Map<string, APIDMChannel>;
  readonly messages: Map<string, APIMessage>;
  nextId(): string;
  rememberUser(input: UserInput): APIUser;
  /** A guild member payload, or undefined for users the guild does not know. */
  member(userId: string): APIGuildMember | undefined;
  memberPermissions(userId: string): string;
  channel(channelId: string): APIChannel;
  dmChannelFor(recipient: APIUser, channelId?: string): APIDMChannel;
  /** The guild as GUILD_CREATE carries it; members beyond the bot only with the GuildMembers intent. */
  guildCreate(intents: number): GatewayGuildCreateDispatchData;
}

export function createWorld(options: WorldOptions): DiscordWorld {
  let lastId = 0n;
  const nextId = (): string => {
    // Monotonic even within one millisecond: discord.js and Steward sort and compare ids.
    const fromClock = (BigInt(Date.now()) - DISCORD_EPOCH) << 22n;
    lastId = fromClock > lastId ? fromClock : lastId + 1n;
    return lastId.toString();
  };
  const now = new Date().toISOString();
  const users = new Map<string, APIUser>();
  const joinedAt = new Map<string, string>();

  const rememberUser = (input: UserInput): APIUser => {
    const known = users.get(input.id);
    const user: APIUser = {
      id: input.id,
      username: input.username ?? known?.username ?? options.members[input.id]?.username ?? `user${input.id}`,
      discriminator: '0',
      global_name: null,
      avatar: null,
      public_flags: 0 as UserFlags,
      ...((input.bot ?? known?.bot) ? { bot: true } : {}),
    };
    users.set(user.id, user);
    return user;
  };

  const botUser = rememberUser({ id: options.botUserId, username: 'steward', bot: true });
  joinedAt.set(botUser.id, now);
  for (const [id, member] of Object.entries(options.members)) {
    rememberUser({ id, ...(member.username === undefined ? {} : { username: member.username }) });
    joinedAt.set(id, now);
  }

  const rolePayloads = (): APIRole[] => {
    const ids = new Set<string>(Object.keys(options.roles));
    for (const member of Object.values(options.members)) for (const role of member.roles ?? []) ids.add(role);
    const everyone = role(options.guildId, '@everyone', DEFAULT_MEMBER_PERMISSIONS, 0);
    return [
      everyone,
      ...[...ids].map((id, index) =>
        role(id, options.roles[id]?.name ?? `role-${id}`, options.roles[id]?.permissions ?? '0', index + 1),
      ),
    ];
  };

  const member = (userId: string): APIGuildMember | undefined => {
    const user = users.get(userId);
    const joined = joinedAt.get(userId);
    if (!user || joined === undefined) return undefined;
    return {
      user,
      nick: null,
      avatar: null,
      banner: null,
      roles: options.members[userId]?.roles ?? [],
      joined_at: joined,
      premium_since: null,
      deaf: false,
      mute: false,
      flags: 0 as GuildMemberFlags,
      pending: false,
      communication_disabled_until: null,
    };
  };

  const memberPermissions = (userId: string): string => {
    if (userId === botUser.id) return BOT_PERMISSIONS;
    const configured = options.members[userId];
    if (configured?.permissions !== undefined) return configured.permissions;
    // As Discord computes it: @everyone's permissions OR'd with every role the member has.
    let bits = BigInt(DEFAULT_MEMBER_PERMISSIONS);
    for (const roleId of configured?.roles ?? []) bits |= BigInt(options.roles[roleId]?.permissions ?? '0');
    return bits.toString();
  };

  const textChannel: APITextChannel = {
    id: options.textChannelId,
    type: ChannelType.GuildText,
    guild_id: options.guildId,
    name: 'general',
    position: 0,
    permission_overwrites: [],
    parent_id: null,
    topic: null,
    nsfw: false,
    last_message_id: null,
    rate_limit_per_user: 0,
    flags: 0 as ChannelFlags,
  };
  const channels = new Map<string, APITextChannel | APIThreadChannel>([[textChannel.id, textChannel]]);
  const dmChannels = new Map<string, APIDMChannel>();

  const dmChannelFor = (recipient: APIUser, channelId?: string): APIDMChannel => {
    for (const existing of dmChannels.values())
      if (
        existing.recipients?.[0]?.id === recipient.id &&
        (channelId === undefined || existing.id === channelId)
      )
        return existing;
    const dm: APIDMChannel = {
      id: channelId ?? nextId(),
      type: ChannelType.DM,
      name: null,
      last_message_id: null,
      flags: 0 as ChannelFlags,
      recipients: [recipient],
    };
    dmChannels.set(dm.id, dm);
    return dm;
  };

  return {
    ...options,
    botUser,
    users,
    joinedAt,
    channels,
    dmChannels,
    messages: new Map(),
    nextId,
    rememberUser,
    member,
    memberPermissions,
    // Lenient like the Slack fake: an id the story never introduced reads as a text channel in the guild.
    channel: (channelId) =>
      dmChannels.get(channelId) ??
      channels.get(channelId) ?? { ...textChannel, id: channelId, name: 'channel' },
    dmChannelFor,
    guildCreate(intents) {
      const withMembers = (intents & GatewayIntentBits.GuildMembers) !== 0;
      const memberIds = withMembers ? [...joinedAt.keys()] : [botUser.id];
      const members = memberIds.flatMap((id) => member(id) ?? []);
      return {
        id: options.guildId,
        name: 'Fake Guild',
        icon: null,
        splash: null,
        discovery_splash: null,
        banner: null,
        description: null,
        owner_id: options.ownerId,
        afk_channel_id: null,
        afk_timeout: 300,
        verification_level: 0,
        default_message_notifications: 0,
        explicit_content_filter: 0,
        roles: rolePayloads(),
        emojis: [],
        stickers: [],
        features: [],
        mfa_level: 0,
        application_id: null,
        system_channel_id: options.textChannelId,
        system_channel_flags: 0 as GuildSystemChannelFlags,
        rules_channel_id: null,
        public_updates_channel_id: null,
        safety_alerts_channel_id: null,
        max_members: 500_000,
        max_video_channel_users: 25,
        max_stage_video_channel_users: 50,
        vanity_url_code: null,
        premium_tier: 0,
        premium_subscription_count: 0,
        premium_progress_bar_enabled: false,
        preferred_locale: 'en-US' as GatewayGuildCreateDispatchData['preferred_locale'],
        nsfw_level: 0,
        hub_type: null,
        incidents_data: null,
        joined_at: now,
        large: false,
        unavailable: false,
        member_count: joinedAt.size,
        voice_states: [],
        members,
        channels: [...channels.values()].filter((channel) => channel.type === ChannelType.GuildText),
        threads: [...channels.values()].filter((channel) => channel.type !== ChannelType.GuildText),
        presences: [],
        stage_instances: [],
        guild_scheduled_events: [],
        soundboard_sounds: [],
      };
    },
  };
}

function role(id: string, name: string, permissions: string, position: number): APIRole {
  return {
    id,
    name,
    color: 0,
    colors: { primary_color: 0, secondary_color: null, tertiary_color: null },
    hoist: false,
    icon: null,
    unicode_emoji: null,
    position,
    permissions,
    managed: false,
    mentionable: false,
    flags: 0 as RoleFlags,
  };
}
