import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Engine } from '../../src/engine/engine.js';
import { silentLogger } from '../../src/logging.js';
import { Publisher } from '../../src/slack/publisher.js';
import type { RateLimits } from '../../src/slack/rate-limit.js';
import { CLAIM_TTL_MS, Renderer } from '../../src/slack/renderer.js';
import { RunViews } from '../../src/slack/run-views.js';
import { isSlackTs } from '../../src/slack/view-model.js';
import { expectValidMessage, visibleText } from '../support/block-kit.js';
import { type TestDatabase, useTestDatabase } from '../support/db.js';
import {
  createTestEngine,
  fail,
  putWorkflow,
  ScriptedProvider,
  step,
  testCatalogue,
  waitFor,
  waitForRun,
} from '../support/engine.js';
import { FakeSlack } from '../support/slack-fakes.js';

/**
 * The renderer against a real database and engine, with a fake Web API client: one parent
 * and one card per step, even when two processes render the same run.
 */

let db: TestDatabase;
useTestDatabase((created) => {
  db = created;
});
let engine: Engine;
const FAST = {
  'chat.postMessage': { perSecond: 1000, burst: 100, perChannel: true },
  'chat.update': { perSecond: 1000, burst: 100 },
};

function replica(
  owner: string,
  configured: ('openai' | 'anthropic')[] = ['openai'],
  limits: RateLimits = FAST,
) {
  const slack = new FakeSlack();
  const publisher = new Publisher({ client: slack, logger: silentLogger, limits });
  const views = new RunViews(engine.stores, {
    catalogue: testCatalogue(configured),
    config: {
      defaults: { provider: undefined, model: undefined },
      retry: { maxAttempts: 1, baseMs: 1, maxMs: 1 },
      stepTimeoutMs: 5000,
    },
  });
  const renderer = new Renderer({
    store: engine.stores.runs,
    runs: engine.runs,
    views,
    publisher,
    logger: silentLogger,
    owner,
  });
  const detach = renderer.attach(engine.events);
  return {
    slack,
    publisher,
    renderer,
    views,
    async settle() {
      await renderer.idle();
      await publisher.flush(5000);
    },
    close() {
      detach();
      publisher.close();
    },
  };
}

beforeEach(async () => {
  await putWorkflow(db, {
    name: 'two',
    provider: 'openai',
    model: 'gpt-4o-mini',
    steps: [step('first', '{{input}}'), step('second', 'more: {{previous.output}}')],
  });
  engine = createTestEngine(db, [new ScriptedProvider('openai', (r) => `answer to ${r.prompt}`)]);
  await engine.start();
});
afterEach(async () => {
  await engine.stop(0);
});

const start = (channelId?: string) =>
  engine.runs.startRun({
    workflow: 'two',
    input: 'hello',
    startedBy: 'U0ALICE',
    trigger: 'slash',
    channelId,
  });

describe('Renderer', () => {
  it('posts the parent, then one card per step in its thread, and saves their ts', async () => {
    const r = replica('A');
    const run = await start('C1');
    await waitForRun(db, run.id, ['completed']);
    await r.settle();
    const posts = r.slack.callsOf('chat.postMessage');
    expect(posts).toHaveLength(3);
    expect(posts[0]!.args.thread_ts).toBeUndefined();
    const parentTs = r.publisher.tsOf(`run:${run.id}`);
    expect(posts.slice(1).map((p) => p.args.thread_ts)).toEqual([parentTs, parentTs]);
    const saved = await db.prisma.workflowRun.findUniqueOrThrow({
      where: { id: run.id },
      include: { steps: true },
    });
    expect(saved.threadTs).toBe(parentTs);
    expect(saved.steps.every((s) => isSlackTs(s.slackTs))).toBe(true);
    for (const call of r.slack.calls) expectValidMessage(call.args);
    // The last state the parent got is the final one.
    const parentFinal = [...r.slack.calls].reverse().find((c) => c.args.ts === parentTs || c === posts[0])!;
    expect(visibleText(parentFinal.args)).toContain('Completed');
    r.close();
  });

  it('says on the card why the step moved on to a fallback', async () => {
    await engine.stop(0);
    await putWorkflow(db, {
      name: 'fallback',
      provider: 'openai',
      model: 'gpt-4o-mini',
      steps: [
        step('only', '{{input}}', { fallbacks: [{ provider: 'anthropic', model: 'claude-haiku-4-5' }] }),
      ],
    });
    engine = createTestEngine(db, [
      new ScriptedProvider('openai', () => {
        throw fail({ kind: 'quota', provider: 'openai', model: 'gpt-4o-mini' });
      }),
      new ScriptedProvider('anthropic', () => 'from anthropic'),
    ]);
    await engine.start();
    const r = replica('A', ['openai', 'anthropic']);
    const run = await engine.runs.startRun({
      workflow: 'fallback',
      input: 'x',
      startedBy: 'U0ALICE',
      trigger: 'slash',
      channelId: 'C1',
    });
    await waitForRun(db, run.id, ['completed']);
    await r.settle();
    const card =
      r.slack
        .callsOf('chat.update')
        .filter((c) => visibleText(c.args).includes('Step 1/1'))
        .at(-1) ??
      r.slack
        .callsOf('chat.postMessage')
        .filter((c) => visibleText(c.args).includes('Step 1/1'))
        .at(-1)!;
    expect(visibleText(card.args)).toContain(
      'openai/gpt-4o-mini: billing (quota) → answered by anthropic/claude-haiku-4-5',
    );
    r.close();
  });

  it('does nothing for a run started outside Slack', async () => {
    const r = replica('A');
    const run = await start(undefined);
    await waitForRun(db, run.id, ['completed']);
    await r.settle();
    expect(r.slack.calls).toEqual([]);
    r.close();
  });

  it('posts each message once when two processes render the same run', async () => {
    const a = replica('A');
    const b = replica('B');
    const run = await start('C1');
    await waitForRun(db, run.id, ['completed']);
    // Both keep rendering until the thread exists; then both only edit.
    await waitFor(async () => {
      await Promise.all([a.settle(), b.settle()]);
      const row = await db.prisma.workflowRun.findUniqueOrThrow({
        where: { id: run.id },
        include: { steps: true },
      });
      return isSlackTs(row.threadTs) && row.steps.every((s) => isSlackTs(s.slackTs));
    });
    a.renderer.schedule(run.id);
    b.renderer.schedule(run.id);
    await Promise.all([a.settle(), b.settle()]);
    const posts = [...a.slack.callsOf('chat.postMessage'), ...b.slack.callsOf('chat.postMessage')];
    expect(posts).toHaveLength(3);
    a.close();
    b.close();
  });

  it('draws an unchanged run once for a storm of refused clicks while its reset waits for Slack', async () => {
    // chat.update: one at once, the next in 1000 s — the storm outlasts the rate limit.
    const run = await start('C1');
    await waitForRun(db, run.id, ['completed']);
    const r = replica('A', ['openai'], { ...FAST, 'chat.update': { perSecond: 0.001, burst: 1 } });
    r.renderer.schedule(run.id);
    await r.settle();
    expect(r.slack.callsOf('chat.postMessage')).toHaveLength(3);
    const updatesBefore = r.slack.callsOf('chat.update').length;
    const load = vi.spyOn(r.views, 'load');
    // A refused click asks for a forced redraw (the clicker's client must be reset).
    for (let i = 0; i < 20; i++) {
      r.renderer.schedule(run.id, { force: true });
      await r.renderer.idle();
    }
    // The first redraw takes the one update there is; the second waits for the next one, and
    // every later click finds it still waiting, so nothing is drawn again.
    expect(load).toHaveBeenCalledTimes(2);
    expect(r.slack.callsOf('chat.update').length - updatesBefore).toBeLessThanOrEqual(1);
    // A real change is always drawn.
    r.renderer.schedule(run.id);
    await r.renderer.idle();
    expect(load).toHaveBeenCalledTimes(3);
    r.close();
    expect(updatesBefore).toBe(0);
  });

  it('leaves a live claim of another process alone and takes over a stale one', async () => {
    await engine.stop(0);
    const r = replica('A');
    const run = await start('C1');
    const fresh = `claim:B:${Date.now()}`;
    await db.prisma.workflowRun.update({ where: { id: run.id }, data: { threadTs: fresh } });
    r.renderer.schedule(run.id);
    await r.settle();
    expect(r.slack.calls).toEqual([]);

    await db.prisma.workflowRun.update({
      where: { id: run.id },
      data: { threadTs: `claim:B:${Date.now() - CLAIM_TTL_MS - 1000}` },
    });
    r.renderer.schedule(run.id);
    await r.settle();
    expect(r.slack.callsOf('chat.postMessage')).toHaveLength(3);
    const row = await db.prisma.workflowRun.findUniqueOrThrow({ where: { id: run.id } });
    expect(isSlackTs(row.threadTs)).toBe(true);
    r.close();
  });
});
