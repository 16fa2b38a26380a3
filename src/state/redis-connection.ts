import { createHash } from 'node:crypto';
import { Redis, type RedisOptions } from 'ioredis';
import { StateUnavailableError } from '../core/errors.ts';
import type { Logger } from '../core/ports.ts';

export interface RedisConnectionOptions {
  readonly logger: Logger;
  /** Shown in logs and as the CLIENT SETNAME of the connection. */
  readonly name: string;
  /**
   * 'commands': request/response traffic of the stores; fails fast while Redis is down.
   * 'blocking': BullMQ workers, which block on Redis and must never give up on a command.
   */
  readonly role: 'commands' | 'blocking';
}

const CONNECT_TIMEOUT_MS = 2_000;
const MAX_RECONNECT_DELAY_MS = 2_000;
const ERROR_LOG_INTERVAL_MS = 10_000;

/**
 * A Redis connection that survives outages: it reconnects forever (capped backoff), and its
 * 'error' events are logged at most once per 10 s instead of crashing the process as an unhandled
 * 'error' event would. With role 'commands' the offline queue is off, so while Redis is down a
 * command fails at once (callers see StateUnavailableError via wrapUnavailable) instead of piling
 * up in memory; call waitUntilReady() before first use for the same reason.
 */
export function createRedisConnection(url: string, options: RedisConnectionOptions): Redis {
  const { logger, name, role } = options;
  const common: RedisOptions = {
    connectionName: name,
    connectTimeout: CONNECT_TIMEOUT_MS,
    retryStrategy: (attempt: number) => Math.min(attempt * 100, MAX_RECONNECT_DELAY_MS),
  };
  const redis =
    role === 'commands'
      ? // Auto-pipelining sends every command issued in one tick as one write: a run's checkpoint,
        // audit events and budget settlement cost one round trip together.
        new Redis(url, {
          ...common,
          enableOfflineQueue: false,
          maxRetriesPerRequest: 1,
          enableAutoPipelining: true,
        })
      : new Redis(url, { ...common, maxRetriesPerRequest: null });

  const log = logger.child({ redisConnection: name, role });
  let lastWarnAt = Number.NEGATIVE_INFINITY;
  let suppressed = 0;
  let failing = false;
  redis.on('error', (error: unknown) => {
    failing = true;
    const now = Date.now();
    if (now - lastWarnAt < ERROR_LOG_INTERVAL_MS) {
      suppressed += 1;
      return;
    }
    log.warn({ err: error, suppressed }, 'redis connection error; reconnecting');
    lastWarnAt = now;
    suppressed = 0;
  });
  redis.on('ready', () => {
    if (!failing) return;
    failing = false;
    log.info({}, 'redis connection restored');
  });
  return redis;
}

/** Resolves once the connection is ready; rejects with StateUnavailableError after timeoutMs. */
export async function waitUntilReady(redis: Redis, timeoutMs: number): Promise<void> {
  if (redis.status === 'ready') return;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      redis.off('ready', onReady);
      reject(new StateUnavailableError(`connect: not ready within ${timeoutMs} ms`));
    }, timeoutMs);
    const onReady = (): void => {
      clearTimeout(timer);
      resolve();
    };
    redis.once('ready', onReady);
  });
}

const CONNECTION_ERROR_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
]);

const CONNECTION_ERROR_MESSAGES = [
  "Stream isn't writeable",
  'enableOfflineQueue options is false',
  'Connection is closed',
  'Reached the max retries per request limit',
  'Command timed out',
  'connect ETIMEDOUT',
];

/** True for failures that mean "Redis could not be reached", as opposed to a bad command. */
export function isConnectionError(error: unknown): boolean {
  if (error instanceof StateUnavailableError) return true;
  if (!(error instanceof Error)) return false;
  if (error.name === 'MaxRetriesPerRequestError') return true;
  const code = (error as Error & { code?: unknown }).code;
  if (typeof code === 'string' && CONNECTION_ERROR_CODES.has(code)) return true;
  // A server that is still loading its data set answers every command with LOADING.
  if (error.message.startsWith('LOADING')) return true;
  if (CONNECTION_ERROR_MESSAGES.some((text) => error.message.includes(text))) return true;
  return error.cause !== undefined && error.cause !== error && isConnectionError(error.cause);
}

/** Runs a store operation, turning connection failures into StateUnavailableError; others pass through. */
export async function wrapUnavailable<T>(operation: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    if (error instanceof StateUnavailableError) throw error;
    if (isConnectionError(error)) throw new StateUnavailableError(operation, { cause: error });
    throw error;
  }
}

export interface RedisScript {
  run(redis: Redis, keys: readonly string[], args: readonly (string | number | Buffer)[]): Promise<unknown>;
}

export interface ScriptOptions {
  /**
   * Always send the source (EVAL), even where the script is known to be cached. For a script whose
   * order against commands sent beside it matters even after a SCRIPT FLUSH on a live connection.
   */
  readonly inOrder?: boolean;
}

/**
 * Script SHAs each connection has sent the source of since it last connected. Redis runs one
 * connection's commands in order, but an EVALSHA that meets an empty script cache answers NOSCRIPT,
 * and its EVAL fallback is a second write that lands after whatever was sent beside it: a lane push
 * would land after the job meant to drain it. So a connection's first use of a script (and its first
 * use after a reconnect, perhaps to a restarted server) sends the source, and only later uses send
 * the SHA, which is how ioredis's own defineCommand behaves.
 */
const sentOn = new WeakMap<Redis, Set<string>>();

function scriptsSentOn(redis: Redis): Set<string> {
  let sent = sentOn.get(redis);
  if (!sent) {
    const fresh = new Set<string>();
    redis.on('close', () => fresh.clear());
    sentOn.set(redis, fresh);
    sent = fresh;
  }
  return sent;
}

/**
 * A Lua script sent by SHA (EVALSHA) once this connection has sent its source, falling back to EVAL
 * when the server no longer has it (NOSCRIPT, after a SCRIPT FLUSH), so scripts are not re-sent on
 * every call.
 */
export function defineScript(source: string, options: ScriptOptions = {}): RedisScript {
  const sha = createHash('sha1').update(source).digest('hex');
  const evalSource = (redis: Redis, keys: readonly string[], args: readonly (string | number | Buffer)[]) =>
    redis.eval(source, keys.length, ...keys, ...args);
  if (options.inOrder) return { run: evalSource };
  return {
    async run(redis, keys, args) {
      const sent = scriptsSentOn(redis);
      if (!sent.has(sha)) {
        // Marked before the reply, so a call in the same tick sends the SHA behind this source.
        sent.add(sha);
        try {
          return await evalSource(redis, keys, args);
        } catch (error) {
          sent.delete(sha);
          throw error;
        }
      }
      try {
        return await redis.evalsha(sha, keys.length, ...keys, ...args);
      } catch (error) {
        if (!(error instanceof Error) || !error.message.startsWith('NOSCRIPT')) throw error;
        return evalSource(redis, keys, args);
      }
    },
  };
}
