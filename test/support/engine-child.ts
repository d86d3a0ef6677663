/**
 * A real bot engine in its own process, for crash tests. Configured from the environment
 * like the bot. Flags:
 *   --start <workflow>   start a run and print {"runId": …} on stdout
 *   --until-done <id>    exit once that run is completed, paused or cancelled (prints its status)
 */
import { parseArgs } from 'node:util';
import { createCore } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/logging.js';

const { values } = parseArgs({ options: { start: { type: 'string' }, 'until-done': { type: 'string' } } });
const config = loadConfig();
const core = await createCore(config, {
  logger: createLogger({ level: 'warn', destination: process.stderr }),
});
await core.engine.start();

if (values.start) {
  const run = await core.engine.runs.startRun({
    workflow: values.start,
    input: 'crash test',
    startedBy: 'U1',
    trigger: 'api',
  });
  process.stdout.write(`${JSON.stringify({ runId: run.id })}\n`);
}

const target = values['until-done'];
if (target) {
  const timer = setInterval(async () => {
    const run = await core.db.prisma.workflowRun.findUnique({ where: { id: target } });
    if (run && ['completed', 'paused', 'cancelled', 'failed'].includes(run.status)) {
      clearInterval(timer);
      await core.close();
      process.stdout.write(`${JSON.stringify({ status: run.status })}\n`);
      process.exit(0);
    }
  }, 100);
}

process.on('SIGTERM', async () => {
  await core.close();
  process.exit(0);
});
