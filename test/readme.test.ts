import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

/** README's promises, checked: every variable documented, the two commands, CI using them. */

const root = new URL('../', import.meta.url);
const readme = readFileSync(new URL('README.md', root), 'utf8');
const configSource = readFileSync(new URL('src/config.ts', root), 'utf8');
const ci = readFileSync(new URL('.ci/run', root), 'utf8');

describe('README', () => {
  it('documents every environment variable the configuration reads', () => {
    const variables = [...configSource.matchAll(/^ {2}([A-Z][A-Z0-9_]+):/gm)].map((m) => m[1]);
    expect(variables.length).toBeGreaterThan(20);
    const missing = variables.filter((v) => !readme.includes(`\`${v}\``));
    expect(missing).toEqual([]);
  });

  it('names the two commands, and CI runs the test command', () => {
    expect(readme).toContain('| set up and run the bot | `npm ci && npm start` |');
    expect(readme).toContain('| set up and run the tests | `npm ci && npm test` |');
    expect(ci).toMatch(/^npm ci\b.*\nnpm test$/m);
    expect(ci).toContain('TEST_DATABASE_URL=');
  });
});
