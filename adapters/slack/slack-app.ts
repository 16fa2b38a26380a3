import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { App, type Logger as BoltLogger, HTTPReceiver, LogLevel } from '@slack/bolt';
import type { WebClient } from '@slack/web-api';
import type { Logger } from '../../src/core/ports.ts';

export interface SlackAppOptions {
  readonly botToken: string;
  /** HTTP mode (events, interactivity and commands at POST /slack/events). */
  readonly signingSecret?: string | undefined;
  /** Socket Mode instead of HTTP when set. */
  readonly appToken?: string | undefined;
  /** Web API base URL (proxies, tests). */
  readonly apiUrl?: string | undefined;
  readonly port: number;
  readonly logger: Logger;
  /** Redis and the platform answer: for GET /readyz. */
  readonly isReady: () => Promise<boolean>;
}

export interface SlackApp {
  readonly app: App;
  readonly client: WebClient;
  /** Asks Slack who the bot is (auth.test): the id mentions are stripped of and own messages ignored by. */
  identify(): Promise<string>;
  /** Starts serving (HTTP mode) or connecting (Socket Mode); resolves with the HTTP port. */
  start(): Promise<number>;
  /** Serves only /healthz and /readyz (a process that posts but takes no events); resolves with the port. */
  serveProbes(): Promise<number>;
  stop(): Promise<void>;
}

/**
 * The Bolt app, in HTTP mode (with /healthz and /readyz on the same server) or Socket Mode (with
 * its own small HTTP server for the probes). Bad requests are refused by Bolt's signature and
 * timestamp checks with a 401 and no detail; a body Bolt cannot make sense of gets an empty answer
 * instead of an error page, and starts nothing.
 */
export function createSlackApp(options: SlackAppOptions): SlackApp {
  const logger = boltLogger(options.logger);
  const probes = healthRoutes(options.isReady);
  const clientOptions = options.apiUrl ? { slackApiUrl: options.apiUrl } : {};
  let probeServer: Server | undefined;
  let boundPort = options.port;

  const receiver = options.appToken
    ? undefined
    : new HTTPReceiver({
        signingSecret: options.signingSecret ?? '',
        endpoints: '/slack/events',
        port: options.port,
        logger,
        customRoutes: [
          { path: '/healthz', method: ['GET'], handler: probes.healthz },
          { path: '/readyz', method: ['GET'], handler: probes.readyz },
        ],
        processEventErrorHandler: async ({ error, response }) => {
          options.logger.warn({ err: error }, 'a Slack request could not be processed');
          if (!response.headersSent) {
            response.writeHead(200);
            response.end();
          }
          return true;
        },
        // Steward's listeners ack at once; a request none of them takes (a payload that is not
        // Slack's shape) gets its empty answer quickly instead of after Bolt's default 3 s.
        unhandledRequestTimeoutMillis: 100,
        unhandledRequestHandler: ({ response }) => {
          if (!response.headersSent) {
            response.writeHead(200);
            response.end();
          }
        },
      });
  const app = new App({
    token: options.botToken,
    logger,
    clientOptions,
    ...(receiver ? { receiver } : { socketMode: true, appToken: options.appToken ?? '' }),
  });

  let listening = false;
  const serveProbes = async (): Promise<number> => {
    probeServer = createServer((req, res) => {
      const route =
        req.url === '/healthz' ? probes.healthz : req.url === '/readyz' ? probes.readyz : undefined;
      if (route) return route(req, res);
      res.writeHead(404).end();
    });
    await new Promise<void>((resolve) => probeServer?.listen(options.port, resolve));
    const address = probeServer.address();
    boundPort = typeof address === 'object' && address ? address.port : options.port;
    return boundPort;
  };

  return {
    app,
    client: app.client,
    async identify() {
      const auth = await app.client.auth.test();
      return typeof auth.user_id === 'string' ? auth.user_id : '';
    },
    async start() {
      if (receiver) {
        const server = await receiver.start(options.port);
        const address = server.address();
        boundPort = typeof address === 'object' && address ? address.port : options.port;
        listening = true;
        return boundPort;
      }
      await app.start();
      listening = true;
      return serveProbes();
    },
    serveProbes,
    async stop() {
      if (listening) {
        if (receiver) await receiver.stop();
        else await app.stop();
      }
      await new Promise<void>((resolve) => (probeServer ? probeServer.close(() => resolve()) : resolve()));
    },
  };
}

function healthRoutes(isReady: () => Promise<boolean>) {
  return {
    healthz(_req: IncomingMessage, res: ServerResponse) {
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}');
    },
    readyz(_req: IncomingMessage, res: ServerResponse) {
      isReady().then(
        (ready) =>
          res
            .writeHead(ready ? 200 : 503, { 'content-type': 'application/json' })
            .end(JSON.stringify({ status: ready ? 'ready' : 'not ready' })),
        () => res.writeHead(503).end('{"status":"not ready"}'),
      );
    },
  };
}

/** Bolt's logger interface on top of ours, so Bolt's lines go through the same redaction. */
function boltLogger(logger: Logger): BoltLogger {
  const log = logger.child({ component: 'bolt' });
  const line = (args: unknown[]) =>
    args.map((arg) => (typeof arg === 'string' ? arg : JSON.stringify(arg))).join(' ');
  let level = LogLevel.INFO;
  return {
    debug: (...args) => log.debug({}, line(args)),
    info: (...args) => log.info({}, line(args)),
    warn: (...args) => log.warn({}, line(args)),
    error: (...args) => log.error({}, line(args)),
    setLevel: (next) => {
      level = next;
    },
    getLevel: () => level,
    setName: () => undefined,
  };
}
