import { ACTIONS } from '../src/slack/views/index.js';
import type { SlackApiStub } from '../test/support/slack-api-stub.js';
import {
  interactionBody,
  selectPayload,
  signedHeaders,
  slashCommandBody,
} from '../test/support/slack-requests.js';
import type { ServerProcess } from './bot-process.js';
import { latest, menuOf, shows } from './cards.js';
import { openLoop } from './load.js';
import { round, sleep, summarize, waitUntil } from './stats.js';

/**
 * (a) Ack latency: fixed-rate open-loop load of signed requests on the bot and on a bare
 * Bolt app that only acks, one after the other at each rate, in the same run. Slash
 * commands are `/workflow list` (the bot acks, reads the workflows, answers on response_url);
 * block actions pick a persona in the menu of a paused step's card (the bot acks, checks the
 * card's version, changes the step or refuses a stale card, redraws it, answers). Both
 * processes are warmed up first, and each measurement alternates between them in rounds.
 */

type Side = { p50: number; p99: number; n: number; errors: number; cpuMsPerRequest: number };

export interface AckRow {
  kind: 'slash command' | 'block action';
  rate: number;
  bot: Side;
  bare: Side;
  /** bot p99 / bare p99. */
  ratio: number;
}

const USER = 'U0BENCH';
const KINDS = ['slash command', 'block action'] as const;
const ROUNDS = 4;
const CHANNEL = 'C0BENCHACK';

/** Starts `bench-pause` and waits for its paused card to offer the persona menu. */
export async function pausedCard(bot: ServerProcess, standin: SlackApiStub) {
  // A person of the workspace, in every channel: the bot shows them the runs there.
  standin.meet(USER);
  const body = slashCommandBody({
    text: 'run bench-pause ack target',
    user: USER,
    channel: CHANNEL,
    responseUrl: standin.responseUrl('ack-setup'),
  });
  await fetch(bot.eventsUrl, { method: 'POST', headers: signedHeaders(body), body });
  let card: { ts: string; blockId: string; values: string[] } | undefined;
  await waitUntil(() => {
    for (const message of standin.messages.values()) {
      if (message.channel !== CHANNEL || !message.threadTs) continue;
      const select = menuOf(message, ACTIONS.selectPersona);
      if (select && shows(latest(message), 'Paused')) card = { ts: message.ts, ...select };
    }
    return card !== undefined;
  }, 60_000);
  if (!card) throw new Error('the paused card never appeared');
  return card;
}

export async function ackPhase(o: {
  bot: ServerProcess;
  bare: ServerProcess;
  standin: SlackApiStub;
  rates: number[];
  /** Per rate, kind and server. */
  requests: number;
  log: (line: string) => void;
}): Promise<AckRow[]> {
  const card = await pausedCard(o.bot, o.standin);
  const request = (kind: AckRow['kind']) => (i: number) => {
    const responseUrl = o.standin.responseUrl(`ack-${i}`);
    const body =
      kind === 'slash command'
        ? slashCommandBody({ text: 'list', user: USER, channel: CHANNEL, responseUrl })
        : interactionBody(
            selectPayload({
              user: USER,
              channel: CHANNEL,
              messageTs: card.ts,
              blockId: card.blockId,
              actionId: ACTIONS.selectPersona,
              value: card.values[i % card.values.length]!,
              responseUrl,
            }),
          );
    return { body, headers: signedHeaders(body) };
  };
  // Warm both processes up (JIT, connection pools) before anything is measured.
  for (const server of [o.bare, o.bot]) {
    for (const kind of KINDS)
      await openLoop({ rate: 50, count: 50, url: server.eventsUrl, request: request(kind) });
  }
  await sleep(1000);
  const rows: AckRow[] = [];
  for (const rate of o.rates) {
    for (const kind of KINDS) {
      // Alternate the two servers over a few rounds, so both see the same moments of the run.
      const count = Math.round(o.requests / ROUNDS);
      const latencies = { bot: [] as number[], bare: [] as number[] };
      const errors = { bot: 0, bare: 0 };
      const cpu = { bot: 0, bare: 0 };
      for (let round = 0; round < ROUNDS; round++) {
        const order = round % 2 === 0 ? (['bare', 'bot'] as const) : (['bot', 'bare'] as const);
        for (const target of order) {
          const server = target === 'bot' ? o.bot : o.bare;
          const cpu0 = server.cpuMs();
          const result = await openLoop({ rate, count, url: server.eventsUrl, request: request(kind) });
          latencies[target].push(...result.latencies);
          errors[target] += result.errors;
          await sleep(500); // let the work after the acks finish before the next load
          cpu[target] += server.cpuMs() - cpu0;
        }
      }
      const stat = (target: 'bot' | 'bare'): Side => {
        const s = summarize(latencies[target]);
        const cpuMsPerRequest = round(cpu[target] / Math.max(1, count * ROUNDS), 2);
        return { p50: s.p50, p99: s.p99, n: s.n, errors: errors[target], cpuMsPerRequest };
      };
      const bot = stat('bot');
      const bare = stat('bare');
      rows.push({ kind, rate, bot, bare, ratio: round(bot.p99 / bare.p99, 2) });
      o.log(
        `  ack ${kind} @ ${rate}/s: bot p50 ${bot.p50} p99 ${bot.p99} ms (CPU ${bot.cpuMsPerRequest} ms/request) · ` +
          `bare p50 ${bare.p50} p99 ${bare.p99} ms (CPU ${bare.cpuMsPerRequest} ms/request)`,
      );
    }
  }
  return rows;
}
