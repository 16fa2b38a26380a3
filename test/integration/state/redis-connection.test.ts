import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, inject, it, vi } from 'vitest';
import { StateUnavailableError } from '../../../src/core/errors.ts';
import { createRedisApprovalStore } from '../../../src/state/redis-approval-store.ts';
import { createRedisAuditSink, readRunAudit } from '../../../src/state/redis-audit-sink.ts';
import { createRedisChannelSettingsStore } from '../../../src/state/redis-channel-settings.ts';
import {
  createRedisConnection,
  defineScript,
  isConnectionError,
  waitUntilReady,
  wrapUnavailable,
} from '../../../src/state/redis-connection.ts';
import { createRedisEventDedupe } from '../../../src/state/redis-event-dedupe.ts';
import { createKeys } from '../../../src/state/redis-keys.ts';
import { createRedisNotesStore } from '../../../src/state/redis-notes-store.ts';
import { createRedisRunStore } from '../../../src/state/redis-run-store.ts';
import { createRedisSessionStore } from '../../../src/state/redis-session-store.ts';
import { startPersistentRedis } from '../../support/redis.ts';
import { createRecordingLogger } from './recording-logger.ts';

const NOTHING_LISTENS = 'redis://127.0.0.1:1';
const channel = { platform: 'slack', tenantId: 'T1', channelId: 'C1', threadId: null };

describe('createRedisConnection', () => {
  const opened: { disconnect(): void }[] = [];
  afterEach(() => {
    for (const connection of opened.splice(0)) connection.disconnect();
  });

  it('makes every store fail fast with StateUnavailableError while Redis is down, without crashing', async () => {
    const logger = createRecordingLogger();
    const redis = createRedisConnection(NOTHING_LISTENS, { logger, name: 'stores', role: 'commands' });
    opened.push(redis);
    const keys = createKeys('outage:');
    const summarizer = { summarize: async () => 'never' };
    const approvalStore = createRedisApprovalStore({
      redis,
      keys,
      runs: createRedisRunStore({ redis, keys }),
    });
    const attempts: [string, () => Promise<unknown>][] = [
      ['run.get', () => createRedisRunStore({ redis, keys }).get('r1')],
      ['run.transition', () => createRedisRunStore({ redis, keys }).transition('r1', 'running')],
      ['approval.decide', () => approvalStore.decide('a1', { decision: 'approve', by: 'U1', at: 1 }, 1)],
      ['approval.get', () => approvalStore.get('a1')],
      // A conversation's pending approvals are its waiting runs': the run index is read first.
      ['run.activeInChannel', () => approvalStore.listPending(channel, 1)],
      ['dedupe.claim', () => createRedisEventDedupe({ redis, keys }).claim('e1')],
      ['session.load', () => createRedisSessionStore({ redis, keys, summarizer }).load('k')],
      [
        'session.append',
        () =>
          createRedisSessionStore({ redis, keys, summarizer }).append('k', [{ role: 'user', content: 'hi' }]),
      ],
      [
        'notes.add',
        () => createRedisNotesStore({ redis, keys }).add(channel, { text: 'x', by: 'U1', at: 1 }),
      ],
      [
        'channelSettings.update',
        () => createRedisChannelSettingsStore({ redis, keys }).update(channel, { paused: true }),
      ],
      ['audit.readRun', () => readRunAudit(redis, keys, 'r1')],
    ];
    for (const [operation, attempt] of attempts) {
      const started = Date.now();
      const error = await attempt().catch((e: unknown) => e);
      expect(error, operation).toBeInstanceOf(StateUnavailableError);
      expect(error).toMatchObject({ code: 'STATE_UNAVAILABLE', message: expect.stringContaining(operation) });
      expect(Date.now() - started).toBeLessThan(3_000);
    }

    // The audit sink swallows the outage: the run goes on, an operator sees a warning.
    const sink = createRedisAuditSink({ redis, keys, logger });
    sink.record({ runId: 'r1', traceId: 't', at: 1, type: 'tool.started', tool: 'x', callId: 'c' });
    await expect(sink.flush()).resolves.toBeUndefined();
    expect(logger.entries.map((e) => e.msg)).toContain('audit events not written to Redis');
  });

  it('logs connection errors at most once per 10 s', async () => {
    const logger = createRecordingLogger();
    const redis = createRedisConnection(NOTHING_LISTENS, { logger, name: 'noisy', role: 'commands' });
    opened.push(redis);
    let errors = 0;
    redis.on('error', () => {
      errors += 1;
    });
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect(errors).toBeGreaterThan(1);
    const warnings = logger.entries.filter((e) => e.level === 'warn');
    expect(warnings).toHaveLength(1);
    expect(warnings[0]?.msg).toBe('redis connection error; reconnecting');
  });

  it('waitUntilReady rejects with StateUnavailableError when Redis does not come', async () => {
    const redis = createRedisConnection(NOTHING_LISTENS, {
      logger: createRecordingLogger(),
      name: 'w',
      role: 'commands',
    });
    opened.push(redis);
    await expect(waitUntilReady(redis, 300)).rejects.toBeInstanceOf(StateUnavailableError);
  });

  it('works against a live Redis once ready; blocking connections never give up on a command', async () => {
    const logger = createRecordingLogger();
    const commands = createRedisConnection(inject('redisUrl'), { logger, name: 'cmd', role: 'commands' });
    const blocking = createRedisConnection(inject('redisUrl'), { logger, name: 'worker', role: 'blocking' });
    opened.push(commands, blocking);
    await waitUntilReady(commands, 2_000);
    await waitUntilReady(blocking, 2_000);
    expect(await commands.ping()).toBe('PONG');
    expect(await commands.client('GETNAME')).toBe('cmd');
    expect(commands.options.enableOfflineQueue).toBe(false);
    expect(commands.options.maxRetriesPerRequest).toBe(1);
    expect(blocking.options.maxRetriesPerRequest).toBeNull();
  });
});

describe('defineScript', () => {
  it('sends a script whole again after the server restarts, so its first run is one write, not a NOSCRIPT retry', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'steward-script-'));
    let server = await startPersistentRedis({ dir });
    const redis = createRedisConnection(server.url, {
      logger: createRecordingLogger(),
      name: 'scripts',
      role: 'commands',
    });
    try {
      await waitUntilReady(redis, 2_000);
      const script = defineScript("return redis.call('INCR', KEYS[1])");
      const sent = vi.spyOn(redis, 'sendCommand');
      const run = async () => {
        sent.mockClear();
        const reply = await script.run(redis, ['restart:count'], []);
        return { reply, commands: sent.mock.calls.map(([command]) => command.name) };
      };

      expect(await run()).toEqual({ reply: 1, commands: ['eval'] });
      expect(await run()).toEqual({ reply: 2, commands: ['evalsha'] });
      // A restarted server has an empty script cache; its data (append-only file) is kept.
      await server.stop();
      server = await startPersistentRedis({ dir, port: server.port });
      await waitUntilReady(redis, 5_000);
      expect(await run()).toEqual({ reply: 3, commands: ['eval'] });
    } finally {
      redis.disconnect();
      await server.stop();
    }
  });
});

describe('isConnectionError / wrapUnavailable', () => {
  it('recognizes the ways ioredis and Node report an unreachable server', () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' });
    const maxRetries = new Error('Reached the max retries per request limit (which is 1).');
    maxRetries.name = 'MaxRetriesPerRequestError';
    expect(isConnectionError(refused)).toBe(true);
    expect(isConnectionError(maxRetries)).toBe(true);
    expect(
      isConnectionError(new Error("Stream isn't writeable and enableOfflineQueue options is false")),
    ).toBe(true);
    expect(isConnectionError(new Error('Connection is closed.'))).toBe(true);
    expect(isConnectionError(new Error('LOADING Redis is loading the dataset in memory'))).toBe(true);
    expect(isConnectionError(new Error('wrapped', { cause: refused }))).toBe(true);
    expect(
      isConnectionError(new Error('WRONGTYPE Operation against a key holding the wrong kind of value')),
    ).toBe(false);
    expect(isConnectionError('Connection is closed.')).toBe(false);
  });

  it('passes other failures through unchanged', async () => {
    const bug = new TypeError('not a connection problem');
    await expect(wrapUnavailable('op', () => Promise.reject(bug))).rejects.toBe(bug);
    await expect(wrapUnavailable('op', async () => 42)).resolves.toBe(42);
    const error = await wrapUnavailable('op', () => Promise.reject(new Error('Connection is closed.'))).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(StateUnavailableError);
    expect((error as StateUnavailableError).cause).toEqual(new Error('Connection is closed.'));
  });
});
