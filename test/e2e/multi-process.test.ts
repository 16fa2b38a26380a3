import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { afterEach, beforeEach, describe, expect, inject, it } from 'vitest';
import type { ButtonAction, IncomingMessage } from '../../src/core/conversation.ts';
import { type CountingServer, startCountingServer } from '../fakes/counting-server.ts';
import {
  type RecordedChatBody,
  type ScriptedOpenAI,
  startScriptedOpenAI,
} from '../fakes/scripted-openai-server.ts';
import { deleteKeysWithPrefix, testPrefix } from '../support/redis.ts';
import { refundConfigYaml, type StewardNode, startNode, writeConfig } from '../support/steward-nodes.ts';

let model: ScriptedOpenAI;
let shop: CountingServer;
let prefix: string;
let nodes: StewardNode[] = [];

/** Answers every request with an echo of its last user message, after `delayMs`. */
function echo(delayMs = 0) {
  return {
    respond: async (body: RecordedChatBody) => {
      if (delayMs > 0) await sleep(delayMs);
      const last = (body.messages ?? []).filter((m) => m.role === 'user').at(-1);
      return { reply: `echo: ${String(last?.content)}` };
    },
  };
}

beforeEach(async () => {
  shop = await startCountingServer();
  prefix = testPrefix('multi');
});
afterEach(async () => {
  for (const node of nodes) node.child.kill('SIGKILL');
  await Promise.all(nodes.map((node) => node.child.exited()));
  nodes = [];
  await model.close();
  await shop.close();
  const redis = new Redis(inject('redisUrl'));
  await deleteKeysWithPrefix(redis, prefix);
  await redis.quit();
});

function config(): string {
  return writeConfig(
    refundConfigYaml(shop, {
      // One person sends 30 messages in a burst below; the per-person rate is not what is tested.
      extra:
        'approvals:\n  approvers: { slack: [ULEAD01, ULEAD02] }\nbudgets:\n  userMessagesPerMinute: 60\n',
    }),
  );
}

async function startNodes(count: number, configPath: string): Promise<StewardNode[]> {
  const env = {
    OPENAI_API_KEY: 'sk-test',
    OPENAI_BASE_URL: model.baseURL,
    REDIS_URL: inject('redisUrl'),
    STEWARD_REDIS_PREFIX: prefix,
    STEWARD_CONFIG: configPath,
  };
  const started = await Promise.all(Array.from({ length: count }, (_, i) => startNode(`node${i + 1}`, env)));
  nodes.push(...started);
  return started;
}

/** Every post of every process, in the order they were made. */
const allPosts = () => nodes.flatMap((node) => node.posts()).sort((x, y) => x.at - y.at);

function message(text: string, eventId: string, threadId = '1700000000.000100'): IncomingMessage {
  return {
    platform: 'slack',
    tenantId: 'T1',
    channelId: 'C1',
    threadId,
    userId: 'UASKER01',
    text,
    isDirect: false,
    eventId,
  };
}

function click(approvalId: string, userId: string): ButtonAction {
  return {
    platform: 'slack',
    tenantId: 'T1',
    channelId: 'C1',
    threadId: '1700000000.000100',
    kind: 'approval',
    userId,
    approvalId,
    decision: 'approve',
    eventId: `click-${userId}`,
  };
}

describe('several Steward processes on one Redis', () => {
  it('turns one event delivered 5 times to two processes into one run and one reply', async () => {
    model = await startScriptedOpenAI({ fallback: echo() });
    const [a, b] = await startNodes(2, config());

    for (let i = 0; i < 5; i++) (i % 2 === 0 ? a : b)?.message(message('hello once', 'Ev-dup-1'));
    await Promise.any(nodes.map((node) => node.waitForPost((p) => p.kind === 'answer')));
    await sleep(1_000);

    expect(
      allPosts()
        .filter((p) => p.kind === 'answer')
        .map((p) => p.text),
    ).toEqual(['echo: hello once']);
    expect(model.requests).toHaveLength(1);
    const statuses = nodes.flatMap((node) => node.handled()).map((h) => h.status);
    expect(statuses.sort()).toEqual(['ignored', 'ignored', 'ignored', 'ignored', 'queued']);
  }, 60_000);

  it('handles 30 quick messages to one conversation one at a time, in order, while another conversation is answered', async () => {
    model = await startScriptedOpenAI({ fallback: echo(40) });
    const [a, b] = await startNodes(2, config());

    for (let i = 1; i <= 30; i++) a?.message(message(`m${i}`, `Ev-order-${i}`));
    await a?.waitForHandled(5);
    b?.message(message('other thread', 'Ev-other', '1700000000.999999'));

    const answered = async () => {
      for (;;) {
        const answers = allPosts().filter((p) => p.kind === 'answer');
        if (answers.length >= 31) return answers;
        await sleep(50);
      }
    };
    const answers = await Promise.race([answered(), sleep(40_000).then(() => allPosts())]);

    const mainThread = answers.filter((p) => p.target?.threadId === '1700000000.000100').map((p) => p.text);
    expect(mainThread).toEqual(Array.from({ length: 30 }, (_, i) => `echo: m${i + 1}`));
    const other = answers.findIndex((p) => p.target?.threadId === '1700000000.999999');
    expect(other).toBeGreaterThanOrEqual(0);
    expect(other).toBeLessThan(answers.length - 1);
    // Each run saw exactly the turns before it: one run at a time, history in order.
    for (let k = 1; k <= 30; k++) {
      // Long histories end with a reminder of the instructions, so look for the last user message.
      const request = model.requests.find(
        (r) => r.messages?.filter((m) => m.role === 'user').at(-1)?.content === `m${k}`,
      );
      const asked = (request?.messages ?? []).filter((m) => m.role === 'user').map((m) => m.content);
      expect(asked).toEqual(Array.from({ length: k }, (_, i) => `m${i + 1}`));
    }
  }, 60_000);

  it('runs the tool once when two approvers in two processes click at the same moment', async () => {
    model = await startScriptedOpenAI({
      script: [{ toolCalls: [{ name: 'refund_order', arguments: { order_id: '55' } }] }],
      fallback: { reply: 'Refunded order 55.' },
    });
    const [a, b] = await startNodes(2, config());

    a?.message(message('refund order 55', 'Ev-refund-55'));
    const card = await Promise.any(nodes.map((node) => node.waitForPost((p) => p.kind === 'approval')));
    a?.action(click(card.approvalId ?? '', 'ULEAD01'));
    b?.action(click(card.approvalId ?? '', 'ULEAD02'));

    await Promise.any(nodes.map((node) => node.waitForPost((p) => p.text === 'Refunded order 55.')));
    const clicks = [...(a?.handled() ?? []), ...(b?.handled() ?? [])].filter((h) => h.status !== 'queued');
    expect(clicks.map((h) => h.status).sort()).toEqual(['accepted', 'refused']);
    expect(clicks.find((h) => h.status === 'refused')?.reason).toMatch(/^Already approved by ULEAD0[12] at/);
    expect(shop.requests.map((r) => r.path)).toEqual(['/refund/55']);
  }, 60_000);

  it('resumes a run whose process was killed while its approval was pending, and runs the tool once', async () => {
    model = await startScriptedOpenAI({
      script: [{ toolCalls: [{ name: 'refund_order', arguments: { order_id: '7' } }] }],
      fallback: { reply: 'Refunded order 7.' },
    });
    const [a] = await startNodes(1, config());
    a?.message(message('refund order 7', 'Ev-refund-7'));
    const card = await a?.waitForPost((p) => p.kind === 'approval');
    a?.child.kill('SIGKILL');
    await a?.child.exited();

    const [b] = await startNodes(1, config());
    b?.action(click(card?.approvalId ?? '', 'ULEAD01'));

    await b?.waitForPost((p) => p.text === 'Refunded order 7.');
    expect(b?.handled()).toEqual([{ node: 'node1', status: 'accepted', runId: card?.runId }]);
    expect(shop.requests.map((r) => r.path)).toEqual(['/refund/7']);
  }, 60_000);
});
