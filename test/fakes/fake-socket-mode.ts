/**
 * A fake Socket Mode server on loopback that the real @slack/socket-mode client (Bolt's SocketModeReceiver)
 * connects to. Wire it up with `fakeApi.setSocketModeUrl(socket.url)`: the client asks
 * `apps.connections.open` (on clientOptions.slackApiUrl) for the WebSocket URL, connects, and only
 * counts as started once it receives `hello`.
 *
 * Protocol as the client implements it (node_modules/@slack/socket-mode/dist/src/SocketModeClient.js):
 * envelopes are `{ envelope_id, type, payload, accepts_response_payload, retry_attempt?, retry_reason? }`;
 * the client acks with `{ envelope_id, payload }` (payload `{}` when ack() got no body). The server never
 * pings: the client starts a 30 s "no ping from Slack" timer only after a first ping, and `ws` answers the
 * client's own pings with pongs automatically.
 */
import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { type RawData, type WebSocket, WebSocketServer } from 'ws';

export type EnvelopeType = 'events_api' | 'interactive' | 'slash_commands';

export interface SendEnvelopeOptions {
  /** Default: true for slash_commands and interactive (ack bodies reach Slack), false for events_api. */
  acceptsResponsePayload?: boolean;
  /** Slack's redelivery markers for events_api; Bolt exposes them as context.retryNum / retryReason. */
  retryAttempt?: number;
  retryReason?: string;
  /** How long to wait for the ack (Slack itself retries after 3 s). Default 10 s. */
  timeoutMs?: number;
}

export interface SentEnvelope {
  envelope_id: string;
  /** The client's ack message as sent: `{ envelope_id, payload }`. */
  ack: unknown;
}

export interface FakeSocketMode {
  /** `ws://127.0.0.1:PORT/link/?ticket=…&app_id=A1`, shaped like the wss:// URL Slack hands out. */
  readonly url: string;
  /** Every message clients sent (parsed JSON), in order: acks mostly. */
  readonly received: unknown[];
  /** Connections accepted so far (reconnects count). */
  connectionCount(): number;
  /** Resolves once a client is connected and has been sent `hello` (immediately if one is). */
  waitForConnection(timeoutMs?: number): Promise<void>;
  /** Send an envelope to the newest open connection and resolve with the client's ack. */
  sendEnvelope(payload: unknown, type: EnvelopeType, options?: SendEnvelopeOptions): Promise<SentEnvelope>;
  /** Ask clients to reconnect, as Slack does before recycling a host. */
  sendDisconnect(reason?: 'refresh_requested' | 'warning' | 'link_disabled'): void;
  /**
   * Close every connection (clean handshake, terminate after 1 s) and stop listening. Stop the Bolt app
   * first: a client that is not shutting down treats the close as a drop and reconnects.
   */
  close(): Promise<void>;
}

export async function startFakeSocketMode(options: { appId?: string } = {}): Promise<FakeSocketMode> {
  const appId = options.appId ?? 'A1';
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise<void>((resolve, reject) => {
    wss.once('listening', resolve);
    wss.once('error', reject);
  });
  const open: WebSocket[] = [];
  const received: unknown[] = [];
  const pendingAcks = new Map<string, (ack: unknown) => void>();
  const connectionWaiters = new Set<() => void>();
  let accepted = 0;

  wss.on('connection', (socket) => {
    accepted += 1;
    open.push(socket);
    socket.on('close', () => {
      const index = open.indexOf(socket);
      if (index >= 0) open.splice(index, 1);
    });
    socket.on('message', (data: RawData) => {
      let message: unknown;
      try {
        message = JSON.parse(data.toString());
      } catch {
        message = data.toString();
      }
      received.push(message);
      const id =
        typeof message === 'object' && message !== null ? Reflect.get(message, 'envelope_id') : undefined;
      if (typeof id === 'string') pendingAcks.get(id)?.(message);
    });
    socket.send(
      JSON.stringify({
        type: 'hello',
        num_connections: open.length,
        debug_info: { host: 'fake', approximate_connection_time: 18060 },
        connection_info: { app_id: appId },
      }),
    );
    for (const wake of connectionWaiters) wake();
  });

  const port = (wss.address() as AddressInfo).port;
  return {
    url: `ws://127.0.0.1:${port}/link/?ticket=${randomUUID()}&app_id=${appId}`,
    received,
    connectionCount: () => accepted,
    waitForConnection(timeoutMs = 10_000) {
      if (open.length > 0) return Promise.resolve();
      return new Promise((resolve, reject) => {
        const wake = (): void => {
          clearTimeout(timer);
          connectionWaiters.delete(wake);
          resolve();
        };
        const timer = setTimeout(() => {
          connectionWaiters.delete(wake);
          reject(new Error(`fake-socket-mode: no client connected within ${timeoutMs} ms`));
        }, timeoutMs);
        connectionWaiters.add(wake);
      });
    },
    sendEnvelope(payload, type, sendOptions = {}) {
      const socket = open.at(-1);
      if (!socket) return Promise.reject(new Error('fake-socket-mode: no client connected'));
      const envelopeId = randomUUID();
      const timeoutMs = sendOptions.timeoutMs ?? 10_000;
      const envelope: Record<string, unknown> = {
        envelope_id: envelopeId,
        type,
        payload,
        accepts_response_payload: sendOptions.acceptsResponsePayload ?? type !== 'events_api',
      };
      if (sendOptions.retryAttempt !== undefined) envelope.retry_attempt = sendOptions.retryAttempt;
      if (sendOptions.retryReason !== undefined) envelope.retry_reason = sendOptions.retryReason;
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          pendingAcks.delete(envelopeId);
          reject(
            new Error(`fake-socket-mode: no ack for ${type} envelope ${envelopeId} within ${timeoutMs} ms`),
          );
        }, timeoutMs);
        pendingAcks.set(envelopeId, (ack) => {
          clearTimeout(timer);
          pendingAcks.delete(envelopeId);
          resolve({ envelope_id: envelopeId, ack });
        });
        socket.send(JSON.stringify(envelope));
      });
    },
    sendDisconnect(reason = 'refresh_requested') {
      for (const socket of open)
        socket.send(JSON.stringify({ type: 'disconnect', reason, debug_info: { host: 'fake' } }));
    },
    async close() {
      // A clean close handshake first: Bolt's app.stop() resolves before its client has finished closing,
      // and a bare terminate() then surfaces as a logged "WebSocket error" in the client.
      await Promise.all(
        [...open].map(
          (socket) =>
            new Promise<void>((resolve) => {
              const timer = setTimeout(() => socket.terminate(), 1000);
              socket.once('close', () => {
                clearTimeout(timer);
                resolve();
              });
              socket.close(1000, 'fake socket mode closing');
            }),
        ),
      );
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  };
}
