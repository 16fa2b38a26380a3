/**
 * A fake Slack Web API on loopback, owned by the test that starts it. Point a real `WebClient` (or a Bolt
 * App via `clientOptions.slackApiUrl`) at `url`; every call is recorded with its parsed arguments and the
 * token it carried, and the methods Steward uses answer with the fields the real API returns.
 *
 * Deliberately lenient about messages it never saw (chat.update / reactions.add on an unknown ts succeed):
 * events built by test/fakes/slack-signing.ts reference messages that only "exist" in the test's story.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export interface FakeSlackUser {
  is_admin?: boolean;
  is_owner?: boolean;
  name?: string;
}

export interface FakeSlackApiOptions {
  botUserId?: string;
  botId?: string;
  teamId?: string;
  users?: Record<string, FakeSlackUser>;
}

export interface RecordedCall {
  /** e.g. `chat.postMessage`, or `response_url:<id>` for posts to a `responseUrl(id)`. */
  readonly method: string;
  /** Form fields are strings, as Slack receives them; nested JSON (`blocks`) stays a string — see jsonArg. */
  readonly args: Record<string, unknown>;
  /** From `Authorization: Bearer …`, else a `token` argument. */
  readonly token: string | undefined;
  readonly at: number;
}

/** A message the fake knows about (posted through it or seeded), as conversations.replies returns it. */
export type FakeSlackMessage = { ts: string; text?: string; user?: string; thread_ts?: string } & Record<
  string,
  unknown
>;

export interface FakeSlackApi {
  /** `http://127.0.0.1:PORT/api/` — WebClient's `slackApiUrl`. */
  readonly url: string;
  /** Calls Slack answered (200), in arrival order. 429'd attempts are in `rateLimited` instead. */
  readonly calls: RecordedCall[];
  readonly rateLimited: RecordedCall[];
  callsTo(method: string): RecordedCall[];
  waitForCall(
    method: string,
    match?: (call: RecordedCall) => boolean,
    timeoutMs?: number,
  ): Promise<RecordedCall>;
  /** The next call to `method` answers 429 + Retry-After (queued: call twice to limit two calls). */
  rateLimitNext(method: string, retryAfterSeconds: number): void;
  /** What apps.connections.open hands out (the fake Socket Mode server's `url`). */
  setSocketModeUrl(url: string): void;
  /** A response_url on this server; POSTs to it are recorded as `response_url:<id>`. */
  responseUrl(id: string): string;
  /** Make conversations.replies know a message (e.g. the user's thread parent). */
  seedMessage(channel: string, message: FakeSlackMessage): void;
  close(): Promise<void>;
}

type Json = Record<string, unknown>;
type Handler = (args: Json, token: string | undefined) => Json;

/** Parse a nested-JSON argument (`blocks`, `attachments`, `metadata`) the way Slack does; else as sent. */
export function jsonArg(call: RecordedCall, key: string): unknown {
  const value = call.args[key];
  if (typeof value !== 'string') return value;
  try {
    return JSON.parse(value);
  } catch {
    return value;
  }
}

const str = (value: unknown): string | undefined => (typeof value === 'string' ? value : undefined);

export async function startFakeSlackApi(options: FakeSlackApiOptions = {}): Promise<FakeSlackApi> {
  const botUserId = options.botUserId ?? 'UBOT';
  const botId = options.botId ?? 'BBOT';
  const teamId = options.teamId ?? 'T1';
  const calls: RecordedCall[] = [];
  const rateLimited: RecordedCall[] = [];
  const limits = new Map<string, number[]>();
  const messages = new Map<string, Map<string, FakeSlackMessage>>();
  const reactions = new Set<string>();
  const waiters = new Set<() => void>();
  const sockets = new Set<Socket>();
  let socketModeUrl: string | undefined;
  let lastTsMicros = 0;

  // Slack ts: seconds.micros, unique per workspace and increasing — clients sort and key threads by it.
  const nextTs = (): string => {
    lastTsMicros = Math.max(Date.now() * 1000, lastTsMicros + 1);
    return `${Math.floor(lastTsMicros / 1e6)}.${String(lastTsMicros % 1e6).padStart(6, '0')}`;
  };
  const store = (channel: string, message: FakeSlackMessage): void => {
    const inChannel = messages.get(channel) ?? new Map<string, FakeSlackMessage>();
    messages.set(channel, inChannel);
    inChannel.set(message.ts, { ...inChannel.get(message.ts), ...message });
  };
  const parseNested = (value: unknown): unknown =>
    jsonArg({ method: '', args: { v: value }, token: '', at: 0 }, 'v');
  const botMessage = (args: Json, ts: string): FakeSlackMessage => {
    const message: FakeSlackMessage = {
      type: 'message',
      user: botUserId,
      bot_id: botId,
      app_id: 'A1',
      team: teamId,
      ts,
    };
    const text = str(args.text);
    const threadTs = str(args.thread_ts);
    if (text !== undefined) message.text = text;
    if (args.blocks !== undefined) message.blocks = parseNested(args.blocks);
    if (threadTs !== undefined) message.thread_ts = threadTs;
    return message;
  };

  const handlers: Record<string, Handler> = {
    'auth.test': () => ({
      url: 'https://fake-workspace.slack.com/',
      team: 'Fake Workspace',
      user: 'steward',
      team_id: teamId,
      user_id: botUserId,
      bot_id: botId,
      is_enterprise_install: false,
    }),
    'chat.postMessage': (args) => {
      const channel = str(args.channel);
      if (!channel) return { ok: false, error: 'channel_not_found' };
      if (args.text === undefined && args.blocks === undefined && args.attachments === undefined) {
        return { ok: false, error: 'no_text' };
      }
      const message = botMessage(args, nextTs());
      store(channel, message);
      return { channel, ts: message.ts, message };
    },
    'chat.update': (args) => {
      const channel = str(args.channel);
      const ts = str(args.ts);
      if (!channel || !ts) return { ok: false, error: channel ? 'message_not_found' : 'channel_not_found' };
      const message = botMessage(args, ts);
      store(channel, message);
      return { channel, ts, text: message.text ?? '', message };
    },
    'chat.postEphemeral': (args) =>
      str(args.channel) ? { message_ts: nextTs() } : { ok: false, error: 'channel_not_found' },
    'chat.delete': (args) => {
      const channel = str(args.channel) ?? '';
      const ts = str(args.ts) ?? '';
      messages.get(channel)?.delete(ts);
      return { channel, ts };
    },
    'reactions.add': (args) => {
      const key = `${str(args.channel)}|${str(args.timestamp)}|${str(args.name)}`;
      if (reactions.has(key)) return { ok: false, error: 'already_reacted' };
      reactions.add(key);
      return {};
    },
    'users.info': (args) => {
      const id = str(args.user) ?? '';
      // Real user IDs start with U or W; anything else is how a test asks for user_not_found.
      if (!/^[UW]/.test(id)) return { ok: false, error: 'user_not_found' };
      const known = options.users?.[id] ?? {};
      const name = known.name ?? id.toLowerCase();
      return {
        user: {
          id,
          team_id: teamId,
          name,
          real_name: name,
          deleted: false,
          is_bot: id === botUserId,
          is_admin: known.is_admin ?? false,
          is_owner: known.is_owner ?? false,
          profile: { display_name: name, real_name: name },
        },
      };
    },
    'conversations.info': (args) => {
      const id = str(args.channel) ?? '';
      const isIm = id.startsWith('D');
      return {
        channel: {
          id,
          name: isIm ? undefined : `channel-${id.toLowerCase()}`,
          is_channel: !isIm,
          is_im: isIm,
          is_private: isIm || id.startsWith('G'),
          is_member: true,
        },
      };
    },
    'conversations.replies': (args) => {
      const ts = str(args.ts) ?? '';
      const thread = [...(messages.get(str(args.channel) ?? '')?.values() ?? [])]
        .filter((m) => m.ts === ts || m.thread_ts === ts)
        .sort((a, b) => Number(a.ts) - Number(b.ts));
      return { messages: thread, has_more: false, response_metadata: { next_cursor: '' } };
    },
    'apps.connections.open': (_args, token) =>
      token?.startsWith('xapp-') ? { url: socketModeUrl } : { ok: false, error: 'not_allowed_token_type' },
  };

  const answer = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    let raw = '';
    for await (const chunk of req) raw += String(chunk);
    const path = (req.url ?? '').split('?')[0] ?? '';
    const isResponseUrl = path.startsWith('/response/');
    if (req.method !== 'POST' || (!isResponseUrl && !path.startsWith('/api/'))) {
      return send(res, 404, { ok: false, error: 'fake-slack-api: no such route' });
    }
    const method = isResponseUrl ? `response_url:${decodeURIComponent(path.slice(10))}` : path.slice(5);
    const args = parseArgs(raw, req.headers['content-type'] ?? '');
    const bearer = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
    const call: RecordedCall = {
      method,
      args: args ?? {},
      token: bearer ?? str(args?.token),
      at: Date.now(),
    };
    const limit = limits.get(method)?.shift();
    if (limit !== undefined) {
      rateLimited.push(call);
      return send(res, 429, { ok: false, error: 'ratelimited' }, { 'retry-after': String(limit) });
    }
    calls.push(call);
    for (const wake of waiters) wake();
    if (isResponseUrl) return send(res, 200, { ok: true });
    // The socket client treats an HTTP error as unrecoverable, so a forgotten setSocketModeUrl fails fast.
    if (method === 'apps.connections.open' && socketModeUrl === undefined) {
      return send(res, 500, { ok: false, error: 'fake-slack-api: setSocketModeUrl() was not called' });
    }
    if (args === undefined) return send(res, 200, { ok: false, error: 'invalid_json' });
    const handler = handlers[method];
    if (!handler) return send(res, 200, { ok: false, error: 'unknown_method' });
    if (call.token === undefined) return send(res, 200, { ok: false, error: 'not_authed' });
    send(res, 200, { ok: true, ...handler(call.args, call.token) });
  };

  const server = createServer((req, res) => {
    answer(req, res).catch((error: unknown) => send(res, 500, { ok: false, error: String(error) }));
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const callsTo = (method: string): RecordedCall[] => calls.filter((c) => c.method === method);
  return {
    url: `${base}/api/`,
    calls,
    rateLimited,
    callsTo,
    waitForCall(method, match = () => true, timeoutMs = 10_000) {
      return new Promise((resolve, reject) => {
        const check = (): void => {
          const found = callsTo(method).find(match);
          if (!found) return;
          clearTimeout(timer);
          waiters.delete(check);
          resolve(found);
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          const seen = calls.map((c) => c.method).join(', ') || 'none';
          reject(
            new Error(`fake-slack-api: no matching ${method} call within ${timeoutMs} ms (calls: ${seen})`),
          );
        }, timeoutMs);
        waiters.add(check);
        check();
      });
    },
    rateLimitNext(method, retryAfterSeconds) {
      limits.set(method, [...(limits.get(method) ?? []), retryAfterSeconds]);
    },
    setSocketModeUrl(url) {
      socketModeUrl = url;
    },
    responseUrl: (id) => `${base}/response/${encodeURIComponent(id)}`,
    seedMessage: store,
    close() {
      for (const socket of sockets) socket.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

/** undefined = a JSON body that does not parse (Slack answers `invalid_json`). */
function parseArgs(raw: string, contentType: string): Json | undefined {
  if (contentType.startsWith('application/json')) {
    try {
      const parsed: unknown = JSON.parse(raw || '{}');
      return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) ? (parsed as Json) : {};
    } catch {
      return undefined;
    }
  }
  if (contentType.startsWith('application/x-www-form-urlencoded')) {
    return Object.fromEntries(new URLSearchParams(raw));
  }
  return {};
}

function send(res: ServerResponse, status: number, body: Json, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers });
  res.end(JSON.stringify(body));
}
