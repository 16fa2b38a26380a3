import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { type Env, loadEnv, parseEnv } from '../../../src/app/env.ts';
import { ConfigError } from '../../../src/core/errors.ts';

function problemsOf(source: Record<string, string | undefined>): readonly string[] {
  try {
    parseEnv(source);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).problems;
  }
  throw new Error('expected parseEnv to throw');
}

describe('parseEnv', () => {
  it('applies a default for every optional variable', () => {
    expect(parseEnv({ OPENAI_API_KEY: 'sk-test' })).toEqual<Env>({
      openaiApiKey: 'sk-test',
      openaiBaseUrl: undefined,
      openaiModel: 'gpt-4.1-mini',
      redisUrl: 'redis://127.0.0.1:6379',
      configPath: './steward.yaml',
      configPathIsDefault: true,
      redisPrefix: 'steward:',
      port: 3000,
      logLevel: 'info',
      role: 'all',
      slack: undefined,
      discord: undefined,
    });
  });

  it('reads every variable when set', () => {
    expect(
      parseEnv({
        OPENAI_API_KEY: 'local',
        OPENAI_BASE_URL: 'http://localhost:11434/v1',
        OPENAI_MODEL: 'llama3',
        REDIS_URL: 'rediss://cache.internal:6380/2',
        STEWARD_CONFIG: '/etc/steward.yaml',
        STEWARD_REDIS_PREFIX: 'staging:',
        PORT: '8080',
        LOG_LEVEL: 'DEBUG',
        STEWARD_ROLE: 'worker',
      }),
    ).toEqual<Env>({
      openaiApiKey: 'local',
      openaiBaseUrl: 'http://localhost:11434/v1',
      openaiModel: 'llama3',
      redisUrl: 'rediss://cache.internal:6380/2',
      configPath: '/etc/steward.yaml',
      configPathIsDefault: false,
      redisPrefix: 'staging:',
      port: 8080,
      logLevel: 'debug',
      role: 'worker',
      slack: undefined,
      discord: undefined,
    });
  });

  it('treats empty values as unset, so defaults still apply', () => {
    const env = parseEnv({ OPENAI_API_KEY: 'k', PORT: '', STEWARD_CONFIG: '', OPENAI_BASE_URL: '  ' });
    expect(env.port).toBe(3000);
    expect(env.configPathIsDefault).toBe(true);
    expect(env.openaiBaseUrl).toBeUndefined();
  });

  it('ignores variables that are not its own', () => {
    expect(parseEnv({ OPENAI_API_KEY: 'k', HOME: '/root', PATH: '/bin' }).openaiApiKey).toBe('k');
  });

  it('reports a missing or empty API key with how to fix it', () => {
    const expected = [
      'OPENAI_API_KEY is missing: set it to your API key (any non-empty value for a local OpenAI-compatible server)',
    ];
    expect(problemsOf({})).toEqual(expected);
    expect(problemsOf({ OPENAI_API_KEY: '' })).toEqual(expected);
  });

  it.each([
    ['PORT', 'abc', 'PORT must be a whole number from 1 to 65535, got "abc"'],
    ['PORT', '0', 'PORT must be a whole number from 1 to 65535, got "0"'],
    ['PORT', '70000', 'PORT must be a whole number from 1 to 65535, got "70000"'],
    ['PORT', '80.5', 'PORT must be a whole number from 1 to 65535, got "80.5"'],
    [
      'LOG_LEVEL',
      'verbose',
      'LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent, got "verbose"',
    ],
    [
      'REDIS_URL',
      'http://127.0.0.1:6379',
      'REDIS_URL must be a redis:// or rediss:// URL such as redis://127.0.0.1:6379, got "http://127.0.0.1:6379"',
    ],
    [
      'OPENAI_BASE_URL',
      'localhost:8080',
      'OPENAI_BASE_URL must be an http:// or https:// URL such as https://api.openai.com/v1, got "localhost:8080"',
    ],
  ])('reports %s=%s in one line naming the variable', (name, value, message) => {
    expect(problemsOf({ OPENAI_API_KEY: 'k', [name]: value })).toEqual([message]);
  });

  it('reports several problems at once, one line each', () => {
    const error = (() => {
      try {
        parseEnv({ PORT: 'abc', LOG_LEVEL: 'loud', REDIS_URL: 'nope' });
      } catch (caught) {
        return caught;
      }
      return undefined;
    })();
    expect(error).toBeInstanceOf(ConfigError);
    const problems = (error as ConfigError).problems;
    expect(problems).toHaveLength(4);
    expect(problems.map((p) => p.split(' ')[0])).toEqual([
      'OPENAI_API_KEY',
      'REDIS_URL',
      'PORT',
      'LOG_LEVEL',
    ]);
    expect((error as ConfigError).message).toMatch(
      /^environment is invalid:\n {2}- OPENAI_API_KEY is missing/,
    );
  });
});

describe('loadEnv', () => {
  const touched = ['OPENAI_API_KEY', 'OPENAI_MODEL', 'PORT'] as const;
  const saved = Object.fromEntries(touched.map((name) => [name, process.env[name]]));
  let dir: string | undefined;

  afterEach(() => {
    vi.restoreAllMocks();
    for (const name of touched) {
      const value = saved[name];
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
    dir = undefined;
  });

  it('loads .env from the working directory without overriding variables already set', () => {
    dir = mkdtempSync(join(tmpdir(), 'steward-env-'));
    writeFileSync(join(dir, '.env'), 'OPENAI_API_KEY=from-file\nOPENAI_MODEL=file-model\nPORT=4000\n');
    vi.spyOn(process, 'cwd').mockReturnValue(dir);
    delete process.env.OPENAI_API_KEY;
    delete process.env.OPENAI_MODEL;
    process.env.PORT = '5000';

    const env = loadEnv();

    expect(env.openaiApiKey).toBe('from-file');
    expect(env.openaiModel).toBe('file-model');
    expect(env.port).toBe(5000);
  });

  it('works without a .env file', () => {
    dir = mkdtempSync(join(tmpdir(), 'steward-env-'));
    vi.spyOn(process, 'cwd').mockReturnValue(dir);
    process.env.OPENAI_API_KEY = 'from-process';
    expect(loadEnv().openaiApiKey).toBe('from-process');
  });
  it('reads the Slack variables as one group, and says what is missing from a half-set group', () => {
    expect(
      parseEnv({
        OPENAI_API_KEY: 'k',
        SLACK_BOT_TOKEN: 'xoxb-1',
        SLACK_SIGNING_SECRET: 's3cret',
        SLACK_API_URL: 'http://127.0.0.1:9/api/',
      }).slack,
    ).toEqual({
      botToken: 'xoxb-1',
      signingSecret: 's3cret',
      appToken: undefined,
      apiUrl: 'http://127.0.0.1:9/api/',
    });
    expect(
      parseEnv({ OPENAI_API_KEY: 'k', SLACK_BOT_TOKEN: 'xoxb-1', SLACK_APP_TOKEN: 'xapp-1' }).slack?.appToken,
    ).toBe('xapp-1');
    expect(() => parseEnv({ OPENAI_API_KEY: 'k', SLACK_BOT_TOKEN: 'xoxb-1' })).toThrow(
      'SLACK_SIGNING_SECRET is missing: set it (Basic Information in your Slack app) for HTTP mode, or set SLACK_APP_TOKEN for Socket Mode',
    );
    expect(() => parseEnv({ OPENAI_API_KEY: 'k', SLACK_SIGNING_SECRET: 's' })).toThrow(
      'SLACK_BOT_TOKEN is missing',
    );
    expect(() =>
      parseEnv({ OPENAI_API_KEY: 'k', SLACK_BOT_TOKEN: 'xoxp-user-token', SLACK_SIGNING_SECRET: 's' }),
    ).toThrow('SLACK_BOT_TOKEN must be a bot token starting with xoxb-');
  });
});
