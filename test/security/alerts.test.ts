import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ACTIONS, PRIVATE_RUN_NOTE } from '../../src/slack/views/index.js';
import { visibleText } from '../support/block-kit.js';
import { waitFor } from '../support/engine.js';
import type { Harness } from '../support/slack-harness.js';
import {
  ALERTS,
  ALICE,
  DM,
  declareWorkspace,
  defaultAnswer,
  type Llm,
  OPEN,
  runIn,
  SECRET,
  SECRET_C,
  SECRET_WORDS,
  securityHarness,
} from './support.js';

/**
 * Promise: a failure alert of a run in a private channel or a DM goes only to the alert
 * channel its workflow's owners chose (`notify`), never to the workspace-wide
 * SLACK_ALERT_CHANNEL, and says less there: what failed and the one-click retries, no
 * provider message (it may quote the prompt), no link. The run's own thread hears it all.
 */

/** SLACK_ALERT_CHANNEL in the harness. */
const TEAM = 'C0TEAM';

let h: Harness;
let llm: Llm;

beforeAll(async () => {
  ({ h, llm } = await securityHarness());
});

beforeEach(async () => {
  await h.reset();
  llm.answer = defaultAnswer;
  declareWorkspace(h);
});

afterAll(async () => {
  await h?.close();
});

describe.each([
  ['a private channel', SECRET],
  ['a private channel with a C… id', SECRET_C],
  ['a direct message', DM],
])('a run in %s that pauses', (_, channel) => {
  it('alerts the channel its owners chose, without its words or a link', async () => {
    const run = await runIn(h, channel, `run release-notes ${SECRET_WORDS}`, { until: ['paused'] });
    const alert = await waitFor(() => h.stub.messagesIn(ALERTS)[0], 5000, 'the alert');
    const text = visibleText(alert);
    expect(text).toContain(`run #${run.number}`);
    expect(text).toContain('credit balance too low');
    expect(text).toContain(PRIVATE_RUN_NOTE);
    expect(text).not.toContain(SECRET_WORDS);
    expect(JSON.stringify(alert.blocks)).not.toContain('slack.com/archives');
    expect(h.stub.messagesIn(TEAM)).toEqual([]);
    // The thread itself says everything, to the people in it.
    const { notes } = await h.thread(run.id);
    expect(notes.map((n) => visibleText(n)).join('\n')).toContain('paused');
  });

  it('alerts nobody outside it when its workflow chose no alert channel', async () => {
    const run = await runIn(h, channel, `run flaky ${SECRET_WORDS}`, { until: ['paused'] });
    await h.settle();
    expect(run.status).toBe('paused');
    expect(h.stub.messagesIn(TEAM)).toEqual([]);
    expect(h.stub.messagesIn(ALERTS)).toEqual([]);
  });
});

describe('a run in a public channel that pauses', () => {
  it('alerts SLACK_ALERT_CHANNEL when its workflow chose none, with the provider’s words and a link', async () => {
    const run = await runIn(h, OPEN, 'run flaky public words', { until: ['paused'] });
    const alert = await waitFor(() => h.stub.messagesIn(TEAM)[0], 5000, 'the alert');
    expect(visibleText(alert)).toContain('public words');
    expect(visibleText(alert)).toContain('Open the run thread');
    expect(visibleText(alert)).toContain(`run #${run.number}`);
  });
});

describe('once the step recovers', () => {
  it('the private run’s alert says so, still without a link', async () => {
    const run = await runIn(h, SECRET, `run release-notes ${SECRET_WORDS}`, { until: ['paused'] });
    const alert = await waitFor(() => h.stub.messagesIn(ALERTS)[0], 5000, 'the alert');
    llm.answer = () => ({ text: 'fine now' });
    const card = (await h.thread(run.id)).cards[1]!;
    await h.click(card, ACTIONS.retry, { user: ALICE });
    await waitFor(async () => {
      await h.settle();
      return visibleText(h.stub.messages.get(`${ALERTS}:${alert.ts}`)).includes('recovered');
    });
    const edited = h.stub.messages.get(`${ALERTS}:${alert.ts}`)!;
    expect(JSON.stringify(edited.blocks)).not.toContain('slack.com/archives');
    expect(visibleText(edited)).not.toContain(SECRET_WORDS);
  });
});
