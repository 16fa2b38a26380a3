import { statSync } from 'node:fs';
import { BUILT_IN_TOOL_NAMES } from '../../tools/index.ts';
import { ConfigError, StateUnavailableError } from '../core/errors.ts';
import { loadConfigFile, type StewardConfig } from './config-file.ts';
import { type Env, parseEnv } from './env.ts';

export interface Settings {
  readonly env: Env;
  readonly config: StewardConfig;
  /** True when no config file exists and the built-in assistant is used. */
  readonly usingBuiltInConfig: boolean;
}

/** Environment first, then the config file it points to; each reports all its problems at once. */
export function loadSettings(source: Record<string, string | undefined>): Settings {
  const env = parseEnv(source);
  const config = loadConfigFile(env.configPath, {
    env: source,
    builtInTools: BUILT_IN_TOOL_NAMES,
    allowMissing: env.configPathIsDefault,
  });
  return { env, config, usingBuiltInConfig: env.configPathIsDefault && !configExists(env.configPath) };
}

/** Platforms whose credentials are set. */
export function configuredPlatforms(env: Env): string[] {
  return [...(env.slack ? ['slack'] : []), ...(env.discord ? ['discord'] : [])];
}

export const NO_PLATFORM_MESSAGE = [
  'Steward has no chat platform configured, so there is nothing to connect to.',
  'Set the Slack or Discord variables (see the README), or talk to the agent in your terminal:',
  '',
  '  npm run chat',
  '',
].join('\n');

/** A start-up failure as a person should read it: what is wrong, one line each, and nothing else. */
export function describeStartupError(error: unknown, redisUrl?: string): string {
  if (error instanceof ConfigError) return `Steward cannot start.\n${error.message}\n`;
  if (error instanceof StateUnavailableError) {
    const where = redisUrl ? ` at ${redactUrl(redisUrl)}` : '';
    return `Steward cannot start: Redis${where} does not answer. Start redis-server, or set REDIS_URL to a Redis that runs.\n`;
  }
  const message = error instanceof Error ? (error.stack ?? error.message) : String(error);
  return `Steward stopped on an unexpected error:\n${message}\n`;
}

function configExists(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/** A Redis URL may carry a password; it never goes to the terminal. */
function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return 'REDIS_URL';
  }
}
