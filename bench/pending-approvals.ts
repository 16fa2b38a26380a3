/**
 * Pending approvals: N real runs through the composed app (conversation service, BullMQ run queue,
 * worker, checkpoints, audit stream) whose scripted model asks for a tool that needs approval, so
 * every run ends its turn `awaiting_approval`. Then: does any of them hold a worker (BullMQ active
 * jobs, lane items waiting), and how many bytes of Redis does each cost, by Redis's own INFO memory
 * figures on a throwaway server nothing else uses. Nothing is written to Redis by hand.
 */
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { createSteward } from '../src/app/compose.ts';
import { parseConfig } from '../src/app/config-file.ts';
import { parseEnv } from '../src/app/env.ts';
import type { Surface } from '../src/core/surface.ts';
import { bullPrefix, DEFAULT_RUN_QUEUE_NAME } from '../src/jobs/run-queue.ts';
import { timersKey } from '../src/jobs/run-timers.ts';
import { startScriptedOpenAI } from '../test/fakes/scripted-openai-server.ts';
import { refundConfigYaml } from '../test/support/steward-nodes.ts';
import { BUILT_IN_TOOL_NAMES } from '../tools/index.ts';
import { infoNumber, startBenchRedis } from './redis-info.ts';
import { type BenchReport, defineBenchmark, each, formatNumber, markdownTable } from './table.ts';

export interface PendingApprovalsOptions {
  readonly runs: number;
  /** handleMessage calls in flight at once, as a busy platform adapter would make them. */
  readonly inFlight?: number;
  /** Threads are spread over this many channels (per-channel keys are shared by their runs). */
  readonly channels?: number;
  /** People asking (default 2,000): one person is held to a few messages a minute. */
  readonly users?: number;
  readonly timeoutMs?: number;
}

export interface PendingApprovalsResult {
  readonly runs: number;
  readonly seconds: number;
  readonly usedMemoryBefore: number;
  readonly usedMemoryAfter: number;
  readonly bytesPerRun: number;
  readonly keysPerRun: number;
  /** Runs whose record says awaiting_approval (read back through the run store). */
  readonly awaiting: number;
  readonly activeJobs: number;
  readonly waitingJobs: number;
  readonly delayedJobs: number;
  /** Approval expiries waiting in the timers set (one per pending run). */
  readonly timers: number;
  /** MEMORY USAGE summed per key kind, per run, most first. */
  readonly breakdown: readonly (readonly [string, number])[];
  readonly redisVersion: string;
}

const WARM_UP_RUNS = 20;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Counts approval cards; anything else a run shows (an answer, an escalation) means it did not wait. */
function countingSurface(): Surface & { approvals(): number; others(): string[] } {
  let approvals = 0;
  const others: string[] = [];
  return {
    approvals: () => approvals,
    others: () => others,
    requestApproval: async () => {
      approvals += 1;
    },
    postAnswer: async (_target, text) => {
      others.push(`answer: ${text}`);
    },
    postNotice: async (_target, text) => {
      others.push(`notice: ${text}`);
    },
    postEscalation: async (_target, escalation) => {
      others.push(`escalation: ${escalation.reason}`);
    },
  };
}

/** `bench:ab12:run:…` → `run`; BullMQ's keys by their last name part (`bull:runs:<id>` → `bull:job`). */
function kindOf(key: string, prefix: string): string {
  const rest = key.startsWith(prefix) ? key.slice(prefix.length) : key;
  if (rest.startsWith('bull:')) {
    const parts = rest.split(':');
    const name = parts[2] ?? '';
    return /^(item-|\d)/.test(name) ? 'bull:job' : `bull:${name}`;
  }
  return rest.split(':')[0] ?? rest;
}

/** MEMORY USAGE of every key, summed per kind: where the bytes go (approximate; INFO is the figure). */
async function memoryByKind(redis: Redis, prefix: string): Promise<Map<string, number>> {
  const byKind = new Map<string, number>();
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'COUNT', 1_000);
    cursor = next;
    const pipeline = redis.pipeline();
    for (const key of keys) pipeline.memory('USAGE', key, 'SAMPLES', '0');
    const replies = (await pipeline.exec()) ?? [];
    keys.forEach((key, i) => {
      const bytes = Number(replies[i]?.[1] ?? 0);
      const kind = kindOf(key, prefix);
      byKind.set(kind, (byKind.get(kind) ?? 0) + bytes);
    });
  } while (cursor !== '0');
  return byKind;
}

async function until(
  check: () => Promise<boolean> | boolean,
  what: string,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`pending approvals: ${what} within ${timeoutMs} ms`);
    await sleep(50);
  }
}

export async function measurePendingApprovals(
  options: PendingApprovalsOptions,
): Promise<PendingApprovalsResult> {
  const inFlight = options.inFlight ?? 64;
  const channels = options.channels ?? 50;
  const users = options.users ?? 2_000;
  const timeoutMs = options.timeoutMs ?? 10 * 60_000;
  // Memory figures mean something only on a server nothing else uses.
  const redis = await startBenchRedis({ isolated: true });
  const cleanups: (() => Promise<void>)[] = [() => redis.stop()];
  try {
    const model = await startScriptedOpenAI({
      fallback: {
        respond: (body) => {
          const asked = String((body.messages ?? []).filter((m) => m.role === 'user').at(-1)?.content ?? '');
          return {
            toolCalls: [{ name: 'refund_order', arguments: { order_id: asked.replace(/\D+/g, '') } }],
          };
        },
      },
    });
    cleanups.unshift(() => model.close());
    const source = {
      OPENAI_API_KEY: 'sk-bench',
      OPENAI_BASE_URL: model.baseURL,
      REDIS_URL: redis.url,
      STEWARD_REDIS_PREFIX: redis.prefix,
      LOG_LEVEL: 'silent',
    };
    // A write tool with the default policy: it needs a person's approval, so no call is ever made.
    const config = parseConfig(
      refundConfigYaml(
        { url: 'http://127.0.0.1:9', host: '127.0.0.1:9' },
        { extra: 'approvals: { approvers: { slack: [UBOSS] } }\nworkers: { concurrency: 16 }\n' },
      ),
      { env: source, builtInTools: BUILT_IN_TOOL_NAMES },
    );
    const surface = countingSurface();
    const steward = await createSteward({ env: parseEnv(source), config, surface, logLevel: 'silent' });
    cleanups.unshift(() => steward.close());
    const address = new URL(redis.url);
    // Given options rather than a client, BullMQ owns the connection and close() ends it. Only
    // counting: a Queue opened without skipMetasUpdate writes its own defaults into the queue's
    // meta hash, and BullMQ's default cap of 10,000 event-stream entries would replace Steward's
    // 100 (about 100 bytes per run of this benchmark's figure was that stream).
    const queue = new Queue(DEFAULT_RUN_QUEUE_NAME, {
      connection: { host: address.hostname, port: Number(address.port) },
      prefix: bullPrefix(redis.prefix),
      skipMetasUpdate: true,
    });
    cleanups.unshift(() => queue.close());
    const quiet = async () => {
      const counts = await queue.getJobCounts('active', 'waiting', 'delayed');
      return counts.active === 0 && counts.waiting === 0;
    };

    const runIds: string[] = [];
    const start = async (from: number, count: number): Promise<void> => {
      let next = from;
      const lane = async () => {
        while (next < from + count) {
          const i = next++;
          const result = await steward.service.handleMessage({
            platform: 'slack',
            tenantId: 'T1',
            channelId: `CB${String(i % channels).padStart(4, '0')}`,
            threadId: `1700000000.${String(i).padStart(6, '0')}`,
            userId: `UA${String(i % users).padStart(5, '0')}`,
            text: `refund order ${i}`,
            isDirect: false,
            eventId: `slack:T1:bench:${i}`,
          });
          if (result.status !== 'queued')
            throw new Error(`run ${i} was not queued: ${JSON.stringify(result)}`);
          if (i >= WARM_UP_RUNS) runIds.push(result.runId);
        }
      };
      await Promise.all(Array.from({ length: Math.min(inFlight, count) }, lane));
      await until(() => surface.approvals() >= from + count, `${from + count} approval cards`, timeoutMs);
      await until(quiet, 'the queue to go quiet', timeoutMs);
      if (surface.others().length > 0) {
        throw new Error(`runs ended instead of waiting: ${surface.others().slice(0, 3).join(' | ')}`);
      }
    };

    // Warm up first (Lua scripts loaded, connections made, one-off keys written), then measure.
    await start(0, WARM_UP_RUNS);
    const memoryBefore = await infoNumber(redis.admin, 'memory', 'used_memory');
    const keysBefore = await redis.admin.dbsize();
    const startedAt = Date.now();
    await start(WARM_UP_RUNS, options.runs);
    const seconds = (Date.now() - startedAt) / 1000;
    // A moment for the audit sink's batched writes and BullMQ's completed-job trimming to land.
    await sleep(500);
    const memoryAfter = await infoNumber(redis.admin, 'memory', 'used_memory');
    const keysAfter = await redis.admin.dbsize();
    const counts = await queue.getJobCounts('active', 'waiting', 'delayed');

    let awaiting = 0;
    for (let i = 0; i < runIds.length; i += 500) {
      const records = await Promise.all(runIds.slice(i, i + 500).map((id) => steward.runs.get(id)));
      awaiting += records.filter((record) => record?.status === 'awaiting_approval').length;
    }
    const byKind = await memoryByKind(redis.admin, redis.prefix);
    return {
      runs: options.runs,
      seconds,
      usedMemoryBefore: memoryBefore,
      usedMemoryAfter: memoryAfter,
      bytesPerRun: (memoryAfter - memoryBefore) / options.runs,
      keysPerRun: (keysAfter - keysBefore) / options.runs,
      awaiting,
      activeJobs: counts.active ?? 0,
      waitingJobs: counts.waiting ?? 0,
      delayedJobs: counts.delayed ?? 0,
      timers: await redis.admin.zcard(timersKey(redis.prefix)),
      breakdown: [...byKind.entries()]
        .map(([kind, bytes]): [string, number] => [kind, bytes / (options.runs + WARM_UP_RUNS)])
        .sort((a, b) => b[1] - a[1]),
      redisVersion: redis.redisVersion,
    };
  } finally {
    for (const cleanup of cleanups) await cleanup();
  }
}

/** Issue 8: at most 2 KB of Redis per run waiting for approval. */
export const BYTES_PER_RUN_TARGET = 2_048;

export const approvalsBenchmark = defineBenchmark(
  'approvals',
  (quick) => measurePendingApprovals({ runs: quick ? 500 : 10_000 }),
  (results): BenchReport => {
    const first = results[0];
    const last = results.at(-1);
    const runs = first?.runs ?? 0;
    const breakdown = (last?.breakdown ?? []).filter(([, bytes]) => bytes >= 1);
    return {
      title: 'Pending approvals',
      setup:
        `${runs.toLocaleString('en-US')} real runs through the composed app (queue, worker, checkpoints, audit) on a ` +
        'throwaway redis-server; the scripted model asks for refund_order, a write tool that needs approval, so every ' +
        'run parks awaiting_approval. Memory is INFO used_memory after minus before, over the runs; threads are spread ' +
        'over 50 channels and 2,000 people.',
      redisVersion: first?.redisVersion ?? 'unknown',
      reps: results.length,
      measures: [
        {
          name: 'Redis bytes per pending run (INFO used_memory)',
          values: each(results, (r) => r.bytesPerRun),
          digits: 0,
          reference: { value: BYTES_PER_RUN_TARGET, label: '≤ 2,048 B', kind: 'max' },
        },
        { name: 'Redis keys per pending run', values: each(results, (r) => r.keysPerRun), digits: 2 },
        {
          name: 'runs awaiting approval',
          values: each(results, (r) => r.awaiting),
          digits: 0,
          reference: { value: runs, label: `all ${runs.toLocaleString('en-US')}`, kind: 'min' },
        },
        {
          name: 'BullMQ active jobs while they wait',
          values: each(results, (r) => r.activeJobs),
          digits: 0,
          reference: { value: 0, label: '0 (no worker held)', kind: 'max' },
        },
        { name: 'BullMQ waiting jobs', values: each(results, (r) => r.waitingJobs), digits: 0 },
        {
          name: 'BullMQ delayed jobs',
          values: each(results, (r) => r.delayedJobs),
          digits: 0,
        },
        {
          name: 'approval expiries in the timers set',
          values: each(results, (r) => r.timers),
          digits: 0,
        },
        { name: 'runs parked per second', values: each(results, (r) => r.runs / r.seconds), digits: 0 },
      ],
      notes: [
        'Where the bytes go (MEMORY USAGE per key kind, last run, per run; BullMQ keeps the last 100 completed wake-up jobs and 100 events, a fixed cost spread over the runs):',
        '',
        markdownTable(
          ['key kind', 'bytes per run'],
          breakdown.map(([kind, bytes]) => [kind, formatNumber(bytes, 0)]),
          ['left', 'right'],
        ),
      ],
    };
  },
);
