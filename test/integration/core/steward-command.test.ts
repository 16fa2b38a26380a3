import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AdminAuditLog } from '../../../src/core/admin-audit.ts';
import type { AuditEvent } from '../../../src/core/audit-events.ts';
import type { CommandInvocation, CommandRouter } from '../../../src/core/commands/command-types.ts';
import { createStewardCommandRouter, STEWARD_USAGE } from '../../../src/core/commands/steward-command.ts';
import type { ConversationRef } from '../../../src/core/conversation.ts';
import type { ChannelSettingsStore, NewRun, RunStore } from '../../../src/core/stores.ts';
import { createRedisAdminAudit } from '../../../src/state/redis-admin-audit.ts';
import { createRedisAuditReader } from '../../../src/state/redis-audit-reader.ts';
import { createRedisAuditSink } from '../../../src/state/redis-audit-sink.ts';
import { createRedisChannelSettingsStore } from '../../../src/state/redis-channel-settings.ts';
import { createRedisConnection } from '../../../src/state/redis-connection.ts';
import { createKeys, type RedisKeys } from '../../../src/state/redis-keys.ts';
import { createRedisRunStore } from '../../../src/state/redis-run-store.ts';
import { connectTestRedis, type TestRedis } from '../../support/redis.ts';
import { createRecordingLogger, type LogEntry } from '../state/recording-logger.ts';

const channel: ConversationRef = { platform: 'slack', tenantId: 'T1', channelId: 'C1', threadId: null };
const otherChannel: ConversationRef = { ...channel, channelId: 'C2' };
const CONFIG_ADMIN = 'U0CONFIG';
const MINUTE = 60_000;
const T0 = Date.UTC(2025, 0, 2, 14, 0, 0);

function invoke(text: string, who: Partial<CommandInvocation> = {}): CommandInvocation {
  return { channel, userId: 'U0PERSON', text, isPlatformAdmin: false, ...who };
}

const asConfigAdmin = { userId: CONFIG_ADMIN };
const asPlatformAdmin = { userId: 'U0OWNER', isPlatformAdmin: true };

function newRun(runId: string, createdAt: number, where: ConversationRef = channel): NewRun {
  const conversation = { ...where, threadId: `thread-${runId}` };
  return {
    runId,
    conversation,
    conversationKey: `${where.platform}:${where.tenantId}:${where.channelId}:thread-${runId}`,
    requestedBy: 'U0PERSON',
    agent: 'support',
    text: 'refund order 55',
    eventId: `ev-${runId}`,
    createdAt,
  };
}

describe('/steward', () => {
  let test: TestRedis;
  let keys: RedisKeys;
  let runs: RunStore;
  let channels: ChannelSettingsStore;
  let router: CommandRouter;
  let entries: LogEntry[];
  let changes: AdminAuditLog;
  let now: number;

  beforeEach(async () => {
    test = await connectTestRedis({ name: 'steward-command' });
    keys = createKeys(test.prefix);
    now = T0;
    const clock = { now: () => now };
    runs = createRedisRunStore({ redis: test.redis, keys, clock });
    channels = createRedisChannelSettingsStore({ redis: test.redis, keys });
    entries = [];
    changes = createRedisAdminAudit({ redis: test.redis, keys });
    router = createStewardCommandRouter({
      runs,
      channels,
      audit: createRedisAuditReader({ redis: test.redis, keys }),
      admins: (platform) => (platform === 'slack' ? [CONFIG_ADMIN] : []),
      defaultAgent: 'support',
      agentTools: () => ['lookup_order', 'refund_order'],
      changes,
      clock,
      logger: createRecordingLogger(entries),
    });
  });
  afterEach(() => test.cleanup());

  it('shows help to anyone, one line per subcommand', async () => {
    const { text } = await router.handle(invoke('help'));
    for (const usage of [
      'help',
      'status',
      'pause',
      'resume [--global]',
      'budget',
      'tools',
      'audit <runId|changes>',
    ]) {
      expect(text).toContain(`/steward ${usage}`);
    }
    expect(text.split('\n').filter((line) => line.startsWith('•'))).toHaveLength(7);
  });

  it('refuses everything but help to someone who is not an admin, and changes nothing', async () => {
    for (const subcommand of ['status', 'pause', 'resume', 'audit r1']) {
      const { text } = await router.handle(invoke(subcommand));
      const name = subcommand.split(' ')[0];
      expect(text).toBe(`Only workspace admins and the admins in Steward's config can use /steward ${name}.`);
    }
    expect((await channels.get(channel)).paused).toBe(false);
    expect(entries.filter((entry) => entry.level === 'info')).toEqual([]);
  });

  it('does not take a config admin of another platform for an admin here, and says "server" on Discord', async () => {
    const discord = { ...channel, platform: 'discord' };
    const { text } = await router.handle(invoke('pause', { channel: discord, userId: CONFIG_ADMIN }));
    expect(text).toBe("Only server admins and the admins in Steward's config can use /steward pause.");
  });

  it('lets a config admin pause, shows it in status, and records who and when', async () => {
    expect((await router.handle(invoke('pause', asConfigAdmin))).text).toMatch(/^Paused\./);
    expect((await channels.get(channel)).paused).toBe(true);
    expect(await changes.recent(channel, 10)).toEqual([
      expect.objectContaining({ setting: 'paused', by: CONFIG_ADMIN, at: T0, old: false, new: true }),
    ]);

    const { text } = await router.handle(invoke('status', asConfigAdmin));
    expect(text).toContain('Agent: support (the default)');
    expect(text).toContain('Steward: paused');
    expect((await router.handle(invoke('pause', asConfigAdmin))).text).toContain('already paused');
    expect(await changes.recent(channel, 10)).toHaveLength(1);
  });

  it('lets a platform admin resume, and says so when there is nothing to resume', async () => {
    expect((await router.handle(invoke('resume', asPlatformAdmin))).text).toContain('not paused');
    await router.handle(invoke('pause', asPlatformAdmin));
    now = T0 + MINUTE;
    expect((await router.handle(invoke('resume', asPlatformAdmin))).text).toMatch(/^Resumed\./);
    expect((await channels.get(channel)).paused).toBe(false);
    expect((await changes.recent(channel, 10)).map(({ by, at, new: value }) => ({ by, at, value }))).toEqual([
      { by: 'U0OWNER', at: T0 + MINUTE, value: false },
      { by: 'U0OWNER', at: T0, value: true },
    ]);
    const listed = (await router.handle(invoke('audit changes', asPlatformAdmin))).text;
    expect(listed).toContain('The last 2 admin changes, newest first:');
    expect(listed).toMatch(/<@U0OWNER> paused \(channel\) in <#C1>: true → false/);
    expect((await router.handle(invoke('status', asPlatformAdmin))).text).toContain('Steward: on');
  });

  it("edits the channel's tool allowlist and records old and new value", async () => {
    expect((await router.handle(invoke('tools'))).text).toBe(
      "Only workspace admins and the admins in Steward's config can use /steward tools.",
    );
    const shown = (await router.handle(invoke('tools', asConfigAdmin))).text;
    expect(shown).toContain('Allowed here: every tool of the agent (`lookup_order`, `refund_order`)');
    expect((await router.handle(invoke('tools deny refund_order', asConfigAdmin))).text).toBe(
      'Denied `refund_order` in this channel; runs starting from now cannot use it. Allowed here now: `lookup_order`.',
    );
    expect((await channels.get(channel)).toolAllowlist).toEqual(['lookup_order']);
    expect((await router.handle(invoke('tools deny refund_order', asConfigAdmin))).text).toContain(
      'already denied',
    );
    expect((await router.handle(invoke('tools allow launch_rocket', asConfigAdmin))).text).toBe(
      "`launch_rocket` is not one of support's tools (`lookup_order`, `refund_order`).",
    );
    expect((await router.handle(invoke('tools allow', asConfigAdmin))).text).toBe(STEWARD_USAGE);
    now = T0 + MINUTE;
    expect((await router.handle(invoke('tools allow refund_order', asConfigAdmin))).text).toContain(
      'Allowed `refund_order`',
    );
    expect(
      (await changes.recent(channel, 10)).map(({ setting, old, new: value, at }) => ({
        setting,
        old,
        value,
        at,
      })),
    ).toEqual([
      { setting: 'tools', old: ['lookup_order'], value: ['lookup_order', 'refund_order'], at: T0 + MINUTE },
      { setting: 'tools', old: null, value: ['lookup_order'], at: T0 },
    ]);
  });

  it('reads subcommands case-insensitively and tolerates extra whitespace', async () => {
    expect((await router.handle(invoke('  PAUSE   ', asConfigAdmin))).text).toMatch(/^Paused\./);
    expect((await router.handle(invoke('\tStatus ', asConfigAdmin))).text).toContain('Steward: paused');
  });

  it('answers an empty, unknown or malformed command with the usage line', async () => {
    expect(STEWARD_USAGE).toBe(
      'Usage: /steward help | status | pause | resume [--global] | budget [set <scope> <tokens|usd> <amount> <day|month> | clear <scope>] | tools [allow|deny <tool>] | audit <runId|changes>',
    );
    for (const text of [
      '',
      '   ',
      'frobnicate',
      'pause now',
      'status please',
      'audit',
      'audit r1 r2',
      'help me',
    ]) {
      expect((await router.handle(invoke(text, asConfigAdmin))).text, text).toBe(STEWARD_USAGE);
    }
    expect((await router.handle(invoke('frobnicate'))).text).toBe(STEWARD_USAGE);
  });

  it("uses the channel's own agent in status", async () => {
    await channels.update(channel, { agent: 'billing' });
    expect((await router.handle(invoke('status', asConfigAdmin))).text).toContain('Agent: billing\n');
  });

  it('lists the runs in progress in this channel and the ones waiting for approval', async () => {
    await runs.create(newRun('r-wait', T0 - 10 * MINUTE));
    await runs.create(newRun('r-busy', T0 - 2 * MINUTE));
    await runs.create(newRun('r-done', T0 - 5 * MINUTE));
    await runs.create(newRun('r-elsewhere', T0 - MINUTE, otherChannel));
    now = T0 - 3 * MINUTE;
    await runs.transition('r-wait', 'running');
    await runs.transition('r-wait', 'awaiting_approval');
    await runs.transition('r-busy', 'running');
    await runs.transition('r-done', 'running');
    await runs.transition('r-done', 'completed', { outcome: { status: 'completed', text: 'ok' } });
    now = T0;

    const { text } = await router.handle(invoke('status', asConfigAdmin));
    expect(text).toContain('Runs in progress (2):');
    expect(text).toContain('• `r-wait` waiting for approval, started 10m ago');
    expect(text).toContain('• `r-busy` running, started 2m ago');
    expect(text.indexOf('r-wait')).toBeLessThan(text.indexOf('r-busy'));
    expect(text).toContain('Pending approvals (1): `r-wait` waiting 3m');
    expect(text).not.toContain('r-done');
    expect(text).not.toContain('r-elsewhere');
  });

  it('says when nothing is running', async () => {
    const { text } = await router.handle(invoke('status', asConfigAdmin));
    expect(text).toContain('Runs in progress: none');
    expect(text).toContain('Pending approvals: none');
  });

  describe('audit', () => {
    const AT = Date.UTC(2025, 0, 2, 14, 2, 3, 120);

    async function recordRun(runId: string, where: ConversationRef, extraEvents = 0): Promise<void> {
      await runs.create(newRun(runId, AT, where));
      const sink = createRedisAuditSink({ redis: test.redis, keys, logger: createRecordingLogger() });
      const base = { runId, traceId: 'trace-1' };
      const events: AuditEvent[] = [
        {
          ...base,
          at: AT,
          type: 'run.started',
          agent: 'support',
          requestedBy: 'U0PERSON',
          conversation: where,
        },
        { ...base, at: AT + 10, type: 'tool.started', tool: 'lookup_order', callId: 'c1' },
      ];
      for (let i = 0; i < extraEvents; i += 1) {
        events.push({ ...base, at: AT + 20 + i, type: 'tool.started', tool: `tool_${i}`, callId: `c${i}` });
      }
      events.push({
        ...base,
        at: AT + 5_000,
        type: 'run.ended',
        outcome: 'completed',
        iterations: 2,
        promptTokens: 900,
        completionTokens: 80,
      });
      for (const event of events) sink.record(event);
      await sink.flush();
    }

    it("shows a run's timeline in a code block", async () => {
      await recordRun('r1', channel);
      const { text } = await router.handle(invoke('audit r1', asConfigAdmin));
      expect(text).toBe(
        [
          'Audit trail of run `r1` (3 events):',
          '```',
          '14:02:03.120 run.started agent=support by=U0PERSON in slack:T1:C1',
          '14:02:03.130 tool.started lookup_order',
          '14:02:08.120 run.ended completed after 2 model calls, 980 tokens',
          '```',
        ].join('\n'),
      );
    });

    it('keeps the latest events of a long timeline within one message', async () => {
      await recordRun('r-long', channel, 200);
      const { text } = await router.handle(invoke('audit r-long', asConfigAdmin));
      expect(text.length).toBeLessThan(2_000);
      expect(text).toMatch(/the last \d+ of 203 events/);
      expect(text).toContain('run.ended completed');
      expect(text.endsWith('```')).toBe(true);
    });

    it('refuses a run of another channel, since the answer is shown here', async () => {
      await recordRun('r-other', otherChannel);
      const { text } = await router.handle(invoke('audit r-other', asConfigAdmin));
      expect(text).toContain('belongs to another channel');
      expect(text).not.toContain('run.started');
    });

    it('says when it knows no such run', async () => {
      const { text } = await router.handle(invoke('audit nope', asConfigAdmin));
      expect(text).toContain('I have no run with id `nope`');
    });

    it('says when a run has no audit events left', async () => {
      await runs.create(newRun('r-quiet', AT));
      expect((await router.handle(invoke('audit r-quiet', asConfigAdmin))).text).toContain('no audit events');
    });
  });

  it('answers and logs instead of throwing when something else fails', async () => {
    await runs.create(newRun('r1', T0));
    const failing = createStewardCommandRouter({
      runs,
      channels,
      audit: { timeline: () => Promise.reject(new Error('stream is damaged')) },
      admins: () => [CONFIG_ADMIN],
      defaultAgent: 'support',
      agentTools: () => ['lookup_order', 'refund_order'],
      changes: createRedisAdminAudit({ redis: test.redis, keys }),
      clock: { now: () => now },
      logger: createRecordingLogger(entries),
    });
    expect((await failing.handle(invoke('audit r1', asConfigAdmin))).text).toBe(
      'Something went wrong running `/steward audit`; the details are in my logs.',
    );
    expect(entries).toContainEqual(expect.objectContaining({ level: 'error', msg: '/steward failed' }));
  });

  it('answers with a clear message instead of failing when Redis is unreachable', async () => {
    const logger = createRecordingLogger();
    const down = createRedisConnection('redis://127.0.0.1:1', {
      logger,
      name: 'steward-down',
      role: 'commands',
    });
    try {
      const offline = createStewardCommandRouter({
        runs: createRedisRunStore({ redis: down, keys }),
        channels: createRedisChannelSettingsStore({ redis: down, keys }),
        audit: createRedisAuditReader({ redis: down, keys }),
        admins: () => [CONFIG_ADMIN],
        defaultAgent: 'support',
        agentTools: () => ['lookup_order', 'refund_order'],
        changes: createRedisAdminAudit({ redis: down, keys }),
        clock: { now: () => now },
        logger,
      });
      for (const text of ['status', 'pause', 'resume', 'audit r1']) {
        expect((await offline.handle(invoke(text, asConfigAdmin))).text).toBe(
          'I cannot reach my state store right now; try again in a minute.',
        );
      }
      expect((await offline.handle(invoke('help'))).text).toContain('/steward status');
    } finally {
      down.disconnect();
    }
  });
});
