/**
 * A fake Discord on loopback (REST + gateway on one port) that the real discord.js Client logs into:
 *
 *   new Client({ intents, partials, rest: { api: discord.apiUrl } }).login('fake-token')
 *
 * The Client asks GET /gateway/bot (on `rest.api`) for the gateway URL, so `rest.api` is the only option
 * needed. Tests drive the story with dispatchMessageCreate / dispatchInteraction / disconnect and read what
 * the bot did from `calls` and `interactionCallbacks`. Protocol notes live in fake-discord-gateway.ts,
 * fake-discord-rest.ts and fake-discord-interactions.ts; the world model (users, members, roles,
 * channels) in fake-discord-payloads.ts and message payloads in fake-discord-messages.ts.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { GatewayMessageCreateDispatchData } from 'discord.js';
import { attachFakeGateway, type GatewayConnection } from './fake-discord-gateway.ts';
import {
  type ButtonInteractionInput,
  buttonInteraction,
  type CommandInteractionInput,
  commandInteraction,
  type FakeInteraction,
  type RecordedInteractionResponse,
} from './fake-discord-interactions.ts';
import { type DispatchMessageInput, incomingMessage, messageCreateFor } from './fake-discord-messages.ts';
import { createWorld, type FakeDiscordMember, type FakeDiscordRole } from './fake-discord-payloads.ts';
import { createFakeRest, type RecordedRestCall } from './fake-discord-rest.ts';

export type {
  ButtonInteractionInput,
  CommandInteractionInput,
  FakeInteraction,
  RecordedInteractionResponse,
} from './fake-discord-interactions.ts';
export type { DispatchMessageInput } from './fake-discord-messages.ts';
export type { FakeDiscordMember, FakeDiscordRole } from './fake-discord-payloads.ts';
export type { RecordedRestCall } from './fake-discord-rest.ts';

export const FAKE_TEXT_CHANNEL_ID = '900000000000000010';
/** Every non-privileged intent plus the three privileged ones: nothing is refused unless a test says so. */
const ALL_INTENTS = 2 ** 26 - 1;

export interface FakeDiscordOptions {
  botUserId?: string;
  applicationId?: string;
  guildId?: string;
  /** The guild owner (Discord grants owners every permission). Default: nobody the tests use. */
  ownerId?: string;
  members?: Record<string, FakeDiscordMember>;
  roles?: Record<string, FakeDiscordRole>;
  /** Privileged intents the "developer portal" allows; IDENTIFY asking for others is closed with 4014. */
  intentsAllowed?: number;
  /** HELLO's heartbeat_interval. Default 1000 ms (Discord: ~41 s). */
  heartbeatIntervalMs?: number;
  /** How long an interaction accepts its initial callback. Default 3000 ms, as Discord. */
  interactionTimeoutMs?: number;
}

export interface DispatchOptions {
  /** Only this session (0-based, in IDENTIFY order). Default: every live session. */
  only?: number;
}

export interface FakeDiscord {
  /** Pass as `new Client({ rest: { api } })`; REST calls then go to `${apiUrl}/v10/...`. */
  readonly apiUrl: string;
  /** What GET /gateway/bot hands out; READY's resume_gateway_url is a sibling path on the same port. */
  readonly gatewayUrl: string;
  readonly botUserId: string;
  readonly applicationId: string;
  readonly guildId: string;
  readonly textChannelId: string;
  readonly calls: RecordedRestCall[];
  callsTo(method: string, pathPattern: RegExp): RecordedRestCall[];
  waitForCall(
    method: string,
    pathPattern: RegExp,
    match?: (call: RecordedRestCall) => boolean,
    timeoutMs?: number,
  ): Promise<RecordedRestCall>;
  /** Number of IDENTIFYs received (refused ones included). */
  sessions(): number;
  /** Number of RESUMEs accepted. */
  resumes(): number;
  /** Gateway sockets opened, with their path and query (`v`, `encoding`, `compress`). */
  readonly connections: GatewayConnection[];
  /** Every gateway payload clients sent (heartbeats, IDENTIFY, RESUME), parsed. */
  readonly gatewayFrames: unknown[];
  dispatchMessageCreate(
    message: DispatchMessageInput,
    options?: DispatchOptions,
  ): GatewayMessageCreateDispatchData;
  buttonInteraction(input: ButtonInteractionInput): FakeInteraction;
  commandInteraction(input: CommandInteractionInput): FakeInteraction;
  dispatchInteraction(interaction: FakeInteraction, options?: DispatchOptions): Promise<void>;
  /** Interaction callbacks, follow-ups and @original edits, in arrival order. */
  readonly interactionCallbacks: RecordedInteractionResponse[];
  waitForInteractionCallback(
    match: (response: RecordedInteractionResponse) => boolean,
    timeoutMs?: number,
  ): Promise<RecordedInteractionResponse>;
  /**
   * Close the gateway socket(s) server-side. discord.js RESUMEs after 4000-4002, 4009, 1001 and other
   * unlisted codes; re-IDENTIFYs after 1000; gives up on 4004 and 4010-4014.
   */
  disconnect(code?: number): void;
  /** Poll `condition` every 10 ms. */
  waitFor(condition: () => boolean, what: string, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

export async function startFakeDiscord(options: FakeDiscordOptions = {}): Promise<FakeDiscord> {
  const world = createWorld({
    botUserId: options.botUserId ?? '900000000000000001',
    applicationId: options.applicationId ?? '900000000000000002',
    guildId: options.guildId ?? '900000000000000003',
    ownerId: options.ownerId ?? '900000000000000004',
    textChannelId: FAKE_TEXT_CHANNEL_ID,
    members: options.members ?? {},
    roles: options.roles ?? {},
  });
  let gatewayUrl = '';
  const rest = createFakeRest({
    world,
    gatewayUrl: () => gatewayUrl,
    interactionTimeoutMs: options.interactionTimeoutMs ?? 3000,
  });
  const server = createServer((request, response) => rest.handle(request, response));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const gateway = attachFakeGateway(server, {
    baseUrl: `ws://127.0.0.1:${port}`,
    heartbeatIntervalMs: options.heartbeatIntervalMs ?? 1000,
    intentsAllowed: options.intentsAllowed ?? ALL_INTENTS,
    onIdentify: (context) => [
      {
        t: 'READY',
        d: {
          v: 10,
          user: world.botUser,
          guilds: [{ id: world.guildId, unavailable: true }],
          session_id: context.sessionId,
          resume_gateway_url: context.resumeGatewayUrl,
          application: { id: world.applicationId, flags: 0 },
          ...(context.shard && { shard: context.shard }),
          _trace: ['["fake-discord",{"micros":0}]'],
        },
      },
      { t: 'GUILD_CREATE', d: world.guildCreate(context.intents) },
    ],
  });
  gatewayUrl = gateway.url;

  const waitFor = async (condition: () => boolean, what: string, timeoutMs = 10_000): Promise<void> => {
    const deadline = Date.now() + timeoutMs;
    while (!condition()) {
      if (Date.now() > deadline)
        throw new Error(`fake-discord: timed out after ${timeoutMs} ms waiting for ${what}`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  };

  return {
    apiUrl: `http://127.0.0.1:${port}/api`,
    gatewayUrl,
    botUserId: world.botUser.id,
    applicationId: world.applicationId,
    guildId: world.guildId,
    textChannelId: world.textChannelId,
    calls: rest.calls,
    callsTo: (method, pathPattern) =>
      rest.calls.filter((call) => call.method === method && pathPattern.test(call.path)),
    async waitForCall(method, pathPattern, match = () => true, timeoutMs = 10_000) {
      const find = () =>
        rest.calls.find((call) => call.method === method && pathPattern.test(call.path) && match(call));
      await waitFor(() => find() !== undefined, `${method} ${pathPattern}`, timeoutMs);
      return find() as RecordedRestCall;
    },
    sessions: gateway.identifies,
    resumes: gateway.resumes,
    connections: gateway.connections,
    gatewayFrames: gateway.received,

    dispatchMessageCreate(input, dispatchOptions = {}) {
      const payload = incomingMessage(world, input);
      gateway.dispatch(
        'MESSAGE_CREATE',
        ({ intents }) => messageCreateFor(world, payload, intents),
        dispatchOptions.only,
      );
      return payload;
    },
    buttonInteraction: (input) => buttonInteraction(world, input),
    commandInteraction: (input) => commandInteraction(world, input),

    async dispatchInteraction(interaction, dispatchOptions = {}) {
      rest.registerInteraction({
        id: interaction.id,
        token: interaction.token,
        type: interaction.type,
        channelId: interaction.channel_id,
        message: interaction.message,
        dispatchedAt: Date.now(),
        acknowledged: false,
        original: undefined,
      });
      gateway.dispatch('INTERACTION_CREATE', () => interaction, dispatchOptions.only);
    },

    interactionCallbacks: rest.interactionResponses,
    async waitForInteractionCallback(match, timeoutMs = 10_000) {
      await waitFor(() => rest.interactionResponses.some(match), 'an interaction callback', timeoutMs);
      return rest.interactionResponses.find(match) as RecordedInteractionResponse;
    },
    disconnect: (code = 4000) => gateway.disconnect(code),
    waitFor,
    async close() {
      gateway.close();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        // discord.js's undici pool keeps sockets alive; close() alone would wait for them to time out.
        server.closeAllConnections();
      });
    },
  };
}
