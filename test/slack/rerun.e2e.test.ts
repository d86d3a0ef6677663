import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { readSnapshot } from '../../src/engine/snapshot.js';
import { ACTIONS, CALLBACKS, rerunBlock } from '../../src/slack/views/index.js';
import { visibleText } from '../support/block-kit.js';
import { waitFor, waitForRun } from '../support/engine.js';
import type { LlmCall } from '../support/llm-answers.js';
import { type Harness, interceptLlms, PERSONAS_YML, startHarness } from '../support/slack-harness.js';
import { actionIds, type StubView } from '../support/slack-requests.js';

/**
 * Re-run from a step (docs/control.md), end to end through signed requests: a finished
 * run's cards offer "Re-run from here…"; the modal changes later steps; the new run reuses
 * the earlier outputs without calling a provider for them, and the old thread links to it.
 * `/workflow rerun` does the same without edits. Bad input changes nothing.
 */

const FOUR_YML = `name: four
description: Four steps
provider: openai
model: gpt-4o-mini
persona: tech-writer
owners: [U0OWNER]
steps:
  - name: one
    prompt: "One: {{input}}"
  - name: two
    prompt: "Two: {{previous.output}}"
  - name: three
    prompt: "Three: {{previous.output}}"
  - name: four
    prompt: "Four: {{steps.three.output}}"
`;

let h: Harness;
let llm: LlmCall[];
let failStep = '';

beforeAll(async () => {
  h = await startHarness({ workflows: { 'personas.yml': PERSONAS_YML, 'four.yml': FOUR_YML } });
  llm = interceptLlms((call) => {
    if (failStep && call.prompt.startsWith(failStep))
      return { status: 400, body: { error: { message: 'bad request', type: 'invalid_request_error' } } };
    return { text: `${call.model}[${call.prompt.slice(0, 30)}]` };
  });
});

afterEach(async () => {
  failStep = '';
  await h.reset();
});

afterAll(async () => {
  await h?.close();
});

const prisma = () => h.core.db.prisma;
const steps = (runId: string) =>
  prisma().runStep.findMany({ where: { runId }, orderBy: { position: 'asc' } });
const errorsOf = (ack: { json: Record<string, unknown> | undefined }) =>
  (ack.json?.errors ?? {}) as Record<string, string>;
const viewsOf = (callbackId: string) =>
  [...h.stub.views.values()].filter((v) => v.callback_id === callbackId);

async function finishedRun(input = 'changelog') {
  await h.command(`run four ${input}`);
  const run = await waitFor(() =>
    prisma().workflowRun.findFirst({ where: { workflowName: 'four', input }, orderBy: { number: 'desc' } }),
  );
  const done = await waitForRun(h.core.db, run.id, ['completed', 'paused']);
  await h.settle();
  return done;
}

async function openRerun(runId: string, position: number, user: string): Promise<StubView | undefined> {
  const { cards } = await h.thread(runId);
  const before = viewsOf(CALLBACKS.rerun).length;
  const click = await h.click(cards[position]!, ACTIONS.rerun, { user });
  await h.settle();
  const view = viewsOf(CALLBACKS.rerun)[before];
  if (!view) (await h.answer(click)) as unknown;
  return view;
}

describe('re-run from a step', () => {
  it('re-runs from step 3 of 4: providers only for steps 3–4, steps 1–2 reuse the old outputs', async () => {
    const old = await finishedRun();
    expect(old.status).toBe('completed');
    expect(llm).toHaveLength(4);
    const { cards } = await h.thread(old.id);
    // Every card of a finished run offers it.
    for (const card of cards) expect(actionIds(card)).toContain(ACTIONS.rerun);

    const modal = await openRerun(old.id, 2, 'U0ALICE');
    expect(modal).toBeDefined();
    // The modal offers steps 3 and 4 only, each with model, persona and prompt.
    const inputs = (modal!.blocks as { type: string; block_id: string }[])
      .filter((b) => b.type === 'input')
      .map((b) => b.block_id);
    expect(inputs).toEqual([
      rerunBlock(2, 'model'),
      rerunBlock(2, 'persona'),
      rerunBlock(2, 'prompt'),
      rerunBlock(3, 'model'),
      rerunBlock(3, 'persona'),
      rerunBlock(3, 'prompt'),
    ]);

    // A bad prompt and a forged model are refused, keyed by their fields; nothing starts.
    const bad = await h.submitView(modal!, {
      user: 'U0ALICE',
      inputs: {
        [rerunBlock(2, 'prompt')]: 'Three: {{steps.four.output}}',
        [rerunBlock(3, 'model')]: { option: 'openai/gpt-9' },
      },
    });
    expect(errorsOf(bad)).toEqual({
      [rerunBlock(2, 'prompt')]:
        `{{steps.four.output}}: step "four" runs later; a step can only use earlier steps' output`,
      [rerunBlock(3, 'model')]: 'openai/gpt-9 is not an available model: pick one from the list.',
    });
    const empty = await h.submitView(modal!, {
      user: 'U0ALICE',
      inputs: { [rerunBlock(3, 'prompt')]: '  ' },
    });
    expect(errorsOf(empty)).toEqual({ [rerunBlock(3, 'prompt')]: 'The prompt must not be empty.' });
    // Someone who may not act on the old run cannot re-run it.
    const denied = await h.submitView(modal!, { user: 'U0EVE', inputs: {} });
    expect(Object.values(errorsOf(denied)).join()).toContain("You can't change run #");
    expect(await prisma().workflowRun.count()).toBe(1);

    const calls = llm.length;
    const ok = await h.submitView(modal!, {
      user: 'U0ALICE',
      inputs: {
        [rerunBlock(2, 'model')]: { option: 'openai/gpt-4o' },
        [rerunBlock(3, 'prompt')]: 'Four, shorter: {{steps.three.output}}',
      },
    });
    expect(ok.json).toBeUndefined();
    const rerun = await waitFor(() => prisma().workflowRun.findFirst({ where: { rerunOfId: old.id } }));
    await waitForRun(h.core.db, rerun.id, ['completed']);
    await h.settle();

    // Providers were called for steps 3 and 4 only, with the edits.
    const made = llm.slice(calls);
    expect(made.map((c) => [c.model, c.prompt.split(':')[0]])).toEqual([
      ['gpt-4o', 'Three'],
      ['gpt-4o-mini', 'Four, shorter'],
    ]);
    const [a, b] = [await steps(old.id), await steps(rerun.id)];
    expect(b.slice(0, 2).map((s) => s.output)).toEqual(a.slice(0, 2).map((s) => s.output));
    expect(b.slice(0, 2).map((s) => [s.status, s.reusedFrom, s.attempts])).toEqual([
      ['completed', old.number, 0],
      ['completed', old.number, 0],
    ]);
    expect(await prisma().stepAttempt.count({ where: { runId: rerun.id } })).toBe(2);
    // Step 3 ran with step 2's reused output.
    expect(made[0]!.prompt).toBe(`Three: ${a[1]!.output}`);
    // The new run: linked, same input, the snapshot plus the edits, in the old run's channel.
    expect(rerun).toMatchObject({
      rerunFromPosition: 2,
      input: 'changelog',
      channelId: 'C0RUNS',
      startedBy: 'U0ALICE',
    });
    const snapshot = readSnapshot(rerun.snapshot).definition;
    expect(snapshot.steps[2]).toMatchObject({ provider: 'openai', model: 'gpt-4o' });
    expect(snapshot.steps[3]!.prompt).toBe('Four, shorter: {{steps.three.output}}');
    expect(readSnapshot(old.snapshot).definition.steps[3]!.prompt).toBe('Four: {{steps.three.output}}');

    // The new thread says what it is; reused cards say where their output came from.
    const fresh = await h.thread(rerun.id);
    expect(visibleText(fresh.parent)).toContain(`Re-run of #${old.number} from step 3`);
    expect(visibleText(fresh.cards[0]!)).toContain(`reused from run #${old.number}`);
    // The old thread links to the new run.
    const oldThread = await h.thread(old.id);
    const note = oldThread.notes.map((n) => visibleText(n)).join('\n');
    expect(note).toContain(`re-ran this from step 3 as *run #${rerun.number}*`);
    expect(note).toContain(`Open run #${rerun.number}`);
    // Both trails record it.
    expect(
      await prisma().auditEvent.findFirst({ where: { runId: old.id, action: 'run.rerun_as' } }),
    ).toMatchObject({
      actor: 'U0ALICE',
      fromValue: 'step 3',
      toValue: `#${rerun.number}`,
    });
    // Submitting the same modal again (Slack retries) starts nothing new.
    await h.submitView(modal!, { user: 'U0ALICE', inputs: {} });
    expect(await prisma().workflowRun.count({ where: { rerunOfId: old.id } })).toBe(1);
  });

  it('/workflow rerun re-runs a failed run from where it stopped; bad forms change nothing', async () => {
    failStep = 'Three';
    const old = await finishedRun('fails at three');
    expect(old.status).toBe('paused');
    await h.command(`cancel ${old.number}`);
    await waitForRun(h.core.db, old.id, ['cancelled']);
    await h.settle();
    // A cancelled run's cards offer a re-run up to the step that did not complete.
    const { cards } = await h.thread(old.id);
    expect(cards.map((c) => actionIds(c).includes(ACTIONS.rerun))).toEqual([true, true, true, false]);

    const answers: string[] = [];
    for (const text of [
      'rerun',
      `rerun ${old.number} from`,
      `rerun ${old.number} from 1 2`,
      `rerun ${old.number} from 0`,
      `rerun ${old.number} from Three!`,
      `rerun ${old.number} from 4`,
      `rerun ${old.number} from seven`,
      'rerun 999',
    ]) {
      answers.push(JSON.stringify(await h.answer(await h.command(text))));
    }
    expect(answers[0]).toContain('Say which run to re-run');
    expect(answers[1]).toContain('Say which step to re-run from');
    expect(answers[2]).toContain('Expected one step after the run');
    expect(answers[3]).toContain('Steps are numbered from 1');
    expect(answers[4]).toContain('is not a step');
    expect(answers[5]).toContain('Step 3 (three) of run #');
    expect(answers[6]).toContain('has no step \\"seven\\"');
    expect(answers[7]).toContain('No run `999`');
    const denied = await h.answer(await h.command(`rerun ${old.number}`, { user: 'U0EVE' }));
    expect(JSON.stringify(denied)).toContain("You can't change run");
    expect(await prisma().workflowRun.count()).toBe(1);

    failStep = '';
    const calls = llm.length;
    const reply = await h.answer(await h.command(`rerun #${old.number}`));
    expect(JSON.stringify(reply)).toContain(`from step 3 as *run #${old.number + 1}*`);
    const rerun = await waitFor(() => prisma().workflowRun.findFirst({ where: { rerunOfId: old.id } }));
    await waitForRun(h.core.db, rerun.id, ['completed']);
    expect(llm.slice(calls).map((c) => c.prompt.split(':')[0])).toEqual(['Three', 'Four']);
    expect(rerun.trigger).toBe('slash');
  });

  it('a running run cannot be re-run', async () => {
    failStep = 'Two';
    const old = await finishedRun('paused at two');
    expect(old.status).toBe('paused');
    const reply = await h.answer(await h.command(`rerun ${old.number} from 1`));
    expect(JSON.stringify(reply)).toContain(
      'only a finished run (completed, failed or cancelled) can be re-run',
    );
    expect(await prisma().workflowRun.count()).toBe(1);
  });
});
