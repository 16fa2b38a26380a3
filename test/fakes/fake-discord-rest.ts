/**
 * The REST half of the fake Discord. @discordjs/rest builds `${rest.api}/v${version}${route}` (so with
 * `rest: { api: 'http://127.0.0.1:PORT/api' }` requests land on `/api/v10/...`), sends JSON bodies with
 * `Authorization: Bot <token>` (none on interaction callbacks and interaction webhooks: `auth: false`), and
 * turns non-2xx answers into DiscordAPIError from `{ code, message }`. No rate-limit headers are sent, which
 * @discordjs/rest reads as "no limit".
 *
 * Every request is recorded, unknown routes included (404 + Discord's error JSON).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { isRecord } from './fake-discord-gateway.ts';
import {
  createInteractionRoutes,
  type PendingInteraction,
  type RecordedInteractionResponse,
} from './fake-discord-interactions.ts';
import { botMessage, createThread } from './fake-discord-messages.ts';
import type { DiscordWorld } from './fake-discord-payloads.ts';

export interface RecordedRestCall {
  readonly method: string;
  /** Route without the `/api/v10` prefix, e.g. `/channels/123/messages`. */
  readonly path: string;
  readonly query: Record<string, string>;
  /** Parsed JSON; for multipart uploads the parsed `payload_json` part. */
  readonly body: unknown;
  /** Names of uploaded files (multipart only). */
  readonly files: string[];
  readonly authorization: string | undefined;
  readonly status: number;
  readonly at: number;
}

export interface FakeRest {
  readonly calls: RecordedRestCall[];
  readonly interactionResponses: RecordedInteractionResponse[];
  readonly commands: Map<string, unknown[]>;
  registerInteraction(pending: PendingInteraction): void;
  handle(request: IncomingMessage, response: ServerResponse): void;
}

interface Reply {
  status: number;
  body?: unknown;
}

/** `body` is the parsed JSON object ({} otherwise); `raw` the parsed body as sent (arrays for bulk PUTs). */
type Route = (
  params: string[],
  body: Record<string, unknown>,
  query: Record<string, string>,
  raw: unknown,
) => Reply;

const ok = (body: unknown): Reply => ({ status: 200, body });
const noContent: Reply = { status: 204 };
const error = (status: number, code: number, message: string): Reply => ({ status, body: { message, code } });
const str = (value: unknown): string | undefined => (typeof value === 'string' ? value : undefined);
const array = (value: unknown): unknown[] => (Array.isArray(value) ? value : []);

export function createFakeRest(options: {
  world: DiscordWorld;
  gatewayUrl: () => string;
  interactionTimeoutMs: number;
}): FakeRest {
  const { world } = options;
  const calls: RecordedRestCall[] = [];
  const commands = new Map<string, unknown[]>();

  const interactions = createInteractionRoutes(world, options.interactionTimeoutMs);

  const putCommands: Route = ([appId, guildId], _body, _query, raw) => {
    const registered = array(raw).map((command, index) => ({
      id: `${world.applicationId.slice(0, -3)}${String(100 + index)}`,
      application_id: appId,
      version: world.nextId(),
      type: 1,
      description: '',
      default_member_permissions: null,
      ...(guildId !== undefined && { guild_id: guildId }),
      ...(isRecord(command) ? command : {}),
    }));
    commands.set(guildId ?? 'global', registered);
    return ok(registered);
  };

  // [method, path pattern, handler]; the first match wins, so literal segments (`@me`) come first.
  const routes: Array<[string, RegExp, Route]> = [
    [
      'GET',
      /^\/gateway\/bot$/,
      () =>
        ok({
          url: options.gatewayUrl(),
          shards: 1,
          session_start_limit: { total: 1000, remaining: 999, reset_after: 14_400_000, max_concurrency: 1 },
        }),
    ],
    ['GET', /^\/gateway$/, () => ok({ url: options.gatewayUrl() })],
    ['GET', /^\/users\/@me$/, () => ok(world.botUser)],
    ['GET', /^\/applications\/@me$/, () => ok(application(world))],
    [
      'POST',
      /^\/users\/@me\/channels$/,
      (_, body) => ok(world.dmChannelFor(world.rememberUser({ id: str(body.recipient_id) ?? '' }))),
    ],
    [
      'GET',
      /^\/users\/(\d+)$/,
      ([id = '']) => (world.users.has(id) ? ok(world.users.get(id)) : error(404, 10013, 'Unknown User')),
    ],
    ['GET', /^\/channels\/(\d+)$/, ([id = '']) => ok(world.channel(id))],
    ['POST', /^\/channels\/(\d+)\/typing$/, () => noContent],
    [
      'POST',
      /^\/channels\/(\d+)\/messages$/,
      ([channelId = ''], body) => ok(botMessage(world, channelId, body)),
    ],
    [
      'GET',
      /^\/channels\/(\d+)\/messages\/(\d+)$/,
      ([, id = '']) =>
        world.messages.has(id) ? ok(world.messages.get(id)) : error(404, 10008, 'Unknown Message'),
    ],
    [
      'PATCH',
      /^\/channels\/(\d+)\/messages\/(\d+)$/,
      ([channelId = '', id = ''], body) => {
        // Lenient: editing a message the fake never saw edits a bot message with that id.
        let base = world.messages.get(id);
        if (!base) {
          const standIn = botMessage(world, channelId, {});
          world.messages.delete(standIn.id);
          base = { ...standIn, id };
        }
        return ok(botMessage(world, channelId, body, base));
      },
    ],
    ['DELETE', /^\/channels\/(\d+)\/messages\/(\d+)$/, () => noContent],
    ['PUT', /^\/channels\/(\d+)\/messages\/(\d+)\/reactions\/[^/]+\/@me$/, () => noContent],
    [
      'POST',
      /^\/channels\/(\d+)\/messages\/(\d+)\/threads$/,
      // The thread started from a message shares the message's id (Discord docs, Start Thread from Message).
      ([channelId = '', messageId = ''], body) =>
        world.channels.has(messageId)
          ? error(400, 160004, 'A thread has already been created for this message')
          : ok(createThread(world, channelId, body, messageId)),
    ],
    [
      'POST',
      /^\/channels\/(\d+)\/threads$/,
      ([channelId = ''], body) => ok(createThread(world, channelId, body, world.nextId())),
    ],
    ['GET', /^\/guilds\/(\d+)$/, () => ok(world.guildCreate(0))],
    [
      'GET',
      /^\/guilds\/(\d+)\/members\/(\d+)$/,
      ([, userId = '']) => {
        const member = world.member(userId);
        return member ? ok(member) : error(404, 10007, 'Unknown Member');
      },
    ],
    ['PUT', /^\/applications\/(\d+)\/guilds\/(\d+)\/commands$/, putCommands],
    ['PUT', /^\/applications\/(\d+)\/commands$/, putCommands],
    [
      'GET',
      /^\/applications\/(\d+)\/guilds\/(\d+)\/commands$/,
      ([, guildId = '']) => ok(commands.get(guildId) ?? []),
    ],
    ['GET', /^\/applications\/(\d+)\/commands$/, () => ok(commands.get('global') ?? [])],
    ['POST', /^\/interactions\/(\d+)\/([^/]+)\/callback$/, interactions.callback],
    ['POST', /^\/webhooks\/(\d+)\/([^/]+)$/, interactions.webhook('followUp')],
    [
      'PATCH',
      /^\/webhooks\/(\d+)\/([^/]+)\/messages\/(@original|\d+)$/,
      interactions.webhook('editOriginal'),
    ],
    ['GET', /^\/webhooks\/(\d+)\/([^/]+)\/messages\/(@original|\d+)$/, interactions.webhook('getOriginal')],
    [
      'DELETE',
      /^\/webhooks\/(\d+)\/([^/]+)\/messages\/(@original|\d+)$/,
      interactions.webhook('deleteOriginal'),
    ],
  ];

  async function serve(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const url = new URL(request.url ?? '/', 'http://fake');
    // discord-api-types' Routes percent-encode some segments (`/messages/%40original`): match decoded.
    const path = url.pathname
      .replace(/^\/api(?:\/v\d+)?/, '')
      .split('/')
      .map((segment) => decodeURIComponent(segment))
      .join('/');
    const query = Object.fromEntries(url.searchParams);
    const method = request.method ?? 'GET';
    const { body, files } = await readBody(request);
    let reply = error(404, 0, '404: Not Found');
    for (const [routeMethod, pattern, route] of routes) {
      const match = routeMethod === method ? pattern.exec(path) : null;
      if (!match) continue;
      reply = route(match.slice(1), isRecord(body) ? body : {}, query, body);
      break;
    }
    const authorization = request.headers.authorization;
    calls.push({ method, path, query, body, files, authorization, status: reply.status, at: Date.now() });
    response.statusCode = reply.status;
    if (reply.body === undefined) {
      response.end();
      return;
    }
    response.setHeader('content-type', 'application/json');
    response.end(JSON.stringify(reply.body));
  }

  return {
    calls,
    interactionResponses: interactions.responses,
    commands,
    registerInteraction: interactions.register,
    handle(request, response) {
      serve(request, response).catch((cause: unknown) => {
        response.statusCode = 500;
        response.end(JSON.stringify({ message: String(cause), code: 0 }));
      });
    },
  };
}

function application(world: DiscordWorld): Record<string, unknown> {
  return {
    id: world.applicationId,
    name: 'Steward',
    icon: null,
    description: '',
    summary: '',
    type: null,
    bot_public: false,
    bot_require_code_grant: false,
    verify_key: '0'.repeat(64),
    flags: 0,
    team: null,
    owner: { ...world.botUser, id: world.ownerId, username: 'owner', bot: false },
    bot: world.botUser,
  };
}

async function readBody(request: IncomingMessage): Promise<{ body: unknown; files: string[] }> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk)));
  const raw = Buffer.concat(chunks);
  if (raw.length === 0) return { body: undefined, files: [] };
  const type = request.headers['content-type'] ?? '';
  if (type.startsWith('multipart/form-data')) {
    // undici's Response parses multipart for us; discord.js puts the JSON in `payload_json`.
    const form = await new Response(raw, { headers: { 'content-type': type } }).formData();
    const payload = form.get('payload_json');
    const files = [...form.values()].flatMap((value) => (typeof value === 'string' ? [] : [value.name]));
    return { body: typeof payload === 'string' ? JSON.parse(payload) : undefined, files };
  }
  const text = raw.toString('utf8');
  try {
    return { body: JSON.parse(text), files: [] };
  } catch {
    return { body: text, files: [] };
  }
}
