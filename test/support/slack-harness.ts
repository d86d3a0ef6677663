import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import nock from 'nock';
import { type Core, createCore } from '../../src/bootstrap.js';
import { type Config, loadConfig } from '../../src/config.js';
import type { Clock } from '../../src/core/clock.js';
import { InProcessQueue } from '../../src/engine/queue.js';
import { silentLogger } from '../../src/logging.js';
import { createScheduleService } from '../../src/schedules/start.js';
import type { RateLimits } from '../../src/slack/rate-limit.js';
import { createSlackApp, EVENTS_PATH, type SlackApp } from '../../src/slack/slack-app.js';
import { isSlackTs } from '../../src/slack/view-model.js';
import {
  anthropicCall,
  anthropicMessage,
  anthropicMessageFrames,
  type MessagesRequest,
} from './anthropic-stub.js';
import { expectValidHome, expectValidMessage, expectValidModal } from './block-kit.js';
import { createTestDatabase, truncateAll } from './db.js';
import { waitFor } from './engine.js';
import {
  type InProcessAnswer,
  type LlmCall,
  responseFor,
  type StreamFrames,
  wantsStream,
} from './llm-answers.js';
import { type ChatRequest, chatCompletion, chatCompletionFrames, openaiCall } from './openai-stub.js';
import { type SlackApiStub, type StubMessage, startSlackApiStub } from './slack-api-stub.js';
import {
  clickPayload,
  functionExecutedEvent,
  globalShortcutPayload,
  homeOpenedEvent,
  type InputValue,
  membershipEvent,
  messageShortcutPayload,
  SIGNING_SECRET,
  type StubView,
  slashCommandPayload,
  viewClickPayload,
  viewSubmissionPayload,
} from './slack-requests.js';
import {
  httpTransport,
  type SlackMode,
  type SlackResponse,
  type SlackTransport,
  socketTransport,
} from './slack-transport.js';

/**
 * The whole bot in one test process: a real database, the real core (createCore with the
 * real provider SDKs, their HTTP intercepted by nock), the real Bolt app on its HTTP
 * receiver or in Socket Mode, and the Slack Web API stub behind SLACK_API_URL (which also
 * plays Slack's side of the socket).
 */

export const APP_TOKEN = 'xapp-1-A0TEST-1-test-app-token';
export const OPENAI_ORIGIN = 'https://api.openai.com';
export const ANTHROPIC_ORIGIN = 'https://api.anthropic.com';

/** Slack's documented limits are far too slow for tests; the publisher's own tests use real ones. */
export const FAST_LIMITS: RateLimits = {
  'chat.postMessage': { perSecond: 500, burst: 50, perChannel: true },
  'chat.update': { perSecond: 500, burst: 50 },
  'chat.postEphemeral': { perSecond: 500, burst: 50 },
  'chat.getPermalink': { perSecond: 500, burst: 50 },
  'conversations.info': { perSecond: 500, burst: 50 },
  'conversations.replies': { perSecond: 500, burst: 50 },
  'users.info': { perSecond: 500, burst: 50 },
  'functions.completeSuccess': { perSecond: 500, burst: 50 },
  'functions.completeError': { perSecond: 500, burst: 50 },
  'chat.startStream': { perSecond: 500, burst: 50 },
  'chat.appendStream': { perSecond: 500, burst: 50 },
  'chat.stopStream': { perSecond: 500, burst: 50 },
  'chat.delete': { perSecond: 500, burst: 50 },
};

export const PERSONAS_YML = `personas:
  - name: tech-writer
    description: Precise technical writing
    system: You are a precise technical writer.
  - name: marketing
    description: Customer-facing voice
    system: You write warm customer-facing copy. [persona-marketing]
`;

export const RELEASE_NOTES_YML = `name: release-notes
description: Draft release notes from a changelog
persona: tech-writer
provider: anthropic
model: claude-haiku-4-5
notify: C0ALERTS
owners: [U0OWNER]
steps:
  - name: summarize
    prompt: "Summarize these changes:\\n{{input}}"
    provider: openai
    model: gpt-4o-mini
  - name: draft
    prompt: "Write release notes from:\\n{{steps.summarize.output}}"
  - name: polish
    prompt: "Polish:\\n{{previous.output}}"
    provider: openai
    model: gpt-4o-mini
`;

export const ONE_STEP_YML = `name: echo
description: One OpenAI step
provider: openai
model: gpt-4o-mini
steps:
  - name: answer
    prompt: "{{input}}"
`;

// ── providers, through their real SDKs ──────────────────────────────────────

/**
 * Intercepts api.openai.com and api.anthropic.com (persistently) and answers with `answer`,
 * in each provider's wire format (the same bodies as the server stubs'). Returns the calls.
 */
export function interceptLlms(
  answer: (call: LlmCall) => InProcessAnswer | Promise<InProcessAnswer>,
): LlmCall[] {
  const calls: LlmCall[] = [];
  const reply = async (call: LlmCall, ok: (text: string) => unknown, frames?: StreamFrames) => {
    calls.push(call);
    const { status, body, headers } = await responseFor(await answer(call), ok, frames);
    return [status, body, headers];
  };
  nock(OPENAI_ORIGIN)
    .post('/v1/chat/completions')
    .reply(async (req: Request) => {
      const body = (await req.json()) as ChatRequest;
      return reply(
        openaiCall(body),
        (text) => chatCompletion(body.model, text, calls.length),
        wantsStream(body) ? chatCompletionFrames(body.model, calls.length + 1) : undefined,
      );
    })
    .persist();
  nock(ANTHROPIC_ORIGIN)
    .post('/v1/messages')
    .reply(async (req: Request) => {
      const body = (await req.json()) as MessagesRequest;
      return reply(
        anthropicCall(body),
        (text) => anthropicMessage(body.model, text, calls.length),
        wantsStream(body) ? anthropicMessageFrames(body.model, calls.length + 1) : undefined,
      );
    })
    .persist();
  return calls;
}

// ── the harness ─────────────────────────────────────────────────────────────

export interface HarnessOptions {
  /**
   * How Slack reaches the bot: signed requests to its HTTP receiver (default), or envelopes
   * over Socket Mode (SLACK_APP_TOKEN set, no signing secret, no HTTP receiver).
   */
  mode?: SlackMode;
  workflows?: Record<string, string>;
  env?: Record<string, string>;
  rateLimits?: RateLimits;
  /** The clock of the schedule commands (next fire times); the suite's calendar when unset. */
  scheduleClock?: { now(): Date };
  /** The core's clock (engine, budgets, approval timeouts): e.g. a real-time TestClock a test moves on. */
  clock?: Clock;
}

export interface Harness {
  stub: SlackApiStub;
  core: Core;
  slack: SlackApp;
  config: Config;
  mode: SlackMode;
  /** POST /slack/events on the Bolt HTTP receiver (HTTP mode only). */
  eventsUrl: string;
  /**
   * `/workflow <text>`, signed (or in an envelope); answers land in stub.responsesTo(responseId).
   * Every request below returns once the bot acked it.
   */
  command(
    text: string,
    options?: { user?: string; channel?: string; signature?: string },
  ): Promise<CommandResult>;
  /** A click on `message`'s element `actionId` (or a choice of `option` in it), signed. */
  click(
    message: StubMessage,
    actionId: string | RegExp,
    options: {
      user: string;
      option?: string;
      value?: string;
      blockId?: string;
      /** Menus of the message the person changed without the message being redrawn since (action id → value). */
      selected?: Record<string, string>;
    },
  ): Promise<CommandResult>;
  /** Submit on a modal the bot opened; `json` is the ack body (response_action …), if any. */
  submitView(
    view: StubView,
    options: { user: string; inputs?: Record<string, InputValue>; rootViewId?: string },
  ): Promise<SlackResponse & { json: Record<string, unknown> | undefined }>;
  /** A click on an element of a modal or of the Home tab. */
  clickInView(
    view: StubView,
    actionId: string | RegExp,
    options: { user: string; option?: string; value?: string; blockId?: string },
  ): Promise<SlackResponse>;
  /** `user` opens the app's Home tab (an app_home_opened event). */
  openHome(user: string): Promise<SlackResponse>;
  /** `user` joins or leaves `channel` in Slack, and Slack tells the bot (member_joined/left_channel). */
  membership(kind: 'joined' | 'left', user: string, channel: string): Promise<SlackResponse>;
  /**
   * `user` picks the message shortcut `callbackId` on `message` (a message in the stub:
   * its thread's parent when it has replies, counted from the stub).
   */
  messageShortcut(
    callbackId: string,
    message: StubMessage,
    options: { user: string; channelName?: string },
  ): Promise<CommandResult>;
  /** `user` picks the global shortcut `callbackId`. */
  globalShortcut(callbackId: string, options: { user: string }): Promise<SlackResponse>;
  /** Any Events API callback (`type: event_callback`), signed or in an envelope. */
  event(body: Record<string, unknown>): Promise<SlackResponse>;
  /**
   * Workflow Builder runs the app's function `callbackId` with `inputs`: the stand-in
   * registers the execution (its own xwfp- token) and the event is sent. Returns its id.
   */
  functionExecuted(
    callbackId: string,
    inputs: Record<string, unknown>,
  ): Promise<SlackResponse & { executionId: string; token: string }>;
  /**
   * What the user who typed the command or clicked sees as the answer: the message in the ack
   * itself when there is one, else the first ephemeral message sent to its response_url.
   */
  answer(result: CommandResult): Promise<Record<string, unknown>>;
  /** Waits until every render, alert and Slack call has finished. */
  settle(): Promise<void>;
  /**
   * Between tests of a suite that shares one harness: waits until no run is queued or running
   * and no step is in a provider's hands (a paused run may still finish its step), lets Slack
   * settle, checks every payload sent, then empties the database and reloads the workflow files.
   */
  reset(): Promise<void>;
  /** The run's parent message and its cards (thread replies that are step cards), as Slack shows them. */
  thread(runId: string): Promise<{ parent: StubMessage; cards: StubMessage[]; notes: StubMessage[] }>;
  /** Every message and modal the bot sent, checked against Block Kit's schema and Slack's rules. */
  expectAllPayloadsValid(): void;
  close(): Promise<void>;
}

export interface CommandResult extends SlackResponse {
  responseId: string;
}

let counter = 0;

export async function startHarness(options: HarnessOptions = {}): Promise<Harness> {
  const mode = options.mode ?? 'http';
  nock.disableNetConnect();
  nock.enableNetConnect('127.0.0.1');
  const stub = await startSlackApiStub();
  /** Messages the bot gave in a slash command's ack. */
  const ackBodies: Record<string, unknown>[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'switchboard-slack-'));
  const files = options.workflows ?? { 'personas.yml': PERSONAS_YML, 'release-notes.yml': RELEASE_NOTES_YML };
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  const config = loadConfig({
    NODE_ENV: 'test',
    LOG_LEVEL: 'silent',
    WORKFLOWS_DIR: dir,
    OPENAI_API_KEY: 'sk-test-openai-000000000000',
    ANTHROPIC_API_KEY: 'sk-ant-test-000000000000',
    RETRY_BASE_MS: '1',
    RETRY_MAX_MS: '20',
    LEASE_SECONDS: '5',
    SLACK_BOT_TOKEN: 'xoxb-test-0000-token',
    ...(mode === 'socket' ? { SLACK_APP_TOKEN: APP_TOKEN } : { SLACK_SIGNING_SECRET: SIGNING_SECRET }),
    SLACK_API_URL: stub.apiUrl,
    SLACK_ALERT_CHANNEL: 'C0TEAM',
    SLACK_ADMIN_USER_IDS: 'U0ADMIN',
    // One test user starts many runs and clicks often: the abuse limits are off here, and
    // test/security/ turns each on where it is the subject.
    MAX_RUNS_IN_FLIGHT_PER_USER: '0',
    FORCED_REDRAWS_PER_USER_PER_MINUTE: '600',
    ...options.env,
  });
  const db = await createTestDatabase();
  const core = await createCore(config, {
    db,
    logger: silentLogger,
    queue: new InProcessQueue(),
    clock: options.clock,
  });
  const slack = createSlackApp({
    core,
    config,
    rateLimits: options.rateLimits ?? FAST_LIMITS,
    alertParentWaitMs: 5000,
    schedules: options.scheduleClock ? createScheduleService(core, options.scheduleClock) : undefined,
  });
  const { port } = await slack.start({ port: 0, host: '127.0.0.1' });
  /**
   * Whoever a test makes act is a person of the workspace (in every channel the test did
   * not declare). Someone new joins those channels now, so what the bot remembers about
   * them is out of date: it forgets it, as Slack's member_joined_channel would make it.
   */
  const meet = (...users: string[]) => {
    if (stub.meet(...users)) slack.directory.forgetAll();
  };
  await core.engine.start();
  const eventsUrl = port === undefined ? undefined : `http://127.0.0.1:${port}${EVENTS_PATH}`;
  const slackSends: SlackTransport =
    mode === 'socket' ? socketTransport(stub.socket) : httpTransport(eventsUrl!, SIGNING_SECRET);

  const harness: Harness = {
    stub,
    core,
    slack,
    config,
    mode,
    get eventsUrl() {
      if (!eventsUrl) throw new Error('no HTTP receiver in Socket Mode: send envelopes (h.stub.socket)');
      return eventsUrl;
    },
    async answer(result) {
      if (result.text) return JSON.parse(result.text) as Record<string, unknown>;
      const [reply] = await waitFor(
        () =>
          stub.responsesTo(result.responseId).length > 0 ? stub.responsesTo(result.responseId) : undefined,
        5000,
        'an answer',
      );
      return reply!.body;
    },
    async command(text, o = {}) {
      const responseId = `cmd-${++counter}`;
      meet(o.user ?? 'U0ALICE');
      const fields = slashCommandPayload({
        text,
        user: o.user ?? 'U0ALICE',
        channel: o.channel ?? 'C0RUNS',
        responseUrl: stub.responseUrl(responseId),
      });
      const result = await slackSends.command(fields, { signature: o.signature });
      if (result.text) ackBodies.push(JSON.parse(result.text) as Record<string, unknown>);
      return { ...result, responseId };
    },
    async click(message, actionId, o) {
      const responseId = `click-${++counter}`;
      meet(o.user);
      const payload = clickPayload(message, actionId, { ...o, responseUrl: stub.responseUrl(responseId) });
      const result = await slackSends.interaction(payload);
      return { ...result, responseId };
    },
    async submitView(view, o) {
      meet(o.user);
      const payload = viewSubmissionPayload(view, o);
      const result = await slackSends.interaction(payload);
      let json: Record<string, unknown> | undefined;
      try {
        json = result.text ? (JSON.parse(result.text) as Record<string, unknown>) : undefined;
      } catch {
        json = undefined;
      }
      return { ...result, json };
    },
    async clickInView(view, actionId, o) {
      meet(o.user);
      return slackSends.interaction(viewClickPayload(view, actionId, o));
    },
    async openHome(user) {
      meet(user);
      return slackSends.event(homeOpenedEvent(user));
    },
    async messageShortcut(callbackId, message, o) {
      const responseId = `shortcut-${++counter}`;
      const replies = message.threadTs ? 0 : stub.thread(message.channel, message.ts).length;
      const payload = messageShortcutPayload({
        callbackId,
        user: o.user,
        channel: message.channel,
        channelName: o.channelName,
        message: {
          ts: message.ts,
          text: message.text,
          user: message.user,
          threadTs: message.threadTs,
          replyCount: replies,
        },
        responseUrl: stub.responseUrl(responseId),
      });
      return { ...(await slackSends.interaction(payload)), responseId };
    },
    async globalShortcut(callbackId, o) {
      return slackSends.interaction(globalShortcutPayload({ callbackId, user: o.user }));
    },
    async event(body) {
      return slackSends.event(body);
    },
    async functionExecuted(callbackId, inputs) {
      const n = ++counter;
      const executionId = `Fx0TEST${String(n).padStart(4, '0')}`;
      const token = `xwfp-test-${n}-${Math.random().toString(36).slice(2, 10)}`;
      stub.functionExecutions.set(executionId, { token, state: 'running', requiredOutputs: ['output'] });
      const ack = await slackSends.event(functionExecutedEvent({ callbackId, executionId, token, inputs }));
      return { ...ack, executionId, token };
    },
    async membership(kind, user, channel) {
      if (kind === 'joined') stub.join(channel, user);
      else stub.leave(channel, user);
      return slackSends.event(membershipEvent(kind, user, channel));
    },
    async settle() {
      await slack.flush(10_000);
    },
    async reset() {
      const p = core.db.prisma;
      await waitFor(
        async () =>
          (await p.workflowRun.count({ where: { status: { in: ['queued', 'running'] } } })) +
            (await p.runStep.count({ where: { status: 'running' } })) ===
          0,
        5000,
        'runs and steps to settle',
      );
      await this.settle();
      this.expectAllPayloadsValid();
      await truncateAll(core.db);
      await core.syncWorkflowFiles();
      stub.reset();
      slack.directory.forgetAll();
      ackBodies.length = 0;
    },
    async thread(runId) {
      const run = await core.db.prisma.workflowRun.findUniqueOrThrow({
        where: { id: runId },
        include: { steps: { orderBy: { position: 'asc' } } },
      });
      if (!run.channelId || !isSlackTs(run.threadTs)) throw new Error(`run ${runId} has no thread yet`);
      const parent = structuredClone(stub.messages.get(`${run.channelId}:${run.threadTs}`));
      if (!parent) throw new Error('parent message not in the stub');
      const replies = stub.thread(run.channelId, run.threadTs);
      const cardTs = new Set(run.steps.map((s) => s.slackTs));
      return {
        parent,
        cards: run.steps.map((s) => replies.find((m) => m.ts === s.slackTs)!).filter(Boolean),
        notes: replies.filter((m) => !cardTs.has(m.ts)),
      };
    },
    expectAllPayloadsValid() {
      for (const call of stub.calls) {
        if (['chat.postMessage', 'chat.update', 'chat.postEphemeral'].includes(call.method)) {
          expectValidMessage(call.body as { text?: unknown; blocks?: unknown });
        }
        if (['views.open', 'views.push', 'views.update'].includes(call.method))
          expectValidModal(call.body.view);
        if (call.method === 'views.publish') expectValidHome(call.body.view);
      }
      for (const response of [...stub.responses.map((r) => r.body), ...ackBodies])
        expectValidMessage(response as { text?: unknown; blocks?: unknown });
    },
    async close() {
      await slack.stopReceiving();
      await core.engine.stop(0);
      await slack.flush(2000);
      slack.close();
      await core.db.close();
      await stub.close();
      nock.cleanAll();
      nock.enableNetConnect();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return harness;
}
