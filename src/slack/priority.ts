/**
 * What a message to Slack is for, most urgent first. When Slack's budget is short (a
 * channel's one post a second, the workspace's ~50 edits a minute) the publisher serves
 * waiting calls in this order, in this process and — through the reserves below — across
 * the processes sharing one budget.
 *
 * To add a class: add it here with its rank and its reserve, and pass it as
 * `MessageSpec.priority` (or `CallOptions.priority` for a one-off call).
 */
export const MESSAGE_PRIORITIES = {
  /** Someone must act: a paused step's card, its failure alert, the note in its thread, a one-off reply to a person. */
  attention: { rank: 0, reserve: 0 },
  /** A settled state: a step or run that finished. Shown once, never edited again by itself. */
  completion: { rank: 1, reserve: 0 },
  /** A state that will change anyway (a running run, a pending step). */
  progress: { rank: 2, reserve: 1 },
  /** Text streamed while a step runs (chat.startStream/appendStream): never before a state change. */
  live: { rank: 3, reserve: 1 },
} as const satisfies Record<string, { rank: number; reserve: number }>;

export type MessagePriority = keyof typeof MESSAGE_PRIORITIES;

/**
 * Tokens a call of this rank leaves in a shared bucket for more urgent ones: in one process
 * the queue orders calls, but between processes only the bucket's level can — a progress
 * edit takes a token only while another would remain for a completion elsewhere.
 */
export function reserveFor(rank: number): number {
  let reserve = 0;
  for (const p of Object.values(MESSAGE_PRIORITIES))
    if (p.rank <= rank) reserve = Math.max(reserve, p.reserve);
  return reserve;
}

export const rankOf = (priority: MessagePriority): number => MESSAGE_PRIORITIES[priority].rank;

/** A message's class when its author did not say: settled states are completions. */
export const defaultPriority = (changing: boolean): MessagePriority => (changing ? 'progress' : 'completion');
