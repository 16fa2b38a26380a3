import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterEach, beforeEach, describe, expect, inject, it } from 'vitest';
import { type CountingServer, startCountingServer } from '../fakes/counting-server.ts';
import { type ScriptedOpenAI, startScriptedOpenAI } from '../fakes/scripted-openai-server.ts';
import { type Child, ROOT, startTsx } from '../support/processes.ts';
import { deleteKeysWithPrefix, testPrefix } from '../support/redis.ts';
import { refundConfigYaml } from '../support/steward-nodes.ts';

let model: ScriptedOpenAI;
let shop: CountingServer;
const children: Child[] = [];
const prefix = testPrefix('restart');

beforeEach(async () => {
  model = await startScriptedOpenAI();
  shop = await startCountingServer();
});
afterEach(async () => {
  for (const child of children.splice(0)) child.kill('SIGKILL');
  await model.close();
  await shop.close();
  const redis = new Redis(inject('redisUrl'));
  await deleteKeysWithPrefix(redis, prefix);
  await redis.quit();
});

describe('npm run chat on the durable path', () => {
  it('asks again for an approval left pending by a killed process, and runs the call exactly once', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'steward-restart-'));
    const config = join(dir, 'steward.yaml');
    writeFileSync(config, refundConfigYaml(shop));
    model.enqueue(
      { toolCalls: [{ name: 'refund_order', arguments: { order_id: '7' } }] },
      { reply: 'Refunded order 7.' },
    );
    const env = {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? dir,
      OPENAI_API_KEY: 'sk-test',
      OPENAI_BASE_URL: model.baseURL,
      REDIS_URL: inject('redisUrl'),
      STEWARD_REDIS_PREFIX: prefix,
      STEWARD_CONFIG: config,
    };

    const first = startTsx(join(ROOT, 'src/app/chat.ts'), { env });
    children.push(first);
    first.process.stdin.write('refund order 7\n');
    await first.waitFor('approve? [y/N]');
    first.kill('SIGKILL');
    await first.exited();
    expect(shop.requests).toEqual([]);

    const second = startTsx(join(ROOT, 'src/app/chat.ts'), { env });
    children.push(second);
    await second.waitFor(/an approval was still waiting from before[\s\S]*approve\? \[y\/N\] $/);
    second.process.stdin.write('y\n');
    await second.waitFor('steward> Refunded order 7.');
    second.process.stdin.end('/exit\n');

    expect(await second.exited()).toBe(0);
    expect(shop.requests.map((r) => `${r.method} ${r.path}`)).toEqual(['POST /refund/7']);
  });
});
