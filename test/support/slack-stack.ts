import { Writable } from 'node:stream';
import { Redis } from 'ioredis';
import { inject } from 'vitest';
import { parseConfig } from '../../src/app/config-file.ts';
import { parseEnv } from '../../src/app/env.ts';
import { type SlackRuntime, startSlackRuntime } from '../../src/app/slack-runtime.ts';
import { BUILT_IN_TOOL_NAMES } from '../../tools/index.ts';
import { type FakeSlackApi, type FakeSlackUser, startFakeSlackApi } from '../fakes/fake-slack-api.ts';
import type { ScriptedOpenAI } from '../fakes/scripted-openai-server.ts';
import {
  eventEnvelope,
  postToSlackEndpoint,
  type SlackEndpointResponse,
  type SlackEvent,
} from '../fakes/slack-signing.ts';
import { freePort } from './ports.ts';
import { deleteKeysWithPrefix, testPrefix } from './redis.ts';

export const SIGNING_SECRET = 'slack-signing-secret-for-tests';
export const BOT_TOKEN = 'xoxb-test-bot-token-0001';

export interface SlackStack {
  readonly runtime: SlackRuntime;
  readonly api: FakeSlackApi;
  /** POST /slack/events on the running app. */
  readonly eventsUrl: string;
  readonly baseUrl: string;
  readonly logLines: string[];
  /** Sends an event the way Slack does: signed, as an event_callback envelope. */
  sendEvent(
    event: SlackEvent,
    options?: { eventId?: string; headers?: Record<string, string> },
  ): Promise<SlackEndpointResponse>;
  /** Sends a form-encoded body (block actions, slash commands), signed. */
  sendForm(body: string): Promise<SlackEndpointResponse>;
  /** Another Steward process on the same Redis and Slack, with STEWARD_ROLE=worker; closed with the stack. */
  startWorker(): Promise<SlackRuntime>;
  close(): Promise<void>;
}

let eventCounter = 0;

/** The real Bolt app in HTTP mode, as `npm start` runs it, against a fake Slack Web API and real Redis. */
export async function startSlackStack(options: {
  model: ScriptedOpenAI;
  yaml: string;
  users?: Record<string, FakeSlackUser>;
  env?: Record<string, string>;
}): Promise<SlackStack> {
  const api = await startFakeSlackApi({
    botUserId: 'UBOT',
    teamId: 'T1',
    ...(options.users ? { users: options.users } : {}),
  });
  const prefix = testPrefix('slack');
  const port = await freePort();
  const source = {
    OPENAI_API_KEY: 'sk-test',
    OPENAI_BASE_URL: options.model.baseURL,
    REDIS_URL: inject('redisUrl'),
    STEWARD_REDIS_PREFIX: prefix,
    PORT: String(port),
    LOG_LEVEL: 'debug',
    SLACK_BOT_TOKEN: BOT_TOKEN,
    SLACK_SIGNING_SECRET: SIGNING_SECRET,
    SLACK_API_URL: api.url,
    ...options.env,
  };
  const logLines: string[] = [];
  const start = (variables: Record<string, string>) => {
    const env = parseEnv(variables);
    if (!env.slack) throw new Error('the Slack variables did not parse');
    return startSlackRuntime({
      env: { ...env, slack: env.slack },
      config: parseConfig(options.yaml, { env: variables, builtInTools: BUILT_IN_TOOL_NAMES }),
      logDestination: new Writable({
        write(chunk, _encoding, done) {
          logLines.push(String(chunk));
          done();
        },
      }),
      model: { initialDelayMs: 5, maxDelayMs: 20 },
      worker: { graceMs: 1_000 },
    });
  };
  const runtime = await start(source);
  const workers: SlackRuntime[] = [];
  const baseUrl = `http://127.0.0.1:${runtime.port}`;
  const eventsUrl = `${baseUrl}/slack/events`;
  return {
    runtime,
    api,
    eventsUrl,
    baseUrl,
    logLines,
    sendEvent: (event, sendOptions = {}) => {
      eventCounter += 1;
      return postToSlackEndpoint(eventsUrl, {
        body: eventEnvelope(event, { eventId: sendOptions.eventId ?? `Ev${Date.now()}${eventCounter}` }),
        contentType: 'application/json',
        signingSecret: SIGNING_SECRET,
        ...(sendOptions.headers ? { headers: sendOptions.headers } : {}),
      });
    },
    sendForm: (body) =>
      postToSlackEndpoint(eventsUrl, {
        body,
        contentType: 'application/x-www-form-urlencoded',
        signingSecret: SIGNING_SECRET,
      }),
    async startWorker() {
      const worker = await start({ ...source, STEWARD_ROLE: 'worker', PORT: String(await freePort()) });
      workers.push(worker);
      return worker;
    },
    async close() {
      for (const worker of workers) await worker.close();
      await runtime.close();
      await api.close();
      const redis = new Redis(inject('redisUrl'));
      await deleteKeysWithPrefix(redis, prefix);
      await redis.quit();
    },
  };
}

let tsCounter = 0;
/** A unique Slack message timestamp. */
export function nextTs(): string {
  tsCounter += 1;
  return `${Math.floor(Date.now() / 1000)}.${String(100000 + tsCounter).padStart(6, '0')}`;
}
