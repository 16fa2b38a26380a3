/**
 * Interactions in the fake Discord: INTERACTION_CREATE payloads for button clicks and slash commands, and
 * the routes that answer them — POST /interactions/:id/:token/callback (no auth; `?with_response=true`
 * gets a callback-response body instead of 204), follow-ups on POST /webhooks/:appId/:token (`?wait=true`)
 * and GET/PATCH/DELETE /webhooks/:appId/:token/messages/@original. As on Discord, the initial callback is
 * refused after `interactionTimeoutMs` (10062 Unknown interaction) and a second one with 40060.
 */
import { randomBytes } from 'node:crypto';
import { type APIMessage, ComponentType, InteractionResponseType, InteractionType } from 'discord.js';
import { isRecord } from './fake-discord-gateway.ts';
import { botMessage } from './fake-discord-messages.ts';
import { BOT_PERMISSIONS, type DiscordWorld } from './fake-discord-payloads.ts';

/** Discord's "this message is a loading/thinking placeholder" flag (1 << 7). */
const LOADING_FLAG = 128;

export interface InteractionTarget {
  userId: string;
  username?: string;
  channelId?: string;
  /** Default: the fake guild. `null`: a DM. */
  guildId?: string | null;
  id?: string;
  token?: string;
}

export interface ButtonInteractionInput extends InteractionTarget {
  customId: string;
  /** The message the button sits on: a known message id (e.g. one the bot posted) or a stand-in. */
  message?: { id?: string; content?: string; components?: unknown[] };
}

export interface CommandInteractionInput extends InteractionTarget {
  name?: string;
  /** Shorthand for one subcommand option: `{ name, type: 1 }`. */
  subcommand?: string;
  options?: unknown[];
}

/** An INTERACTION_CREATE payload as Discord sends it. */
export type FakeInteraction = Record<string, unknown> & {
  id: string;
  token: string;
  type: InteractionType;
  channel_id: string;
  message?: APIMessage;
};

export type InteractionResponseKind =
  | 'callback'
  | 'followUp'
  | 'editOriginal'
  | 'getOriginal'
  | 'deleteOriginal';

export interface RecordedInteractionResponse {
  readonly kind: InteractionResponseKind;
  readonly interactionId: string;
  readonly token: string;
  /** Callback type for `callback` (4 reply, 5 deferred reply, 6 deferred update, 7 update, 9 modal). */
  readonly type: number | undefined;
  readonly body: unknown;
  /** Milliseconds from dispatchInteraction to this request. */
  readonly receivedAfterMs: number;
  /** Whether Discord accepted it (false: too late, or already acknowledged). */
  readonly accepted: boolean;
  readonly at: number;
}

export interface PendingInteraction {
  readonly id: string;
  readonly token: string;
  readonly type: number;
  readonly channelId: string;
  /** The message a component sits on (type 3). */
  readonly message: APIMessage | undefined;
  readonly dispatchedAt: number;
  acknowledged: boolean;
  original: APIMessage | undefined;
}

export interface RestReply {
  status: number;
  body?: unknown;
}

export type InteractionRoute = (
  params: string[],
  body: Record<string, unknown>,
  query: Record<string, string>,
) => RestReply;

const ok = (body: unknown): RestReply => ({ status: 200, body });
const noContent: RestReply = { status: 204 };
const error = (status: number, code: number, message: string): RestReply => ({
  status,
  body: { message, code },
});

export interface InteractionRoutes {
  readonly responses: RecordedInteractionResponse[];
  register(pending: PendingInteraction): void;
  callback: InteractionRoute;
  webhook(kind: Exclude<InteractionResponseKind, 'callback'>): InteractionRoute;
}

export function createInteractionRoutes(
  world: DiscordWorld,
  interactionTimeoutMs: number,
): InteractionRoutes {
  const interactionResponses: RecordedInteractionResponse[] = [];
  const interactions = new Map<string, PendingInteraction>();
  const byToken = (token: string | undefined): PendingInteraction | undefined =>
    [...interactions.values()].find((pending) => pending.token === token);

  const interactionMessage = (pending: PendingInteraction, body: Record<string, unknown>): APIMessage => {
    const message = {
      ...botMessage(world, pending.channelId, body),
      webhook_id: world.applicationId,
      application_id: world.applicationId,
    };
    world.messages.set(message.id, message);
    return message;
  };

  const record = (
    kind: InteractionResponseKind,
    pending: PendingInteraction | undefined,
    token: string,
    body: Record<string, unknown>,
    accepted: boolean,
  ): void => {
    const at = Date.now();
    interactionResponses.push({
      kind,
      interactionId: pending?.id ?? '',
      token,
      type: kind === 'callback' && typeof body.type === 'number' ? body.type : undefined,
      body,
      receivedAfterMs: pending ? at - pending.dispatchedAt : Number.NaN,
      accepted,
      at,
    });
  };

  const callback: InteractionRoute = ([id = '', token = ''], body, query) => {
    const pending = interactions.get(id);
    const tooLate = pending ? Date.now() - pending.dispatchedAt > interactionTimeoutMs : true;
    if (!pending || pending.token !== token || tooLate) {
      record('callback', pending, token, body, false);
      return error(404, 10062, 'Unknown interaction');
    }
    if (pending.acknowledged) {
      record('callback', pending, token, body, false);
      return error(400, 40060, 'Interaction has already been acknowledged.');
    }
    pending.acknowledged = true;
    record('callback', pending, token, body, true);
    const data = isRecord(body.data) ? body.data : {};
    const flags = typeof data.flags === 'number' ? data.flags : 0;
    switch (body.type) {
      case InteractionResponseType.ChannelMessageWithSource:
        pending.original = interactionMessage(pending, data);
        break;
      case InteractionResponseType.DeferredChannelMessageWithSource:
        pending.original = interactionMessage(pending, { flags: flags | LOADING_FLAG });
        break;
      case InteractionResponseType.DeferredMessageUpdate:
        pending.original = pending.message;
        break;
      case InteractionResponseType.UpdateMessage:
        pending.original = pending.message && botMessage(world, pending.channelId, data, pending.message);
        break;
    }
    if (query.with_response !== 'true') return noContent;
    const original = pending.original;
    return ok({
      interaction: {
        id: pending.id,
        type: pending.type,
        response_message_id: original?.id,
        response_message_loading: body.type === InteractionResponseType.DeferredChannelMessageWithSource,
        response_message_ephemeral: (flags & 64) !== 0,
      },
      resource: { type: body.type, ...(original && { message: original }) },
    });
  };

  const webhook =
    (kind: InteractionResponseKind): InteractionRoute =>
    ([appId, token = '', messageId], body, query) => {
      const pending = appId === world.applicationId ? byToken(token) : undefined;
      record(kind, pending, token, body, pending !== undefined);
      if (!pending) return error(404, 10015, 'Unknown Webhook');
      if (kind === 'followUp') {
        const message = interactionMessage(pending, body);
        return query.wait === 'true' ? ok(message) : noContent;
      }
      const target = messageId === '@original' ? pending.original : world.messages.get(messageId ?? '');
      if (!target) return error(404, 10008, 'Unknown Message');
      if (kind === 'getOriginal') return ok(target);
      if (kind === 'deleteOriginal') {
        world.messages.delete(target.id);
        return noContent;
      }
      const flags = typeof body.flags === 'number' ? body.flags : (target.flags ?? 0) & ~LOADING_FLAG;
      const edited = botMessage(world, target.channel_id, { ...body, flags }, target);
      if (messageId === '@original') pending.original = edited;
      return ok(edited);
    };

  return {
    responses: interactionResponses,
    register: (pending) => interactions.set(pending.id, pending),
    callback,
    webhook,
  };
}

function interactionBase(world: DiscordWorld, input: InteractionTarget) {
  const guildId = input.guildId === undefined ? world.guildId : input.guildId;
  const user = world.rememberUser({
    id: input.userId,
    ...(input.username === undefined ? {} : { username: input.username }),
  });
  if (guildId !== null && !world.joinedAt.has(user.id)) world.joinedAt.set(user.id, new Date().toISOString());
  const channelId = input.channelId ?? (guildId === null ? world.dmChannelFor(user).id : world.textChannelId);
  const channel = guildId === null ? world.dmChannelFor(user, channelId) : world.channel(channelId);
  return {
    id: input.id ?? world.nextId(),
    application_id: world.applicationId,
    token: input.token ?? `aW50ZXJhY3Rpb246${randomBytes(24).toString('base64url')}`,
    version: 1,
    channel_id: channelId,
    channel,
    app_permissions: BOT_PERMISSIONS,
    locale: 'en-US',
    entitlements: [],
    attachment_size_limit: 10_485_760,
    ...(guildId === null
      ? { user, authorizing_integration_owners: { '1': user.id }, context: 1 }
      : {
          guild_id: guildId,
          guild: { id: guildId, locale: 'en-US', features: [] },
          guild_locale: 'en-US',
          member: { ...world.member(user.id), user, permissions: world.memberPermissions(user.id) },
          authorizing_integration_owners: { '0': guildId },
          context: 0,
        }),
  };
}

export function buttonInteraction(world: DiscordWorld, input: ButtonInteractionInput): FakeInteraction {
  const base = interactionBase(world, input);
  const known = input.message?.id === undefined ? undefined : world.messages.get(input.message.id);
  const button = { type: ComponentType.Button, style: 1, label: 'Button', custom_id: input.customId };
  const message =
    known ??
    botMessage(world, base.channel_id, {
      content: input.message?.content ?? '',
      components: input.message?.components ?? [{ type: ComponentType.ActionRow, components: [button] }],
    });
  if (input.message?.id !== undefined && !known) {
    // A stand-in that should carry the id the test chose.
    world.messages.delete(message.id);
    message.id = input.message.id;
    world.messages.set(message.id, message);
  }
  return {
    ...base,
    type: InteractionType.MessageComponent,
    data: { custom_id: input.customId, component_type: ComponentType.Button },
    message,
  };
}

export function commandInteraction(world: DiscordWorld, input: CommandInteractionInput): FakeInteraction {
  const options =
    input.options ?? (input.subcommand === undefined ? [] : [{ name: input.subcommand, type: 1 }]);
  return {
    ...interactionBase(world, input),
    type: InteractionType.ApplicationCommand,
    data: { id: `${world.applicationId.slice(0, -3)}100`, name: input.name ?? 'steward', type: 1, options },
  };
}
