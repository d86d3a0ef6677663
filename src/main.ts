import { createCore, loggerFor } from './bootstrap.js';
import { type Config, ConfigError, loadConfig, loadDotEnv } from './config.js';
import { rankAlternatives } from './health/describe.js';
import { createOpsRoutes, type OpsServer, startOpsServer } from './ops/http.js';
import { createMetrics } from './ops/metrics.js';
import { cachedSlackAuthCheck } from './ops/slack-auth.js';
import { type Schedules, startSchedules } from './schedules/start.js';
import { createSlackApp, slackConfigProblem } from './slack/slack-app.js';
import { SlackStartError } from './slack/socket-receiver.js';

/**
 * `npm start`: the bot. Wiring only — every part is built elsewhere and joined here.
 *
 *   config → core (database migrated, workflows synced, engine) → Slack app → engine
 *   → schedules (file schedules synced, missed firings handled, then a tick every minute)
 *
 * SIGTERM / SIGINT: stop taking work (the Slack receiver closes, the scheduler stops
 * firing), give running steps
 * ENGINE_GRACE_MS to finish before they are handed back to the queue, send the last card
 * updates, close the database, exit 0. A second signal exits at once.
 */

/** Inside docker's default 30 s stop_grace_period, with room for the last Slack updates. */
const ENGINE_GRACE_MS = 15_000;
const FLUSH_MS = 5_000;

async function main(): Promise<void> {
  loadDotEnv();
  let config: Config;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(error.message);
      process.exit(1);
    }
    throw error;
  }
  const problem = slackConfigProblem(config.slack);
  if (problem) {
    console.error(problem);
    process.exit(1);
  }

  const logger = loggerFor(config);
  process.on('unhandledRejection', (reason) =>
    logger.error({ err: reason instanceof Error ? reason.message : String(reason) }, 'unhandled rejection'),
  );

  const core = await createCore(config, { logger });
  const metrics = config.ops.metricsEnabled
    ? createMetrics({
        events: core.engine.events,
        queue: core.engine.queue,
        reads: core.stores.reads,
        logger,
      })
    : undefined;
  // The readiness check needs the Slack client, and the routes go into the Slack app: late-bound.
  let authTest: () => Promise<{ ok?: boolean }> = async () => ({ ok: false });
  const routes = createOpsRoutes({
    database: core.db,
    checkSlack: cachedSlackAuthCheck(() => authTest()),
    metrics,
    metricsToken: config.ops.metricsToken,
    logger,
  });
  const slack = createSlackApp({
    core,
    config,
    routes,
    // "Retry with …" on a failure alert: healthy providers first, open circuits last.
    rankAlternatives: async (choices) =>
      core.health ? rankAlternatives(choices, await core.health.table()).map((r) => r.ref) : choices,
    observer: metrics && {
      onCall: (method) => metrics.recordSlackCall(method),
      onRateLimited: (method) => metrics.recordSlack429(method),
    },
  });
  authTest = () => slack.app.client.auth.test();

  let ops: OpsServer | undefined;
  let schedules: Schedules | undefined;
  try {
    await slack.start();
    // Socket Mode opens no port of its own: health and metrics get a small server on PORT.
    if (slack.mode === 'socket') ops = await startOpsServer({ port: config.slack.port, routes, logger });
    await core.engine.start();
    // After the engine: firings missed while the bot was down start runs right away.
    schedules = await startSchedules(core, {
      onNotice: (channelId, text) => slack.notify(channelId, text),
      // The failure alert is edited by the step's move to failed; the run's thread is told too.
      onPauseTimeout: (event) => slack.alerts.pauseTimedOut(event),
    });
  } catch (error) {
    logger.fatal({ err: (error as Error).message }, startupAdvice(error));
    await core.close().catch(() => {});
    process.exit(1);
  }
  logger.info({ mode: slack.mode, port: config.slack.port }, 'Switchboard is running');

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) {
      logger.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    stopping = true;
    logger.info({ signal }, 'shutting down: finishing running steps');
    const deadline = setTimeout(
      () => {
        logger.error('shutdown took too long: exiting');
        process.exit(1);
      },
      ENGINE_GRACE_MS + 2 * FLUSH_MS + 3_000,
    );
    deadline.unref();
    try {
      await slack.stopReceiving();
      // No new scheduled runs while the engine winds down (a tick in progress finishes first).
      await schedules
        ?.stop()
        .catch((error: unknown) =>
          logger.warn({ err: (error as Error).message }, 'stopping the scheduler failed'),
        );
      await ops?.close().catch(() => {});
      // A command or click already acked finishes its work (e.g. starting a run) first.
      await slack.flush(FLUSH_MS);
      // Running steps finish or go back to pending for another process (or the next start).
      await core.engine.stop(ENGINE_GRACE_MS);
      const flushed = await slack.flush(FLUSH_MS);
      if (!flushed) logger.warn('some Slack updates were not sent before shutdown');
      await slack.leave();
      slack.close();
      metrics?.close();
      await core.db.close();
      logger.info('stopped');
      process.exit(0);
    } catch (error) {
      logger.error({ err: (error as Error).message }, 'shutdown failed');
      process.exit(1);
    }
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
}

/** What to do about a failure to start, in one line. */
function startupAdvice(error: unknown): string {
  if (error instanceof SlackStartError) return error.message;
  const code = (error as { code?: string; data?: { error?: string } }).data?.error;
  if (code === 'invalid_auth' || code === 'not_authed' || code === 'token_revoked') {
    return `Slack rejected SLACK_BOT_TOKEN (${code}): copy the Bot User OAuth Token again and restart`;
  }
  if ((error as { code?: string }).code === 'EADDRINUSE') return 'PORT is already in use: pick another PORT';
  return 'Switchboard could not start';
}

main().catch((error: unknown) => {
  // Before the logger exists (or it failed): plain stderr.
  console.error(error instanceof Error ? (error.stack ?? error.message) : error);
  process.exit(1);
});
