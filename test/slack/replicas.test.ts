import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import nock from 'nock';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Core, createCore } from '../../src/bootstrap.js';
import { type Config, loadConfig } from '../../src/config.js';
import { SlackCoordination } from '../../src/db/slack-coordination.js';
import { InProcessQueue } from '../../src/engine/queue.js';
import { silentLogger } from '../../src/logging.js';
import { Publisher, type SlackCaller } from '../../src/slack/publisher.js';
import { STALE_AFTER_MS } from '../../src/slack/replicas.js';
import { createSlackApp, type SlackApp } from '../../src/slack/slack-app.js';
import type { MessagePayload } from '../../src/slack/views/model.js';
import { expectValidMessage } from '../support/block-kit.js';
import { TestClock } from '../support/clock.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { waitForRun } from '../support/engine.js';
import { SlidingWindow } from '../support/slack-api-limits.js';
import { startSlackApiStub } from '../support/slack-api-stub.js';
import { FAST_LIMITS, interceptLlms, ONE_STEP_YML, PERSONAS_YML } from '../support/slack-harness.js';
import { SIGNING_SECRET } from '../support/slack-requests.js';
import { waitFor } from '../support/wait.js';

/**
 * Several bot processes on one database (docs/operations.md, "Several processes"): each
 * "process" here is its own publisher (and, below, its own core and Slack app) in this test
 * process, sharing only the database — as replicas share PostgreSQL. On the embedded
 * database the same SQL runs on PGlite.
 */

const payload = (n: number): MessagePayload => ({
  text: `state ${n}`,
  blocks: [{ type: 'section', block_id: 'body', text: { type: 'mrkdwn', text: `state ${n}` } }],
});

/**
 * A Slack workspace that counts chat.update per workspace, whoever calls: at most `limit`
 * calls in any second, the rest answered 429 as Slack does.
 */
function workspace(limit: number) {
  const window = new SlidingWindow(limit, 1000);
  const made: Record<string, number> = {};
  let rateLimited = 0;
  const caller = (who: string): SlackCaller => ({
    async apiCall(_method, args = {}) {
      expectValidMessage(args);
      const waitMs = window.take('workspace', Date.now());
      if (waitMs !== undefined) {
        rateLimited++;
        throw Object.assign(new Error('rate limited'), {
          code: 'slack_webapi_rate_limited_error',
          retryAfter: Math.ceil(waitMs / 1000),
        });
      }
      made[who] = (made[who] ?? 0) + 1;
      return { ok: true, channel: args.channel, ts: args.ts ?? '1.0001' };
    },
  });
  return { caller, made, rateLimited: () => rateLimited };
}

describe('two processes on one database', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => {
    await db?.close();
  });

  it("never exceed one method's budget together, against a stand-in that counts per workspace", async () => {
    // Each process may send 2 + 10 a second; the workspace takes 16 in any second (a margin
    // for the moment between a token and its call). Two processes with their own buckets
    // would send 20 a second after their bursts.
    const slack = workspace(16);
    const limits = { 'chat.update': { perSecond: 10, burst: 2 } };
    const publishers = ['A', 'B'].map(
      (who) =>
        new Publisher({
          client: slack.caller(who),
          logger: silentLogger,
          limits,
          // Each process has its own connection to the shared rows.
          shared: new SlackCoordination(db.prisma),
        }),
    );
    for (let i = 0; i < 20; i++)
      for (const [p, publisher] of publishers.entries())
        publisher.put({ key: `m${p}:${i}`, channel: 'C1', ts: `1.${p}${i}`, payload: payload(i) });
    const drained = await Promise.all(publishers.map((p) => p.flush(120_000)));
    for (const p of publishers) p.close();

    expect(drained).toEqual([true, true]);
    expect(slack.rateLimited()).toBe(0);
    expect(slack.made).toEqual({ A: 20, B: 20 });
    expect(publishers.map((p) => p.stats().rateLimited)).toEqual([0, 0]);
  });

  describe('a process killed with messages not sent', () => {
    const dir = mkdtempSync(join(tmpdir(), 'switchboard-replicas-'));
    let config: Config;
    const cores: Core[] = [];
    const apps: SlackApp[] = [];

    beforeAll(() => {
      writeFileSync(join(dir, 'personas.yml'), PERSONAS_YML);
      writeFileSync(join(dir, 'echo.yml'), ONE_STEP_YML);
      nock.disableNetConnect();
      nock.enableNetConnect('127.0.0.1');
      interceptLlms(() => ({ text: 'the answer' }));
    });
    afterAll(async () => {
      for (const core of cores) await core.engine.stop(0).catch(() => {});
      for (const app of apps) app.close();
      nock.cleanAll();
      nock.enableNetConnect();
      rmSync(dir, { recursive: true, force: true });
    });

    it('has them published by the survivor', async () => {
      const stub = await startSlackApiStub();
      try {
        config = loadConfig({
          NODE_ENV: 'test',
          LOG_LEVEL: 'silent',
          WORKFLOWS_DIR: dir,
          OPENAI_API_KEY: 'sk-test-openai-000000000000',
          SLACK_BOT_TOKEN: 'xoxb-test-0000-token',
          SLACK_SIGNING_SECRET: SIGNING_SECRET,
          SLACK_API_URL: stub.apiUrl,
          MAX_RUNS_IN_FLIGHT_PER_USER: '0',
        });
        // Real time, but the test can move the calendar on: "15 s later" without waiting for it.
        const clock = new TestClock({ realTime: true, start: Date.now() });
        // Process A reaches Slack with a call that never comes back (it froze, then was killed).
        const frozen: string[] = [];
        const hang: SlackCaller = {
          apiCall: (method) => {
            frozen.push(method);
            return new Promise(() => {});
          },
        };
        const start = async (client: SlackCaller | undefined) => {
          const core = await createCore(config, { db, logger: silentLogger, queue: new InProcessQueue() });
          // PostgreSQL gives every process these rows; on PGlite the test shares them the same way.
          core.stores.slack ??= new SlackCoordination(db.prisma);
          const app = createSlackApp({ core, config, client, rateLimits: FAST_LIMITS, clock });
          await app.start({ port: 0, host: '127.0.0.1' });
          await core.engine.start();
          cores.push(core);
          apps.push(app);
          return { core, app };
        };
        const a = await start(hang);
        // Process B reaches the stand-in.
        await start(undefined);

        const run = await a.core.engine.runs.startRun({
          workflow: 'echo',
          input: 'hello',
          startedBy: 'U0PERSON',
          trigger: 'api',
          channelId: 'C0RUNS',
        });
        await waitForRun(db, run.id, ['completed'], 30_000);
        // A has recorded the run as pending: its first post never came back.
        await waitFor(
          async () =>
            (
              await db.query<{ replica: string }>(
                `SELECT replica FROM "SlackPendingRun" WHERE "runId" = $1`,
                [run.id],
              )
            )[0]?.replica === a.core.engine.owner,
          30_000,
          'the run recorded as pending by A',
        );
        // The journal records a run when its messages are queued, which may be before the post is
        // tried: wait for A's post to be on the wire (and never come back).
        await waitFor(() => frozen.includes('chat.postMessage'), 30_000, "A's first post attempted");
        expect(stub.callsOf('chat.postMessage')).toHaveLength(0);

        // A is killed: no flush, no goodbye. 15 s later, B notices at its next heartbeat.
        await a.core.engine.stop(0);
        a.app.close();
        clock.advance(STALE_AFTER_MS + 1_000);

        const parent = await waitFor(
          () => stub.messagesIn('C0RUNS').find((m) => m.text.includes('Completed') && !m.threadTs),
          30_000,
          "the run's parent posted by B",
        );
        const cards = await waitFor(
          () => {
            const replies = stub.thread('C0RUNS', parent.ts);
            return replies.some((m) => m.text.includes('Completed')) && replies;
          },
          30_000,
          'the step card posted by B',
        );
        expect(cards).toHaveLength(1);
        // B saved the ts of what it posted, and nothing is pending any more.
        await waitFor(
          async () =>
            (await db.query(`SELECT 1 FROM "SlackPendingRun" WHERE "runId" = $1`, [run.id])).length === 0,
          30_000,
          'the pending run cleared',
        );
        const [row] = await db.query<{ threadTs: string }>(
          `SELECT "threadTs" FROM "WorkflowRun" WHERE id = $1`,
          [run.id],
        );
        expect(row?.threadTs).toBe(parent.ts);
        for (const call of [...stub.callsOf('chat.postMessage'), ...stub.callsOf('chat.update')])
          expectValidMessage(call.body);
      } finally {
        await stub.close();
      }
    });
  });
});
