import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { RecordedCall } from '../fakes/fake-slack-api.ts';
import {
  type RecordedChatBody,
  type ScriptedOpenAI,
  startScriptedOpenAI,
} from '../fakes/scripted-openai-server.ts';
import {
  appMention,
  directMessage,
  eventEnvelope,
  postToSlackEndpoint,
  threadReply,
} from '../fakes/slack-signing.ts';
import { nextTs, SIGNING_SECRET, type SlackStack, startSlackStack } from '../support/slack-stack.ts';

const YAML = `agents:
  support:
    instructions: You help the team.
`;

let model: ScriptedOpenAI;
let stack: SlackStack;

function echo() {
  return {
    respond: (body: RecordedChatBody) => ({
      reply: `You said: ${String((body.messages ?? []).filter((m) => m.role === 'user').at(-1)?.content)}`,
    }),
  };
}

beforeEach(async () => {
  model = await startScriptedOpenAI({ fallback: echo() });
  stack = await startSlackStack({ model, yaml: YAML });
});
afterEach(async () => {
  await stack.close();
  await model.close();
});

/** Every message Steward showed in a thread: new posts, and the final text of updated ones. */
function threadMessages(channel: string, threadTs: string | undefined): string[] {
  const posts = stack.api
    .callsTo('chat.postMessage')
    .filter((c) => c.args.channel === channel && c.args.thread_ts === threadTs);
  return posts.map((post) => String(post.args.text));
}

async function waitForText(text: string, timeoutMs = 10_000): Promise<RecordedCall> {
  const match = (c: RecordedCall) => String(c.args.text).includes(text);
  return Promise.any([
    stack.api.waitForCall('chat.update', match, timeoutMs),
    stack.api.waitForCall('chat.postMessage', match, timeoutMs),
  ]);
}

describe('Slack inbound', () => {
  it('answers a mention once, in the thread of the mention, stripped of the bot mention', async () => {
    const ts = nextTs();
    const response = await stack.sendEvent(
      appMention({ user: 'UANA', channel: 'C1', text: '<@UBOT> where is order 7?', ts }),
    );

    expect(response.status).toBe(200);
    const answer = await waitForText('You said: where is order 7?');
    // The status message posted in the thread is replaced by the answer.
    const posts = stack.api.callsTo('chat.postMessage').filter((c) => c.args.channel === 'C1');
    expect(posts).toHaveLength(1);
    expect(posts[0]?.args.thread_ts).toBe(ts);
    expect(answer.method).toBe('chat.update');
    expect(model.requests).toHaveLength(1);
  });

  it('answers a DM in the DM', async () => {
    await stack.sendEvent(directMessage({ user: 'UANA', channel: 'D1', text: 'hello there', ts: nextTs() }));

    await waitForText('You said: hello there');
    const posts = stack.api.callsTo('chat.postMessage').filter((c) => c.args.channel === 'D1');
    expect(posts).toHaveLength(1);
    expect(posts[0]?.args.thread_ts).toBeUndefined();
  });

  it('answers a follow-up in a thread it is in without a new mention, and ignores other threads', async () => {
    const ts = nextTs();
    await stack.sendEvent(appMention({ user: 'UANA', channel: 'C1', text: '<@UBOT> hi', ts }));
    await waitForText('You said: hi');

    await stack.sendEvent(
      threadReply({ user: 'UANA', channel: 'C1', text: 'and one more thing', ts: nextTs(), threadTs: ts }),
    );
    await stack.sendEvent(
      threadReply({ user: 'UANA', channel: 'C1', text: 'not for you', ts: nextTs(), threadTs: nextTs() }),
    );

    await waitForText('You said: and one more thing');
    await sleep(300);
    expect(model.requests.map((r) => r.messages?.at(-1)?.content)).toEqual(['hi', 'and one more thing']);
    expect(threadMessages('C1', ts)).toHaveLength(2);
  });

  it('starts one run for an event Slack delivers 3 more times with retry headers', async () => {
    const ts = nextTs();
    const event = appMention({ user: 'UANA', channel: 'C1', text: '<@UBOT> once please', ts });
    await stack.sendEvent(event, { eventId: 'EvRetry1' });
    for (let retry = 1; retry <= 3; retry++) {
      const response = await stack.sendEvent(event, {
        eventId: 'EvRetry1',
        headers: { 'x-slack-retry-num': String(retry), 'x-slack-retry-reason': 'http_timeout' },
      });
      expect(response.status).toBe(200);
    }

    await waitForText('You said: once please');
    await sleep(500);
    expect(model.requests).toHaveLength(1);
    expect(stack.api.callsTo('chat.postMessage').filter((c) => c.args.channel === 'C1')).toHaveLength(1);
  });

  it('ignores its own messages, edits, deletions and other bots', async () => {
    const ts = nextTs();
    await stack.sendEvent(appMention({ user: 'UANA', channel: 'C1', text: '<@UBOT> start', ts }));
    await waitForText('You said: start');

    await stack.sendEvent({
      ...threadReply({ user: 'UBOT', channel: 'C1', text: 'my own words', ts: nextTs(), threadTs: ts }),
    });
    await stack.sendEvent({
      ...threadReply({ user: 'UOTHER', channel: 'C1', text: 'beep', ts: nextTs(), threadTs: ts }),
      bot_id: 'B2',
    });
    await stack.sendEvent({
      type: 'message',
      subtype: 'message_changed',
      channel: 'C1',
      ts: nextTs(),
      message: { user: 'UANA', text: 'edited', ts, thread_ts: ts },
    });
    await stack.sendEvent({
      type: 'message',
      subtype: 'message_deleted',
      channel: 'C1',
      ts: nextTs(),
      deleted_ts: ts,
    });
    await sleep(500);

    expect(model.requests).toHaveLength(1);
  });

  it('refuses a bad signature, a stale timestamp and a body changed by one byte with 401, and starts nothing', async () => {
    const body = eventEnvelope(
      appMention({ user: 'UANA', channel: 'C1', text: '<@UBOT> hack', ts: nextTs() }),
      {
        eventId: 'EvBad1',
      },
    );
    const base = { body, contentType: 'application/json' as const };
    const badSignature = await postToSlackEndpoint(stack.eventsUrl, {
      ...base,
      signingSecret: 'wrong-secret',
    });
    const stale = await postToSlackEndpoint(stack.eventsUrl, {
      ...base,
      signingSecret: SIGNING_SECRET,
      timestampSeconds: Math.floor(Date.now() / 1000) - 6 * 60,
    });
    const tampered = await postToSlackEndpoint(stack.eventsUrl, {
      ...base,
      signingSecret: SIGNING_SECRET,
      tamper: (signed) => signed.replace('hack', 'hacK'),
    });

    for (const response of [badSignature, stale, tampered]) {
      expect(response.status).toBe(401);
      expect(response.body).toBe('');
    }
    await sleep(300);
    expect(model.requests).toHaveLength(0);
    expect(stack.api.callsTo('chat.postMessage')).toHaveLength(0);
  });

  it('sends model text that tries to ping @channel to Slack escaped', async () => {
    await model.close();
    model = await startScriptedOpenAI({
      fallback: { reply: 'Heads up <!channel> and <!here|here> and <!subteam^S123>!' },
    });
    await stack.close();
    stack = await startSlackStack({ model, yaml: YAML });

    await stack.sendEvent(
      appMention({ user: 'UANA', channel: 'C1', text: '<@UBOT> announce', ts: nextTs() }),
    );

    const answer = await waitForText('Heads up');
    const text = String(answer.args.text);
    expect(text).not.toMatch(/<!(channel|here|everyone|subteam)/);
    expect(text).toContain('&lt;!channel&gt;');
  });

  it('answers the health and readiness probes on the same port', async () => {
    const health = await fetch(`${stack.baseUrl}/healthz`);
    const ready = await fetch(`${stack.baseUrl}/readyz`);
    expect([health.status, await health.json()]).toEqual([200, { status: 'ok' }]);
    expect([ready.status, await ready.json()]).toEqual([200, { status: 'ready' }]);
  });
});
