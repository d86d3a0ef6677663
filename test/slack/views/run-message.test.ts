import { describe, expect, it } from 'vitest';
import { ACTIONS, parseRunBlockId } from '../../../src/slack/views/action-ids.js';
import type { RunStatus } from '../../../src/slack/views/model.js';
import { runParentMessage } from '../../../src/slack/views/run-message.js';
import { expectValidMessage, findByType, visibleText } from '../../support/block-kit.js';
import { aRun, BARE_BROADCAST } from './factories.js';

const buttonIds = (msg: unknown) => findByType(msg, 'button').map((b) => b.action_id);

describe('run parent message', () => {
  it('shows the workflow, run number, starter, input excerpt, status and progress', () => {
    const msg = runParentMessage(aRun());
    expectValidMessage(msg);
    const text = visibleText(msg);
    expect(text).toContain('release-notes · run #42');
    expect(text).toContain('Started by <@U0123ABC> with /workflow');
    expect(text).toContain('>v2.3.0 since v2.2.0');
    expect(text).toContain('*Running*');
    expect(text).toContain('1/3 steps');
    expect(text).toContain(
      `<!date^${Date.parse('2026-11-28T15:00:00.000Z') / 1000}^{date_short_pretty} at {time}|2026-11-28T15:00:00.000Z>`,
    );
    expect(msg.text).toBe('release-notes · run #42 — Running, 1/3 steps');
  });

  it.each<[RunStatus, string[]]>([
    ['queued', [ACTIONS.runPause, ACTIONS.runCancel]],
    ['running', [ACTIONS.runPause, ACTIONS.runCancel]],
    ['paused', [ACTIONS.runResume, ACTIONS.runCancel]],
    ['completed', []],
    ['cancelled', []],
    ['failed', []],
  ])('a %s run offers %j', (status, expected) => {
    const msg = runParentMessage(aRun({ status, reason: status === 'failed' ? 'Step 2 failed' : null }));
    expectValidMessage(msg);
    expect(buttonIds(msg)).toEqual(expected);
    for (const b of findByType(msg, 'button')) expect(b.value).toBe(aRun().id);
  });

  it('asks for confirmation before cancelling', () => {
    const cancel = findByType(runParentMessage(aRun()), 'button').find(
      (b) => b.action_id === ACTIONS.runCancel,
    );
    expect(cancel).toMatchObject({ style: 'danger', confirm: { title: { text: 'Cancel run #42?' } } });
  });

  it('shows why a run stopped', () => {
    const text = visibleText(runParentMessage(aRun({ status: 'cancelled', reason: 'Cancelled by <@U999>' })));
    expect(text).toContain('*Why:* Cancelled by &lt;@U999&gt;');
  });

  it('mentions only a well-formed Slack user id; other starters are escaped text', () => {
    expect(
      visibleText(runParentMessage(aRun({ startedBy: 'schedule:nightly', trigger: 'schedule' }))),
    ).toContain('Started by a schedule ·');
    // Named as `/workflow schedule list` names it, never by its id.
    const named = visibleText(
      runParentMessage(
        aRun({
          startedBy: 'schedule:cmxdl0m0800',
          trigger: 'schedule',
          schedule: { number: 2, workflow: 'release-notes', cron: '0 9 * * 1-5', timezone: 'Europe/Berlin' },
        }),
      ),
    );
    expect(named).toContain('Started by schedule `#2` (*release-notes* `0 9 * * 1-5` Europe/Berlin) ·');
    expect(named).not.toContain('cmxdl0m0800');
    const forged = visibleText(runParentMessage(aRun({ startedBy: '<!channel>' })));
    expect(forged).toContain('Started by &lt;!channel&gt;');
    expect(forged).not.toContain('<!channel>');
  });

  it('escapes a hostile input and keeps it to a short excerpt', () => {
    const input = `<!channel> @here <https://evil.example|bank> \`\`\`\n${'y'.repeat(10_000)}`;
    const msg = runParentMessage(aRun({ input }));
    expectValidMessage(msg);
    const text = visibleText(msg);
    expect(text).not.toMatch(/<!channel|<https?:|<@(?!U0123ABC>)/);
    expect(text).not.toMatch(BARE_BROADCAST);
    expect(text.length).toBeLessThan(1500);
  });

  it('block ids carry the run id and version', () => {
    const msg = runParentMessage(aRun({ version: 9 }));
    for (const b of msg.blocks)
      expect(parseRunBlockId(b.block_id)).toMatchObject({ runId: aRun().id, version: 9 });
  });
});
