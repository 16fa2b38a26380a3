import slackify from 'slackify-markdown';
import { splitMessage } from '../../src/core/text/split-message.ts';

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

// Slack shows an entity (`&lt;`) and a `<…>` link or mention as one unit.
const SLACK_ATOMS = /&(?:[a-zA-Z]+|#\d+);|<[^<>\n]*>/g;

/**
 * Splits mrkdwn into chunks of at most `limit` characters (section blocks hold 3000). Breaks at
 * paragraphs, then lines, then spaces; never inside an entity or a `<…>` link; never inside a
 * ``` fence unless the fence cannot fit, in which case it is closed at the end of one chunk and
 * reopened at the start of the next. Whitespace at a break is dropped; blank input gives [].
 */
export function splitForSlack(text: string, limit: number = SLACK_TEXT_LIMIT): string[] {
  // Slack code blocks take no language, so a reopened fence is bare.
  return splitMessage(text, { limit, minLimit: 20, atoms: SLACK_ATOMS, keepFenceLanguage: false });
}
