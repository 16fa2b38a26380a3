/** Shared pieces for the run queue integration tests: items, a recording handler and logger. */
import { once } from 'node:events';
import { type AddressInfo, connect, createServer, type Socket } from 'node:net';
import type { Logger } from '../../../src/core/ports.ts';
import type { WorkHandler, WorkItem } from '../../../src/core/work.ts';

export function startItem(conversationKey: string, n: number): WorkItem {
  return {
    kind: 'start',
    itemId: `start:${conversationKey}-${n}`,
    runId: `${conversationKey}-${n}`,
    conversationKey,
  };
}

export interface HandledItem {
  readonly itemId: string;
  readonly conversationKey: string;
  readonly recovering: boolean;
  readonly startedAt: number;
  endedAt: number | undefined;
  signal: AbortSignal;
}

/** A handler that records what it ran and when; `work` decides what each item does. */
export function recordingHandler(
  work: (item: WorkItem, signal: AbortSignal) => Promise<void> = () => sleep(0),
): {
  handler: WorkHandler;
  handled: HandledItem[];
} {
  const handled: HandledItem[] = [];
  const handler: WorkHandler = async (item, { recovering, signal }) => {
    const entry: HandledItem = {
      itemId: item.itemId,
      conversationKey: item.conversationKey,
      recovering,
      startedAt: Date.now(),
      endedAt: undefined,
      signal,
    };
    handled.push(entry);
    try {
      await work(item, signal);
    } finally {
      entry.endedAt = Date.now();
    }
  };
  return { handler, handled };
}

export interface LogEntry {
  readonly level: 'debug' | 'info' | 'warn' | 'error';
  readonly msg: string | undefined;
  readonly obj: object;
}

export function recordingLogger(entries: LogEntry[] = []): Logger & { entries: LogEntry[] } {
  const at =
    (level: LogEntry['level'], bindings: object) =>
    (obj: object, msg?: string): void => {
      entries.push({ level, msg, obj: { ...bindings, ...obj } });
    };
  const make = (bindings: object): Logger & { entries: LogEntry[] } => ({
    entries,
    debug: at('debug', bindings),
    info: at('info', bindings),
    warn: at('warn', bindings),
    error: at('error', bindings),
    child: (more) => make({ ...bindings, ...more }),
  });
  return make({});
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls until `check` returns true; fails with `what` after `timeoutMs`. */
export async function waitFor(what: string, check: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(10);
  }
}

/** Resolves when `signal` aborts or after `ms`, whichever is first. */
export function sleepUnlessAborted(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener(
      'abort',
      () => {
        clearTimeout(timer);
        resolve();
      },
      { once: true },
    );
  });
}

export interface RedisProxy {
  readonly url: string;
  /** Drops every connection and refuses new ones, as if Redis went away. */
  cut(): void;
  restore(): void;
  close(): Promise<void>;
}

/** A loopback TCP proxy in front of Redis that a test can cut and restore. */
export async function startRedisProxy(targetUrl: string): Promise<RedisProxy> {
  const target = new URL(targetUrl);
  const sockets = new Set<Socket>();
  let down = false;
  const track = (socket: Socket): void => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
  };
  const server = createServer((client) => {
    track(client);
    if (down) return client.destroy();
    const upstream = connect(Number(target.port || 6379), target.hostname);
    track(upstream);
    client.pipe(upstream).pipe(client);
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    url: `redis://127.0.0.1:${port}`,
    cut() {
      down = true;
      for (const socket of sockets) socket.destroy();
    },
    restore() {
      down = false;
    },
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
