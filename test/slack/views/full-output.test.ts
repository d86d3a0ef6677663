import { describe, expect, it } from 'vitest';
import { CALLBACKS } from '../../../src/slack/views/action-ids.js';
import { chunkMrkdwn, fullOutputModal } from '../../../src/slack/views/full-output.js';
import { expectValidModal, visibleText } from '../../support/block-kit.js';
import { aCompletedStep, BARE_BROADCAST, CONTROL_SEQUENCE, HOSTILE } from './factories.js';

describe('full output modal', () => {
  it('shows the whole hostile output in sections of at most 3000 characters', () => {
    const step = aCompletedStep({ output: HOSTILE });
    const view = fullOutputModal({ step, workflowName: 'release-notes', runNumber: 42 });
    expectValidModal(view);
    expect(view.callback_id).toBe(CALLBACKS.fullOutput);
    expect(view.private_metadata).toBe(step.id);
    expect(view.title.text.length).toBeLessThanOrEqual(24);
    const text = visibleText(view);
    expect(text).toContain('release-notes · run #42 · Step 2/3 · Summarise');
    expect(text).not.toMatch(CONTROL_SEQUENCE);
    expect(text).not.toMatch(BARE_BROADCAST);
    // Every x of the 10 000 is there: nothing was cut.
    expect(text.replace(/[^x]/g, '').length).toBeGreaterThanOrEqual(10_000);
    expect(text).not.toContain('Cut at');
  });

  it('says where it stopped when even 100 blocks are not enough', () => {
    const output = 'z'.repeat(400_000);
    const view = fullOutputModal({ step: aCompletedStep({ output }) });
    expectValidModal(view);
    expect(view.blocks).toHaveLength(100);
    expect(visibleText(view)).toContain('the full output is 400,000 characters');
  });

  it('handles a step without output', () => {
    const view = fullOutputModal({ step: aCompletedStep({ output: null }) });
    expectValidModal(view);
    expect(visibleText(view)).toContain('no output');
  });
});

describe('chunkMrkdwn', () => {
  it('closes and reopens a code block that spans chunks so each renders alone', () => {
    const chunks = chunkMrkdwn(`\`\`\`\n${'line of code\n'.repeat(600)}\`\`\`\nafter`);
    expect(chunks.length).toBeGreaterThan(1);
    for (const c of chunks) {
      expect(c.length).toBeLessThanOrEqual(3000);
      expect(c.split('```').length % 2).toBe(1);
    }
    expect(chunks[1]?.startsWith('```\n')).toBe(true);
  });

  it('breaks at newlines and never inside an escape entity', () => {
    const chunks = chunkMrkdwn('<'.repeat(5000));
    for (const c of chunks) expect(c).toMatch(/^(&lt;)+$/);
    expect(chunks.join('')).toBe('&lt;'.repeat(5000));
  });
});
