import type { Redis } from 'ioredis';
import { createRedactor } from '../core/redaction.ts';
import { formatTimeline, readRunAudit } from '../state/redis-audit-sink.ts';
import { createRedisConnection, waitUntilReady } from '../state/redis-connection.ts';
import { createKeys } from '../state/redis-keys.ts';
import { parseStateEnv } from './env.ts';
import { createLogger } from './logger.ts';
import { describeStartupError } from './startup.ts';

export interface AuditCommandIo {
  readonly source: Record<string, string | undefined>;
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
}

export const AUDIT_USAGE = 'usage: npm run audit -- <runId>\n';

/** Long enough for a Redis across a network, short enough that a typo'd URL fails while you watch. */
const CONNECT_TIMEOUT_MS = 3_000;

/**
 * `npm run audit -- <runId>`: one run's whole timeline from Redis, one line per event. Returns the
 * exit code (0 shown, 1 no such run or Redis trouble, 2 usage) instead of exiting, so tests can
 * call it in-process.
 */
export async function runAuditCommand(args: readonly string[], io: AuditCommandIo): Promise<number> {
  if (args.length === 1 && (args[0] === '--help' || args[0] === '-h')) {
    io.stdout(AUDIT_USAGE);
    return 0;
  }
  const runId = args.length === 1 ? args[0] : undefined;
  // A leading '-' is a mistyped option, not a run id (run ids never start with one).
  if (runId === undefined || runId.trim() === '' || runId.startsWith('-')) {
    io.stderr(AUDIT_USAGE);
    return 2;
  }

  let redis: Redis | undefined;
  try {
    const env = parseStateEnv(io.source);
    // The command reports its own failures in one line; pino's JSON reconnect warnings would
    // only bury that line, so the connection's logger stays silent.
    const logger = createLogger({
      level: 'silent',
      redact: createRedactor([]),
      destination: { write: (line: string) => io.stderr(line) },
    });
    redis = createRedisConnection(env.redisUrl, { logger, name: 'steward-audit', role: 'commands' });
    await waitUntilReady(redis, CONNECT_TIMEOUT_MS);
    const events = await readRunAudit(redis, createKeys(env.redisPrefix), runId);
    if (events.length === 0) {
      io.stderr(`no audit events for run ${runId} (runs are kept 30 days)\n`);
      return 1;
    }
    io.stdout([`run ${runId}`, ...formatTimeline(events)].map((line) => `${line}\n`).join(''));
    return 0;
  } catch (error) {
    io.stderr(describeStartupError(error, io.source.REDIS_URL));
    return 1;
  } finally {
    if (redis !== undefined) await close(redis);
  }
}

/** QUIT when connected; otherwise disconnect, which also stops the reconnect loop. */
async function close(redis: Redis): Promise<void> {
  if (redis.status !== 'ready') {
    redis.disconnect();
    return;
  }
  try {
    await redis.quit();
  } catch {
    redis.disconnect();
  }
}
