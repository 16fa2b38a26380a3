/**
 * Message splitting shared by every platform: each passes its limit and what must never be cut.
 */
export interface SplitOptions {
  readonly limit: number;
  /** The smallest limit that leaves room for a reopened fence, its closing line and some text. */
  readonly minLimit: number;
  /** Runs a cut must never fall inside (a global regex): mentions, links, entities. */
  readonly atoms: RegExp;
  /** Repeat a fence's language when it is reopened (Discord reads it; Slack would show it as text). */
  readonly keepFenceLanguage: boolean;
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
// A language is only read when it is a short word directly followed by a newline.
const FENCE_LANGUAGE = /^[A-Za-z0-9_+\-.#]{1,20}(?=\n)/;

function layoutOf(text: string, options: SplitOptions): Layout {
  const fenceAt: (Fence | undefined)[] = new Array(text.length + 1).fill(undefined);
  let open = -1;
  for (const match of text.matchAll(/```/g)) {
    if (open < 0) {
      open = match.index;
      continue;
    }
    // Fences pair in order; an unmatched last one shows as text, so it is not a fence.
    const language = options.keepFenceLanguage
      ? FENCE_LANGUAGE.exec(text.slice(open + FENCE.length, open + FENCE.length + 21))?.[0]
      : undefined;
    const fence = { start: open, end: match.index + FENCE.length, open: FENCE + (language ?? '') };
    for (let i = fence.start + 1; i < fence.end; i++) fenceAt[i] = fence;
    open = -1;
  }
  const inAtom = new Uint8Array(text.length + 1);
  for (const match of text.matchAll(options.atoms))
    inAtom.fill(1, match.index + 1, match.index + match[0].length);
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
 * Splits a message into chunks of at most `limit` characters. Breaks at paragraphs, then lines,
 * then spaces; never inside an atom (a `<…>` mention or link, an entity) or a surrogate pair; never
 * inside a ``` fence unless the fence cannot fit, in which case it is closed at the end of one chunk
 * and reopened at the start of the next. Only whitespace at a break is dropped; blank input gives [].
 */
export function splitMessage(text: string, options: SplitOptions): string[] {
  const { limit } = options;
  if (!Number.isInteger(limit) || limit < options.minLimit) {
    throw new RangeError(`limit must be ≥ ${options.minLimit}, got ${limit}`);
  }
  if (text.trim() === '') return [];
  if (text.length <= limit) return [text];
  const layout = layoutOf(text, options);
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
