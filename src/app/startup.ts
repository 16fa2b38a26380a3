import { statSync } from 'node:fs';
import { BUILT_IN_TOOL_NAMES } from '../../tools/index.ts';
import { ConfigError } from '../core/errors.ts';
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

/** Platforms whose credentials are set. Slack and Discord join this list in their own issues. */
export function configuredPlatforms(_env: Env): string[] {
  return [];
}

export const NO_PLATFORM_MESSAGE = [
  'Steward has no chat platform configured, so there is nothing to connect to yet.',
  'Slack and Discord support arrive in later releases; until then, talk to the agent in your terminal:',
  '',
  '  npm run chat',
  '',
].join('\n');

/** A start-up failure as a person should read it: what is wrong, one line each, and nothing else. */
export function describeStartupError(error: unknown): string {
  if (error instanceof ConfigError) return `Steward cannot start.\n${error.message}\n`;
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
