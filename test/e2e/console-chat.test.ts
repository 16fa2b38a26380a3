import { execFile, spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { PassThrough } from 'node:stream';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import nock from 'nock';
import { afterAll, afterEach, beforeEach, describe, expect, inject, it } from 'vitest';
import { createConsoleAdapter } from '../../adapters/console/console-adapter.ts';
import { createSteward } from '../../src/app/compose.ts';
import { parseConfig } from '../../src/app/config-file.ts';
import { parseEnv } from '../../src/app/env.ts';
import { BUILT_IN_TOOL_NAMES } from '../../tools/index.ts';
import { type ScriptedOpenAI, startScriptedOpenAI } from '../fakes/scripted-openai-server.ts';
import { deleteKeysWithPrefix, testPrefix } from '../support/redis.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const TSX = join(ROOT, 'node_modules/.bin/tsx');

let server: ScriptedOpenAI;
beforeEach(async () => {
  server = await startScriptedOpenAI();
});
afterEach(async () => {
  await server.close();
  nock.cleanAll();
  nock.enableNetConnect();
});

const YAML = `
agents:
  support:
    instructions: You help with orders.
    tools: [refund_order]
tools:
  - name: refund_order
    description: Refund an order.
    whenToUse: A refund was asked for.
    whenNotToUse: Lookups.
    method: POST
    url: https://shop.example.com/api/orders/{order_id}/refund
    input: { type: object, properties: { order_id: { type: string } }, required: [order_id] }
    risk: write
http: { allowedHosts: [shop.example.com] }
`;

/** Feeds lines one at a time, each only after the console has printed the prompt that asks for it. */
async function converse(lines: string[], yaml: string): Promise<string> {
  const prefix = testPrefix('console');
  const source = {
    OPENAI_API_KEY: 'sk-test',
    OPENAI_BASE_URL: server.baseURL,
    LOG_LEVEL: 'silent',
    REDIS_URL: inject('redisUrl'),
    STEWARD_REDIS_PREFIX: prefix,
  };
  const input = new PassThrough();
  const output = new PassThrough();
  let transcript = '';
  output.on('data', (chunk: Buffer) => {
    transcript += chunk.toString();
    if (/(you> |approve\? \[y\/N\] )$/.test(transcript)) input.write(`${lines.shift() ?? '/exit'}\n`);
  });
  const adapter = createConsoleAdapter({ input, output, userId: 'ana' });
  const steward = await createSteward({
    env: parseEnv(source),
    config: parseConfig(yaml, { env: source, builtInTools: BUILT_IN_TOOL_NAMES }),
    surface: adapter.surface,
    auditSinks: [adapter.activity],
    logLevel: 'silent',
  });
  try {
    await adapter.run(steward.service);
  } finally {
    await steward.close();
    const redis = new Redis(inject('redisUrl'));
    await deleteKeysWithPrefix(redis, prefix);
    await redis.quit();
  }
  return transcript;
}

describe('the console adapter', () => {
  it('shows each tool call with its verdict, asks y/n for approval, and runs the call on y', async () => {
    nock.disableNetConnect();
    nock.enableNetConnect('127.0.0.1');
    const refund = nock('https://shop.example.com').post('/api/orders/7/refund').reply(200, { ok: true });
    server.enqueue(
      { toolCalls: [{ name: 'refund_order', arguments: { order_id: '7' } }] },
      { reply: 'Refunded order 7.' },
    );

    const transcript = await converse(['refund order 7', 'y'], YAML);

    expect(transcript).toContain(
      '→ refund_order {"order_id":"7"} [needs_approval: refund_order is configured to need approval]',
    );
    expect(transcript).toContain('steward (approval needed)> refund_order {"order_id":"7"}');
    expect(transcript).toContain('refund_order: approved by ana');
    expect(transcript).toContain('← refund_order success');
    expect(transcript).toContain('steward> Refunded order 7.');
    expect(refund.isDone()).toBe(true);
  });

  it('does not run the call when the answer is not y', async () => {
    nock.disableNetConnect();
    nock.enableNetConnect('127.0.0.1');
    const refund = nock('https://shop.example.com').post('/api/orders/7/refund').reply(200, {});
    server.enqueue(
      { toolCalls: [{ name: 'refund_order', arguments: { order_id: '7' } }] },
      { reply: 'Not refunded.' },
    );

    const transcript = await converse(['refund order 7', 'n'], YAML);

    expect(transcript).toContain('refund_order: rejected by ana');
    expect(transcript).toContain('steward> Not refunded.');
    expect(refund.isDone()).toBe(false);
  });
});

describe('the npm run chat and npm start entry points', () => {
  const cwd = mkdtempSync(join(tmpdir(), 'steward-entry-'));
  afterAll(async () => {
    const redis = new Redis(inject('redisUrl'));
    await deleteKeysWithPrefix(redis, baseEnv.STEWARD_REDIS_PREFIX);
    await redis.quit();
  });
  const baseEnv = {
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? cwd,
    REDIS_URL: inject('redisUrl'),
    STEWARD_REDIS_PREFIX: testPrefix('entry'),
  };

  it('chat talks to any OpenAI-compatible server with the built-in assistant when there is no config file', async () => {
    server.enqueue({ reply: 'Hi! I am Steward.' });
    const child = spawn(TSX, [join(ROOT, 'src/app/chat.ts')], {
      cwd,
      env: { ...baseEnv, OPENAI_API_KEY: 'sk-test', OPENAI_BASE_URL: server.baseURL },
    });
    let stdout = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.stdin.end('hello\n/exit\n');
    const code = await new Promise((done) => child.on('close', done));

    expect(code).toBe(0);
    expect(stdout).toContain('using the built-in assistant');
    expect(stdout).toContain('steward> Hi! I am Steward.');
    expect(server.requests[0]?.messages?.at(-1)).toMatchObject({ role: 'user', content: 'hello' });
  });

  it('start stops with one line per missing or bad variable', async () => {
    const error = await promisify(execFile)(TSX, [join(ROOT, 'src/app/main.ts')], {
      cwd,
      env: { ...baseEnv, PORT: 'abc' },
    }).catch((e: { code: number; stderr: string }) => e);

    expect(error).toMatchObject({ code: 1 });
    const stderr = (error as { stderr: string }).stderr;
    expect(stderr).toContain('OPENAI_API_KEY is missing');
    expect(stderr).toContain('PORT must be a whole number from 1 to 65535, got "abc"');
    expect(stderr).not.toContain('    at ');
  });

  it('start says plainly that no platform is configured and points to npm run chat', async () => {
    const { stdout } = await promisify(execFile)(TSX, [join(ROOT, 'src/app/main.ts')], {
      cwd,
      env: { ...baseEnv, OPENAI_API_KEY: 'sk-test' },
    });
    expect(stdout).toContain('no chat platform configured');
    expect(stdout).toContain('npm run chat');
  });
});
