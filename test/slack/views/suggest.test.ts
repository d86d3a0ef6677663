import { describe, expect, it } from 'vitest';
import { editDistance, suggest } from '../../../src/core/suggest.js';

const WORKFLOWS = ['release-notes', 'release-checklist', 'incident-summary', 'weekly-digest', 'pr-review'];

describe('suggest', () => {
  it('finds the intended name for a typo', () => {
    expect(suggest('relase-notes', WORKFLOWS)[0]).toBe('release-notes');
    expect(suggest('rleease-notes', WORKFLOWS)[0]).toBe('release-notes'); // swapped letters
    expect(suggest('Release-Notes', WORKFLOWS)).toEqual(['release-notes']); // case only
    expect(suggest('incident-sumary', WORKFLOWS)).toEqual(['incident-summary']);
  });

  it('suggests names that start with what was typed', () => {
    expect(suggest('release', WORKFLOWS)).toEqual(['release-notes', 'release-checklist'].sort());
  });

  it('returns at most three, closest first', () => {
    const names = ['abcd', 'abce', 'abcf', 'abcg', 'zzzz'];
    const got = suggest('abcx', names);
    expect(got).toHaveLength(3);
    expect(got).not.toContain('zzzz');
  });

  it('suggests nothing for unrelated or empty input', () => {
    expect(suggest('deploy', WORKFLOWS)).toEqual([]);
    expect(suggest('', WORKFLOWS)).toEqual([]);
    expect(suggest('xy', WORKFLOWS)).toEqual([]);
  });

  it('editDistance counts a transposition as one edit', () => {
    expect(editDistance('ab', 'ba')).toBe(1);
    expect(editDistance('kitten', 'sitting')).toBe(3);
    expect(editDistance('', 'abc')).toBe(3);
  });
});
