import { describe, expect, it } from 'vitest';
import { adminRequestCard, budgetRefusalCard } from '../../../../adapters/discord/discord-budget-cards.ts';
import { toApiBody } from '../../../../adapters/discord/discord-cards.ts';
import { parseCustomId } from '../../../../adapters/discord/discord-format.ts';
import { parseBudgetLimitId } from '../../../../src/core/conversation.ts';

const USER = '111111111111111111';
const ADMIN = '222222222222222222';
const ROLE = '333333333333333333';

describe('Discord budget cards', () => {
  it('refuses with a Request more button that names the limit and pings only the person', () => {
    const body = toApiBody(
      budgetRefusalCard(
        {
          text: "This server's monthly spending budget is used up @everyone",
          limit: { scope: 'workspace', unit: 'usd', period: 'month' },
        },
        USER,
      ),
    );
    expect(body.content).toBe(
      `<@${USER}> ⛔ This server's monthly spending budget is used up @\u200beveryone`,
    );
    expect(body.allowed_mentions).toEqual({ parse: [], users: [USER], replied_user: false });
    const button = body.components[0]?.components[0];
    expect(button).toMatchObject({
      label: 'Request more',
      custom_id: 'steward:budget_request:workspace-usd-month',
    });
    const parsed = parseCustomId(String(button && 'custom_id' in button ? button.custom_id : ''));
    expect(parsed && parseBudgetLimitId(parsed.id)).toEqual({
      scope: 'workspace',
      unit: 'usd',
      period: 'month',
    });
  });

  it('pings the requester and the configured admins (users and roles) and nobody else', () => {
    const body = toApiBody(
      adminRequestCard(
        { requestedBy: USER, text: 'asks for more budget <@&444444444444444444>', mentions: [ADMIN, ROLE] },
        (id) => id === ROLE,
      ),
    );
    expect(body.content).toBe(
      `<@${USER}> asks for more budget <@\u200b&444444444444444444> <@${ADMIN}> <@&${ROLE}>`,
    );
    expect(body.allowed_mentions).toEqual({
      parse: [],
      users: [USER, ADMIN],
      roles: [ROLE],
      replied_user: false,
    });
  });

  it('reads no limit from ids Steward did not make', () => {
    for (const id of [
      'channel-tokens',
      'channel-tokens-day-x',
      'galaxy-tokens-day',
      'user-coins-day',
      'user-usd-week',
      '',
    ]) {
      expect(parseBudgetLimitId(id), id).toBeUndefined();
    }
  });
});
