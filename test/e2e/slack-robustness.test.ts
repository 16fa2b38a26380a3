import { Redis } from 'ioredis';
import { describe, expect, inject, it } from 'vitest';
import { parseConfig } from '../../src/app/config-file.ts';
import { parseEnv } from '../../src/app/env.ts';
import { startSlackRuntime } from '../../src/app/slack-runtime.ts';
import { BUILT_IN_TOOL_NAMES } from '../../tools/index.ts';
import { startFakeSlackApi } from '../fakes/fake-slack-api.ts';
import { startFakeSocketMode } from '../fakes/fake-socket-mode.ts';
import { startScriptedOpenAI } from '../fakes/scripted-openai-server.ts';
import {
  appMention,
  blockActionPayload,
  eventCallback,
  postToSlackEndpoint,
  slashCommandPayload,
} from '../fakes/slack-signing.ts';
import { deleteKeysWithPrefix, testPrefix } from '../support/redis.ts';
import { nextTs, SIGNING_SECRET, startSlackStack } from '../support/slack-stack.ts';

/** A small seeded generator, so a failing mutation can be reproduced from the seed. */
function prng(seed: number) {
  let state = seed >>> 0;
  return () => {
    state = (state * 1664525 + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

type Json = unknown;
const JUNK: Json[] = [
  null,
  0,
  -1,
  1e308,
  true,
  [],
  {},
  [null],
  { nested: { deep: [1] } },
  'x'.repeat(5000),
  '',
  '<!channel>',
];

/**
 * Breaks the structure of a payload: values that Steward reads get junk of another type, keys go
 * missing, objects become arrays. Text stays text, so a mutation can never turn into a valid request.
 */
function mutate(value: Json, random: () => number, depth = 0): Json {
  if (Array.isArray(value)) return random() < 0.2 ? {} : value.map((item) => mutate(item, random, depth + 1));
  if (value === null || typeof value !== 'object') {
    return random() < 0.5 ? JUNK[Math.floor(random() * JUNK.length)] : value;
  }
  const out: Record<string, Json> = {};
  for (const [key, field] of Object.entries(value)) {
    const roll = random();
    if (roll < 0.15) continue;
    out[roll < 0.2 ? `${key}_` : key] = mutate(field, random, depth + 1);
  }
  return out;
}

/** Mutations that always break what Steward needs, so no mutated request may start a run. */
function breakRequired(payload: Record<string, Json>, random: () => number): Record<string, Json> {
  const event = payload.event;
  if (event && typeof event === 'object' && !Array.isArray(event)) {
    const fields = ['user', 'channel', 'ts', 'text'] as const;
    const field = fields[Math.floor(random() * fields.length)] ?? 'user';
    return {
      ...payload,
      event: { ...(event as Record<string, Json>), [field]: JUNK[Math.floor(random() * 9)] },
    };
  }
  return payload;
}

describe('Slack robustness', () => {
  it('answers 500 mutated event, action and command payloads with a 4xx or an empty 200, starts nothing, and still answers a good mention', async () => {
    const model = await startScriptedOpenAI({ fallback: { reply: 'still here' } });
    const stack = await startSlackStack({ model, yaml: 'agents:\n  support:\n    instructions: Help.\n' });
    const random = prng(20261122);
    const statuses = new Map<string, number>();
    try {
      const requests: Array<{
        body: string;
        contentType: 'application/json' | 'application/x-www-form-urlencoded';
      }> = [];
      for (let i = 0; i < 500; i++) {
        const kind = i % 3;
        let body: string;
        let contentType: 'application/json' | 'application/x-www-form-urlencoded';
        if (kind === 0) {
          const base = eventCallback(
            appMention({ user: 'UANA', channel: 'C1', text: '<@UBOT> hi', ts: nextTs() }),
            {
              eventId: `EvFuzz${i}`,
            },
          );
          const mutated =
            random() < 0.1
              ? JSON.stringify(base).slice(0, Math.floor(random() * 200))
              : JSON.stringify(mutate(breakRequired(base, random), random));
          body = mutated;
          contentType = 'application/json';
        } else if (kind === 1) {
          const base = blockActionPayload({
            user: 'UANA',
            channel: 'C1',
            messageTs: nextTs(),
            actionId: 'steward_approve',
            value: 'no-such-approval',
            responseUrl: stack.api.responseUrl('fuzz'),
          });
          body = `payload=${encodeURIComponent(JSON.stringify(mutate(base, random)))}`;
          contentType = 'application/x-www-form-urlencoded';
        } else {
          const base = slashCommandPayload({
            text: 'status',
            userId: 'UANA',
            channelId: 'C1',
            responseUrl: stack.api.responseUrl('fuzz'),
          });
          const mutated = mutate(base, random);
          const fields =
            mutated && typeof mutated === 'object' && !Array.isArray(mutated) ? Object.entries(mutated) : [];
          body = new URLSearchParams(
            fields.map(([k, v]): [string, string] => [k, typeof v === 'string' ? v : JSON.stringify(v)]),
          ).toString();
          contentType = 'application/x-www-form-urlencoded';
        }
        requests.push({ body, contentType });
      }
      // Ten at a time, as a busy workspace would send them.
      for (let start = 0; start < requests.length; start += 10) {
        await Promise.all(
          requests.slice(start, start + 10).map(async ({ body, contentType }, offset) => {
            const response = await postToSlackEndpoint(stack.eventsUrl, {
              body,
              contentType,
              signingSecret: SIGNING_SECRET,
            });
            const ok =
              (response.status >= 400 && response.status < 500) ||
              (response.status === 200 && response.body === '');
            if (!ok) {
              throw new Error(
                `mutation ${start + offset} got ${response.status} ${response.body.slice(0, 200)}: ${body.slice(0, 300)}`,
              );
            }
            statuses.set(String(response.status), (statuses.get(String(response.status)) ?? 0) + 1);
          }),
        );
      }
      expect(model.requests).toHaveLength(0);

      await stack.sendEvent(
        appMention({ user: 'UANA', channel: 'C1', text: '<@UBOT> are you ok?', ts: nextTs() }),
      );
      await stack.api.waitForCall('chat.update', (c) => String(c.args.text).includes('still here'));
      process.stdout.write(
        `\nmutated Slack payloads by status: ${JSON.stringify(Object.fromEntries(statuses))}\n`,
      );
    } finally {
      await stack.close();
      await model.close();
    }
  }, 120_000);

  it('runs the same mention flow through Socket Mode against a local socket server', async () => {
    const model = await startScriptedOpenAI({ fallback: { reply: 'hello over the socket' } });
    const api = await startFakeSlackApi({ botUserId: 'UBOT', teamId: 'T1' });
    const socket = await startFakeSocketMode();
    api.setSocketModeUrl(socket.url);
    const prefix = testPrefix('socket');
    const source = {
      OPENAI_API_KEY: 'sk-test',
      OPENAI_BASE_URL: model.baseURL,
      REDIS_URL: inject('redisUrl'),
      STEWARD_REDIS_PREFIX: prefix,
      PORT: '0',
      LOG_LEVEL: 'warn',
      SLACK_BOT_TOKEN: 'xoxb-socket',
      SLACK_APP_TOKEN: 'xapp-socket',
      SLACK_API_URL: api.url,
    };
    const env = parseEnv({ ...source, PORT: String(40000 + Math.floor(Math.random() * 20000)) });
    if (!env.slack) throw new Error('no slack env');
    const runtime = await startSlackRuntime({
      env: { ...env, slack: env.slack },
      config: parseConfig('agents:\n  support:\n    instructions: Help.\n', {
        env: source,
        builtInTools: BUILT_IN_TOOL_NAMES,
      }),
      logLevel: 'silent',
    });
    try {
      await socket.waitForConnection();
      const sent = await socket.sendEnvelope(
        eventCallback(appMention({ user: 'UANA', channel: 'C1', text: '<@UBOT> hi', ts: nextTs() }), {
          eventId: 'EvSock1',
        }),
        'events_api',
      );
      expect(sent.envelope_id).toBeTruthy();
      const answer = await api.waitForCall('chat.update', (c) =>
        String(c.args.text).includes('hello over the socket'),
      );
      expect(answer.args.channel).toBe('C1');
      expect(answer.token).toBe('xoxb-socket');
      const health = await fetch(`http://127.0.0.1:${runtime.port}/healthz`);
      expect(health.status).toBe(200);
    } finally {
      await runtime.close();
      await socket.close();
      await api.close();
      await model.close();
      const redis = new Redis(inject('redisUrl'));
      await deleteKeysWithPrefix(redis, prefix);
      await redis.quit();
    }
  }, 60_000);
});
