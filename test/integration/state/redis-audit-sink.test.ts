import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { AuditEvent } from '../../../src/core/audit-events.ts';
import type { ConversationRef } from '../../../src/core/conversation.ts';
import {
  createRedisAuditSink,
  eventsOfEntry,
  formatTimeline,
  readRunAudit,
} from '../../../src/state/redis-audit-sink.ts';
import { createKeys, type RedisKeys } from '../../../src/state/redis-keys.ts';
import { connectTestRedis, type TestRedis } from '../../support/redis.ts';
import { createRecordingLogger } from './recording-logger.ts';

const conversation: ConversationRef = { platform: 'slack', tenantId: 'T1', channelId: 'C1', threadId: null };
const AT = Date.UTC(2025, 0, 2, 14, 2, 3, 120);

function runEvents(runId: string): AuditEvent[] {
  const base = { runId, traceId: 'trace-1' };
  return [
    { ...base, at: AT, type: 'run.started', agent: 'support', requestedBy: 'U012', conversation },
    {
      ...base,
      at: AT + 430,
      type: 'model.called',
      model: 'gpt-4.1-mini',
      promptTokens: 812,
      completionTokens: 64,
      latencyMs: 430,
      toolCalls: 2,
    },
    {
      ...base,
      at: AT + 431,
      type: 'tool.proposed',
      tool: 'refund_order',
      callId: 'c1',
      args: { order_id: '55' },
    },
    {
      ...base,
      at: AT + 432,
      type: 'policy.verdict',
      tool: 'refund_order',
      callId: 'c1',
      verdict: 'needs_approval',
      reason: 'refunds need a lead',
    },
    {
      ...base,
      at: AT + 5_000,
      type: 'approval.decided',
      approvalId: 'a1',
      tool: 'refund_order',
      decision: 'approve',
      by: 'U0LEAD',
    },
    {
      ...base,
      at: AT + 5_212,
      type: 'tool.finished',
      tool: 'refund_order',
      callId: 'c1',
      status: 'success',
      durationMs: 212,
      attempts: 1,
    },
    {
      ...base,
      at: AT + 6_000,
      type: 'run.ended',
      outcome: 'completed',
      iterations: 3,
      promptTokens: 1_400,
      completionTokens: 120,
    },
  ];
}

describe('redis audit sink', () => {
  let test: TestRedis;
  let keys: RedisKeys;

  beforeEach(async () => {
    test = await connectTestRedis({ name: 'audit' });
    keys = createKeys(test.prefix);
  });
  afterEach(() => test.cleanup());

  const streamEvents = async (key: string) =>
    (await test.redis.xrange(key, '-', '+')).flatMap(([, fields]) => eventsOfEntry(fields));
  /** A channel stream's events as stored (forChannel's shape). */
  const channelEntries = async (key: string): Promise<unknown[]> =>
    (await test.redis.xrange(key, '-', '+')).flatMap(([, fields]) => JSON.parse(fields[1] ?? '[]'));

  it("writes a run in order to its log (with the run TTL), and its start and end to its channel's stream", async () => {
    const logger = createRecordingLogger();
    const sink = createRedisAuditSink({ redis: test.redis, keys, logger, runTtlSeconds: 600 });
    const events = runEvents('run:1');
    for (const event of events) sink.record(event);
    await sink.flush();

    expect(await readRunAudit(test.redis, keys, 'run:1')).toEqual(events);
    // The channel is the stream's key and the whole event is in the run's log: a start keeps its
    // thread, not the rest of its conversation, and no entry keeps the trace id.
    const [started, ended] = await channelEntries(keys.auditChannel('slack:T1:C1'));
    expect(started).toEqual({
      type: 'run.started',
      runId: 'run:1',
      agent: 'support',
      requestedBy: 'U012',
      threadId: null,
      at: AT,
    });
    const { traceId: _traceId, ...endedInLog } = events.at(-1) as AuditEvent;
    expect(ended).toEqual(endedInLog);
    expect(JSON.stringify(started).length).toBeLessThan(JSON.stringify(events[0]).length * 0.7);
    const ttl = await test.redis.ttl(keys.auditRunLog('run:1'));
    expect(ttl).toBeGreaterThan(500);
    expect(ttl).toBeLessThanOrEqual(600);
    expect(logger.entries.filter((e) => e.level === 'warn')).toEqual([]);
  });

  it('stores a trace id once per batch of a run log, and reads every event back with its own', async () => {
    const logger = createRecordingLogger();
    const sink = createRedisAuditSink({ redis: test.redis, keys, logger });
    const [started, called, proposed] = runEvents('run:t');
    if (!started || !called || !proposed) throw new Error('fixture');
    // A sub-agent's events go to the top run's log with their own trace id.
    const child: AuditEvent = { ...called, runId: 'run:t.1', rootRunId: 'run:t', traceId: 'trace-2' };
    const events = [started, called, child, proposed];
    for (const event of events) sink.record(event);
    await sink.flush();

    const [batch] = await test.redis.lrange(keys.auditRunLog('run:t'), 0, -1);
    expect(batch?.match(/trace-1/g)).toHaveLength(2);
    expect(batch?.match(/trace-2/g)).toHaveLength(1);
    expect(await readRunAudit(test.redis, keys, 'run:t')).toEqual(events);
  });

  it('packs the log of a run parked for approval to a third, and reads it (and what follows) in order', async () => {
    const logger = createRecordingLogger();
    const sink = createRedisAuditSink({ redis: test.redis, keys, logger, runTtlSeconds: 600 });
    const [started, ...rest] = runEvents('run:p');
    const parkedAt = AT + 1_000;
    const beforePark = [started, ...rest.slice(0, 3)].filter((event) => event !== undefined);
    const park = {
      ...beforePark[0],
      type: 'approval.requested',
      approvalId: 'a-1',
      tool: 'refund_order',
      callId: 'c1',
      at: parkedAt,
    } as AuditEvent;
    // Written in three batches, as three steps of a run would be.
    for (const event of beforePark.slice(0, 2)) sink.record(event);
    await sink.flush();
    for (const event of beforePark.slice(2)) sink.record(event);
    await sink.flush();
    const plainBytes = Number(await test.redis.memory('USAGE', keys.auditRunLog('run:p')));
    sink.record(park);
    await sink.flush();

    expect(await test.redis.llen(keys.auditRunLog('run:p'))).toBe(1);
    expect(Number(await test.redis.memory('USAGE', keys.auditRunLog('run:p')))).toBeLessThan(plainBytes / 2);
    expect(await test.redis.ttl(keys.auditRunLog('run:p'))).toBeGreaterThan(500);
    expect(await readRunAudit(test.redis, keys, 'run:p')).toEqual([...beforePark, park]);

    // Resumed (by any process): new events append behind the packed entry.
    const after = {
      ...park,
      type: 'approval.decided',
      decision: 'approve',
      by: 'ULEAD',
      at: parkedAt + 5_000,
    } as AuditEvent;
    sink.record(after);
    await sink.flush();
    expect(await readRunAudit(test.redis, keys, 'run:p')).toEqual([...beforePark, park, after]);
    expect(logger.entries.filter((e) => e.level === 'warn')).toEqual([]);
  });

  it('writes on its own on the next tick, without flush()', async () => {
    const sink = createRedisAuditSink({ redis: test.redis, keys, logger: createRecordingLogger() });
    sink.record(runEvents('r1')[0] as AuditEvent);
    await vi.waitFor(async () => expect(await readRunAudit(test.redis, keys, 'r1')).toHaveLength(1));
  });

  it('writes the end of a run it did not see start to the channel the fallback names', async () => {
    const sink = createRedisAuditSink({
      redis: test.redis,
      keys,
      logger: createRecordingLogger(),
      channelKeyFor: (runId) => (runId === 'known' ? 'slack:T1:C9' : undefined),
    });
    const ended = runEvents('x').find((event) => event.type === 'run.ended') as AuditEvent;
    sink.record({ ...ended, runId: 'unknown' });
    sink.record({ ...ended, runId: 'known' });
    await sink.flush();
    expect(await readRunAudit(test.redis, keys, 'unknown')).toHaveLength(1);
    expect(await readRunAudit(test.redis, keys, 'known')).toHaveLength(1);
    expect((await streamEvents(keys.auditChannel('slack:T1:C9'))).map((e) => e.runId)).toEqual(['known']);
    expect(await test.redis.keys(`${keys.auditChannel('')}*`)).toEqual([keys.auditChannel('slack:T1:C9')]);
  });

  it("keeps the newest batches of a run's log within its cap", async () => {
    const sink = createRedisAuditSink({
      redis: test.redis,
      keys,
      logger: createRecordingLogger(),
      runMaxLen: 10,
    });
    const [started] = runEvents('r1');
    // Each flush writes one batch (one list entry).
    for (let i = 0; i < 50; i += 1) {
      sink.record({ ...(started as AuditEvent), at: AT + i });
      await sink.flush();
    }
    expect(await test.redis.llen(keys.auditRunLog('r1'))).toBe(10);
    expect((await readRunAudit(test.redis, keys, 'r1')).map((event) => event.at - AT)).toEqual([
      40, 41, 42, 43, 44, 45, 46, 47, 48, 49,
    ]);
  });
});

describe('formatTimeline', () => {
  it('gives one line per event a person can read', () => {
    expect(formatTimeline(runEvents('r1'))).toEqual([
      '14:02:03.120 run.started agent=support by=U012 in slack:T1:C1',
      '14:02:03.550 model.called gpt-4.1-mini 812+64 tokens 430 ms (2 tool calls)',
      '14:02:03.551 tool.proposed refund_order {"order_id":"55"}',
      '14:02:03.552 policy.verdict refund_order needs_approval: refunds need a lead',
      '14:02:08.120 approval.decided refund_order approve by U0LEAD',
      '14:02:08.332 tool.finished refund_order success 212 ms (1 attempt)',
      '14:02:09.120 run.ended completed after 3 model calls, 1520 tokens',
    ]);
  });

  it('covers the other events, and keeps a parent run id', () => {
    const base = { runId: 'child', traceId: 't', at: AT };
    // Delegation will add parentRunId to events; the timeline must already keep it.
    const started: AuditEvent = { ...base, type: 'tool.started', tool: 'search', callId: 'c' };
    const ofChild = { ...started, parentRunId: 'parent-1' };
    expect(
      formatTimeline([
        ofChild,
        { ...base, type: 'model.failed', error: 'rate limited', code: 'MODEL_CALL_FAILED' },
        { ...base, type: 'tool.arguments_rejected', tool: 'search', callId: 'c', reason: 'query: required' },
        { ...base, type: 'approval.requested', approvalId: 'a9', tool: 'refund_order', callId: 'c' },
        { ...base, type: 'tool.skipped', tool: 'search', callId: 'c', reason: 'run cancelled' },
        { ...base, type: 'guard.tripped', guard: 'maxIterations', reason: '25 model calls' },
        {
          ...base,
          type: 'tool.finished',
          tool: 'search',
          callId: 'c',
          status: 'error',
          durationMs: 15_000,
          attempts: 3,
          error: 'timed out',
        },
        {
          ...base,
          type: 'run.ended',
          outcome: 'escalated',
          reason: 'stuck',
          iterations: 1,
          promptTokens: 1,
          completionTokens: 0,
        },
      ]),
    ).toEqual([
      '14:02:03.120 tool.started search parent=parent-1',
      '14:02:03.120 model.failed MODEL_CALL_FAILED: rate limited',
      '14:02:03.120 tool.arguments_rejected search: query: required',
      '14:02:03.120 approval.requested refund_order approval=a9',
      '14:02:03.120 tool.skipped search: run cancelled',
      '14:02:03.120 guard.tripped maxIterations: 25 model calls',
      '14:02:03.120 tool.finished search error 15000 ms (3 attempts): timed out',
      '14:02:03.120 run.ended escalated after 1 model call, 1 tokens: stuck',
    ]);
  });
});
