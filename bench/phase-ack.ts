import { ACTIONS } from '../src/slack/views/index.js';
import type { ServerProcess } from './bot-process.js';
import { findElement, shows } from './cards.js';
import { openLoop } from './load.js';
import { selectAction, signedHeaders, slashCommand } from './slack-requests.js';
import type { SlackStandin } from './slack-standin.js';
import { round, sleep, summarize, waitUntil } from './stats.js';

/**
 * (a) Ack latency: fixed-rate open-loop load of signed requests on the bot and on a bare
 * Bolt app that only acks, one after the other at each rate, in the same run. Slash
 * commands are `/workflow list` (the bot acks, reads the workflows, answers on response_url);
 * block actions pick a persona in the menu of a paused step's card (the bot acks, checks the
 * card's version, changes the step or refuses a stale card, redraws it, answers).
 */

export interface AckRow {
  kind: 'slash command' | 'block action';
  rate: number;
  bot: { p50: number; p99: number; n: number; errors: number };
  bare: { p50: number; p99: number; n: number; errors: number };
  /** bot p99 / bare p99. */
  ratio: number;
}

const USER = 'U0BENCH';
const CHANNEL = 'C0BENCHACK';

/** Starts `bench-pause` and waits for its paused card to offer the persona menu. */
export async function pausedCard(bot: ServerProcess, standin: SlackStandin) {
  const body = slashCommand('run bench-pause ack target', {
    user: USER,
    channel: CHANNEL,
    responseUrl: standin.responseUrl('ack-setup'),
  });
  await fetch(bot.eventsUrl, { method: 'POST', headers: signedHeaders(body), body });
  let card: { ts: string; blockId: string; values: string[] } | undefined;
  await waitUntil(() => {
    for (const message of standin.messages.values()) {
      if (message.channel !== CHANNEL || !message.threadTs) continue;
      const select = findElement(message, ACTIONS.selectPersona);
      const state = message.states.at(-1)!;
      if (select && shows(state, 'Paused')) card = { ts: message.ts, ...select };
    }
    return card !== undefined;
  }, 60_000);
  if (!card) throw new Error('the paused card never appeared');
  return card;
}

export async function ackPhase(o: {
  bot: ServerProcess;
  bare: ServerProcess;
  standin: SlackStandin;
  rates: number[];
  seconds: number;
  log: (line: string) => void;
}): Promise<AckRow[]> {
  const card = await pausedCard(o.bot, o.standin);
  const request = (kind: AckRow['kind']) => (i: number) => {
    const responseUrl = o.standin.responseUrl(`ack-${i}`);
    const body =
      kind === 'slash command'
        ? slashCommand('list', { user: USER, channel: CHANNEL, responseUrl })
        : selectAction({
            user: USER,
            channel: CHANNEL,
            messageTs: card.ts,
            blockId: card.blockId,
            actionId: ACTIONS.selectPersona,
            value: card.values[i % card.values.length]!,
            responseUrl,
          });
    return { body, headers: signedHeaders(body) };
  };
  const rows: AckRow[] = [];
  for (const rate of o.rates) {
    for (const kind of ['slash command', 'block action'] as const) {
      const count = Math.round(rate * o.seconds);
      const measure = async (server: ServerProcess) => {
        const result = await openLoop({ rate, count, url: server.eventsUrl, request: request(kind) });
        await sleep(1000); // let the work after the acks finish before the next load
        const s = summarize(result.latencies);
        return { p50: s.p50, p99: s.p99, n: s.n, errors: result.errors };
      };
      const bare = await measure(o.bare);
      const bot = await measure(o.bot);
      const row: AckRow = { kind, rate, bot, bare, ratio: round(bot.p99 / bare.p99, 2) };
      o.log(
        `  ack ${kind} @ ${rate}/s: bot p50 ${bot.p50} p99 ${bot.p99} ms · bare p50 ${bare.p50} p99 ${bare.p99} ms`,
      );
      rows.push(row);
    }
  }
  return rows;
}
