import nock from 'nock';
import { afterEach, describe, expect, it } from 'vitest';
import { type ScriptedOpenAI, startScriptedOpenAI } from '../fakes/scripted-openai-server.ts';
import { type ContractDriver, discordDriver, slackDriver } from '../support/contract-drivers.ts';

/**
 * One contract for every platform adapter: what a person sees must not depend on which platform
 * they use. Each platform runs the same checks through its real library against its fake.
 */
describe.each([
  ['slack', slackDriver],
  ['discord', discordDriver],
] as const)('adapter contract: %s', (_name, start) => {
  let model: ScriptedOpenAI | undefined;
  let driver: ContractDriver | undefined;
  afterEach(async () => {
    await driver?.close();
    await model?.close();
    nock.cleanAll();
    nock.enableNetConnect();
  });

  async function open() {
    model = await startScriptedOpenAI({ fallback: { reply: 'contract answer' } });
    driver = await start(model);
    return { model, driver };
  }

  it('answers in the conversation the message opened, and nowhere else (id round trip)', async () => {
    const { driver } = await open();
    const conversation = await driver.mention('hello');
    await driver.answered(conversation, 'contract answer');
    expect(driver.postedElsewhere(conversation)).toBe(0);
  });

  it('ignores its own messages', async () => {
    const { driver, model } = await open();
    await driver.ownMessage('talking to myself');
    const conversation = await driver.mention('real question');
    await driver.answered(conversation, 'contract answer');
    expect(model.requests).toHaveLength(1);
  });

  it('renders an approval whose buttons carry only the approval id, and replaces them with the outcome', async () => {
    const { driver, model } = await open();
    nock.disableNetConnect();
    nock.enableNetConnect('127.0.0.1');
    const tag = nock('https://shop.example.com').post('/orders/7/tags').reply(200, { ok: true });
    model.enqueue({ toolCalls: [{ name: 'tag_order', arguments: { id: '7' } }] }, { reply: 'Tagged.' });
    const conversation = await driver.mention('tag order 7');

    const approvalId = await driver.approvalCard(conversation);
    expect(approvalId).toMatch(/^[0-9a-f-]{36}_[0-9a-f]{12}$/);
    await driver.approve(conversation, approvalId, driver.approver);

    const decided = await driver.decidedCard(conversation);
    expect(decided.buttons).toBe(0);
    expect(decided.text).toContain(driver.approver);
    await driver.answered(conversation, 'Tagged.');
    expect(tag.isDone()).toBe(true);
  });

  it('renders an escalation with buttons that carry only the run id', async () => {
    const { driver, model } = await open();
    const same = { toolCalls: [{ name: 'get_item', arguments: { id: '1' } }] };
    nock.disableNetConnect();
    nock.enableNetConnect('127.0.0.1');
    nock('https://shop.example.com').get('/items/1').times(2).reply(200, { id: '1' });
    model.enqueue(same, same, same);
    const conversation = await driver.mention('look it up');

    expect(await driver.escalationCard(conversation)).toMatch(/^[0-9a-f-]{36}$/);
  });
});
