// Steward in the anchors harness (../shared/bench-anchors): the real engine with everything on —
// the BullMQ run queue and conversation lanes on Redis, checkpoints, the audit stream, budget
// reservations and the breakers, the guards and policy — not an in-memory shortcut. Each run() is one conversation: a message goes in through
// the conversation service, a worker drives it, and the answer comes back through a Surface.
// REDIS_URL (default redis://127.0.0.1:6379) must answer; keys go under a fresh prefix, deleted on close.
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { register } from 'tsx/esm/api';
import { z } from 'zod';

// The harness runs this file from its own folder; tsx is registered from the project's
// node_modules so the engine's TypeScript sources load as they do for `npm start`.
register();
const { createSteward } = await import('../src/app/compose.ts');
const { parseConfig } = await import('../src/app/config-file.ts');
const { parseEnv } = await import('../src/app/env.ts');
const { defineTool } = await import('../src/core/tools/define-tool.ts');
const { success } = await import('../src/core/tools/tool-result.ts');
const { BUILT_IN_TOOL_NAMES } = await import('../tools/index.ts');

export const meta = { name: 'steward', packages: ['openai', 'bullmq', 'ioredis'] };

export async function setup({ baseURL, apiKey, model, k, lookup, tool }) {
  const redisUrl = process.env.REDIS_URL || 'redis://127.0.0.1:6379';
  // About as long as the default `steward:`, so commands carry the bytes a deployment's do: every
  // key carries the prefix, and bench-anchors:<8 hex>: (23 characters) added 2 KB per conversation.
  const prefix = `bench${randomUUID().slice(0, 4)}:`;
  const source = {
    OPENAI_API_KEY: apiKey,
    OPENAI_BASE_URL: baseURL,
    OPENAI_MODEL: model,
    REDIS_URL: redisUrl,
    STEWARD_REDIS_PREFIX: prefix,
    LOG_LEVEL: 'silent',
  };
  const config = parseConfig(
    `agents:
  bench:
    instructions: Look up the items, then summarize.
    tools: [${tool.name}]
    limits: { maxIterations: ${k + 5}, maxRepeatedCalls: ${k + 5} }
workers:
  concurrency: 200
`,
    { env: source, builtInTools: [...BUILT_IN_TOOL_NAMES, tool.name] },
  );
  const lookupTool = defineTool({
    name: tool.name,
    description: tool.description,
    whenToUse: 'To look up an item.',
    whenNotToUse: 'Never needed otherwise.',
    input: z.object({ id: z.string() }),
    category: 'lookup',
    risk: 'read',
    idempotent: true,
    execute: async (input) => success(lookup(input)),
  });
  const waiting = new Map();
  const settle = (target, value) => {
    const entry = waiting.get(target.threadId);
    if (!entry) return;
    waiting.delete(target.threadId);
    entry(value);
  };
  const surface = {
    postAnswer: async (target, text) => settle(target, { text }),
    postNotice: async (target, text) => settle(target, { error: text }),
    requestApproval: async (target) => settle(target, { error: 'unexpected approval' }),
    postEscalation: async (target, escalation) => settle(target, { error: escalation.reason }),
  };
  const steward = await createSteward({
    env: parseEnv(source),
    config,
    surface,
    tools: [lookupTool],
    logLevel: 'silent',
    model: { maxAttempts: 1 },
  });
  return {
    async run(prompt) {
      const threadId = randomUUID();
      const done = new Promise((resolve) => waiting.set(threadId, resolve));
      await steward.service.handleMessage({
        platform: 'bench',
        tenantId: 'T',
        channelId: 'C',
        threadId,
        // A person per conversation, as in a busy workspace: one person is held to 10 messages a minute.
        userId: `U${threadId.slice(0, 8)}`,
        text: prompt,
        isDirect: false,
        eventId: threadId,
      });
      const result = await done;
      if (result.error) throw new Error(result.error);
      return result.text;
    },
    async close() {
      await steward.close();
      const redis = new Redis(redisUrl);
      let cursor = '0';
      do {
        const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
        cursor = next;
        if (keys.length > 0) await redis.del(...keys);
      } while (cursor !== '0');
      await redis.quit();
    },
  };
}
