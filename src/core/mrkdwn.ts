/**
 * Escaping for Slack's mrkdwn, for any layer that writes mrkdwn text (the Slack views, the
 * schedules' notices). Slack's rule (docs.slack.dev/messaging/formatting-message-text#escaping):
 * only `&`, `<` and `>` are control characters, and escaping them as `&amp;`, `&lt;`, `&gt;`
 * turns `<!channel>`, `<@U123>`, `<#C1>`, `<!subteam^S1>` and `<https://evil|bank>` into
 * inert text. The rest of text safety (cutting, fences) is src/slack/views/text.ts.
 */

/** Zero-width joiner: `@\u200Dhere` looks like `@here` but is no longer a keyword. */
const ZWJ = '\u200D';

/** Escapes Slack's three mrkdwn control characters. */
export function escapeMrkdwn(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** Breaks bare `@channel`, `@here` and `@everyone` so that no client treats them as broadcasts. */
export function defuseBroadcasts(text: string): string {
  return text.replace(/@(channel|here|everyone)\b/gi, `@${ZWJ}$1`);
}

/** Untrusted text → inert mrkdwn (no truncation). */
export function safeMrkdwn(text: string): string {
  return defuseBroadcasts(escapeMrkdwn(text));
}
