import { Redis } from 'ioredis';
import { afterEach, describe, expect, inject, it } from 'vitest';
import type { IncomingMessage } from '../../src/core/conversation.ts';
import { type ScriptedOpenAI, startScriptedOpenAI } from '../fakes/scripted-openai-server.ts';
import { deleteKeysWithPrefix, testPrefix } from '../support/redis.ts';
import { type StewardNode, startNode, writeConfig } from '../support/steward-nodes.ts';

// Each run is one model call of 15 tokens (10 prompt + 5 completion, as the fake reports), so a
// daily channel limit of 300 tokens fits 20 runs.
const TOKENS_PER_RUN = 15;
const LIMIT = 20 * TOKENS_PER_RUN;
const RUNS = 50;

let model: ScriptedOpenAI | undefined;
let nodes: StewardNode[] = [];
const prefix = testPrefix('budget-race');

afterEach(async () => {
  for (const node of nodes) node.child.kill('SIGKILL');
  await Promise.all(nodes.map((node) => node.child.exited()));
  nodes = [];
  await model?.close();
  const redis = new Redis(inject('redisUrl'));
  await deleteKeysWithPrefix(redis, prefix);
  await redis.quit();
});

function message(i: number): IncomingMessage {
  return {
    platform: 'slack',
    tenantId: 'T1',
    channelId: 'C1',
    threadId: `1700000000.${String(i).padStart(6, '0')}`,
    userId: `UASKER${String(i).padStart(3, '0')}`,
    text: `question number ${i}`,
    isDirect: false,
    eventId: `Ev-race-${i}`,
  };
}

describe('budgets across processes', () => {
  it('lets 50 parallel runs on two processes overspend a budget that fits 20 by at most one reservation', async () => {
    model = await startScriptedOpenAI({ fallback: { reply: 'answered' } });
    const config = writeConfig(`agents:
  support:
    instructions: Answer briefly.
    limits: { maxCompletionTokens: 20 }
budgets:
  channel: { tokensPerDay: ${LIMIT} }
workers: { concurrency: 8 }
`);
    const env = {
      OPENAI_API_KEY: 'sk-test',
      OPENAI_BASE_URL: model.baseURL,
      REDIS_URL: inject('redisUrl'),
      STEWARD_REDIS_PREFIX: prefix,
      STEWARD_CONFIG: config,
    };
    nodes = await Promise.all([startNode('node1', env), startNode('node2', env)]);
    for (let i = 0; i < RUNS; i++) nodes[i % 2]?.message(message(i));

    // Every message ends in exactly one visible outcome: an answer, or a refusal naming the budget.
    const outcomes = () =>
      nodes.flatMap((node) => node.posts()).filter((p) => p.kind === 'answer' || p.kind === 'notice');
    const deadline = Date.now() + 30_000;
    while (outcomes().length < RUNS && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    await new Promise((r) => setTimeout(r, 500));
    const posts = outcomes();
    expect(posts).toHaveLength(RUNS);
    const threads = new Set(posts.map((post) => post.target?.threadId));
    expect(threads.size).toBe(RUNS);

    const answered = posts.filter((post) => post.kind === 'answer' && post.text === 'answered');
    const refused = posts.filter((post) => post !== undefined && !answered.includes(post));
    for (const post of refused) {
      expect(post.text).toMatch(
        /This channel's daily token budget is used up: [\d,]+ tokens of 300 tokens\./,
      );
    }

    // What Redis recorded is the truth: the model calls made, never over the limit by more than one
    // reservation (the prompt estimate plus the 20-token reply cap).
    const redis = new Redis(inject('redisUrl'));
    const day = new Date().toISOString().slice(0, 10);
    const used = Number(await redis.hget(`${prefix}budget-usage:channel:slack:T1:C1:-:${day}`, 'tokens'));
    await redis.quit();
    const maxReservation = Math.max(
      ...model.requests.map((r) => Math.ceil(JSON.stringify(r.messages).length / 4) + 20),
    );
    expect(used).toBe(model.requests.length * TOKENS_PER_RUN);
    expect(used).toBeLessThanOrEqual(LIMIT + maxReservation);
    expect(answered.length).toBe(model.requests.length);
    expect(answered.length).toBeGreaterThanOrEqual(15);
    expect(answered.length).toBeLessThanOrEqual(21);
  }, 60_000);
});
