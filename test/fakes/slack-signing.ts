/**
 * Send requests to a Bolt HTTP receiver exactly as Slack does (v0 request signing, Slack's content types)
 * and build the payloads Slack sends, so Bolt parses them as it would in production.
 *
 * Shapes follow docs.slack.dev (Events API `event_callback`, `app_mention`, `message.im`,
 * `block_actions`, slash commands). The `*Payload` builders return the object that Socket Mode carries
 * in an envelope's `payload`; the `*Body`/`eventEnvelope` builders return the HTTP body string.
 */
import { createHmac, randomUUID } from 'node:crypto';

export interface SlackSignatureHeaders {
  'x-slack-signature': string;
  'x-slack-request-timestamp': string;
}

/** v0 signature: hex HMAC-SHA256 of `v0:<ts>:<raw body>` keyed by the app's signing secret. */
export function signSlackRequest(
  body: string,
  signingSecret: string,
  timestampSeconds: number = Math.floor(Date.now() / 1000),
): SlackSignatureHeaders {
  const digest = createHmac('sha256', signingSecret).update(`v0:${timestampSeconds}:${body}`).digest('hex');
  return { 'x-slack-signature': `v0=${digest}`, 'x-slack-request-timestamp': String(timestampSeconds) };
}

/** Bolt compares the content type exactly, so these are the only two values Slack (and this helper) sends. */
export type SlackContentType = 'application/json' | 'application/x-www-form-urlencoded';

export interface PostToSlackEndpointOptions {
  body: string;
  contentType: SlackContentType;
  signingSecret: string;
  timestampSeconds?: number;
  /** Extra headers (e.g. `x-slack-retry-num`); they win over the computed ones. */
  headers?: Record<string, string>;
  /** Rewrites the body after signing, to prove the receiver rejects it. */
  tamper?: (body: string) => string;
}

export interface SlackEndpointResponse {
  status: number;
  body: string;
}

export async function postToSlackEndpoint(
  url: string,
  options: PostToSlackEndpointOptions,
): Promise<SlackEndpointResponse> {
  const signature = signSlackRequest(options.body, options.signingSecret, options.timestampSeconds);
  const response = await fetch(url, {
    method: 'POST',
    headers: {
      'content-type': options.contentType,
      'user-agent': 'Slackbot 1.0 (+https://api.slack.com/robots)',
      ...signature,
      ...options.headers,
    },
    body: options.tamper ? options.tamper(options.body) : options.body,
  });
  return { status: response.status, body: await response.text() };
}

export type SlackEvent = { type: string } & Record<string, unknown>;

export interface EventEnvelopeOptions {
  eventId: string;
  teamId?: string;
  apiAppId?: string;
  /** The app's bot user, as listed in `authorizations`. */
  botUserId?: string;
  eventTime?: number;
}

/** The Events API `event_callback` object (Socket Mode `events_api` payload). */
export function eventCallback(event: SlackEvent, options: EventEnvelopeOptions): Record<string, unknown> {
  const teamId = options.teamId ?? 'T1';
  return {
    token: 'fake-verification-token',
    team_id: teamId,
    api_app_id: options.apiAppId ?? 'A1',
    event,
    type: 'event_callback',
    event_id: options.eventId,
    event_time: options.eventTime ?? Math.floor(Date.now() / 1000),
    authorizations: [
      {
        enterprise_id: null,
        team_id: teamId,
        user_id: options.botUserId ?? 'UBOT',
        is_bot: true,
        is_enterprise_install: false,
      },
    ],
    is_ext_shared_channel: false,
    event_context: `4-${Buffer.from(`${teamId}:${options.eventId}`).toString('base64url')}`,
  };
}

/** The HTTP body Slack POSTs (as application/json) for an event. */
export function eventEnvelope(event: SlackEvent, options: EventEnvelopeOptions): string {
  return JSON.stringify(eventCallback(event, options));
}

export interface MessageEventOptions {
  user: string;
  channel: string;
  text: string;
  ts: string;
  teamId?: string;
}

// Slack attaches the text as a rich_text block too; Bolt ignores it, but adapters may read either.
const messageFields = (options: MessageEventOptions): Record<string, unknown> => ({
  user: options.user,
  text: options.text,
  ts: options.ts,
  channel: options.channel,
  event_ts: options.ts,
  client_msg_id: randomUUID(),
  team: options.teamId ?? 'T1',
  blocks: [
    {
      type: 'rich_text',
      block_id: randomUUID().slice(0, 5),
      elements: [{ type: 'rich_text_section', elements: [{ type: 'text', text: options.text }] }],
    },
  ],
});

export function appMention(options: MessageEventOptions & { threadTs?: string }): SlackEvent {
  const event: SlackEvent = { type: 'app_mention', ...messageFields(options) };
  if (options.threadTs !== undefined) event.thread_ts = options.threadTs;
  return event;
}

/** A `message.im` event: a user writing in their DM with the app (channel `D…`). */
export function directMessage(options: MessageEventOptions): SlackEvent {
  return { type: 'message', ...messageFields(options), channel_type: 'im' };
}

/** A `message.channels` (or `.im`) event for a reply inside a thread. */
export function threadReply(
  options: MessageEventOptions & {
    threadTs: string;
    parentUserId?: string;
    channelType?: 'channel' | 'im' | 'group';
  },
): SlackEvent {
  return {
    type: 'message',
    ...messageFields(options),
    thread_ts: options.threadTs,
    parent_user_id: options.parentUserId ?? 'UBOT',
    channel_type: options.channelType ?? (options.channel.startsWith('D') ? 'im' : 'channel'),
  };
}

export interface BlockActionOptions {
  user: string;
  channel: string;
  messageTs: string;
  actionId: string;
  value: string;
  responseUrl: string;
  teamId?: string;
  blockId?: string;
  threadTs?: string;
  apiAppId?: string;
  botUserId?: string;
}

const triggerId = (): string =>
  `${Date.now()}.${Math.floor(Math.random() * 1e10)}.${randomUUID().replace(/-/g, '')}`;

/** The `block_actions` payload for a button click on a message the app posted. */
export function blockActionPayload(options: BlockActionOptions): Record<string, unknown> {
  const teamId = options.teamId ?? 'T1';
  const blockId = options.blockId ?? 'steward_actions';
  const button = {
    type: 'button',
    action_id: options.actionId,
    value: options.value,
    text: { type: 'plain_text', text: options.actionId, emoji: true },
  };
  const thread = options.threadTs === undefined ? {} : { thread_ts: options.threadTs };
  return {
    type: 'block_actions',
    user: {
      id: options.user,
      username: options.user.toLowerCase(),
      name: options.user.toLowerCase(),
      team_id: teamId,
    },
    api_app_id: options.apiAppId ?? 'A1',
    token: 'fake-verification-token',
    container: {
      type: 'message',
      message_ts: options.messageTs,
      channel_id: options.channel,
      is_ephemeral: false,
      ...thread,
    },
    trigger_id: triggerId(),
    team: { id: teamId, domain: 'fake-workspace' },
    enterprise: null,
    is_enterprise_install: false,
    channel: { id: options.channel, name: `channel-${options.channel.toLowerCase()}` },
    message: {
      type: 'message',
      user: options.botUserId ?? 'UBOT',
      bot_id: 'BBOT',
      app_id: options.apiAppId ?? 'A1',
      ts: options.messageTs,
      text: "This content can't be displayed.",
      team: teamId,
      blocks: [{ type: 'actions', block_id: blockId, elements: [button] }],
      ...thread,
    },
    state: { values: {} },
    response_url: options.responseUrl,
    actions: [{ ...button, block_id: blockId, action_ts: `${(Date.now() / 1000).toFixed(6)}` }],
  };
}

/** Interactivity arrives form-encoded with the JSON in a single `payload` field. */
export function blockActionBody(options: BlockActionOptions): string {
  return new URLSearchParams({ payload: JSON.stringify(blockActionPayload(options)) }).toString();
}

export interface SlashCommandOptions {
  command?: string;
  text: string;
  userId: string;
  channelId: string;
  teamId?: string;
  responseUrl: string;
  userName?: string;
  apiAppId?: string;
}

/** Slash command fields; every value is a string, exactly as Slack form-encodes them. */
export function slashCommandPayload(options: SlashCommandOptions): Record<string, string> {
  return {
    token: 'fake-verification-token',
    team_id: options.teamId ?? 'T1',
    team_domain: 'fake-workspace',
    channel_id: options.channelId,
    channel_name: options.channelId.startsWith('D')
      ? 'directmessage'
      : `channel-${options.channelId.toLowerCase()}`,
    user_id: options.userId,
    user_name: options.userName ?? options.userId.toLowerCase(),
    command: options.command ?? '/steward',
    text: options.text,
    api_app_id: options.apiAppId ?? 'A1',
    is_enterprise_install: 'false',
    response_url: options.responseUrl,
    trigger_id: triggerId(),
  };
}

export function slashCommandBody(options: SlashCommandOptions): string {
  return new URLSearchParams(slashCommandPayload(options)).toString();
}
