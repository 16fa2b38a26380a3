import type { DestinationStream } from 'pino';
import { createHttpTool } from '../../tools/http-tool.ts';
import { BUILT_IN_TOOLS } from '../../tools/index.ts';
import type { AgentProfile } from '../core/agent-profile.ts';
import { type AgentRunner, createAgentRunner } from '../core/agent-runner.ts';
import { type Breakers, createBreakers } from '../core/budget/breakers.ts';
import { createMeteredModelClient } from '../core/budget/metered-model-client.ts';
import { createPriceTable } from '../core/budget/pricing.ts';
import type { CommandRouter } from '../core/commands/command-types.ts';
import { createStewardCommandRouter } from '../core/commands/steward-command.ts';
import {
  type ConversationService,
  createConversationService,
  type Surface,
} from '../core/conversation-service.ts';
import { delegateTool, delegateToolName } from '../core/delegation.ts';
import { DEFAULT_RUN_LIMITS } from '../core/limits.ts';
import { createPlanner } from '../core/planner.ts';
import type { AuditSink, Clock, Logger, ModelClient } from '../core/ports.ts';
import { createRedactor, type Redactor } from '../core/redaction.ts';
import { createRunProcessor } from '../core/run-processor.ts';
import type { ChannelSettingsStore, MessageRefStore, RunStore } from '../core/stores.ts';
import type { Tool } from '../core/tools/define-tool.ts';
import { createToolExecutor, type ToolExecutorOptions } from '../core/tools/tool-executor.ts';
import { createToolRegistry, type ToolRegistry } from '../core/tools/tool-registry.ts';
import { createRunQueue } from '../jobs/run-queue.ts';
import { createTimerSweeper, type TimerSweeper } from '../jobs/run-timers.ts';
import { createRunWorker, type RunWorker } from '../jobs/run-worker.ts';
import { createOpenAIModelClient, type OpenAIModelClientOptions } from '../llm/openai-model-client.ts';
import type { ApproverRules } from '../policy/approvers.ts';
import { createRedisAdminAudit } from '../state/redis-admin-audit.ts';
import { createRedisApprovalStore } from '../state/redis-approval-store.ts';
import { createRedisAuditReader } from '../state/redis-audit-reader.ts';
import { createRedisAuditSink } from '../state/redis-audit-sink.ts';
import { createRedisBreakerStore } from '../state/redis-breaker-store.ts';
import { createRedisBudgetStore } from '../state/redis-budget-store.ts';
import { createRedisChannelSettingsStore } from '../state/redis-channel-settings.ts';
import { createRedisConnection, waitUntilReady } from '../state/redis-connection.ts';
import { createRedisConversationFlagsStore } from '../state/redis-conversation-flags.ts';
import { createRedisEventDedupe } from '../state/redis-event-dedupe.ts';
import { createKeys } from '../state/redis-keys.ts';
import { createRedisMessageRefs } from '../state/redis-message-refs.ts';
import { createRedisNotesStore } from '../state/redis-notes-store.ts';
import { createRedisRunStore } from '../state/redis-run-store.ts';
import { createModelSummarizer, createRedisSessionStore } from '../state/redis-session-store.ts';
import { combineAuditSinks, createLogAuditSink } from './audit-sinks.ts';
import type { PlatformIds, StewardConfig } from './config-file.ts';
import type { Env, LogLevel } from './env.ts';
import { createLogger } from './logger.ts';
import { createWriteRider } from './write-rider.ts';

export interface WorkerSettings {
  readonly concurrency?: number;
  readonly lockDurationMs?: number;
  readonly stalledIntervalMs?: number;
  readonly graceMs?: number;
  /** How often this worker enqueues due timers (approval expiries); default 1 s. */
  readonly timerSweepIntervalMs?: number;
}

/** What a platform's surface may need from the app (built after the state connection exists). */
export interface SurfaceDeps {
  readonly refs: MessageRefStore;
  readonly logger: Logger;
}

export interface StewardOptions {
  readonly env: Env;
  readonly config: StewardConfig;
  readonly surface: Surface | ((deps: SurfaceDeps) => Surface);
  /** A logger built by the caller (it must redact stewardSecrets); otherwise one is made here. */
  readonly logger?: Logger;
  /** Where log lines go (default stdout) and from which level (default LOG_LEVEL). */
  readonly logDestination?: DestinationStream;
  readonly logLevel?: LogLevel;
  /** Extra audit sinks beside the log and the Redis stream (the console's activity view, a test's recorder). */
  readonly auditSinks?: readonly AuditSink[];
  readonly clock?: Clock;
  readonly model?: Partial<Omit<OpenAIModelClientOptions, 'apiKey' | 'baseURL'>>;
  readonly executor?: ToolExecutorOptions;
  /** Code tools beside the built-in ones (an embedding application's own, a benchmark's). */
  readonly tools?: readonly Tool[];
  /** `false` for a process that only takes requests in; otherwise overrides of config.workers. */
  readonly worker?: false | WorkerSettings;
  /** How long to wait for Redis at start before giving up with a clear error. */
  readonly redisConnectTimeoutMs?: number;
}

export interface Steward {
  readonly service: ConversationService;
  readonly runner: AgentRunner;
  readonly registry: ToolRegistry;
  readonly model: ModelClient;
  readonly logger: Logger;
  readonly redact: Redactor;
  readonly channels: ChannelSettingsStore;
  readonly runs: RunStore;
  /** The /steward command router every platform shares. */
  readonly commands: CommandRouter;
  /** Redis answers: for readiness probes. */
  isReady(): Promise<boolean>;
  /** Stops taking work, lets in-flight runs finish or checkpoint within the grace period, disconnects. */
  close(): Promise<void>;
}

/** Every secret value the app knows: scrubbed from logs, the audit trail and tool output. */
export function stewardSecrets(env: Env, config: StewardConfig): string[] {
  const slack = env.slack ? [env.slack.botToken, env.slack.signingSecret, env.slack.appToken] : [];
  const discord = env.discord ? [env.discord.token] : [];
  return [
    env.openaiApiKey,
    ...slack,
    ...discord,
    ...config.tools.flatMap((tool) => tool.secretValues),
  ].filter((value): value is string => typeof value === 'string');
}

function platformList(ids: PlatformIds, platform: string): readonly string[] {
  return platform === 'slack' || platform === 'discord' ? ids[platform] : [];
}

/** A dollar limit cannot hold for a model without a price: say so at start, not after the bill. */
function warnAboutUnpricedModels(
  config: StewardConfig,
  agents: ReadonlyMap<string, AgentProfile>,
  env: Env,
  logger: Logger,
): void {
  const { defaults, prices } = config.budgets;
  const dollarLimits = Object.values(defaults).some(
    (limits) => limits.usdPerDay !== undefined || limits.usdPerMonth !== undefined,
  );
  if (!dollarLimits) return;
  const table = createPriceTable(prices);
  const models = new Set([
    ...[...agents.values()].flatMap((agent) => [
      agent.model,
      ...(agent.planner ? [agent.planner.model] : []),
    ]),
    config.sessions.summaryModel ?? env.openaiModel,
  ]);
  const unpriced = [...models].filter((name) => !table.has(name));
  if (unpriced.length > 0) {
    logger.warn(
      { models: unpriced },
      'budgets: these models have no price in budgets.prices, so dollar limits do not count them',
    );
  }
}

/** The composition root: the one place that knows every concrete class. */
export async function createSteward(options: StewardOptions): Promise<Steward> {
  const { env, config } = options;
  const redact = createRedactor(stewardSecrets(env, config));
  const logger =
    options.logger ??
    createLogger({
      level: options.logLevel ?? env.logLevel,
      redact,
      ...(options.logDestination ? { destination: options.logDestination } : {}),
    });
  const clock = options.clock ?? { now: () => Date.now() };

  const redis = createRedisConnection(env.redisUrl, { logger, name: 'steward', role: 'commands' });
  try {
    await waitUntilReady(redis, options.redisConnectTimeoutMs ?? 5_000);
  } catch (error) {
    redis.disconnect();
    throw error;
  }
  const keys = createKeys(env.redisPrefix);
  const runs = createRedisRunStore({ redis, keys, clock });
  const approvals = createRedisApprovalStore({ redis, keys, runs });
  const channels = createRedisChannelSettingsStore({ redis, keys });
  const notes = createRedisNotesStore({ redis, keys });

  const redisAudit = createRedisAuditSink({ redis, keys, logger });
  // Writes held back (budget settlements, buffered audit events) leave with the run's next state
  // write, in the same auto-pipelined write.
  const rider = createWriteRider({ maxDelayMs: 20 });
  const withHeldWritesFlushed =
    <A extends unknown[], R>(write: (...args: A) => R) =>
    (...args: A): R => {
      rider.flush();
      redisAudit.flushNow();
      return write(...args);
    };
  const redisBudgets = createRedisBudgetStore({
    redis,
    keys,
    defaults: config.budgets.defaults,
    costSpike: config.breakers.costSpike,
  });
  // Whatever reads usage (the front door, /steward budget) first sends the settlements still held,
  // so it never sees a finished call's reservation in place of what it used.
  const budgetStore = {
    ...redisBudgets,
    admit: withHeldWritesFlushed(redisBudgets.admit),
    report: withHeldWritesFlushed(redisBudgets.report),
  };
  const breakerStore = createRedisBreakerStore({
    redis,
    keys,
    errorRate: config.breakers.errorRate,
    costSpike: config.breakers.costSpike,
  });
  // Every model call (runs, sub-agents, the planner, session summaries) is charged to budgets.
  let breakers: Breakers | undefined;
  const model = createMeteredModelClient({
    inner: createOpenAIModelClient({
      apiKey: env.openaiApiKey,
      baseURL: env.openaiBaseUrl,
      clock,
      ...options.model,
    }),
    // Audit events recorded since the last write (a run's start) travel with the reservation.
    store: {
      ...budgetStore,
      reserve: withHeldWritesFlushed(budgetStore.reserve),
    },
    prices: createPriceTable(config.budgets.prices),
    clock,
    logger,
    defaultMaxCompletionTokens: DEFAULT_RUN_LIMITS.maxCompletionTokens,
    onCostSpike: (pause) => void breakers?.costSpiked(pause),
    deferSettlement: rider.defer,
  });
  const sessions = createRedisSessionStore({
    redis,
    keys,
    logger,
    tokenBudget: config.sessions.maxTokens,
    idleTtlSeconds: Math.ceil(config.sessions.expiresAfterMs / 1000),
    summarizer: createModelSummarizer({
      model,
      modelName: config.sessions.summaryModel ?? env.openaiModel,
      clock,
    }),
  });
  const agents = new Map<string, AgentProfile>(
    Object.values(config.agents).map((agent) => [
      agent.name,
      {
        name: agent.name,
        model: agent.model ?? env.openaiModel,
        instructions: agent.instructions,
        // Each delegate appears to the agent as an ask_<agent> tool.
        tools: [...agent.tools, ...agent.delegates.map((d) => delegateToolName(d.agent))],
        limits: agent.limits,
        delegates: agent.delegates,
        outputChecks: agent.outputChecks,
        ...(agent.planner ? { planner: agent.planner } : {}),
      },
    ]),
  );
  const delegateTargets = new Set(
    Object.values(config.agents).flatMap((agent) => agent.delegates.map((d) => d.agent)),
  );
  const registry = createToolRegistry([
    ...BUILT_IN_TOOLS,
    ...(options.tools ?? []),
    ...config.tools.map((tool) => createHttpTool(tool, { allowedHosts: config.http.allowedHosts })),
    ...[...delegateTargets].flatMap((name) => {
      const target = agents.get(name);
      return target ? [delegateTool(target)] : [];
    }),
  ]);
  const runner = createAgentRunner({
    model,
    registry,
    executor: createToolExecutor({ ...options.executor, clock }),
    audit: combineAuditSinks([createLogAuditSink(logger), redisAudit, ...(options.auditSinks ?? [])], logger),
    logger,
    agents,
    approvalTtlMs: config.approvals.expiresAfterMs,
    clock,
    redact,
    notes,
    // Audit events buffered since the last save go out in the same write as the checkpoint.
    checkpoints: { saveCheckpoint: withHeldWritesFlushed(runs.saveCheckpoint) },
    planner: createPlanner({ model }),
  });
  const queue = createRunQueue({ connection: redis, prefix: env.redisPrefix, logger });
  const surface =
    typeof options.surface === 'function'
      ? options.surface({ refs: createRedisMessageRefs({ redis, keys }), logger })
      : options.surface;
  breakers = createBreakers({
    store: breakerStore,
    surface,
    opsChannel: config.breakers.opsChannel,
    errorRate: config.breakers.errorRate,
    clock,
    logger,
  });
  warnAboutUnpricedModels(config, agents, env, logger);

  let worker: RunWorker | undefined;
  let timers: TimerSweeper | undefined;
  let workerRedis: ReturnType<typeof createRedisConnection> | undefined;
  if (options.worker !== false) {
    workerRedis = createRedisConnection(env.redisUrl, { logger, name: 'steward-worker', role: 'blocking' });
    const { timerSweepIntervalMs, ...overrides } = options.worker ?? {};
    const settings = {
      concurrency: config.workers.concurrency,
      graceMs: config.workers.shutdownGraceMs,
      ...overrides,
    };
    worker = createRunWorker({
      connection: workerRedis,
      commands: redis,
      prefix: env.redisPrefix,
      ...settings,
      logger,
      handler: createRunProcessor({
        runner,
        // A run's last audit events (run.ended) leave with the writes that end it.
        runs: { ...runs, transition: withHeldWritesFlushed(runs.transition) },
        approvals,
        sessions: { ...sessions, append: withHeldWritesFlushed(sessions.append) },
        channels,
        queue,
        surface,
        logger,
        clock,
        escalationMentions: (platform) => platformList(config.escalation.notify, platform),
        breakers,
      }),
    });
    await worker.ready();
    timers = createTimerSweeper({
      redis,
      prefix: env.redisPrefix,
      enqueue: (item) => queue.enqueue(item),
      logger,
      ...(timerSweepIntervalMs === undefined ? {} : { sweepIntervalMs: timerSweepIntervalMs }),
    });
    timers.start();
  }

  const approverRules = (platform: string): ApproverRules => {
    // The console is one person at their own terminal: they are the operator and the approver.
    if (platform === 'console') return { approvers: [], allowSelfApproval: true, anyone: true };
    const approvers =
      platform === 'slack' || platform === 'discord' ? config.approvals.approvers[platform] : [];
    return { approvers, allowSelfApproval: config.approvals.allowSelfApproval };
  };
  const service = createConversationService({
    surface,
    runs,
    approvals,
    dedupe: createRedisEventDedupe({ redis, keys }),
    channels,
    flags: createRedisConversationFlagsStore({ redis, keys }),
    queue,
    logger,
    clock,
    admins: (platform) => platformList(config.admins, platform),
    defaultAgent: config.defaultAgent,
    agents: new Set(agents.keys()),
    maxInputChars: config.limits.maxInputChars,
    approverRules,
    budgets: { store: budgetStore, userMessagesPerMinute: config.budgets.userMessagesPerMinute },
  });

  return {
    service,
    runner,
    registry,
    model,
    logger,
    redact,
    channels,
    runs,
    commands: createStewardCommandRouter({
      runs,
      channels,
      audit: createRedisAuditReader({ redis, keys }),
      admins: (platform) => platformList(config.admins, platform),
      defaultAgent: config.defaultAgent,
      agentTools: (agent) => agents.get(agent)?.tools ?? [],
      changes: createRedisAdminAudit({ redis, keys }),
      budgets: { store: budgetStore, breakerStore, breakers },
      clock,
      logger,
    }),
    isReady: async () => {
      try {
        return (await redis.ping()) === 'PONG';
      } catch {
        return false;
      }
    },
    async close() {
      await timers?.close();
      await worker?.close();
      rider.flush();
      await queue.close();
      await redisAudit.flush();
      for (const connection of [workerRedis, redis])
        await connection?.quit().catch(() => connection.disconnect());
    },
  };
}
