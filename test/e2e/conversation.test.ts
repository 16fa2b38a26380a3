import { Redis } from 'ioredis';
import nock from 'nock';
import { afterEach, beforeEach, describe, expect, inject, it, vi } from 'vitest';
import type { ButtonAction, IncomingMessage } from '../../src/core/conversation.ts';
import { createRunQueue } from '../../src/jobs/run-queue.ts';
import { type ScriptedOpenAI, startScriptedOpenAI } from '../fakes/scripted-openai-server.ts';
import { createStack, type Stack, type StackOptions } from '../support/steward-stack.ts';

const SHOP_TOKEN = 'planted-shop-secret-9876';
const YAML = `
defaultAgent: support
agents:
  support:
    instructions: You help the team with orders.
    tools: [get_order, refund_order, escalate_to_human]
tools:
  - name: get_order
    description: Look up an order.
    whenToUse: The person asks about an order.
    whenNotToUse: To change an order.
    url: https://shop.example.com/api/orders/{order_id}
    input: { type: object, properties: { order_id: { type: string } }, required: [order_id] }
    headers: { Authorization: "Bearer \${SHOP_TOKEN}" }
  - name: refund_order
    description: Refund an order.
    whenToUse: The customer asked for a refund.
    whenNotToUse: To look up an order.
    method: POST
    url: https://shop.example.com/api/orders/{order_id}/refund
    input: { type: object, properties: { order_id: { type: string }, amount: { type: number } }, required: [order_id, amount] }
    headers: { Authorization: "Bearer \${SHOP_TOKEN}" }
    risk: write
http:
  allowedHosts: [shop.example.com]
approvals:
  approvers: { slack: [ULEAD01, SONCALL1] }
limits: { maxInputChars: 200 }
`;

let server: ScriptedOpenAI;
const stacks: Stack[] = [];
beforeEach(async () => {
  server = await startScriptedOpenAI();
  nock.disableNetConnect();
  nock.enableNetConnect('127.0.0.1');
});
afterEach(async () => {
  await Promise.all(stacks.splice(0).map((stack) => stack.close()));
  await server.close();
  nock.cleanAll();
  nock.enableNetConnect();
});

async function stack(options: Partial<StackOptions> = {}): Promise<Stack> {
  const created = await createStack({ server, yaml: YAML, env: { SHOP_TOKEN }, ...options });
  stacks.push(created);
  return created;
}

/** A run parked on an approval for a refund of `orderId` that expires after 1 s. */
async function parkedRefundExpiringIn1s(orderId: string) {
  const s = await stack({ yaml: YAML.replace('approvals:\n', 'approvals:\n  expiresAfter: 1s\n') });
  const refund = nock('https://shop.example.com').post(`/api/orders/${orderId}/refund`).reply(200, {});
  server.enqueue({ toolCalls: [{ name: 'refund_order', arguments: { order_id: orderId, amount: 20 } }] });
  const queued = await s.steward.service.handleMessage(mention(`refund 20 on order ${orderId}`));
  const card = await s.surface.waitFor('approval');
  return { s, refund, queued, card };
}

const THREAD = { platform: 'slack', tenantId: 'T1', channelId: 'C1', threadId: '1700000000.000100' } as const;
let eventCounter = 0;
function mention(text: string, userId = 'UASKER01'): IncomingMessage {
  eventCounter += 1;
  return { ...THREAD, userId, text, isDirect: false, eventId: `Ev${eventCounter}-${Date.now()}` };
}
function click(approvalId: string, userId: string, decision: 'approve' | 'reject' = 'approve'): ButtonAction {
  return {
    ...THREAD,
    kind: 'approval',
    userId,
    approvalId,
    decision,
    eventId: `click-${userId}-${Date.now()}`,
  };
}

describe('a conversation through the composed app', () => {
  it('keeps a planted secret out of every log line, the audit trail and the model', async () => {
    const s = await stack();
    // A careless upstream echoes the credential back, in an error and in a success body.
    const shop = nock('https://shop.example.com', { reqheaders: { authorization: `Bearer ${SHOP_TOKEN}` } })
      .get('/api/orders/41')
      .reply(400, { error: `token Bearer ${SHOP_TOKEN} may not read order 41` })
      .get('/api/orders/42')
      .reply(200, { id: '42', debug: `auth was Bearer ${SHOP_TOKEN}` });
    server.enqueue(
      { toolCalls: [{ name: 'get_order', arguments: { order_id: '41' } }] },
      { toolCalls: [{ name: 'get_order', arguments: { order_id: '42' } }] },
      { reply: 'Order 42 is fine.' },
    );

    await s.steward.service.handleMessage(mention('how is order 42?'));
    await s.surface.waitFor('answer', (a) => a.text === 'Order 42 is fine.');

    expect(shop.isDone()).toBe(true);
    expect(s.logLines.some((line) => line.includes('may not read order 41'))).toBe(true);
    for (const secret of [SHOP_TOKEN, 'sk-planted-openai-key-4567']) {
      expect(s.logLines.filter((line) => line.includes(secret))).toEqual([]);
      expect(JSON.stringify(s.audit)).not.toContain(secret);
      expect(JSON.stringify(server.requests.map((r) => r.body))).not.toContain(secret);
    }
    expect(String(server.requests[2]?.messages?.at(-1)?.content)).toContain('auth was Bearer [redacted]');
  });

  it('refuses a message over the size limit before any model call, saying the limit', async () => {
    const s = await stack();

    const handled = await s.steward.service.handleMessage(mention('x'.repeat(201)));

    expect(handled).toMatchObject({ status: 'refused' });
    expect(s.surface.posted).toEqual([
      expect.objectContaining({
        kind: 'notice',
        onlyFor: 'UASKER01',
        text: 'Your message is 201 characters; the limit is 200. Please shorten it and try again.',
      }),
    ]);
    expect(server.requests).toEqual([]);
  });

  it('answers a redelivered event once', async () => {
    const s = await stack();
    server.enqueue({ reply: 'hello' });
    const event = mention('hi');

    const [first, second] = await Promise.all([
      s.steward.service.handleMessage(event),
      s.steward.service.handleMessage(event),
    ]);
    await s.surface.waitFor('answer');

    expect([first.status, second.status].sort()).toEqual(['ignored', 'queued']);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(s.surface.posted.filter((p) => p.kind === 'answer')).toHaveLength(1);
    expect(server.requests).toHaveLength(1);
  });

  it('carries the conversation into the next turn of the same thread', async () => {
    const s = await stack();
    server.enqueue({ reply: 'Nice to meet you, Ana.' }, { reply: 'You are Ana.' });

    await s.steward.service.handleMessage(mention('I am Ana'));
    await s.steward.service.handleMessage(mention('who am I?'));
    await s.surface.waitFor('answer', (a) => a.text === 'You are Ana.');

    const roles = server.requests[1]?.messages?.map((m) => `${m.role}:${String(m.content)}`);
    expect(roles).toEqual([
      'system:You help the team with orders.',
      'user:I am Ana',
      'assistant:Nice to meet you, Ana.',
      'user:who am I?',
    ]);
  });

  it('runs an approved call once: strangers and the requester are refused, a second click learns who decided', async () => {
    const s = await stack();
    const refund = nock('https://shop.example.com')
      .post('/api/orders/55/refund')
      .once()
      .reply(200, { refunded: 20 });
    server.enqueue(
      { toolCalls: [{ name: 'refund_order', arguments: { order_id: '55', amount: 20 } }] },
      { reply: 'Refunded.' },
    );
    const { service } = s.steward;

    await service.handleMessage(mention('refund 20 on order 55'));
    const card = await s.surface.waitFor('approval');
    expect(card).toMatchObject({ toolName: 'refund_order', args: { order_id: '55', amount: 20 } });

    expect(await service.handleAction(click(card.approvalId, 'USTRANGER'))).toMatchObject({
      status: 'refused',
      reason: 'You cannot decide this: you are not one of the approvers for this action.',
    });
    expect(await service.handleAction(click(card.approvalId, 'UASKER01'))).toMatchObject({
      status: 'refused',
    });
    expect(refund.isDone()).toBe(false);

    // A member of the on-call user group may approve.
    expect(
      await service.handleAction(click(card.approvalId, 'UMEMBER01'), { memberships: ['SONCALL1'] }),
    ).toMatchObject({
      status: 'accepted',
    });
    const late = await service.handleAction(click(card.approvalId, 'ULEAD01'));
    expect(late).toMatchObject({ status: 'refused' });
    expect(late.status === 'refused' && late.reason).toMatch(
      /^Already approved by UMEMBER01 at \d\d:\d\d UTC\.$/,
    );

    await s.surface.waitFor('answer', (a) => a.text === 'Refunded.');
    expect(refund.isDone()).toBe(true);
    expect(s.surface.posted.filter((p) => p.kind === 'decided')).toEqual([
      { kind: 'decided', approvalId: card.approvalId, decision: 'approve', by: 'UMEMBER01' },
    ]);
  });

  it('does nothing with a start item delivered again for a run that already answered', async () => {
    const s = await stack();
    server.enqueue({ reply: 'Once.' });
    const queued = await s.steward.service.handleMessage(mention('say it once'));
    await s.surface.waitFor('answer', (a) => a.text === 'Once.');
    const runId = queued.status === 'queued' ? queued.runId : '';
    await vi.waitFor(async () =>
      expect(await s.steward.runs.get(runId)).toMatchObject({ status: 'completed' }),
    );
    const requests = server.requests.length;

    // The same run's start again (a redelivery under another item id), as the front door sends it.
    const redis = new Redis(inject('redisUrl'));
    await new Promise((resolve) => redis.once('ready', resolve));
    const queue = createRunQueue({ connection: redis, prefix: s.prefix, logger: s.steward.logger });
    const run = await s.steward.runs.get(runId);
    await queue.enqueue({
      kind: 'start',
      itemId: `start:${runId}:again`,
      runId,
      conversationKey: run?.conversationKey ?? '',
      conversation: run?.conversation ?? THREAD,
    });
    await vi.waitFor(async () =>
      expect(await redis.get(`${s.prefix}lane-item:start:${runId}:again`)).toBe('done'),
    );
    await queue.close();
    await redis.quit();

    expect(server.requests).toHaveLength(requests);
    expect(s.surface.posted.filter((p) => p.kind === 'answer')).toHaveLength(1);
    expect(await s.steward.runs.get(runId)).toMatchObject({ status: 'completed' });
  });

  it('ends a run whose approval nobody decided once it expires, within the sweep interval', async () => {
    const { s, refund, queued, card } = await parkedRefundExpiringIn1s('56');
    const askedAt = Date.now();

    await s.surface.waitFor('decided', (d) => d.approvalId === card.approvalId && d.decision === 'expired');
    // Expires after 1 s; the timers are swept every second, so it ends between 1 and about 2 s
    // (the bound leaves room for a loaded machine, not for waiting on a click).
    const endedAfter = Date.now() - askedAt;
    expect(endedAfter).toBeGreaterThanOrEqual(950);
    expect(endedAfter).toBeLessThan(4_000);
    await s.surface.waitFor(
      'notice',
      (n) => n.text === 'This run stopped: the approval for refund_order expired.',
    );
    const runId = queued.status === 'queued' ? queued.runId : '';
    await vi.waitFor(async () =>
      expect(await s.steward.runs.get(runId)).toMatchObject({ status: 'cancelled' }),
    );
    expect(refund.isDone()).toBe(false);
  });

  it('refuses a click after the approval expired, and ends the run as expired', async () => {
    const { s, refund, queued, card } = await parkedRefundExpiringIn1s('55');

    await new Promise((resolve) => setTimeout(resolve, 1_100));
    const handled = await s.steward.service.handleAction(click(card.approvalId, 'ULEAD01'));

    expect(handled).toEqual({
      status: 'refused',
      reason: 'This approval has expired, so the run stopped. Ask Steward again.',
    });
    await s.surface.waitFor('decided', (d) => d.decision === 'expired');
    await s.surface.waitFor(
      'notice',
      (n) => n.text === 'This run stopped: the approval for refund_order expired.',
    );
    expect(refund.isDone()).toBe(false);
    const runId = queued.status === 'queued' ? queued.runId : '';
    // The notice is posted before the status moves (a crash in between repeats it, never loses it).
    await vi.waitFor(async () =>
      expect(await s.steward.runs.get(runId)).toMatchObject({ status: 'cancelled' }),
    );
  });

  it('posts an escalation with the agent’s reason and summary', async () => {
    const s = await stack();
    server.enqueue({
      toolCalls: [
        { name: 'escalate_to_human', arguments: { reason: 'Legal question', summary: 'Asked about GDPR.' } },
      ],
    });

    await s.steward.service.handleMessage(mention('can you delete my data?'));

    expect(await s.surface.waitFor('escalation')).toMatchObject({
      reason: 'Legal question',
      summary: 'Asked about GDPR.',
    });
  });

  it('tells the thread plainly when the model service fails', async () => {
    const s = await stack();
    server.enqueue({
      status: 401,
      body: {
        error: {
          message: 'Incorrect API key provided',
          type: 'invalid_request_error',
          code: 'invalid_api_key',
        },
      },
    });

    await s.steward.service.handleMessage(mention('hi'));

    const notice = await s.surface.waitFor('notice');
    expect(notice.text).toMatch(/^I could not finish this: the model service failed: HTTP 401/);
  });

  it('refuses new work in a paused channel and uses the channel’s agent and tool allowlist', async () => {
    const s = await stack();
    await s.steward.channels.update(THREAD, { paused: true });

    expect(await s.steward.service.handleMessage(mention('hi'))).toMatchObject({
      status: 'refused',
      reason: 'Steward is paused in this channel. An admin can resume it.',
    });

    await s.steward.channels.update(THREAD, { paused: false, toolAllowlist: ['get_order'] });
    server.enqueue({ reply: 'ok' });
    await s.steward.service.handleMessage(mention('hi again'));
    await s.surface.waitFor('answer');
    const offered = server.requests[0]?.tools?.map((t) => (t.type === 'function' ? t.function.name : ''));
    expect(offered).toEqual(['get_order']);
  });

  it('ends a run as failed, not running, when the platform is down as it finishes', async () => {
    const s = await stack({
      wrapSurface: (surface) => ({
        ...surface,
        postAnswer: async () => {
          throw new Error('Slack is down');
        },
        postNotice: async () => {
          throw new Error('Slack is down');
        },
      }),
    });
    server.enqueue({ reply: 'an answer nobody will see' });

    const queued = await s.steward.service.handleMessage(mention('hello'));
    const runId = queued.status === 'queued' ? queued.runId : '';

    let record = await s.steward.runs.get(runId);
    for (let i = 0; i < 100 && record?.status !== 'failed'; i++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      record = await s.steward.runs.get(runId);
    }
    expect(record?.status).toBe('failed');
    expect(record?.outcome).toMatchObject({
      status: 'failed',
      reason: expect.stringContaining('Slack is down'),
    });
  });
});
