import { once } from 'node:events';
import { createInflate } from 'node:zlib';
import {
  ChannelType,
  Client,
  DiscordAPIError,
  Events,
  GatewayIntentBits,
  type Interaction,
  type Message,
  MessageFlags,
  Partials,
  type WebSocketOptions,
} from 'discord.js';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { type FakeDiscord, type FakeDiscordOptions, startFakeDiscord } from '../../fakes/fake-discord.ts';

const USER = { id: '900000000000000100', username: 'alice' };
const ADMIN_ROLE = '900000000000000200';

const INTENTS = [
  GatewayIntentBits.Guilds,
  GatewayIntentBits.GuildMessages,
  GatewayIntentBits.MessageContent,
  GatewayIntentBits.DirectMessages,
];

let discord: FakeDiscord | undefined;
const clients: Client[] = [];

async function start(options: FakeDiscordOptions = {}): Promise<FakeDiscord> {
  discord = await startFakeDiscord({ members: { [USER.id]: { roles: [ADMIN_ROLE] } }, ...options });
  return discord;
}

/** The real Client, pointed at the fake: `rest.api` is all it takes (the gateway URL comes from REST). */
async function login(
  fake: FakeDiscord,
  intents: GatewayIntentBits[] = INTENTS,
  ws: WebSocketOptions = {},
): Promise<Client<true>> {
  const created = new Client({ intents, partials: [Partials.Channel], rest: { api: fake.apiUrl }, ws });
  clients.push(created);
  const ready = once(created, Events.ClientReady);
  await created.login('fake-token');
  await ready;
  if (!created.isReady()) throw new Error('client not ready after clientReady');
  return created;
}

/** Collect events of one kind so a test can assert "exactly once". */
function collect<T>(target: Client, event: string): T[] {
  const seen: T[] = [];
  target.on(event, (value: T) => seen.push(value));
  return seen;
}

afterEach(async () => {
  // Client first: a live client treats the fake going away as a drop and keeps reconnecting.
  await Promise.all(clients.splice(0).map((created) => created.destroy()));
  await discord?.close();
  discord = undefined;
});

describe('fake Discord, driven by the real discord.js Client', () => {
  let fake: FakeDiscord;
  beforeEach(async () => {
    fake = await start();
  });

  it('logs in: GET /gateway/bot, IDENTIFY, READY + GUILD_CREATE, clientReady', async () => {
    const bot = await login(fake);

    expect(bot.user.id).toBe(fake.botUserId);
    expect(bot.application.id).toBe(fake.applicationId);
    const guild = bot.guilds.cache.get(fake.guildId);
    expect(guild?.available).toBe(true);
    expect(guild?.channels.cache.get(fake.textChannelId)?.type).toBe(ChannelType.GuildText);
    expect(guild?.members.me?.id).toBe(fake.botUserId);
    expect(fake.callsTo('GET', /^\/gateway\/bot$/)[0]?.authorization).toBe('Bot fake-token');
    expect(fake.connections[0]).toEqual({ path: '/gateway', query: { v: '10', encoding: 'json' } });
    const identify = fake.gatewayFrames.find((frame) => (frame as { op?: number }).op === 2);
    expect(identify).toMatchObject({
      d: { token: 'fake-token', intents: 37377, compress: false, shard: [0, 1] },
    });
    expect(fake.sessions()).toBe(1);
  });

  it('delivers a guild MESSAGE_CREATE as messageCreate, and message.reply reaches POST /channels/:id/messages', async () => {
    const bot = await login(fake);
    const received = once(bot, Events.MessageCreate) as Promise<[Message]>;
    const sent = fake.dispatchMessageCreate({
      channel_id: fake.textChannelId,
      author: USER,
      content: `<@${fake.botUserId}> hello`,
      mentions: [{ id: fake.botUserId }],
    });
    const [message] = await received;

    expect(message.id).toBe(sent.id);
    expect(message.content).toBe(`<@${fake.botUserId}> hello`);
    expect(message.inGuild()).toBe(true);
    expect(message.member?.roles.cache.has(ADMIN_ROLE)).toBe(true);
    expect(message.mentions.users.has(fake.botUserId)).toBe(true);

    if (!message.channel.isSendable()) throw new Error('guild text channel should be sendable');
    await message.channel.sendTyping();
    const reply = await message.reply('hi');
    expect(reply.content).toBe('hi');
    expect(reply.author.id).toBe(fake.botUserId);
    const post = await fake.waitForCall('POST', /^\/channels\/900000000000000010\/messages$/);
    expect(post.body).toMatchObject({ content: 'hi', message_reference: { message_id: sent.id } });
    expect(fake.callsTo('POST', /\/typing$/)).toHaveLength(1);

    const edited = await reply.edit('hi again');
    expect(edited.content).toBe('hi again');
    expect(fake.callsTo('PATCH', new RegExp(`/messages/${reply.id}$`))[0]?.body).toMatchObject({
      content: 'hi again',
    });

    // A thread started from a message shares the message's id, as on Discord.
    const thread = await message.startThread({ name: 'steward run' });
    expect(thread.id).toBe(message.id);
    expect(thread.parentId).toBe(fake.textChannelId);
    await thread.send('in thread');
    await fake.waitForCall('POST', new RegExp(`^/channels/${message.id}/messages$`));
  });

  it('delivers a DM (channel_type 1) to a Partials.Channel client and DMs back', async () => {
    const bot = await login(fake);
    const received = once(bot, Events.MessageCreate) as Promise<[Message]>;
    fake.dispatchMessageCreate({
      channel_id: '900000000000000300',
      guild_id: null,
      author: USER,
      content: 'psst',
    });
    const [message] = await received;

    expect(message.content).toBe('psst');
    expect(message.inGuild()).toBe(false);
    expect(message.channel.type).toBe(ChannelType.DM);
    if (!message.channel.isSendable()) throw new Error('DM channel should be sendable');
    await message.channel.send('pong');
    await fake.waitForCall('POST', /^\/channels\/900000000000000300\/messages$/);

    const user = await bot.users.fetch(USER.id);
    const dm = await user.createDM(true);
    expect(dm.id).toBe('900000000000000300');
    expect(fake.callsTo('POST', /^\/users\/@me\/channels$/)[0]?.body).toEqual({ recipient_id: USER.id });
  });

  it('blanks guild content without the Message Content intent unless the bot is mentioned', async () => {
    const bot = await login(fake, [GatewayIntentBits.Guilds, GatewayIntentBits.GuildMessages]);
    const messages = collect<Message>(bot, Events.MessageCreate);
    fake.dispatchMessageCreate({ channel_id: fake.textChannelId, author: USER, content: 'chatter' });
    fake.dispatchMessageCreate({
      channel_id: fake.textChannelId,
      author: USER,
      content: `<@${fake.botUserId}> status`,
      mentions: [{ id: fake.botUserId }],
    });
    await fake.waitFor(() => messages.length === 2, 'two messages');
    expect(messages.map((message) => message.content)).toEqual(['', `<@${fake.botUserId}> status`]);
  });

  it('delivers a button click as interactionCreate; deferUpdate and followUp reach the callback routes', async () => {
    const bot = await login(fake);
    const interactions = once(bot, Events.InteractionCreate) as Promise<[Interaction]>;
    const payload = fake.buttonInteraction({ userId: USER.id, customId: 'approve:run-1' });
    await fake.dispatchInteraction(payload);
    const [interaction] = await interactions;
    if (!interaction.isButton()) throw new Error(`expected a button, got type ${interaction.type}`);

    expect(interaction.customId).toBe('approve:run-1');
    expect(interaction.user.id).toBe(USER.id);
    expect(interaction.inCachedGuild() && interaction.member.roles.cache.has(ADMIN_ROLE)).toBe(true);
    expect(interaction.message.id).toBe(payload.message?.id);

    await interaction.deferUpdate();
    await interaction.followUp({ content: 'approved', flags: MessageFlags.Ephemeral });
    const callback = await fake.waitForInteractionCallback((r) => r.kind === 'callback');
    expect(callback).toMatchObject({ interactionId: payload.id, type: 6, accepted: true });
    expect(callback.receivedAfterMs).toBeLessThan(3000);
    const followUp = fake.interactionCallbacks.find((r) => r.kind === 'followUp');
    expect(followUp?.body).toMatchObject({ content: 'approved', flags: 64 });
  });

  it('delivers a /steward pause command; deferReply + editReply hit the callback and @original', async () => {
    const bot = await login(fake);
    const interactions = once(bot, Events.InteractionCreate) as Promise<[Interaction]>;
    await fake.dispatchInteraction(fake.commandInteraction({ userId: USER.id, subcommand: 'pause' }));
    const [interaction] = await interactions;
    if (!interaction.isChatInputCommand()) throw new Error('expected a chat input command');

    expect(interaction.commandName).toBe('steward');
    expect(interaction.options.getSubcommand()).toBe('pause');
    expect(interaction.memberPermissions?.has('ViewChannel')).toBe(true);
    await interaction.deferReply();
    const edited = await interaction.editReply('paused');
    expect(edited.content).toBe('paused');
    expect(fake.interactionCallbacks.map((r) => [r.kind, r.type])).toEqual([
      ['callback', 5],
      ['editOriginal', undefined],
    ]);
    expect(
      fake.callsTo('PATCH', /^\/webhooks\/900000000000000002\/[^/]+\/messages\/@original$/),
    ).toHaveLength(1);
  });

  it('delivers a DM command with `user` and no member', async () => {
    const bot = await login(fake);
    const interactions = once(bot, Events.InteractionCreate) as Promise<[Interaction]>;
    await fake.dispatchInteraction(
      fake.commandInteraction({ userId: USER.id, guildId: null, subcommand: 'pause' }),
    );
    const [interaction] = await interactions;
    expect(interaction.inGuild()).toBe(false);
    expect(interaction.user.id).toBe(USER.id);
    expect(interaction.member).toBeNull();
  });

  it('RESUMEs after a resumable close, replaying missed dispatches exactly once', async () => {
    const bot = await login(fake);
    const messages = collect<Message>(bot, Events.MessageCreate);
    const resumed = once(bot, Events.ShardResume);

    fake.disconnect(4000);
    // Sent while the socket is down: buffered for the session and replayed after RESUME.
    fake.dispatchMessageCreate({ channel_id: fake.textChannelId, author: USER, content: 'while away' });
    await resumed;
    fake.dispatchMessageCreate({ channel_id: fake.textChannelId, author: USER, content: 'after resume' });
    await fake.waitFor(() => messages.length >= 2, 'both messages');
    await new Promise((resolve) => setTimeout(resolve, 100));

    expect(messages.map((message) => message.content)).toEqual(['while away', 'after resume']);
    expect(fake.resumes()).toBe(1);
    expect(fake.sessions()).toBe(1);
    expect(fake.connections.map((connection) => connection.path)).toEqual(['/gateway', '/gateway-resume']);
  });

  it('re-IDENTIFYs (no RESUME) after a close with 1000', async () => {
    // @discordjs/ws spaces IDENTIFYs 5 s apart (+ up to 1.5 s jitter); a no-op throttler skips the wait.
    const bot = await login(fake, INTENTS, {
      buildIdentifyThrottler: () => ({ waitForIdentify: async () => {} }),
    });
    const reconnected = once(bot, Events.ShardReady);
    fake.disconnect(1000);
    await reconnected;

    expect(fake.sessions()).toBe(2);
    expect(fake.resumes()).toBe(0);
    expect(fake.connections.map((connection) => connection.path)).toEqual(['/gateway', '/gateway']);
  });

  it('dispatches to every live session, or only to the one asked for', async () => {
    const [first, second] = [await login(fake), await login(fake)];
    const firstSeen = collect<Message>(first, Events.MessageCreate);
    const secondSeen = collect<Message>(second, Events.MessageCreate);
    fake.dispatchMessageCreate({ channel_id: fake.textChannelId, author: USER, content: 'to all' });
    fake.dispatchMessageCreate(
      { channel_id: fake.textChannelId, author: USER, content: 'to #1' },
      { only: 1 },
    );
    await fake.waitFor(() => firstSeen.length === 1 && secondSeen.length === 2, 'the dispatches');

    expect(fake.sessions()).toBe(2);
    expect(firstSeen.map((message) => message.content)).toEqual(['to all']);
    expect(secondSeen.map((message) => message.content)).toEqual(['to all', 'to #1']);
  });

  it('records command registration and answers unknown routes with Discord-shaped 404s', async () => {
    const bot = await login(fake);
    const commands = await bot.application.commands.set(
      [
        {
          name: 'steward',
          description: 'Steward',
          options: [{ name: 'pause', description: 'Pause', type: 1 }],
        },
      ],
      fake.guildId,
    );
    expect(commands.first()?.name).toBe('steward');
    expect(fake.callsTo('PUT', /^\/applications\/\d+\/guilds\/\d+\/commands$/)[0]?.body).toMatchObject([
      { name: 'steward' },
    ]);

    const member = await bot.guilds.cache.get(fake.guildId)?.members.fetch(USER.id);
    expect(member?.roles.cache.has(ADMIN_ROLE)).toBe(true);
    const missingMember = await bot.guilds.cache
      .get(fake.guildId)
      ?.members.fetch({ user: '900000000000000999', force: true })
      .catch((error: unknown) => error);
    expect(missingMember).toMatchObject({ code: 10007, status: 404 });

    const unknown = await bot.rest.get('/no/such/route').catch((error: unknown) => error);
    expect(unknown).toBeInstanceOf(DiscordAPIError);
    expect(unknown).toMatchObject({ status: 404, code: 0 });
    expect(fake.callsTo('GET', /^\/no\/such\/route$/)[0]?.status).toBe(404);
  });
});

describe('interaction deadlines', () => {
  it('answers reply({ ephemeral }) with callback type 4 and flags 64, and refuses a late callback', async () => {
    const slow = await start({ interactionTimeoutMs: 300 });
    const bot = await login(slow);
    const seen = collect<Interaction>(bot, Events.InteractionCreate);
    await slow.dispatchInteraction(slow.buttonInteraction({ userId: USER.id, customId: 'a' }));
    await slow.dispatchInteraction(slow.buttonInteraction({ userId: USER.id, customId: 'b' }));
    await slow.waitFor(() => seen.length === 2, 'two interactions');
    const [first, second] = seen;
    if (!first?.isButton() || !second?.isButton()) throw new Error('expected buttons');

    const response = await first.reply({ content: 'only you', ephemeral: true, withResponse: true });
    expect(response.resource?.message?.content).toBe('only you');
    expect(response.interaction.responseMessageEphemeral).toBe(true);
    expect(slow.interactionCallbacks[0]).toMatchObject({
      type: 4,
      body: { data: { content: 'only you', flags: 64 } },
    });
    await new Promise((resolve) => setTimeout(resolve, 350));
    const late = await second.deferUpdate().catch((error: unknown) => error);
    expect(late).toBeInstanceOf(DiscordAPIError);
    expect(late).toMatchObject({ code: 10062, status: 404 });
  });
});

describe('privileged intents', () => {
  it('closes with 4014 when IDENTIFY asks for an intent the portal has not enabled; login rejects', async () => {
    const fake = await start({ intentsAllowed: 0 });
    const created = new Client({
      intents: INTENTS,
      partials: [Partials.Channel],
      rest: { api: fake.apiUrl },
    });
    clients.push(created);
    const disconnects = collect<{ code: number }>(created, Events.ShardDisconnect);

    const failure = await created.login('fake-token').catch((error: unknown) => error);

    expect(failure).toBeInstanceOf(Error);
    expect((failure as Error).message).toBe('Used disallowed intents');
    expect(disconnects.map((event) => event.code)).toEqual([4014]);
    expect(fake.sessions()).toBe(1);
  });
});

describe('fake Discord gateway, raw protocol', () => {
  it('serves zlib-stream, ACKs heartbeats and invalidates an unknown RESUME', async () => {
    const fake = await start();
    const socket = new WebSocket(`${fake.gatewayUrl}?v=10&encoding=json&compress=zlib-stream`);
    const inflate = createInflate();
    const payloads: Array<{ op: number; d: unknown }> = [];
    let text = '';
    inflate.on('data', (chunk: Buffer) => {
      text += chunk.toString('utf8');
      // Each frame ends in a sync flush, so inflated text splits on whole payloads.
      try {
        payloads.push(JSON.parse(text));
        text = '';
      } catch {}
    });
    socket.on('message', (data: Buffer) => inflate.write(data));
    await once(socket, 'open');
    await fake.waitFor(() => payloads.length === 1, 'HELLO');
    socket.send(JSON.stringify({ op: 1, d: null }));
    socket.send(JSON.stringify({ op: 6, d: { token: 'fake-token', session_id: 'nope', seq: 3 } }));
    await fake.waitFor(() => payloads.length === 3, 'ACK and INVALID_SESSION');
    socket.close();
    inflate.close();

    expect(payloads).toEqual([
      { op: 10, d: { heartbeat_interval: 1000, _trace: expect.any(Array) }, s: null, t: null },
      { op: 11, d: null, s: null, t: null },
      { op: 9, d: false, s: null, t: null },
    ]);
  });
});
