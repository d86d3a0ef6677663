/**
 * A real bot engine in its own process, for crash tests. Configured from the environment
 * like the bot. Flags:
 *   --start <workflow>   start a run and print {"runId": …} on stdout
 *   --start-runs <workflow>:<n>   start n runs and print {"runIds": […]}
 *   --until-done <id>    exit once that run is completed, paused or cancelled (prints its status)
 *   --until-runs <n>     exit once at least n runs exist and none is queued or running
 *                        (prints {"idle": true, "answered": <steps this process completed>})
 * Every process prints {"ready": true} once its engine is working the queue, and
 * {"saved": <step id>} each time it has stored a step's answer.
 */
// Runs on the suite's calendar: test/support/children.ts loads test-date.mjs with --import.
import { parseArgs } from 'node:util';
import { createCore } from '../../src/bootstrap.js';
import { loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/logging.js';

const { values } = parseArgs({
  options: {
    start: { type: 'string' },
    'start-runs': { type: 'string' },
    'until-done': { type: 'string' },
    'until-runs': { type: 'string' },
  },
});
const config = loadConfig();
const core = await createCore(config, {
  logger: createLogger({ level: config.logLevel, destination: process.stderr }),
});
let answered = 0;
core.engine.events.on('attempt.recorded', (a) => {
  if (a.outcome === 'success') answered += 1;
});
core.engine.events.on('step.changed', (e) => {
  if (e.to === 'completed') process.stdout.write(`${JSON.stringify({ saved: e.stepId })}\n`);
});
await core.engine.start();
process.stdout.write(`${JSON.stringify({ ready: true, pid: process.pid })}\n`);

if (values.start) {
  const run = await core.engine.runs.startRun({
    workflow: values.start,
    input: 'crash test',
    startedBy: 'U1',
    trigger: 'api',
  });
  process.stdout.write(`${JSON.stringify({ runId: run.id })}\n`);
}

if (values['start-runs']) {
  const [workflow = '', count = '0'] = values['start-runs'].split(':');
  const runIds: string[] = [];
  for (let i = 0; i < Number(count); i++) {
    const run = await core.engine.runs.startRun({
      workflow,
      input: `n${i}`,
      startedBy: 'U1',
      trigger: 'api',
    });
    runIds.push(run.id);
  }
  process.stdout.write(`${JSON.stringify({ runIds })}\n`);
}

async function finish(line: Record<string, unknown>) {
  await core.close();
  process.stdout.write(`${JSON.stringify(line)}\n`);
  process.exit(0);
}

const target = values['until-done'];
if (target) {
  const timer = setInterval(async () => {
    const run = await core.db.prisma.workflowRun.findUnique({ where: { id: target } });
    if (run && ['completed', 'paused', 'cancelled', 'failed'].includes(run.status)) {
      clearInterval(timer);
      await finish({ status: run.status });
    }
  }, 100);
}

const expected = values['until-runs'] === undefined ? undefined : Number(values['until-runs']);
if (expected !== undefined) {
  const timer = setInterval(async () => {
    try {
      const total = await core.db.prisma.workflowRun.count();
      const busy = await core.db.prisma.workflowRun.count({
        where: { status: { in: ['queued', 'running'] } },
      });
      if (total >= expected && busy === 0) {
        clearInterval(timer);
        await finish({ idle: true, answered });
      }
    } catch {
      // The database may blink in fault tests; look again on the next tick.
    }
  }, 200);
}

process.on('SIGTERM', async () => {
  await core.close();
  process.exit(0);
});
