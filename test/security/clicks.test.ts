import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { REFUSED } from '../../src/slack/card-actions.js';
import { ACTIONS } from '../../src/slack/views/index.js';
import { visibleText } from '../support/block-kit.js';
import { waitFor } from '../support/engine.js';
import type { Harness } from '../support/slack-harness.js';
import {
  ADMIN,
  ALICE,
  BOB,
  declareWorkspace,
  defaultAnswer,
  EVE,
  type Llm,
  OPEN,
  runIn,
  SECRET,
  SECRET_WORDS,
  securityHarness,
} from './support.js';

/**
 * Promise: a click is checked on the server. The ids in a button or a block are never
 * proof: "View full output" opens only for someone who may see the step's run, and a
 * refused or stale click costs Slack at most one edit — of the card clicked, for someone who
 * may act on it, a few times a minute per person — never the whole run's worth.
 */

let h: Harness;
let llm: Llm;

beforeAll(async () => {
  ({ h, llm } = await securityHarness({ env: { FORCED_REDRAWS_PER_USER_PER_MINUTE: '2' } }));
});

beforeEach(async () => {
  await h.reset();
  llm.answer = defaultAnswer;
  declareWorkspace(h);
});

afterAll(async () => {
  await h?.close();
});

/** A long answer, so the card offers "View full output"; it quotes the prompt. */
const long = (prompt: string) => ({ text: `${prompt}\n${'More detail on the matter. '.repeat(300)}` });

describe('"View full output"', () => {
  it('opens another channel’s step for its members only, whatever the button says', async () => {
    llm.answer = (call) => long(call.prompt);
    const visible = await runIn(h, OPEN, 'run echo public notes');
    const secret = await runIn(h, SECRET, `run echo ${SECRET_WORDS}`);
    const card = (await h.thread(visible.id)).cards[0]!;
    const secretStep = secret.steps[0]!.id;

    const forged = await h.click(card, ACTIONS.viewOutput, { user: EVE, value: secretStep });
    const refusal = visibleText(await h.answer(forged));
    expect(refusal).toContain(REFUSED.gone);
    expect(refusal).not.toContain(SECRET_WORDS);
    // The same words as for a step that does not exist.
    const missing = await h.click(card, ACTIONS.viewOutput, { user: EVE, value: 'cl0000000000nosuchstep' });
    expect(visibleText(await h.answer(missing))).toBe(refusal);
    await h.settle();
    expect(h.stub.callsOf('views.open')).toEqual([]);

    await h.click(card, ACTIONS.viewOutput, { user: BOB, value: secretStep });
    const opened = await waitFor(() => h.stub.callsOf('views.open')[0], 5000, 'views.open');
    expect(visibleText(opened.body.view)).toContain(SECRET_WORDS);
  });
});

describe('refused and stale clicks', () => {
  /** release-notes paused on its second step (Anthropic out of credit), in the open channel. */
  async function pausedRun() {
    const run = await runIn(h, OPEN, 'run release-notes v2', { until: ['paused'] });
    const { parent, cards } = await h.thread(run.id);
    mark = h.stub.calls.length; // count only what the clicks cost
    return { run, parent, cards };
  }
  let mark = 0;
  const updates = () => h.stub.calls.slice(mark).filter((c) => c.method === 'chat.update');
  /** The updates of the card clicked: nothing changes on it, so each is a forced redraw. */
  const forcedOf = (ts: string) => updates().filter((u) => u.body.ts === ts);

  it('someone who may not act gets an answer and no redraw at all', async () => {
    const { cards } = await pausedRun();
    const click = await h.click(cards[1]!, ACTIONS.retry, { user: 'U0MALLORY' });
    expect(visibleText(await h.answer(click))).toContain("You can't change run");
    const choice = await h.click(cards[2]!, ACTIONS.selectModel, {
      user: 'U0MALLORY',
      option: 'openai/gpt-4o',
    });
    expect(visibleText(await h.answer(choice))).toContain("You can't change run");
    await h.settle();
    expect(updates()).toEqual([]);
  });

  it('someone who may not see the run gets the missing-step answer and no redraw', async () => {
    const { cards } = await pausedRun();
    // A click on a card Eve sees, forged to name a step of a private run she may not see.
    const secret = await runIn(h, SECRET, `run release-notes ${SECRET_WORDS}`, { until: ['paused'] });
    mark = h.stub.calls.length;
    const forgedBlock = `step:${secret.steps[1]!.id}:v${secret.steps[1]!.version}:menus`;
    const forged = await h.click(cards[1]!, ACTIONS.retry, {
      user: EVE,
      blockId: forgedBlock,
      value: secret.steps[1]!.id,
    });
    expect(visibleText(await h.answer(forged))).toContain(REFUSED.gone);
    await h.settle();
    expect(updates()).toEqual([]);
    expect(
      (await h.core.db.prisma.runStep.findUniqueOrThrow({ where: { id: secret.steps[1]!.id } })).status,
    ).toBe('paused');
  });

  it('a stale click by someone who may act redraws the card clicked, and only it', async () => {
    const { parent, cards } = await pausedRun();
    const first = await h.click(cards[1]!, ACTIONS.selectModel, { user: ALICE, option: 'openai/gpt-4o' });
    expect(first.status).toBe(200);
    await h.settle();
    const before = updates().length;
    const late = await h.click(cards[1]!, ACTIONS.selectModel, {
      user: 'U0OWNER',
      option: 'openai/gpt-4o-mini',
    });
    expect(visibleText(await h.answer(late))).toContain('This card was out of date');
    await h.settle();
    expect(
      updates()
        .slice(before)
        .filter((u) => u.body.ts === cards[1]!.ts),
    ).toHaveLength(1);
    expect(updates().map((u) => u.body.ts)).not.toContain(parent.ts);
    expect(updates().map((u) => u.body.ts)).not.toContain(cards[0]!.ts);
  });

  it('a refused choice by someone who may act redraws the card clicked, and only it', async () => {
    const { parent, cards } = await pausedRun();
    const forged = await h.click(cards[1]!, ACTIONS.selectModel, { user: ALICE, option: 'openai/gpt-evil' });
    expect(visibleText(await h.answer(forged))).toContain('is not an available model');
    await h.settle();
    expect(forcedOf(cards[1]!.ts)).toHaveLength(1);
    // Nothing else is sent again as it was (another card may change on its own: its menu
    // carries the providers' health words).
    expect(updates().map((u) => u.body.ts)).not.toContain(parent.ts);
    expect(updates().map((u) => u.body.ts)).not.toContain(cards[0]!.ts);
  });

  it('redraws for one person’s refused clicks at most FORCED_REDRAWS_PER_USER_PER_MINUTE times', async () => {
    const { cards } = await pausedRun();
    // (The window is per person and per minute: an admin no other test here has clicked as.)
    for (let i = 0; i < 6; i++) {
      const click = await h.click(cards[1]!, ACTIONS.selectModel, {
        user: ADMIN,
        option: `openai/gpt-evil-${i}`,
      });
      await h.answer(click);
      await h.settle();
    }
    expect(forcedOf(cards[1]!.ts)).toHaveLength(2);
    // Someone else's refusal still gets its redraw.
    const owner = await h.click(cards[1]!, ACTIONS.selectModel, {
      user: 'U0OWNER',
      option: 'openai/gpt-evil',
    });
    await h.answer(owner);
    await h.settle();
    expect(forcedOf(cards[1]!.ts)).toHaveLength(3);
  });
});
