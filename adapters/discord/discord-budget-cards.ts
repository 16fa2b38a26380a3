import { ButtonStyle } from 'discord.js';
import { budgetLimitId } from '../../src/core/conversation.ts';
import type { AdminRequest, BudgetRefusal } from '../../src/core/surface.ts';
import { buttons, type DiscordMessagePayload } from './discord-cards.ts';
import {
  configuredMentions,
  DISCORD_MESSAGE_LIMIT,
  type IsRole,
  neutralizeMentions,
  truncateText,
} from './discord-format.ts';

/**
 * A budget refusal with a "Request more" button. Discord cannot show a reply to a message to one
 * person, so it pings only the person refused.
 */
export function budgetRefusalCard(refusal: BudgetRefusal, userId: string): DiscordMessagePayload {
  return {
    content: truncateText(`<@${userId}> ⛔ ${neutralizeMentions(refusal.text)}`, DISCORD_MESSAGE_LIMIT),
    embeds: [],
    components: [
      buttons(budgetLimitId(refusal.limit), ['Request more', 'budget_request', ButtonStyle.Primary]),
    ],
    allowedMentions: { parse: [], users: [userId] },
  };
}

/** Someone asks for more budget: pings them and the configured admins (users or roles), nobody else. */
export function adminRequestCard(request: AdminRequest, isRole: IsRole): DiscordMessagePayload {
  const admins = configuredMentions(request.mentions, isRole);
  const content = `<@${request.requestedBy}> ${neutralizeMentions(request.text)}${admins.text ? ` ${admins.text}` : ''}`;
  return {
    content: truncateText(content, DISCORD_MESSAGE_LIMIT),
    embeds: [],
    components: [],
    allowedMentions: {
      parse: [],
      users: [request.requestedBy, ...(admins.allowed.users ?? [])],
      roles: [...(admins.allowed.roles ?? [])],
    },
  };
}
