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

/**
 * A Lua script sent by SHA (EVALSHA), falling back to EVAL once when the server does not have it
 * cached yet (NOSCRIPT, e.g. after a restart), so scripts are not re-sent on every call.
 */
export function defineScript(source: string): RedisScript {
  const sha = createHash('sha1').update(source).digest('hex');
  return {
    async run(redis, keys, args) {
      try {
        return await redis.evalsha(sha, keys.length, ...keys, ...args);
      } catch (error) {
        if (!(error instanceof Error) || !error.message.startsWith('NOSCRIPT')) throw error;
        return redis.eval(source, keys.length, ...keys, ...args);
      }
    },
  };
}
