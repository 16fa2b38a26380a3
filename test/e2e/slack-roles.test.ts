import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { type ScriptedOpenAI, startScriptedOpenAI } from '../fakes/scripted-openai-server.ts';
import { appMention } from '../fakes/slack-signing.ts';
import { nextTs, type SlackStack, startSlackStack } from '../support/slack-stack.ts';

const YAML = `agents:
  support:
    instructions: Help.
`;

let model: ScriptedOpenAI | undefined;
let stack: SlackStack | undefined;
afterEach(async () => {
  await stack?.close();
  await model?.close();
});

describe('STEWARD_ROLE: ingress and worker processes', () => {
  it('an ingress process acks and queues but runs nothing; a worker process runs it and posts the answer', async () => {
    model = await startScriptedOpenAI({ fallback: { reply: 'answered by the worker' } });
    stack = await startSlackStack({ model, yaml: YAML, env: { STEWARD_ROLE: 'ingress' } });

    const thread = nextTs();
    const ack = await stack.sendEvent(
      appMention({ user: 'UANA', channel: 'C1', text: '<@UBOT> hello', ts: thread }),
    );
    expect(ack.status).toBe(200);
    // Queued and shown as working, but nobody drives the run here.
    await stack.api.waitForCall('chat.postMessage', (call) => call.args.thread_ts === thread);
    await sleep(1_000);
    expect(model.requests).toHaveLength(0);

    const worker = await stack.startWorker();
    const answer = await stack.api.waitForCall(
      'chat.update',
      (call) => String(call.args.text ?? '').includes('answered by the worker'),
      10_000,
    );
    expect(answer.args.channel).toBe('C1');
    expect(model.requests).toHaveLength(1);
    // The worker serves its health probes but no Slack endpoint: only the ingress process takes events.
    expect((await fetch(`http://127.0.0.1:${worker.port}/readyz`)).status).toBe(200);
    expect(
      (await fetch(`http://127.0.0.1:${worker.port}/slack/events`, { method: 'POST', body: '{}' })).status,
    ).toBe(404);
  });
});
