import { describe, expect, it } from 'vitest';
import {
  expectValidHome,
  expectValidMessage,
  expectValidModal,
  messageProblems,
} from '../../support/block-kit.js';

const section = (id: string, text = 'hi') => ({
  type: 'section',
  block_id: id,
  text: { type: 'mrkdwn', text },
});

describe('Block Kit validator (test support)', () => {
  it('accepts a plain valid message', () => {
    expect(() => expectValidMessage({ text: 'hi', blocks: [section('a')] })).not.toThrow();
  });

  it('requires a text fallback', () => {
    expect(() => expectValidMessage({ blocks: [section('a')] })).toThrow(/text fallback/);
  });

  it('rejects more than 50 blocks and repeated block_ids', () => {
    const blocks = Array.from({ length: 51 }, (_, i) => section(`b${i}`));
    expect(messageProblems({ text: 'x', blocks })).toEqual([
      expect.stringContaining('51 blocks; the limit is 50'),
    ]);
    expect(() => expectValidMessage({ text: 'x', blocks: [section('a'), section('a')] })).toThrow(
      /block_id "a" repeats/,
    );
  });

  it('reports schema errors with their path', () => {
    expect(() =>
      expectValidMessage({
        text: 'x',
        blocks: [
          {
            type: 'actions',
            block_id: 'a',
            elements: [{ type: 'button', text: { type: 'plain_text', text: 'x'.repeat(76) } }],
          },
        ],
      }),
    ).toThrow(/\/blocks\/0\/elements\/0\/text\/text must NOT have more than 75 characters/);
    expect(() => expectValidMessage({ text: 'x', blocks: [{ type: 'bogus' }] })).toThrow(/\/blocks\/0/);
  });

  it('rejects repeated action_ids in a block and an initial_option that is not an option', () => {
    const opt = (v: string) => ({ text: { type: 'plain_text', text: v }, value: v });
    const problems = messageProblems({
      text: 'x',
      blocks: [
        {
          type: 'actions',
          block_id: 'a',
          elements: [
            {
              type: 'static_select',
              action_id: 's',
              options: [opt('1'), opt('2')],
              initial_option: opt('3'),
            },
            { type: 'button', action_id: 's', text: { type: 'plain_text', text: 'b' } },
          ],
        },
      ],
    });
    expect(problems).toEqual([
      expect.stringContaining('initial_option'),
      expect.stringContaining('action_id "s" repeats'),
    ]);
  });

  it('limits a message to 12,000 characters of markdown', () => {
    const blocks = Array.from({ length: 5 }, (_, i) => section(`b${i}`, 'x'.repeat(3000)));
    expect(() => expectValidMessage({ text: 'x', blocks })).toThrow(/15000 characters of markdown/);
  });

  it('validates modals and home tabs', () => {
    const title = { type: 'plain_text', text: 'Output' };
    expect(() => expectValidModal({ type: 'modal', title, blocks: [section('a')] })).not.toThrow();
    expect(() =>
      expectValidModal({
        type: 'modal',
        title: { type: 'plain_text', text: 'x'.repeat(25) },
        blocks: [section('a')],
      }),
    ).toThrow(/title/);
    expect(() => expectValidHome({ type: 'home', blocks: [section('a')] })).not.toThrow();
    expect(() => expectValidHome({ type: 'home', blocks: [] })).toThrow();
  });
});
