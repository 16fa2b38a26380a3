import { RUN_WORKER_DEFAULTS } from '../src/jobs/run-worker.ts';
/**
 * Recovery: two Steward processes (test/fixtures/steward-node.ts: the real composition) on one
 * Redis; a run is in the middle of a model call when the process holding it is SIGKILLed. Measured:
 * the time from the kill to the other process asking the model again for that run (the run resumed
 * from its checkpoint), and to its answer being posted.
 *
 * Each process gets its own scripted model server, so which server received the first call says
 * which process holds the run: no need to guess which worker BullMQ handed the job to.
 */
import { type ScriptedOpenAI, startScriptedOpenAI } from '../test/fakes/scripted-openai-server.ts';
import { type StewardNode, startNode, writeConfig } from '../test/support/steward-nodes.ts';
import { startBenchRedis } from './redis-info.ts';
import { type BenchReport, defineBenchmark, each } from './table.ts';

export interface RecoveryResult {
  /** SIGKILL → the surviving process's model call for the run. */
  readonly resumedMs: number;
  /** SIGKILL → the answer posted by the surviving process. */
  readonly answeredMs: number;
  readonly redisVersion: string;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const CONFIG = `agents:
  support:
    instructions: You help the team.
`;

export async function measureRecovery(options: { timeoutMs?: number } = {}): Promise<RecoveryResult> {
  const timeoutMs = options.timeoutMs ?? 60_000;
  const redis = await startBenchRedis({ isolated: false });
  const cleanups: (() => Promise<unknown>)[] = [() => redis.stop()];
  try {
    // The first model call of the run never returns (the holder is killed waiting for it); every
    // later call, from whichever process resumes the run, answers at once.
    let hung = false;
    const respond = () => {
      if (hung) return { reply: 'resumed and answered' };
      hung = true;
      return { hang: true as const };
    };
    const models: ScriptedOpenAI[] = [];
    for (let i = 0; i < 2; i++) {
      const model = await startScriptedOpenAI({ fallback: { respond } });
      models.push(model);
      cleanups.unshift(() => model.close());
    }
    const configPath = writeConfig(CONFIG);
    const env = (model: ScriptedOpenAI): Record<string, string> => ({
      OPENAI_API_KEY: 'sk-bench',
      OPENAI_BASE_URL: model.baseURL,
      REDIS_URL: redis.url,
      STEWARD_REDIS_PREFIX: redis.prefix,
      STEWARD_CONFIG: configPath,
    });
    const nodes: StewardNode[] = [];
    const [first, second] = models;
    if (!first || !second) throw new Error('recovery: model servers did not start');
    const started = await Promise.allSettled([
      startNode('node-a', env(first)),
      startNode('node-b', env(second)),
    ]);
    for (const result of started) {
      if (result.status === 'fulfilled') {
        nodes.push(result.value);
        cleanups.unshift(async () => {
          result.value.child.kill('SIGKILL');
          await result.value.child.exited();
        });
      }
    }
    for (const result of started) if (result.status === 'rejected') throw result.reason;
    const [a, b] = nodes;
    if (!a || !b) throw new Error('recovery: steward processes did not start');

    a.message({
      platform: 'slack',
      tenantId: 'T1',
      channelId: 'C1',
      threadId: '1700000000.000100',
      userId: 'UASKER',
      text: 'hello',
      isDirect: false,
      eventId: `slack:T1:C1:recovery-${Date.now()}`,
    });
    const deadline = Date.now() + timeoutMs;
    while (first.requests.length + second.requests.length === 0) {
      if (Date.now() > deadline) {
        // What each process logged is all there is to go on afterwards.
        const logs = nodes.map((node) => `${node.name} stderr:\n${node.child.stderr().slice(-3_000)}`);
        throw new Error(`recovery: no process started the run within ${timeoutMs} ms\n${logs.join('\n')}`);
      }
      await sleep(10);
    }
    const holderIsA = first.requests.length > 0;
    const [holder, survivor] = holderIsA ? [a, b] : [b, a];
    const survivorModel = holderIsA ? second : first;

    const killedAt = Date.now();
    holder.child.kill('SIGKILL');
    while (survivorModel.requests.length === 0) {
      if (Date.now() > killedAt + timeoutMs) {
        throw new Error(`recovery: ${survivor.name} did not resume the run within ${timeoutMs} ms`);
      }
      await sleep(10);
    }
    const resumedAt = survivorModel.requests[0]?.receivedAt ?? Number.NaN;
    const answer = await survivor.waitForPost((post) => post.kind === 'answer', timeoutMs);
    return {
      resumedMs: resumedAt - killedAt,
      answeredMs: answer.at - killedAt,
      redisVersion: redis.redisVersion,
    };
  } finally {
    for (const cleanup of cleanups) await cleanup();
  }
}

/** Issue 8's target; the durable-runs issue requires ≤ 60 s. */
export const RECOVERY_TARGET_MS = 15_000;

export const recoveryBenchmark = defineBenchmark(
  'recovery',
  () => measureRecovery(),
  (results): BenchReport => ({
    title: 'Recovery after SIGKILL',
    setup:
      'Two Steward processes on one Redis; the one holding a run is SIGKILLed while the run waits for the model. ' +
      `Worker defaults: job and lane locks ${RUN_WORKER_DEFAULTS.lockDurationMs / 1000} s, stalled-job check every ${RUN_WORKER_DEFAULTS.stalledIntervalMs / 1000} s.`,
    redisVersion: results[0]?.redisVersion ?? 'unknown',
    reps: results.length,
    measures: [
      {
        name: 'SIGKILL → run resumed by the other process (ms)',
        values: each(results, (r) => r.resumedMs),
        digits: 0,
        reference: { value: RECOVERY_TARGET_MS, label: '≤ 15,000 ms (required ≤ 60,000)', kind: 'max' },
      },
      { name: 'SIGKILL → answer posted (ms)', values: each(results, (r) => r.answeredMs), digits: 0 },
    ],
  }),
);
