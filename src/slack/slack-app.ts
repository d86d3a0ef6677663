import type { Server } from 'node:http';
import type { AddressInfo, ListenOptions } from 'node:net';
import { App, type CustomRoute, HTTPReceiver, type Receiver, webApi } from '@slack/bolt';
import type { Config } from '../config.js';
import type { PriceList } from '../core/cost.js';
import type { ModelCatalogue } from '../core/ports.js';
import { TERMINAL_RUN } from '../core/states.js';
import type { Stores } from '../db/stores.js';
import type { Engine } from '../engine/engine.js';
import { figuresOnly, type ProviderHealth } from '../health/monitor.js';
import type { Logger } from '../logging.js';
import { buildPriceList } from '../providers/prices.js';
import { ScheduleService } from '../schedules/service.js';
import { type AlertsOptions, FailureAlerts } from './alerts.js';
import { UsergroupMembers } from './approvers.js';
import { boltLogger } from './bolt-logger.js';
import { ActionService } from './card-actions.js';
import { CommandService } from './commands.js';
import { ControlActions } from './control-actions.js';
import { ControlNotices } from './control-notices.js';
import { registerFunctionSteps } from './function-listeners.js';
import { FunctionSteps } from './function-steps.js';
import { HomeTab } from './home-tab.js';
import { registerListeners } from './listeners.js';
import { LiveOutput } from './live-output.js';
import { SlackDirectory } from './membership.js';
import { PersonaEditor } from './persona-editor.js';
import { Publisher, type PublisherOptions, type SlackCaller } from './publisher.js';
import { type BucketClock, type RateLimits, SLACK_RATE_LIMITS } from './rate-limit.js';
import { Renderer } from './renderer.js';
import { SlackReplicas } from './replicas.js';
import { RunViews } from './run-views.js';
import { ScheduleCommands } from './schedule-commands.js';
import { registerShortcuts } from './shortcut-listeners.js';
import { ShortcutService } from './shortcuts.js';
import { createSocketReceiver } from './socket-receiver.js';
import { ThreadReader } from './thread-reader.js';
import { section } from './views/blocks.js';
import { Visibility } from './visibility.js';
import { AuthoringService } from './workflow-editor.js';

/**
 * The Slack app: Bolt (HTTP on PORT at POST /slack/events, or Socket Mode when
 * SLACK_APP_TOKEN is set; SLACK_API_URL applies to both) with thin listeners over the
 * command and action services, and the renderer, alerts and publisher that keep Slack in
 * step with the engine.
 */

export const EVENTS_PATH = '/slack/events';

export class SlackConfigError extends Error {
  override name = 'SlackConfigError';
}

/** What the Slack app needs of the bot's core (src/bootstrap.ts). */
export interface SlackCore {
  stores: Stores;
  engine: Pick<Engine, 'runs' | 'events' | 'owner' | 'approvals' | 'reruns'>;
  catalogue: ModelCatalogue;
  /** Model prices: cheaper "Retry with …" choices on a budget alert (default: the built-in ones). */
  prices?: PriceList | undefined;
  logger: Logger;
  /** Provider health with circuit breakers; without it, the figures alone. */
  health?: ProviderHealth | undefined;
}

export interface SlackAppOptions {
  core: SlackCore;
  config: Pick<Config, 'slack' | 'defaults' | 'retry' | 'stepTimeoutMs' | 'schedules'> &
    Partial<Pick<Config, 'budget' | 'limits' | 'liveOutput'>>;
  /** Web API client for posting and editing messages (default: a WebClient on SLACK_API_URL). */
  client?: SlackCaller;
  /** Per-method buckets (default: Slack's documented limits). */
  rateLimits?: RateLimits;
  clock?: BucketClock;
  /** How long a failure alert waits for the run's parent message (default 15 s). */
  alertParentWaitMs?: number;
  /** More HTTP routes beside /slack/events in HTTP mode (health, readiness, metrics). */
  routes?: CustomRoute[];
  /** Reorders a failure alert's "Retry with …" choices (e.g. healthiest first). */
  rankAlternatives?: AlertsOptions['rankAlternatives'];
  /** Told about every Web API call the publisher makes and every 429 (metrics). */
  observer?: PublisherOptions['observer'];
  /** `/workflow schedule …` and the Home tab's schedules (default: one on this database). */
  schedules?: ScheduleService;
}

export interface SlackApp {
  app: App;
  receiver: Receiver;
  mode: 'http' | 'socket';
  publisher: Publisher;
  renderer: Renderer;
  /** A running step's text in its thread (docs/slack.md, "Live output"). */
  live: LiveOutput;
  alerts: FailureAlerts;
  commands: CommandService;
  actions: ActionService;
  authoring: AuthoringService;
  home: HomeTab;
  /** Workflow Builder steps waiting for their runs. */
  functionSteps: FunctionSteps;
  /** Who may see which run (channel membership read from Slack, cached). */
  visibility: Visibility;
  directory: SlackDirectory;
  /** Posts a notice (safe mrkdwn, e.g. a schedule's missed firings) in a channel. */
  notify(channelId: string, text: string): Promise<void>;
  /**
   * Verifies the bot token (auth.test), redraws unfinished runs, and starts receiving:
   * HTTP on `listen` (default PORT), or the Socket Mode connection (a SlackStartError
   * naming SLACK_APP_TOKEN or SLACK_API_URL when Slack refuses it or cannot be reached).
   */
  start(listen?: number | ListenOptions): Promise<{ port?: number }>;
  /** Stops receiving commands and clicks (first step of a shutdown). */
  stopReceiving(): Promise<void>;
  /** Waits until every listener still at work, queued render, alert and Slack call is done; true if drained in time. */
  flush(timeoutMs?: number): Promise<boolean>;
  /**
   * Stops this process's Slack heartbeat and tells the other processes on the database that
   * it is gone, so they take over at once whatever it could not send (before close).
   */
  leave(): Promise<void>;
  /** Unsubscribes from the engine and releases the publisher's timers. */
  close(): void;
}

/**
 * What is missing for the Slack app to start, in words an admin can act on; undefined when
 * the tokens are there. HTTP mode needs the bot token and the signing secret; Socket Mode
 * (SLACK_APP_TOKEN set) the bot token and the app-level token.
 */
export function slackConfigProblem(slack: Config['slack']): string | undefined {
  const missing: string[] = [];
  if (!slack.botToken) {
    missing.push(
      'SLACK_BOT_TOKEN: the Bot User OAuth Token (xoxb-…), from OAuth & Permissions after installing the app',
    );
  }
  if (!slack.appToken && !slack.signingSecret) {
    missing.push(
      'SLACK_SIGNING_SECRET (Basic Information → App Credentials) for HTTP mode on PORT at /slack/events, ' +
        'or SLACK_APP_TOKEN (xapp-…, Basic Information → App-Level Tokens, scope connections:write) for Socket Mode',
    );
  }
  if (missing.length === 0) return undefined;
  return `Slack is not configured:\n${missing.map((m) => `  - ${m}`).join('\n')}\nSet them (see docs/slack.md) and start again.`;
}

export function createSlackApp(options: SlackAppOptions): SlackApp {
  const { core, config } = options;
  const { slack } = config;
  const logger = core.logger.child({ component: 'slack' });
  const socket = Boolean(slack.appToken);
  const problem = slackConfigProblem(slack);
  if (problem) throw new SlackConfigError(problem);
  const slackApiUrl = slack.apiUrl
    ? slack.apiUrl.endsWith('/')
      ? slack.apiUrl
      : `${slack.apiUrl}/`
    : undefined;
  const bolt = boltLogger(core.logger);
  // 429s are ours to handle (the publisher pauses the method's bucket for Retry-After);
  // the WebClient's own retries would hold calls for up to half an hour.
  const clientOptions = {
    ...(slackApiUrl ? { slackApiUrl } : {}),
    rejectRateLimitedCalls: true,
    retryConfig: { retries: 0 },
    timeout: 10_000,
    logger: bolt,
  };

  const receiver: Receiver = socket
    ? createSocketReceiver({ appToken: slack.appToken!, slackApiUrl, logger: bolt })
    : new HTTPReceiver({
        signingSecret: slack.signingSecret!,
        endpoints: EVENTS_PATH,
        logger: bolt,
        // Ack is written to the HTTP response the moment a listener calls ack().
        processBeforeResponse: false,
        customRoutes: options.routes ?? [],
      });
  const app = new App({
    token: slack.botToken,
    receiver,
    logger: bolt,
    clientOptions,
    // auth.test runs in start(), so a bad token fails at start and never on a request's ack path.
    deferInitialization: true,
    // State lives in the database; Bolt's in-memory conversation store would only cost each request.
    convoStore: false,
  });

  const client: SlackCaller =
    options.client ??
    (() => {
      const web = new webApi.WebClient(slack.botToken, clientOptions);
      return {
        apiCall: (method, args) => web.apiCall(method, args) as unknown as Promise<Record<string, unknown>>,
      };
    })();
  const { stores } = core;
  // Several processes on one PostgreSQL database share Slack's budget and their pending runs.
  const coordination = stores.slack;
  let replicas: SlackReplicas | undefined;
  const publisher = new Publisher({
    client,
    logger,
    limits: options.rateLimits,
    clock: options.clock,
    observer: options.observer,
    shared: coordination,
    journal: coordination && { record: (pending, sent) => replicas!.record(pending, sent) },
  });
  const health = core.health ?? figuresOnly(stores.runs);
  const views = new RunViews(stores, {
    catalogue: core.catalogue,
    config,
    providerHealth: (provider) => health.words(provider),
  });
  const runs = core.engine.runs;
  const policy = { adminUserIds: slack.adminUserIds, editPolicy: slack.editPolicy };
  // Membership lookups go straight to Slack, outside the publisher's queues: a person is
  // waiting for the answer, and a lookup Slack cannot answer now is better refused than late.
  const directory = new SlackDirectory({
    client,
    ttlMs: slack.membershipTtlMs,
    logger,
    clock: options.clock,
    observer: options.observer,
  });
  const visibility = new Visibility({ directory, policy, reads: stores.reads });
  let teamId: Promise<string | undefined> | undefined;
  const live = new LiveOutput({
    publisher,
    store: stores.runs,
    reads: stores.reads,
    redraw: (runId) => renderer.schedule(runId),
    logger,
    limits: options.rateLimits ?? SLACK_RATE_LIMITS,
    parentWaitMs: options.alertParentWaitMs,
    // Once per process: the workspace a stream's recipient belongs to.
    teamId: () => {
      teamId ??= publisher.call('auth.test', {}).then(
        (r) => (typeof r.team_id === 'string' ? r.team_id : undefined),
        () => {
          teamId = undefined;
          return undefined;
        },
      );
      return teamId;
    },
  });
  const renderer = new Renderer({
    store: stores.runs,
    runs,
    views,
    publisher,
    logger,
    owner: core.engine.owner,
    liveText: (stepId) => live.cardText(stepId),
    onDrawn: coordination && ((runId, blocked) => replicas?.runChanged(runId, blocked)),
  });
  replicas =
    coordination &&
    new SlackReplicas({
      store: coordination,
      replica: core.engine.owner,
      publisher,
      renderer,
      logger,
      clock: options.clock,
    });
  const alerts = new FailureAlerts({
    stores,
    views,
    publisher,
    catalogue: core.catalogue,
    logger,
    alertChannel: slack.alertChannel,
    parentWaitMs: options.alertParentWaitMs,
    rankAlternatives: options.rankAlternatives,
    isPrivate: (channelId) => directory.isPrivate(channelId),
    prices: {
      list: core.prices ?? buildPriceList(),
      maxOutputTokens: config.budget?.maxOutputTokens ?? 4096,
    },
  });
  const notices = new ControlNotices({
    stores,
    views,
    publisher,
    logger,
    alertChannel: slack.alertChannel,
    parentWaitMs: options.alertParentWaitMs,
  });
  const control = new ControlActions({
    reads: stores.reads,
    runs,
    approvals: core.engine.approvals,
    reruns: core.engine.reruns,
    views,
    renderer,
    policy,
    groups: new UsergroupMembers({ publisher, logger }),
    notices,
    visibility,
    logger,
  });
  const schedules =
    options.schedules ??
    new ScheduleService({
      schedules: stores.schedules,
      workflows: stores.workflows,
      defaultTimezone: config.schedules.timezone,
      minIntervalMinutes: config.schedules.minIntervalMinutes,
    });
  const authoring = new AuthoringService({
    workflows: stores.workflows,
    catalogue: core.catalogue,
    config,
    views: views.ctx,
    policy,
  });
  const personas = new PersonaEditor({ workflows: stores.workflows, policy });
  const commands = new CommandService({
    stores,
    health,
    runs,
    views,
    renderer,
    publisher,
    catalogue: core.catalogue,
    visibility,
    policy,
    schedules: new ScheduleCommands({ workflows: stores.workflows, service: schedules, visibility }),
    authoring,
    personas,
    control,
  });
  const actions = new ActionService({
    reads: stores.reads,
    runs,
    views,
    renderer,
    visibility,
    logger,
    forcedRedrawsPerMinute: config.limits?.forcedRedrawsPerUserPerMinute,
    clock: options.clock,
  });
  const home = new HomeTab({
    reads: stores.reads,
    visibility,
    views,
    schedules,
    catalogue: core.catalogue,
    health: () => health.providers(),
    logger,
    publish: (userId, view) => app.client.views.publish({ user_id: userId, view }),
    dailyCapUsd: config.budget?.dailyUsd,
  });
  const inFlight = registerListeners(app, {
    commands,
    actions,
    control,
    authoring,
    personas,
    home,
    publisher,
    membership: directory,
    logger,
  });
  const reader = new ThreadReader({
    call: (method, args) => publisher.call(method, args),
    limits: slack.thread,
    logger,
  });
  const shortcuts = new ShortcutService({ workflows: stores.workflows, runs, reader, policy, logger });
  registerShortcuts(app, { shortcuts, logger }, inFlight);
  const functionSteps = new FunctionSteps({
    functions: stores.functions,
    workflows: stores.workflows,
    store: stores.runs,
    runs,
    publisher,
    policy,
    logger,
    timeoutMinutes: slack.functionTimeoutMinutes,
    providerLabel: (provider) => core.catalogue.label(provider),
  });
  registerFunctionSteps(app, { steps: functionSteps, logger }, inFlight);

  const detach = [
    renderer.attach(core.engine.events),
    // LIVE_OUTPUT off: the engine raises no step.output, and no stream is ever recorded.
    config.liveOutput === false ? () => {} : live.attach(core.engine.events),
    alerts.attach(core.engine.events),
    notices.attach(core.engine.events),
    home.attach(core.engine.events),
  ];
  // Workflow Builder steps start listening (and sweeping) once the app starts receiving.
  let server: Server | undefined;

  return {
    app,
    receiver,
    mode: socket ? 'socket' : 'http',
    publisher,
    renderer,
    live,
    alerts,
    commands,
    actions,
    authoring,
    home,
    functionSteps,
    visibility,
    directory,

    async notify(channelId, text) {
      await publisher.call('chat.postMessage', {
        channel: channelId,
        text,
        blocks: [section('notice', text)],
      });
    },

    async start(listen) {
      await app.init();
      detach.push(functionSteps.attach(core.engine.events));
      await replicas?.start();
      // Cards may be behind if Slack was unreachable or the process restarted: redraw.
      for (const runId of await stores.reads.unfinishedRunIds([...TERMINAL_RUN])) renderer.schedule(runId);
      if (socket) {
        await app.start();
        logger.info('Slack app connected (Socket Mode)');
        return {};
      }
      server = (await app.start(listen ?? slack.port)) as Server;
      const port = (server.address() as AddressInfo | null)?.port;
      logger.info({ port, path: EVENTS_PATH }, 'Slack app listening (HTTP)');
      return { port };
    },

    async stopReceiving() {
      try {
        await app.stop();
      } catch (error) {
        logger.warn({ err: (error as Error).message }, 'stopping the Slack receiver failed');
      }
    },

    async flush(timeoutMs = 10_000) {
      // Listeners feed the engine, renders feed alerts, all feed the publisher: drain until all are quiet.
      const deadline = Date.now() + timeoutMs;
      const left = () => Math.max(0, deadline - Date.now());
      for (;;) {
        const quiet = await Promise.race([
          Promise.all([
            inFlight.idle(),
            renderer.idle(),
            alerts.idle(),
            functionSteps.idle(),
            notices.idle(),
            live.idle(),
          ]).then(() => true),
          new Promise<boolean>((resolve) => setTimeout(() => resolve(false), left()).unref()),
        ]);
        const drained = quiet && (await publisher.flush(left()));
        if (!drained) return false;
        if (
          inFlight.isIdle() &&
          renderer.isIdle() &&
          alerts.isIdle() &&
          functionSteps.isIdle() &&
          notices.isIdle() &&
          live.isIdle()
        )
          return true;
      }
    },

    async leave() {
      await replicas?.stop();
    },

    close() {
      // Without leave(): the others take this process's pending runs over once it is stale.
      void replicas?.stop({ leave: false });
      for (const off of detach) off();
      home.stop();
      live.close();
      renderer.stop();
      publisher.close();
    },
  };
}
