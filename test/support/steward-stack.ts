import { Writable } from 'node:stream';
import { createSteward, type Steward } from '../../src/app/compose.ts';
import { parseConfig } from '../../src/app/config-file.ts';
import { parseEnv } from '../../src/app/env.ts';
import type { AuditEvent } from '../../src/core/audit-events.ts';
import { BUILT_IN_TOOL_NAMES } from '../../tools/index.ts';
import { createRecordingSurface } from '../fakes/recording-surface.ts';
import type { ScriptedOpenAI } from '../fakes/scripted-openai-server.ts';

export interface Stack {
  readonly steward: Steward;
  readonly surface: ReturnType<typeof createRecordingSurface>;
  readonly audit: AuditEvent[];
  /** Every log line written, as text. */
  readonly logLines: string[];
}

/** The whole app as `npm start` composes it, from YAML and environment, logging at trace. */
export function createStack(options: {
  server: ScriptedOpenAI;
  yaml: string;
  env?: Record<string, string>;
  clock?: { now(): number };
}): Stack {
  const source = {
    OPENAI_API_KEY: 'sk-planted-openai-key-4567',
    OPENAI_BASE_URL: options.server.baseURL,
    OPENAI_MODEL: 'gpt-test',
    LOG_LEVEL: 'trace',
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
  const steward = createSteward({
    env,
    config,
    surface,
    auditSinks: [{ record: (event) => audit.push(event) }],
    logDestination: destination,
    model: { initialDelayMs: 5, maxDelayMs: 20 },
    ...(options.clock ? { clock: options.clock } : {}),
  });
  return { steward, surface, audit, logLines };
}
