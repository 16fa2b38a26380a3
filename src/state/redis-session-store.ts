import type { Redis } from 'ioredis';
import type { ChargeTo } from '../core/budget/budget.ts';
import { isRecord } from '../core/is-record.ts';
import type { ChatMessage } from '../core/messages.ts';
import { type Clock, type Logger, type ModelClient, systemClock } from '../core/ports.ts';
import type { SessionStore } from '../core/stores.ts';
import { defineScript, wrapUnavailable } from './redis-connection.ts';
import type { RedisKeys } from './redis-keys.ts';

/** Condenses the older part of a conversation into a short text; usually a model call. */
export interface Summarizer {
  /** `charge` names whose budget pays for the summary (the conversation and the person who asked). */
  summarize(messages: readonly ChatMessage[], charge?: ChargeTo): Promise<string>;
}

export type TokenEstimator = (messages: readonly ChatMessage[]) => number;

export interface RedisSessionStoreOptions {
  readonly redis: Redis;
  readonly keys: RedisKeys;
  readonly summarizer: Summarizer;
  /** Estimated tokens the stored history may reach before it is compacted. */
  readonly tokenBudget?: number;
  /** A conversation nobody touched for this long is forgotten. */
  readonly idleTtlSeconds?: number;
  readonly estimateTokens?: TokenEstimator;
  /** Where a failed compaction is reported; the messages are stored either way. */
  readonly logger?: Logger;
}

export const SUMMARY_PREFIX = 'Summary of the earlier conversation: ';

const DEFAULT_TOKEN_BUDGET = 8_000;
const DEFAULT_IDLE_TTL_SECONDS = 7 * 24 * 60 * 60;
const MESSAGE_OVERHEAD_TOKENS = 4;

/** A cheap, model-free estimate: about four characters per token, plus a little per message. */
export function estimateTokens(messages: readonly ChatMessage[]): number {
  let total = 0;
  for (const message of messages) {
    let chars = message.content?.length ?? 0;
    if (message.role === 'assistant') {
      for (const call of message.toolCalls ?? []) chars += call.name.length + call.arguments.length;
    }
    total += Math.ceil(chars / 4) + MESSAGE_OVERHEAD_TOKENS;
  }
  return total;
}

// KEYS: the list. ARGV: count read, first item read, last item read, ttl, then the new items.
// Replaces the first `count` items only if they are still the ones the summary was made from, and
// keeps anything appended meanwhile; a concurrent compaction makes this one a no-op.
const REPLACE_SCRIPT = `
local n = tonumber(ARGV[1])
if redis.call('LLEN', KEYS[1]) < n then return 0 end
if redis.call('LINDEX', KEYS[1], 0) ~= ARGV[2] or redis.call('LINDEX', KEYS[1], n - 1) ~= ARGV[3] then
  return 0
end
local tail = redis.call('LRANGE', KEYS[1], n, -1)
redis.call('DEL', KEYS[1])
for i = 5, #ARGV, 500 do redis.call('RPUSH', KEYS[1], unpack(ARGV, i, math.min(i + 499, #ARGV))) end
for i = 1, #tail, 500 do redis.call('RPUSH', KEYS[1], unpack(tail, i, math.min(i + 499, #tail))) end
redis.call('EXPIRE', KEYS[1], ARGV[4])
return 1
`;

const replaceScript = defineScript(REPLACE_SCRIPT);

// KEYS: the session list. ARGV: TTL in seconds, then the messages (JSON). Returns the whole list,
// which append measures against the budget: one command instead of a five-command MULTI.
const APPEND_SCRIPT = `
for i = 2, #ARGV, 500 do redis.call('RPUSH', KEYS[1], unpack(ARGV, i, math.min(i + 499, #ARGV))) end
redis.call('EXPIRE', KEYS[1], ARGV[1])
return redis.call('LRANGE', KEYS[1], 0, -1)
`;

const appendScript = defineScript(APPEND_SCRIPT);

/**
 * History as a Redis list of JSON messages. When an append takes the estimate over the budget, the
 * newest turns are kept word for word (up to half the budget) and everything older, an earlier
 * summary included, is folded into one summary message of at most a quarter of the budget, leaving
 * room for new turns before the next compaction.
 */
export function createRedisSessionStore(options: RedisSessionStoreOptions): SessionStore {
  const { redis, keys, summarizer, logger } = options;
  const budget = options.tokenBudget ?? DEFAULT_TOKEN_BUDGET;
  const ttl = options.idleTtlSeconds ?? DEFAULT_IDLE_TTL_SECONDS;
  const estimate = options.estimateTokens ?? estimateTokens;

  const compact = async (key: string, raw: readonly string[], charge?: ChargeTo): Promise<void> => {
    const entries = raw.flatMap((item) => {
      const message = parseMessage(item);
      return message ? [{ raw: item, message }] : [];
    });
    const messages = entries.map((entry) => entry.message);
    const cut = chooseCut(messages, Math.floor(budget / 2), estimate);
    if (cut <= 0) return;
    const kept = entries.slice(cut);
    let text: string;
    try {
      text = await summarizer.summarize(messages.slice(0, cut), charge);
    } catch (error) {
      // The append itself succeeded; the next append tries again.
      logger?.warn({ err: error, key }, 'session compaction failed; history kept as is');
      return;
    }
    const room = Math.min(Math.floor(budget / 4), budget - estimate(kept.map((entry) => entry.message)));
    const summary = summaryMessage(fitSummary(text.trim(), room, estimate));
    await replaceScript.run(
      redis,
      [key],
      [raw.length, raw[0] ?? '', raw.at(-1) ?? '', ttl, JSON.stringify(summary), ...kept.map((e) => e.raw)],
    );
  };

  return {
    load: (conversationKey) =>
      wrapUnavailable('session.load', async () => {
        const raw = await redis.lrange(keys.session(conversationKey), 0, -1);
        return raw.flatMap((item) => {
          const message = parseMessage(item);
          return message ? [message] : [];
        });
      }),

    append: (conversationKey, messages, charge) =>
      wrapUnavailable('session.append', async () => {
        if (messages.length === 0) return;
        const key = keys.session(conversationKey);
        const raw = await appendScript.run(
          redis,
          [key],
          [ttl, ...messages.map((message) => JSON.stringify(message))],
        );
        if (!Array.isArray(raw)) throw new Error('session.append: unexpected reply');
        const all = raw.map(String);
        const total = estimate(all.flatMap((item) => parseMessage(item) ?? []));
        if (total > budget) await compact(key, all, charge);
      }),
  };
}

/**
 * Where the kept part starts: at the newest user message at the latest (the newest question and its
 * answer are always kept), moved back a whole turn at a time while the kept part fits `keepTokens`.
 * Cutting only where a person spoke means a tool result never loses its tool call and an answer
 * never loses its question; the earlier summary is never kept (it is folded into the new one).
 */
function chooseCut(messages: readonly ChatMessage[], keepTokens: number, estimate: TokenEstimator): number {
  const first = isSummary(messages[0]) ? 1 : 0;
  const startsTurn = (message: ChatMessage, index: number) => index >= first && message.role === 'user';
  let cut = messages.findLastIndex(startsTurn);
  if (cut < 0) {
    // No question to anchor on: keep the newest message that does not depend on an earlier one.
    cut = messages.findLastIndex((message, index) => index >= first && message.role !== 'tool');
    return cut < 0 ? messages.length : cut;
  }
  for (let index = cut - 1; index >= first; index -= 1) {
    if (!startsTurn(messages[index] as ChatMessage, index)) continue;
    if (estimate(messages.slice(index)) > keepTokens) break;
    cut = index;
  }
  return cut;
}

function isSummary(message: ChatMessage | undefined): boolean {
  return message?.role === 'system' && message.content.startsWith(SUMMARY_PREFIX);
}

function summaryMessage(text: string): ChatMessage {
  return { role: 'system', content: `${SUMMARY_PREFIX}${text}` };
}

/** Shortens an over-long summary so the compacted history is guaranteed to fit the budget. */
function fitSummary(text: string, roomTokens: number, estimate: TokenEstimator): string {
  let body = text;
  while (body.length > 0 && estimate([summaryMessage(body)]) > roomTokens) {
    body = body.slice(0, Math.floor(body.length * 0.8));
  }
  return body;
}

function parseMessage(raw: string): ChatMessage | undefined {
  try {
    const value: unknown = JSON.parse(raw);
    return isChatMessage(value) ? value : undefined;
  } catch {
    return undefined;
  }
}

function isChatMessage(value: unknown): value is ChatMessage {
  if (!isRecord(value)) return false;
  switch (value.role) {
    case 'system':
    case 'user':
      return typeof value.content === 'string';
    case 'assistant':
      return (
        (typeof value.content === 'string' || value.content === null) &&
        (value.toolCalls === undefined || Array.isArray(value.toolCalls))
      );
    case 'tool':
      return typeof value.content === 'string' && typeof value.toolCallId === 'string';
    default:
      return false;
  }
}

export interface ModelSummarizerOptions {
  readonly model: ModelClient;
  readonly modelName: string;
  readonly deadlineMs?: number;
  /** A target for the model; the store also cuts a summary that comes back too long. */
  readonly maxWords?: number;
  readonly clock?: Clock;
}

const TOOL_RESULT_CHARS = 1_000;
const SUMMARY_MAX_COMPLETION_TOKENS = 1_000;

/** A Summarizer that asks the model, without tools, for a summary that keeps the facts. */
export function createModelSummarizer(options: ModelSummarizerOptions): Summarizer {
  const deadlineMs = options.deadlineMs ?? 30_000;
  const clock = options.clock ?? systemClock;
  const system = [
    'You condense a conversation between people and an assistant so the assistant can continue it later.',
    `Write at most ${options.maxWords ?? 250} words of plain prose.`,
    'Keep every name, id, number, date, decision and open request exactly as written;',
    'drop greetings and small talk; add nothing that is not in the conversation.',
  ].join(' ');
  return {
    async summarize(messages, charge) {
      const response = await options.model.complete(
        {
          model: options.modelName,
          messages: [
            { role: 'system', content: system },
            { role: 'user', content: `The conversation so far:\n\n${transcript(messages)}` },
          ],
          tools: [],
          // Room for the word target; also what a summary reserves against budgets.
          maxCompletionTokens: SUMMARY_MAX_COMPLETION_TOKENS,
        },
        {
          deadlineAt: clock.now() + deadlineMs,
          signal: AbortSignal.timeout(deadlineMs),
          ...(charge ? { charge } : {}),
        },
      );
      const text = response.content?.trim() ?? '';
      if (text === '') throw new Error('the model returned an empty summary');
      return text;
    },
  };
}

// Plain text rather than the messages themselves, so the model summarizes instead of replying.
function transcript(messages: readonly ChatMessage[]): string {
  return messages.map(transcriptLine).join('\n');
}

function transcriptLine(message: ChatMessage): string {
  switch (message.role) {
    case 'system':
      return isSummary(message)
        ? `[earlier summary] ${message.content.slice(SUMMARY_PREFIX.length)}`
        : `system: ${message.content}`;
    case 'user':
      return `user: ${message.content}`;
    case 'assistant': {
      const calls = (message.toolCalls ?? []).map((call) => ` [called ${call.name}(${call.arguments})]`);
      return `assistant: ${message.content ?? ''}${calls.join('')}`;
    }
    case 'tool':
      return `tool result: ${message.content.slice(0, TOOL_RESULT_CHARS)}`;
  }
}
