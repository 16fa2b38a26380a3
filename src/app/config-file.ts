/**
 * steward.yaml: agents, declarative HTTP tools and who may approve what. Parsing is pure and
 * reports every problem it can find at once, one line each, naming the key path.
 */
import { readFileSync } from 'node:fs';
import { parseDocument } from 'yaml';
import { type DefaultLimits, LIMIT_KEYS, NO_LIMITS, type ScopeLimits } from '../core/budget/budget.ts';
import type { CostSpikeSettings, ErrorRateSettings } from '../core/budget/budget-store.ts';
import type { ModelPrice } from '../core/budget/pricing.ts';
import type { ConversationRef } from '../core/conversation.ts';
import { ConfigError, toError } from '../core/errors.ts';
import {
  DEFAULT_BREAKERS,
  DEFAULT_BUDGETS,
  DEFAULT_MAX_INPUT_CHARS,
  DEFAULT_RUN_LIMITS,
  type RunLimits,
} from '../core/limits.ts';
import { formatPath, formatSchemaIssues, formatYamlError } from './config-errors.ts';
import {
  configSchema,
  DEFAULT_SESSION_MAX_TOKENS,
  DEFAULT_WORKER_CONCURRENCY,
  parseDuration,
  type RawConfig,
} from './config-schema.ts';
import { type HttpToolConfig, resolveTools, unknownToolMessage } from './config-tools.ts';

export type { ApprovalMode, HttpMethod, HttpToolConfig, ToolCategory, ToolRisk } from './config-tools.ts';

export interface DelegateConfig {
  agent: string;
  /** The hand-off itself needs a person's approval. */
  requiresApproval: boolean;
}

export interface IdentifierCheck {
  /** What people call it ("order number"), for messages and the audit trail. */
  name: string;
  pattern: string;
}

export interface AgentConfig {
  name: string;
  /** Agents this one may hand work to, each shown to it as an `ask_<agent>` tool. */
  delegates: DelegateConfig[];
  /** A cheaper model that plans each step (plan–execute–observe); absent: no planning. */
  planner?: { model: string };
  /** Identifiers that must come from a tool result; one in the answer that none returned is fabricated. */
  outputChecks: { identifiers: IdentifierCheck[] };
  /** Falls back to OPENAI_MODEL when absent. */
  model?: string;
  instructions: string;
  tools: string[];
  limits: RunLimits;
}

export interface PlatformIds {
  slack: string[];
  discord: string[];
}

export interface StewardConfig {
  defaultAgent: string;
  agents: Record<string, AgentConfig>;
  tools: HttpToolConfig[];
  http: { allowedHosts: string[] };
  approvals: { approvers: PlatformIds; expiresAfterMs: number; allowSelfApproval: boolean };
  admins: PlatformIds;
  /** Who an escalation card pings (user ids, Slack user groups, Discord roles). */
  escalation: { notify: PlatformIds };
  limits: { maxInputChars: number };
  /** Conversation history: compacted past maxTokens by summaryModel; idle sessions expire. */
  sessions: { maxTokens: number; expiresAfterMs: number; summaryModel?: string };
  workers: { concurrency: number; shutdownGraceMs: number };
  /** Default limits per scope kind (admins override per scope), prices, and the per-person rate. */
  budgets: { prices: Record<string, ModelPrice>; defaults: DefaultLimits; userMessagesPerMinute: number };
  /** System-wide breakers and where their alerts go (null: alerts are logged only). */
  breakers: {
    errorRate: ErrorRateSettings;
    costSpike: CostSpikeSettings;
    opsChannel: ConversationRef | null;
  };
}

export const DEFAULT_BUDGETS_CONFIG: StewardConfig['budgets'] = {
  prices: {},
  defaults: NO_LIMITS,
  userMessagesPerMinute: DEFAULT_BUDGETS.userMessagesPerMinute,
};

export const DEFAULT_BREAKERS_CONFIG: StewardConfig['breakers'] = {
  errorRate: {
    threshold: DEFAULT_BREAKERS.errorRateThreshold,
    windowMs: DEFAULT_BREAKERS.errorRateWindowMs,
    minRuns: DEFAULT_BREAKERS.errorRateMinRuns,
  },
  costSpike: {
    factor: DEFAULT_BREAKERS.costSpikeFactor,
    baselineHours: DEFAULT_BREAKERS.costSpikeBaselineHours,
    minHourlyUsd: DEFAULT_BREAKERS.costSpikeMinHourlyUsd,
  },
  opsChannel: null,
};

export interface ParseConfigOptions {
  /** Source of `${VAR}` values in tool headers. */
  env: Record<string, string | undefined>;
  /** Names the problems are reported under; usually the file path. */
  source?: string;
  /** Names of tools implemented in code, which agents may list and HTTP tools must not reuse. */
  builtInTools?: readonly string[];
}

export interface LoadConfigOptions extends Omit<ParseConfigOptions, 'source'> {
  /** True when the path is the default, so running without a config file still works. */
  allowMissing: boolean;
}

const DEFAULT_EXPIRES_AFTER_MS = 15 * 60_000;
const DAY_MS = 86_400_000;

/** Used when no config file exists: a plain assistant that can hand off to a person. */
export const BUILT_IN_CONFIG: StewardConfig = {
  defaultAgent: 'assistant',
  agents: {
    assistant: {
      name: 'assistant',
      instructions: [
        "You are Steward, a helpful assistant in the team's chat.",
        'Answer clearly and briefly. When you cannot help, or a person should decide,',
        'use escalate_to_human.',
      ].join(' '),
      tools: ['escalate_to_human'],
      limits: { ...DEFAULT_RUN_LIMITS },
      delegates: [],
      outputChecks: { identifiers: [] },
    },
  },
  tools: [],
  http: { allowedHosts: [] },
  approvals: {
    approvers: { slack: [], discord: [] },
    expiresAfterMs: DEFAULT_EXPIRES_AFTER_MS,
    allowSelfApproval: false,
  },
  admins: { slack: [], discord: [] },
  escalation: { notify: { slack: [], discord: [] } },
  limits: { maxInputChars: DEFAULT_MAX_INPUT_CHARS },
  sessions: { maxTokens: DEFAULT_SESSION_MAX_TOKENS, expiresAfterMs: 7 * DAY_MS },
  workers: { concurrency: DEFAULT_WORKER_CONCURRENCY, shutdownGraceMs: 10_000 },
  budgets: DEFAULT_BUDGETS_CONFIG,
  breakers: DEFAULT_BREAKERS_CONFIG,
};

/**
 * YAML writes an empty value (`tools:` with nothing under it) as null; treating that like an
 * absent key means defaults apply and required keys read as "missing". Tool input schemas are
 * left alone because null can be meaningful in JSON Schema.
 */
function dropNullKeys(value: unknown, path: readonly PropertyKey[] = []): unknown {
  if (path.length === 3 && path[0] === 'tools' && path[2] === 'input') return value;
  if (Array.isArray(value)) return value.map((item, i) => dropNullKeys(item, [...path, i]));
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) {
    if (item !== null) out[key] = dropNullKeys(item, [...path, key]);
  }
  return out;
}

function readYaml(yamlText: string, source: string): unknown {
  const doc = parseDocument(yamlText);
  if (doc.errors.length > 0) throw new ConfigError(source, doc.errors.map(formatYamlError));
  try {
    return doc.toJS();
  } catch (error) {
    // toJS throws only for alias abuse (e.g. exponential "billion laughs" expansion).
    throw new ConfigError(source, [toError(error).message]);
  }
}

function resolveLimits(limits: RawConfig['agents'][string]['limits']): RunLimits {
  return {
    maxIterations: limits.maxIterations ?? DEFAULT_RUN_LIMITS.maxIterations,
    maxTokens: limits.maxTokens ?? DEFAULT_RUN_LIMITS.maxTokens,
    maxRepeatedCalls: limits.maxRepeatedCalls ?? DEFAULT_RUN_LIMITS.maxRepeatedCalls,
    maxConsecutiveFailures: limits.maxConsecutiveFailures ?? DEFAULT_RUN_LIMITS.maxConsecutiveFailures,
    timeoutMs: limits.timeoutMs ?? DEFAULT_RUN_LIMITS.timeoutMs,
    maxDelegationDepth: limits.maxDelegationDepth ?? DEFAULT_RUN_LIMITS.maxDelegationDepth,
    maxCompletionTokens: limits.maxCompletionTokens ?? DEFAULT_RUN_LIMITS.maxCompletionTokens,
  };
}

function resolveAgents(
  raw: RawConfig,
  knownTools: readonly string[],
  problems: string[],
): Record<string, AgentConfig> {
  const agents: Record<string, AgentConfig> = {};
  for (const [name, agent] of Object.entries(raw.agents)) {
    agent.tools.forEach((tool, i) => {
      if (!knownTools.includes(tool)) {
        problems.push(`${formatPath(['agents', name, 'tools', i])}: ${unknownToolMessage(tool, knownTools)}`);
      }
    });
    const delegates = agent.delegates.map((entry) =>
      typeof entry === 'string' ? { agent: entry, requiresApproval: false } : entry,
    );
    delegates.forEach((delegate, i) => {
      const at = formatPath(['agents', name, 'delegates', i]);
      if (delegate.agent === name) problems.push(`${at}: an agent cannot delegate to itself`);
      else if (!(delegate.agent in raw.agents)) {
        problems.push(
          `${at}: expected one of the agents (${Object.keys(raw.agents).join(', ')}), got ${JSON.stringify(delegate.agent)}`,
        );
      }
    });
    agent.outputChecks.identifiers.forEach((check, i) => {
      try {
        new RegExp(check.pattern, 'g');
      } catch (error) {
        problems.push(
          `${formatPath(['agents', name, 'outputChecks', 'identifiers', i, 'pattern'])}: not a valid regular expression (${toError(error).message})`,
        );
      }
    });
    const resolved: AgentConfig = {
      name,
      instructions: agent.instructions,
      // Listing a tool twice is harmless; the model should still see it once.
      tools: [...new Set(agent.tools)],
      limits: resolveLimits(agent.limits),
      delegates,
      outputChecks: { identifiers: agent.outputChecks.identifiers },
    };
    if (agent.model !== undefined) resolved.model = agent.model;
    if (agent.planner !== undefined) resolved.planner = agent.planner;
    agents[name] = resolved;
  }
  return agents;
}

function resolveDefaultAgent(raw: RawConfig, problems: string[]): string {
  const names = Object.keys(raw.agents);
  if (names.length === 0) {
    problems.push('agents: expected at least one agent, such as assistant: { instructions: ... }');
    return '';
  }
  if (raw.defaultAgent === undefined) {
    if (names.length === 1) return names[0] ?? '';
    problems.push(
      `defaultAgent: missing; expected one of ${names.join(', ')} (required with several agents)`,
    );
    return '';
  }
  if (!names.includes(raw.defaultAgent)) {
    problems.push(
      `defaultAgent: expected one of ${names.join(', ')}, got ${JSON.stringify(raw.defaultAgent)}`,
    );
  }
  return raw.defaultAgent;
}

/** Parses and validates config text; throws ConfigError listing every problem found. */
export function parseConfig(yamlText: string, options: ParseConfigOptions): StewardConfig {
  const source = options.source ?? 'config';
  const builtInTools = options.builtInTools ?? [];
  const document = dropNullKeys(readYaml(yamlText, source));
  const parsed = configSchema.safeParse(document ?? {});
  if (!parsed.success) {
    throw new ConfigError(source, formatSchemaIssues(parsed.error.issues, document, configSchema));
  }
  const raw = parsed.data;

  // Cross-field rules run only on a well-formed document, so they can trust the types.
  const problems: string[] = [];
  const defaultAgent = resolveDefaultAgent(raw, problems);
  const tools = resolveTools(
    raw.tools,
    { env: options.env, builtInTools, allowedHosts: raw.http.allowedHosts },
    problems,
  );
  const knownTools = [...new Set([...builtInTools, ...raw.tools.map((tool) => tool.name)])];
  const agents = resolveAgents(raw, knownTools, problems);
  if (problems.length > 0) throw new ConfigError(source, problems);

  return {
    defaultAgent,
    agents,
    tools,
    http: { allowedHosts: raw.http.allowedHosts },
    approvals: {
      approvers: { slack: raw.approvals.approvers.slack, discord: raw.approvals.approvers.discord },
      expiresAfterMs: parseDuration(raw.approvals.expiresAfter) ?? DEFAULT_EXPIRES_AFTER_MS,
      allowSelfApproval: raw.approvals.allowSelfApproval,
    },
    admins: { slack: raw.admins.slack, discord: raw.admins.discord },
    escalation: { notify: { slack: raw.escalation.notify.slack, discord: raw.escalation.notify.discord } },
    limits: { maxInputChars: raw.limits.maxInputChars },
    sessions: {
      maxTokens: raw.sessions.maxTokens,
      expiresAfterMs: parseDuration(raw.sessions.expiresAfter) ?? 7 * DAY_MS,
      ...(raw.sessions.summaryModel ? { summaryModel: raw.sessions.summaryModel } : {}),
    },
    workers: {
      concurrency: raw.workers.concurrency,
      shutdownGraceMs: parseDuration(raw.workers.shutdownGrace) ?? 10_000,
    },
    budgets: {
      prices: raw.budgets.prices,
      defaults: {
        channel: definedLimits(raw.budgets.channel),
        workspace: definedLimits(raw.budgets.workspace),
        user: definedLimits(raw.budgets.user),
      },
      userMessagesPerMinute: raw.budgets.userMessagesPerMinute,
    },
    breakers: {
      errorRate: {
        threshold: raw.breakers.errorRate.threshold,
        windowMs: parseDuration(raw.breakers.errorRate.window) ?? DEFAULT_BREAKERS.errorRateWindowMs,
        minRuns: raw.breakers.errorRate.minRuns,
      },
      costSpike: raw.breakers.costSpike,
      opsChannel: raw.breakers.opsChannel
        ? {
            platform: raw.breakers.opsChannel.platform,
            tenantId: '-',
            channelId: raw.breakers.opsChannel.channel,
            threadId: null,
          }
        : null,
    },
  };
}

/** YAML leaves absent keys out, but zod's output type allows undefined values: drop them. */
function definedLimits(limits: RawConfig['budgets']['channel']): ScopeLimits {
  const out: ScopeLimits = {};
  for (const key of LIMIT_KEYS) {
    const value = limits[key];
    if (value !== undefined) out[key] = value;
  }
  return out;
}

function isMissingFile(error: unknown): boolean {
  return error instanceof Error && 'code' in error && error.code === 'ENOENT';
}

/**
 * Reads and parses the config file. A missing file falls back to BUILT_IN_CONFIG only when the
 * caller allows it (the path was not chosen explicitly); a path someone set must exist.
 */
export function loadConfigFile(path: string, options: LoadConfigOptions): StewardConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    if (!isMissingFile(error)) {
      throw new ConfigError(path, [`could not be read: ${toError(error).message}`]);
    }
    if (options.allowMissing) return structuredClone(BUILT_IN_CONFIG);
    throw new ConfigError('STEWARD_CONFIG', [
      `${path} does not exist: create it (see steward.example.yaml) or set STEWARD_CONFIG to the right path`,
    ]);
  }
  const parseOptions: ParseConfigOptions = { env: options.env, source: path };
  if (options.builtInTools !== undefined) parseOptions.builtInTools = options.builtInTools;
  return parseConfig(text, parseOptions);
}
