/**
 * Redis traffic per model round trip of a real run: the composed app (queue, worker, checkpoints,
 * audit stream) on a throwaway redis-server used by nothing else, driving conversations of K tool
 * calls + 1 answer against the scripted model. Counts commands with INFO commandstats before and
 * after, minus what the idle worker issues over the same time. Run: npx tsx bench/redis-round-trips.ts
 * (`npm run bench:redis`); `npm run bench` calls measureRedisRoundTrips().
 */
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { pathToFileURL } from 'node:url';
import { createSteward } from '../src/app/compose.ts';
import { parseConfig } from '../src/app/config-file.ts';
import { parseEnv } from '../src/app/env.ts';
import { startCountingServer } from '../test/fakes/counting-server.ts';
import { createRecordingSurface } from '../test/fakes/recording-surface.ts';
import { startScriptedOpenAI } from '../test/fakes/scripted-openai-server.ts';
import { BUILT_IN_TOOL_NAMES } from '../tools/index.ts';
import { commandstats, startBenchRedis } from './redis-info.ts';
import { type BenchReport, defineBenchmark, each } from './table.ts';

export interface RedisRoundTripOptions {
  /** Conversations measured, one after another (default 20). */
  readonly conversations?: number;
  /** Tool calls per conversation before the answer (default 5). */
  readonly toolCalls?: number;
}

export interface RedisRoundTrips {
  readonly conversations: number;
  readonly toolCalls: number;
  readonly modelRoundTrips: number;
  readonly elapsedMs: number;
  readonly commandsDuring: number;
  readonly idleCommands: number;
  readonly commandsPerModelRoundTrip: number;
  readonly roundTripsPerModelRoundTrip: number;
  readonly writesDuring: number;
  readonly idleWrites: number;
  /** Commands per conversation by name, less the idle worker's, most first. */
  readonly byCommand: readonly (readonly [string, number])[];
  readonly redisVersion: string;
}

/**
 * Round trips are counted as the app's writes to Redis, seen by a TCP proxy: ioredis writes a
 * pipeline or a MULTI in one go and a single command alone, so one write ≈ one round trip.
 */
interface CountingProxy {
  readonly url: string;
  writes(): number;
  close(): void;
}

async function startCountingProxy(redisPort: number): Promise<CountingProxy> {
  let writes = 0;
  const sockets = new Set<Socket>();
  const proxy: Server = createServer((client) => {
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
  const address = proxy.address();
  return {
    url: `redis://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`,
    writes: () => writes,
    close() {
      for (const socket of sockets) socket.destroy();
      proxy.close();
    },
  };
}

/** A conversation answers in well under a second; past this something refused or broke it. */
const ANSWER_TIMEOUT_MS = 15_000;

function diff(after: Map<string, number>, before: Map<string, number>): Map<string, number> {
  const out = new Map<string, number>();
  for (const [name, calls] of after) {
    const delta = calls - (before.get(name) ?? 0);
    if (delta > 0 && name !== 'info') out.set(name, delta);
  }
  return out;
}
const total = (stats: Map<string, number>) => [...stats.values()].reduce((a, b) => a + b, 0);

export async function measureRedisRoundTrips(options: RedisRoundTripOptions = {}): Promise<RedisRoundTrips> {
  const K = options.toolCalls ?? 5;
  const conversations = options.conversations ?? 20;
  // Command counts mean something only on a server nothing else talks to.
  const redis = await startBenchRedis({ isolated: true });
  const cleanups: (() => Promise<void> | void)[] = [() => redis.stop()];
  try {
    const proxy = await startCountingProxy(Number(new URL(redis.url).port));
    cleanups.unshift(() => proxy.close());
    const shop = await startCountingServer();
    cleanups.unshift(() => shop.close());
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
    cleanups.unshift(() => model.close());
    const source = {
      OPENAI_API_KEY: 'sk-bench',
      OPENAI_BASE_URL: model.baseURL,
      REDIS_URL: proxy.url,
      STEWARD_REDIS_PREFIX: redis.prefix,
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
    cleanups.unshift(() => steward.close());

    /** One conversation after another, so each run's Redis traffic is its own (no coalesced writes). */
    let asked = 0;
    const converse = async (n: number): Promise<void> => {
      for (let i = 0; i < n; i++) {
        asked += 1;
        const answersBefore = surface.posted.filter((p) => p.kind === 'answer').length;
        const result = await steward.service.handleMessage({
          platform: 'slack',
          tenantId: 'T1',
          channelId: 'C1',
          threadId: `t-${Date.now()}-${i}`,
          // A person of their own per conversation: one person is held to a few messages a minute.
          userId: `U${asked}`,
          text: 'look up five items',
          isDirect: false,
          eventId: `ev-${Date.now()}-${i}-${Math.random()}`,
        });
        if (result.status !== 'queued') {
          throw new Error(
            `redis round trips: conversation ${asked} was not queued: ${JSON.stringify(result)}`,
          );
        }
        const deadline = Date.now() + ANSWER_TIMEOUT_MS;
        while (surface.posted.filter((p) => p.kind === 'answer').length <= answersBefore) {
          if (Date.now() > deadline) {
            const last = JSON.stringify(surface.posted.at(-1));
            throw new Error(
              `redis round trips: conversation ${asked} got no answer within ${ANSWER_TIMEOUT_MS} ms; last post: ${last}`,
            );
          }
          await new Promise((resolve) => setTimeout(resolve, 2));
        }
      }
    };

    await converse(2);
    const started = Date.now();
    const before = await commandstats(redis.admin);
    const writesBefore = proxy.writes();
    await converse(conversations);
    const elapsedMs = Date.now() - started;
    const during = diff(await commandstats(redis.admin), before);
    const writesDuring = proxy.writes() - writesBefore;
    // What the idle worker alone issues over the same time (BullMQ's blocking waits, stalled checks, lease renewals).
    const idleBefore = await commandstats(redis.admin);
    const idleWritesBefore = proxy.writes();
    await new Promise((resolve) => setTimeout(resolve, elapsedMs));
    const idle = diff(await commandstats(redis.admin), idleBefore);
    const idleWrites = proxy.writes() - idleWritesBefore;

    const modelRoundTrips = conversations * (K + 1);
    const work = total(during) - total(idle);
    return {
      conversations,
      toolCalls: K,
      modelRoundTrips,
      elapsedMs,
      commandsDuring: total(during),
      idleCommands: total(idle),
      commandsPerModelRoundTrip: work / modelRoundTrips,
      roundTripsPerModelRoundTrip: (writesDuring - idleWrites) / modelRoundTrips,
      writesDuring,
      idleWrites,
      byCommand: [...during.entries()]
        .map(([name, calls]): [string, number] => [name, (calls - (idle.get(name) ?? 0)) / conversations])
        .sort((a, b) => b[1] - a[1]),
      redisVersion: redis.redisVersion,
    };
  } finally {
    for (const cleanup of cleanups) await cleanup();
  }
}

/** The text `npm run bench:redis` has always printed. */
export function describeRedisRoundTrips(result: RedisRoundTrips): string {
  const { conversations, toolCalls, modelRoundTrips } = result;
  return [
    `conversations: ${conversations} × (${toolCalls} tool calls + answer) = ${modelRoundTrips} model round trips in ${result.elapsedMs} ms`,
    `redis commands during the run: ${result.commandsDuring}; idle worker over the same time: ${result.idleCommands}`,
    `redis commands per model round trip: ${result.commandsPerModelRoundTrip.toFixed(1)}`,
    `redis round trips per model round trip: ${result.roundTripsPerModelRoundTrip.toFixed(1)} (${result.writesDuring} writes, ${result.idleWrites} idle)`,
    `per conversation: ${(result.commandsPerModelRoundTrip * (toolCalls + 1)).toFixed(1)}`,
    'by command (per conversation):',
    ...result.byCommand.map(([name, calls]) => `  ${name.padEnd(14)} ${calls.toFixed(1)}`),
  ]
    .join('\n')
    .concat('\n');
}

/** Issue 8: a model round trip should cost at most 3 Redis round trips. */
export const ROUND_TRIPS_TARGET = 3;

export const redisBenchmark = defineBenchmark(
  'redis',
  (quick) => measureRedisRoundTrips({ conversations: quick ? 5 : 20 }),
  (results): BenchReport => {
    const first = results[0];
    const top = (results.at(-1)?.byCommand ?? []).slice(0, 8);
    return {
      title: 'Redis per model round trip',
      setup:
        `${first?.conversations ?? 0} conversations of ${first?.toolCalls ?? 0} tool calls + an answer, one after another, ` +
        'through the composed app on a throwaway redis-server; commands from INFO commandstats, round trips as the ' +
        "app's writes seen by a TCP proxy, both less what the idle worker issues over the same time.",
      redisVersion: first?.redisVersion ?? 'unknown',
      reps: results.length,
      measures: [
        {
          name: 'Redis commands per model round trip',
          values: each(results, (r) => r.commandsPerModelRoundTrip),
        },
        {
          name: 'Redis round trips per model round trip',
          values: each(results, (r) => r.roundTripsPerModelRoundTrip),
          reference: { value: ROUND_TRIPS_TARGET, label: `≤ ${ROUND_TRIPS_TARGET}`, kind: 'max' },
        },
        {
          name: 'Redis commands per conversation',
          values: each(results, (r) => r.commandsPerModelRoundTrip * (r.toolCalls + 1)),
        },
      ],
      notes: [
        `Most frequent commands per conversation (last run): ${top.map(([name, calls]) => `${name} ${calls.toFixed(1)}`).join(', ')}.`,
      ],
    };
  },
);

// Run directly (`npm run bench:redis`), not when imported by bench/run.ts.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.stdout.write(describeRedisRoundTrips(await measureRedisRoundTrips()));
}
