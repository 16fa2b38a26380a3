import { Redis } from 'ioredis';
import nock from 'nock';
import { afterEach, beforeEach, describe, expect, inject, it } from 'vitest';
import { formatTimeline, readRunAudit } from '../../src/state/redis-audit-sink.ts';
import { createKeys } from '../../src/state/redis-keys.ts';
import { type ScriptedOpenAI, startScriptedOpenAI } from '../fakes/scripted-openai-server.ts';
import { deleteKeysWithPrefix, testPrefix } from '../support/redis.ts';
import { createStack, type Stack } from '../support/steward-stack.ts';

const YAML = `
defaultAgent: support
agents:
  support:
    instructions: You route questions.
    delegates: [billing]
  billing:
    instructions: You handle refunds.
    tools: [refund_order]
tools:
  - name: refund_order
    description: Refund an order.
    whenToUse: A refund was asked for.
    whenNotToUse: Lookups.
    method: POST
    url: https://shop.example.com/orders/{id}/refund
    input: { type: object, properties: { id: { type: string } }, required: [id] }
    risk: write
http: { allowedHosts: [shop.example.com] }
approvals:
  approvers: { slack: [ULEAD] }
`;

let server: ScriptedOpenAI;
const prefix = testPrefix('multi-agent');
const stacks: Stack[] = [];
beforeEach(async () => {
  server = await startScriptedOpenAI();
  nock.disableNetConnect();
  nock.enableNetConnect('127.0.0.1');
});
afterEach(async () => {
  for (const stack of stacks.splice(0)) await stack.close();
  await server.close();
  nock.cleanAll();
  nock.enableNetConnect();
  const redis = new Redis(inject('redisUrl'));
  await deleteKeysWithPrefix(redis, prefix);
  await redis.quit();
});

async function open(): Promise<Stack> {
  const stack = await createStack({ server, yaml: YAML, prefix });
  stacks.push(stack);
  return stack;
}

describe('sub-agents on the durable path', () => {
  it("a child's tool approval, clicked after a restart, resumes the child and then the parent; the audit shows the tree", async () => {
    const refund = nock('https://shop.example.com')
      .post('/orders/7/refund')
      .once()
      .reply(200, { refunded: true });
    server.enqueue(
      { toolCalls: [{ name: 'ask_billing', arguments: { task: 'Refund order 7' } }] },
      { toolCalls: [{ name: 'refund_order', arguments: { id: '7' } }] },
      { reply: 'Refunded order 7.' },
      { reply: 'Billing refunded order 7.' },
    );
    const first = await open();
    const queued = await first.steward.service.handleMessage({
      platform: 'slack',
      tenantId: 'T1',
      channelId: 'C1',
      threadId: '1700000000.000100',
      userId: 'UANA',
      text: 'refund order 7',
      isDirect: false,
      eventId: `ev-multi-${Date.now()}`,
    });
    const card = await first.surface.waitFor('approval');
    expect(card.toolName).toBe('refund_order');
    await first.close();
    stacks.splice(stacks.indexOf(first), 1);

    const second = await open();
    const clicked = await second.steward.service.handleAction({
      platform: 'slack',
      tenantId: 'T1',
      channelId: 'C1',
      threadId: '1700000000.000100',
      kind: 'approval',
      userId: 'ULEAD',
      approvalId: card.approvalId,
      decision: 'approve',
      eventId: 'click-lead',
    });
    expect(clicked).toMatchObject({ status: 'accepted' });

    expect(await second.surface.waitFor('answer')).toMatchObject({ text: 'Billing refunded order 7.' });
    expect(refund.isDone()).toBe(true);
    const runId = queued.status === 'queued' ? queued.runId : '';
    const redis = new Redis(inject('redisUrl'));
    // Audit events are written in batches a few milliseconds apart; wait for the run's last one.
    let timeline: string[] = [];
    for (let i = 0; i < 50 && !timeline.at(-1)?.includes('run.ended completed'); i++) {
      timeline = formatTimeline(await readRunAudit(redis, createKeys(prefix), runId));
      if (!timeline.at(-1)?.includes('run.ended completed'))
        await new Promise((resolve) => setTimeout(resolve, 20));
    }
    await redis.quit();
    expect(timeline.some((line) => /^\S+ {3}run\.started agent=billing/.test(line))).toBe(true);
    expect(timeline.some((line) => line.includes('approval.decided refund_order approve by ULEAD'))).toBe(
      true,
    );
    expect(timeline.at(-1)).toMatch(/run\.ended completed/);
  });
});
