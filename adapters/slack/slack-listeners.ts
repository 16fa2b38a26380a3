import type { App } from '@slack/bolt';
import type { CommandRouter } from '../../src/core/commands/command-types.ts';
import {
  type ButtonAction,
  type ConversationRef,
  type EscalationChoice,
  parseBudgetLimitId,
} from '../../src/core/conversation.ts';
import type { ConversationService } from '../../src/core/conversation-service.ts';
import { isRecord } from '../../src/core/is-record.ts';
import type { Logger } from '../../src/core/ports.ts';
import { SLACK_ACTION_IDS } from './slack-blocks.ts';
import type { SlackDirectory } from './slack-directory.ts';

export interface SlackListenerOptions {
  readonly service: ConversationService;
  readonly router: CommandRouter;
  readonly directory: SlackDirectory;
  readonly botUserId: string;
  /** Answer messages from other bots (never our own). */
  readonly respondToBots: boolean;
  readonly logger: Logger;
}

const ESCALATION_CHOICES: Readonly<Record<string, EscalationChoice>> = {
  [SLACK_ACTION_IDS.takeOver]: 'take_over',
  [SLACK_ACTION_IDS.release]: 'release',
  [SLACK_ACTION_IDS.retry]: 'retry',
  [SLACK_ACTION_IDS.dismiss]: 'dismiss',
};

/**
 * Turns Slack events into the core's normalized input. Bolt acks events before the listeners run
 * (HTTP mode, processBeforeResponse off), and actions and commands ack first thing, so Slack's
 * 3-second rule holds whatever the core does next. The event id the core dedupes on is the
 * message's own (team, channel, ts), so a retry, and the app_mention + message pair Slack sends for
 * one message, start one run.
 */
export function registerSlackListeners(app: App, options: SlackListenerOptions): void {
  const { service, logger, botUserId } = options;
  const mention = new RegExp(`<@${botUserId}(?:\\|[^>]*)?>`, 'g');
  const stripMention = (text: string) => text.replace(mention, '').replace(/\s+/g, ' ').trim();

  const accept = async (event: SlackMessageLike, teamId: string, isDirect: boolean) => {
    const threadId = isDirect ? (event.thread_ts ?? null) : (event.thread_ts ?? event.ts);
    await service.handleMessage({
      platform: 'slack',
      tenantId: teamId,
      channelId: event.channel,
      threadId,
      userId: event.user,
      text: stripMention(event.text),
      isDirect,
      eventId: `slack:${teamId}:${event.channel}:${event.ts}`,
    });
  };

  app.event('app_mention', async ({ event, body }) => {
    const message = asMessage(event);
    if (!message || isFromBot(event, options) || !isRecord(body)) return;
    await accept(message, teamOf(body), false);
  });

  app.message(async ({ message, body }) => {
    const event = asMessage(message);
    // Edits, deletions, joins and other subtypes are not requests.
    if (
      !event ||
      (isRecord(message) && 'subtype' in message && message.subtype) ||
      isFromBot(message, options)
    )
      return;
    if (!isRecord(body)) return;
    const teamId = teamOf(body);
    const isDirect = isRecord(message) && message.channel_type === 'im';
    if (isDirect) return accept(event, teamId, true);
    // In channels, a mention arrives as app_mention; a plain reply counts only in a thread Steward is in.
    if (!event.thread_ts || event.text.includes(`<@${botUserId}`)) return;
    const ref: ConversationRef = {
      platform: 'slack',
      tenantId: teamId,
      channelId: event.channel,
      threadId: event.thread_ts,
    };
    if (await service.isFollowUp(ref)) await accept(event, teamId, false);
  });

  app.action(/^steward_/, async ({ ack, body, action }) => {
    await ack();
    const click = parseClick(body, action);
    if (!click) {
      logger.warn({}, 'ignored a Slack button click that is not one of Steward’s');
      return;
    }
    const clicker = {
      isPlatformAdmin: await options.directory.isAdmin(click.userId),
      memberships: await options.directory.groupsOf(click.userId),
    };
    await service.handleAction(click, clicker);
  });

  app.command('/steward', async ({ ack, command, respond }) => {
    await ack();
    const reply = await options.router.handle({
      channel: {
        platform: 'slack',
        tenantId: command.team_id,
        channelId: command.channel_id,
        threadId: null,
      },
      userId: command.user_id,
      text: command.text ?? '',
      isPlatformAdmin: await options.directory.isAdmin(command.user_id),
    });
    await respond({ response_type: 'ephemeral', text: reply.text });
  });

  app.error(async (error) => {
    logger.error({ err: error }, 'a Slack listener failed');
  });
}

interface SlackMessageLike {
  readonly channel: string;
  readonly user: string;
  readonly text: string;
  readonly ts: string;
  readonly thread_ts?: string;
}

/** The fields Steward needs, or undefined for anything that is not a person's text message. */
function asMessage(value: unknown): SlackMessageLike | undefined {
  if (!isRecord(value)) return undefined;
  const { channel, user, text, ts, thread_ts: threadTs } = value;
  if (
    typeof channel !== 'string' ||
    typeof user !== 'string' ||
    typeof text !== 'string' ||
    typeof ts !== 'string'
  ) {
    return undefined;
  }
  return { channel, user, text, ts, ...(typeof threadTs === 'string' ? { thread_ts: threadTs } : {}) };
}

function isFromBot(event: unknown, options: SlackListenerOptions): boolean {
  if (!isRecord(event)) return true;
  if (event.user === options.botUserId) return true;
  return 'bot_id' in event && Boolean(event.bot_id) && !options.respondToBots;
}

function teamOf(body: Record<string, unknown>): string {
  return typeof body.team_id === 'string'
    ? body.team_id
    : isRecord(body.team) && typeof body.team.id === 'string'
      ? body.team.id
      : 'unknown';
}

/** A button click, checked field by field: anything malformed is dropped, never half-used. */
function parseClick(body: unknown, action: unknown): ButtonAction | undefined {
  if (!isRecord(body) || !isRecord(action)) return undefined;
  const user = isRecord(body.user) && typeof body.user.id === 'string' ? body.user.id : undefined;
  const channel = isRecord(body.channel) && typeof body.channel.id === 'string' ? body.channel.id : undefined;
  const message = isRecord(body.message) ? body.message : undefined;
  const value = typeof action.value === 'string' ? action.value : undefined;
  const actionId = typeof action.action_id === 'string' ? action.action_id : undefined;
  if (!user || !channel || !value || value.length > 200 || !actionId) return undefined;
  // An ephemeral message (a budget refusal) is not in the payload; its container names the thread.
  const container = isRecord(body.container) ? body.container : undefined;
  const threadTs =
    message && typeof message.thread_ts === 'string'
      ? message.thread_ts
      : container && typeof container.thread_ts === 'string'
        ? container.thread_ts
        : null;
  const base = {
    platform: 'slack',
    tenantId: teamOf(body),
    channelId: channel,
    threadId: threadTs,
    userId: user,
    eventId: typeof body.trigger_id === 'string' ? body.trigger_id : `${actionId}:${value}:${user}`,
  };
  if (actionId === SLACK_ACTION_IDS.approve || actionId === SLACK_ACTION_IDS.reject) {
    return {
      ...base,
      kind: 'approval',
      approvalId: value,
      decision: actionId === SLACK_ACTION_IDS.approve ? 'approve' : 'reject',
    };
  }
  if (actionId === SLACK_ACTION_IDS.requestBudget) {
    const limit = parseBudgetLimitId(value);
    return limit ? { ...base, kind: 'budget_request', limit } : undefined;
  }
  const choice = ESCALATION_CHOICES[actionId];
  return choice ? { ...base, kind: 'escalation', runId: value, choice } : undefined;
}
