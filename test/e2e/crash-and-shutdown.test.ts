import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, inject, it } from 'vitest';
import type { IncomingMessage } from '../../src/core/conversation.ts';
import { STATE_UNAVAILABLE_NOTICE } from '../../src/core/conversation-service.ts';
import { type CountingServer, startCountingServer } from '../fakes/counting-server.ts';
import {
  type RecordedChatBody,
  type ScriptedOpenAI,
  startScriptedOpenAI,
} from '../fakes/scripted-openai-server.ts';
import { deleteKeysWithPrefix, type FoundRedis, startPersistentRedis, testPrefix } from '../support/redis.ts';
import { refundConfigYaml, type StewardNode, startNode, writeConfig } from '../support/steward-nodes.ts';

let model: ScriptedOpenAI | undefined;
let shop: CountingServer | undefined;
let redisServer: FoundRedis | undefined;
const nodes: StewardNode[] = [];
const prefix = testPrefix('crash');

afterEach(async () => {
  for (const node of nodes.splice(0)) {
    node.child.kill('SIGKILL');
    await node.child.exited();
  }
  await model?.close();
  await shop?.close();
  await redisServer?.stop();
  const redis = new Redis(inject('redisUrl'));
  await deleteKeysWithPrefix(redis, prefix);
  await redis.quit();
});

/** A write tool that runs without approval and waits up to a minute for the (slow) shop. */
function refundConfig(shopServer: CountingServer, extra = ''): string {
  return writeConfig(
    refundConfigYaml(shopServer, { tool: '    approval: never\n    timeoutMs: 60000\n', extra }),
  );
}

async function node(name: string, env: Record<string, string>): Promise<StewardNode> {
  const started = await startNode(name, {
    OPENAI_API_KEY: 'sk-test',
    OPENAI_BASE_URL: model?.baseURL ?? '',
    REDIS_URL: inject('redisUrl'),
    STEWARD_REDIS_PREFIX: prefix,
    ...env,
  });
  nodes.push(started);
  return started;
}

let events = 0;
function message(text: string): IncomingMessage {
  events += 1;
  return {
    platform: 'slack',
    tenantId: 'T1',
    channelId: 'C1',
    threadId: '1700000000.000100',
    userId: 'UASKER01',
    text,
    isDirect: false,
    eventId: `Ev-crash-${events}-${Date.now()}`,
  };
}

function echo(delayMs: number) {
  return {
    respond: async (body: RecordedChatBody) => {
      await sleep(delayMs);
      return { reply: `echo: ${String((body.messages ?? []).at(-1)?.content)}` };
    },
  };
}

describe('crashes, shutdown and a Redis outage', () => {
  it('after SIGKILL during a slow side-effecting call, another process ends the run within 60 s and never repeats the call', async () => {
    shop = await startCountingServer({ delayMs: 120_000 });
    model = await startScriptedOpenAI({
      script: [{ toolCalls: [{ name: 'refund_order', arguments: { order_id: '9' } }] }],
      fallback: { reply: 'should not be asked' },
    });
    const configPath = refundConfig(shop);
    const a = await node('node-a', { STEWARD_CONFIG: configPath });
    a.message(message('refund order 9'));
    await shop.waitForRequest('/refund/9');
    const b = await node('node-b', { STEWARD_CONFIG: configPath });

    const killedAt = Date.now();
    a.child.kill('SIGKILL');
    const escalation = await b.waitForPost((p) => p.kind === 'escalation', 60_000);
    const recoveryMs = Date.now() - killedAt;

    expect(escalation.reason).toMatch(/^the outcome of refund_order is unknown: call \S+ started at/);
    expect(shop.requests.map((r) => r.path)).toEqual(['/refund/9']);
    expect(recoveryMs).toBeLessThan(60_000);
    process.stdout.write(`\nrecovery after SIGKILL: ${recoveryMs} ms\n`);
  }, 90_000);

  it('on SIGTERM exits 0 within the grace period, and the unfinished run is continued by another process', async () => {
    shop = await startCountingServer();
    model = await startScriptedOpenAI({
      script: [{ hang: true }],
      fallback: { reply: 'answered after the restart' },
    });
    const configPath = refundConfig(shop, 'workers: { shutdownGrace: 2s }\n');
    const a = await node('node-a', { STEWARD_CONFIG: configPath });
    a.message(message('hello'));
    while (model.requests.length === 0) await sleep(20);

    const termAt = Date.now();
    a.child.kill('SIGTERM');
    expect(await a.child.exited()).toBe(0);
    expect(Date.now() - termAt).toBeLessThan(2_000 + 3_000);
    expect(a.posts()).toEqual([]);

    const b = await node('node-b', { STEWARD_CONFIG: configPath });
    const answer = await b.waitForPost((p) => p.kind === 'answer', 40_000);
    expect(answer.text).toBe('answered after the restart');
  }, 90_000);

  it('survives Redis stopping and restarting: new work is refused meanwhile, and runs complete after it returns', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'steward-redis-'));
    const first = await startPersistentRedis({ dir });
    redisServer = first;
    const { port, url } = first;
    shop = await startCountingServer();
    model = await startScriptedOpenAI({ fallback: echo(1_500) });
    const a = await node('node-a', { STEWARD_CONFIG: refundConfig(shop), REDIS_URL: url });

    a.message(message('before'));
    await a.waitForPost((p) => p.text === 'echo: before');

    a.message(message('during'));
    while (!model.requests.some((r) => r.messages?.at(-1)?.content === 'during')) await sleep(20);
    await redisServer.stop();
    a.message(message('refused while down'));
    await a.waitForPost((p) => p.kind === 'notice' && p.text === STATE_UNAVAILABLE_NOTICE, 15_000);

    redisServer = await startPersistentRedis({ dir, port });
    await a.waitForPost((p) => p.text === 'echo: during', 40_000);
    a.message(message('after'));
    await a.waitForPost((p) => p.text === 'echo: after', 20_000);

    expect(a.child.process.exitCode).toBeNull();
    expect(a.handled().map((h) => h.status)).toEqual(['queued', 'queued', 'refused', 'queued']);
  }, 90_000);
});
