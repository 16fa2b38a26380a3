import { Writable } from 'node:stream';
import { Redis } from 'ioredis';
import { inject } from 'vitest';
import { parseConfig } from '../../src/app/config-file.ts';
import { createDiscordConnector } from '../../src/app/discord-connector.ts';
import { parseEnv } from '../../src/app/env.ts';
import { type Runtime, startRuntime } from '../../src/app/runtime.ts';
import { BUILT_IN_TOOL_NAMES } from '../../tools/index.ts';
import type { FakeDiscord } from '../fakes/fake-discord.ts';
import type { ScriptedOpenAI } from '../fakes/scripted-openai-server.ts';
import { deleteKeysWithPrefix, testPrefix } from './redis.ts';

export interface DiscordStack {
  readonly runtime: Runtime;
  readonly prefix: string;
  close(): Promise<void>;
}

/** Steward as `npm start` runs it with Discord configured, logged in to a fake Discord, on real Redis. */
export async function startDiscordStack(options: {
  discord: FakeDiscord;
  model: ScriptedOpenAI;
  yaml: string;
  /** Share state with another process-like stack (same token, same Redis). */
  prefix?: string;
}): Promise<DiscordStack> {
  const prefix = options.prefix ?? testPrefix('discord');
  const source = {
    OPENAI_API_KEY: 'sk-test',
    OPENAI_BASE_URL: options.model.baseURL,
    REDIS_URL: inject('redisUrl'),
    STEWARD_REDIS_PREFIX: prefix,
    LOG_LEVEL: 'warn',
    DISCORD_TOKEN: 'fake-discord-bot-token-000001',
    DISCORD_APPLICATION_ID: options.discord.applicationId,
    DISCORD_API_URL: options.discord.apiUrl,
  };
  const env = parseEnv(source);
  const discordEnv = env.discord;
  if (!discordEnv) throw new Error('the Discord variables did not parse');
  const runtime = await startRuntime({
    env,
    config: parseConfig(options.yaml, { env: source, builtInTools: BUILT_IN_TOOL_NAMES }),
    logDestination: new Writable({ write: (_chunk, _encoding, done) => done() }),
    model: { initialDelayMs: 5, maxDelayMs: 20 },
    worker: { graceMs: 1_000 },
    connectors: (context) => [
      createDiscordConnector(
        discordEnv,
        parseConfig(options.yaml, { env: source, builtInTools: BUILT_IN_TOOL_NAMES }),
        context,
      ),
    ],
  });
  return {
    runtime,
    prefix,
    async close() {
      await runtime.close();
      if (options.prefix) return;
      const redis = new Redis(inject('redisUrl'));
      await deleteKeysWithPrefix(redis, prefix);
      await redis.quit();
    },
  };
}
