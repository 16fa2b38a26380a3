import type { DestinationStream } from 'pino';
import { createHttpTool } from '../../tools/http-tool.ts';
import { BUILT_IN_TOOLS } from '../../tools/index.ts';
import type { AgentProfile } from '../core/agent-profile.ts';
import { type AgentRunner, createAgentRunner } from '../core/agent-runner.ts';
import {
  type ConversationService,
  createConversationService,
  type Surface,
} from '../core/conversation-service.ts';
import type { AuditSink, Clock, Logger, ModelClient } from '../core/ports.ts';
import { createRedactor, type Redactor } from '../core/redaction.ts';
import { createToolExecutor, type ToolExecutorOptions } from '../core/tools/tool-executor.ts';
import { createToolRegistry, type ToolRegistry } from '../core/tools/tool-registry.ts';
import { createOpenAIModelClient, type OpenAIModelClientOptions } from '../llm/openai-model-client.ts';
import type { ApproverRules } from '../policy/approvers.ts';
import {
  createMemoryEventDedupe,
  createMemoryRunStore,
  createMemorySessionStore,
} from '../state/memory-stores.ts';
import { combineAuditSinks, createLogAuditSink } from './audit-sinks.ts';
import type { StewardConfig } from './config-file.ts';
import type { Env, LogLevel } from './env.ts';
import { createLogger } from './logger.ts';

export interface StewardOptions {
  readonly env: Env;
  readonly config: StewardConfig;
  readonly surface: Surface;
  /** Where log lines go (default stdout) and from which level (default LOG_LEVEL). */
  readonly logDestination?: DestinationStream;
  readonly logLevel?: LogLevel;
  /** Extra audit sinks beside the log (the console's activity view, a test's recorder). */
  readonly auditSinks?: readonly AuditSink[];
  readonly clock?: Clock;
  readonly model?: Partial<Omit<OpenAIModelClientOptions, 'apiKey' | 'baseURL'>>;
  readonly executor?: ToolExecutorOptions;
}

export interface Steward {
  readonly service: ConversationService;
  readonly runner: AgentRunner;
  readonly registry: ToolRegistry;
  readonly model: ModelClient;
  readonly logger: Logger;
  readonly redact: Redactor;
}

/** The composition root: the one place that knows every concrete class. */
export function createSteward(options: StewardOptions): Steward {
  const { env, config } = options;
  const redact = createRedactor([env.openaiApiKey, ...config.tools.flatMap((tool) => tool.secretValues)]);
  const logger = createLogger({
    level: options.logLevel ?? env.logLevel,
    redact,
    ...(options.logDestination ? { destination: options.logDestination } : {}),
  });
  const clock = options.clock ?? { now: () => Date.now() };

  const registry = createToolRegistry([
    ...BUILT_IN_TOOLS,
    ...config.tools.map((tool) => createHttpTool(tool, { allowedHosts: config.http.allowedHosts })),
  ]);
  const agents = new Map<string, AgentProfile>(
    Object.values(config.agents).map((agent) => [
      agent.name,
      {
        name: agent.name,
        model: agent.model ?? env.openaiModel,
        instructions: agent.instructions,
        tools: agent.tools,
        limits: agent.limits,
      },
    ]),
  );
  const model = createOpenAIModelClient({
    apiKey: env.openaiApiKey,
    baseURL: env.openaiBaseUrl,
    clock,
    ...options.model,
  });
  const runner = createAgentRunner({
    model,
    registry,
    executor: createToolExecutor({ ...options.executor, clock }),
    audit: combineAuditSinks([createLogAuditSink(logger), ...(options.auditSinks ?? [])], logger),
    logger,
    agents,
    approvalTtlMs: config.approvals.expiresAfterMs,
    clock,
    redact,
  });
  const approverRules = (platform: string): ApproverRules => {
    // The console is one person at their own terminal: they are the operator and the approver.
    if (platform === 'console') return { approvers: [], allowSelfApproval: true, anyone: true };
    const approvers =
      platform === 'slack' || platform === 'discord' ? config.approvals.approvers[platform] : [];
    return { approvers, allowSelfApproval: config.approvals.allowSelfApproval };
  };
  const service = createConversationService({
    runner,
    surface: options.surface,
    sessions: createMemorySessionStore(),
    runs: createMemoryRunStore(),
    dedupe: createMemoryEventDedupe(),
    logger,
    defaultAgent: config.defaultAgent,
    maxInputChars: config.limits.maxInputChars,
    approverRules,
    clock,
  });
  return { service, runner, registry, model, logger, redact };
}
