import type { MessageState, StandinMessage } from './slack-standin.js';

/** Reading the bot's messages as the stand-in received them. */

type Json = Record<string, unknown>;

/** The last state Slack shows of a message. */
export const latest = (message: StandinMessage): MessageState => message.states.at(-1)!;

/**
 * True when the state shows the status word, e.g. a card "Step 1/3 · summarize — Completed"
 * or a parent "bench · run #4 — Completed, 3/3 steps" (the fallback text mirrors the blocks).
 */
export const shows = (state: MessageState, label: string): boolean => state.text.includes(`— ${label}`);

/** The first time a message showed `label`, or undefined. */
export function firstShown(message: StandinMessage, label: string): number | undefined {
  return message.states.find((s) => shows(s, label))?.at;
}

/** A select (or button) with this action_id in the message's latest state, with its block and option values. */
export function findElement(
  message: StandinMessage,
  actionId: string,
): { blockId: string; values: string[] } | undefined {
  for (const block of latest(message).blocks as Json[]) {
    if (block.type !== 'actions') continue;
    for (const element of block.elements as Json[]) {
      if (element.action_id !== actionId) continue;
      const options = [
        ...((element.options as Json[] | undefined) ?? []),
        ...((element.option_groups as Json[] | undefined) ?? []).flatMap((g) => g.options as Json[]),
      ];
      return { blockId: String(block.block_id), values: options.map((o) => String(o.value)) };
    }
  }
  return undefined;
}
