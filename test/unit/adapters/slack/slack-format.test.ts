import { describe, expect, it } from 'vitest';
import {
  escapeSlackText,
  SLACK_MESSAGE_LIMIT,
  SLACK_TEXT_LIMIT,
  splitForSlack,
  toSlackMrkdwn,
} from '../../../../adapters/slack/slack-format.ts';

/** What may legitimately remain as a Slack control sequence in model text: a plain web link. */
const SAFE_LINK = /<(?:https?:\/\/|mailto:)[^\s<>|]+(?:\|[^<>]*)?>/g;

/** True when Slack could read a mention, broadcast, group ping or channel link in the text. */
const couldPing = (mrkdwn: string): boolean => mrkdwn.replace(SAFE_LINK, '').includes('<');

const fenceCount = (text: string): number => text.split('```').length - 1;
const squash = (text: string): string => text.replace(/\s+/g, '');
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

describe('toSlackMrkdwn', () => {
  it.each([
    ['raw broadcast', 'Hey <!channel> look', 'Hey &lt;!channel&gt; look'],
    ['here and everyone', '<!here> and <!everyone>', '&lt;!here&gt; and &lt;!everyone&gt;'],
    ['a user group', 'ping <!subteam^S123|@oncall>', 'ping &lt;!subteam^S123|@oncall&gt;'],
    ['a user and a channel', 'ask <@U123> in <#C42>', 'ask &lt;@U123&gt; in &lt;#C42&gt;'],
    ['mention glued to words', 'x<!channel>y', 'x&lt;!channel&gt;y'],
    ['HTML', 'a <b>bold</b> move', 'a &lt;b&gt;bold&lt;/b&gt; move'],
    ['an HTML block', '<div>\n<!everyone>\n</div>', '&lt;div&gt;\n&lt;!everyone&gt;\n&lt;/div&gt;'],
    ['entities the model typed', '&lt;!channel&gt; &#60;!here&#62;', '&lt;!channel&gt; &lt;!here&gt;'],
  ])('shows %s as text', (_name, markdown, expected) => {
    const out = toSlackMrkdwn(markdown);
    expect(out).toBe(expected);
    expect(couldPing(out)).toBe(false);
  });

  it('escapes ampersands and comparison signs once', () => {
    expect(toSlackMrkdwn('AT&T: 1 < 2 && 3 > 2')).toBe('AT&amp;T: 1 &lt; 2 &amp;&amp; 3 &gt; 2');
  });

  it('keeps Markdown links working as Slack links', () => {
    expect(toSlackMrkdwn('[x](https://e.com)')).toBe('<https://e.com|x>');
    expect(toSlackMrkdwn('see https://e.com/docs')).toBe('see <https://e.com/docs|https://e.com/docs>');
    expect(toSlackMrkdwn('[q](https://e.com/?a=1&b=2)')).toBe('<https://e.com/?a=1&amp;b=2|q>');
  });

  it('keeps a link but escapes a ping smuggled into its label', () => {
    expect(toSlackMrkdwn('[<!here>](https://e.com)')).toBe('<https://e.com|&lt;!here&gt;>');
    expect(toSlackMrkdwn('[hi <@U1>](https://e.com)')).toBe('<https://e.com|hi &lt;@U1&gt;>');
  });

  it('cannot be tricked by a ping in the URL or a hand-written Slack link', () => {
    const inUrl = toSlackMrkdwn('[x](https://e.com/<!here>)');
    expect(inUrl).toMatch(/^<https:\/\/e\.com\/[^<>]*\|x>$/);
    expect(couldPing(inUrl)).toBe(false);
    expect(couldPing(toSlackMrkdwn('<https://e.com|<!here>>'))).toBe(false);
    expect(toSlackMrkdwn('[run](javascript:alert(1))')).toBe('&lt;javascript:alert(1)|run&gt;');
  });

  it('keeps code blocks and escapes their contents', () => {
    expect(toSlackMrkdwn('```js\nif (a < b && c) notify("<!channel>")\n```')).toBe(
      '```\nif (a &lt; b &amp;&amp; c) notify("&lt;!channel&gt;")\n```',
    );
    expect(toSlackMrkdwn('run `<!here> & go`')).toBe('run `&lt;!here&gt; &amp; go`');
  });

  it('converts bold, italic, lists, headings and quotes', () => {
    const out = toSlackMrkdwn('# Plan\n\n**bold** and _it_\n\n- one\n- two\n\n> quoted <!here>');
    expect(out).toContain('*Plan*');
    expect(out).toContain('*bold*');
    expect(out).toContain('_it_');
    expect(out).toContain('•   one\n•   two');
    expect(out).toMatch(/^> quoted &lt;!here&gt;$/m);
    expect(out.endsWith('\n')).toBe(false);
  });

  it('never leaves a ping, whatever the model writes', () => {
    const pieces = [
      '<!channel>',
      '<!here>',
      '<@U1>',
      '<!subteam^S1>',
      '<#C1>',
      '<',
      '>',
      '&',
      '[',
      ']',
      '(',
      ')',
      'https://e.com',
      '`',
      '```',
      '\n',
      '\n\n',
      ' ',
      '*',
      '_',
      'x',
      '|',
      '!',
      '@',
      '<b>',
      '</b>',
      '&lt;',
      '&#60;',
      '\\',
      '# ',
      '> ',
      '- ',
      '[a](https://e.com)',
    ];
    let seed = 7;
    const random = (n: number): number => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      return seed % n;
    };
    for (let round = 0; round < 600; round++) {
      let markdown = '';
      for (let i = 0, n = 1 + random(25); i < n; i++) markdown += pieces[random(pieces.length)];
      const out = toSlackMrkdwn(markdown);
      expect(couldPing(out), JSON.stringify({ markdown, out })).toBe(false);
    }
  });
});

describe('escapeSlackText', () => {
  it('escapes the three control characters and nothing else', () => {
    expect(escapeSlackText('a & <!here> "b" *c*')).toBe('a &amp; &lt;!here&gt; "b" *c*');
  });
});

describe('splitForSlack', () => {
  it('exports the Slack limits', () => {
    expect(SLACK_TEXT_LIMIT).toBe(3000);
    expect(SLACK_MESSAGE_LIMIT).toBe(40_000);
  });

  it('leaves short text alone and drops blank text', () => {
    expect(splitForSlack('hello')).toEqual(['hello']);
    expect(splitForSlack(' \n ')).toEqual([]);
    expect(() => splitForSlack('x', 5)).toThrow(RangeError);
  });

  it('prefers paragraph breaks, then line breaks, then spaces', () => {
    const [a, b, c] = ['A'.repeat(1500), 'B'.repeat(1000), 'C'.repeat(1000)];
    expect(splitForSlack(`${a}\n\n${b}\n${c}`)).toEqual([a, `${b}\n${c}`]);
    expect(splitForSlack(`${a} ${b}\n${c}`)).toEqual([`${a} ${b}`, c]);
    expect(splitForSlack(`${a} ${b} ${c}`)).toEqual([`${a} ${b}`, c]);
  });

  it('never cuts an entity, a link or a surrogate pair', () => {
    for (const chunk of splitForSlack('&lt;'.repeat(100), 50)) expect(chunk).toMatch(/^(&lt;)+$/);

    const links = Array.from({ length: 40 }, (_, i) => `see <https://e.com/${i}|the page number ${i}>`);
    const chunks = splitForSlack(links.join(' '), 60);
    for (const chunk of chunks) {
      expect(chunk.length).toBeLessThanOrEqual(60);
      expect(chunk.replace(SAFE_LINK, '')).not.toMatch(/[<>]/);
    }
    expect(chunks.join(' ')).toBe(links.join(' '));

    for (const chunk of splitForSlack('😀'.repeat(100), 25)) expect(chunk).not.toMatch(LONE_SURROGATE);
  });

  it('moves a code block that fits to the next chunk instead of splitting it', () => {
    const code = `\`\`\`\n${'const x = 1;\n'.repeat(100)}\`\`\``;
    const chunks = splitForSlack(`${'word '.repeat(400)}\n\n${code}`);
    expect(chunks).toHaveLength(2);
    expect(chunks[1]).toBe(code);
  });

  it('closes and reopens a code block too long for one chunk', () => {
    const lines = Array.from({ length: 200 }, (_, i) => `line ${i} &lt;tag&gt;`);
    const text = `Intro text.\n\n\`\`\`\n${lines.join('\n')}\n\`\`\`\n\nAfter the code.`;
    const chunks = splitForSlack(text, 500);
    expect(chunks.length).toBeGreaterThan(3);
    expect(chunks[0]?.startsWith('Intro text.')).toBe(true);
    for (const [i, chunk] of chunks.entries()) {
      expect(chunk.length).toBeLessThanOrEqual(500);
      expect(fenceCount(chunk) % 2, chunk).toBe(0);
      if (i > 0 && i < chunks.length - 1) expect(chunk.startsWith('```\n')).toBe(true);
    }
    // Every line of code survives whole, in order.
    const code = chunks
      .join('\n')
      .split('\n')
      .filter((line) => line.startsWith('line '));
    expect(code).toEqual(lines);
    expect(squash(chunks.join('')).replaceAll('``````', '')).toBe(squash(text));
  });

  it('keeps a 20,000-character answer whole within section limits', () => {
    const parts: string[] = [];
    for (let i = 0; parts.join('\n\n').length < 20_000; i++) {
      parts.push(
        `## Step ${i}\n\nWe checked **order ${i}** & found <!here> [the log](https://e.com/${i}?a=1&b=2) fine.`,
        `- item ${i} one\n- item ${i} two with <b>html</b>`,
        i % 5 === 0 ? `\`\`\`\n${`row ${i} <x> & y\n`.repeat(300)}\`\`\`` : `> quote ${i}`,
      );
    }
    const markdown = parts.join('\n\n');
    expect(markdown.length).toBeGreaterThanOrEqual(20_000);
    const mrkdwn = toSlackMrkdwn(markdown);
    const chunks = splitForSlack(mrkdwn);
    expect(chunks.length).toBeGreaterThan(6);
    for (const chunk of chunks) {
      expect(chunk.length).toBeLessThanOrEqual(SLACK_TEXT_LIMIT);
      expect(fenceCount(chunk) % 2).toBe(0);
      expect(couldPing(chunk)).toBe(false);
      expect(chunk).not.toMatch(/&[a-z]*$/);
    }
    expect(squash(chunks.join('')).replaceAll('``````', '')).toBe(squash(mrkdwn));
  });
});
