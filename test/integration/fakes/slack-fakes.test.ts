import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { App, HTTPReceiver, LogLevel } from '@slack/bolt';
import { WebClient, WebClientEvent } from '@slack/web-api';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type FakeSlackApi, jsonArg, startFakeSlackApi } from '../../fakes/fake-slack-api.ts';
import { type FakeSocketMode, startFakeSocketMode } from '../../fakes/fake-socket-mode.ts';
import {
  appMention,
  blockActionBody,
  eventCallback,
  eventEnvelope,
  postToSlackEndpoint,
  slashCommandBody,
  slashCommandPayload,
} from '../../fakes/slack-signing.ts';

const SECRET = 'test-signing-secret';
const BOT_TOKEN = 'xoxb-test';

describe('fake Slack Web API, driven by the real WebClient', () => {
  let api: FakeSlackApi;
  beforeEach(async () => {
    api = await startFakeSlackApi({ users: { UADMIN: { is_admin: true, name: 'alice' } } });
  });
  afterEach(() => api.close());

  it('records chat.postMessage with its method, args and bearer token', async () => {
    const client = new WebClient(BOT_TOKEN, { slackApiUrl: api.url });
    const blocks = [{ type: 'section', text: { type: 'mrkdwn', text: '*hi*' } }];
    const first = await client.chat.postMessage({ channel: 'C1', text: 'hello', blocks });
    const second = await client.chat.postMessage({ channel: 'C1', text: 'again', thread_ts: first.ts ?? '' });

    expect(api.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/api\/$/);
    expect(first).toMatchObject({ ok: true, channel: 'C1', message: { text: 'hello', user: 'UBOT' } });
    expect(first.ts).toMatch(/^\d{10}\.\d{6}$/);
    expect(Number(second.ts)).toBeGreaterThan(Number(first.ts));
    const [call] = api.callsTo('chat.postMessage');
    expect(call).toMatchObject({
      method: 'chat.postMessage',
      token: BOT_TOKEN,
      args: { channel: 'C1', text: 'hello' },
    });
    expect(typeof call?.args.blocks).toBe('string');
    expect(call && jsonArg(call, 'blocks')).toEqual(blocks);

    const replies = await client.conversations.replies({ channel: 'C1', ts: first.ts ?? '' });
    expect(replies.messages?.map((m) => m.text)).toEqual(['hello', 'again']);
  });

  it('answers the other methods the adapter reads', async () => {
    const client = new WebClient(BOT_TOKEN, { slackApiUrl: api.url });
    expect(await client.auth.test()).toMatchObject({
      user_id: 'UBOT',
      bot_id: 'BBOT',
      team_id: 'T1',
      user: 'steward',
    });
    expect((await client.users.info({ user: 'UADMIN' })).user).toMatchObject({
      id: 'UADMIN',
      is_admin: true,
      name: 'alice',
    });
    expect((await client.users.info({ user: 'U2' })).user).toMatchObject({
      is_admin: false,
      is_owner: false,
    });
    await expect(client.users.info({ user: 'nobody' })).rejects.toMatchObject({
      data: { error: 'user_not_found' },
    });
    expect(await client.chat.update({ channel: 'C1', ts: '1.000001', text: 'x' })).toMatchObject({
      ts: '1.000001',
    });
    expect((await client.chat.postEphemeral({ channel: 'C1', user: 'U2', text: 'x' })).message_ts).toMatch(
      /\./,
    );
    await client.reactions.add({ channel: 'C1', timestamp: '1.000001', name: 'eyes' });
    await expect(
      client.reactions.add({ channel: 'C1', timestamp: '1.000001', name: 'eyes' }),
    ).rejects.toMatchObject({
      data: { error: 'already_reacted' },
    });
    await expect(client.apiCall('no.such.method')).rejects.toMatchObject({
      data: { error: 'unknown_method' },
    });
    expect(api.callsTo('no.such.method')).toHaveLength(1);
  });

  it('rate-limits the next call with 429 + Retry-After; WebClient waits and posts once', async () => {
    const client = new WebClient(BOT_TOKEN, { slackApiUrl: api.url, logLevel: LogLevel.ERROR });
    const rateLimitedFor: number[] = [];
    client.on(WebClientEvent.RATE_LIMITED, (seconds: number) => rateLimitedFor.push(seconds));
    api.rateLimitNext('chat.postMessage', 1);

    const started = Date.now();
    const result = await client.chat.postMessage({ channel: 'C1', text: 'hello' });

    expect(result.ok).toBe(true);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1000);
    expect(rateLimitedFor).toEqual([1]);
    expect(api.rateLimited).toHaveLength(1);
    expect(api.callsTo('chat.postMessage')).toHaveLength(1);
  });
});

describe('a real Bolt App over HTTP, against the fakes', () => {
  let api: FakeSlackApi;
  let app: App;
  let endpoint: string;
  const mentions: { text: string; retryNum: number | undefined }[] = [];

  beforeEach(async () => {
    mentions.length = 0;
    api = await startFakeSlackApi();
    const receiver = new HTTPReceiver({ signingSecret: SECRET, logLevel: LogLevel.ERROR });
    app = new App({
      token: BOT_TOKEN,
      receiver,
      clientOptions: { slackApiUrl: api.url },
      logLevel: LogLevel.ERROR,
    });
    app.event('app_mention', async ({ event, say, context }) => {
      mentions.push({ text: event.text, retryNum: context.retryNum });
      await say({ text: `echo: ${event.text}`, thread_ts: event.ts });
    });
    app.action('approve', async ({ ack, respond }) => {
      await ack();
      await respond({ text: 'approved', replace_original: true });
    });
    app.command('/steward', async ({ ack, command, respond }) => {
      await ack({ text: `got ${command.text}` });
      await respond({ text: 'later', response_type: 'ephemeral' });
    });
    const server = (await receiver.start({ port: 0, host: '127.0.0.1' })) as Server;
    endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}/slack/events`;
  });
  afterEach(async () => {
    await app.stop();
    await api.close();
  });

  const mention = (text: string, eventId = 'Ev1') =>
    eventEnvelope(appMention({ user: 'U2', channel: 'C1', text, ts: '1700000000.000100' }), { eventId });

  it('acks a signed app_mention and the handler says through the fake API', async () => {
    const response = await postToSlackEndpoint(endpoint, {
      body: mention('<@UBOT> hi'),
      contentType: 'application/json',
      signingSecret: SECRET,
      headers: { 'x-slack-retry-num': '1', 'x-slack-retry-reason': 'http_timeout' },
    });
    expect(response.status).toBe(200);

    const posted = await api.waitForCall('chat.postMessage');
    expect(posted.token).toBe(BOT_TOKEN);
    expect(posted.args).toMatchObject({
      channel: 'C1',
      text: 'echo: <@UBOT> hi',
      thread_ts: '1700000000.000100',
    });
    // Bolt does not drop retries: it hands x-slack-retry-num to the listener as context.retryNum.
    expect(mentions).toEqual([{ text: '<@UBOT> hi', retryNum: 1 }]);
    // Bolt runs auth.test once, eagerly, from the App constructor (tokenVerificationEnabled default).
    expect(api.callsTo('auth.test')).toHaveLength(1);
  });

  it('rejects a bad signature, a tampered body and a stale timestamp with 401', async () => {
    const base = { body: mention('hi'), contentType: 'application/json' as const };
    const wrongSecret = await postToSlackEndpoint(endpoint, { ...base, signingSecret: 'nope' });
    const tampered = await postToSlackEndpoint(endpoint, {
      ...base,
      signingSecret: SECRET,
      tamper: (body) => body.replace('hi', 'rm -rf'),
    });
    const stale = await postToSlackEndpoint(endpoint, {
      ...base,
      signingSecret: SECRET,
      timestampSeconds: Math.floor(Date.now() / 1000) - 6 * 60,
    });
    expect([wrongSecret, tampered, stale]).toEqual(Array(3).fill({ status: 401, body: '' }));
    expect(mentions).toEqual([]);
    // Only the auth.test Bolt fires from the App constructor; nothing reached a listener.
    expect(api.calls.map((c) => c.method)).toEqual(['auth.test']);
  });

  it('answers a correctly signed but unparseable body with 400', async () => {
    const response = await postToSlackEndpoint(endpoint, {
      body: '{not json',
      contentType: 'application/json',
      signingSecret: SECRET,
    });
    expect(response).toEqual({ status: 400, body: '' });
  });

  it('parses a block_actions click and respond() posts to the response_url', async () => {
    const body = blockActionBody({
      user: 'U2',
      channel: 'C1',
      messageTs: '1700000000.000200',
      actionId: 'approve',
      value: 'run-1',
      responseUrl: api.responseUrl('click-1'),
    });
    const response = await postToSlackEndpoint(endpoint, {
      body,
      contentType: 'application/x-www-form-urlencoded',
      signingSecret: SECRET,
    });
    expect(response.status).toBe(200);
    const responded = await api.waitForCall('response_url:click-1');
    expect(responded.args).toEqual({ text: 'approved', replace_original: true });
  });

  it('returns a slash command ack body as the HTTP response, and respond() reaches the fake', async () => {
    const response = await postToSlackEndpoint(endpoint, {
      body: slashCommandBody({
        text: 'status now',
        userId: 'U2',
        channelId: 'C1',
        responseUrl: api.responseUrl('cmd-1'),
      }),
      contentType: 'application/x-www-form-urlencoded',
      signingSecret: SECRET,
    });
    expect(response.status).toBe(200);
    expect(JSON.parse(response.body)).toEqual({ text: 'got status now' });
    expect((await api.waitForCall('response_url:cmd-1')).args).toMatchObject({ text: 'later' });
  });
});

describe('a real Bolt App in Socket Mode, against the fakes', () => {
  let api: FakeSlackApi;
  let socket: FakeSocketMode;
  let app: App;

  beforeEach(async () => {
    api = await startFakeSlackApi();
    socket = await startFakeSocketMode();
    api.setSocketModeUrl(socket.url);
    app = new App({
      token: BOT_TOKEN,
      appToken: 'xapp-test',
      socketMode: true,
      clientOptions: { slackApiUrl: api.url },
      logLevel: LogLevel.ERROR,
    });
    app.event('app_mention', async ({ event, say }) => {
      await say(`socket echo: ${event.text}`);
    });
    app.command('/steward', async ({ ack, command }) => {
      await ack({ text: `got ${command.text}` });
    });
    await app.start();
    await socket.waitForConnection();
  });
  afterEach(async () => {
    // Stop the app before the server: a client that loses its socket reconnects on its own.
    await app.stop();
    await socket.close();
    await api.close();
  });

  it('opens the connection with the app token and acks an events_api envelope', async () => {
    expect(api.callsTo('apps.connections.open')).toEqual([expect.objectContaining({ token: 'xapp-test' })]);
    const event = appMention({ user: 'U2', channel: 'C1', text: '<@UBOT> ping', ts: '1700000000.000300' });

    const sent = await socket.sendEnvelope(eventCallback(event, { eventId: 'Ev2' }), 'events_api');

    expect(sent.ack).toEqual({ envelope_id: sent.envelope_id, payload: {} });
    const posted = await api.waitForCall('chat.postMessage');
    expect(posted).toMatchObject({
      token: BOT_TOKEN,
      args: { channel: 'C1', text: 'socket echo: <@UBOT> ping' },
    });
  });

  it('carries a slash command ack body back in the ack payload', async () => {
    const payload = slashCommandPayload({
      text: 'hi',
      userId: 'U2',
      channelId: 'C1',
      responseUrl: api.responseUrl('x'),
    });
    const sent = await socket.sendEnvelope(payload, 'slash_commands');
    expect(sent.ack).toEqual({ envelope_id: sent.envelope_id, payload: { text: 'got hi' } });
  });
});
