import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ACTIONS, ALERT_RETRY_WITH_PATTERN, parseStepBlockId } from '../../src/slack/views/index.js';
import { anthropicBilling } from '../support/anthropic-stub.js';
import { expectValidHome, findByType, visibleText } from '../support/block-kit.js';
import { waitFor, waitForRun } from '../support/engine.js';
import { type Harness, interceptLlms, startHarness } from '../support/slack-harness.js';
import type { StubView } from '../support/slack-requests.js';

/**
 * The App Home tab through Bolt's HTTP receiver: an app_home_opened event publishes it; the
 * paused run on it offers the step card's own menus and Retry, handled by the card's handlers.
 */

let h: Harness;
let anthropicDown = true;

beforeAll(async () => {
  h = await startHarness();
  interceptLlms((call) =>
    call.provider === 'anthropic' && anthropicDown ? anthropicBilling() : { text: `ok from ${call.model}` },
  );
});

afterAll(async () => {
  await h?.close();
});

const publishes = () => h.stub.callsOf('views.publish');
/** The latest Home published for `user`, as a view the harness can click in. */
const homeOf = (user: string): StubView | undefined => {
  const call = publishes()
    .filter((c) => c.body.user_id === user)
    .at(-1);
  return call ? { ...(call.body.view as Record<string, unknown>), id: `V0HOME${user}` } : undefined;
};
const openHome = async (user: string) => {
  const before = publishes().length;
  const ack = await h.openHome(user);
  expect(ack.status).toBe(200);
  await waitFor(() => publishes().length > before, 5000, 'views.publish');
  await h.settle();
  return homeOf(user)!;
};
const valid = (view: StubView) => {
  const { id: _id, ...sent } = view;
  expectValidHome(sent);
};

describe('App Home', () => {
  it('lists a paused run with its error, the card’s menus and Retry, recent runs, health and schedules', async () => {
    await h.command('schedule add release-notes "0 9 * * 1-5" Europe/Berlin', { user: 'U0OWNER' });
    await h.command('run release-notes dark mode', { user: 'U0ALICE' });
    const run = await waitFor(() => h.core.db.prisma.workflowRun.findFirst({}));
    await waitForRun(h.core.db, run.id, ['paused']);
    await h.settle();

    const home = await openHome('U0BOB');
    valid(home);
    const text = visibleText(home);
    expect(text).toContain('Needs attention');
    expect(text).toContain(
      `*release-notes* run #${run.number} — step 2/3 *draft* is paused · started by <@U0ALICE>`,
    );
    expect(text).toContain('Anthropic: credit balance too low — billing');
    expect(text).toContain('Recent runs');
    expect(text).toContain(`*#${run.number}* \`release-notes\` — Paused`);
    expect(text).toContain('Provider health');
    expect(text).toMatch(/OpenAI: ✓ openai — \d+ of last \d+ succeeded/);
    expect(text).toContain('Anthropic: ⚠ anthropic — 1 of last 1 failed: billing');
    expect(text).toContain('Schedules');
    expect(text).toMatch(/`#1` \*release-notes\* `0 9 \* \* 1-5` Europe\/Berlin → <#C0RUNS> · next \w{3}, /);

    // The step card's controls, with the card's block id (step and version).
    const paused = await h.core.db.prisma.runStep.findFirstOrThrow({ where: { status: 'paused' } });
    const menus = findByType(home, 'actions').find(
      (b) => parseStepBlockId(b.block_id)?.stepId === paused.id,
    )!;
    expect(parseStepBlockId(menus.block_id)).toEqual({
      stepId: paused.id,
      version: paused.version,
      part: 'menus',
    });
    expect((menus.elements as { action_id: string }[]).map((e) => e.action_id)).toEqual([
      ACTIONS.selectModel,
      ACTIONS.selectPersona,
      ACTIONS.retry,
    ]);
    expect(findByType(home, 'button').map((b) => (b.text as { text: string }).text)).toContain(
      'Retry with openai/gpt-4o-mini',
    );
  });

  it('a refused click is answered on Home and changes nothing', async () => {
    const home = homeOf('U0BOB')!;
    const before = await h.core.db.prisma.runStep.findFirstOrThrow({ where: { status: 'paused' } });
    const count = publishes().length;
    await h.clickInView(home, ACTIONS.retry, { user: 'U0BOB' });
    await h.settle();
    expect(publishes().length).toBeGreaterThan(count);
    const again = homeOf('U0BOB')!;
    valid(again);
    expect(visibleText(again)).toContain("You can't change run #");
    expect(await h.core.db.prisma.runStep.findUniqueOrThrow({ where: { id: before.id } })).toMatchObject({
      status: 'paused',
      version: before.version,
    });
  });

  it('switching the model and retrying from Home rescues the run, and Home shows it', async () => {
    anthropicDown = false;
    let home = await openHome('U0ALICE');
    await h.clickInView(home, ACTIONS.selectModel, { user: 'U0ALICE', option: 'openai/gpt-4o' });
    await h.settle();
    home = homeOf('U0ALICE')!;
    valid(home);
    const paused = await h.core.db.prisma.runStep.findFirstOrThrow({ where: { status: 'paused' } });
    expect(paused).toMatchObject({ overrideProvider: 'openai', overrideModel: 'gpt-4o' });
    // Home was redrawn with the step's new version: the old one would be stale.
    await h.clickInView(home, ACTIONS.retry, { user: 'U0ALICE' });
    const run = await h.core.db.prisma.workflowRun.findFirstOrThrow({});
    await waitForRun(h.core.db, run.id, ['completed']);
    // Homes opened lately are republished once the run changes.
    const done = await waitFor(
      () => {
        const latest = homeOf('U0ALICE');
        const text = latest ? visibleText(latest) : '';
        return text.includes('No paused runs') && text.includes('— Completed') ? latest : undefined;
      },
      8000,
      'Home without the paused run',
    );
    valid(done);
    expect(visibleText(done)).toContain(`*#${run.number}* \`release-notes\` — Completed`);
    expect(
      findByType(done, 'button').filter((b) => ALERT_RETRY_WITH_PATTERN.test(String(b.action_id))),
    ).toEqual([]);
    await h.settle();
    h.expectAllPayloadsValid();
  });
});
