import type { MessageMentionOptions } from 'discord.js';

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
export const CUSTOM_ID_KINDS = ['approve', 'reject', 'take_over', 'release', 'retry', 'dismiss'] as const;
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

interface Fence {
  readonly start: number;
  readonly end: number;
  /** The opening line without its newline (```` ```ts ````), repeated when the fence is reopened. */
  readonly open: string;
}

interface Layout {
  /** Per index: the fence strictly containing it (start < i < end), or undefined. */
  readonly fenceAt: (Fence | undefined)[];
  /** Per index: 1 when a cut there would split a `<…>` sequence (mention, timestamp, link, emoji). */
  readonly inAtom: Uint8Array;
}

const FENCE = '```';
const CLOSE_FENCE = '\n```';
// Discord reads a language only when it is a short word directly followed by a newline.
const FENCE_LANGUAGE = /^[A-Za-z0-9_+\-.#]{1,20}(?=\n)/;
const ATOM = /<[^<>\s]{1,200}>/g;

function layoutOf(text: string): Layout {
  const fenceAt: (Fence | undefined)[] = new Array(text.length + 1).fill(undefined);
  let open = -1;
  for (const match of text.matchAll(/```/g)) {
    if (open < 0) {
      open = match.index;
      continue;
    }
    // Fences pair in order; an unmatched last one shows as text, so it is not a fence.
    const language = FENCE_LANGUAGE.exec(text.slice(open + FENCE.length, open + FENCE.length + 21))?.[0];
    const fence = { start: open, end: match.index + FENCE.length, open: FENCE + (language ?? '') };
    for (let i = fence.start + 1; i < fence.end; i++) fenceAt[i] = fence;
    open = -1;
  }
  const inAtom = new Uint8Array(text.length + 1);
  for (const match of text.matchAll(ATOM)) inAtom.fill(1, match.index + 1, match.index + match[0].length);
  return { fenceAt, inAtom };
}

interface Cut {
  /** The chunk is text[pos, at) (plus a closing fence when `reopen` is set). */
  readonly at: number;
  readonly next: number;
  /** The fence's opening line when the chunk closes a fence the next chunk must reopen. */
  readonly reopen?: string;
}

const isSpace = (char: string | undefined): boolean => char === ' ' || char === '\t';

/** Steps back off an atom or the middle of a surrogate pair; stays put when that is impossible. */
function safeHardCut(text: string, layout: Layout, from: number, lowest: number): number {
  let at = from;
  while (at > lowest && layout.inAtom[at] === 1) at--;
  if (at <= lowest) at = from;
  const code = text.charCodeAt(at - 1);
  if (at - 1 > lowest && code >= 0xd800 && code <= 0xdbff) at--;
  return at;
}

/** The best whitespace break outside any fence: paragraph, then line, then space. */
function outsideBreak(text: string, layout: Layout, pos: number, end: number): number | undefined {
  let paragraph: number | undefined;
  let line: number | undefined;
  let space: number | undefined;
  for (let at = end; at > pos && paragraph === undefined; at--) {
    if (layout.inAtom[at] === 1 || layout.fenceAt[at] !== undefined) continue;
    const char = text[at];
    if (char === '\n' && text[at + 1] === '\n') paragraph = at;
    else if (char === '\n') line ??= at;
    else if (isSpace(char)) space ??= at;
  }
  // A preferred kind of break wins unless it would leave a chunk less than half full.
  const half = pos + (end - pos) / 2;
  for (const at of [paragraph, line, space]) if (at !== undefined && at >= half) return at;
  const best = Math.max(paragraph ?? -1, line ?? -1, space ?? -1);
  return best > pos ? best : undefined;
}

/** A cut inside `fence`, leaving room to close it; the next chunk reopens it. */
function insideBreak(text: string, layout: Layout, pos: number, end: number, fence: Fence): Cut | undefined {
  const lowest = Math.max(pos, fence.start + fence.open.length);
  // Stop short of the fence's own closing line, so the reopened chunk is never an empty fence.
  const highest = Math.min(end - CLOSE_FENCE.length, fence.end - CLOSE_FENCE.length - 1);
  if (highest <= lowest) return undefined;
  let space: number | undefined;
  for (let at = highest; at > lowest; at--) {
    if (layout.inAtom[at] === 1) continue;
    // The newline becomes the close/reopen pair; a space stays with the next chunk (indentation).
    if (text[at] === '\n') return { at, next: at + 1, reopen: fence.open };
    if (isSpace(text[at])) space ??= at;
  }
  const at = space ?? safeHardCut(text, layout, highest, lowest);
  return { at, next: at, reopen: fence.open };
}

function nextCut(text: string, layout: Layout, pos: number, budget: number): Cut {
  const end = pos + budget;
  const fence = layout.fenceAt[end];
  const outside = outsideBreak(text, layout, pos, end);
  const skipWhitespace = (at: number): Cut => {
    let next = at;
    while (next < text.length && /\s/.test(text[next] ?? '')) next++;
    return { at, next };
  };
  if (fence === undefined) {
    if (outside !== undefined) return skipWhitespace(outside);
    const at = safeHardCut(text, layout, end, pos);
    return { at, next: at };
  }
  // The window ends inside a fence. Break before it when that is a decent break or the whole
  // fence then fits in the next chunk; otherwise split the fence itself.
  if (outside !== undefined && (outside - pos >= budget / 2 || fence.end - outside <= budget)) {
    return skipWhitespace(outside);
  }
  const inside = insideBreak(text, layout, pos, end, fence);
  if (inside !== undefined) return inside;
  if (outside !== undefined) return skipWhitespace(outside);
  // Only reachable when a fence opens in the last few characters after one unbreakable run.
  const at = fence.start > pos ? fence.start : safeHardCut(text, layout, end, pos);
  return { at, next: at };
}

/**
 * Splits Markdown into messages of at most `limit` characters. Breaks at paragraphs, then lines,
 * then spaces; never inside a `<…>` mention/timestamp or a surrogate pair; never inside a ```
 * fence unless the fence cannot fit, in which case it is closed at the end of one chunk and
 * reopened (with its language) at the start of the next. Only whitespace at a break is dropped
 * (Discord trims it anyway); blank input gives [].
 */
export function splitForDiscord(text: string, limit: number = DISCORD_MESSAGE_LIMIT): string[] {
  // Room for a reopened fence with a language, its closing line and some text.
  if (!Number.isInteger(limit) || limit < 40) throw new RangeError(`limit must be ≥ 40, got ${limit}`);
  if (text.trim() === '') return [];
  if (text.length <= limit) return [text];
  const layout = layoutOf(text);
  const chunks: string[] = [];
  let pos = 0;
  let reopen = '';
  while (pos < text.length) {
    const budget = limit - reopen.length;
    if (text.length - pos <= budget) {
      chunks.push(reopen + text.slice(pos));
      break;
    }
    const cut = nextCut(text, layout, pos, budget);
    const body = text.slice(pos, cut.at);
    const chunk = cut.reopen === undefined ? (reopen + body).trimEnd() : reopen + body + CLOSE_FENCE;
    if (chunk.trim() !== '') chunks.push(chunk);
    reopen = cut.reopen === undefined ? '' : `${cut.reopen}\n`;
    pos = cut.next;
  }
  return chunks;
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
