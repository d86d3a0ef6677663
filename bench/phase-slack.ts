import pg from 'pg';
import type { SlackApiStub, StubCounts } from '../test/support/slack-api-stub.js';
import { signedHeaders, slashCommandBody } from '../test/support/slack-requests.js';
import type { ServerProcess } from './bot-process.js';
import { firstShown, latest, shows } from './cards.js';
import { type SlackFloor, slackFloor } from './floor.js';
import { openLoop } from './load.js';
import { type MemoryFigures, MemorySampler, type RetainedFigures } from './memory.js';
import { round, summarize, waitUntil } from './stats.js';

/**
 * (c) and (d): N runs of `bench` started at once through signed `/workflow run` commands,
 * spread over channels, on the real bot against the rate-limited Slack stand-in. Measures
 * Slack calls per step, 429s, and for every step the delay from its completion
 * (RunStep.finishedAt) to the first chat.postMessage/chat.update of its card that shows it
 * Completed; then whether every final state (cards and parent messages) was shown, and
 * within how long. Samples the bot's RSS and heap throughout.
 */

export interface SlackResult {
  runs: number;
  channels: number;
  /** Bot processes sharing the database and the workspace. */
  replicas: number;
  /**
   * The floor Slack's published limits put under completion → card for this load: a
   * channel's messages (its runs' parents and cards) posted at 1 a second, and the edits
   * the load cannot avoid at Tier 3's 50 a minute (floor.ts).
   */
  floor: SlackFloor;
  /** completion → card p99 and max over the floor. */
  ratioToFloor: { p99: number; max: number };
  /**
   * The bot processes' CPU (user + system, all of them) and the database's transactions
   * (pg_stat_database: one per statement outside a transaction) from the first command to
   * the last final state, per completed step: the whole cost of a run through Slack.
   */
  cpuMsPerStep: number;
  dbTransactionsPerStep: number;
  completedRuns: number;
  steps: number;
  calls: Record<string, number>;
  callsPerStep: number;
  rateLimited: number;
  rateLimitedBy: Record<string, number>;
  cardDelayMs: { p50: number; p99: number; max: number; shown: number };
  parentDelayMs: { p50: number; p99: number; max: number; shown: number };
  /** Every card and parent shows its final state. */
  allFinalShown: boolean;
  /** From the last step's completion until every final state was shown (or the bound). */
  finalShownAfterMs: number | undefined;
  memory: MemoryFigures;
  retained: RetainedFigures;
}

interface Row {
  run: string;
  channel: string | null;
  thread: string | null;
  run_status: string;
  run_finished: number | null;
  step_status: string;
  step_finished: number | null;
  slack_ts: string | null;
}

const USER = 'U0BENCHLOAD';
/**
 * Runs through the bot before its idle memory is read, in channels of their own and by
 * another user (so nothing below counts them): what a first run loads once (provider SDKs,
 * compiled code) is not held per run. The engine's bench warms up the same way
 * (engine-child.ts).
 */
export const WARM_UP_RUNS = 5;
const WARM_UP_USER = 'U0BENCHWARM';
/** One channel each, so they are not held up by a channel's one post a second. */
const warmUpChannel = (i: number) => `C0WARM${String(i).padStart(3, '0')}`;

export async function slackPhase(o: {
  /** The bot processes; slash commands are spread over them in turn (a load balancer). */
  bots: ServerProcess[];
  standin: SlackApiStub;
  databaseUrl: string;
  runs: number;
  channels: number;
  startRate: number;
  completeTimeoutMs: number;
  shownTimeoutMs: number;
  /** Runs before the idle sample (default WARM_UP_RUNS; 0: none). */
  warmUpRuns?: number | undefined;
  log: (line: string) => void;
}): Promise<SlackResult> {
  const db = new pg.Client({ connectionString: o.databaseUrl });
  await db.connect();
  const read = async () =>
    (
      await db.query<Row>(
        `SELECT r.id AS run, r."channelId" AS channel, r."threadTs" AS thread, r.status AS run_status,
                extract(epoch FROM r."finishedAt") * 1000 AS run_finished, s.status AS step_status,
                extract(epoch FROM s."finishedAt") * 1000 AS step_finished, s."slackTs" AS slack_ts
           FROM "WorkflowRun" r JOIN "RunStep" s ON s."runId" = r.id
          WHERE r."startedBy" = $1`,
        [USER],
      )
    ).rows;
  o.standin.meet(USER);
  const bot = o.bots[0]!;
  await warmUp(o.bots, o.standin, db, o.warmUpRuns ?? WARM_UP_RUNS, o.log);
  const before = o.standin.counts();
  const transactions = async () =>
    Number(
      (
        await db.query<{ n: string }>(
          'SELECT xact_commit + xact_rollback AS n FROM pg_stat_database WHERE datname = current_database()',
        )
      ).rows[0]?.n ?? 0,
    );
  const cpuNow = () => o.bots.reduce((sum, b) => sum + b.cpuMs(), 0);
  const cpu0 = cpuNow();
  const xact0 = await transactions();
  const idle = await bot.retained();
  const sampler = new MemorySampler(() => bot.memory(), 200);
  await sampler.baseline();

  const sent = await openLoop({
    rate: o.startRate,
    count: o.runs,
    url: (i) => o.bots[i % o.bots.length]!.eventsUrl,
    request: (i) => {
      const body = slashCommandBody({
        text: `run bench load ${i}`,
        user: USER,
        channel: `C0LOAD${String(i % o.channels).padStart(3, '0')}`,
        responseUrl: o.standin.responseUrl(`load-${i}`),
      });
      return { body, headers: signedHeaders(body) };
    },
  });
  const t0 = Date.now();
  // Retained memory while the runs are in flight: once all of them exist, after a full GC.
  const count = async (where: string) =>
    Number(
      (
        await db.query<{ n: string }>(
          `SELECT count(*) AS n FROM "WorkflowRun" WHERE "startedBy" = $1 ${where}`,
          [USER],
        )
      ).rows[0]?.n,
    );
  if (sent.errors > 0) o.log(`  slack: ${sent.errors} of ${o.runs} slash commands not acked`);
  await waitUntil(async () => (await count('')) >= o.runs, 10_000, 100);
  const created = await count('');
  if (created < o.runs) {
    // What the bot answered the load user instead of starting a run.
    const answers = new Map<string, number>();
    for (let i = 0; i < o.runs; i++)
      for (const r of o.standin.responsesTo(`load-${i}`)) {
        const text = String(r.body.text ?? JSON.stringify(r.body)).slice(0, 120);
        answers.set(text, (answers.get(text) ?? 0) + 1);
      }
    o.log(`  slack: ${created}/${o.runs} runs created; answers: ${JSON.stringify([...answers].slice(0, 5))}`);
    const errors = o.bots.flatMap((b) =>
      b
        .output()
        .split('\n')
        .filter((l) => l.includes('"level":50')),
    );
    for (const line of errors.slice(0, 2)) o.log(`  bot error: ${line.slice(0, 400)}`);
  }
  const busy = await bot.retained();
  const retained: RetainedFigures = {
    idle,
    busy,
    activeRuns: await count(`AND status IN ('queued', 'running')`),
  };
  o.log(
    `  slack: heap after a full GC ${mb(idle.heapUsed)} MB idle, ${mb(busy.heapUsed)} MB with ` +
      `${retained.activeRuns} runs in flight: ${heldPerRunKb(retained)} KB per run`,
  );
  let rows: Row[] = [];
  const completed = () => new Set(rows.filter((r) => r.run_status === 'completed').map((r) => r.run)).size;
  await waitUntil(
    async () => {
      rows = await read();
      return completed() >= created;
    },
    o.completeTimeoutMs,
    500,
  );
  const memory = sampler.stop();
  o.log(`  slack: ${completed()}/${o.runs} runs completed after ${round((Date.now() - t0) / 1000)} s`);

  const evaluate = () => {
    const cards: number[] = [];
    const parents = new Map<string, number>();
    let missing = 0;
    let lastShown = 0;
    for (const r of rows) {
      const card = r.channel && r.slack_ts ? o.standin.messages.get(`${r.channel}:${r.slack_ts}`) : undefined;
      const shownAt = card && firstShown(card, 'Completed');
      if (!card || !shownAt || !shows(latest(card), 'Completed') || r.step_finished == null) missing++;
      else {
        cards.push(shownAt - Number(r.step_finished));
        lastShown = Math.max(lastShown, shownAt);
      }
      if (parents.has(r.run)) continue;
      const parent = r.channel && r.thread ? o.standin.messages.get(`${r.channel}:${r.thread}`) : undefined;
      const parentAt = parent && firstShown(parent, 'Completed');
      if (!parent || !parentAt || r.run_finished == null) {
        missing++;
        parents.set(r.run, Number.NaN);
      } else {
        parents.set(r.run, parentAt - Number(r.run_finished));
        lastShown = Math.max(lastShown, parentAt);
      }
    }
    return { cards, parents: [...parents.values()].filter(Number.isFinite), missing, lastShown };
  };
  const allShown = await waitUntil(
    async () => {
      rows = await read();
      return completed() >= created && evaluate().missing === 0;
    },
    o.shownTimeoutMs,
    1000,
  );
  const cpuMs = cpuNow() - cpu0;
  // pg_stat_database is updated when a backend reports (at most every 500 ms on PG 15).
  await new Promise((resolve) => setTimeout(resolve, 1500));
  const xacts = (await transactions()) - xact0;
  await db.end();
  const result = evaluate();
  const lastFinished = Math.max(...rows.map((r) => Number(r.step_finished ?? 0)));
  const after = o.standin.counts();
  const calls = diff(after.calls, before.calls);
  const steps = rows.filter((r) => r.step_status === 'completed').length;
  const chatCalls = (calls['chat.postMessage'] ?? 0) + (calls['chat.update'] ?? 0);
  const card = summarize(result.cards);
  const parent = summarize(result.parents);
  const floor = slackFloor(rows);
  const out: SlackResult = {
    runs: o.runs,
    channels: o.channels,
    replicas: o.bots.length,
    floor,
    ratioToFloor: { p99: round(card.p99 / floor.ms, 2), max: round(card.max / floor.ms, 2) },
    cpuMsPerStep: round(cpuMs / Math.max(1, steps), 2),
    dbTransactionsPerStep: round(xacts / Math.max(1, steps), 1),
    completedRuns: completed(),
    steps,
    calls,
    callsPerStep: round(chatCalls / Math.max(1, steps), 2),
    rateLimited: total(diff(after.rateLimited, before.rateLimited)),
    rateLimitedBy: diff(after.rateLimited, before.rateLimited),
    cardDelayMs: { p50: card.p50, p99: card.p99, max: card.max, shown: card.n },
    parentDelayMs: { p50: parent.p50, p99: parent.p99, max: parent.max, shown: parent.n },
    allFinalShown: allShown,
    finalShownAfterMs: allShown ? Math.max(0, result.lastShown - lastFinished) : undefined,
    memory,
    retained,
  };
  o.log(
    `  slack: ${out.callsPerStep} chat calls/step, ${out.rateLimited} × 429, card delay p50 ${card.p50} p99 ${card.p99} ms ` +
      `(floor ${floor.ms} ms: p99 ${out.ratioToFloor.p99}×, max ${out.ratioToFloor.max}×), ` +
      `${card.n}/${rows.length} cards final${allShown ? '' : ' (bound reached)'}, ` +
      `the last ${round((result.lastShown - t0) / 1000)} s after the commands`,
  );
  return out;
}

/** WARM_UP_RUNS: started, completed, and their messages sent (the bot's publisher idle). */
async function warmUp(
  bots: ServerProcess[],
  standin: SlackApiStub,
  db: pg.Client,
  runs: number,
  log: (line: string) => void,
): Promise<void> {
  if (runs <= 0) return;
  standin.meet(WARM_UP_USER);
  const sent = await openLoop({
    rate: 10,
    count: runs,
    url: (i) => bots[i % bots.length]!.eventsUrl,
    request: (i) => {
      const body = slashCommandBody({
        text: `run bench warm-up ${i}`,
        user: WARM_UP_USER,
        channel: warmUpChannel(i),
        responseUrl: standin.responseUrl(`warm-up-${i}`),
      });
      return { body, headers: signedHeaders(body) };
    },
  });
  // Every run completed, and its parent and cards show it (as `evaluate` checks the load's).
  const shown = async () => {
    const { rows } = await db.query<{
      run: string;
      channel: string;
      thread: string | null;
      card: string | null;
      status: string;
    }>(
      `SELECT r.id AS run, r."channelId" AS channel, r."threadTs" AS thread, s."slackTs" AS card, r.status
         FROM "WorkflowRun" r JOIN "RunStep" s ON s."runId" = r.id WHERE r."startedBy" = $1`,
      [WARM_UP_USER],
    );
    const completed = (channel: string, ts: string | null) => {
      const message = ts ? standin.messages.get(`${channel}:${ts}`) : undefined;
      return message !== undefined && shows(latest(message), 'Completed');
    };
    const runsDone = new Set(rows.filter((r) => r.status === 'completed').map((r) => r.run)).size;
    return (
      runsDone >= runs - sent.errors &&
      rows.every((r) => completed(r.channel, r.thread) && completed(r.channel, r.card))
    );
  };
  if (!(await waitUntil(shown, 90_000, 250)))
    log('  slack: the warm-up runs were not all completed and shown within 90 s');
}

const mb = (bytes: number) => round(bytes / 1024 / 1024, 1);
/** Heap held per run in flight: busy minus idle, over the runs in flight. */
export const heldPerRunKb = (r: RetainedFigures): number =>
  round((r.busy.heapUsed - r.idle.heapUsed) / 1024 / Math.max(1, r.activeRuns), 0);

const diff = (a: Record<string, number>, b: Record<string, number>) =>
  Object.fromEntries(Object.entries(a).map(([k, v]) => [k, v - (b[k] ?? 0)]));
const total = (counts: StubCounts['rateLimited']) => Object.values(counts).reduce((s, v) => s + v, 0);
