import { describe, expect, it } from 'vitest';
import {
  balanceFences,
  escapeMrkdwn,
  excerpt,
  fitMrkdwn,
  formatCount,
  formatDuration,
  inlineCode,
  plainText,
  safeMrkdwn,
  truncate,
} from '../../../src/slack/views/text.js';
import { BARE_BROADCAST, CONTROL_SEQUENCE } from './factories.js';

describe('mrkdwn safety', () => {
  it.each([
    '<!channel>',
    '<!here>',
    '<!everyone>',
    '<@U123>',
    '<#C1>',
    '<!subteam^S123|@oncall>',
    '<https://evil.example|bank>',
    '<mailto:a@b.c|mail>',
    '<!date^1392734382^{date}|x>',
  ])('neutralises %s', (hostile) => {
    const safe = safeMrkdwn(`before ${hostile} after`);
    expect(safe).not.toMatch(CONTROL_SEQUENCE);
    expect(safe).not.toContain('<');
    expect(safe).not.toContain('>');
  });

  it('escapes only &, < and > (Slack’s rule), & first so nothing is double-escaped', () => {
    expect(escapeMrkdwn('a & b < c > d "e" \'f\' *g* _h_')).toBe('a &amp; b &lt; c &gt; d "e" \'f\' *g* _h_');
    expect(escapeMrkdwn('&lt;')).toBe('&amp;lt;');
  });

  it('defuses bare @channel, @here and @everyone but leaves e-mail addresses and words alone', () => {
    const safe = safeMrkdwn('ping @here and @Channel and @everyone; mail me@here.com, @heretic');
    expect(safe).not.toMatch(BARE_BROADCAST);
    expect(safe).toContain('@\u200Dhere and');
    expect(safe).toContain('@heretic');
  });
});

describe('truncate', () => {
  it('keeps short text and cuts long text to the limit with an ellipsis', () => {
    expect(truncate('hello', 5)).toBe('hello');
    expect(truncate('hello world', 8)).toBe('hello w…');
    expect(truncate('hello world', 8)).toHaveLength(8);
  });

  it('never cuts inside an escape entity', () => {
    const escaped = escapeMrkdwn('ab<<<<<<');
    for (let limit = 3; limit < escaped.length; limit++) {
      const cut = truncate(escaped, limit);
      expect(cut.length).toBeLessThanOrEqual(limit);
      expect(cut.slice(0, -1)).toMatch(/^ab(&lt;)*$/);
    }
    expect(truncate('x&amp;y', 5)).toBe('x…');
  });

  it('never splits a surrogate pair', () => {
    const cut = truncate('ab😀cd', 4);
    expect(cut).toBe('ab…');
    expect(truncate('ab😀cd', 5)).toBe('ab😀…');
  });
});

describe('code fences', () => {
  it('closes an odd fence and leaves balanced text alone', () => {
    expect(balanceFences('```\ncode')).toBe('```\ncode\n```');
    expect(balanceFences('```a```')).toBe('```a```');
  });

  it('fitMrkdwn escapes, cuts within the limit and rebalances a fence left open by the cut', () => {
    const raw = `intro\n\`\`\`\n${'<x> '.repeat(2000)}\n\`\`\`\nend`;
    const { text, truncated } = fitMrkdwn(raw, 3000);
    expect(truncated).toBe(true);
    expect(text.length).toBeLessThanOrEqual(3000);
    expect(text.split('```').length % 2).toBe(1);
    expect(text).not.toContain('<');
    expect(text.endsWith('…\n```')).toBe(true);
  });

  it('fitMrkdwn leaves short safe text whole', () => {
    expect(fitMrkdwn('*bold* ok', 100)).toEqual({ text: '*bold* ok', truncated: false });
  });
});

describe('plain text and previews', () => {
  it('plainText strips and escapes nothing, only cuts; empty becomes a dash', () => {
    expect(plainText('<b> & @here', 75)).toBe('<b> & @here');
    expect(plainText('x'.repeat(100), 75)).toHaveLength(75);
    expect(plainText('', 75)).toBe('—');
  });

  it('excerpt collapses whitespace into one line', () => {
    expect(excerpt('  first\n\n  second\tthird  ', 100)).toBe('first second third');
    expect(excerpt('a '.repeat(100), 10)).toBe('a a a a a…');
  });

  it('inlineCode echoes what someone typed without letting it escape the code span', () => {
    expect(inlineCode('relase-notes')).toBe('`relase-notes`');
    expect(inlineCode('x` <!channel> `y')).toBe('`xˋ &lt;!channel&gt; ˋy`');
  });

  it('formats counts and durations without the process locale', () => {
    expect(formatCount(1234567)).toBe('1,234,567');
    expect(formatDuration(850)).toBe('850 ms');
    expect(formatDuration(2345)).toBe('2.3 s');
    expect(formatDuration(125_000)).toBe('2 min 5 s');
  });
});
