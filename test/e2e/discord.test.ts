import { setTimeout as sleep } from 'node:timers/promises';
import { PermissionFlagsBits } from 'discord.js';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type CountingServer, startCountingServer } from '../fakes/counting-server.ts';
import { type FakeDiscord, startFakeDiscord } from '../fakes/fake-discord.ts';
import {
  type RecordedChatBody,
  type ScriptedOpenAI,
  startScriptedOpenAI,
} from '../fakes/scripted-openai-server.ts';
import { type DiscordStack, startDiscordStack } from '../support/discord-stack.ts';
import { testPrefix } from '../support/redis.ts';
import { refundConfigYaml } from '../support/steward-nodes.ts';

const ANA = '100000000000000001';
const LEAD = '100000000000000002';
const STRANGER = '100000000000000003';
const ADMIN = '100000000000000004';
const DM_CHANNEL = '300000000000000001';
const MANAGE_GUILD = PermissionFlagsBits.ManageGuild.toString();

let discord: FakeDiscord;
let model: ScriptedOpenAI;
let shop: CountingServer;
const stacks: DiscordStack[] = [];

function yaml(): string {
  return refundConfigYaml(shop, {
    lookup: true,
    extra: `approvals:\n  approvers: { discord: ["${LEAD}"] }\n`,
  });
}

function echo(delayMs = 0) {
  return {
    respond: async (body: RecordedChatBody) => {
      if (delayMs > 0) await sleep(delayMs);
      return {
        reply: `You said: ${String((body.messages ?? []).filter((m) => m.role === 'user').at(-1)?.content)}`,
      };
    },
  };
}

beforeEach(async () => {
  shop = await startCountingServer();
  discord = await startFakeDiscord({
    members: {
      [ADMIN]: { permissions: MANAGE_GUILD },
      [ANA]: { permissions: '0' },
      [STRANGER]: { permissions: '0' },
    },
  });
});
afterEach(async () => {
  for (const stack of stacks.splice(0)) await stack.close();
  await model.close();
  await discord.close();
  await shop.close();
});

async function stack(prefix?: string): Promise<DiscordStack> {
  const started = await startDiscordStack({ discord, model, yaml: yaml(), ...(prefix ? { prefix } : {}) });
  stacks.push(started);
  return started;
}

const posted = (channelId: string) =>
  discord
    .callsTo('POST', new RegExp(`^/channels/${channelId}/messages$`))
    .map((c) => c.body as Record<string, unknown>);

function mention(text: string) {
  return discord.dispatchMessageCreate({
    channel_id: discord.textChannelId,
    author: { id: ANA },
    content: `<@${discord.botUserId}> ${text}`,
    mentions: [{ id: discord.botUserId }],
  });
}

describe('Discord', () => {
  it('answers a DM once in the DM, and never answers its own message', async () => {
    model = await startScriptedOpenAI({ fallback: echo() });
    await stack();

    discord.dispatchMessageCreate({
      channel_id: DM_CHANNEL,
      guild_id: null,
      author: { id: ANA },
      content: 'hello there',
    });
    discord.dispatchMessageCreate({
      channel_id: DM_CHANNEL,
      guild_id: null,
      author: { id: discord.botUserId, bot: true },
      content: 'my own words',
    });

    await discord.waitForCall('POST', new RegExp(`^/channels/${DM_CHANNEL}/messages$`));
    await sleep(300);
    expect(posted(DM_CHANNEL).map((b) => b.content)).toEqual(['You said: hello there']);
    expect(discord.callsTo('POST', new RegExp(`^/channels/${DM_CHANNEL}/typing$`)).length).toBeGreaterThan(0);
    expect(model.requests).toHaveLength(1);
  });

  it('answers a mention once, in a thread opened on the message', async () => {
    model = await startScriptedOpenAI({ fallback: echo() });
    await stack();

    const message = mention('where is order 7?');

    await discord.waitForCall('POST', new RegExp(`^/channels/${message.id}/messages$`));
    expect(discord.callsTo('POST', new RegExp(`/messages/${message.id}/threads$`))).toHaveLength(1);
    expect(posted(message.id).map((b) => b.content)).toEqual(['You said: where is order 7?']);
    expect(posted(message.id)[0]?.allowed_mentions).toEqual({ parse: [], replied_user: false });
  });

  it('answers a message dispatched to two logged-in processes once', async () => {
    model = await startScriptedOpenAI({ fallback: echo() });
    const shared = testPrefix('discord-two');
    await stack(shared);
    await stack(shared);
    expect(discord.sessions()).toBe(2);

    const message = mention('only once');

    await discord.waitForCall('POST', new RegExp(`^/channels/${message.id}/messages$`));
    await sleep(500);
    expect(posted(message.id)).toHaveLength(1);
    expect(discord.callsTo('POST', new RegExp(`/messages/${message.id}/threads$`))).toHaveLength(1);
    expect(model.requests).toHaveLength(1);
  });

  it('approvals: a stranger is refused ephemerally, an approver runs the tool once and the buttons are replaced; clicks are acked at once', async () => {
    model = await startScriptedOpenAI({
      script: [{ toolCalls: [{ name: 'refund_order', arguments: { order_id: '7' } }] }],
      fallback: { reply: 'Refunded order 7.' },
    });
    // The shop takes 4 s: the click must still be acknowledged within Discord's 3 s.
    await shop.close();
    shop = await startCountingServer({ delayMs: 4_000 });
    await stack();
    const message = mention('refund order 7');
    const card = await discord.waitForCall('POST', new RegExp(`^/channels/${message.id}/messages$`), (c) =>
      JSON.stringify(c.body).includes('steward:approve:'),
    );
    const cardBody = JSON.stringify(card.body);
    const approvalId = /steward:approve:([0-9a-f-]{36}_[0-9a-f]{12})/.exec(cardBody)?.[1] ?? '';

    const refused = discord.buttonInteraction({
      userId: STRANGER,
      customId: `steward:approve:${approvalId}`,
      channelId: message.id,
    });
    await discord.dispatchInteraction(refused);
    const followUp = await discord.waitForInteractionCallback(
      (c) => c.kind === 'followUp' && c.interactionId === refused.id,
    );
    expect(JSON.stringify(followUp.body)).toContain('not one of the approvers');
    expect((followUp.body as { flags?: number }).flags).toBe(64);
    expect(shop.requests).toEqual([]);

    const approve = discord.buttonInteraction({
      userId: LEAD,
      customId: `steward:approve:${approvalId}`,
      channelId: message.id,
    });
    await discord.dispatchInteraction(approve);
    await discord.waitForCall(
      'POST',
      new RegExp(`^/channels/${message.id}/messages$`),
      (c) => String((c.body as { content?: unknown }).content).includes('Refunded order 7.'),
      15_000,
    );
    const edits = discord.callsTo('PATCH', new RegExp(`^/channels/${message.id}/messages/`));
    const decided = edits.map((e) => e.body as { components?: unknown[]; embeds?: unknown[] }).at(-1);
    expect(decided?.components).toEqual([]);
    expect(JSON.stringify(decided?.embeds)).toContain(`Approved by <@${LEAD}>`);
    expect(shop.requests.map((r) => r.path)).toEqual(['/refund/7']);
    for (const callback of discord.interactionCallbacks.filter((c) => c.kind === 'callback')) {
      expect(callback.receivedAfterMs).toBeLessThan(3_000);
    }
  });

  it('posts the escalation card when a guard trips', async () => {
    const same = { toolCalls: [{ name: 'get_item', arguments: { id: '1' } }] };
    model = await startScriptedOpenAI({ script: [same, same, same] });
    await stack();
    const message = mention('look it up');

    const card = await discord.waitForCall('POST', new RegExp(`^/channels/${message.id}/messages$`), (c) =>
      JSON.stringify(c.body).includes('steward:take_over:'),
    );
    const body = JSON.stringify(card.body);
    expect(body).toContain('the same call to get_item was made 3 times');
    expect(body).toContain('steward:retry:');
    expect(body).toContain('steward:dismiss:');
  });

  it('/steward pause from a member without the permission is refused even if the command is visible; an admin pauses', async () => {
    model = await startScriptedOpenAI({ fallback: echo() });
    await stack();

    const member = discord.commandInteraction({ userId: ANA, subcommand: 'pause' });
    await discord.dispatchInteraction(member);
    const refused = await discord.waitForInteractionCallback(
      (c) => c.kind === 'editOriginal' && c.interactionId === member.id,
    );
    expect(JSON.stringify(refused.body)).toContain('Only server admins');

    const admin = discord.commandInteraction({ userId: ADMIN, subcommand: 'pause' });
    await discord.dispatchInteraction(admin);
    const paused = await discord.waitForInteractionCallback(
      (c) => c.kind === 'editOriginal' && c.interactionId === admin.id,
    );
    expect(JSON.stringify(paused.body).toLowerCase()).toContain('paused');

    mention('hello?');
    await discord.waitForCall('POST', /^\/channels\/\d+\/messages$/, (c) =>
      String((c.body as { content?: unknown }).content).includes('Steward is paused in this channel'),
    );
    expect(model.requests).toHaveLength(0);
  });

  it('/steward budget, tools and resume --global reach the shared router with their options', async () => {
    model = await startScriptedOpenAI({ fallback: echo() });
    await stack();
    const ask = async (options: unknown[]) => {
      const interaction = discord.commandInteraction({ userId: ADMIN, options });
      await discord.dispatchInteraction(interaction);
      const reply = await discord.waitForInteractionCallback(
        (c) => c.kind === 'editOriginal' && c.interactionId === interaction.id,
      );
      return String((reply.body as { content?: unknown }).content);
    };
    const option = (name: string, type: number, value: string | boolean) => ({ name, type, value });
    const budgetSet = (...options: unknown[]) =>
      ask([{ name: 'budget', type: 2, options: [{ name: 'set', type: 1, options }] }]);
    const set = await budgetSet(
      option('scope', 3, 'user'),
      option('unit', 3, 'tokens'),
      option('amount', 3, '500'),
      option('period', 3, 'day'),
      option('user', 6, ANA),
    );
    expect(set).toBe(
      `Set: <@${ANA}> may use 500 tokens per day (was the config default). It applies from the next model call.`,
    );
    const bad = await budgetSet(
      option('scope', 3, 'server'),
      option('unit', 3, 'usd'),
      option('amount', 3, '10k'),
      option('period', 3, 'month'),
    );
    expect(bad).toContain('`10k` is not an amount');
    expect(await ask([{ name: 'budget', type: 2, options: [{ name: 'show', type: 1 }] }])).toContain(
      '*This server*',
    );
    expect(
      await ask([
        { name: 'tools', type: 1, options: [option('action', 3, 'deny'), option('tool', 3, 'refund_order')] },
      ]),
    ).toContain('Denied `refund_order` in this channel');
    expect(await ask([{ name: 'resume', type: 1, options: [option('global', 5, true)] }])).toBe(
      'Steward is not paused everywhere, so there is nothing to resume.',
    );
  });

  it('a gateway disconnect during a run: the bot resumes and the answer arrives once', async () => {
    model = await startScriptedOpenAI({ fallback: echo(800) });
    await stack();
    const message = mention('slow one');
    while (model.requests.length === 0) await sleep(20);

    discord.disconnect(4000);
    await discord.waitFor(() => discord.resumes() === 1, 'a RESUME', 10_000);
    await discord.waitForCall('POST', new RegExp(`^/channels/${message.id}/messages$`));
    await sleep(500);
    expect(posted(message.id).map((b) => b.content)).toEqual(['You said: slow one']);
  });

  it('model text with @everyone causes no mention', async () => {
    model = await startScriptedOpenAI({
      fallback: { reply: 'Hey @everyone and @here and <@&900000000000000003>!' },
    });
    await stack();
    const message = mention('announce');

    const answer = await discord.waitForCall('POST', new RegExp(`^/channels/${message.id}/messages$`));
    const body = answer.body as { content: string; allowed_mentions: unknown };
    // Nothing is parsed for pings and no user or role is allowed: the text cannot mention anyone.
    expect(body.allowed_mentions).toEqual({ parse: [], replied_user: false });
    expect(body.content).not.toMatch(/@everyone|@here|<@&/);
  });
});
