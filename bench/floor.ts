/**
 * The floor Slack's published limits put under "completion → card" for a load, so the
 * bench can say how far the publisher is from it rather than only how long it took.
 *
 * - chat.postMessage: "1 message per second per channel" (short bursts aside). A channel
 *   with M messages to show (each run's parent and one card per step) needs M seconds to
 *   post them, whoever posts them and in whatever order; the busiest channel sets the floor.
 * - chat.update: Tier 3, "50+ per minute" for the whole workspace. A message that could be
 *   posted in its final state needs no edit; the bench's runs finish in about a second, far
 *   inside their channel's posting window, so the load itself requires no edit and this
 *   term is 0 here (`requiredUpdates`). A load with long steps would add
 *   requiredUpdates × 60 / 50 s.
 *
 * floor = max(busiest channel's messages × 1 s, requiredUpdates × 1.2 s).
 */

export const POST_PER_CHANNEL_PER_SECOND = 1;
export const UPDATES_PER_MINUTE = 50;

export interface SlackFloor {
  ms: number;
  /** Messages in the busiest channel. */
  busiestChannelMessages: number;
  /** Edits the load cannot avoid (see above). */
  requiredUpdates: number;
}

export function slackFloor(
  rows: readonly { run: string; channel: string | null }[],
  requiredUpdates = 0,
): SlackFloor {
  const perChannel = new Map<string, { runs: Set<string>; cards: number }>();
  for (const r of rows) {
    if (!r.channel) continue;
    const c = perChannel.get(r.channel) ?? { runs: new Set<string>(), cards: 0 };
    c.runs.add(r.run);
    c.cards++;
    perChannel.set(r.channel, c);
  }
  const busiest = Math.max(0, ...[...perChannel.values()].map((c) => c.runs.size + c.cards));
  const postMs = (busiest / POST_PER_CHANNEL_PER_SECOND) * 1000;
  const updateMs = (requiredUpdates * 60_000) / UPDATES_PER_MINUTE;
  return { ms: Math.max(postMs, updateMs, 1), busiestChannelMessages: busiest, requiredUpdates };
}
