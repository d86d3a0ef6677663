import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { fixedLatency, startOpenAIStub } from '../test/support/openai-stub.js';
import { slackLimits } from '../test/support/slack-api-limits.js';
import { startSlackApiStub } from '../test/support/slack-api-stub.js';
import { SIGNING_SECRET } from '../test/support/slack-requests.js';
import { ROOT, type ServerLaunch, type ServerProcess, startServer } from './bot-process.js';
import { createBenchDatabase, openBenchDatabases, postgresReachable } from './database.js';
import { heldPerRunKb, type SlackResult, slackPhase } from './phase-slack.js';
import { round } from './stats.js';
import { writeWorkflowsDir } from './workflows.js';

/**
 * `npm run bench:slack [-- --loads 200x50,500x100] [--replicas 1,3] [--warm-up 5] [--out <file>]`: the
 * Slack phase at several loads (runs × channels) and with 1 or more bot processes on one
 * PostgreSQL database, all against one Slack stand-in that enforces Slack's limits per
 * workspace (one counter per method, per channel for chat.postMessage), whichever process
 * calls. Each combination gets a fresh database and a fresh stand-in. Slash commands are
 * spread over the processes in turn, as a load balancer would.
 */

export interface ScaleOptions {
  loads: { runs: number; channels: number }[];
  replicas: number[];
  postgresUrl: string;
  latencyMs: number;
  out: string;
  completeTimeoutMs?: number;
  shownTimeoutMs?: number;
  /** Runs before the bot's idle memory is read (default WARM_UP_RUNS). */
  warmUpRuns?: number | undefined;
  launch?: ServerLaunch | undefined;
  log: (line: string) => void;
}

export interface ScaleResult {
  startedAt: string;
  results: SlackResult[];
}

export async function runSlackScale(o: ScaleOptions): Promise<ScaleResult> {
  if (!(await postgresReachable(o.postgresUrl)))
    throw new Error(`PostgreSQL not reachable at ${o.postgresUrl}`);
  const startedAt = new Date().toISOString();
  const results: SlackResult[] = [];
  for (const load of o.loads) {
    for (const replicas of o.replicas) {
      o.log(`${load.runs} runs over ${load.channels} channels, ${replicas} bot process(es)`);
      results.push(await oneCombination(o, load, replicas));
      mkdirSync(dirname(o.out), { recursive: true });
      writeFileSync(o.out, `${JSON.stringify({ startedAt, results }, null, 2)}\n`);
    }
  }
  return { startedAt, results };
}

async function oneCombination(
  o: ScaleOptions,
  load: { runs: number; channels: number },
  replicas: number,
): Promise<SlackResult> {
  const workflowsDir = writeWorkflowsDir();
  const standin = await startSlackApiStub({ limits: slackLimits() });
  const openai = await startOpenAIStub(fixedLatency(o.latencyMs));
  const db = await createBenchDatabase(o.postgresUrl);
  const bots: ServerProcess[] = [];
  try {
    for (let i = 0; i < replicas; i++) {
      bots.push(
        await startServer({
          entry: 'src/main.ts',
          ready: 'Switchboard is running',
          // The first one's memory is sampled through its inspector.
          inspect: i === 0,
          launch: o.launch,
          env: {
            LOG_LEVEL: 'info',
            WORKFLOWS_DIR: workflowsDir,
            DATABASE_URL: db.url,
            OPENAI_API_KEY: 'sk-bench-0000000000',
            OPENAI_BASE_URL: openai.baseUrl,
            SLACK_BOT_TOKEN: 'xoxb-bench-0000',
            SLACK_SIGNING_SECRET: SIGNING_SECRET,
            SLACK_API_URL: standin.apiUrl,
            WORKER_CONCURRENCY: '50',
            MAX_RUNS_IN_FLIGHT_PER_USER: '0',
          },
        }),
      );
    }
    return await slackPhase({
      bots,
      standin,
      databaseUrl: db.url,
      runs: load.runs,
      channels: load.channels,
      startRate: 100,
      completeTimeoutMs: o.completeTimeoutMs ?? 180_000,
      shownTimeoutMs: o.shownTimeoutMs ?? 300_000,
      warmUpRuns: o.warmUpRuns,
      log: o.log,
    });
  } finally {
    for (const bot of bots) await bot.stop().catch(() => {});
    await standin.close();
    await openai.close();
    await db.drop().catch((e: unknown) => o.log(`could not drop a bench database: ${e}`));
    rmSync(workflowsDir, { recursive: true, force: true });
  }
}

export function renderScale(r: ScaleResult): string {
  const head = [
    'runs / channels',
    'bot processes',
    '429s',
    'floor',
    'p99 / floor',
    'max / floor',
    'completion → card p50',
    'p99',
    'max',
    'chat.postMessage, chat.update',
    'cards final',
    'bot CPU/step',
    'DB transactions/step',
    'heap held/run in flight',
  ];
  const rows = r.results.map((s) => [
    `${s.runs} / ${s.channels}`,
    String(s.replicas),
    String(s.rateLimited),
    `${round(s.floor.ms / 1000)} s`,
    `${s.ratioToFloor.p99}×`,
    `${s.ratioToFloor.max}×`,
    `${s.cardDelayMs.p50} ms`,
    `${s.cardDelayMs.p99} ms`,
    `${s.cardDelayMs.max} ms`,
    `${s.calls['chat.postMessage'] ?? 0}, ${s.calls['chat.update'] ?? 0}`,
    `${s.cardDelayMs.shown}/${s.steps}${s.allFinalShown ? '' : ' (bound reached)'}`,
    `${s.cpuMsPerStep} ms`,
    String(s.dbTransactionsPerStep),
    `${heldPerRunKb(s.retained)} KB (${s.retained.activeRuns})`,
  ]);
  return [head, head.map(() => '---'), ...rows].map((cells) => `| ${cells.join(' | ')} |`).join('\n');
}

function flag(args: string[], name: string): string | undefined {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
}

/** `--warm-up`: a whole number of runs, 0 or more; undefined when not given. */
function warmUpRuns(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const runs = Number(value);
  if (value.trim() === '' || !Number.isInteger(runs) || runs < 0)
    throw new Error(`--warm-up takes a whole number of runs, 0 or more (got "${value}")`);
  return runs;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const args = process.argv.slice(2);
  let warmUp: number | undefined;
  try {
    warmUp = warmUpRuns(flag(args, '--warm-up'));
  } catch (error) {
    console.error((error as Error).message);
    process.exit(1);
  }
  const options: ScaleOptions = {
    loads: (flag(args, '--loads') ?? '200x50,500x100').split(',').map((l) => {
      const [runs, channels] = l.split('x').map(Number);
      return { runs: runs!, channels: channels! };
    }),
    replicas: (flag(args, '--replicas') ?? '1,3').split(',').map(Number),
    postgresUrl:
      flag(args, '--postgres') ??
      process.env.BENCH_DATABASE_URL ??
      'postgresql://postgres@127.0.0.1:5432/test',
    latencyMs: Number(flag(args, '--latency-ms') ?? 200),
    warmUpRuns: warmUp,
    out: resolve(ROOT, flag(args, '--out') ?? 'bench/results/slack-scale.json'),
    log: (line) => console.log(line),
  };
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      void Promise.allSettled([...openBenchDatabases].map((db) => db.drop())).then(() => process.exit(130));
    });
  }
  runSlackScale(options)
    .then((result) => {
      console.log(`\n${renderScale(result)}\n\nJSON: ${options.out}`);
      process.exit(0);
    })
    .catch((error: unknown) => {
      console.error(error instanceof Error ? (error.stack ?? error.message) : error);
      process.exit(1);
    });
}
