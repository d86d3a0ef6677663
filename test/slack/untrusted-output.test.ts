import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ACTIONS } from '../../src/slack/views/index.js';
import { visibleText, walk } from '../support/block-kit.js';
import { waitFor, waitForRun } from '../support/engine.js';
import {
  type Harness,
  interceptLlms,
  ONE_STEP_YML,
  PERSONAS_YML,
  startHarness,
} from '../support/slack-harness.js';

/**
 * Model output is untrusted: whatever it holds, every message the bot sends is valid Block
 * Kit and pings no one, links nowhere and leaves no code block open.
 */

const HOSTILE = [
  'Hey <!channel> and <!here|here> and <!subteam^S0123|@oncall>, ping <@U123> and <#C999>!',
  'Please log in at <https://evil.example/login|bank> or <http://evil.example>.',
  '@channel @here @everyone',
  '```js',
  "const unbalanced = 'fence never closes';",
  '&amp; &lt; & < > done',
  'x'.repeat(10_000),
  '😀 end',
].join('\n');

let h: Harness;

beforeAll(async () => {
  h = await startHarness({
    workflows: { 'personas.yml': PERSONAS_YML, 'echo.yml': ONE_STEP_YML },
  });
  interceptLlms(() => ({ text: HOSTILE }));
});

afterAll(async () => {
  await h?.close();
});

/** Every mrkdwn text the bot sent anywhere (messages, modals, ephemeral answers). */
function sentMrkdwn(): string[] {
  const payloads = [
    ...h.stub.calls
      .filter((c) => c.method.startsWith('chat.') || c.method === 'views.open')
      .map((c) => c.body),
    ...h.stub.responses.map((r) => r.body),
  ];
  const out: string[] = [];
  for (const payload of payloads) {
    for (const { node } of walk(payload)) {
      if (node.type === 'mrkdwn' && typeof node.text === 'string') out.push(node.text);
    }
  }
  return out;
}

describe('hostile model output', () => {
  it('renders as valid blocks and pings no one', async () => {
    await h.command('run echo say something nasty');
    const run = await waitFor(() => h.core.db.prisma.workflowRun.findFirst({}));
    await waitForRun(h.core.db, run.id, ['completed']);
    await h.settle();

    const { cards } = await h.thread(run.id);
    const card = cards[0]!;
    // The output was cut to fit the card, with a way to read all of it.
    expect(card.blocks.length).toBeLessThanOrEqual(50);
    const more = await h.click(card, ACTIONS.viewOutput, { user: 'U0ALICE' });
    expect(more.status).toBe(200);
    await waitFor(() => h.stub.callsOf('views.open')[0], 5000, 'views.open');

    h.expectAllPayloadsValid();
    const texts = sentMrkdwn();
    const fromOutput = texts.filter(
      (t) => t.includes('unbalanced') || t.includes('log in at') || t.includes('xxxxxxxxxx'),
    );
    expect(fromOutput.length).toBeGreaterThan(1);
    for (const text of fromOutput) {
      expect(text).not.toMatch(/<!/);
      expect(text).not.toContain('<@U123>');
      expect(text).not.toContain('<#C999>');
      expect(text).not.toMatch(/<https?:/);
      expect(text).not.toMatch(/(^|[^\u200D])@(channel|here|everyone)\b/);
      expect((text.match(/```/g) ?? []).length % 2).toBe(0);
      expect(text.length).toBeLessThanOrEqual(3000);
    }
    // It is still readable: escaped, not dropped.
    expect(visibleText(card)).toContain('&lt;!channel&gt;');
    expect(visibleText(card)).toContain('&lt;https://evil.example/login|bank&gt;');
  });
});
