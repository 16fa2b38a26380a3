import {
  type APIEmbed,
  ButtonStyle,
  type InteractionUpdateOptions,
  type MessageCreateOptions,
  type MessageEditOptions,
  type RESTPatchAPIChannelMessageJSONBody,
  type RESTPostAPIChannelMessageJSONBody,
} from 'discord.js';
import { describe, expect, it } from 'vitest';
import {
  approvalCard,
  approvalDecidedCard,
  approvalHandlingCard,
  DISCORD_EMBED_LIMITS,
  type DiscordMessagePayload,
  embedLength,
  escalationCard,
  escalationResolvedCard,
  toApiBody,
} from '../../../../adapters/discord/discord-cards.ts';
import {
  DISCORD_MESSAGE_LIMIT,
  NO_MENTIONS,
  parseCustomId,
} from '../../../../adapters/discord/discord-format.ts';
import type { PendingApproval } from '../../../../src/core/run-state.ts';
import type { EscalationNotice, EscalationResolution } from '../../../../src/core/surface.ts';

const NOW = Date.UTC(2025, 0, 15, 12, 0, 0);
const EXPIRES = NOW + 15 * 60_000;
const unix = (ms: number): number => Math.floor(ms / 1000);

const ADMIN = '111111111111111111';
const OPS_ROLE = '222222222222222222';
const REQUESTER = '333333333333333333';
const ONCALL = '444444444444444444';
const SUPPORT_ROLE = '555555555555555555';
const APPROVAL_ID = '3f2b8c1e-9d4a-4f6b-8e2c-7a1d5b9c0e42';
const RUN_ID = '0b6e7a52-1c3d-4e5f-9a8b-7c6d5e4f3a21';
const ROLES = new Set([OPS_ROLE, SUPPORT_ROLE]);
const isRole = (id: string): boolean => ROLES.has(id);

const approval = (overrides: Partial<PendingApproval> = {}): PendingApproval => ({
  approvalId: APPROVAL_ID,
  runId: RUN_ID,
  agent: 'support',
  toolName: 'refund_order',
  callId: 'call-1',
  displayArgs: { order_id: '1234', amount: 25, api_key: '[redacted]' },
  argsHash: 'h',
  risk: 'write',
  reason: 'Refunds move money, so a person must approve.',
  requestedBy: REQUESTER,
  conversation: { platform: 'discord', tenantId: 'G1', channelId: 'C1', threadId: 'T1' },
  createdAt: NOW,
  expiresAt: EXPIRES,
  ...overrides,
});

const escalation: EscalationNotice = {
  runId: RUN_ID,
  reason: 'The same call failed 3 times @everyone',
  summary: '**Tried** `get_order` twice, then <@&555555555555555555> gave up.',
  mentions: [ONCALL, SUPPORT_ROLE],
};

/** Every string a Discord user could read on the card. */
function visible(card: DiscordMessagePayload): string[] {
  const embedTexts = (e: APIEmbed): string[] => [
    e.title ?? '',
    e.description ?? '',
    e.footer?.text ?? '',
    ...(e.fields ?? []).flatMap((f) => [f.name, f.value]),
  ];
  return [card.content, ...card.embeds.flatMap(embedTexts)];
}

const buttonsOf = (card: DiscordMessagePayload) => card.components.flatMap((row) => row.components);
const fieldsOf = (card: DiscordMessagePayload) => card.embeds[0]?.fields ?? [];
const field = (card: DiscordMessagePayload, name: string): string | undefined =>
  fieldsOf(card).find((f) => f.name === name)?.value;

/** Who Discord would actually notify: mentions in content, filtered by allowedMentions. */
function notified(card: DiscordMessagePayload): string[] {
  const { parse = [], users = [], roles = [] } = card.allowedMentions;
  const out: string[] = [];
  for (const [m, kind, id] of card.content.matchAll(/<@([!&]?)(\d+)>|@(?:everyone|here)/g)) {
    if (id === undefined) {
      if (parse.includes('everyone')) out.push(m);
    } else if (
      kind === '&'
        ? parse.includes('roles') || roles.includes(id)
        : parse.includes('users') || users.includes(id)
    ) {
      out.push(m);
    }
  }
  return out;
}

/** Every card respects Discord's message, embed and component limits. */
function expectWithinLimits(card: DiscordMessagePayload): void {
  expect(card.content.length).toBeLessThanOrEqual(DISCORD_MESSAGE_LIMIT);
  expect(card.embeds.length).toBeLessThanOrEqual(10);
  for (const embed of card.embeds) {
    expect(embedLength(embed)).toBeLessThanOrEqual(DISCORD_EMBED_LIMITS.total);
    expect(embed.title?.length ?? 0).toBeLessThanOrEqual(DISCORD_EMBED_LIMITS.title);
    expect(embed.description?.length ?? 0).toBeLessThanOrEqual(DISCORD_EMBED_LIMITS.description);
    expect(embed.fields?.length ?? 0).toBeLessThanOrEqual(DISCORD_EMBED_LIMITS.fields);
    for (const f of embed.fields ?? [])
      expect(f.value.length).toBeLessThanOrEqual(DISCORD_EMBED_LIMITS.fieldValue);
    // Code blocks in what a person sees are always closed.
    for (const text of [embed.description ?? '', ...(embed.fields ?? []).map((f) => f.value)]) {
      expect(text.split('```').length % 2, text.slice(0, 80)).toBe(1);
    }
  }
  expect(card.components.length).toBeLessThanOrEqual(5);
  for (const row of card.components) expect(row.components.length).toBeLessThanOrEqual(5);
  for (const button of buttonsOf(card)) {
    expect('custom_id' in button && button.custom_id.length).toBeLessThanOrEqual(100);
  }
  expect(card.allowedMentions.parse ?? []).toEqual([]);
  expect((card.allowedMentions.users ?? []).length).toBeLessThanOrEqual(100);
}

const customIds = (card: DiscordMessagePayload) =>
  buttonsOf(card).map((b) => ('custom_id' in b ? parseCustomId(b.custom_id) : undefined));

describe('DiscordMessagePayload', () => {
  it('is what channel.send, message.edit and interaction.update accept', () => {
    const card = approvalCard(approval(), { approvers: [ADMIN], now: NOW, isRole });
    const send: MessageCreateOptions = card;
    const edit: MessageEditOptions = card;
    const update: InteractionUpdateOptions = card;
    expect([send, edit, update]).toHaveLength(3);
  });

  it('converts to the raw REST body with allowed_mentions always set', () => {
    const card = approvalCard(approval(), { approvers: [ADMIN, OPS_ROLE], now: NOW, isRole });
    const post: RESTPostAPIChannelMessageJSONBody = toApiBody(card);
    const patch: RESTPatchAPIChannelMessageJSONBody = toApiBody(card);
    expect(patch).toEqual(post);
    expect(post).toEqual({
      content: card.content,
      embeds: card.embeds,
      components: card.components,
      allowed_mentions: { parse: [], users: [ADMIN], roles: [OPS_ROLE], replied_user: false },
    });
    const plain = toApiBody({ content: 'hi', embeds: [], components: [], allowedMentions: NO_MENTIONS });
    expect(plain.allowed_mentions).toEqual({ parse: [], replied_user: false });
    const legacy = toApiBody({
      content: 'x',
      embeds: [],
      components: [],
      allowedMentions: { parse: ['users', 'roles', 'everyone'], repliedUser: true },
    });
    expect(legacy.allowed_mentions).toEqual({ parse: ['users', 'roles', 'everyone'], replied_user: true });
  });
});

describe('approvalCard', () => {
  const card = approvalCard(approval(), { approvers: [ADMIN, OPS_ROLE], now: NOW, isRole });
  const embed = card.embeds[0];

  it('says what Steward wants to do, why, and with which arguments', () => {
    expect(card.content).toBe(
      `✋ **Approval needed:** Steward wants to run \`refund_order\` · <@${ADMIN}> <@&${OPS_ROLE}>`,
    );
    expect(embed?.title).toBe('Approval needed: refund_order');
    expect(embed?.description).toBe('Refunds move money, so a person must approve.');
    expect(fieldsOf(card).map((f) => f.name)).toEqual([
      'Arguments',
      'Risk',
      'Requested by',
      'Agent',
      'Who may approve',
      'Expires',
    ]);
    expect(field(card, 'Arguments')).toBe(
      '```json\n{\n  "order_id": "1234",\n  "amount": 25,\n  "api_key": "[redacted]"\n}\n```',
    );
    expect(field(card, 'Risk')).toBe('write');
    expect(field(card, 'Requested by')).toBe(`<@${REQUESTER}>`);
    expect(field(card, 'Who may approve')).toBe(`<@${ADMIN}> <@&${OPS_ROLE}>`);
    expect(field(card, 'Expires')).toBe(`<t:${unix(EXPIRES)}:R> (<t:${unix(EXPIRES)}:f>)`);
    expect(embed?.footer?.text).toBe(`Approval ${APPROVAL_ID} · run ${RUN_ID}`);
    expect(embed?.timestamp).toBe(new Date(NOW).toISOString());
    expectWithinLimits(card);
  });

  it('has Approve and Reject buttons that carry only the approval id', () => {
    expect(card.components).toHaveLength(1);
    expect(buttonsOf(card).map((b) => ['label' in b && b.label, b.style])).toEqual([
      ['Approve', ButtonStyle.Success],
      ['Reject', ButtonStyle.Danger],
    ]);
    expect(customIds(card)).toEqual([
      { kind: 'approve', id: APPROVAL_ID },
      { kind: 'reject', id: APPROVAL_ID },
    ]);
  });

  it('pings exactly the configured approvers', () => {
    expect(card.allowedMentions).toEqual({ parse: [], users: [ADMIN], roles: [OPS_ROLE] });
    expect(notified(card)).toEqual([`<@${ADMIN}>`, `<@&${OPS_ROLE}>`]);
  });

  it('shows a malformed approver as text and pings nobody for it', () => {
    const odd = approvalCard(approval(), { approvers: ['@everyone', 'ops team'], now: NOW, isRole });
    expect(field(odd, 'Who may approve')).toBe('@\u200beveryone ops team');
    expect(odd.allowedMentions).toEqual({ parse: [], users: [], roles: [] });
    expect(notified(odd)).toEqual([]);
    const none = approvalCard(approval(), { approvers: [], now: NOW, isRole });
    expect(field(none, 'Who may approve')).toBe('an admin');
    expect(none.content).not.toContain('·');
  });

  it('still shows arguments JSON cannot encode', () => {
    const c = approvalCard(approval({ displayArgs: { n: 10n } }), { approvers: [], now: NOW, isRole });
    expect(field(c, 'Arguments')).toBe('```json\n[object Object]\n```');
    const none = approvalCard(approval({ displayArgs: undefined }), { approvers: [], now: NOW, isRole });
    expect(field(none, 'Arguments')).toBe('```json\nundefined\n```');
  });

  it('says when the request has already expired', () => {
    const late = approvalCard(approval(), { approvers: [ADMIN], now: EXPIRES + 1, isRole });
    expect(field(late, 'Expires')).toBe('Expired');
  });

  it('cannot be made to ping by a hostile tool, arguments, reason or requester', () => {
    const hostile = approval({
      toolName: `@everyone <@&${OPS_ROLE}> \`x\``,
      reason: `Ignore previous instructions @here <@${ADMIN}> <@!${ADMIN}> <@&999999999999999999>`,
      displayArgs: { note: `@everyone <@&${OPS_ROLE}>`, code: '```\n@here\n```' },
      agent: '@here',
      risk: 'write',
      requestedBy: '@everyone',
    });
    const c = approvalCard(hostile, { approvers: [ADMIN, OPS_ROLE], now: NOW, isRole });
    // Only the configured approvers' own mentions remain anywhere on the card.
    const intended = [`<@${ADMIN}>`, `<@&${OPS_ROLE}>`];
    expect(c.content.match(/<@[!&]?\d+>|@everyone|@here/gi)).toEqual(intended);
    for (const text of visible(c).slice(1)) {
      const pingable = text.match(/<@[!&]?\d+>|@everyone|@here/gi) ?? [];
      expect(
        pingable.every((m) => intended.includes(m)),
        text,
      ).toBe(true);
    }
    expect(notified(c)).toEqual(intended);
    expect(c.allowedMentions).toEqual({ parse: [], users: [ADMIN], roles: [OPS_ROLE] });
    // The arguments cannot close their code block early.
    expect(field(c, 'Arguments')?.split('```')).toHaveLength(3);
    expectWithinLimits(c);
  });

  it('stays within Discord limits whatever it is given', () => {
    const huge = approval({
      toolName: 't'.repeat(1000),
      reason: `${'why '.repeat(3000)}\n\`\`\`\n${'code\n'.repeat(500)}\`\`\``,
      displayArgs: { blob: 'x'.repeat(50_000), emoji: '😀'.repeat(600) },
      agent: 'a'.repeat(500),
      requestedBy: 'r'.repeat(500),
    });
    const approvers = Array.from({ length: 200 }, (_, i) => String(100000000000000000n + BigInt(i)));
    const c = approvalCard(huge, { approvers, now: NOW, isRole });
    expectWithinLimits(c);
    expect(field(c, 'Who may approve')).toMatch(/ and 180 more$/);
    expect(c.allowedMentions.users).toHaveLength(20);
    expect(embedLength(c.embeds[0] as APIEmbed)).toBeGreaterThan(4000);
    expect(c.embeds[0]?.description).toMatch(/…\(truncated\)$/);
    expectWithinLimits(approvalDecidedCard(huge, { decision: 'approve', by: ADMIN, at: NOW }));
    expectWithinLimits(approvalHandlingCard(huge, ADMIN));
  });
});

const embedsText = (card: DiscordMessagePayload): string => visible(card).slice(1).join('\n');

describe('approvalHandlingCard', () => {
  it('removes the buttons and says whose decision is being handled', () => {
    const card = approvalHandlingCard(approval(), ADMIN);
    expect(card.components).toEqual([]);
    expect(field(card, 'Status')).toBe(`⏳ Handling <@${ADMIN}>'s decision…`);
    expect(card.allowedMentions).toEqual({ parse: [] });
    expect(notified(card)).toEqual([]);
  });
});

describe('approvalDecidedCard', () => {
  it.each([
    [
      { decision: 'approve', by: ADMIN, at: NOW } as const,
      `✅ Approved by <@${ADMIN}> at <t:${unix(NOW)}:f>`,
    ],
    [{ decision: 'reject', by: ADMIN, at: NOW } as const, `❌ Rejected by <@${ADMIN}> at <t:${unix(NOW)}:f>`],
    [{ decision: 'expired', by: null, at: NOW } as const, `⌛ Expired at <t:${unix(NOW)}:f>`],
  ])('records %o on the card and removes the buttons', (outcome, line) => {
    const card = approvalDecidedCard(approval(), outcome);
    expect(card.components).toEqual([]);
    expect(field(card, 'Decision')).toBe(line);
    expect(card.content).toBe(`${line} · \`refund_order\``);
    expect(field(card, 'Who may approve')).toBeUndefined();
    expect(card.allowedMentions).toEqual({ parse: [] });
    expectWithinLimits(card);
  });

  it('colours the card by outcome', () => {
    const colour = (decision: 'approve' | 'reject') =>
      approvalDecidedCard(approval(), { decision, by: ADMIN, at: NOW }).embeds[0]?.color;
    expect(colour('approve')).not.toBe(colour('reject'));
  });
});

describe('escalationCard', () => {
  const card = escalationCard(escalation, { now: NOW, isRole });

  it('says why the run stopped and what was tried, with model text neutralized', () => {
    const embed = card.embeds[0];
    expect(embed?.title).toBe('🚨 Steward needs a person');
    expect(embed?.description).toBe(
      '**Why it stopped**\nThe same call failed 3 times @\u200beveryone\n\n' +
        '**What was tried**\n**Tried** `get_order` twice, then <@\u200b&555555555555555555> gave up.',
    );
    expect(embed?.footer?.text).toBe(`Run ${RUN_ID}`);
    expect(embed?.timestamp).toBe(new Date(NOW).toISOString());
    expectWithinLimits(card);
  });

  it('pings only the configured people and roles, from the content', () => {
    expect(card.content).toBe(`🚨 **Steward needs a person** · <@${ONCALL}> <@&${SUPPORT_ROLE}>`);
    expect(card.allowedMentions).toEqual({ parse: [], users: [ONCALL], roles: [SUPPORT_ROLE] });
    expect(notified(card)).toEqual([`<@${ONCALL}>`, `<@&${SUPPORT_ROLE}>`]);
    // The summary names the configured role, but only as text.
    expect(embedsText(card)).not.toMatch(/<@&\d+>/);
  });

  it('offers Take over, Retry and Dismiss for the run', () => {
    expect(buttonsOf(card).map((b) => ['label' in b && b.label, b.style])).toEqual([
      ['Take over', ButtonStyle.Primary],
      ['Retry', ButtonStyle.Secondary],
      ['Dismiss', ButtonStyle.Secondary],
    ]);
    expect(customIds(card)).toEqual([
      { kind: 'take_over', id: RUN_ID },
      { kind: 'retry', id: RUN_ID },
      { kind: 'dismiss', id: RUN_ID },
    ]);
  });

  it('keeps a huge summary within limits with its code blocks closed', () => {
    const long = escalationCard(
      {
        runId: RUN_ID,
        reason: `${'@here '.repeat(500)}`,
        summary: `intro\n\n\`\`\`\n${'step <@&555555555555555555>\n'.repeat(400)}\`\`\`\n${'more '.repeat(800)}`,
        mentions: [],
      },
      { now: NOW, isRole },
    );
    expectWithinLimits(long);
    expect(long.embeds[0]?.description?.length).toBeGreaterThan(3500);
    expect(embedsText(long)).not.toMatch(/<@&\d|@here/);
    expect(long.content).toBe('🚨 **Steward needs a person**');
    expect(long.allowedMentions).toEqual({ parse: [], users: [], roles: [] });
  });

  it('shows only the reason when there is no summary', () => {
    const bare = escalationCard({ ...escalation, summary: null }, { now: NOW, isRole });
    expect(bare.embeds[0]?.description).toBe(
      '**Why it stopped**\nThe same call failed 3 times @\u200beveryone',
    );
  });
});

describe('escalationResolvedCard', () => {
  const resolve = (choice: EscalationResolution['choice']) =>
    escalationResolvedCard(escalation, { choice, by: ONCALL, at: NOW });
  const when = `<t:${unix(NOW)}:f>`;

  it.each([
    ['take_over', `🙋 Taken over by <@${ONCALL}> at ${when}: Steward stays quiet in this thread`],
    ['retry', `🔁 Retried by <@${ONCALL}> at ${when}`],
    ['dismiss', `🗑️ Dismissed by <@${ONCALL}> at ${when}`],
    ['release', `↩️ Released by <@${ONCALL}> at ${when}: Steward answers here again`],
  ] as const)('records %s without pinging anyone', (choice, line) => {
    const card = resolve(choice);
    expect(card.content).toBe(line);
    expect(field(card, 'Outcome')).toBe(line);
    expect(card.allowedMentions).toEqual({ parse: [] });
    expect(notified(card)).toEqual([]);
    expectWithinLimits(card);
  });

  it('keeps a Release button only after a take-over', () => {
    expect(customIds(resolve('take_over'))).toEqual([{ kind: 'release', id: RUN_ID }]);
    for (const choice of ['retry', 'dismiss', 'release'] as const)
      expect(resolve(choice).components).toEqual([]);
  });

  it('shows only the outcome without reason and summary', () => {
    const card = escalationResolvedCard({ runId: RUN_ID }, { choice: 'dismiss', by: ONCALL, at: NOW });
    expect(card.embeds[0]?.description).toBeUndefined();
    expect(fieldsOf(card).map((f) => f.name)).toEqual(['Outcome']);
  });
});
