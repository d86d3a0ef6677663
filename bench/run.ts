import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { fixedLatency, startOpenAIStub } from '../test/support/openai-stub.js';
import { slackLimits } from '../test/support/slack-api-limits.js';
import { startSlackApiStub } from '../test/support/slack-api-stub.js';
import { SIGNING_SECRET } from '../test/support/slack-requests.js';
import { ROOT, type ServerLaunch, type ServerProcess, startServer } from './bot-process.js';
import {
  type BenchDatabase,
  createBenchDatabase,
  openBenchDatabases,
  postgresReachable,
} from './database.js';
import { describeMachine } from './machine.js';
import { ackPhase } from './phase-ack.js';
import { enginePhase } from './phase-engine.js';
import { slackPhase } from './phase-slack.js';
import { streamPhase } from './phase-stream.js';
import { PROFILES, type Profile } from './profiles.js';
import { memoryOf, type Results, render, targets } from './report.js';
import { round } from './stats.js';
import { writeWorkflowsDir } from './workflows.js';

/**
 * `npm run bench [-- --quick] [--latency-ms 200] [--postgres <admin url>] [--out <file>]`:
 * the real bot against local stand-ins (Slack Web API with Slack's rate limits, an
 * OpenAI-compatible server with a fixed latency), driven with signed slash commands and
 * block actions. Every phase is bounded in count and time; only 127.0.0.1 is contacted.
 * Prints the table and writes the JSON (bench/results/latest.json; quick.json with --quick).
 */

export interface BenchOptions {
  quick: boolean;
  latencyMs: number;
  /** Admin URL of a PostgreSQL server for bench databases; undefined: embedded only. */
  postgresUrl: string | undefined;
  out: string;
  /** Phases to run (default all): engine, ack, slack, stream. */
  phases?: ('engine' | 'ack' | 'slack' | 'stream')[] | undefined;
  /** Changes to the full or quick profile (sizes, durations, bounds). */
  profile?: Partial<Profile> | undefined;
  /** Extra modules and environment for the bot's and bare Bolt's processes (the test suite's calendar). */
  launch?: ServerLaunch | undefined;
  log: (line: string) => void;
}

export async function runBench(o: BenchOptions): Promise<Results> {
  const started = Date.now();
  const profile: Profile = { ...(o.quick ? PROFILES.quick : PROFILES.full), ...o.profile };
  const postgres = o.postgresUrl && (await postgresReachable(o.postgresUrl)) ? o.postgresUrl : undefined;
  if (o.postgresUrl && !postgres)
    o.log(`PostgreSQL not reachable at ${o.postgresUrl}: embedded database only`);
  const machine = await describeMachine(postgres);
  const workflowsDir = writeWorkflowsDir();
  const databases: BenchDatabase[] = [];
  const servers: ServerProcess[] = [];
  // The suite's own stubs (test/support: none of them loads the test runner).
  const standin = await startSlackApiStub({ limits: slackLimits() });
  const openai = await startOpenAIStub(fixedLatency(o.latencyMs));
  const wants = (phase: 'engine' | 'ack' | 'slack' | 'stream') => !o.phases || o.phases.includes(phase);
  try {
    o.log('(b) engine overhead');
    const engineDb = postgres && wants('engine') ? await createBenchDatabase(postgres) : undefined;
    if (engineDb) databases.push(engineDb);
    const engine = await enginePhase({
      databases: [
        { kind: 'embedded' },
        ...(engineDb ? [{ kind: 'postgres' as const, url: engineDb.url }] : []),
      ],
      sizes: wants('engine') ? profile.engineSizes : [],
      latencyMs: o.latencyMs,
      workflowsDir,
      steadySeconds: profile.steadySeconds,
      timeoutMs: profile.engineTimeoutMs,
      launch: o.launch,
      log: o.log,
    });

    o.log('starting the bot and a bare Bolt app');
    const botDb = postgres ? await createBenchDatabase(postgres) : undefined;
    if (botDb) databases.push(botDb);
    const dataDir = resolve(workflowsDir, 'data');
    if (!botDb) await o.launch?.seedDataDir?.(dataDir);
    const bare = await startServer({
      entry: 'bench/bare-bolt.ts',
      env: { SLACK_SIGNING_SECRET: SIGNING_SECRET },
      ready: 'bare Bolt is running',
      launch: o.launch,
    });
    servers.push(bare);
    const bot = await startServer({
      entry: 'src/main.ts',
      ready: 'Switchboard is running',
      inspect: true,
      launch: o.launch,
      env: {
        LOG_LEVEL: 'info',
        WORKFLOWS_DIR: workflowsDir,
        ...(botDb ? { DATABASE_URL: botDb.url } : { DATA_DIR: dataDir }),
        OPENAI_API_KEY: 'sk-bench-0000000000',
        OPENAI_BASE_URL: openai.baseUrl,
        SLACK_BOT_TOKEN: 'xoxb-bench-0000',
        SLACK_SIGNING_SECRET: SIGNING_SECRET,
        SLACK_API_URL: standin.apiUrl,
        WORKER_CONCURRENCY: String(profile.botConcurrency),
        // One load user starts every run of the Slack phase: the per-person cap would refuse it.
        MAX_RUNS_IN_FLIGHT_PER_USER: '0',
      },
    });
    servers.push(bot);

    o.log('(a) ack latency');
    const ack = wants('ack')
      ? await ackPhase({
          bot,
          bare,
          standin,
          rates: profile.ackRates,
          requests: profile.ackRequests,
          log: o.log,
        })
      : [];
    await bare.stop();

    o.log(`(c, d) ${profile.slackRuns} runs through Slack`);
    const slack =
      botDb && wants('slack')
        ? await slackPhase({
            bots: [bot],
            standin,
            databaseUrl: botDb.url,
            runs: profile.slackRuns,
            channels: profile.slackChannels,
            startRate: 100,
            completeTimeoutMs: profile.completeTimeoutMs,
            shownTimeoutMs: profile.shownTimeoutMs,
            log: o.log,
          })
        : undefined;
    await bot.stop();

    o.log(`(e) live output at ${profile.streamLevels.join(', ')} live steps`);
    const stream = wants('stream')
      ? await streamPhase({
          levels: profile.streamLevels,
          tokensPerSecond: 50,
          tokensPerAnswer: profile.streamTokens,
          workflowsDir,
          timeoutMs: profile.completeTimeoutMs,
          launch: o.launch,
          log: o.log,
        })
      : undefined;

    const biggest = [...engine].sort((a, b) => b.runs - a.runs || (a.database === 'postgres' ? -1 : 1))[0];
    const partial: Omit<Results, 'targets'> = {
      startedAt: new Date(started).toISOString(),
      durationSeconds: round((Date.now() - started) / 1000, 0),
      mode: o.quick ? 'quick' : 'full',
      machine,
      settings: {
        providerLatencyMs: o.latencyMs,
        steps: 3,
        ackRequestsPerRate: profile.ackRequests,
        botWorkerConcurrency: profile.botConcurrency,
        engineWorkerConcurrency: 'equal to the runs started',
      },
      ack,
      engine,
      slack,
      stream,
      memory: [
        ...(slack ? [memoryOf('bot process, Slack phase', slack.runs, slack.memory, slack.retained)] : []),
        ...(biggest
          ? [memoryOf(`engine process, ${biggest.database}`, biggest.runs, biggest.memory, biggest.retained)]
          : []),
      ],
    };
    const results: Results = { ...partial, targets: targets(partial) };
    mkdirSync(dirname(o.out), { recursive: true });
    writeFileSync(o.out, `${JSON.stringify(results, null, 2)}\n`);
    return results;
  } finally {
    for (const server of servers) await server.stop().catch(() => {});
    await standin.close();
    await openai.close();
    for (const db of databases)
      await db.drop().catch((e: unknown) => o.log(`could not drop a bench database: ${e}`));
    rmSync(workflowsDir, { recursive: true, force: true });
  }
}

function flag(args: string[], name: string): string | undefined {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const args = process.argv.slice(2);
  const options: BenchOptions = {
    quick: args.includes('--quick'),
    latencyMs: Number(flag(args, '--latency-ms') ?? 200),
    postgresUrl:
      flag(args, '--postgres') ??
      process.env.BENCH_DATABASE_URL ??
      'postgresql://postgres@127.0.0.1:5432/test',
    // A quick run never replaces the full run's figures that BENCHMARKS.md quotes.
    out: resolve(
      ROOT,
      flag(args, '--out') ??
        (args.includes('--quick') ? 'bench/results/quick.json' : 'bench/results/latest.json'),
    ),
    phases: flag(args, '--phases')?.split(',') as BenchOptions['phases'],
    log: (line) => console.log(line),
  };
  // Interrupted: drop the bench databases (the child processes get the signal too).
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      void Promise.allSettled([...openBenchDatabases].map((db) => db.drop())).then(() => process.exit(130));
    });
  }
  runBench(options)
    .then((results) => {
      console.log(`\n${render(results)}\n\nJSON: ${options.out}`);
      process.exit(0);
    })
    .catch((error: unknown) => {
      console.error(error instanceof Error ? (error.stack ?? error.message) : error);
      process.exit(1);
    });
}
