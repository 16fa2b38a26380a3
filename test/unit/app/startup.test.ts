import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { configuredPlatforms, describeStartupError, loadSettings } from '../../../src/app/startup.ts';
import { ConfigError } from '../../../src/core/errors.ts';

const dir = mkdtempSync(join(tmpdir(), 'steward-startup-'));

describe('start-up settings', () => {
  it('uses the built-in assistant when the default config file does not exist', () => {
    const settings = loadSettings({ OPENAI_API_KEY: 'k', STEWARD_CONFIG: undefined });
    // The repository has no steward.yaml; only steward.example.yaml.
    expect(settings.usingBuiltInConfig).toBe(true);
    expect(settings.config.defaultAgent).toBe('assistant');
    expect(configuredPlatforms(settings.env)).toEqual([]);
  });

  it('reads the file STEWARD_CONFIG names, and refuses a named file that is missing', () => {
    const path = join(dir, 'steward.yaml');
    writeFileSync(path, 'agents:\n  ops:\n    instructions: You run ops.\n');
    const settings = loadSettings({ OPENAI_API_KEY: 'k', STEWARD_CONFIG: path });
    expect(settings).toMatchObject({ usingBuiltInConfig: false, config: { defaultAgent: 'ops' } });
    expect(() => loadSettings({ OPENAI_API_KEY: 'k', STEWARD_CONFIG: join(dir, 'missing.yaml') })).toThrow(
      ConfigError,
    );
  });

  it('describes a config error without a stack trace, and an unexpected error with one', () => {
    expect(describeStartupError(new ConfigError('environment', ['OPENAI_API_KEY is missing']))).toBe(
      'Steward cannot start.\nenvironment is invalid:\n  - OPENAI_API_KEY is missing\n',
    );
    expect(describeStartupError(new Error('kaput'))).toMatch(
      /^Steward stopped on an unexpected error:\nError: kaput\n {4}at /,
    );
    expect(describeStartupError('weird')).toBe('Steward stopped on an unexpected error:\nweird\n');
  });
});
