import { spawn } from 'node:child_process';
import { afterEach, beforeEach, describe, expect, inject, it } from 'vitest';
import { type AuditCommandIo, runAuditCommand } from '../../../src/app/audit-command.ts';
import type { AuditEvent } from '../../../src/core/audit-events.ts';
import type { ConversationRef } from '../../../src/core/conversation.ts';
import { createRedisAuditSink } from '../../../src/state/redis-audit-sink.ts';
import { createKeys } from '../../../src/state/redis-keys.ts';
import { ROOT, TSX } from '../../support/processes.ts';
import { connectTestRedis, type TestRedis } from '../../support/redis.ts';
import { createRecordingLogger } from '../state/recording-logger.ts';

const RUN_ID = '0b7e5d7c-1f7a-4c55-9d0e-2f3a4b5c6d7e';
const AT = Date.UTC(2025, 0, 2, 14, 2, 3, 120);
const conversation: ConversationRef = {
  platform: 'slack',
  tenantId: 'T1',
  channelId: 'C1',
  threadId: '1735826523.000100',
};

/** A refund that needed a lead's approval, as the runner records it. */
function refundRun(runId: string): AuditEvent[] {
  const base = { runId, traceId: 'trace-refund' };
  const call = { tool: 'refund_order', callId: 'call-1' };
  return [
    { ...base, at: AT, type: 'run.started', agent: 'support', requestedBy: 'U0ASKER', conversation },
    {
      ...base,
      at: AT + 430,
      type: 'model.called',
      model: 'gpt-4.1-mini',
      promptTokens: 812,
      completionTokens: 64,
      latencyMs: 430,
      toolCalls: 1,
    },
    { ...base, ...call, at: AT + 431, type: 'tool.proposed', args: { order_id: '55', amount: 20 } },
    {
      ...base,
      ...call,
      at: AT + 432,
      type: 'policy.verdict',
      verdict: 'needs_approval',
      reason: 'refunds need a lead',
    },
    { ...base, ...call, at: AT + 433, type: 'approval.requested', approvalId: 'appr-1' },
    {
      ...base,
      at: AT + 65_000,
      type: 'approval.decided',
      approvalId: 'appr-1',
      tool: 'refund_order',
      decision: 'approve',
      by: 'U0LEAD',
    },
    { ...base, ...call, at: AT + 65_010, type: 'tool.started' },
    {
      ...base,
      ...call,
      at: AT + 65_222,
      type: 'tool.finished',
      status: 'success',
      durationMs: 212,
      attempts: 1,
    },
    {
      ...base,
      at: AT + 65_600,
      type: 'model.called',
      model: 'gpt-4.1-mini',
      promptTokens: 950,
      completionTokens: 41,
      latencyMs: 378,
      toolCalls: 0,
    },
    {
      ...base,
      at: AT + 65_601,
      type: 'run.ended',
      outcome: 'completed',
      iterations: 2,
      promptTokens: 1_762,
      completionTokens: 105,
    },
  ];
}

const EXPECTED_OUTPUT = [
  `run ${RUN_ID}`,
  '14:02:03.120 run.started agent=support by=U0ASKER in slack:T1:C1 thread 1735826523.000100',
  '14:02:03.550 model.called gpt-4.1-mini 812+64 tokens 430 ms (1 tool call)',
  '14:02:03.551 tool.proposed refund_order {"order_id":"55","amount":20}',
  '14:02:03.552 policy.verdict refund_order needs_approval: refunds need a lead',
  '14:02:03.553 approval.requested refund_order approval=appr-1',
  '14:03:08.120 approval.decided refund_order approve by U0LEAD',
  '14:03:08.130 tool.started refund_order',
  '14:03:08.342 tool.finished refund_order success 212 ms (1 attempt)',
  '14:03:08.720 model.called gpt-4.1-mini 950+41 tokens 378 ms (0 tool calls)',
  '14:03:08.721 run.ended completed after 2 model calls, 1867 tokens',
].join('\n');

interface Captured {
  readonly io: AuditCommandIo;
  stdout(): string;
  stderr(): string;
}

function capture(source: Record<string, string | undefined>): Captured {
  let out = '';
  let err = '';
  return {
    io: {
      source,
      stdout: (text) => {
        out += text;
      },
      stderr: (text) => {
        err += text;
      },
    },
    stdout: () => out,
    stderr: () => err,
  };
}

describe('npm run audit', () => {
  let test: TestRedis;
  // Deliberately no OPENAI_API_KEY: reading the audit trail must not need one.
  let source: Record<string, string>;

  beforeEach(async () => {
    test = await connectTestRedis({ name: 'audit-command' });
    source = { REDIS_URL: inject('redisUrl'), STEWARD_REDIS_PREFIX: test.prefix };
    const sink = createRedisAuditSink({
      redis: test.redis,
      keys: createKeys(test.prefix),
      logger: createRecordingLogger(),
    });
    for (const event of refundRun(RUN_ID)) sink.record(event);
    // Another run in the same Redis must not leak into this run's timeline.
    for (const event of refundRun('other-run')) sink.record(event);
    await sink.flush();
  });
  afterEach(() => test.cleanup());

  it("prints the run's whole timeline: who asked, the tool and its verdict, who approved, how it ended", async () => {
    const out = capture(source);
    expect(await runAuditCommand([RUN_ID], out.io)).toBe(0);
    expect(out.stdout()).toBe(`${EXPECTED_OUTPUT}\n`);
    expect(out.stderr()).toBe('');
  });

  it('runs as `tsx src/app/audit.ts <runId>` with only Redis settings in the environment', async () => {
    const child = spawn(TSX, ['src/app/audit.ts', RUN_ID], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', ...source },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
    expect(stdout).toBe(`${EXPECTED_OUTPUT}\n`);
  });

  it('says so when the run has no audit events, and exits 1', async () => {
    const out = capture(source);
    expect(await runAuditCommand(['no-such-run'], out.io)).toBe(1);
    expect(out.stderr()).toBe('no audit events for run no-such-run (runs are kept 30 days)\n');
    expect(out.stdout()).toBe('');
  });

  it.each([
    ['no run id', []],
    ['two run ids', ['run-1', 'run-2']],
    ['an unknown option', ['--verbose']],
    ['an empty run id', ['']],
  ])('prints the usage and exits 2 for %s', async (_, args) => {
    const out = capture(source);
    expect(await runAuditCommand(args, out.io)).toBe(2);
    expect(out.stderr()).toBe('usage: npm run audit -- <runId>\n');
    expect(out.stdout()).toBe('');
  });

  it('prints the usage to stdout and exits 0 for --help', async () => {
    const out = capture(source);
    expect(await runAuditCommand(['--help'], out.io)).toBe(0);
    expect(out.stdout()).toBe('usage: npm run audit -- <runId>\n');
    expect(out.stderr()).toBe('');
  });

  it('reports an unreachable Redis in one line, without its password or a stack trace, and exits 1', async () => {
    const out = capture({ REDIS_URL: 'redis://:hunter2-secret@127.0.0.1:1' });
    const started = Date.now();
    expect(await runAuditCommand([RUN_ID], out.io)).toBe(1);
    expect(Date.now() - started).toBeLessThan(8_000);
    const lines = out.stderr().trimEnd().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain('Redis at redis://:***@127.0.0.1:1 does not answer');
    expect(out.stderr()).not.toContain('hunter2-secret');
    expect(out.stdout()).toBe('');
  });

  it('reports an invalid REDIS_URL by name and exits 1', async () => {
    const out = capture({ REDIS_URL: 'http://127.0.0.1:6379' });
    expect(await runAuditCommand([RUN_ID], out.io)).toBe(1);
    expect(out.stderr()).toContain(
      'REDIS_URL must be a redis:// or rediss:// URL such as redis://127.0.0.1:6379, got "http://127.0.0.1:6379"',
    );
    expect(out.stderr()).not.toContain('OPENAI_API_KEY');
  });
});
