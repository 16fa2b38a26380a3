import type { MessageMentionOptions } from 'discord.js';
import { splitMessage } from '../../src/core/text/split-message.ts';

/** Most characters a message's `content` may hold. */
export const DISCORD_MESSAGE_LIMIT = 2000;
/** Most characters of a component's `custom_id`. */
export const DISCORD_CUSTOM_ID_LIMIT = 100;

/**
 * Mentions off: nothing in the message pings, whatever it contains. Frozen because it is shared by
 * every send; a caller adding ids to it would make every later message ping them.
 */
export const NO_MENTIONS = Object.freeze({
  parse: Object.freeze([] as const),
}) satisfies MessageMentionOptions;

const ZWSP = '\u200b';

/**
 * Makes model text unable to ping, even if `allowedMentions` were misconfigured (that option is
 * the primary defence; this is the second). A zero-width space after `<@` turns user, nickname and
 * role mentions (`<@id>`, `<@!id>`, `<@&id>`) into plain text, and one after `@` breaks
 * `@everyone`/`@here` (case-insensitive, and also when glued to more letters, since we cannot be
 * sure how Discord tokenizes those). Idempotent: already-broken sequences are left alone.
 */
export function neutralizeMentions(text: string): string {
  return text.replace(/<@(?!\u200b)/g, `<@${ZWSP}`).replace(/@(?=everyone|here)/gi, `@${ZWSP}`);
}

/** The buttons Steward puts on its cards; the interaction handler routes on these. */
export const CUSTOM_ID_KINDS = [
  'approve',
  'reject',
  'take_over',
  'release',
  'retry',
  'dismiss',
  'budget_request',
] as const;
export type CustomIdKind = (typeof CUSTOM_ID_KINDS)[number];

const CUSTOM_ID_PREFIX = 'steward';
// Ids are UUIDs; allowing only these characters keeps the `:` separator unambiguous.
const ID_PATTERN = /^[A-Za-z0-9_-]+$/;
const CUSTOM_ID_PATTERN = /^steward:([a-z_]+):([A-Za-z0-9_-]+)$/;

const isKind = (value: string): value is CustomIdKind =>
  (CUSTOM_ID_KINDS as readonly string[]).includes(value);

/**
 * The `custom_id` for a button: `steward:<kind>:<id>`. It carries only an id to look up, never data
 * to trust, since any client can send any custom_id back. Throws on an id that would not round-trip.
 */
export function customId(kind: CustomIdKind, id: string): string {
  if (!ID_PATTERN.test(id)) throw new RangeError(`custom_id id must match ${ID_PATTERN}: ${id.slice(0, 40)}`);
  const value = `${CUSTOM_ID_PREFIX}:${kind}:${id}`;
  if (value.length > DISCORD_CUSTOM_ID_LIMIT) {
    throw new RangeError(`custom_id longer than ${DISCORD_CUSTOM_ID_LIMIT}: ${value.length}`);
  }
  return value;
}

/** The kind and id of one of our buttons; anything else (other bots, tampering) is undefined. */
export function parseCustomId(
  value: string,
): { readonly kind: CustomIdKind; readonly id: string } | undefined {
  if (value.length > DISCORD_CUSTOM_ID_LIMIT) return undefined;
  const match = CUSTOM_ID_PATTERN.exec(value);
  const kind = match?.[1];
  const id = match?.[2];
  if (kind === undefined || id === undefined || !isKind(kind)) return undefined;
  return { kind, id };
}

// Discord shows `<…>` mentions, timestamps, links and custom emoji as one unit.
const DISCORD_ATOMS = /<[^<>\s]{1,200}>/g;

/** Messages of at most `limit` characters (Discord's 2,000), fences reopened with their language. */
export function splitForDiscord(text: string, limit: number = DISCORD_MESSAGE_LIMIT): string[] {
  return splitMessage(text, { limit, minLimit: 40, atoms: DISCORD_ATOMS, keepFenceLanguage: true });
}

/** Whether a configured id is a role; Discord user and role ids look the same. */
export type IsRole = (id: string) => boolean;

const TRUNCATED = '…(truncated)';
const SNOWFLAKE = /^\d{17,20}$/;
/** Discord accepts 100 ids per allowed_mentions list; a card naming more than this is unreadable. */
const MAX_MENTIONS = 20;

/** User and role ids are both 17–20 digit snowflakes; anything else is never turned into a mention. */
export const isSnowflake = (id: string): boolean => SNOWFLAKE.test(id);

/** Plain text cut to `max`, never leaving half an emoji behind. */
export function truncateText(text: string, max: number): string {
  if (text.length <= max) return text;
  return `${text.slice(0, max - TRUNCATED.length).replace(/[\uD800-\uDBFF]$/, '')}${TRUNCATED}`;
}

/** Model-written Markdown, neutralized and cut at a safe break (balanced fences) when too long; max ≥ 60. */
export function modelText(text: string, max: number): string {
  const safe = neutralizeMentions(text.trim());
  if (safe.length <= max) return safe;
  return `${splitForDiscord(safe, max - TRUNCATED.length - 1)[0] ?? ''}\n${TRUNCATED}`;
}

/** Short plain text (tool names, agents, risks): neutralized, on one line, within `max`. */
export const plainText = (text: string, max: number): string =>
  truncateText(neutralizeMentions(text.replace(/\s+/g, ' ').trim()), max);

/** Inline code the text itself cannot close. */
export const inlineCode = (text: string, max: number): string =>
  `\`${plainText(text.replace(/`/g, "'"), max)}\``;

/** A person we name but do not ping (the card's allowedMentions decide); bad ids show as text. */
export const userMention = (id: string): string => (isSnowflake(id) ? `<@${id}>` : plainText(id, 100));

/** A time each reader sees in their own time zone (`f` date and time, `R` relative). */
export const discordTime = (ms: number, style: 'f' | 'R'): string => `<t:${Math.floor(ms / 1000)}:${style}>`;

export interface ConfiguredMentions {
  readonly text: string;
  readonly allowed: MessageMentionOptions;
}

/**
 * Mentions of configured people and roles, and an allowedMentions that pings exactly those (never
 * @everyone). A long list is cut by count, since cutting characters could halve a mention.
 */
export function configuredMentions(ids: readonly string[], isRole: IsRole): ConfiguredMentions {
  const unique = [...new Set(ids)];
  const shown = unique.slice(0, MAX_MENTIONS);
  const users: string[] = [];
  const roles: string[] = [];
  const parts = shown.map((id) => {
    if (!isSnowflake(id)) return plainText(id, 64);
    const role = isRole(id);
    (role ? roles : users).push(id);
    return role ? `<@&${id}>` : `<@${id}>`;
  });
  const more = unique.length > shown.length ? ` and ${unique.length - shown.length} more` : '';
  return { text: parts.join(' ') + more, allowed: { parse: [], users, roles } };
}
