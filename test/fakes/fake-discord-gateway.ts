/**
 * The gateway half of the fake Discord: a WebSocket endpoint speaking the v10 gateway protocol the way
 * @discordjs/ws (node_modules/@discordjs/ws/dist/index.js, WebSocketShard) drives it:
 *
 * - connects to `${url}?v=10&encoding=json` (plus `&compress=zlib-stream` only when the optional
 *   `zlib-sync` package is installed — discord.js 14 has no option to turn that off, so it is served too);
 * - waits for op 10 HELLO, heartbeats with op 1 `d: <last seq>` after `interval * random()` and expects an
 *   op 11 ACK before the next beat (else it closes as a zombie and resumes);
 * - sends op 2 IDENTIFY, and treats the READY dispatch as connected (it stores `session_id`,
 *   `resume_gateway_url` and every dispatch's `s`);
 * - on a close with 4000-4002, 4009 or any unlisted code (1001 included) it waits 500 ms, reconnects to
 *   `resume_gateway_url` and sends op 6 RESUME `{ token, session_id, seq }`; on 1000, 4003, 4005, 4007 or
 *   4008 it drops the session and IDENTIFYs again; on 4004 and 4010-4014 it gives up (WebSocketShard#onClose);
 * - op 9 INVALID_SESSION `d: false` makes it IDENTIFY anew. IDENTIFYs are spaced 5 s apart per client
 *   (SimpleIdentifyThrottler), so a re-IDENTIFY shortly after login waits 5-6.5 s.
 *
 * Sessions outlive their sockets like Discord's do: dispatches sent while a session is disconnected are
 * buffered and replayed on RESUME. A client closing with 1000/1001 ends its session (Discord invalidates
 * those).
 */
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { createDeflate, type Deflate, constants as zlibConstants } from 'node:zlib';
import { GatewayIntentBits, GatewayOpcodes } from 'discord.js';
import { type RawData, type WebSocket, WebSocketServer } from 'ws';

const PRIVILEGED_INTENTS =
  GatewayIntentBits.GuildMembers | GatewayIntentBits.GuildPresences | GatewayIntentBits.MessageContent;

export const GATEWAY_PATH = '/gateway';
/** Discord hands out a different host for resuming; a distinct path lets tests see it is honoured. */
export const RESUME_GATEWAY_PATH = '/gateway-resume';

export interface IdentifyContext {
  sessionId: string;
  resumeGatewayUrl: string;
  intents: number;
  shard: [number, number] | undefined;
}

export interface GatewayEvent {
  t: string;
  d: unknown;
}

export interface GatewaySessionView {
  readonly index: number;
  readonly sessionId: string;
  readonly intents: number;
  readonly connected: boolean;
}

export interface GatewayConnection {
  readonly path: string;
  readonly query: Record<string, string>;
}

export interface FakeGatewayOptions {
  /** Where the HTTP server listens, e.g. `ws://127.0.0.1:1234`. */
  baseUrl: string;
  heartbeatIntervalMs: number;
  intentsAllowed: number;
  /** The READY dispatch first, then whatever else a fresh session gets (GUILD_CREATE). */
  onIdentify(context: IdentifyContext): GatewayEvent[];
}

export interface FakeGateway {
  readonly url: string;
  /** Every payload clients sent, parsed, in arrival order. */
  readonly received: unknown[];
  readonly connections: GatewayConnection[];
  identifies(): number;
  resumes(): number;
  sessions(): GatewaySessionView[];
  /** Send a dispatch to each live session (or session `only`); `build` returning undefined skips one. */
  dispatch(t: string, build: (session: GatewaySessionView) => unknown, only?: number): void;
  /** Server-side close of every open socket; sessions stay resumable. */
  disconnect(code: number): void;
  close(): void;
}

interface Session extends GatewaySessionView {
  seq: number;
  readonly log: Array<{ s: number; t: string; d: unknown }>;
  socket: Connection | undefined;
  ended: boolean;
}

interface Connection {
  readonly ws: WebSocket;
  session: Session | undefined;
  send(payload: Record<string, unknown>): void;
}

const controlFrame = (op: number, d: unknown): Record<string, unknown> => ({ op, d, s: null, t: null });

export function attachFakeGateway(server: Server, options: FakeGatewayOptions): FakeGateway {
  const wss = new WebSocketServer({ noServer: true });
  const received: unknown[] = [];
  const connections: GatewayConnection[] = [];
  const sessions: Session[] = [];
  const open = new Set<Connection>();
  let identifies = 0;
  let resumes = 0;

  const onUpgrade = (request: IncomingMessage, socket: Duplex, head: Buffer): void => {
    const url = new URL(request.url ?? '/', 'http://fake');
    if (url.pathname !== GATEWAY_PATH && url.pathname !== RESUME_GATEWAY_PATH) {
      socket.end('HTTP/1.1 404 Not Found\r\n\r\n');
      return;
    }
    wss.handleUpgrade(request, socket, head, (ws) => accept(ws, url));
  };
  server.on('upgrade', onUpgrade);

  const sendEvent = (session: Session, t: string, d: unknown): void => {
    session.seq += 1;
    const entry = { s: session.seq, t, d };
    session.log.push(entry);
    if (session.log.length > 1000) session.log.shift();
    session.socket?.send({ op: GatewayOpcodes.Dispatch, ...entry });
  };

  function accept(ws: WebSocket, url: URL): void {
    const query = Object.fromEntries(url.searchParams);
    connections.push({ path: url.pathname, query });
    const connection: Connection = { ws, session: undefined, send: makeSender(ws, query.compress) };
    if (query.encoding !== undefined && query.encoding !== 'json') {
      ws.close(4002, 'fake-discord speaks encoding=json only');
      return;
    }
    if (query.v !== undefined && query.v !== '10') {
      ws.close(4012, 'Invalid API version');
      return;
    }
    open.add(connection);
    ws.on('message', (data: RawData) => onMessage(connection, data));
    ws.on('close', (code: number) => {
      open.delete(connection);
      const session = connection.session;
      if (!session || session.socket !== connection) return;
      session.socket = undefined;
      if (code === 1000 || code === 1001) session.ended = true;
    });
    connection.send(
      controlFrame(GatewayOpcodes.Hello, {
        heartbeat_interval: options.heartbeatIntervalMs,
        _trace: ['["fake-discord",{"micros":0}]'],
      }),
    );
  }

  function onMessage(connection: Connection, data: RawData): void {
    let payload: unknown;
    try {
      payload = JSON.parse(data.toString());
    } catch {
      connection.ws.close(4002, 'Error while decoding payload.');
      return;
    }
    received.push(payload);
    const op = isRecord(payload) ? payload.op : undefined;
    const d = isRecord(payload) && isRecord(payload.d) ? payload.d : {};
    switch (op) {
      case GatewayOpcodes.Heartbeat:
        connection.send(controlFrame(GatewayOpcodes.HeartbeatAck, null));
        return;
      case GatewayOpcodes.Identify:
        identify(connection, d);
        return;
      case GatewayOpcodes.Resume:
        resume(connection, d);
        return;
      case GatewayOpcodes.PresenceUpdate:
      case GatewayOpcodes.VoiceStateUpdate:
      case GatewayOpcodes.RequestGuildMembers:
        if (!connection.session) connection.ws.close(4003, 'Not authenticated.');
        return;
      default:
        connection.ws.close(4001, 'Unknown opcode.');
    }
  }

  function identify(connection: Connection, d: Record<string, unknown>): void {
    identifies += 1;
    if (connection.session) {
      connection.ws.close(4005, 'Already authenticated.');
      return;
    }
    const intents = typeof d.intents === 'number' ? d.intents : 0;
    if ((intents & PRIVILEGED_INTENTS & ~options.intentsAllowed) !== 0) {
      connection.ws.close(4014, 'Disallowed intent(s).');
      return;
    }
    const shard = Array.isArray(d.shard) ? d.shard : undefined;
    const session: Session = {
      index: sessions.length,
      sessionId: randomBytes(16).toString('hex'),
      intents,
      seq: 0,
      log: [],
      socket: connection,
      ended: false,
      get connected() {
        return this.socket !== undefined;
      },
    };
    sessions.push(session);
    connection.session = session;
    const events = options.onIdentify({
      sessionId: session.sessionId,
      resumeGatewayUrl: `${options.baseUrl}${RESUME_GATEWAY_PATH}`,
      intents,
      shard: shard?.length === 2 ? [Number(shard[0]), Number(shard[1])] : undefined,
    });
    for (const event of events) sendEvent(session, event.t, event.d);
  }

  function resume(connection: Connection, d: Record<string, unknown>): void {
    const session = sessions.find((candidate) => candidate.sessionId === d.session_id);
    if (!session || session.ended) {
      connection.send(controlFrame(GatewayOpcodes.InvalidSession, false));
      return;
    }
    resumes += 1;
    // Discord drops an older socket still attached to the session being resumed.
    if (session.socket && session.socket !== connection)
      session.socket.ws.close(4000, 'Session resumed elsewhere');
    session.socket = connection;
    connection.session = session;
    const after = typeof d.seq === 'number' ? d.seq : 0;
    for (const entry of session.log)
      if (entry.s > after) connection.send({ op: GatewayOpcodes.Dispatch, ...entry });
    sendEvent(session, 'RESUMED', { _trace: ['["fake-discord",{"micros":0}]'] });
  }

  return {
    url: `${options.baseUrl}${GATEWAY_PATH}`,
    received,
    connections,
    identifies: () => identifies,
    resumes: () => resumes,
    sessions: () => sessions,
    dispatch(t, build, only) {
      for (const session of sessions) {
        if (session.ended || (only !== undefined && session.index !== only)) continue;
        const d = build(session);
        if (d !== undefined) sendEvent(session, t, d);
      }
    },
    disconnect(code) {
      for (const connection of open) {
        // Detach first so dispatches from now on are buffered for the RESUME, as Discord does.
        if (connection.session?.socket === connection) connection.session.socket = undefined;
        connection.session = undefined;
        connection.ws.close(code, 'fake-discord: disconnect requested');
      }
    },
    close() {
      server.off('upgrade', onUpgrade);
      for (const connection of open) connection.ws.terminate();
      open.clear();
      wss.close();
    },
  };
}

/**
 * Plain JSON text frames, or for `compress=zlib-stream` one shared deflate context per connection with
 * every payload ending in a Z_SYNC_FLUSH (the 00 00 FF FF suffix zlib-sync waits for), sent as binary.
 */
function makeSender(ws: WebSocket, compress: string | undefined): Connection['send'] {
  if (compress !== 'zlib-stream') {
    return (payload) => {
      if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(payload));
    };
  }
  const deflate: Deflate = createDeflate();
  ws.once('close', () => deflate.close());
  // One payload at a time, read in paused mode once its flush completes: zlib pushes a write's output
  // before calling back, so each frame holds exactly one payload.
  let queue = Promise.resolve();
  return (payload) => {
    queue = queue.then(
      () =>
        new Promise<void>((resolve) => {
          deflate.write(JSON.stringify(payload));
          deflate.flush(zlibConstants.Z_SYNC_FLUSH, () => {
            const frame: unknown = deflate.read();
            if (Buffer.isBuffer(frame) && ws.readyState === ws.OPEN) ws.send(frame);
            resolve();
          });
        }),
    );
  };
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
