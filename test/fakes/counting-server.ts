import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface CountedRequest {
  readonly method: string;
  readonly path: string;
  readonly idempotencyKey: string | undefined;
  readonly body: string;
}

export interface CountingServer {
  /** `127.0.0.1:<port>`, for http.allowedHosts. */
  readonly host: string;
  readonly url: string;
  readonly requests: CountedRequest[];
  /** Resolves when a request to a path starting with `pathPrefix` has arrived. */
  waitForRequest(pathPrefix: string, timeoutMs?: number): Promise<CountedRequest>;
  close(): Promise<void>;
}

/**
 * A shop API stand-in on loopback that counts the side effects it receives, so a test can prove a
 * call happened at most once even across processes. `delayMs` makes each answer slow, to kill a
 * worker while a call is in flight.
 */
export async function startCountingServer(options: { delayMs?: number } = {}): Promise<CountingServer> {
  const requests: CountedRequest[] = [];
  const waiters = new Set<() => void>();
  const server: Server = createServer(async (req: IncomingMessage, res) => {
    let body = '';
    for await (const chunk of req) body += String(chunk);
    const header = req.headers['idempotency-key'];
    requests.push({
      method: req.method ?? '',
      path: req.url ?? '',
      idempotencyKey: Array.isArray(header) ? header[0] : header,
      body,
    });
    for (const wake of waiters) wake();
    setTimeout(() => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ ok: true, count: requests.length }));
    }, options.delayMs ?? 0);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    host: `127.0.0.1:${port}`,
    url: `http://127.0.0.1:${port}`,
    requests,
    waitForRequest(pathPrefix, timeoutMs = 20_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const found = requests.find((r) => r.path.startsWith(pathPrefix));
          if (!found) return;
          clearTimeout(timer);
          waiters.delete(check);
          resolve(found);
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`no request to ${pathPrefix} within ${timeoutMs} ms`));
        }, timeoutMs);
        waiters.add(check);
        check();
      });
    },
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
