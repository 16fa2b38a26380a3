/**
 * Slack ingress: `npm start` in its own process (Bolt in HTTP mode, the real composition on Redis)
 * against a fake Slack Web API and a scripted model that answers after a delay, both on loopback
 * in this process. Signed app_mention events are POSTed to /slack/events on an open-loop schedule
 * (each at its due time, whether or not earlier ones were answered, as Slack sends them), each a
 * new thread in one of many channels, from one of many people, so conversation lanes run in parallel.
 *
 * Measured per event: the ack (HTTP response) latency, the time from the request to the status
 * message Steward posts in the thread (chat.postMessage with that thread_ts, as the fake Slack API
 * recorded it), and to the answer replacing it (chat.update carrying the model's reply).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { startFakeSlackApi } from '../test/fakes/fake-slack-api.ts';
import { startScriptedOpenAI } from '../test/fakes/scripted-openai-server.ts';
import { appMention, eventEnvelope, postToSlackEndpoint } from '../test/fakes/slack-signing.ts';
import { groupCpuSeconds, watchOtherLoad } from './machine-load.ts';
import { startBenchRedis } from './redis-info.ts';
import { startStewardProcess } from './steward-process.ts';
import { type BenchReport, defineBenchmark, each, percentile } from './table.ts';

export interface IngressOptions {
  readonly ratePerSecond: number;
  readonly durationSeconds: number;
  /** How long the scripted model takes to answer each call. */
  readonly modelDelayMs?: number;
  readonly channels?: number;
  /** Senders the events are spread over (default 5,000). */
  readonly users?: number;
  /** workers.concurrency in the config: runs at once in the process. */
  readonly workerConcurrency?: number;
  /** After the last request, how long to wait for status messages and answers still to come. */
  readonly drainTimeoutMs?: number;
  /**
   * Two processes, as a deployment that scales them apart runs: one with STEWARD_ROLE=ingress
   * taking the events, one with STEWARD_ROLE=worker running the runs. Default: one process (all).
   */
  readonly split?: boolean;
}

export interface IngressResult {
  readonly sent: number;
  /** Requests answered 200. */
  readonly acked: number;
  readonly ackErrors: number;
  readonly ackP50: number;
  readonly ackP99: number;
  readonly ackMax: number;
  /** Share of acks (0..1) slower than ACK_TARGET_MS. */
  readonly ackOverTarget: number;
  readonly statusSeen: number;
  readonly statusP50: number;
  readonly statusP99: number;
  readonly answered: number;
  readonly answerP50: number;
  readonly answerP99: number;
  /** Requests per second the generator actually sent. */
  readonly sendRate: number;
  /** The generator's own event-loop delay p99 (ms): large values would inflate every figure. */
  readonly generatorLagP99: number;
  /** CPU the Steward process used during the load, as a share of one core (Linux only; NaN elsewhere). */
  readonly stewardCpu: number;
  /** CPU (in cores) that processes outside the benchmark used during the load: a busy machine inflates latency. */
  readonly otherCores: number;
  readonly redisVersion: string;
}

const SIGNING_SECRET = 'bench-signing-secret';
const BOT_TOKEN = 'xoxb-bench-bot-token';
const WARM_UP_EVENTS = 20;
/** Issue 8's target for the ack p99. */
export const ACK_TARGET_MS = 50;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Sent {
  readonly id: string;
  readonly channel: string;
  readonly ts: string;
  readonly sentAt: number;
  ackMs: number;
  status: number;
}

export async function measureIngress(options: IngressOptions): Promise<IngressResult> {
  const modelDelayMs = options.modelDelayMs ?? 1_000;
  const channels = options.channels ?? 100;
  const users = options.users ?? 5_000;
  const total = Math.round(options.ratePerSecond * options.durationSeconds);
  const redis = await startBenchRedis({ isolated: false });
  const cleanups: (() => Promise<unknown>)[] = [() => redis.stop()];
  try {
    const model = await startScriptedOpenAI({
      fallback: {
        respond: async (body) => {
          const asked = String((body.messages ?? []).filter((m) => m.role === 'user').at(-1)?.content ?? '');
          await sleep(modelDelayMs);
          return { reply: `answer for ${asked}` };
        },
      },
    });
    cleanups.unshift(() => model.close());
    const api = await startFakeSlackApi({ botUserId: 'UBOT', teamId: 'T1' });
    cleanups.unshift(() => api.close());
    const configDir = mkdtempSync(join(tmpdir(), 'steward-bench-'));
    cleanups.push(async () => rmSync(configDir, { recursive: true, force: true }));
    const configPath = join(configDir, 'steward.yaml');
    writeFileSync(
      configPath,
      `agents:
  support:
    instructions: You help the team.
workers: { concurrency: ${options.workerConcurrency ?? 256}, shutdownGrace: 2s }
`,
    );
    const stewardEnv = {
      OPENAI_API_KEY: 'sk-bench',
      OPENAI_BASE_URL: model.baseURL,
      REDIS_URL: redis.url,
      STEWARD_REDIS_PREFIX: redis.prefix,
      STEWARD_CONFIG: configPath,
      SLACK_BOT_TOKEN: BOT_TOKEN,
      SLACK_SIGNING_SECRET: SIGNING_SECRET,
      SLACK_API_URL: api.url,
      // Production's default level: logging is part of what a run costs.
      LOG_LEVEL: 'info',
    };
    const steward = await startStewardProcess({
      ...stewardEnv,
      STEWARD_ROLE: options.split ? 'ingress' : 'all',
    });
    cleanups.unshift(() => steward.stop());
    const worker = options.split
      ? await startStewardProcess({ ...stewardEnv, STEWARD_ROLE: 'worker' })
      : undefined;
    if (worker) cleanups.unshift(() => worker.stop());
    const stewardCpuSeconds = () =>
      groupCpuSeconds(steward.child.pid) + (worker ? groupCpuSeconds(worker.child.pid) : 0);
    const eventsUrl = `${steward.baseUrl}/slack/events`;

    const baseSeconds = Math.floor(Date.now() / 1000);
    const send = (id: string, index: number, list: Sent[]): Promise<void> => {
      const channel = `CB${String(index % channels).padStart(4, '0')}`;
      // Unique per event (the dedupe key is team:channel:ts), and a valid Slack ts.
      const ts = `${baseSeconds}.${String(index).padStart(6, '0')}`;
      // Many people, as 200 events a second are: one person is held to a few messages a minute.
      const user = `UB${String(index % users).padStart(5, '0')}`;
      const body = eventEnvelope(appMention({ user, channel, text: `<@UBOT> request ${id}`, ts }), {
        eventId: `EvBench${id}`,
      });
      const record: Sent = { id, channel, ts, sentAt: Date.now(), ackMs: Number.NaN, status: 0 };
      list.push(record);
      const started = performance.now();
      return postToSlackEndpoint(eventsUrl, {
        body,
        contentType: 'application/json',
        signingSecret: SIGNING_SECRET,
      })
        .then((response) => {
          record.ackMs = performance.now() - started;
          record.status = response.status;
        })
        .catch(() => {
          record.status = -1;
        });
    };
    const answers = () => api.callsTo('chat.update').length;
    const waitForAnswers = async (count: number, timeoutMs: number) => {
      const deadline = Date.now() + timeoutMs;
      while (answers() < count && Date.now() < deadline) await sleep(100);
    };

    // Warm-up (not measured): JIT, connections, Lua scripts; the offset keeps its ts apart.
    const warmUp: Sent[] = [];
    for (let i = 0; i < WARM_UP_EVENTS; i++) {
      void send(`w${i}`, 900_000 + i, warmUp);
      await sleep(20);
    }
    await waitForAnswers(WARM_UP_EVENTS, modelDelayMs + 15_000);
    if (answers() < WARM_UP_EVENTS) {
      // Refusals (rate limits, budgets) arrive as ephemeral notices: say which, not just "none".
      const notices = api.callsTo('chat.postEphemeral').map((call) => String(call.args.text));
      throw new Error(
        `ingress: ${answers()} of ${WARM_UP_EVENTS} warm-up runs were answered; notices: ${JSON.stringify(notices.slice(0, 3))}\n${steward.tail().slice(-2_000)}`,
      );
    }

    const sent: Sent[] = [];
    const pending: Promise<void>[] = [];
    const lag = monitorEventLoopDelay({ resolution: 5 });
    lag.enable();
    const cpuBefore = stewardCpuSeconds();
    const otherLoad = watchOtherLoad();
    const startedAt = performance.now();
    const interval = 1000 / options.ratePerSecond;
    for (let i = 0; i < total; i++) {
      const wait = startedAt + i * interval - performance.now();
      if (wait >= 1) await sleep(wait);
      pending.push(send(String(i), i, sent));
    }
    const sendSeconds = (performance.now() - startedAt) / 1000;
    await Promise.all(pending);
    const loadSeconds = (performance.now() - startedAt) / 1000;
    const cpu = (stewardCpuSeconds() - cpuBefore) / loadSeconds;
    const otherCores = otherLoad.stop();
    lag.disable();
    await waitForAnswers(WARM_UP_EVENTS + total, modelDelayMs + (options.drainTimeoutMs ?? 30_000));

    const statusAt = new Map<string, number>();
    for (const call of api.callsTo('chat.postMessage')) {
      const key = `${String(call.args.channel)}|${String(call.args.thread_ts)}`;
      if (!statusAt.has(key)) statusAt.set(key, call.at);
    }
    const answerAt = new Map<string, number>();
    for (const call of api.callsTo('chat.update')) {
      const id = /answer for request (\S+)/.exec(String(call.args.text))?.[1];
      if (id !== undefined && !answerAt.has(id)) answerAt.set(id, call.at);
    }
    const acks = sent.filter((s) => s.status === 200).map((s) => s.ackMs);
    const statusMs = sent.flatMap((s) => {
      const at = statusAt.get(`${s.channel}|${s.ts}`);
      return at === undefined ? [] : [at - s.sentAt];
    });
    const answerMs = sent.flatMap((s) => {
      const at = answerAt.get(s.id);
      return at === undefined ? [] : [at - s.sentAt];
    });
    if (acks.length === 0) throw new Error(`ingress: no request was acked 200:\n${steward.tail()}`);
    if (statusMs.length === 0) throw new Error(`ingress: no status message was posted:\n${steward.tail()}`);
    return {
      sent: sent.length,
      acked: acks.length,
      ackErrors: sent.length - acks.length,
      ackP50: percentile(acks, 50),
      ackP99: percentile(acks, 99),
      ackMax: percentile(acks, 100),
      ackOverTarget: acks.filter((ms) => ms > ACK_TARGET_MS).length / acks.length,
      statusSeen: statusMs.length,
      statusP50: percentile(statusMs, 50),
      statusP99: percentile(statusMs, 99),
      answered: answerMs.length,
      answerP50: percentile(answerMs, 50),
      answerP99: percentile(answerMs, 99),
      sendRate: sent.length / sendSeconds,
      generatorLagP99: lag.percentile(99) / 1e6,
      stewardCpu: cpu,
      otherCores,
      redisVersion: redis.redisVersion,
    };
  } finally {
    for (const cleanup of cleanups) await cleanup();
  }
}

/** Issue 8: 200 events a second for 60 s, the model answering after 1 s. */
const FULL: IngressOptions = { ratePerSecond: 200, durationSeconds: 60, modelDelayMs: 1_000 };
const QUICK: IngressOptions = {
  ratePerSecond: 50,
  durationSeconds: 5,
  modelDelayMs: 1_000,
  drainTimeoutMs: 10_000,
};

const ingressReport =
  (split: boolean) =>
  (results: readonly IngressResult[], quick: boolean): BenchReport => {
    const settings = quick ? QUICK : FULL;
    const first = results[0];
    const modelDelay = settings.modelDelayMs ?? 1_000;
    const modelBaseline = {
      value: modelDelay,
      label: `model delay ${modelDelay.toLocaleString('en-US')} ms`,
      kind: 'baseline',
    } as const;
    const share = (pick: (r: IngressResult) => number) => each(results, (r) => (100 * pick(r)) / r.sent);
    return {
      title: split ? 'Slack ingress, ingress and worker processes' : 'Slack ingress',
      setup:
        `${settings.ratePerSecond} signed app_mention events/s for ${settings.durationSeconds} s ` +
        `(${(first?.sent ?? 0).toLocaleString('en-US')} per run) to ` +
        (split
          ? '`npm start` with STEWARD_ROLE=ingress (its own process, HTTP mode) beside `npm start` with STEWARD_ROLE=worker (another process, workers.concurrency 256), both LOG_LEVEL=info, '
          : '`npm start` (one process taking events and running runs, HTTP mode, LOG_LEVEL=info, workers.concurrency 256) ') +
        `against a fake Slack Web API; the scripted model answers after ` +
        `${modelDelay.toLocaleString('en-US')} ms. Each event opens a thread in one of 100 channels, from one of 5,000 people.`,
      redisVersion: first?.redisVersion ?? 'unknown',
      reps: results.length,
      measures: [
        { name: 'ack latency p50 (ms)', values: each(results, (r) => r.ackP50) },
        {
          name: 'ack latency p99 (ms)',
          values: each(results, (r) => r.ackP99),
          reference: { value: ACK_TARGET_MS, label: `≤ ${ACK_TARGET_MS} ms`, kind: 'max' },
        },
        { name: 'ack latency max (ms)', values: each(results, (r) => r.ackMax), digits: 0 },
        {
          name: `acks over ${ACK_TARGET_MS} ms (%)`,
          values: each(results, (r) => 100 * r.ackOverTarget),
          digits: 2,
        },
        { name: 'requests not acked 200 (%)', values: share((r) => r.ackErrors), digits: 2 },
        { name: 'request → status message p50 (ms)', values: each(results, (r) => r.statusP50), digits: 0 },
        { name: 'request → status message p99 (ms)', values: each(results, (r) => r.statusP99), digits: 0 },
        { name: 'events with a status message (%)', values: share((r) => r.statusSeen), digits: 2 },
        {
          name: 'request → answer p50 (ms)',
          values: each(results, (r) => r.answerP50),
          digits: 0,
          reference: modelBaseline,
        },
        {
          name: 'request → answer p99 (ms)',
          values: each(results, (r) => r.answerP99),
          digits: 0,
          reference: modelBaseline,
        },
        { name: 'events answered (%)', values: share((r) => r.answered), digits: 2 },
        {
          name: 'requests sent per second',
          values: each(results, (r) => r.sendRate),
          reference: {
            value: settings.ratePerSecond,
            label: `schedule ${settings.ratePerSecond}/s`,
            kind: 'baseline',
          },
        },
        {
          name: split ? 'Steward CPU, both processes (share of one core)' : 'Steward CPU (share of one core)',
          values: each(results, (r) => r.stewardCpu),
          digits: 2,
        },
        { name: 'load generator loop delay p99 (ms)', values: each(results, (r) => r.generatorLagP99) },
        {
          name: 'other processes on the machine (cores)',
          values: each(results, (r) => r.otherCores),
          digits: 2,
        },
      ],
      notes: [
        'The load generator, the fake Slack API and the fake model share the machine with Steward; the loop-delay row says how late the generator itself was, and the last row how much CPU anything else on the machine took meanwhile.',
      ],
    };
  };

export const ingressBenchmark = defineBenchmark(
  'ingress',
  (quick) => measureIngress(quick ? QUICK : FULL),
  ingressReport(false),
);

export const ingressSplitBenchmark = defineBenchmark(
  'ingress-split',
  (quick) => measureIngress({ ...(quick ? QUICK : FULL), split: true }),
  ingressReport(true),
);
