import { parseArgs } from 'node:util';
import { createCore } from '../bootstrap.js';
import { ConfigError, loadConfig, loadDotEnv } from '../config.js';
import { EngineError } from '../engine/engine-error.js';
import { createLogger } from '../logging.js';
import { buildCatalogue } from '../providers/catalogue.js';
import { functionsYaml } from '../slack/function-manifest.js';
import { loadWorkflowDir } from '../workflows/loader.js';

/**
 * For workflow authors: `npm run workflow -- validate | list | run <name> --input "…" | functions`.
 * `run` uses the same engine, database and providers as the bot and prints each step;
 * `functions` prints manifest.yml's `functions:` block with one Workflow Builder step per workflow.
 */

const USAGE = `Usage: npm run workflow -- <command>

  validate                    check every file in WORKFLOWS_DIR (exit 1 on problems)
  list                        the workflows and their steps
  run <name> --input "text"   run a workflow here and print each step
  functions                   manifest.yml's functions: block, one Workflow Builder step per workflow
  help                        this text`;

async function main(argv: string[]): Promise<number> {
  const { positionals, values } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { input: { type: 'string', short: 'i' }, help: { type: 'boolean', short: 'h' } },
  });
  const [command, name] = positionals;
  if (!command || command === 'help' || values.help) {
    console.log(USAGE);
    return command || values.help ? 0 : 1;
  }
  loadDotEnv();
  const config = loadConfig();
  const catalogue = buildCatalogue(config);

  if (command === 'functions') {
    const result = await loadWorkflowDir(config.workflowsDir, catalogue);
    for (const error of result.errors) console.error(`✗ ${error.toString()}`);
    if (result.workflows.length > 49) {
      console.error(
        `Slack allows 50 functions per app: the first 49 of ${result.workflows.length} workflows are listed.`,
      );
    }
    console.log(
      '# Paste over the functions: block of manifest.yml (docs/slack.md, "Workflow Builder steps").',
    );
    console.log(functionsYaml(result.workflows.map((w) => ({ name: w.name, description: w.description }))));
    return result.errors.length > 0 ? 1 : 0;
  }

  if (command === 'validate' || command === 'list') {
    const result = await loadWorkflowDir(config.workflowsDir, catalogue);
    for (const error of result.errors) console.error(`✗ ${error.toString()}`);
    if (command === 'validate') {
      if (result.errors.length > 0) {
        console.error(`\n${result.errors.length} problem(s) in ${config.workflowsDir}`);
        return 1;
      }
      console.log(
        `✓ ${result.workflows.length} workflow(s) and ${result.personas.length} persona(s) are valid`,
      );
      return 0;
    }
    for (const wf of result.workflows) {
      console.log(`${wf.name} — ${wf.description || '(no description)'}`);
      wf.steps.forEach((s, i) => {
        const model = s.provider
          ? `${s.provider}/${s.model}`
          : wf.provider
            ? `${wf.provider}/${wf.model}`
            : 'default model';
        console.log(`  ${i + 1}. ${s.name}  (${model}, persona: ${s.persona ?? wf.persona ?? 'none'})`);
      });
    }
    return result.errors.length > 0 ? 1 : 0;
  }

  if (command === 'run') {
    if (!name) {
      console.error('Name the workflow: npm run workflow -- run <name> --input "…"');
      return 1;
    }
    return runInTerminal(config, name, values.input ?? '');
  }
  console.error(`Unknown command "${command}".\n\n${USAGE}`);
  return 1;
}

async function runInTerminal(
  config: ReturnType<typeof loadConfig>,
  name: string,
  input: string,
): Promise<number> {
  const logger = createLogger({
    level: config.logLevel === 'info' ? 'warn' : config.logLevel,
    destination: process.stderr,
  });
  const core = await createCore(config, { logger });
  const { engine, stores } = core;
  try {
    const finished = new Promise<string>((resolve) => {
      engine.events.on('step.changed', ({ stepId, to }) => {
        if (to !== 'completed' && to !== 'paused' && to !== 'awaiting_approval') return;
        void stores.reads.step(stepId).then((s) => {
          if (!s) return;
          const head = `── step ${s.position + 1} · ${s.name}`;
          if (s.status === 'completed' || s.status === 'awaiting_approval') {
            console.log(
              `${head} · ${s.answeredProvider}/${s.answeredModel} · persona: ${s.personaUsed ?? 'none'}`,
            );
            console.log(
              `   ${s.latencyMs} ms · ${s.inputTokens} in / ${s.outputTokens} out tokens · ${s.attempts} attempt(s)`,
            );
            console.log(s.output ?? '');
            // A gated step's output waits for a person in Slack (docs/control.md): the CLI stops there.
            if (s.status === 'awaiting_approval') console.log('   awaits approval (approve it in Slack)');
          } else {
            console.log(
              `${head} · paused: ${s.lastErrorKind} from ${s.lastErrorProvider}/${s.lastErrorModel}`,
            );
            console.log(`   ${s.lastErrorMessage ?? ''}`);
          }
        });
      });
      engine.events.on('run.changed', ({ to }) => {
        if (['completed', 'paused', 'awaiting_approval', 'cancelled', 'failed'].includes(to)) resolve(to);
      });
    });
    await engine.start();
    const run = await engine.runs.startRun({
      workflow: name,
      input,
      startedBy: `cli:${process.env.USER ?? 'user'}`,
      trigger: 'cli',
    });
    console.log(`Run #${run.number} of ${name} started`);
    const status = await finished;
    // Let the last step's printout land before the summary.
    await new Promise((r) => setTimeout(r, 50));
    console.log(`\nRun #${run.number} ${status}`);
    return status === 'completed' ? 0 : 2;
  } catch (error) {
    if (EngineError.isInstance(error)) {
      console.error(error.message);
      if (error.suggestions.length > 0) console.error(`Known workflows: ${error.suggestions.join(', ')}`);
      return 1;
    }
    throw error;
  } finally {
    await core.close();
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    if (error instanceof ConfigError) console.error(error.message);
    else console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  },
);
