/**
 * The shape of steward.yaml. Objects are strict so a typo (`tool:` for `tools:`) is an error
 * rather than a silently ignored key. Every message is phrased as "what was expected" because
 * config-errors.ts prefixes the key path and appends the value that was found.
 * Cross-field rules (tool references, allowed hosts, placeholders) live in config-file.ts.
 */
import { z } from 'zod';
import {
  DEFAULT_BREAKERS,
  DEFAULT_BUDGETS,
  DEFAULT_MAX_INPUT_CHARS,
  DEFAULT_TOOL_TIMEOUT_MS,
} from '../core/limits.ts';

export const HTTP_METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'] as const;
export const TOOL_CATEGORIES = ['lookup', 'search', 'mutation', 'escalation', 'delegation'] as const;
export const TOOL_RISKS = ['read', 'write', 'destructive'] as const;
export const APPROVAL_MODES = ['required', 'never'] as const;

/** OpenAI's function name rule; tools are exposed to the model under these names. */
export const TOOL_NAME_PATTERN = /^[a-zA-Z0-9_-]{1,64}$/;

export const DEFAULT_SESSION_MAX_TOKENS = 8_000;
export const DEFAULT_WORKER_CONCURRENCY = 4;

const DURATION_PATTERN = /^([1-9]\d*)(ms|s|m|h|d)$/;
const DURATION_UNIT_MS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** `30s` -> 30000. Undefined for anything the schema would have rejected. */
export function parseDuration(text: string): number | undefined {
  const match = DURATION_PATTERN.exec(text);
  const unit = match?.[2];
  if (match === null || unit === undefined) return undefined;
  return Number(match[1]) * (DURATION_UNIT_MS[unit] ?? Number.NaN);
}

const oneOf = (values: readonly string[]): string => `one of ${values.join(', ')}`;

function text(what: string) {
  return z.string({ error: what }).trim().min(1, { error: what });
}

const POSITIVE_INT = 'a whole number ≥ 1';
function positiveInt() {
  return z.number({ error: POSITIVE_INT }).int({ error: POSITIVE_INT }).min(1, { error: POSITIVE_INT });
}

const AMOUNT = 'a number ≥ 0, such as 20000 or 12.5';
function amount() {
  // zod's number already refuses NaN and ±Infinity.
  return z.number({ error: AMOUNT }).min(0, { error: AMOUNT });
}

const WHOLE_AMOUNT = 'a whole number ≥ 0';
function wholeAmount() {
  return z.number({ error: WHOLE_AMOUNT }).int({ error: WHOLE_AMOUNT }).min(0, { error: WHOLE_AMOUNT });
}

const scopeLimitsSchema = z
  .strictObject(
    {
      tokensPerDay: wholeAmount().optional(),
      tokensPerMonth: wholeAmount().optional(),
      usdPerDay: amount().optional(),
      usdPerMonth: amount().optional(),
    },
    { error: 'a mapping of limits (tokensPerDay, tokensPerMonth, usdPerDay, usdPerMonth)' },
  )
  .prefault({});

const budgetsSchema = z
  .strictObject(
    {
      prices: z
        .record(
          z.string(),
          z.strictObject(
            { prompt: amount(), completion: amount() },
            { error: 'a mapping with prompt and completion (USD per million tokens)' },
          ),
          { error: 'a mapping of model names to prices' },
        )
        .default({}),
      channel: scopeLimitsSchema,
      workspace: scopeLimitsSchema,
      user: scopeLimitsSchema,
      userMessagesPerMinute: positiveInt().default(DEFAULT_BUDGETS.userMessagesPerMinute),
    },
    { error: 'a mapping with prices, channel, workspace, user, userMessagesPerMinute' },
  )
  .prefault({});

const FRACTION = 'a number between 0 and 1, such as 0.2';
const breakersSchema = z
  .strictObject(
    {
      errorRate: z
        .strictObject(
          {
            threshold: z
              .number({ error: FRACTION })
              .min(0, { error: FRACTION })
              .max(1, { error: FRACTION })
              .default(DEFAULT_BREAKERS.errorRateThreshold),
            window: duration().default('5m'),
            minRuns: positiveInt().default(DEFAULT_BREAKERS.errorRateMinRuns),
          },
          { error: 'a mapping with threshold, window, minRuns' },
        )
        .prefault({}),
      costSpike: z
        .strictObject(
          {
            factor: z
              .number({ error: 'a number > 1, such as 2' })
              .gt(1, { error: 'a number > 1, such as 2' })
              .default(DEFAULT_BREAKERS.costSpikeFactor),
            baselineHours: positiveInt().default(DEFAULT_BREAKERS.costSpikeBaselineHours),
            minHourlyUsd: amount().default(DEFAULT_BREAKERS.costSpikeMinHourlyUsd),
          },
          { error: 'a mapping with factor, baselineHours, minHourlyUsd' },
        )
        .prefault({}),
      opsChannel: z
        .strictObject(
          {
            platform: z.enum(['slack', 'discord'], { error: 'one of slack, discord' }),
            channel: text('a channel ID such as C0123ABC, or a Discord channel ID in quotes'),
          },
          { error: 'a mapping with platform and channel' },
        )
        .optional(),
    },
    { error: 'a mapping with errorRate, costSpike, opsChannel' },
  )
  .prefault({});

function list<T extends z.ZodType>(item: T, what: string) {
  return z.array(item, { error: what }).default([]);
}

const limitsSchema = z
  .strictObject(
    {
      maxIterations: positiveInt().optional(),
      maxTokens: positiveInt().optional(),
      maxRepeatedCalls: positiveInt().optional(),
      maxConsecutiveFailures: positiveInt().optional(),
      timeoutMs: positiveInt().optional(),
      maxDelegationDepth: positiveInt().optional(),
      maxCompletionTokens: positiveInt().optional(),
    },
    { error: 'a mapping of run limits (maxIterations, maxTokens, maxRepeatedCalls, ...)' },
  )
  .prefault({});

const agentSchema = z.strictObject(
  {
    model: text('a model name such as gpt-4.1-mini').optional(),
    instructions: text("the agent's instructions as non-empty text"),
    tools: list(text('a tool name'), 'a list of tool names'),
    limits: limitsSchema,
    delegates: list(
      z.union(
        [
          text('an agent name'),
          z.strictObject({
            agent: text('an agent name'),
            requiresApproval: z.boolean({ error: 'true or false' }).default(false),
          }),
        ],
        { error: 'an agent name, or { agent, requiresApproval }' },
      ),
      'a list of agent names',
    ),
    planner: z.strictObject({ model: text('a model name') }, { error: 'a mapping with model' }).optional(),
    outputChecks: z
      .strictObject(
        {
          identifiers: list(
            z.strictObject(
              { name: text('a name such as "order number"'), pattern: text('a regular expression') },
              { error: 'a mapping with name and pattern' },
            ),
            'a list of identifier patterns',
          ),
        },
        { error: 'a mapping with identifiers' },
      )
      .prefault({}),
  },
  {
    error:
      'a mapping with instructions (and optionally model, tools, limits, delegates, planner, outputChecks)',
  },
);

const JSON_SCHEMA = 'a JSON Schema such as { type: string }';
const inputSchema = z
  .looseObject(
    {
      type: z.literal('object', { error: '"object" (a tool always takes an object)' }).default('object'),
      properties: z
        .record(z.string(), z.record(z.string(), z.unknown(), { error: JSON_SCHEMA }), {
          error: 'a mapping of property names to JSON Schemas',
        })
        .default({}),
      required: z
        .array(z.string({ error: 'a property name' }), { error: 'a list of property names' })
        .optional(),
    },
    { error: 'a JSON Schema object with type: object and properties' },
  )
  .prefault({});

const toolSchema = z.strictObject(
  {
    name: z
      .string({ error: 'a tool name' })
      .regex(TOOL_NAME_PATTERN, { error: '1 to 64 letters, digits, _ or - (the OpenAI function name rule)' }),
    description: text('a non-empty description of what the tool does'),
    whenToUse: text('non-empty text saying when the model should use the tool'),
    whenNotToUse: text('non-empty text saying when the model should not use the tool'),
    method: z.enum(HTTP_METHODS, { error: oneOf(HTTP_METHODS) }).default('GET'),
    // Checked in config-file.ts, which can also say whether the host is allowed.
    url: z.string({ error: 'an http:// or https:// URL' }),
    input: inputSchema,
    headers: z
      .record(z.string(), z.string({ error: 'a string (put numbers in quotes)' }), {
        error: 'a mapping of header names to values',
      })
      .default({}),
    category: z.enum(TOOL_CATEGORIES, { error: oneOf(TOOL_CATEGORIES) }).optional(),
    risk: z.enum(TOOL_RISKS, { error: oneOf(TOOL_RISKS) }).default('read'),
    approval: z.enum(APPROVAL_MODES, { error: oneOf(APPROVAL_MODES) }).optional(),
    idempotent: z.boolean({ error: 'true or false' }).optional(),
    timeoutMs: positiveInt().default(DEFAULT_TOOL_TIMEOUT_MS),
    retry: z.strictObject({ maxAttempts: positiveInt() }, { error: 'a mapping with maxAttempts' }).optional(),
  },
  { error: 'a mapping describing an HTTP tool (name, description, whenToUse, whenNotToUse, url, ...)' },
);

const HOST = 'a host or host:port without a scheme, such as shop.example.com';
const SLACK_ID = 'a Slack user or user-group ID such as U012ABC';
// Unquoted Discord IDs become YAML numbers that have already lost digits, so insist on strings.
const DISCORD_ID = 'a Discord ID in quotes, such as "123456789012345678"';

const platformIds = z
  .strictObject(
    {
      slack: list(
        z.string({ error: SLACK_ID }).regex(/^[A-Z0-9]+$/, { error: SLACK_ID }),
        'a list of Slack IDs',
      ),
      discord: list(
        z.string({ error: DISCORD_ID }).regex(/^\d{17,20}$/, { error: DISCORD_ID }),
        'a list of Discord IDs',
      ),
    },
    { error: 'a mapping with slack and discord ID lists' },
  )
  .prefault({});

export const configSchema = z.strictObject(
  {
    defaultAgent: text('the name of an agent').optional(),
    agents: z.record(z.string(), agentSchema, { error: 'a mapping of agent names to agents' }),
    tools: list(toolSchema, 'a list of HTTP tools'),
    http: z
      .strictObject(
        {
          allowedHosts: list(
            z
              .string({ error: HOST })
              .regex(/^([a-zA-Z0-9.-]+|\[[0-9a-fA-F:.]+\])(:\d{1,5})?$/, { error: HOST }),
            'a list of hosts',
          ),
        },
        { error: 'a mapping with allowedHosts' },
      )
      .prefault({}),
    approvals: z
      .strictObject(
        {
          approvers: platformIds,
          expiresAfter: z
            .string({ error: 'a duration such as 30s, 15m, 2h or 1d' })
            .regex(DURATION_PATTERN, { error: 'a duration such as 30s, 15m, 2h or 1d' })
            .default('15m'),
          allowSelfApproval: z.boolean({ error: 'true or false' }).default(false),
        },
        { error: 'a mapping with approvers, expiresAfter, allowSelfApproval' },
      )
      .prefault({}),
    admins: platformIds,
    escalation: z.strictObject({ notify: platformIds }, { error: 'a mapping with notify' }).prefault({}),
    limits: z
      .strictObject(
        { maxInputChars: positiveInt().default(DEFAULT_MAX_INPUT_CHARS) },
        { error: 'a mapping with maxInputChars' },
      )
      .prefault({}),
    sessions: z
      .strictObject(
        {
          maxTokens: positiveInt().default(DEFAULT_SESSION_MAX_TOKENS),
          expiresAfter: duration().default('7d'),
          summaryModel: text('a model name').optional(),
        },
        { error: 'a mapping with maxTokens, expiresAfter, summaryModel' },
      )
      .prefault({}),
    budgets: budgetsSchema,
    breakers: breakersSchema,
    workers: z
      .strictObject(
        {
          concurrency: positiveInt().default(DEFAULT_WORKER_CONCURRENCY),
          shutdownGrace: duration().default('10s'),
        },
        { error: 'a mapping with concurrency and shutdownGrace' },
      )
      .prefault({}),
  },
  {
    error:
      'a mapping with agents (and optionally defaultAgent, tools, http, approvals, admins, escalation, limits, sessions, budgets, breakers, workers)',
  },
);

function duration() {
  return z
    .string({ error: 'a duration such as 30s, 15m, 2h or 1d' })
    .regex(DURATION_PATTERN, { error: 'a duration such as 30s, 15m, 2h or 1d' });
}

export type RawConfig = z.output<typeof configSchema>;
export type RawTool = RawConfig['tools'][number];
