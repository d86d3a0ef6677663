import { describe, expect, it } from 'vitest';
import { plainSlackText } from '../../../src/slack/thread-reader.js';
import {
  CALLBACKS,
  parseRunSource,
  RUN_FIELDS,
  type RunSource,
  runModal,
  runRefusedModal,
  runSourceMetadata,
  runStartedModal,
} from '../../../src/slack/views/index.js';
import { expectValidModal, findByType, visibleText } from '../../support/block-kit.js';

const fromThread: RunSource = {
  kind: 'message',
  channel: 'C0INC',
  channelName: 'incidents',
  ts: '1700000000.000100',
  root: '1700000000.000100',
  whole: true,
  replies: 30,
  user: 'U0ALICE',
};

const workflows = [
  { name: 'incident-summary', description: 'Summarise an incident' },
  { name: 'release-notes', description: '' },
];

describe('"Run a workflow…" modal', () => {
  it('on a message: what is read, the workflows, extra instructions, and where to post', () => {
    const view = runModal({ source: fromThread, workflows });
    expectValidModal(view);
    expect(view.callback_id).toBe(CALLBACKS.runWorkflow);
    expect(visibleText(view)).toContain(
      'The whole thread in #incidents (31 messages, with their authors) is the input.',
    );
    const inputs = (view.blocks as { type: string; block_id?: string; optional?: boolean }[]).filter(
      (b) => b.type === 'input',
    );
    expect(inputs.map((b) => [b.block_id, Boolean(b.optional)])).toEqual([
      [RUN_FIELDS.workflow, false],
      [RUN_FIELDS.instructions, true],
      [RUN_FIELDS.postIn, false],
    ]);
    const [radios] = findByType(view.blocks, 'radio_buttons');
    expect((radios!.options as { value: string }[]).map((o) => o.value)).toEqual(['thread', 'channel']);
    expect((radios!.initial_option as { value: string }).value).toBe('thread');
    expect(parseRunSource(view.private_metadata)).toEqual(fromThread);
  });

  it('from the global shortcut: a text box and a channel picker', () => {
    const view = runModal({ source: { kind: 'global', user: 'U0ALICE' }, workflows });
    expectValidModal(view);
    expect(findByType(view.blocks, 'conversations_select')).toHaveLength(1);
    expect(findByType(view.blocks, 'radio_buttons')).toHaveLength(0);
    const [picker] = findByType(view.blocks, 'conversations_select');
    expect(picker).toMatchObject({ default_to_current_conversation: true });
  });

  it('preselects the only workflow, and offers at most 100', () => {
    const one = runModal({ source: fromThread, workflows: [workflows[0]!] });
    expect(findByType(one.blocks, 'static_select')[0]).toHaveProperty('initial_option');
    const many = Array.from({ length: 130 }, (_, i) => ({ name: `wf-${i}`, description: '' }));
    const view = runModal({ source: fromThread, workflows: many });
    expectValidModal(view);
    expect(findByType(view.blocks, 'static_select')[0]!.options).toHaveLength(100);
  });

  it('reads its metadata strictly: a forged or truncated one is refused', () => {
    const good = runSourceMetadata(fromThread);
    expect(parseRunSource(good)).toEqual(fromThread);
    for (const bad of [
      '',
      'not json',
      good.slice(0, 20),
      JSON.stringify({ ...JSON.parse(good), c: '#general' }),
      JSON.stringify({ ...JSON.parse(good), t: '12' }),
      JSON.stringify({ ...JSON.parse(good), u: 'alice' }),
      JSON.stringify({ ...JSON.parse(good), w: 2 }),
    ]) {
      expect(parseRunSource(bad)).toBeUndefined();
    }
  });

  it('says what started and where, or why nothing did, once', () => {
    const started = runStartedModal({ workflow: 'release-notes', number: 42, where: 'in #releases' });
    expectValidModal(started);
    expect(visibleText(started)).toContain('Run #42 of `release-notes` started. It is posted in #releases.');
    const refused = runRefusedModal(':lock: You can’t run it. Nothing was started.');
    expectValidModal(refused);
    expect(visibleText(refused).match(/Nothing was started/g)).toHaveLength(1);
    expect(visibleText(runRefusedModal('Too long.'))).toContain('Too long. Nothing was started.');
  });
});

describe('Slack markup made plain for a model', () => {
  it('names known people, channels and links, and unescapes', () => {
    const names = new Map([['U0ALICE', 'Alice']]);
    expect(
      plainSlackText(
        '<@U0ALICE> and <@U0BOB> in <#C0INC|incidents>: see <https://x.test/a|the graph> or <https://x.test/b> &amp; <!here> &lt;3',
        names,
      ),
    ).toBe(
      '@Alice and @U0BOB in #incidents: see the graph (https://x.test/a) or https://x.test/b & @here <3',
    );
  });
});
