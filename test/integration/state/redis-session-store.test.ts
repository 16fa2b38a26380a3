import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ChatMessage } from '../../../src/core/messages.ts';
import type { ModelCallOptions, ModelClient, ModelRequest, ModelResponse } from '../../../src/core/ports.ts';
import { createKeys, type RedisKeys } from '../../../src/state/redis-keys.ts';
import {
  createModelSummarizer,
  createRedisSessionStore,
  estimateTokens,
  SUMMARY_PREFIX,
  type Summarizer,
} from '../../../src/state/redis-session-store.ts';
import { connectTestRedis, type TestRedis } from '../../support/redis.ts';
import { createRecordingLogger } from './recording-logger.ts';

const KEY = 'slack:T1:C1:1700.1';

/** A test double of the model-backed summarizer: records what it was asked to fold. */
function recordingSummarizer(texts: string[]): Summarizer & { calls: ChatMessage[][] } {
  const calls: ChatMessage[][] = [];
  return {
    calls,
    summarize: async (messages) => {
      calls.push([...messages]);
      return texts[calls.length - 1] ?? `summary ${calls.length}`;
    },
  };
}

/** One question and its answer, each ~100 characters (29 estimated tokens). */
function turn(n: number): ChatMessage[] {
  return [
    { role: 'user', content: `question ${n} `.padEnd(100, 'q') },
    { role: 'assistant', content: `answer ${n} `.padEnd(100, 'a') },
  ];
}

describe('estimateTokens', () => {
  it('counts a quarter token per character, rounded up, plus 4 per message', () => {
    expect(estimateTokens([])).toBe(0);
    expect(estimateTokens(turn(1))).toBe(2 * (25 + 4));
    expect(
      estimateTokens([
        { role: 'assistant', content: null, toolCalls: [{ id: 'c', name: 'ab', arguments: '{}' }] },
      ]),
    ).toBe(1 + 4);
  });
});

describe('redis session store', () => {
  let test: TestRedis;
  let keys: RedisKeys;

  beforeEach(async () => {
    test = await connectTestRedis({ name: 'sessions' });
    keys = createKeys(test.prefix);
  });
  afterEach(() => test.cleanup());

  it('keeps history in order, every message shape intact, with an idle TTL', async () => {
    const store = createRedisSessionStore({
      redis: test.redis,
      keys,
      summarizer: recordingSummarizer([]),
      idleTtlSeconds: 120,
    });
    expect(await store.load(KEY)).toEqual([]);
    const messages: ChatMessage[] = [
      { role: 'user', content: 'look up order 55' },
      {
        role: 'assistant',
        content: null,
        toolCalls: [{ id: 'c1', name: 'lookup_order', arguments: '{"id":"55"}' }],
      },
      { role: 'tool', toolCallId: 'c1', content: '{"status":"success"}' },
      { role: 'assistant', content: 'Order 55 shipped.' },
    ];
    await store.append(KEY, messages.slice(0, 2));
    await store.append(KEY, messages.slice(2));
    await store.append(KEY, []);
    expect(await store.load(KEY)).toEqual(messages);
    const ttl = await test.redis.ttl(keys.session(KEY));
    expect(ttl).toBeGreaterThan(100);
    expect(ttl).toBeLessThanOrEqual(120);
  });

  it('compacts over budget: newest turns word for word, older ones summarized, total under budget', async () => {
    const summarizer = recordingSummarizer(['Alice asked about orders 1-3; refund 55 approved.']);
    const store = createRedisSessionStore({ redis: test.redis, keys, summarizer, tokenBudget: 200 });
    for (let n = 1; n <= 3; n += 1) await store.append(KEY, turn(n));
    expect(summarizer.calls).toHaveLength(0);

    await store.append(KEY, turn(4)); // 4 turns = 232 estimated tokens > 200
    expect(summarizer.calls).toEqual([[...turn(1), ...turn(2), ...turn(3)]]);
    const history = await store.load(KEY);
    expect(history).toEqual([
      { role: 'system', content: `${SUMMARY_PREFIX}Alice asked about orders 1-3; refund 55 approved.` },
      ...turn(4),
    ]);
    expect(estimateTokens(history)).toBeLessThanOrEqual(200);
  });

  it('folds the earlier summary into the next one', async () => {
    const summarizer = recordingSummarizer(['first summary', 'second summary']);
    const store = createRedisSessionStore({ redis: test.redis, keys, summarizer, tokenBudget: 200 });
    for (let n = 1; n <= 4; n += 1) await store.append(KEY, turn(n));
    let last = 4;
    while (summarizer.calls.length < 2 && last < 10) {
      last += 1;
      await store.append(KEY, turn(last));
    }

    expect(summarizer.calls).toHaveLength(2);
    const second = summarizer.calls[1] ?? [];
    expect(second[0]).toEqual({ role: 'system', content: `${SUMMARY_PREFIX}first summary` });
    expect(second).toContainEqual(turn(4)[0]);
    const history = await store.load(KEY);
    expect(history[0]).toEqual({ role: 'system', content: `${SUMMARY_PREFIX}second summary` });
    expect(history.filter((m) => m.role === 'system')).toHaveLength(1);
    expect(history.slice(-2)).toEqual(turn(last));
    expect(estimateTokens(history)).toBeLessThanOrEqual(200);
  });

  it('cuts a summary that comes back too long, so the history still fits', async () => {
    const summarizer = recordingSummarizer(['x'.repeat(5_000)]);
    const store = createRedisSessionStore({ redis: test.redis, keys, summarizer, tokenBudget: 200 });
    for (let n = 1; n <= 4; n += 1) await store.append(KEY, turn(n));
    const history = await store.load(KEY);
    expect(history.slice(1)).toEqual(turn(4));
    expect(estimateTokens(history)).toBeLessThanOrEqual(200);
  });

  it('never splits a tool result from its tool call when keeping the newest messages', async () => {
    const summarizer = recordingSummarizer([]);
    const store = createRedisSessionStore({ redis: test.redis, keys, summarizer, tokenBudget: 150 });
    const call: ChatMessage = {
      role: 'assistant',
      content: null,
      toolCalls: [{ id: 'c1', name: 'lookup_order', arguments: '{"id":"55"}' }],
    };
    const result: ChatMessage = { role: 'tool', toolCallId: 'c1', content: 'r'.repeat(200) };
    const [question, answer] = turn(2) as [ChatMessage, ChatMessage];
    await store.append(KEY, [...turn(1), question, call, result, answer]);
    const history = await store.load(KEY);
    expect(summarizer.calls).toEqual([turn(1)]);
    expect(history).toEqual([
      { role: 'system', content: `${SUMMARY_PREFIX}summary 1` },
      question,
      call,
      result,
      answer,
    ]);
    expect(estimateTokens(history)).toBeLessThanOrEqual(150);
  });

  it('does not lose a message appended by another process while the summary was being written', async () => {
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const slow: Summarizer = {
      summarize: async () => {
        await gate;
        return 'slow summary';
      },
    };
    const store = createRedisSessionStore({ redis: test.redis, keys, summarizer: slow, tokenBudget: 200 });
    const other = createRedisSessionStore({ redis: test.redis, keys, summarizer: slow, tokenBudget: 10_000 });
    for (let n = 1; n <= 3; n += 1) await store.append(KEY, turn(n));
    const compacting = store.append(KEY, turn(4));
    await new Promise((resolve) => setTimeout(resolve, 20));
    await other.append(KEY, turn(5));
    release();
    await compacting;
    expect(await store.load(KEY)).toEqual([
      { role: 'system', content: `${SUMMARY_PREFIX}slow summary` },
      ...turn(4),
      ...turn(5),
    ]);
  });

  it('keeps the messages when the summarizer fails, and says so in the log', async () => {
    const logger = createRecordingLogger();
    const store = createRedisSessionStore({
      redis: test.redis,
      keys,
      tokenBudget: 100,
      logger,
      summarizer: {
        summarize: async () => {
          throw new Error('model down');
        },
      },
    });
    await store.append(KEY, [...turn(1), ...turn(2)]);
    expect(await store.load(KEY)).toEqual([...turn(1), ...turn(2)]);
    expect(logger.entries.map((e) => e.msg)).toContain('session compaction failed; history kept as is');
  });
});

describe('createModelSummarizer', () => {
  it('asks the model, without tools, to keep names, ids, numbers and decisions', async () => {
    const requests: ModelRequest[] = [];
    const options: ModelCallOptions[] = [];
    const model: ModelClient = {
      complete: async (request, callOptions): Promise<ModelResponse> => {
        requests.push(request);
        options.push(callOptions);
        return {
          content: '  Alice asked for refund 55; approved.  ',
          toolCalls: [],
          usage: { promptTokens: 1, completionTokens: 1 },
          model: 'm',
        };
      },
    };
    const summarizer = createModelSummarizer({
      model,
      modelName: 'cheap-model',
      deadlineMs: 5_000,
      clock: { now: () => 1_000 },
    });
    const text = await summarizer.summarize([
      { role: 'system', content: `${SUMMARY_PREFIX}Alice is on the Pro plan.` },
      { role: 'user', content: 'refund order 55' },
      {
        role: 'assistant',
        content: null,
        toolCalls: [{ id: 'c', name: 'refund_order', arguments: '{"id":"55"}' }],
      },
      { role: 'tool', toolCallId: 'c', content: '{"status":"success"}' },
    ]);
    expect(text).toBe('Alice asked for refund 55; approved.');
    const request = requests[0];
    expect(request?.model).toBe('cheap-model');
    expect(request?.tools).toEqual([]);
    expect(request?.messages[0]?.content).toMatch(/name, id, number, date, decision/);
    const transcript = request?.messages[1]?.content ?? '';
    expect(transcript).toContain('[earlier summary] Alice is on the Pro plan.');
    expect(transcript).toContain('user: refund order 55');
    expect(transcript).toContain('[called refund_order({"id":"55"})]');
    expect(options[0]?.deadlineAt).toBe(6_000);
  });

  it('refuses an empty summary', async () => {
    const model: ModelClient = {
      complete: async () => ({
        content: ' ',
        toolCalls: [],
        usage: { promptTokens: 0, completionTokens: 0 },
        model: 'm',
      }),
    };
    await expect(createModelSummarizer({ model, modelName: 'm' }).summarize([])).rejects.toThrow(
      /empty summary/,
    );
  });
});
