/**
 * A real bot process for the two-process schedule test: the app's core (database,
 * migrations, workflow sync, engine) plus startSchedules, with real node-cron ticking.
 * Only time is shortened: node-cron ticks every second ("* * * * * *") and the scheduler's
 * clock runs 60 times fast, so each real second is one scheduled minute. Both processes
 * share the anchor (--real-epoch, --virtual-epoch), so they agree on what minute it is and
 * tick at the same moment — a real race for every firing.
 *
 * Prints one JSON line per firing this process handled or lost ({fireAt, claimed, …}).
 */
// This child keeps the machine's clock: its scheduler runs on a virtual clock of its own,
// anchored at --real-epoch (machine time) and --virtual-epoch (a fixed 2030 calendar).
import { parseArgs } from 'node:util';
import { createCore } from '../../src/bootstrap.js';
import { loadConfig } from '../../src/config.js';
import { InProcessQueue } from '../../src/engine/queue.js';
import { createLogger } from '../../src/logging.js';
import { startSchedules } from '../../src/schedules/start.js';
import { providerSource, ScriptedProvider } from '../support/engine.js';

const { values } = parseArgs({
  options: { 'real-epoch': { type: 'string' }, 'virtual-epoch': { type: 'string' } },
});
const realEpoch = Number(values['real-epoch']);
const virtualEpoch = Number(values['virtual-epoch']);
const SPEED = 60;

const core = await createCore(loadConfig(), {
  logger: createLogger({ level: 'warn', destination: process.stderr }),
  queue: new InProcessQueue(),
  providers: providerSource(new ScriptedProvider('openai')),
});
await core.engine.start();
const schedules = await startSchedules(core, {
  clock: { now: () => new Date(virtualEpoch + (Date.now() - realEpoch) * SPEED) },
  tickExpression: '* * * * * *',
  onFiring: (e) => {
    process.stdout.write(
      `${JSON.stringify({ pid: process.pid, fireAt: e.fireAt.toISOString(), claimed: e.claimed, outcome: e.outcome, runId: e.runId ?? null })}\n`,
    );
  },
  onNotice: (channelId, text) => {
    process.stdout.write(`${JSON.stringify({ pid: process.pid, notice: text, channelId })}\n`);
  },
});
process.stdout.write(`${JSON.stringify({ pid: process.pid, ready: true })}\n`);

process.on('SIGTERM', async () => {
  await schedules.stop();
  await core.close();
  process.exit(0);
});
