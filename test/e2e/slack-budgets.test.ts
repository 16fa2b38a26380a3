import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { jsonArg } from '../fakes/fake-slack-api.ts';
import { type ScriptedOpenAI, startScriptedOpenAI } from '../fakes/scripted-openai-server.ts';
import { appMention, blockActionBody } from '../fakes/slack-signing.ts';
import { nextTs, type SlackStack, startSlackStack } from '../support/slack-stack.ts';

let model: ScriptedOpenAI;
let stack: SlackStack;

beforeEach(async () => {
  model = await startScriptedOpenAI({ fallback: { reply: 'done' } });
  stack = await startSlackStack({
    model,
    yaml: `agents:
  support:
    instructions: Help.
admins: { slack: [UBOSS01, UBOSS02] }
budgets:
  channel: { tokensPerDay: 0 }
`,
    users: { UANA: {}, UBOSS01: {} },
  });
});
afterEach(async () => {
  await stack.close();
  await model.close();
});

describe('Slack budget refusals', () => {
  it('shows the refusal to the person alone with a Request more button that pings the admins once', async () => {
    const thread = nextTs();
    await stack.sendEvent(appMention({ user: 'UANA', channel: 'C1', text: '<@UBOT> hello', ts: thread }));

    const refusal = await stack.api.waitForCall('chat.postEphemeral', (call) => call.args.user === 'UANA');
    expect(refusal.args.thread_ts).toBe(thread);
    expect(String(refusal.args.text)).toMatch(
      /^This channel's daily token budget is used up: 0 tokens of 0 tokens\./,
    );
    const blocks = JSON.stringify(jsonArg(refusal, 'blocks'));
    expect(blocks).toContain('"action_id":"steward_budget_request"');
    expect(blocks).toContain('"value":"channel-tokens-day"');
    expect(model.requests).toHaveLength(0);

    const click = (trigger: string) =>
      stack.sendForm(
        blockActionBody({
          user: 'UANA',
          channel: 'C1',
          messageTs: nextTs(),
          threadTs: thread,
          actionId: 'steward_budget_request',
          value: 'channel-tokens-day',
          responseUrl: stack.api.responseUrl(trigger),
        }),
      );
    await click('first');
    const ping = await stack.api.waitForCall('chat.postMessage', (call) =>
      String(call.args.text).includes('asks for more budget'),
    );
    expect(String(ping.args.text)).toMatch(
      /^<@UANA> asks for more budget: this channel's daily token limit is used up/,
    );
    expect(String(ping.args.text)).toMatch(/<@UBOSS01> <@UBOSS02>$/);

    await click('second');
    await stack.api.waitForCall('chat.postEphemeral', (call) =>
      String(call.args.text).startsWith('You already asked the admins'),
    );
    expect(
      stack.api.calls.filter((call) => String(call.args.text ?? '').includes('asks for more budget')),
    ).toHaveLength(1);
  });

  it('ignores a budget button whose value is not one of Steward’s limits', async () => {
    const response = await stack.sendForm(
      blockActionBody({
        user: 'UANA',
        channel: 'C1',
        messageTs: nextTs(),
        threadTs: nextTs(),
        actionId: 'steward_budget_request',
        value: 'channel-tokens-forever',
        responseUrl: stack.api.responseUrl('bad'),
      }),
    );
    expect(response.status).toBe(200);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(stack.api.calls.filter((call) => call.method === 'chat.postMessage')).toHaveLength(0);
    expect(stack.logLines.join('')).toContain('ignored a Slack button click that is not one of Steward');
  });
});
