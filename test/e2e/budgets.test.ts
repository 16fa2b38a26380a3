import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { CommandInvocation } from '../../src/core/commands/command-types.ts';
import type { ButtonAction, IncomingMessage } from '../../src/core/conversation.ts';
import { type ScriptedOpenAI, startScriptedOpenAI } from '../fakes/scripted-openai-server.ts';
import { createStack, type Stack } from '../support/steward-stack.ts';

const ADMIN = 'UADMIN01';
const CHANNEL = { platform: 'slack', tenantId: 'T1', channelId: 'C1', threadId: null } as const;

function yaml(budgets: string, extra = ''): string {
  return `agents:
  support:
    instructions: Help with orders.
    tools: [recall]
    limits: { maxCompletionTokens: 20 }
admins: { slack: [${ADMIN}] }
budgets:
${budgets}
${extra}`;
}

let server: ScriptedOpenAI;
const stacks: Stack[] = [];
let now: number;
const clock = { now: () => now };
let counter = 0;

beforeEach(async () => {
  server = await startScriptedOpenAI({ fallback: { reply: 'done' } });
  now = Date.UTC(2026, 10, 22, 10, 30);
});
afterEach(async () => {
  await Promise.all(stacks.splice(0).map((stack) => stack.close()));
  await server.close();
});

async function stack(budgets: string, extra = ''): Promise<Stack> {
  const created = await createStack({ server, yaml: yaml(budgets, extra), clock });
  stacks.push(created);
  return created;
}

function mention(text: string, userId = 'UASKER01', thread?: string): IncomingMessage {
  counter += 1;
  const threadId = thread ?? `17000000${counter}.0001`;
  return { ...CHANNEL, threadId, userId, text, isDirect: false, eventId: `Ev-${counter}-${Math.random()}` };
}

function command(text: string, userId = ADMIN): CommandInvocation {
  return { channel: CHANNEL, userId, text, isPlatformAdmin: false };
}

async function answered(app: Stack, message: IncomingMessage) {
  const handled = await app.steward.service.handleMessage(message);
  expect(handled.status, JSON.stringify(handled)).toBe('queued');
  return app.surface.waitFor('answer', (post) => post.target.threadId === message.threadId);
}

describe('budgets', () => {
  it('stops a run that uses up the budget mid-way with what it has, and makes no further model call', async () => {
    const app = await stack('  channel: { tokensPerDay: 100 }');
    server.enqueue({ toolCalls: [{ name: 'recall', arguments: {} }], usage: { prompt: 60, completion: 50 } });

    const first = mention('what do we know about order 55?');
    const answer = await answered(app, first);
    expect(server.requests).toHaveLength(1);
    expect(answer.text).toMatch(
      /^I stopped before finishing\. This channel's daily token budget is used up: 110 tokens of 100 tokens\./,
    );
    expect(answer.text).toContain('Steps done so far: recall.');
    expect(app.audit).toContainEqual(expect.objectContaining({ type: 'guard.tripped', guard: 'budget' }));

    // A new run there is refused at once, with the limit, the usage, the reset and how to raise it.
    const next = mention('and order 56?', 'UOTHER01');
    const handled = await app.steward.service.handleMessage(next);
    expect(handled.status).toBe('refused');
    const refusal = await app.surface.waitFor('budget_refusal');
    expect(refusal).toMatchObject({
      onlyFor: 'UOTHER01',
      limit: { scope: 'channel', unit: 'tokens', period: 'day' },
    });
    expect(refusal.text).toBe(
      "This channel's daily token budget is used up: 110 tokens of 100 tokens. It resets 2026-11-23 00:00 UTC (in 14h). An admin can raise it with `/steward budget set channel tokens <amount> day`.",
    );
    expect(server.requests).toHaveLength(1);
  });

  it('pings the admins once when someone asks for more', async () => {
    const app = await stack('  channel: { tokensPerDay: 0 }');
    const asked = mention('hello there friend');
    await app.steward.service.handleMessage(asked);
    await app.surface.waitFor('budget_refusal');
    const click: ButtonAction = {
      ...CHANNEL,
      threadId: asked.threadId,
      kind: 'budget_request',
      limit: { scope: 'channel', unit: 'tokens', period: 'day' },
      userId: 'UASKER01',
      eventId: 'click-1',
    };
    expect(await app.steward.service.handleAction(click)).toMatchObject({ status: 'done' });
    const request = await app.surface.waitFor('admin_request');
    expect(request).toMatchObject({ requestedBy: 'UASKER01', mentions: [ADMIN] });
    expect(request.text).toContain("this channel's daily token limit is used up (0 tokens of 0 tokens used)");
    expect(request.text).toContain('/steward budget set channel tokens <amount> day');

    expect(await app.steward.service.handleAction({ ...click, eventId: 'click-2' })).toMatchObject({
      status: 'refused',
    });
    expect(app.surface.posted.filter((post) => post.kind === 'admin_request')).toHaveLength(1);
  });

  it('starts a daily limit over at midnight UTC', async () => {
    const app = await stack('  user: { tokensPerDay: 15 }');
    now = Date.UTC(2026, 10, 22, 23, 50);
    await answered(app, mention('first question today'));
    expect((await app.steward.service.handleMessage(mention('second question today'))).status).toBe(
      'refused',
    );
    const refusal = await app.surface.waitFor('budget_refusal');
    expect(refusal.text).toMatch(
      /^Your daily token budget is used up: 15 tokens of 15 tokens\. It resets 2026-11-23 00:00 UTC \(in 10m\)/,
    );

    now = Date.UTC(2026, 10, 23, 0, 1);
    const answer = await answered(app, mention('a question tomorrow'));
    expect(answer.text).toBe('done');
  });

  it("ignores a non-admin's budget set, and applies an admin's from the next run, with old and new value audited", async () => {
    const app = await stack('  channel: { tokensPerDay: 15 }');
    await answered(app, mention('use up the budget'));
    expect((await app.steward.service.handleMessage(mention('refused now'))).status).toBe('refused');

    const refused = await app.steward.commands.handle(
      command('budget set channel tokens 1000 day', 'UPERSON1'),
    );
    expect(refused.text).toBe(
      "Only workspace admins and the admins in Steward's config can use /steward budget.",
    );
    expect((await app.steward.service.handleMessage(mention('still refused'))).status).toBe('refused');

    now += 60_000;
    const set = await app.steward.commands.handle(command('budget set channel tokens 1000 day'));
    expect(set.text).toBe(
      'Set: this channel may use 1,000 tokens per day (was the config default). It applies from the next model call.',
    );
    expect((await answered(app, mention('allowed again'))).text).toBe('done');

    const shown = await app.steward.commands.handle(command('budget'));
    expect(shown.text).toContain('• tokens per day: 30 tokens of 1,000 tokens (set by an admin)');

    const changes = await app.steward.commands.handle(command('audit changes'));
    expect(changes.text).toContain(`<@${ADMIN}> budget.tokensPerDay (channel) in <#C1>: null → 1000`);

    const cleared = await app.steward.commands.handle(command('budget clear channel'));
    expect(cleared.text).toBe('Cleared the limit set for this channel; the config defaults apply again.');
    expect((await app.steward.service.handleMessage(mention('default again'))).status).toBe('refused');
  });

  it('refuses amounts that are not plain non-negative numbers with the usage line', async () => {
    const app = await stack('  channel: { tokensPerDay: 15 }');
    for (const amount of ['-5', 'NaN', 'Infinity', '10k', '1e3', '1.5', '', '0x10']) {
      const reply = await app.steward.commands.handle(command(`budget set channel tokens ${amount} day`));
      expect(reply.text, amount).toContain('Usage: /steward budget');
    }
    for (const text of [
      'budget set',
      'budget set galaxy tokens 5 day',
      'budget set channel coins 5 day',
      'budget set channel tokens 5 week',
      'budget set user tokens 5 day',
      'budget frobnicate',
    ]) {
      expect((await app.steward.commands.handle(command(text))).text, text).toContain(
        'Usage: /steward budget',
      );
    }
    expect((await app.steward.commands.handle(command('budget set channel usd 2.50 month'))).text).toContain(
      '$2.50 per month',
    );
    expect(
      (await app.steward.commands.handle(command('budget set user <@U0JANE01|jane> tokens 500 day'))).text,
    ).toBe(
      'Set: <@U0JANE01> may use 500 tokens per day (was the config default). It applies from the next model call.',
    );
  });

  it('asks one person to slow down past their message rate, and keeps serving others', async () => {
    const app = await stack('  userMessagesPerMinute: 3');
    const handled = [];
    for (let i = 0; i < 4; i++)
      handled.push(await app.steward.service.handleMessage(mention(`question ${i}`)));
    expect(handled.map((h) => h.status)).toEqual(['queued', 'queued', 'queued', 'refused']);
    const notice = app.surface.posted.find((post) => post.kind === 'notice');
    expect(notice).toMatchObject({ onlyFor: 'UASKER01' });
    expect(notice && 'text' in notice ? notice.text : '').toMatch(
      /^You are sending me messages faster than I take them \(3 a minute\)\. Please slow down: try again in \d+s\.$/,
    );
    expect((await app.steward.service.handleMessage(mention('me too', 'UOTHER01'))).status).toBe('queued');
    now += 61_000;
    expect((await app.steward.service.handleMessage(mention('later'))).status).toBe('queued');
  });

  it('charges the planner and session summaries like every other call', async () => {
    const app = await createStack({
      server,
      clock,
      yaml: `agents:
  support:
    instructions: Help with orders.
    tools: [recall]
    planner: { model: gpt-plan }
sessions: { maxTokens: 10 }
admins: { slack: [${ADMIN}] }
`,
    });
    stacks.push(app);
    const thread = '1700000999.0001';
    for (const text of [
      'tell me about the refund policy for orders',
      'and what about the shipping times please',
    ]) {
      await answered(app, mention(text, 'UASKER01', thread));
      app.surface.posted.length = 0;
    }
    // The session is summarised as the second run ends, just after its answer is posted.
    await vi.waitFor(async () => {
      expect(
        server.requests.some((r) => JSON.stringify(r.messages).includes('The conversation so far')),
      ).toBe(true);
      const shown = await app.steward.commands.handle(command('budget'));
      // Every request the model server saw was charged: 15 tokens each (10 prompt + 5 completion).
      expect(shown.text).toContain(
        `• tokens per day: ${(server.requests.length * 15).toLocaleString('en-US')} tokens used, no limit`,
      );
    });
    expect(server.requests.map((r) => r.model)).toContain('gpt-plan');
  });
});
