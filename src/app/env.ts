/**
 * The environment: secrets and deployment settings. This is the only module that reads
 * process.env, so every variable Steward honours is listed (and validated) here.
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { z } from 'zod';
import { ConfigError, toError } from '../core/errors.ts';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** all: take platform events and run runs; ingress: only take events in; worker: only run runs. */
export const ROLES = ['all', 'ingress', 'worker'] as const;
export type Role = (typeof ROLES)[number];

export interface Env {
  readonly openaiApiKey: string;
  readonly openaiBaseUrl: string | undefined;
  readonly openaiModel: string;
  readonly redisUrl: string;
  readonly configPath: string;
  /** True when STEWARD_CONFIG was not set, so a missing file can fall back to the built-in config. */
  readonly configPathIsDefault: boolean;
  readonly redisPrefix: string;
  readonly port: number;
  readonly logLevel: LogLevel;
  /** What this process does with the platforms and the run queue (STEWARD_ROLE). */
  readonly role: Role;
  /** Set when Slack is configured: HTTP mode with a signing secret, or Socket Mode with an app token. */
  readonly slack: SlackEnv | undefined;
  /** Set when Discord is configured. */
  readonly discord: DiscordEnv | undefined;
}

export interface DiscordEnv {
  readonly token: string;
  readonly applicationId: string;
  readonly apiUrl: string | undefined;
}

export interface SlackEnv {
  readonly botToken: string;
  readonly signingSecret: string | undefined;
  readonly appToken: string | undefined;
  readonly apiUrl: string | undefined;
}

export const ENV_DEFAULTS = Object.freeze({
  openaiModel: 'gpt-4.1-mini',
  redisUrl: 'redis://127.0.0.1:6379',
  configPath: './steward.yaml',
  redisPrefix: 'steward:',
  port: 3000,
  logLevel: 'info' as LogLevel,
  role: 'all' as Role,
});

function hasProtocol(value: string, protocols: readonly string[]): boolean {
  try {
    return protocols.includes(new URL(value).protocol);
  } catch {
    return false;
  }
}

const schema = z.object({
  OPENAI_API_KEY: z.string(),
  OPENAI_BASE_URL: z
    .string()
    .refine((v) => hasProtocol(v, ['http:', 'https:']))
    .optional(),
  OPENAI_MODEL: z.string().default(ENV_DEFAULTS.openaiModel),
  REDIS_URL: z
    .string()
    .refine((v) => hasProtocol(v, ['redis:', 'rediss:']))
    .default(ENV_DEFAULTS.redisUrl),
  STEWARD_CONFIG: z.string().optional(),
  STEWARD_REDIS_PREFIX: z.string().default(ENV_DEFAULTS.redisPrefix),
  PORT: z
    .string()
    .regex(/^\d{1,5}$/)
    .transform(Number)
    .refine((n) => n >= 1 && n <= 65_535)
    .default(ENV_DEFAULTS.port),
  LOG_LEVEL: z.enum(LOG_LEVELS).default(ENV_DEFAULTS.logLevel),
  STEWARD_ROLE: z.enum(ROLES).default(ENV_DEFAULTS.role),
  SLACK_BOT_TOKEN: z
    .string()
    .regex(/^xoxb-/)
    .optional(),
  SLACK_SIGNING_SECRET: z.string().optional(),
  SLACK_APP_TOKEN: z
    .string()
    .regex(/^xapp-/)
    .optional(),
  SLACK_API_URL: z
    .string()
    .refine((v) => hasProtocol(v, ['http:', 'https:']))
    .optional(),
  DISCORD_TOKEN: z.string().min(20).optional(),
  DISCORD_APPLICATION_ID: z
    .string()
    .regex(/^\d{17,20}$/)
    .optional(),
  DISCORD_API_URL: z
    .string()
    .refine((v) => hasProtocol(v, ['http:', 'https:']))
    .optional(),
});

type VariableName = keyof typeof schema.shape;

/** What a valid value looks like, phrased to follow "<NAME> must be". */
const RULES: Record<VariableName, string> = {
  OPENAI_API_KEY: 'a non-empty API key',
  OPENAI_BASE_URL: 'an http:// or https:// URL such as https://api.openai.com/v1',
  OPENAI_MODEL: 'a model name such as gpt-4.1-mini',
  REDIS_URL: 'a redis:// or rediss:// URL such as redis://127.0.0.1:6379',
  STEWARD_CONFIG: 'a path to the YAML config file',
  STEWARD_REDIS_PREFIX: 'a key prefix such as steward:',
  PORT: 'a whole number from 1 to 65535',
  LOG_LEVEL: `one of ${LOG_LEVELS.join(', ')}`,
  STEWARD_ROLE: `one of ${ROLES.join(', ')}`,
  SLACK_BOT_TOKEN: 'a bot token starting with xoxb- (OAuth & Permissions in your Slack app)',
  SLACK_SIGNING_SECRET: 'the signing secret from Basic Information in your Slack app',
  SLACK_APP_TOKEN: 'an app-level token starting with xapp- (for Socket Mode)',
  SLACK_API_URL: 'an http:// or https:// URL of the Slack Web API, such as https://slack.com/api/',
  DISCORD_TOKEN: 'the bot token from the Bot page of your Discord application',
  DISCORD_APPLICATION_ID:
    'the Application ID (a long number) from General Information in the developer portal',
  DISCORD_API_URL: 'an http:// or https:// URL of the Discord REST API, such as https://discord.com/api',
};

/** Only required variables can be missing; the rest have defaults. */
const MISSING: Partial<Record<VariableName, string>> = {
  OPENAI_API_KEY:
    'OPENAI_API_KEY is missing: set it to your API key (any non-empty value for a local OpenAI-compatible server)',
};

function isVariableName(key: unknown): key is VariableName {
  return typeof key === 'string' && Object.hasOwn(schema.shape, key);
}

/**
 * Picks Steward's variables out of the source, trimmed, with blanks dropped: an empty
 * `PORT=` line in .env means "use the default", not "invalid port".
 */
function cleanSource(source: Record<string, string | undefined>): Partial<Record<VariableName, string>> {
  const cleaned: Partial<Record<VariableName, string>> = {};
  for (const name of Object.keys(schema.shape) as VariableName[]) {
    const value = source[name]?.trim();
    if (value === undefined || value === '') continue;
    // Log levels are conventionally written in either case.
    cleaned[name] = name === 'LOG_LEVEL' || name === 'STEWARD_ROLE' ? value.toLowerCase() : value;
  }
  return cleaned;
}

/** One line per invalid variable, in the order the issues name them. */
function environmentError(
  issues: readonly z.core.$ZodIssue[],
  cleaned: Partial<Record<VariableName, string>>,
  source: Record<string, string | undefined>,
): ConfigError {
  const problems: string[] = [];
  const seen = new Set<VariableName>();
  for (const issue of issues) {
    const name = issue.path[0];
    if (!isVariableName(name) || seen.has(name)) continue;
    seen.add(name);
    const value = cleaned[name];
    problems.push(
      value === undefined
        ? (MISSING[name] ?? `${name} is missing: set it to ${RULES[name]}`)
        : `${name} must be ${RULES[name]}, got ${JSON.stringify(source[name])}`,
    );
  }
  return new ConfigError('environment', problems);
}

/** Validates the given variables; pure, so tests pass a plain object instead of process.env. */
export function parseEnv(source: Record<string, string | undefined>): Env {
  const cleaned = cleanSource(source);
  const result = schema.safeParse(cleaned);
  if (!result.success) throw environmentError(result.error.issues, cleaned, source);
  const v = result.data;
  return {
    openaiApiKey: v.OPENAI_API_KEY,
    openaiBaseUrl: v.OPENAI_BASE_URL,
    openaiModel: v.OPENAI_MODEL,
    redisUrl: v.REDIS_URL,
    configPath: v.STEWARD_CONFIG ?? ENV_DEFAULTS.configPath,
    configPathIsDefault: v.STEWARD_CONFIG === undefined,
    redisPrefix: v.STEWARD_REDIS_PREFIX,
    port: v.PORT,
    logLevel: v.LOG_LEVEL,
    role: v.STEWARD_ROLE,
    slack: slackEnv(v),
    discord: discordEnv(v),
  };
}

function discordEnv(v: z.output<typeof schema>): DiscordEnv | undefined {
  if (!v.DISCORD_TOKEN && !v.DISCORD_APPLICATION_ID) return undefined;
  if (!v.DISCORD_TOKEN) {
    throw new ConfigError('environment', [`DISCORD_TOKEN is missing: set it to ${RULES.DISCORD_TOKEN}`]);
  }
  if (!v.DISCORD_APPLICATION_ID) {
    throw new ConfigError('environment', [
      `DISCORD_APPLICATION_ID is missing: set it to ${RULES.DISCORD_APPLICATION_ID}`,
    ]);
  }
  return { token: v.DISCORD_TOKEN, applicationId: v.DISCORD_APPLICATION_ID, apiUrl: v.DISCORD_API_URL };
}

/** Slack is all or nothing: a half-configured app would start and then fail on the first event. */
function slackEnv(v: z.output<typeof schema>): SlackEnv | undefined {
  const problems: string[] = [];
  const anySet = v.SLACK_BOT_TOKEN ?? v.SLACK_SIGNING_SECRET ?? v.SLACK_APP_TOKEN;
  if (!anySet) return undefined;
  if (!v.SLACK_BOT_TOKEN) problems.push(`SLACK_BOT_TOKEN is missing: set it to ${RULES.SLACK_BOT_TOKEN}`);
  if (!v.SLACK_SIGNING_SECRET && !v.SLACK_APP_TOKEN) {
    problems.push(
      'SLACK_SIGNING_SECRET is missing: set it (Basic Information in your Slack app) for HTTP mode, or set SLACK_APP_TOKEN for Socket Mode',
    );
  }
  if (problems.length > 0 || !v.SLACK_BOT_TOKEN) throw new ConfigError('environment', problems);
  return {
    botToken: v.SLACK_BOT_TOKEN,
    signingSecret: v.SLACK_SIGNING_SECRET,
    appToken: v.SLACK_APP_TOKEN,
    apiUrl: v.SLACK_API_URL,
  };
}

/** Where Steward keeps its state: all that tools reading Redis (e.g. `npm run audit`) need. */
export interface StateEnv {
  readonly redisUrl: string;
  readonly redisPrefix: string;
}

const stateSchema = schema.pick({ REDIS_URL: true, STEWARD_REDIS_PREFIX: true });

/**
 * Validates only REDIS_URL and STEWARD_REDIS_PREFIX, with parseEnv's defaults and messages, so a
 * command that only reads Redis does not demand an OpenAI key it never uses.
 */
export function parseStateEnv(source: Record<string, string | undefined>): StateEnv {
  const cleaned = cleanSource(source);
  const result = stateSchema.safeParse(cleaned);
  if (!result.success) throw environmentError(result.error.issues, cleaned, source);
  return { redisUrl: result.data.REDIS_URL, redisPrefix: result.data.STEWARD_REDIS_PREFIX };
}

/**
 * Loads `.env` from the working directory when present (already-set variables win, so the real
 * environment can override the file) and returns the process environment. The one reader of
 * process.env in the project.
 */
export function readProcessEnv(): Record<string, string | undefined> {
  const path = resolve(process.cwd(), '.env');
  if (existsSync(path)) {
    try {
      process.loadEnvFile(path);
    } catch (error) {
      throw new ConfigError('environment', [`${path} could not be read: ${toError(error).message}`]);
    }
  }
  return process.env;
}

/** `readProcessEnv()`, validated. */
export function loadEnv(): Env {
  return parseEnv(readProcessEnv());
}
