import nock from 'nock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { IncomingMessage } from '../../src/core/conversation.ts';
import { type ScriptedOpenAI, startScriptedOpenAI } from '../fakes/scripted-openai-server.ts';
import { createStack } from '../support/steward-stack.ts';

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
beforeEach(async () => {
  server = await startScriptedOpenAI();
  nock.disableNetConnect();
  nock.enableNetConnect('127.0.0.1');
});
afterEach(async () => {
  await server.close();
  nock.cleanAll();
  nock.enableNetConnect();
});

let eventCounter = 0;
function mention(text: string, userId = 'UASKER01'): IncomingMessage {
  eventCounter += 1;
  return {
    platform: 'slack',
    tenantId: 'T1',
    channelId: 'C1',
    threadId: '1700000000.000100',
    userId,
    text,
    isDirect: false,
    eventId: `Ev${eventCounter}`,
  };
}

describe('a conversation through the composed app', () => {
  it('keeps a planted secret out of every log line, the audit trail and the model', async () => {
    const stack = createStack({ server, yaml: YAML, env: { SHOP_TOKEN } });
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

    await stack.steward.service.handleMessage(mention('how is order 42?'));

    expect(shop.isDone()).toBe(true);
    expect(stack.surface.posted.at(-1)).toMatchObject({ kind: 'answer', text: 'Order 42 is fine.' });
    expect(stack.logLines.length).toBeGreaterThan(5);
    for (const secret of [SHOP_TOKEN, 'sk-planted-openai-key-4567']) {
      expect(stack.logLines.filter((line) => line.includes(secret))).toEqual([]);
      expect(JSON.stringify(stack.audit)).not.toContain(secret);
      expect(JSON.stringify(server.requests.map((r) => r.body))).not.toContain(secret);
    }
    expect(stack.logLines.some((line) => line.includes('may not read order 41'))).toBe(true);
    expect(String(server.requests[2]?.messages?.at(-1)?.content)).toContain('auth was Bearer [redacted]');
  });

  it('refuses a message over the size limit before any model call, saying the limit', async () => {
    const stack = createStack({ server, yaml: YAML, env: { SHOP_TOKEN } });

    const handled = await stack.steward.service.handleMessage(mention('x'.repeat(201)));

    expect(handled).toMatchObject({ status: 'refused' });
    expect(stack.surface.posted).toEqual([
      expect.objectContaining({
        kind: 'notice',
        onlyFor: 'UASKER01',
        text: 'Your message is 201 characters; the limit is 200. Please shorten it and try again.',
      }),
    ]);
    expect(server.requests).toEqual([]);
  });

  it('answers a redelivered event once', async () => {
    const stack = createStack({ server, yaml: YAML, env: { SHOP_TOKEN } });
    server.enqueue({ reply: 'hello' });
    const event = mention('hi');

    await stack.steward.service.handleMessage(event);
    const second = await stack.steward.service.handleMessage(event);

    expect(second).toEqual({ status: 'ignored', reason: 'duplicate' });
    expect(stack.surface.posted.filter((p) => p.kind === 'answer')).toHaveLength(1);
    expect(server.requests).toHaveLength(1);
  });

  it('carries the conversation into the next turn of the same thread', async () => {
    const stack = createStack({ server, yaml: YAML, env: { SHOP_TOKEN } });
    server.enqueue({ reply: 'Nice to meet you, Ana.' }, { reply: 'You are Ana.' });

    await stack.steward.service.handleMessage(mention('I am Ana'));
    await stack.steward.service.handleMessage(mention('who am I?'));

    const roles = server.requests[1]?.messages?.map((m) => `${m.role}:${String(m.content)}`);
    expect(roles).toEqual([
      'system:You help the team with orders.',
      'user:I am Ana',
      'assistant:Nice to meet you, Ana.',
      'user:who am I?',
    ]);
  });

  it('runs an approved call once: strangers and the requester are refused, a second click changes nothing', async () => {
    const stack = createStack({ server, yaml: YAML, env: { SHOP_TOKEN } });
    const refund = nock('https://shop.example.com')
      .post('/api/orders/55/refund')
      .once()
      .reply(200, { refunded: 20 });
    server.enqueue(
      { toolCalls: [{ name: 'refund_order', arguments: { order_id: '55', amount: 20 } }] },
      { reply: 'Refunded.' },
    );
    const { service } = stack.steward;

    const paused = await service.handleMessage(mention('refund 20 on order 55'));
    expect(paused.status).toBe('awaiting_approval');
    const card = stack.surface.posted.find((p) => p.kind === 'approval');
    expect(card).toMatchObject({ toolName: 'refund_order', args: { order_id: '55', amount: 20 } });
    const approvalId = card?.kind === 'approval' ? card.approvalId : '';
    const click = (userId: string, decision: 'approve' | 'reject' = 'approve') => ({
      platform: 'slack',
      tenantId: 'T1',
      channelId: 'C1',
      threadId: '1700000000.000100',
      userId,
      approvalId,
      decision,
      eventId: `click-${userId}`,
    });

    expect(await service.handleAction(click('USTRANGER'))).toMatchObject({
      status: 'refused',
      reason: 'You cannot decide this: you are not one of the approvers for this action.',
    });
    expect(await service.handleAction(click('UASKER01'))).toMatchObject({ status: 'refused' });
    expect(refund.isDone()).toBe(false);

    // A member of the on-call user group may approve.
    expect(await service.handleAction(click('UMEMBER01'), ['SONCALL1'])).toMatchObject({
      status: 'completed',
    });
    expect(refund.isDone()).toBe(true);
    expect(await service.handleAction(click('ULEAD01'))).toMatchObject({
      status: 'refused',
      reason: 'This approval is no longer pending: it was decided or has expired.',
    });
    expect(stack.surface.posted.filter((p) => p.kind === 'decided')).toEqual([
      { kind: 'decided', approvalId, decision: 'approve', by: 'UMEMBER01' },
    ]);
    expect(stack.surface.posted.at(-1)).toMatchObject({ kind: 'notice', onlyFor: 'ULEAD01' });
    expect(
      stack.surface.posted.filter((p) => p.kind === 'answer').map((p) => p.kind === 'answer' && p.text),
    ).toEqual(['Refunded.']);
  });

  it('posts an escalation with the agent’s reason and summary', async () => {
    const stack = createStack({ server, yaml: YAML, env: { SHOP_TOKEN } });
    server.enqueue({
      toolCalls: [
        { name: 'escalate_to_human', arguments: { reason: 'Legal question', summary: 'Asked about GDPR.' } },
      ],
    });

    await stack.steward.service.handleMessage(mention('can you delete my data?'));

    expect(stack.surface.posted.at(-1)).toMatchObject({
      kind: 'escalation',
      reason: 'Legal question',
      summary: 'Asked about GDPR.',
    });
  });

  it('tells the thread plainly when the model service fails', async () => {
    const stack = createStack({ server, yaml: YAML, env: { SHOP_TOKEN } });
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

    const handled = await stack.steward.service.handleMessage(mention('hi'));

    expect(handled.status).toBe('failed');
    const notice = stack.surface.posted.at(-1);
    expect(notice?.kind === 'notice' && notice.text).toMatch(
      /^I could not finish this: the model service failed: HTTP 401/,
    );
  });

  it('refuses a click on an approval that has expired, and runs nothing', async () => {
    let offset = 0;
    const stack = createStack({
      server,
      yaml: YAML,
      env: { SHOP_TOKEN },
      clock: { now: () => Date.now() + offset },
    });
    const refund = nock('https://shop.example.com').post('/api/orders/55/refund').reply(200, {});
    server.enqueue({ toolCalls: [{ name: 'refund_order', arguments: { order_id: '55', amount: 20 } }] });
    await stack.steward.service.handleMessage(mention('refund 20 on order 55'));
    const card = stack.surface.posted.find((p) => p.kind === 'approval');

    offset = 16 * 60_000; // the default expiry is 15 minutes
    const handled = await stack.steward.service.handleAction({
      platform: 'slack',
      tenantId: 'T1',
      channelId: 'C1',
      threadId: '1700000000.000100',
      userId: 'ULEAD01',
      approvalId: card?.kind === 'approval' ? card.approvalId : '',
      decision: 'approve',
      eventId: 'late-click',
    });

    expect(handled).toEqual({ status: 'refused', reason: 'This approval has expired; ask Steward again.' });
    expect(refund.isDone()).toBe(false);
  });
});
