import type { MessageState, StubMessage } from '../test/support/slack-api-stub.js';
import { findElement } from '../test/support/slack-requests.js';

/** Reading the bot's messages as the Web API stub received them. */

type Json = Record<string, unknown>;

/** The last state Slack shows of a message. */
export const latest = (message: StubMessage): MessageState => message.states.at(-1)!;

/**
 * True when the state shows the status word, e.g. a card "Step 1/3 · summarize — Completed"
 * or a parent "bench · run #4 — Completed, 3/3 steps" (the fallback text mirrors the blocks).
 */
export const shows = (state: MessageState, label: string): boolean => state.text.includes(`— ${label}`);

/** The first time a message showed `label`, or undefined. */
export function firstShown(message: StubMessage, label: string): number | undefined {
  return message.states.find((s) => shows(s, label))?.at;
}

/** The select with this action_id in the message as it shows now, with its block and option values. */
export function menuOf(
  message: StubMessage,
  actionId: string,
): { blockId: string; values: string[] } | undefined {
  const found = findElement(message, actionId);
  if (!found) return undefined;
  const options = [
    ...((found.element.options as Json[] | undefined) ?? []),
    ...((found.element.option_groups as Json[] | undefined) ?? []).flatMap((g) => g.options as Json[]),
  ];
  return { blockId: found.blockId, values: options.map((o) => String(o.value)) };
}
