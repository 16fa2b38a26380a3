import type { ActionsBlock, Button, KnownBlock } from '@slack/types';
import { describe, expect, it } from 'vitest';
import {
  approvalCard,
  approvalDecidedCard,
  approvalPendingCard,
  escalationCard,
  escalationResolvedCard,
  SLACK_ACTION_IDS,
  SLACK_BUTTON_VALUE_LIMIT,
  SLACK_MAX_BLOCKS,
  slackMention,
  statusText,
} from '../../../../adapters/slack/slack-blocks.ts';
import { SLACK_TEXT_LIMIT } from '../../../../adapters/slack/slack-format.ts';
import type { EscalationNotice } from '../../../../src/core/conversation-service.ts';
import type { PendingApproval } from '../../../../src/core/run-state.ts';

const NOW = Date.UTC(2025, 0, 15, 12, 0, 0);
const EXPIRES = NOW + 15 * 60_000;

const approval = (overrides: Partial<PendingApproval> = {}): PendingApproval => ({
  approvalId: 'appr-123',
  runId: 'run-9',
  agent: 'support',
  toolName: 'refund_order',
  callId: 'call-1',
  displayArgs: { order_id: '1234', amount: 25, api_key: '[redacted]' },
  argsHash: 'h',
  risk: 'write',
  reason: 'Refunds move money, so a person must approve.',
  requestedBy: 'UREQ1',
  conversation: { platform: 'slack', tenantId: 'T1', channelId: 'C1', threadId: '1.2' },
  createdAt: NOW,
  expiresAt: EXPIRES,
  ...overrides,
});

const escalation: EscalationNotice = {
  runId: 'run-9',
  reason: 'The same call failed 3 times <!channel>',
  summary: '**Tried** `get_order` twice, then <!here> gave up.',
  mentions: ['UONCALL', 'SSUPPORT'],
};

/** Every piece of text a person could see in the blocks. */
function visibleTexts(value: unknown): string[] {
  if (Array.isArray(value)) return value.flatMap(visibleTexts);
  if (value === null || typeof value !== 'object') return [];
  return Object.entries(value).flatMap(([key, inner]) =>
    key === 'text' && typeof inner === 'string' ? [inner] : visibleTexts(inner),
  );
}
const shown = (blocks: KnownBlock[]): string => visibleTexts(blocks).join('\n');

/** Every `<…>` control sequence must be one of ours: configured mentions or a date. */
function expectOnlyOurControls(text: string, allowedIds: readonly string[]): void {
  for (const [control] of text.matchAll(/<[^<>]*>/g)) {
    const ok =
      /^<!date\^\d+\^[^|<>]*\|[^<>]*>$/.test(control) ||
      allowedIds.some((id) => control === `<@${id}>` || control === `<!subteam^${id}>`);
    expect(ok, control).toBe(true);
  }
}

const actionsOf = (blocks: KnownBlock[]): ActionsBlock[] =>
  blocks.filter((block): block is ActionsBlock => block.type === 'actions');
const buttonsOf = (blocks: KnownBlock[]): Button[] =>
  actionsOf(blocks).flatMap((block) => block.elements.filter((el): el is Button => el.type === 'button'));

function expectWithinLimits(blocks: KnownBlock[]): void {
  expect(blocks.length).toBeLessThanOrEqual(SLACK_MAX_BLOCKS);
  for (const text of visibleTexts(blocks)) expect(text.length).toBeLessThanOrEqual(SLACK_TEXT_LIMIT);
  for (const b of buttonsOf(blocks))
    expect(b.value?.length ?? 0).toBeLessThanOrEqual(SLACK_BUTTON_VALUE_LIMIT);
}

describe('approvalCard', () => {
  const card = approvalCard(approval(), { approvers: ['UADMIN', 'SOPS'], now: NOW });

  it('says what the agent wants to do, why, with which arguments, risk and deadline', () => {
    const text = shown(card.blocks);
    expect(text).toContain('Steward wants to run `refund_order`');
    expect(text).toContain('*Why:* Refunds move money, so a person must approve.');
    expect(text).toContain(
      '```\n{\n  "order_id": "1234",\n  "amount": 25,\n  "api_key": "[redacted]"\n}\n```',
    );
    expect(text).toContain('*Risk:* write');
    expect(text).toContain('*Requested by:* <@UREQ1>');
    expect(text).toContain('*Who can approve:* <@UADMIN>, <!subteam^SOPS>');
    expect(text).toContain(
      `expires in 15 min (<!date^${EXPIRES / 1000}^{date_short_pretty} at {time}|2025-01-15 12:15 UTC>)`,
    );
    expect(card.text).toBe('Approval needed: Steward wants to run refund_order (<@UADMIN> <!subteam^SOPS>)');
    expectWithinLimits(card.blocks);
  });

  it('has Approve and Reject buttons that carry only the approval id', () => {
    const [actions] = actionsOf(card.blocks);
    expect(actions?.block_id).toBe('steward_approval');
    expect(buttonsOf(card.blocks).map((b) => [b.text.text, b.action_id, b.style, b.value])).toEqual([
      ['Approve', SLACK_ACTION_IDS.approve, 'primary', 'appr-123'],
      ['Reject', SLACK_ACTION_IDS.reject, 'danger', 'appr-123'],
    ]);
    expect(SLACK_ACTION_IDS.approve).toBe('steward_approve');
    expect(SLACK_ACTION_IDS.reject).toBe('steward_reject');
  });

  it('cannot ping or fake formatting through the tool, its arguments or the reason', () => {
    const hostile = approval({
      toolName: 'x<!channel>',
      reason: 'because <!here> <@UEVIL> & <!subteam^SALL>',
      displayArgs: { note: '```\n*Approved by security* <!everyone>', link: '<https://evil.example|ok>' },
    });
    const out = approvalCard(hostile, { approvers: ['UADMIN', '<!channel>', 'here'], now: NOW });
    const text = shown(out.blocks) + out.text;
    expectOnlyOurControls(text, ['UADMIN', 'UREQ1']);
    expect(text).toContain('because &lt;!here&gt; &lt;@UEVIL&gt; &amp; &lt;!subteam^SALL&gt;');
    // The arguments stay in one code block: the ``` inside them cannot close it.
    const args = visibleTexts(out.blocks).find((t) => t.startsWith('*Arguments*')) ?? '';
    expect(args.split('```')).toHaveLength(3);
  });

  it('truncates huge arguments and keeps every block within Slack limits', () => {
    const big = approval({ displayArgs: { body: '<&>'.repeat(10_000) } });
    const out = approvalCard(big, { approvers: Array.from({ length: 60 }, (_, i) => `U${i}00`), now: NOW });
    expectWithinLimits(out.blocks);
    const args = visibleTexts(out.blocks).find((t) => t.startsWith('*Arguments*')) ?? '';
    expect(args.endsWith('…(truncated)\n```')).toBe(true);
    expect(args).not.toMatch(/&[a-z]*…/);
    expect(shown(out.blocks)).toContain('and 40 more');
  });

  it('says so when the request has already expired', () => {
    expect(shown(approvalCard(approval(), { approvers: [], now: EXPIRES + 1 }).blocks)).toContain(
      'This request has expired.',
    );
  });
});

describe('approvalPendingCard and approvalDecidedCard', () => {
  it('replaces the buttons with a handling note right after a click', () => {
    const card = approvalPendingCard(approval(), 'UADMIN');
    expect(actionsOf(card.blocks)).toEqual([]);
    expect(shown(card.blocks)).toContain("Handling <@UADMIN>'s decision…");
    expect(shown(card.blocks)).toContain('refund_order');
  });

  it.each([
    [
      { decision: 'approve', by: 'UADMIN', at: NOW } as const,
      ':white_check_mark: Approved by <@UADMIN> at <!date^',
    ],
    [{ decision: 'reject', by: 'UADMIN', at: NOW } as const, ':x: Rejected by <@UADMIN> at <!date^'],
    [{ decision: 'expired', by: null, at: NOW } as const, ':hourglass: Expired at <!date^'],
  ])('records the outcome %# in place of the buttons', (outcome, expected) => {
    const card = approvalDecidedCard(approval(), outcome);
    expect(actionsOf(card.blocks)).toEqual([]);
    expect(shown(card.blocks)).toContain(`${expected}${NOW / 1000}^`);
    expectWithinLimits(card.blocks);
  });
});

describe('escalationCard', () => {
  const card = escalationCard(escalation, { now: NOW });

  it('says why it stopped and what was tried, and mentions the configured people', () => {
    const text = shown(card.blocks);
    expect(text).toContain('*Steward needs a person* <@UONCALL> <!subteam^SSUPPORT>');
    expect(text).toContain('*Why it stopped:* The same call failed 3 times &lt;!channel&gt;');
    expect(text).toContain('*Tried*');
    expect(text).toContain('`get_order` twice, then &lt;!here&gt; gave up.');
    expectOnlyOurControls(text + card.text, ['UONCALL', 'SSUPPORT']);
    expect(card.text).toContain('<@UONCALL>');
  });

  it('offers Take over, Retry and Dismiss carrying only the run id', () => {
    expect(actionsOf(card.blocks)[0]?.block_id).toBe('steward_escalation');
    expect(buttonsOf(card.blocks).map((b) => [b.text.text, b.action_id, b.value])).toEqual([
      ['Take over', 'steward_take_over', 'run-9'],
      ['Retry', 'steward_retry', 'run-9'],
      ['Dismiss', 'steward_dismiss', 'run-9'],
    ]);
  });

  it('keeps a huge summary within the section limit with balanced code fences', () => {
    const summary = `Tried:\n\n\`\`\`\n${'log line <x>\n'.repeat(2000)}\`\`\``;
    const big = escalationCard({ ...escalation, summary }, { now: NOW });
    expectWithinLimits(big.blocks);
    for (const text of visibleTexts(big.blocks)) expect(text.split('```').length % 2).toBe(1);
    expect(shown(big.blocks)).toContain('…(truncated)');
  });
});

describe('escalationResolvedCard', () => {
  it('keeps a Release button after a take-over', () => {
    const card = escalationResolvedCard(escalation, { choice: 'take_over', by: 'UBOB', at: NOW });
    expect(shown(card.blocks)).toContain('Taken over by <@UBOB> — Steward stays quiet in this thread');
    expect(buttonsOf(card.blocks).map((b) => [b.action_id, b.value])).toEqual([['steward_release', 'run-9']]);
    expect(card.text).toBe('Taken over by <@UBOB> — Steward stays quiet in this thread');
  });

  it.each([
    ['retry', 'Retried by <@UBOB>'],
    ['dismiss', 'Dismissed by <@UBOB>'],
    ['release', 'Released by <@UBOB>: Steward answers here again'],
  ] as const)('shows %s without buttons, even with only the run id', (choice, expected) => {
    const card = escalationResolvedCard({ runId: 'run-9' }, { choice, by: 'UBOB', at: NOW });
    expect(actionsOf(card.blocks)).toEqual([]);
    expect(shown(card.blocks)).toContain(expected);
  });

  it('does not ping the escalation contacts again when updated', () => {
    const card = escalationResolvedCard(escalation, { choice: 'retry', by: 'UBOB', at: NOW });
    expect(shown(card.blocks)).not.toContain('<@UONCALL>');
  });
});

describe('statusText and slackMention', () => {
  it('shows a status line as a context block, escaped', () => {
    expect(statusText('Looking up order 1234…')).toEqual([
      { type: 'context', elements: [{ type: 'mrkdwn', text: '⏳ Looking up order 1234…', verbatim: true }] },
    ]);
    expect(shown(statusText('Running x (<!here>)…'))).toBe('⏳ Running x (&lt;!here&gt;)…');
  });

  it('renders users and groups as mentions and anything else as text', () => {
    expect(slackMention('U123')).toBe('<@U123>');
    expect(slackMention('W123')).toBe('<@W123>');
    expect(slackMention('S123')).toBe('<!subteam^S123>');
    expect(slackMention('!channel')).toBe('!channel');
    expect(slackMention('<!here>')).toBe('&lt;!here&gt;');
  });
});
