import { Writable } from 'node:stream';
import { Redis } from 'ioredis';
import { inject } from 'vitest';
import { createSteward, type Steward, type WorkerSettings } from '../../src/app/compose.ts';
import { parseConfig } from '../../src/app/config-file.ts';
import { parseEnv } from '../../src/app/env.ts';
import type { AuditEvent } from '../../src/core/audit-events.ts';
import { BUILT_IN_TOOL_NAMES } from '../../tools/index.ts';
import { createRecordingSurface, type RecordingSurface } from '../fakes/recording-surface.ts';
import type { ScriptedOpenAI } from '../fakes/scripted-openai-server.ts';
import { deleteKeysWithPrefix, testPrefix } from './redis.ts';

export interface Stack {
  readonly steward: Steward;
  readonly surface: RecordingSurface;
  readonly audit: AuditEvent[];
  /** Every log line written, as text. */
  readonly logLines: string[];
  readonly prefix: string;
  /** Closes the app and deletes every key it wrote. */
  close(): Promise<void>;
}

export interface StackOptions {
  readonly server: ScriptedOpenAI;
  readonly yaml: string;
  readonly env?: Record<string, string>;
  readonly clock?: { now(): number };
  readonly worker?: false | WorkerSettings;
  /** Share state with another stack (two processes on one Redis). */
  readonly prefix?: string;
  /** Wraps the recording surface (e.g. to make a platform call fail). */
  readonly wrapSurface?: (surface: RecordingSurface) => RecordingSurface;
}

/** The whole app as `npm start` composes it, from YAML and environment, on the test Redis. */
export async function createStack(options: StackOptions): Promise<Stack> {
  const prefix = options.prefix ?? testPrefix('stack');
  const source = {
    OPENAI_API_KEY: 'sk-planted-openai-key-4567',
    OPENAI_BASE_URL: options.server.baseURL,
    OPENAI_MODEL: 'gpt-test',
    LOG_LEVEL: 'trace',
    REDIS_URL: inject('redisUrl'),
    STEWARD_REDIS_PREFIX: prefix,
    ...options.env,
  };
  const env = parseEnv(source);
  const config = parseConfig(options.yaml, { env: source, builtInTools: BUILT_IN_TOOL_NAMES });
  const surface = createRecordingSurface();
  const audit: AuditEvent[] = [];
  const logLines: string[] = [];
  const destination = new Writable({
    write(chunk, _encoding, done) {
      logLines.push(String(chunk));
      done();
    },
  });
  const steward = await createSteward({
    env,
    config,
    surface: options.wrapSurface ? options.wrapSurface(surface) : surface,
    auditSinks: [{ record: (event) => audit.push(event) }],
    logDestination: destination,
    model: { initialDelayMs: 5, maxDelayMs: 20 },
    worker: options.worker ?? { graceMs: 2_000 },
    ...(options.clock ? { clock: options.clock } : {}),
  });
  return {
    steward,
    surface,
    audit,
    logLines,
    prefix,
    async close() {
      await steward.close();
      if (options.prefix) return;
      const redis = new Redis(inject('redisUrl'));
      await deleteKeysWithPrefix(redis, prefix);
      await redis.quit();
    },
  };
}
