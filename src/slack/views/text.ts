/**
 * Text safety for Slack. Everything a user typed or a model wrote is untrusted: it must not
 * ping anyone, spoof a link, or break a message by overrunning a limit.
 *
 * Slack's rule (docs.slack.dev/messaging/formatting-message-text#escaping): in mrkdwn only
 * `&`, `<` and `>` are control characters, and escaping them as `&amp;`, `&lt;`, `&gt;`
 * turns `<!channel>`, `<@U123>`, `<#C1>`, `<!subteam^S1>` and `<https://evil|bank>` into
 * inert text. Lengths are counted in UTF-16 code units, which is never fewer than the
 * characters Slack counts, so a text that fits here fits there.
 */

import { safeMrkdwn } from '../../core/mrkdwn.js';

export { defuseBroadcasts, escapeMrkdwn, safeMrkdwn } from '../../core/mrkdwn.js';

const ELLIPSIS = '…';
const FENCE = '```';

/**
 * The largest index ≤ `index` where `text` can be cut without splitting a surrogate pair
 * or an escape entity (`&amp;`, `&lt;`, `&gt;`).
 */
export function safeCutIndex(text: string, index: number): number {
  let cut = Math.max(0, Math.min(index, text.length));
  if (cut === 0 || cut === text.length) return cut;
  // A lone high surrogate at the end would render as garbage.
  const last = text.charCodeAt(cut - 1);
  if (last >= 0xd800 && last <= 0xdbff) cut -= 1;
  // An entity is at most 5 code units (`&amp;`): look back (4 units, no further: a cut must
  // cost the same on any text) for an `&` not yet closed by `;`.
  let amp = -1;
  for (let i = cut - 1; i >= Math.max(0, cut - 4); i--) {
    if (text.charCodeAt(i) === 0x26) {
      amp = i;
      break;
    }
  }
  if (amp >= 0) {
    const semi = text.indexOf(';', amp);
    if (semi >= cut && /^&(amp|lt|gt);/.test(text.slice(amp, semi + 1))) cut = amp;
  }
  return cut;
}

/**
 * Cuts `text` so that the result, ellipsis included, is at most `limit` code units. Never
 * cuts a surrogate pair or an escape entity (`&amp;`, `&lt;`, `&gt;`) in half.
 */
export function truncate(text: string, limit: number, ellipsis = ELLIPSIS): string {
  if (text.length <= limit) return text;
  if (limit <= 0) return '';
  if (limit <= ellipsis.length) return ellipsis.slice(0, limit);
  return text.slice(0, safeCutIndex(text, limit - ellipsis.length)) + ellipsis;
}

/** Counts ``` fences; an odd count leaves a code block open, so one is closed at the end. */
export function balanceFences(text: string): string {
  const count = text.split(FENCE).length - 1;
  if (count % 2 === 0) return text;
  return text.endsWith('\n') ? `${text}${FENCE}` : `${text}\n${FENCE}`;
}

export interface Fitted {
  text: string;
  /** True when the text had to be cut to fit. */
  truncated: boolean;
}

/**
 * Untrusted text → mrkdwn that fits `limit`: escaped, broadcasts defused, cut safely with
 * an ellipsis, and with any ``` block that the cut (or the author) left open closed again.
 */
export function fitMrkdwn(untrusted: string, limit: number): Fitted {
  // Escaping only lengthens text, so a cut at `limit` never needs more than `limit`
  // characters of it: a card costs the same for a megabyte of output as for a page.
  const long = untrusted.length > limit;
  const safe = safeMrkdwn(long ? untrusted.slice(0, limit) : untrusted);
  if (!long) {
    const balanced = balanceFences(safe);
    if (balanced.length <= limit) return { text: balanced, truncated: false };
  }
  // Reserve room for a closing "\n```" in case the cut lands inside a code block.
  return { text: balanceFences(truncate(safe, limit - FENCE.length - 1)), truncated: true };
}

/** Untrusted text → mrkdwn string within `limit` (see fitMrkdwn). */
export function mrkdwn(untrusted: string, limit: number): string {
  return fitMrkdwn(untrusted, limit).text;
}

/**
 * Text for a `plain_text` field: Slack does not parse it, so nothing is escaped or stripped;
 * it is only cut to `limit`. Slack rejects empty text objects, so empty input becomes
 * `fallback`.
 */
export function plainText(text: string, limit: number, fallback = '—'): string {
  const value = text.length > 0 ? text : fallback;
  return truncate(value, limit);
}

/** A one-line preview: whitespace runs (newlines included) collapse to one space, then cut to `n`. Not escaped. */
export function excerpt(text: string, n: number): string {
  return truncate(text.replace(/\s+/g, ' ').trim(), n);
}

/**
 * Untrusted text as inline code (`name`), for echoing what someone typed. Backticks inside
 * would end the span early, so they become a look-alike (ˋ).
 */
export function inlineCode(untrusted: string, limit = 80): string {
  const body = safeMrkdwn(excerpt(untrusted, limit).replace(/`/g, 'ˋ'));
  return `\`${body.length > 0 ? body : ' '}\``;
}

/** Untrusted text as a one-line mrkdwn quote (`> …`). */
export function quoteLine(untrusted: string, n: number): string {
  return `>${mrkdwn(excerpt(untrusted, n), n + 200)
    .split('\n')
    .join('\n>')}`;
}

/** `1234567` → `1,234,567` without depending on the process locale. */
export function formatCount(n: number): string {
  return String(Math.round(n)).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

/** `850` → `850 ms`, `2345` → `2.3 s`, `125000` → `2 min 5 s`. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const minutes = Math.floor(ms / 60_000);
  const seconds = Math.round((ms % 60_000) / 1000);
  return seconds === 0 ? `${minutes} min` : `${minutes} min ${seconds} s`;
}

/**
 * Our own mrkdwn (a refusal, say) as plain text, for places Slack shows text as is, such as
 * an input's error under a modal field: mentions become @U…, emphasis and codes go.
 */
export function mrkdwnToPlain(text: string): string {
  return text
    .replace(/:[a-z_]+: /g, '')
    .replace(/<@([A-Z0-9]+)>/g, '@$1')
    .replace(/[`*]/g, '')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&');
}
