import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { CommandInvocation } from '../../src/core/commands/command-types.ts';
import type { IncomingMessage } from '../../src/core/conversation.ts';
import { type ScriptedOpenAI, startScriptedOpenAI } from '../fakes/scripted-openai-server.ts';
import { createStack, type Stack } from '../support/steward-stack.ts';

const ADMIN = 'UADMIN01';
const CHANNEL = { platform: 'slack', tenantId: 'T1', channelId: 'C1', threadId: null } as const;
const HOUR = 3_600_000;

const YAML = `agents:
  support:
    instructions: Help with orders.
admins: { slack: [${ADMIN}] }
budgets:
  prices: { gpt-test: { prompt: 1000, completion: 1000 } }
breakers:
  errorRate: { threshold: 0.2, window: 5m, minRuns: 5 }
  costSpike: { factor: 2, baselineHours: 24, minHourlyUsd: 0.05 }
  opsChannel: { platform: slack, channel: C0OPS }
`;

let server: ScriptedOpenAI;
let app: Stack;
let now: number;
let counter = 0;

beforeEach(async () => {
  server = await startScriptedOpenAI({ fallback: { reply: 'done' } });
  now = Date.UTC(2026, 10, 22, 10, 30);
  app = await createStack({ server, yaml: YAML, clock: { now: () => now } });
});
afterEach(async () => {
  await app.close();
  await server.close();
});

function mention(text: string, thread?: string): IncomingMessage {
  counter += 1;
  const threadId = thread ?? `17000000${counter}.0001`;
  return {
    ...CHANNEL,
    threadId,
    userId: `UASKER${counter}`,
    text,
    isDirect: false,
    eventId: `Ev-${counter}-${Math.random()}`,
  };
}

const command = (text: string, userId = ADMIN): CommandInvocation => ({
  channel: CHANNEL,
  userId,
  text,
  isPlatformAdmin: false,
});

const alerts = () =>
  app.surface.posted.filter((post) => post.kind === 'notice' && post.target.channelId === 'C0OPS');

/** Sends a message and waits for its answer. */
async function run(message: IncomingMessage): Promise<void> {
  const handled = await app.steward.service.handleMessage(message);
  expect(handled.status).toBe('queued');
  await app.surface
    .waitFor('answer', (post) => post.target.threadId === message.threadId)
    .catch(async () => undefined);
}

async function ended(count: number): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (app.audit.filter((event) => event.type === 'run.ended').length < count) {
    if (Date.now() > deadline)
      throw new Error(`only ${app.audit.filter((e) => e.type === 'run.ended').length} runs ended`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  // The ending is counted right after it is recorded.
  await new Promise((resolve) => setTimeout(resolve, 100));
}

describe('system-wide breakers', () => {
  it('alerts the ops channel once when more than 20% of recent runs fail', async () => {
    const thread = '1700000500.0001';
    server.enqueue({ reply: 'ok 1' }, { reply: 'ok 2' }, { reply: 'ok 3' }, { status: 400 });
    for (let i = 0; i < 4; i++) await app.steward.service.handleMessage(mention(`question ${i}`, thread));
    await ended(4);
    // 1 of 4 is 25%, but fewer than 5 runs ended: no alert yet.
    expect(alerts()).toHaveLength(0);

    server.enqueue({ status: 400 }, { status: 400 }, { status: 400 });
    for (let i = 4; i < 7; i++) await app.steward.service.handleMessage(mention(`question ${i}`, thread));
    await ended(7);
    expect(alerts()).toHaveLength(1);
    expect(alerts()[0]).toMatchObject({
      text: expect.stringMatching(
        /^:rotating_light: Alert: 2 of the 5 runs that ended in the last 5 minutes were escalated or failed \(40%, over the 20% threshold\)/,
      ),
    });

    const status = await app.steward.commands.handle(command('status'));
    expect(status.text).toContain(
      'Error rate, last 5 minutes: 4 of 7 runs escalated or failed (57%; alert above 20% once 5 runs ended)',
    );
  });

  it('pauses new runs everywhere on a cost spike until an admin resumes', async () => {
    // A quiet morning sets the baseline: one run ($0.015) three hours ago.
    now -= 3 * HOUR;
    await run(mention('early question'));
    now += 3 * HOUR;

    // Now each run costs $0.015 and four of them ($0.06) pass the $0.05 floor and twice the baseline.
    for (let i = 0; i < 4; i++) await run(mention(`busy question ${i}`));
    const alert = await app.surface.waitFor('notice', (post) => post.target.channelId === 'C0OPS');
    expect(alert.text).toBe(
      ':rotating_light: Steward is paused everywhere: spending in the last hour ($0.06) is over 2x the usual $0.01 an hour. An admin can turn it back on with `/steward resume --global`. New runs are refused in every channel meanwhile.',
    );

    const elsewhere = { ...mention('hello from another workspace'), tenantId: 'T2', channelId: 'C9' };
    const refused = await app.steward.service.handleMessage(elsewhere);
    expect(refused).toMatchObject({
      status: 'refused',
      reason: expect.stringMatching(/^Steward is paused everywhere: spending in the last hour/),
    });
    const requests = server.requests.length;

    const status = await app.steward.commands.handle(command('status'));
    expect(status.text).toMatch(/Everywhere: PAUSED since 2026-11-22 10:30 UTC \(spending in the last hour/);
    expect(status.text).toContain('Spend, last hour: $0.06 (usual $0.01 an hour)');

    expect((await app.steward.commands.handle(command('resume --global', 'UPERSON1'))).text).toBe(
      "Only workspace admins and the admins in Steward's config can use /steward resume.",
    );
    expect((await app.steward.service.handleMessage(mention('still paused?'))).status).toBe('refused');
    expect(server.requests).toHaveLength(requests);

    const resumed = await app.steward.commands.handle(command('resume --global'));
    expect(resumed.text).toMatch(/^Resumed everywhere: new runs start again in every channel/);
    const back = mention('working again?');
    await run(back);
    expect(app.surface.posted).toContainEqual(
      expect.objectContaining({
        kind: 'answer',
        text: 'done',
        target: expect.objectContaining({ threadId: back.threadId }),
      }),
    );
    expect((await app.steward.commands.handle(command('status'))).text).toContain('Everywhere: running');
    expect((await app.steward.commands.handle(command('audit changes'))).text).toContain(
      `<@${ADMIN}> global-pause (global)`,
    );
  });
});
