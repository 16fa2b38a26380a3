/**
 * Redis traffic per model round trip of a real run: the composed app (queue, worker, checkpoints,
 * audit stream) on a throwaway redis-server used by nothing else, driving conversations of K tool
 * calls + 1 answer against the scripted model. Counts commands with INFO commandstats before and
 * after, minus what the idle worker issues over the same time. Run: npx tsx bench/redis-round-trips.ts
 */
import { createConnection, createServer, type Socket } from 'node:net';
import { Redis } from 'ioredis';
import { createSteward } from '../src/app/compose.ts';
import { parseConfig } from '../src/app/config-file.ts';
import { parseEnv } from '../src/app/env.ts';
import { startCountingServer } from '../test/fakes/counting-server.ts';
import { createRecordingSurface } from '../test/fakes/recording-surface.ts';
import { startScriptedOpenAI } from '../test/fakes/scripted-openai-server.ts';
import { findOrStartRedis } from '../test/support/redis.ts';
import { BUILT_IN_TOOL_NAMES } from '../tools/index.ts';

const K = 5;
const CONVERSATIONS = 20;

const redisServer = await findOrStartRedis({ url: 'redis://127.0.0.1:1' });
const redisPort = Number(new URL(redisServer.url).port);

/**
 * Round trips are counted as the app's writes to Redis, seen by a TCP proxy: ioredis writes a
 * pipeline or a MULTI in one go and a single command alone, so one write ≈ one round trip.
 */
let writes = 0;
const sockets = new Set<Socket>();
const proxy = createServer((client) => {
  const upstream = createConnection(redisPort, '127.0.0.1');
  sockets.add(client).add(upstream);
  client.on('data', (chunk) => {
    writes += 1;
    upstream.write(chunk);
  });
  upstream.on('data', (chunk) => client.write(chunk));
  const close = () => {
    client.destroy();
    upstream.destroy();
  };
  client.on('close', close).on('error', close);
  upstream.on('close', close).on('error', close);
});
await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
const proxyAddress = proxy.address();
const proxyUrl = `redis://127.0.0.1:${typeof proxyAddress === 'object' && proxyAddress ? proxyAddress.port : 0}`;
const shop = await startCountingServer();
const model = await startScriptedOpenAI({
  fallback: {
    respond: (body) => {
      const toolReplies = (body.messages ?? []).filter((m) => m.role === 'tool').length;
      return toolReplies < K
        ? { toolCalls: [{ name: 'lookup', arguments: { id: String(toolReplies) } }] }
        : { reply: `done: looked up ${K} items` };
    },
  },
});
const source = {
  OPENAI_API_KEY: 'sk-bench',
  OPENAI_BASE_URL: model.baseURL,
  REDIS_URL: proxyUrl,
  STEWARD_REDIS_PREFIX: 'bench:',
  LOG_LEVEL: 'silent',
};
const config = parseConfig(
  `agents:
  support:
    instructions: Look things up.
    tools: [lookup]
tools:
  - name: lookup
    description: Look up an item.
    whenToUse: Always.
    whenNotToUse: Never.
    url: ${shop.url}/items/{id}
    input: { type: object, properties: { id: { type: string } }, required: [id] }
http: { allowedHosts: ["${shop.host}"] }
`,
  { env: source, builtInTools: BUILT_IN_TOOL_NAMES },
);
const surface = createRecordingSurface();
const steward = await createSteward({ env: parseEnv(source), config, surface, logLevel: 'silent' });
const admin = new Redis(redisServer.url);

async function commandstats(): Promise<Map<string, number>> {
  const info = await admin.info('commandstats');
  const stats = new Map<string, number>();
  for (const match of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm))
    stats.set(match[1] ?? '', Number(match[2]));
  return stats;
}
function diff(after: Map<string, number>, before: Map<string, number>): Map<string, number> {
  const out = new Map<string, number>();
  for (const [name, calls] of after) {
    const delta = calls - (before.get(name) ?? 0);
    if (delta > 0 && name !== 'info') out.set(name, delta);
  }
  return out;
}
const total = (stats: Map<string, number>) => [...stats.values()].reduce((a, b) => a + b, 0);

/** One conversation after another, so each run's Redis traffic is its own (no coalesced writes). */
async function converse(n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    const answersBefore = surface.posted.filter((p) => p.kind === 'answer').length;
    await steward.service.handleMessage({
      platform: 'slack',
      tenantId: 'T1',
      channelId: 'C1',
      threadId: `t-${Date.now()}-${i}`,
      userId: 'U1',
      text: 'look up five items',
      isDirect: false,
      eventId: `ev-${Date.now()}-${i}-${Math.random()}`,
    });
    while (surface.posted.filter((p) => p.kind === 'answer').length <= answersBefore) {
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
  }
}

await converse(2);
const started = Date.now();
const before = await commandstats();
const writesBefore = writes;
await converse(CONVERSATIONS);
const elapsed = Date.now() - started;
const during = diff(await commandstats(), before);
const writesDuring = writes - writesBefore;
// What the idle worker alone issues over the same time (BullMQ's blocking waits, stalled checks, lease renewals).
const idleBefore = await commandstats();
const idleWritesBefore = writes;
await new Promise((resolve) => setTimeout(resolve, elapsed));
const idle = diff(await commandstats(), idleBefore);
const idleWrites = writes - idleWritesBefore;

const modelRoundTrips = CONVERSATIONS * (K + 1);
const work = total(during) - total(idle);
process.stdout.write(
  [
    `conversations: ${CONVERSATIONS} × (${K} tool calls + answer) = ${modelRoundTrips} model round trips in ${elapsed} ms`,
    `redis commands during the run: ${total(during)}; idle worker over the same time: ${total(idle)}`,
    `redis commands per model round trip: ${(work / modelRoundTrips).toFixed(1)}`,
    `redis round trips per model round trip: ${((writesDuring - idleWrites) / modelRoundTrips).toFixed(1)} (${writesDuring} writes, ${idleWrites} idle)`,
    `per conversation: ${(work / CONVERSATIONS).toFixed(1)}`,
    'by command (per conversation):',
    ...[...during.entries()]
      .sort((a, b) => b[1] - a[1])
      .map(
        ([name, calls]) =>
          `  ${name.padEnd(14)} ${((calls - (idle.get(name) ?? 0)) / CONVERSATIONS).toFixed(1)}`,
      ),
  ]
    .join('\n')
    .concat('\n'),
);

await steward.close();
await admin.quit();
await model.close();
await shop.close();
for (const socket of sockets) socket.destroy();
proxy.close();
await redisServer.stop();
