/**
 * Redis for the test run. The rule (applied once per run by global-setup.ts):
 *   1. use REDIS_URL (default redis://127.0.0.1:6379) when it answers PING within ~1 s;
 *   2. else start a throwaway `redis-server` from PATH on a free port (no persistence), stopped in teardown;
 *   3. else fail with a message that says how to get one.
 * Tests then call `connectTestRedis()`, which works under a unique key prefix and deletes only that
 * prefix's keys on cleanup (SCAN + DEL, never FLUSHDB), so test files can share one server.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { Redis } from 'ioredis';
import { inject } from 'vitest';

declare module 'vitest' {
  export interface ProvidedContext {
    /** The Redis every test in this run uses (see test/support/global-setup.ts). */
    redisUrl: string;
  }
}

export const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';

const PING_TIMEOUT_MS = 1_000;
const START_TIMEOUT_MS = 10_000;
const STOP_TIMEOUT_MS = 5_000;

export interface FoundRedis {
  url: string;
  /** True when a throwaway redis-server was started for this run. */
  started: boolean;
  /** Stops the throwaway server (waits for it to exit); a no-op for an existing server. Idempotent. */
  stop(): Promise<void>;
}

/**
 * Find a Redis: `options.url` (default redis://127.0.0.1:6379) if it answers PING within ~1 s, else start
 * `options.redisServerBin` (default `redis-server` from PATH) on a free loopback port. Reads no environment.
 */
export async function findOrStartRedis(options?: {
  url?: string;
  redisServerBin?: string;
}): Promise<FoundRedis> {
  const url = options?.url ?? DEFAULT_REDIS_URL;
  const bin = options?.redisServerBin ?? 'redis-server';

  const pingProblem = await pingProblemOf(url, PING_TIMEOUT_MS);
  if (pingProblem === undefined) {
    return { url, started: false, stop: async () => {} };
  }

  try {
    return await startThrowawayRedis(bin);
  } catch (error) {
    throw new Error(
      [
        `No Redis for the tests: ${redact(url)} did not answer PING within ${PING_TIMEOUT_MS} ms (${pingProblem}),`,
        `and a throwaway redis-server could not be started from "${bin}" (${describe(error)}).`,
        'To fix, do one of:',
        '  - install redis-server so it is on PATH (e.g. `apt-get install redis-server` on Debian/Ubuntu,',
        '    `brew install redis` on macOS); the tests then start a throwaway one on a free port, or',
        '  - set REDIS_URL to a reachable Redis server (e.g. REDIS_URL=redis://127.0.0.1:6379).',
      ].join('\n'),
      { cause: error },
    );
  }
}

/** A unique key prefix for one test, e.g. `test:k3j9x0ab12cd:` or `test:my-test:k3j9x0ab12cd:`. */
export function testPrefix(name?: string): string {
  const random = randomBytes(6).toString('hex');
  // Only characters that are literal in SCAN MATCH glob patterns.
  const slug = name
    ?.replace(/[^A-Za-z0-9_-]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 40);
  return slug ? `test:${slug}:${random}:` : `test:${random}:`;
}

export interface TestRedis {
  redis: Redis;
  /** Every key this test writes should start with this. */
  prefix: string;
  /** Deletes every key under `prefix` (SCAN + DEL) and quits the connection. Idempotent. */
  cleanup(): Promise<void>;
}

/** A connection to the run's Redis (`inject('redisUrl')`) with a fresh key prefix. */
export async function connectTestRedis(options?: { name?: string }): Promise<TestRedis> {
  const redis = new Redis(inject('redisUrl'), { maxRetriesPerRequest: 2 });
  try {
    await redis.ping();
  } catch (error) {
    redis.disconnect();
    throw error;
  }
  const prefix = testPrefix(options?.name);
  let cleaned: Promise<void> | undefined;
  return {
    redis,
    prefix,
    cleanup(): Promise<void> {
      cleaned ??= (async () => {
        try {
          await deleteKeysWithPrefix(redis, prefix);
        } finally {
          await closeConnection(redis);
        }
      })();
      return cleaned;
    },
  };
}

/** QUIT, falling back to a hard disconnect, and wait until the connection has really ended. */
async function closeConnection(redis: Redis): Promise<void> {
  if (redis.status === 'end') return;
  const ended = new Promise<void>((resolve) => redis.once('end', () => resolve()));
  try {
    await redis.quit();
  } catch {
    redis.disconnect();
  }
  await ended;
}

/** Deletes every key starting with `prefix` using SCAN + DEL; returns how many were deleted. */
export async function deleteKeysWithPrefix(redis: Redis, prefix: string): Promise<number> {
  if (prefix === '') throw new Error('deleteKeysWithPrefix: refusing an empty prefix');
  const match = `${prefix.replace(/[*?[\]\\]/g, '\\$&')}*`;
  let cursor = '0';
  let deleted = 0;
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', match, 'COUNT', 500);
    cursor = next;
    if (keys.length > 0) deleted += await redis.del(...keys);
  } while (cursor !== '0');
  return deleted;
}

/** undefined when `url` answers PING within `timeoutMs`, else why not. */
async function pingProblemOf(url: string, timeoutMs: number): Promise<string | undefined> {
  const client = new Redis(url, {
    lazyConnect: true,
    connectTimeout: timeoutMs,
    commandTimeout: timeoutMs,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    retryStrategy: () => null,
  });
  // ioredis rejects with a bare "Connection is closed."; the 'error' event carries the cause (ECONNREFUSED…).
  let lastError: unknown;
  client.on('error', (error: unknown) => {
    lastError = error;
  });
  let timer: NodeJS.Timeout | undefined;
  try {
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
    });
    const reply = await Promise.race([client.connect().then(() => client.ping()), timeout]);
    return reply === 'PONG' ? undefined : `unexpected PING reply ${JSON.stringify(reply)}`;
  } catch (error) {
    return describe(lastError ?? error);
  } finally {
    clearTimeout(timer);
    client.disconnect();
  }
}

async function startThrowawayRedis(bin: string): Promise<FoundRedis> {
  // Another process may take the free port between probing and binding: try a few ports.
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt += 1) {
    const port = await freePort();
    try {
      return await startRedisOn(bin, port);
    } catch (error) {
      lastError = error;
      if (!(error instanceof PortInUseError)) break;
    }
  }
  throw lastError;
}

class PortInUseError extends Error {}

/**
 * A redis-server of the test's own that keeps its data in `dir` (append-only file, synced on every
 * write), so a test can stop it and start it again on the same port with its data intact, as a
 * production Redis comes back after a restart.
 */
export async function startPersistentRedis(options: {
  dir: string;
  port?: number;
  redisServerBin?: string;
}): Promise<FoundRedis & { port: number }> {
  const port = options.port ?? (await freePort());
  const persistence = ['--dir', options.dir, '--appendonly', 'yes', '--appendfsync', 'always'];
  const found = await startRedisOn(options.redisServerBin ?? 'redis-server', port, persistence);
  return { ...found, port };
}

async function startRedisOn(bin: string, port: number, persistence?: readonly string[]): Promise<FoundRedis> {
  const child = spawn(
    bin,
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', ...(persistence ?? ['--appendonly', 'no'])],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  const keep = (chunk: Buffer): void => {
    output = (output + chunk.toString('utf8')).slice(-4_000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);

  const exited = new Promise<Error>((resolve) => {
    child.once('error', (error) => resolve(error));
    child.once('exit', (code, signal) => {
      const why = `exited early (${signal ?? `code ${code}`})${output ? `: ${lastLines(output)}` : ''}`;
      resolve(/address already in use/i.test(output) ? new PortInUseError(why) : new Error(why));
    });
  });

  // Do not leave the server running if the test process dies without teardown.
  const killOnExit = (): void => {
    child.kill('SIGKILL');
  };
  process.once('exit', killOnExit);

  const url = `redis://127.0.0.1:${port}`;
  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    const early = await Promise.race([exited, sleep(100).then(() => undefined)]);
    if (early !== undefined) {
      process.off('exit', killOnExit);
      throw early;
    }
    if ((await pingProblemOf(url, 500)) === undefined) break;
    if (Date.now() > deadline) {
      process.off('exit', killOnExit);
      await stopChild(child);
      throw new Error(`started on port ${port} but did not answer PING within ${START_TIMEOUT_MS} ms`);
    }
  }

  let stopped: Promise<void> | undefined;
  return {
    url,
    started: true,
    stop(): Promise<void> {
      stopped ??= stopChild(child).finally(() => process.off('exit', killOnExit));
      return stopped;
    },
  };
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exit = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const killer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
  try {
    await exit;
  } finally {
    clearTimeout(killer);
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => (port > 0 ? resolve(port) : reject(new Error('could not find a free port'))));
    });
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function lastLines(text: string): string {
  return text.trim().split('\n').slice(-3).join(' | ');
}

/** The URL without its password, for messages. */
function redact(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return url;
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
