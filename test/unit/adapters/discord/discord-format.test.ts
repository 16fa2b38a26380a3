import type { MessageCreateOptions } from 'discord.js';
import { describe, expect, it } from 'vitest';
import {
  CUSTOM_ID_KINDS,
  configuredMentions,
  customId,
  DISCORD_CUSTOM_ID_LIMIT,
  DISCORD_MESSAGE_LIMIT,
  discordTime,
  inlineCode,
  isSnowflake,
  modelText,
  NO_MENTIONS,
  neutralizeMentions,
  parseCustomId,
  plainText,
  splitForDiscord,
  truncateText,
  userMention,
} from '../../../../adapters/discord/discord-format.ts';

/** Sequences Discord would turn into a ping (given permissive allowedMentions). */
const PINGABLE = /<@[!&]?\d+>|@everyone|@here/gi;
const pings = (text: string): string[] => [...text.matchAll(PINGABLE)].map(([m]) => m);

const fenceCount = (text: string): number => text.split('```').length - 1;
const squash = (text: string): string => text.replace(/\s+/g, '');
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const UUID = '3f2b8c1e-9d4a-4f6b-8e2c-7a1d5b9c0e42';

describe('neutralizeMentions', () => {
  it.each([
    ['@everyone', 'hi @everyone'],
    ['@here', '@here now'],
    ['shouting', '@EVERYONE and @Here'],
    ['glued', 'x@everyoney@heres'],
    ['a user', 'ask <@123456789012345678>'],
    ['a nickname', 'ask <@!123456789012345678>'],
    ['a role', 'ping <@&123456789012345678>'],
    ['in code', '`<@&123456789012345678>` ```\n@everyone\n```'],
  ])('shows %s as text', (_name, text) => {
    const out = neutralizeMentions(text);
    expect(pings(out)).toEqual([]);
    // Only zero-width spaces were added: a person reads the same text.
    expect(out.replaceAll('\u200b', '')).toBe(text);
  });

  it('breaks mentions right after <@ and @ and is idempotent', () => {
    expect(neutralizeMentions('<@&42> @here')).toBe('<@\u200b&42> @\u200bhere');
    const once = neutralizeMentions('<@1> <@!2> <@&3> @everyone');
    expect(neutralizeMentions(once)).toBe(once);
  });

  it('leaves ordinary text, emails and channel links alone', () => {
    const text = 'mail a@b.com, see <#123456789012345678> at <t:1700000000:R> or <https://e.com>';
    expect(neutralizeMentions(text)).toBe(text);
  });
});

describe('NO_MENTIONS', () => {
  it('pings nobody and cannot be changed by a caller', () => {
    const options: MessageCreateOptions = { content: 'x', allowedMentions: NO_MENTIONS };
    expect(options.allowedMentions).toEqual({ parse: [] });
    expect(Object.isFrozen(NO_MENTIONS)).toBe(true);
    expect(Object.isFrozen(NO_MENTIONS.parse)).toBe(true);
  });
});

describe('customId / parseCustomId', () => {
  it.each(CUSTOM_ID_KINDS)('round-trips %s with a UUID within the limit', (kind) => {
    const id = customId(kind, UUID);
    expect(id).toBe(`steward:${kind}:${UUID}`);
    expect(id.length).toBeLessThanOrEqual(DISCORD_CUSTOM_ID_LIMIT);
    expect(parseCustomId(id)).toEqual({ kind, id: UUID });
  });

  it('refuses ids that would not round-trip or fit', () => {
    for (const bad of ['', 'a:b', 'with space', 'x'.repeat(90), 'ü']) {
      expect(() => customId('approve', bad)).toThrow(RangeError);
    }
    expect(customId('take_over', 'x'.repeat(82)).length).toBe(100);
    expect(() => customId('take_over', 'x'.repeat(83))).toThrow(RangeError);
  });

  it.each([
    ['another bot', `other:approve:${UUID}`],
    ['an unknown kind', `steward:delete:${UUID}`],
    ['a kind with different case', `steward:Approve:${UUID}`],
    ['an extra part', `steward:approve:${UUID}:x`],
    ['no id', 'steward:approve:'],
    ['no kind', `steward::${UUID}`],
    ['inherited names', `steward:constructor:${UUID}`],
    ['overlong', `steward:approve:${'x'.repeat(100)}`],
    ['trailing newline', `steward:approve:${UUID}\n`],
  ])('ignores %s', (_name, value) => {
    expect(parseCustomId(value)).toBeUndefined();
  });
});

describe('splitForDiscord', () => {
  it('leaves short text alone and drops blank text', () => {
    expect(DISCORD_MESSAGE_LIMIT).toBe(2000);
    expect(splitForDiscord('hello')).toEqual(['hello']);
    expect(splitForDiscord(' \n ')).toEqual([]);
    expect(splitForDiscord('')).toEqual([]);
    expect(() => splitForDiscord('x', 39)).toThrow(RangeError);
    expect(() => splitForDiscord('x', 100.5)).toThrow(RangeError);
  });

  it('prefers paragraph breaks, then line breaks, then spaces', () => {
    const [a, b, c] = ['A'.repeat(1000), 'B'.repeat(700), 'C'.repeat(700)];
    expect(splitForDiscord(`${a}\n\n${b}\n${c}`)).toEqual([a, `${b}\n${c}`]);
    expect(splitForDiscord(`${a} ${b}\n${c}`)).toEqual([`${a} ${b}`, c]);
    expect(splitForDiscord(`${a} ${b} ${c}`)).toEqual([`${a} ${b}`, c]);
  });

  it('hard-cuts one long word without losing characters', () => {
    const word = 'x'.repeat(4500);
    const chunks = splitForDiscord(word);
    expect(chunks.map((c) => c.length)).toEqual([2000, 2000, 500]);
    expect(chunks.join('')).toBe(word);
  });

  it('never cuts a mention, a timestamp or a surrogate pair', () => {
    const parts = Array.from({ length: 60 }, (_, i) => `<@${100000000000000000 + i}><t:${1700000000 + i}:R>`);
    const text = parts.join('');
    const chunks = splitForDiscord(text, 100);
    for (const chunk of chunks) {
      expect(chunk.length).toBeLessThanOrEqual(100);
      expect(chunk).toMatch(/^(<[^<>]+>)+$/);
    }
    expect(chunks.join('')).toBe(text);
    for (const chunk of splitForDiscord('😀'.repeat(100), 45)) expect(chunk).not.toMatch(LONE_SURROGATE);
  });

  it('moves a code block that fits to the next chunk instead of splitting it', () => {
    const code = `\`\`\`ts\n${'const x = 1;\n'.repeat(100)}\`\`\``;
    const chunks = splitForDiscord(`${'word '.repeat(300)}\n\n${code}`);
    expect(chunks).toHaveLength(2);
    expect(chunks[1]).toBe(code);
  });

  it('closes and reopens a long code block with its language', () => {
    const lines = Array.from({ length: 200 }, (_, i) => `  line ${i} <@&12345678901234567${i % 10}>`);
    const text = `Intro text.\n\n\`\`\`py\n${lines.join('\n')}\n\`\`\`\n\nAfter the code.`;
    const chunks = splitForDiscord(text, 500);
    expect(chunks.length).toBeGreaterThan(3);
    expect(chunks[0]?.startsWith('Intro text.')).toBe(true);
    for (const [i, chunk] of chunks.entries()) {
      expect(chunk.length).toBeLessThanOrEqual(500);
      expect(fenceCount(chunk) % 2, chunk).toBe(0);
      if (i > 0 && i < chunks.length - 1) expect(chunk.startsWith('```py\n')).toBe(true);
    }
    // Every line of code survives whole, indentation included, in order.
    const code = chunks
      .join('\n')
      .split('\n')
      .filter((line) => line.startsWith('  line '));
    expect(code).toEqual(lines);
    expect(squash(chunks.join('')).replaceAll('``````py', '')).toBe(squash(text));
  });

  it('splits a 10,000-character answer into balanced chunks that keep all text', () => {
    const parts: string[] = [];
    for (let i = 0; parts.join('\n\n').length < 10_000; i++) {
      parts.push(
        `## Step ${i}\n\nWe checked **order ${i}** for <@12345678901234567${i % 10}> at <t:${1700000000 + i}:f>.`,
        `- item ${i} one\n- item ${i} two 😀`,
        i % 4 === 0 ? `\`\`\`ts\n${`const row${i} = ${i}; // note\n`.repeat(90)}\`\`\`` : `> quote ${i}`,
      );
    }
    const answer = parts.join('\n\n');
    expect(answer.length).toBeGreaterThanOrEqual(10_000);
    const chunks = splitForDiscord(answer);
    expect(chunks.length).toBeGreaterThanOrEqual(5);
    // The 90-line blocks do not fit one message, so some were closed and reopened.
    const fences = chunks.reduce((sum, chunk) => sum + fenceCount(chunk), 0);
    expect(fences).toBeGreaterThan(fenceCount(answer));
    for (const chunk of chunks) {
      expect(chunk.length).toBeLessThanOrEqual(DISCORD_MESSAGE_LIMIT);
      expect(fenceCount(chunk) % 2, chunk.slice(0, 80)).toBe(0);
      expect(chunk).not.toMatch(LONE_SURROGATE);
      expect(chunk).toBe(chunk.trim());
    }
    expect(squash(chunks.join('')).replaceAll('``````ts', '')).toBe(squash(answer));
  });

  it('treats an unmatched fence as text', () => {
    const text = `${'a '.repeat(600)}\`\`\` ${'b '.repeat(600)}`;
    const chunks = splitForDiscord(text);
    for (const chunk of chunks) expect(chunk.length).toBeLessThanOrEqual(2000);
    expect(squash(chunks.join(''))).toBe(squash(text));
  });
});

describe('text helpers for cards', () => {
  const ROLE = '222222222222222222';
  const USER = '111111111111111111';

  it('truncates without leaving half an emoji', () => {
    expect(truncateText('short', 10)).toBe('short');
    const cut = truncateText('😀'.repeat(50), 31);
    expect(cut.length).toBeLessThanOrEqual(31);
    expect(cut).toMatch(/…\(truncated\)$/);
    expect(cut).not.toMatch(LONE_SURROGATE);
  });

  it('cuts model text at a safe break, neutralized and with fences closed', () => {
    const text = `Intro @here\n\n\`\`\`\n${'x <@&1>\n'.repeat(300)}\`\`\``;
    const out = modelText(text, 500);
    expect(out.length).toBeLessThanOrEqual(500);
    expect(fenceCount(out) % 2).toBe(0);
    expect(pings(out)).toEqual([]);
    expect(out.endsWith('\n…(truncated)')).toBe(true);
    expect(modelText('  fine  ', 100)).toBe('fine');
  });

  it('keeps labels on one line and code spans closed', () => {
    expect(plainText('a\n\nb  @everyone', 100)).toBe('a b @\u200beveryone');
    expect(inlineCode('x`y', 100)).toBe("`x'y`");
  });

  it('mentions only well-formed ids, users and roles apart', () => {
    expect(isSnowflake(USER)).toBe(true);
    expect(isSnowflake('U123')).toBe(false);
    expect(userMention(USER)).toBe(`<@${USER}>`);
    expect(userMention('<@&1> @here')).toBe('<@\u200b&1> @\u200bhere');
    expect(discordTime(1_700_000_000_999, 'R')).toBe('<t:1700000000:R>');
    const mentions = configuredMentions([USER, ROLE, USER, 'everyone'], (id) => id === ROLE);
    expect(mentions).toEqual({
      text: `<@${USER}> <@&${ROLE}> everyone`,
      allowed: { parse: [], users: [USER], roles: [ROLE] },
    });
  });
});
