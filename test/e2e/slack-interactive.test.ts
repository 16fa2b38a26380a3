import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type CountingServer, startCountingServer } from '../fakes/counting-server.ts';
import { jsonArg, type RecordedCall } from '../fakes/fake-slack-api.ts';
import { type ScriptedOpenAI, startScriptedOpenAI } from '../fakes/scripted-openai-server.ts';
import { appMention, blockActionBody, slashCommandBody, threadReply } from '../fakes/slack-signing.ts';
import { nextTs, type SlackStack, startSlackStack } from '../support/slack-stack.ts';
import { refundConfigYaml } from '../support/steward-nodes.ts';

let model: ScriptedOpenAI;
let shop: CountingServer;
let stack: SlackStack;

function yaml(): string {
  return refundConfigYaml(shop, {
    lookup: true,
    extra: `approvals:
  approvers: { slack: [ULEAD, ULEAD2] }
  allowSelfApproval: false
admins: { slack: [UCONFIGADMIN] }
escalation:
  notify: { slack: [SONCALL] }
`,
  });
}

beforeEach(async () => {
  shop = await startCountingServer();
  model = await startScriptedOpenAI();
  stack = await startSlackStack({
    model,
    yaml: yaml(),
    users: { UADMIN: { is_admin: true }, UANA: {}, ULEAD: {}, USTRANGER: {} },
  });
});
afterEach(async () => {
  await stack.close();
  await model.close();
  await shop.close();
});

/** The message whose blocks carry a button with this action id, and that button's value. */
async function buttonIn(actionId: string): Promise<{ call: RecordedCall; value: string; ts: string }> {
  const has = (call: RecordedCall) =>
    JSON.stringify(jsonArg(call, 'blocks') ?? '').includes(`"action_id":"${actionId}"`);
  const call = await Promise.any([
    stack.api.waitForCall('chat.update', has),
    stack.api.waitForCall('chat.postMessage', has),
  ]);
  const blocks = JSON.stringify(jsonArg(call, 'blocks'));
  const value = new RegExp(
    `"action_id":"${actionId}"[^}]*?"value":"([^"]+)"|"value":"([^"]+)"[^}]*?"action_id":"${actionId}"`,
  ).exec(blocks);
  return { call, value: value?.[1] ?? value?.[2] ?? '', ts: String(call.args.ts ?? '') };
}

function click(user: string, actionId: string, value: string, messageTs: string, threadTs: string) {
  return stack.sendForm(
    blockActionBody({
      user,
      channel: 'C1',
      messageTs,
      threadTs,
      actionId,
      value,
      responseUrl: stack.api.responseUrl(`click-${user}`),
    }),
  );
}

const blocksOf = (call: RecordedCall) => JSON.stringify(jsonArg(call, 'blocks') ?? '');

const ephemeralTo = (user: string) => (call: RecordedCall) => call.args.user === user;

describe('Slack approvals, escalations and /steward', () => {
  it('posts an approval card, refuses strangers and the requester, runs the tool once for an approver, and records the outcome', async () => {
    model.enqueue(
      { toolCalls: [{ name: 'refund_order', arguments: { order_id: '7' } }] },
      { reply: 'Refunded order 7.' },
    );
    const thread = nextTs();
    await stack.sendEvent(
      appMention({ user: 'UANA', channel: 'C1', text: '<@UBOT> refund order 7', ts: thread }),
    );

    const card = await buttonIn('steward_approve');
    const blocks = JSON.stringify(jsonArg(card.call, 'blocks'));
    expect(blocks).toContain('refund_order');
    expect(blocks).toContain('"style":"primary"');
    expect(blocks).toContain('"style":"danger"');
    expect(blocks).toContain('<@ULEAD>');
    expect(card.value).toMatch(/^[0-9a-f-]{36}_[0-9a-f]{12}$/);
    const updatesBefore = stack.api.callsTo('chat.update').length;

    expect((await click('USTRANGER', 'steward_approve', card.value, card.ts, thread)).status).toBe(200);
    const refusal = await stack.api.waitForCall('chat.postEphemeral', ephemeralTo('USTRANGER'));
    expect(String(refusal.args.text)).toContain('not one of the approvers');
    await click('UANA', 'steward_approve', card.value, card.ts, thread);
    const selfRefusal = await stack.api.waitForCall('chat.postEphemeral', ephemeralTo('UANA'));
    expect(String(selfRefusal.args.text)).toContain('someone else');
    await sleep(200);
    expect(stack.api.callsTo('chat.update')).toHaveLength(updatesBefore);
    expect(shop.requests).toEqual([]);

    await click('ULEAD', 'steward_approve', card.value, card.ts, thread);
    const decided = await stack.api.waitForCall('chat.update', (c) =>
      blocksOf(c).includes('Approved by <@ULEAD>'),
    );
    expect(blocksOf(decided)).not.toContain('steward_approve');
    expect(stack.api.callsTo('chat.update').some((c) => blocksOf(c).includes('Handling <@ULEAD>'))).toBe(
      true,
    );
    await stack.api.waitForCall('chat.postMessage', (c) => String(c.args.text).includes('Refunded order 7.'));
    expect(shop.requests.map((r) => r.path)).toEqual(['/refund/7']);

    await click('ULEAD2', 'steward_approve', card.value, card.ts, thread);
    const late = await stack.api.waitForCall('chat.postEphemeral', ephemeralTo('ULEAD2'));
    expect(String(late.args.text)).toMatch(/^Already approved by ULEAD at/);
    expect(shop.requests).toHaveLength(1);
  });

  it('posts an escalation card with the on-call group when a guard trips; Take over silences Steward in the thread', async () => {
    const same = { toolCalls: [{ name: 'get_item', arguments: { id: '1' } }] };
    model.enqueue(same, same, same);
    const thread = nextTs();
    await stack.sendEvent(
      appMention({ user: 'UANA', channel: 'C1', text: '<@UBOT> look it up', ts: thread }),
    );

    const card = await buttonIn('steward_take_over');
    const blocks = JSON.stringify(jsonArg(card.call, 'blocks'));
    expect(blocks).toContain('the same call to get_item was made 3 times');
    expect(blocks).toContain('<!subteam^SONCALL>');
    expect(blocks).toContain('steward_retry');
    expect(blocks).toContain('steward_dismiss');

    await click('UBOB', 'steward_take_over', card.value, card.ts, thread);
    await stack.api.waitForCall('chat.update', (c) => blocksOf(c).includes('Taken over by <@UBOB>'));
    const requestsBefore = model.requests.length;
    await stack.sendEvent(
      threadReply({ user: 'UANA', channel: 'C1', text: 'hello?', ts: nextTs(), threadTs: thread }),
    );
    await stack.sendEvent(
      appMention({
        user: 'UANA',
        channel: 'C1',
        text: '<@UBOT> are you there?',
        ts: nextTs(),
        threadTs: thread,
      }),
    );
    await sleep(500);
    expect(model.requests).toHaveLength(requestsBefore);

    // Only the person who took over (or an admin) hands the thread back; then Steward answers again.
    const release = await buttonIn('steward_release');
    await click('UANA', 'steward_release', release.value, release.ts, thread);
    expect(String((await stack.api.waitForCall('chat.postEphemeral', ephemeralTo('UANA'))).args.text)).toBe(
      'Only UBOB or an admin can hand this thread back to Steward.',
    );
    await click('UBOB', 'steward_release', release.value, release.ts, thread);
    await stack.api.waitForCall('chat.update', (c) => blocksOf(c).includes('Released by <@UBOB>'));
    model.enqueue({ reply: 'Back again.' });
    await stack.sendEvent(
      appMention({ user: 'UANA', channel: 'C1', text: '<@UBOT> and now?', ts: nextTs(), threadTs: thread }),
    );
    await stack.api.waitForCall('chat.update', (c) => String(c.args.text).includes('Back again.'));
  });

  it('/steward pause is refused for a non-admin; for an admin it stops new runs in the channel with a clear message', async () => {
    await stack.sendForm(
      slashCommandBody({
        text: 'pause',
        userId: 'UANA',
        channelId: 'C1',
        responseUrl: stack.api.responseUrl('anna'),
      }),
    );
    const refused = await stack.api.waitForCall('response_url:anna');
    expect(String(refused.args.text)).toContain('Only workspace admins');
    expect(refused.args.response_type).toBe('ephemeral');

    await stack.sendForm(
      slashCommandBody({
        text: 'pause',
        userId: 'UADMIN',
        channelId: 'C1',
        responseUrl: stack.api.responseUrl('admin'),
      }),
    );
    const paused = await stack.api.waitForCall('response_url:admin');
    expect(String(paused.args.text).toLowerCase()).toContain('paused');

    await stack.sendEvent(appMention({ user: 'UANA', channel: 'C1', text: '<@UBOT> hello', ts: nextTs() }));
    const notice = await stack.api.waitForCall('chat.postEphemeral', ephemeralTo('UANA'));
    expect(String(notice.args.text)).toBe('Steward is paused in this channel. An admin can resume it.');
    expect(model.requests).toHaveLength(0);

    await stack.sendForm(
      slashCommandBody({
        text: 'bogus args here',
        userId: 'UCONFIGADMIN',
        channelId: 'C1',
        responseUrl: stack.api.responseUrl('usage'),
      }),
    );
    expect(String((await stack.api.waitForCall('response_url:usage')).args.text)).toContain(
      'Usage: /steward',
    );
  });

  it('shows tool progress in the status message, waits out a 429, and replaces the status with the answer once', async () => {
    model.enqueue(
      { toolCalls: [{ name: 'get_item', arguments: { id: '1234' } }] },
      { reply: 'Item 1234 is in stock.' },
    );
    stack.api.rateLimitNext('chat.update', 1);
    await stack.sendEvent(
      appMention({ user: 'UANA', channel: 'C1', text: '<@UBOT> item 1234?', ts: nextTs() }),
    );

    const answer = await stack.api.waitForCall(
      'chat.update',
      (c) => String(c.args.text).includes('Item 1234 is in stock.'),
      15_000,
    );
    expect(answer.args.channel).toBe('C1');
    expect(stack.api.rateLimited.map((c) => c.method)).toEqual(['chat.update']);
    const updates = stack.api.callsTo('chat.update').map((c) => `${String(c.args.text)} ${blocksOf(c)}`);
    expect(updates.some((u) => u.includes('Running get_item (id: 1234)…'))).toBe(true);
    expect(updates.filter((u) => u.includes('Item 1234 is in stock.'))).toHaveLength(1);
    expect(stack.api.callsTo('chat.postMessage')).toHaveLength(1);
  }, 30_000);

  it('lets only admins retry an escalated run, with raised limits, and anyone dismiss the card', async () => {
    const same = { toolCalls: [{ name: 'get_item', arguments: { id: '1' } }] };
    model.enqueue(same, same, same, { reply: 'Second try worked.' });
    const thread = nextTs();
    await stack.sendEvent(
      appMention({ user: 'UANA', channel: 'C1', text: '<@UBOT> look it up', ts: thread }),
    );
    const card = await buttonIn('steward_retry');

    await click('UANA', 'steward_retry', card.value, card.ts, thread);
    const refused = await stack.api.waitForCall('chat.postEphemeral', ephemeralTo('UANA'));
    expect(String(refused.args.text)).toBe('Only admins can retry a run with raised limits.');

    while ((await stack.runtime.steward.runs.get(card.value))?.status !== 'escalated') await sleep(20);
    await click('UADMIN', 'steward_retry', card.value, card.ts, thread);
    await stack.api.waitForCall('chat.update', (c) => blocksOf(c).includes('Retried by <@UADMIN>'));
    await Promise.any([
      stack.api.waitForCall('chat.update', (c) => String(c.args.text).includes('Second try worked.')),
      stack.api.waitForCall('chat.postMessage', (c) => String(c.args.text).includes('Second try worked.')),
    ]);
    expect(
      model.requests
        .at(-1)
        ?.messages?.filter((m) => m.role === 'user')
        .at(-1)?.content,
    ).toBe('look it up');

    await click('UANA', 'steward_dismiss', card.value, card.ts, thread);
    await stack.api.waitForCall('chat.update', (c) => blocksOf(c).includes('Dismissed by <@UANA>'));
  });
});
