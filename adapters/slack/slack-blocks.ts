import type {
  ActionsBlock,
  Button,
  ContextBlock,
  KnownBlock,
  MrkdwnElement,
  SectionBlock,
} from '@slack/types';
import { budgetLimitId } from '../../src/core/conversation.ts';
import type {
  ApprovalOutcome,
  EscalationNotice,
  EscalationResolution,
} from '../../src/core/conversation-service.ts';
import type { PendingApproval } from '../../src/core/run-state.ts';
import type { AdminRequest, BudgetRefusal } from '../../src/core/surface.ts';
import { escapeSlackText, SLACK_TEXT_LIMIT, splitForSlack, toSlackMrkdwn } from './slack-format.ts';

/** The `action_id`s of Steward's buttons; the interaction handler routes on these. */
export const SLACK_ACTION_IDS = {
  approve: 'steward_approve',
  reject: 'steward_reject',
  takeOver: 'steward_take_over',
  retry: 'steward_retry',
  dismiss: 'steward_dismiss',
  release: 'steward_release',
  requestBudget: 'steward_budget_request',
} as const;

export const SLACK_BLOCK_IDS = {
  approval: 'steward_approval',
  escalation: 'steward_escalation',
  budget: 'steward_budget',
} as const;

/** Block Kit limits we must stay under. */
export const SLACK_BUTTON_VALUE_LIMIT = 2000;
export const SLACK_MAX_BLOCKS = 50;

/** A message body: `text` is the notification/fallback, `blocks` what people see. */
export interface SlackMessage {
  readonly text: string;
  readonly blocks: KnownBlock[];
}

export interface ApprovalCardOptions {
  /** Slack user ids (U…/W…) and user-group ids (S…) allowed to decide. */
  readonly approvers: readonly string[];
  readonly now: number;
}

/** What the resolved card needs; without reason and summary it shows only the outcome. */
export type ResolvedEscalation = Pick<EscalationNotice, 'runId'> &
  Partial<Pick<EscalationNotice, 'reason' | 'summary'>>;

const TRUNCATED = '…(truncated)';
const USER_ID = /^[UW][A-Z0-9]{2,}$/;
const GROUP_ID = /^S[A-Z0-9]{2,}$/;

/**
 * A mention of a configured person or group; these pings are intentional. Anything that is not a
 * well-formed id is shown as escaped text, so a bad config value cannot become `<!channel>`.
 */
export function slackMention(id: string): string {
  if (USER_ID.test(id)) return `<@${id}>`;
  if (GROUP_ID.test(id)) return `<!subteam^${id}>`;
  return escapeSlackText(id);
}

/** Mentions for a card; a long list is cut by count, since cutting characters could halve a mention. */
function mentionList(ids: readonly string[], separator: string, max = 20): string {
  const shown = ids.slice(0, max).map(slackMention).join(separator);
  return ids.length > max ? `${shown} and ${ids.length - max} more` : shown;
}

/** A time each reader sees in their own time zone; the fallback is for clients that cannot. */
export function slackDate(ms: number, format = '{date_short_pretty} at {time}'): string {
  const fallback = `${new Date(ms).toISOString().slice(0, 16).replace('T', ' ')} UTC`;
  return `<!date^${Math.floor(ms / 1000)}^${format}|${fallback}>`;
}

/** Cuts already-escaped text without leaving half an entity or half an emoji behind. */
function truncateEscaped(text: string, max: number): string {
  if (text.length <= max) return text;
  const kept = text.slice(0, max - TRUNCATED.length).replace(/&[a-z]*$|[\uD800-\uDBFF]$/, '');
  return `${kept}${TRUNCATED}`;
}

/** Model-written mrkdwn, cut at a safe break (balanced fences, whole links) when too long. */
function truncateMrkdwn(mrkdwn: string, max: number): string {
  if (mrkdwn.length <= max) return mrkdwn;
  return `${splitForSlack(mrkdwn, max - TRUNCATED.length - 1)[0] ?? ''}\n${TRUNCATED}`;
}

// verbatim: Slack must not auto-link plain "@here" or "#channel" in text we did not write.
const mrkdwn = (text: string): MrkdwnElement => ({ type: 'mrkdwn', text, verbatim: true });
const section = (text: string): SectionBlock => ({ type: 'section', text: mrkdwn(text) });
const context = (text: string): ContextBlock => ({ type: 'context', elements: [mrkdwn(text)] });

function button(label: string, actionId: string, value: string, style?: 'primary' | 'danger'): Button {
  // The value comes back in the click payload; it carries only an id, never data to trust.
  if (value.length > SLACK_BUTTON_VALUE_LIMIT) throw new RangeError(`button value too long for ${actionId}`);
  const base: Button = {
    type: 'button',
    text: { type: 'plain_text', text: label },
    action_id: actionId,
    value,
  };
  return style ? { ...base, style } : base;
}

const actions = (blockId: string, elements: Button[]): ActionsBlock => ({
  type: 'actions',
  block_id: blockId,
  elements,
});

/** Pretty, masked arguments in a code block that the arguments themselves cannot close. */
function argumentsBlock(args: unknown): SectionBlock {
  let json: string;
  try {
    json = JSON.stringify(args, null, 2) ?? String(args);
  } catch {
    json = String(args);
  }
  const head = '*Arguments*\n```\n';
  const tail = '\n```';
  // A zero-width space between backticks keeps a ``` inside an argument from ending the block.
  const body = escapeSlackText(json).replace(/```/g, '`\u200b`\u200b`');
  return section(head + truncateEscaped(body, SLACK_TEXT_LIMIT - head.length - tail.length) + tail);
}

const relative = (ms: number): string => {
  const minutes = Math.round(ms / 60_000);
  if (minutes < 1) return 'in under a minute';
  if (minutes < 120) return `in ${minutes} min`;
  return `in ${Math.round(minutes / 60)} h`;
};

function approvalBody(approval: PendingApproval, options?: ApprovalCardOptions): KnownBlock[] {
  const tool = escapeSlackText(approval.toolName);
  const reason = truncateEscaped(escapeSlackText(approval.reason), 2500);
  const facts = [
    `*Risk:* ${escapeSlackText(approval.risk)}`,
    `*Requested by:* ${slackMention(approval.requestedBy)}`,
    `*Agent:* ${escapeSlackText(approval.agent)}`,
  ];
  const blocks: KnownBlock[] = [
    section(`:raised_hand: *Approval needed:* Steward wants to run \`${tool}\`\n*Why:* ${reason}`),
    argumentsBlock(approval.displayArgs),
    context(facts.join('  ·  ')),
  ];
  if (options) {
    const approvers = mentionList(options.approvers, ', ') || 'an admin';
    const left = approval.expiresAt - options.now;
    const expires = left > 0 ? `expires ${relative(left)} (${slackDate(approval.expiresAt)})` : 'has expired';
    blocks.push(section(`*Who can approve:* ${approvers}\nThis request ${expires}.`));
  }
  return blocks;
}

const approvalFallback = (approval: PendingApproval): string =>
  `Approval needed: Steward wants to run ${escapeSlackText(approval.toolName)}`;

/** The live approval request: what, why, the masked arguments, and Approve/Reject buttons. */
export function approvalCard(approval: PendingApproval, options: ApprovalCardOptions): SlackMessage {
  const mentions = mentionList(options.approvers, ' ');
  return {
    // Mentions in the fallback make the notification reach the approvers.
    text: mentions ? `${approvalFallback(approval)} (${mentions})` : approvalFallback(approval),
    blocks: [
      ...approvalBody(approval, options),
      actions(SLACK_BLOCK_IDS.approval, [
        button('Approve', SLACK_ACTION_IDS.approve, approval.approvalId, 'primary'),
        button('Reject', SLACK_ACTION_IDS.reject, approval.approvalId, 'danger'),
      ]),
    ],
  };
}

/** Shown right after a click, so nobody clicks again while the decision is recorded. */
export function approvalPendingCard(approval: PendingApproval, byUserId: string): SlackMessage {
  return {
    text: approvalFallback(approval),
    blocks: [
      ...approvalBody(approval),
      context(`:hourglass_flowing_sand: Handling ${slackMention(byUserId)}'s decision…`),
    ],
  };
}

/** The decided request: buttons replaced by the outcome, so the thread itself records it. */
export function approvalDecidedCard(approval: PendingApproval, outcome: ApprovalOutcome): SlackMessage {
  const when = slackDate(outcome.at, '{date_short_pretty} at {time}');
  const line =
    outcome.decision === 'approve'
      ? `:white_check_mark: Approved by ${slackMention(outcome.by)} at ${when}`
      : outcome.decision === 'reject'
        ? `:x: Rejected by ${slackMention(outcome.by)} at ${when}`
        : `:hourglass: Expired at ${when}`;
  const verb = { approve: 'Approved', reject: 'Rejected', expired: 'Expired' }[outcome.decision];
  return {
    text: `${verb}: ${escapeSlackText(approval.toolName)}`,
    blocks: [...approvalBody(approval), section(line)],
  };
}

function escalationBody(escalation: ResolvedEscalation, mentions: readonly string[]): KnownBlock[] {
  const who = mentionList(mentions, ' ');
  const headline = `:rotating_light: *Steward needs a person*${who ? ` ${who}` : ''}`;
  const reason = escalation.reason ? truncateEscaped(escapeSlackText(escalation.reason), 1500) : '';
  const blocks: KnownBlock[] = [section(reason ? `${headline}\n*Why it stopped:* ${reason}` : headline)];
  if (escalation.summary) {
    const head = '*What was tried:*\n';
    blocks.push(
      section(head + truncateMrkdwn(toSlackMrkdwn(escalation.summary), SLACK_TEXT_LIMIT - head.length)),
    );
  }
  return blocks;
}

/** A run handed to people: why it stopped, what was tried, and what they can do next. */
export function escalationCard(
  escalation: EscalationNotice,
  options: { readonly now: number },
): SlackMessage {
  const who = mentionList(escalation.mentions, ' ');
  const { runId } = escalation;
  return {
    text: `Steward needs a person: ${truncateEscaped(escapeSlackText(escalation.reason), 200)}${who ? ` ${who}` : ''}`,
    blocks: [
      ...escalationBody(escalation, escalation.mentions),
      context(`Escalated ${slackDate(options.now)}`),
      actions(SLACK_BLOCK_IDS.escalation, [
        button('Take over', SLACK_ACTION_IDS.takeOver, runId, 'primary'),
        button('Retry', SLACK_ACTION_IDS.retry, runId),
        button('Dismiss', SLACK_ACTION_IDS.dismiss, runId),
      ]),
    ],
  };
}

/** The escalation after someone chose; a take-over keeps a Release button to hand back. */
export function escalationResolvedCard(
  escalation: ResolvedEscalation,
  resolution: EscalationResolution,
): SlackMessage {
  const by = slackMention(resolution.by);
  const when = slackDate(resolution.at);
  const lines: Record<EscalationResolution['choice'], string> = {
    take_over: `:raising_hand: Taken over by ${by} — Steward stays quiet in this thread`,
    retry: `:repeat: Retried by ${by} at ${when}`,
    dismiss: `:wastebasket: Dismissed by ${by} at ${when}`,
    release: `:leftwards_arrow_with_hook: Released by ${by}: Steward answers here again`,
  };
  const blocks: KnownBlock[] = [...escalationBody(escalation, []), section(lines[resolution.choice])];
  if (resolution.choice === 'take_over') {
    blocks.push(
      actions(SLACK_BLOCK_IDS.escalation, [button('Release', SLACK_ACTION_IDS.release, escalation.runId)]),
    );
  }
  return { text: lines[resolution.choice].replace(/^:[a-z_]+: /, ''), blocks };
}

/**
 * Blocks for the working/status message, e.g. "⏳ Looking up order 1234…". Takes plain text (it
 * may quote tool arguments) and escapes it, so callers must not escape it first.
 */
export function statusText(text: string): KnownBlock[] {
  return [context(`⏳ ${truncateEscaped(escapeSlackText(text), 2000)}`)];
}

/** A budget refusal, shown to the person alone, with a button that asks the admins for more. */
export function budgetRefusalCard(refusal: BudgetRefusal): SlackMessage {
  const text = escapeSlackText(refusal.text);
  return {
    text,
    blocks: [
      section(`:no_entry: ${text}`),
      actions(SLACK_BLOCK_IDS.budget, [
        button('Request more', SLACK_ACTION_IDS.requestBudget, budgetLimitId(refusal.limit), 'primary'),
      ]),
    ],
  };
}

/** Someone asks for more budget: pings them and the configured admins, nobody else. */
export function adminRequestMessage(request: AdminRequest): SlackMessage {
  const admins = mentionList(request.mentions, ' ');
  const text = `${slackMention(request.requestedBy)} ${escapeSlackText(request.text)}${admins ? ` ${admins}` : ''}`;
  return { text, blocks: [section(`:money_with_wings: ${text}`)] };
}
