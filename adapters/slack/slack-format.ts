import slackify from 'slackify-markdown';

/** Most characters a section block's text (and a context/mrkdwn element) may hold. */
export const SLACK_TEXT_LIMIT = 3000;
/** Most characters of a message's top-level `text`. */
export const SLACK_MESSAGE_LIMIT = 40_000;

/**
 * Escapes the three characters Slack treats as control characters, so plain text (tool names,
 * arguments, reasons) is shown as typed and can never form a mention, a link or a date.
 */
export function escapeSlackText(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/**
 * One pass over slackify's output. Alternatives, in order:
 *  1. code (``` fences, then `inline`): slackify copies code verbatim, unescaped;
 *  2. a link slackify built, `<http(s)/mailto URL|label>`; the label may hold raw tags that came
 *     from HTML in the Markdown (`[<!here>](…)`), which we escape while keeping the link working;
 *  3. block-quote markers at the start of a line, which Slack needs as a raw `>`;
 *  4. an `&` that does not already start one of the entities slackify writes;
 *  5. any other `<` or `>`: raw HTML, `<!channel>`, `<@U…>` and `<#C…>`, which slackify passes
 *     through (it only escapes text nodes, and even there keeps `<@`/`<#`).
 */
const MRKDWN_TOKEN =
  /(```[\s\S]*?```|`[^`\n]*`)|<((?:https?:\/\/|mailto:)[^\s<>|]+)((?:\|(?:[^<>]|<[^<>]*>)*)?)>|(?<=^|\n)((?:> ?)+)|&(?!(?:amp|lt|gt);)|[<>]/g;
const LOOSE_AMPERSAND = /&(?!(?:amp|lt|gt);)/g;

const escapeLooseAmpersands = (text: string): string => text.replace(LOOSE_AMPERSAND, '&amp;');

function neutralize(mrkdwn: string): string {
  return mrkdwn.replace(
    MRKDWN_TOKEN,
    (match, code?: string, url?: string, label?: string, quote?: string) => {
      if (code !== undefined) {
        const fence = code.startsWith('```') ? '```' : '`';
        return fence + escapeSlackText(code.slice(fence.length, -fence.length)) + fence;
      }
      if (url !== undefined) {
        // Tags first: they are raw source text, so their `&` must be escaped too.
        const safeLabel = escapeLooseAmpersands((label ?? '').replace(/<[^<>]*>/g, escapeSlackText));
        return `<${escapeLooseAmpersands(url)}${safeLabel}>`;
      }
      if (quote !== undefined) return quote;
      return escapeSlackText(match);
    },
  );
}

/**
 * Converts the model's Markdown to Slack mrkdwn. Model text must never ping anyone: after this,
 * the only `<…>` sequences left are http(s)/mailto links whose URL and label hold no `<` or `>`,
 * so `<!channel>`, `<!here>`, `<!everyone>`, `<!subteam^…>`, `<@U…>` and `<#C…>` all show as text,
 * whether the model typed them, wrapped them in HTML, a link label or a code block. Post the result
 * with `verbatim: true` / without `link_names` so plain "@here" is not auto-linked either.
 */
export function toSlackMrkdwn(markdown: string): string {
  return neutralize(slackify(markdown).replace(/\s+$/, ''));
}

interface Fence {
  readonly start: number;
  readonly end: number;
}

interface Layout {
  /** Per index: the fence strictly containing it (start < i < end), or undefined. */
  readonly fenceAt: (Fence | undefined)[];
  /** Per index: 1 when a cut there would split an entity (`&lt;`) or a `<…>` sequence. */
  readonly inAtom: Uint8Array;
}

const FENCE = '```';
const CLOSE_FENCE = '\n```';
const REOPEN_FENCE = '```\n';
const ATOM = /&(?:[a-zA-Z]+|#\d+);|<[^<>\n]*>/g;

function layoutOf(text: string): Layout {
  const fenceAt: (Fence | undefined)[] = new Array(text.length + 1).fill(undefined);
  let open = -1;
  for (const match of text.matchAll(/```/g)) {
    if (open < 0) {
      open = match.index;
      continue;
    }
    // Slack pairs fences in order; an unmatched last one is shown as text, so it is not a fence.
    const fence = { start: open, end: match.index + FENCE.length };
    for (let i = fence.start + 1; i < fence.end; i++) fenceAt[i] = fence;
    open = -1;
  }
  const inAtom = new Uint8Array(text.length + 1);
  for (const match of text.matchAll(ATOM)) {
    inAtom.fill(1, match.index + 1, match.index + match[0].length);
  }
  return { fenceAt, inAtom };
}

interface Cut {
  /** The chunk is text[pos, at) (plus a closing fence when `closesFence`). */
  readonly at: number;
  readonly next: number;
  readonly closesFence: boolean;
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
  return Math.max(paragraph ?? -1, line ?? -1, space ?? -1) > pos
    ? Math.max(paragraph ?? -1, line ?? -1, space ?? -1)
    : undefined;
}

/** A cut inside `fence`, leaving room to close it; the next chunk reopens it. */
function insideBreak(text: string, layout: Layout, pos: number, end: number, fence: Fence): Cut | undefined {
  const lowest = Math.max(pos, fence.start + FENCE.length);
  // Stop short of the fence's own closing line, so the reopened chunk is never an empty fence.
  const highest = Math.min(end - CLOSE_FENCE.length, fence.end - CLOSE_FENCE.length - 1);
  if (highest <= lowest) return undefined;
  let space: number | undefined;
  for (let at = highest; at > lowest; at--) {
    if (layout.inAtom[at] === 1) continue;
    // The newline is replaced by the close/reopen pair; a space stays with the next chunk.
    if (text[at] === '\n') return { at, next: at + 1, closesFence: true };
    if (isSpace(text[at])) space ??= at;
  }
  const at = space ?? safeHardCut(text, layout, highest, lowest);
  return { at, next: at, closesFence: true };
}

function nextCut(text: string, layout: Layout, pos: number, budget: number): Cut {
  const end = pos + budget;
  const fence = layout.fenceAt[end];
  const outside = outsideBreak(text, layout, pos, end);
  const skipWhitespace = (at: number): Cut => {
    let next = at;
    while (next < text.length && /\s/.test(text[next] ?? '')) next++;
    return { at, next, closesFence: false };
  };
  if (fence === undefined) {
    if (outside !== undefined) return skipWhitespace(outside);
    const at = safeHardCut(text, layout, end, pos);
    return { at, next: at, closesFence: false };
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
  return { at, next: at, closesFence: false };
}

/**
 * Splits mrkdwn into chunks of at most `limit` characters (section blocks hold 3000). Breaks at
 * paragraphs, then lines, then spaces; never inside an entity or a `<…>` link; never inside a
 * ``` fence unless the fence cannot fit, in which case it is closed at the end of one chunk and
 * reopened at the start of the next. Whitespace at a break is dropped; blank input gives [].
 */
export function splitForSlack(text: string, limit: number = SLACK_TEXT_LIMIT): string[] {
  if (!Number.isInteger(limit) || limit < 20) throw new RangeError(`limit must be ≥ 20, got ${limit}`);
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
    const chunk = cut.closesFence ? reopen + body + CLOSE_FENCE : (reopen + body).trimEnd();
    if (chunk.trim() !== '') chunks.push(chunk);
    reopen = cut.closesFence ? REOPEN_FENCE : '';
    pos = cut.next;
  }
  return chunks;
}
